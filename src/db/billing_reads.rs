//! What a person sees of their billing (SPEC §7): the subscription that
//! matters most, their referral rewards, and what the checkout needs to
//! know. Read-only; the webhook and the outbox worker do the writing.

use std::cmp::Reverse;
use std::sync::OnceLock;

use rusqlite::{Connection, OptionalExtension};

use super::billing::{self, SubscriptionRow, SubscriptionStatus};
use crate::error::Result;

/// Where the app keeps the reward discount's id once it created it.
pub const REFERRAL_DISCOUNT_META_KEY: &str = "paddle_referral_discount_id";

/// The user's most relevant subscription: a live one (active, trialing,
/// past due) before a paused one before a canceled one, and the newest
/// first within each. A person has a handful of rows at most, so they are
/// read by the index and ranked here: an `ORDER BY` on the CASE made SQLite
/// set up a sorter on every call, which cost more than the rest of the query.
pub fn most_relevant_subscription(
    conn: &Connection,
    user_id: i64,
) -> Result<Option<SubscriptionRow>> {
    // The SQL once: `format!` per call would cost more than the lookup.
    static SQL: OnceLock<String> = OnceLock::new();
    let sql = SQL.get_or_init(|| {
        format!(
            "SELECT {}, created_at, rowid FROM subscriptions WHERE user_id = ?1",
            billing::COLUMNS
        )
    });
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map([user_id], |r| {
        Ok((
            billing::from_row(r)?,
            r.get::<_, String>(16)?,
            r.get::<_, i64>(17)?,
        ))
    })?;
    let mut best: Option<(SubscriptionRow, String, i64)> = None;
    for row in rows {
        let row = row?;
        if best.as_ref().is_none_or(|b| rank(&row) < rank(b)) {
            best = Some(row);
        }
    }
    Ok(best.map(|(row, _, _)| row))
}

/// Lowest first: live, paused, canceled; then newest, then last inserted.
fn rank(
    (row, created_at, rowid): &(SubscriptionRow, String, i64),
) -> (u8, Reverse<&str>, Reverse<i64>) {
    let standing = match row.status {
        SubscriptionStatus::Paused => 1,
        SubscriptionStatus::Canceled => 2,
        _ => 0,
    };
    (standing, Reverse(created_at.as_str()), Reverse(*rowid))
}

/// One of the user's referral rewards, with the email of the other party
/// (the invitee for a referrer's reward, the referrer for an invitee's).
#[derive(Clone, Debug, PartialEq)]
pub struct RewardRow {
    pub role: String,
    pub state: String,
    pub applied_at: Option<String>,
    pub ends_at: Option<String>,
    pub other_email: String,
}

/// Every reward of the user's, newest first (ordered here, not by a sorter
/// SQLite would set up on every call; a person has a few).
pub fn rewards_of(conn: &Connection, user_id: i64) -> Result<Vec<RewardRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT rr.role, rr.state, rr.applied_at, rr.ends_at, other.email, rr.created_at, rr.id
         FROM referral_rewards rr
         JOIN referrals r ON r.id = rr.referral_id
         JOIN users other ON other.id = CASE rr.role
             WHEN 'referrer' THEN r.referred_user_id ELSE r.referrer_user_id END
         WHERE rr.user_id = ?1",
    )?;
    let rows = stmt.query_map([user_id], |r| {
        let row = RewardRow {
            role: r.get(0)?,
            state: r.get(1)?,
            applied_at: r.get(2)?,
            ends_at: r.get(3)?,
            other_email: r.get(4)?,
        };
        let created_at: String = r.get(5)?;
        let id: i64 = r.get(6)?;
        Ok((created_at, id, row))
    })?;
    let mut rewards = rows.collect::<rusqlite::Result<Vec<_>>>()?;
    rewards.sort_by(|a, b| (&b.0, b.1).cmp(&(&a.0, a.1)));
    Ok(rewards.into_iter().map(|(_, _, row)| row).collect())
}

/// True when the user was invited and their referral has not converted:
/// their checkout carries the reward discount.
pub fn invited_and_unconverted(conn: &Connection, user_id: i64) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "SELECT 1 FROM referrals WHERE referred_user_id = ?1 AND converted_at IS NULL",
        )?
        .query_row([user_id], |_| Ok(()))
        .optional()?
        .is_some())
}
