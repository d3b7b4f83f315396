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

/// Pending and converted referrals of a referrer, from the counters.
pub fn counts(conn: &Connection, user_id: i64) -> Result<(i64, i64)> {
    Ok(conn
        .prepare_cached("SELECT pending, converted FROM referral_counts WHERE user_id = ?1")?
        .query_row([user_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?
        .unwrap_or((0, 0)))
}
