//! The `emails_sent` table, and the cheap indexed reads that find who is
//! owed a notice (SPEC §9).

use rusqlite::{params, Connection};

use super::billing::{SubscriptionStatus, GRANTING_STATUSES};
use crate::clock::Timestamp;
use crate::error::Result;

/// Records that `kind` about `subject_key` goes to `user_id`. True when this
/// call made the record, i.e. when this caller is the one to send it.
pub fn claim(
    conn: &Connection,
    kind: &str,
    user_id: i64,
    subject_key: &str,
    now: Timestamp,
) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "INSERT INTO emails_sent (kind, user_id, subject_key, sent_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (kind, user_id, subject_key) DO NOTHING",
        )?
        .execute(params![kind, user_id, subject_key, now])?
        == 1)
}

pub fn sent(conn: &Connection, kind: &str, user_id: i64, subject_key: &str) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "SELECT 1 FROM emails_sent WHERE kind = ?1 AND user_id = ?2 AND subject_key = ?3",
        )?
        .exists(params![kind, user_id, subject_key])?)
}

/// A referral that converted, with what the two mails need to say.
#[derive(Clone, Debug, PartialEq)]
pub struct Conversion {
    pub referral_id: i64,
    pub referrer_id: i64,
    pub referrer_email: String,
    pub referred_id: i64,
    pub referred_email: String,
    /// The referrer's reward state (`banked`, `applying`, `running`, `ended`).
    pub referrer_reward: Option<String>,
    /// Whether the referrer has a subscription that bills.
    pub referrer_subscribed: bool,
}

/// Referrals converted at or after `since` (a range of `referrals_converted`).
pub fn conversions_since(conn: &Connection, since: Timestamp) -> Result<Vec<Conversion>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT r.id, a.id, a.email, b.id, b.email,
                (SELECT w.state FROM referral_rewards w
                 WHERE w.referral_id = r.id AND w.role = 'referrer'),
                EXISTS (SELECT 1 FROM subscriptions s WHERE s.user_id = a.id
                        AND s.status IN {GRANTING_STATUSES})
         FROM referrals r
         JOIN users a ON a.id = r.referrer_user_id
         JOIN users b ON b.id = r.referred_user_id
         WHERE r.converted_at >= ?1 ORDER BY r.converted_at, r.id",
    ))?;
    let rows = stmt.query_map([since], |r| {
        Ok(Conversion {
            referral_id: r.get(0)?,
            referrer_id: r.get(1)?,
            referrer_email: r.get(2)?,
            referred_id: r.get(3)?,
            referred_email: r.get(4)?,
            referrer_reward: r.get(5)?,
            referrer_subscribed: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// `(user id, email, credit_until as stored)` of free accounts whose credit
/// runs out after `now` and no later than `by`.
pub fn credits_ending(
    conn: &Connection,
    now: Timestamp,
    by: Timestamp,
) -> Result<Vec<(i64, String, String)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, email, credit_until FROM users
         WHERE tier = 'free' AND credit_until > ?1 AND credit_until <= ?2 ORDER BY id",
    )?;
    let rows = stmt.query_map(params![now, by], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// A past-due subscription and whom to tell.
#[derive(Clone, Debug, PartialEq)]
pub struct PastDue {
    pub subscription_id: String,
    pub current_period_ends_at: Option<String>,
    pub user_id: i64,
    pub email: String,
}

pub fn past_due(conn: &Connection) -> Result<Vec<PastDue>> {
    let mut stmt = conn.prepare_cached(
        "SELECT s.id, s.current_period_ends_at, u.id, u.email
         FROM subscriptions s JOIN users u ON u.id = s.user_id
         WHERE s.status = ?1 ORDER BY s.id",
    )?;
    let rows = stmt.query_map([SubscriptionStatus::PastDue], |r| {
        Ok(PastDue {
            subscription_id: r.get(0)?,
            current_period_ends_at: r.get(1)?,
            user_id: r.get(2)?,
            email: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
