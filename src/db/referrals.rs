//! Referral codes on `users`, the `referrals` table, and its counters.

use rusqlite::{params, Connection, OptionalExtension};

use crate::clock::Timestamp;
use crate::error::{Error, Result};

pub fn code_of(conn: &Connection, user_id: i64) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT referral_code FROM users WHERE id = ?1")?
        .query_row([user_id], |r| r.get(0))
        .optional()?
        .flatten())
}

/// Sets the user's code unless one is set. `Ok(false)` when the code is taken
/// by someone else (the unique index decides).
pub fn try_set_code(conn: &Connection, user_id: i64, code: &str) -> Result<bool> {
    let result = conn
        .prepare_cached(
            "UPDATE users SET referral_code = ?2 WHERE id = ?1 AND referral_code IS NULL",
        )?
        .execute(params![user_id, code]);
    match result {
        Ok(_) => Ok(true),
        Err(rusqlite::Error::SqliteFailure(e, _))
            if e.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            Ok(false)
        }
        Err(e) => Err(Error::Db(e)),
    }
}

/// `(id, email)` of the user who owns `code`.
pub fn owner_of(conn: &Connection, code: &str) -> Result<Option<(i64, String)>> {
    Ok(conn
        .prepare_cached("SELECT id, email FROM users WHERE referral_code = ?1")?
        .query_row([code], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?)
}

/// Records that `referrer` invited `referred`, once: false when `referred`
/// was already referred.
pub fn insert(conn: &Connection, referrer: i64, referred: i64, now: Timestamp) -> Result<bool> {
    let set = conn
        .prepare_cached("UPDATE users SET referred_by_user_id = ?2 WHERE id = ?1 AND referred_by_user_id IS NULL")?
        .execute(params![referred, referrer])?;
    if set == 0 {
        return Ok(false);
    }
    Ok(conn
        .prepare_cached(
            "INSERT INTO referrals (referrer_user_id, referred_user_id, created_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (referred_user_id) DO NOTHING",
        )?
        .execute(params![referrer, referred, now])?
        == 1)
}

/// Keeps the keyed hash of the referred mailbox on its referral.
pub fn set_mailbox_hash(conn: &Connection, referred: i64, hash: &str) -> Result<()> {
    conn.prepare_cached("UPDATE referrals SET mailbox_hash = ?2 WHERE referred_user_id = ?1")?
        .execute(params![referred, hash])?;
    Ok(())
}

/// Whether a referral was ever made for the mailbox with this hash (its
/// account may since have been deleted).
pub fn mailbox_referred(conn: &Connection, hash: &str) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM referrals WHERE mailbox_hash = ?1 LIMIT 1")?
        .query_row([hash], |_| Ok(()))
        .optional()?
        .is_some())
}

/// What the account page shows of a user's referrals, read in one
/// statement: their code (none until first asked for), the pending and
/// converted counters, and their active credits: rewards banked, plus those
/// applied (or being applied) whose three months still run (`ends_at`
/// unknown yet, or after `now`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Overview {
    pub code: Option<String>,
    pub pending: i64,
    pub converted: i64,
    pub active_credits: i64,
}

/// The [`Overview`] of an existing user; `None` for an unknown id.
pub fn overview(conn: &Connection, user_id: i64, now: Timestamp) -> Result<Option<Overview>> {
    Ok(conn
        .prepare_cached(
            "SELECT u.referral_code, coalesce(c.pending, 0), coalesce(c.converted, 0),
                    (SELECT count(*) FROM referral_rewards r
                     WHERE r.user_id = u.id
                       AND (r.state IN ('banked', 'waiting', 'failed')
                            OR (r.state IN ('applying', 'running')
                                AND (r.ends_at IS NULL OR r.ends_at > ?2))))
             FROM users u LEFT JOIN referral_counts c ON c.user_id = u.id
             WHERE u.id = ?1",
        )?
        .query_row(params![user_id, now], |r| {
            Ok(Overview {
                code: r.get(0)?,
                pending: r.get(1)?,
                converted: r.get(2)?,
                active_credits: r.get(3)?,
            })
        })
        .optional()?)
}
