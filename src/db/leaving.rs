//! What leaving needs (SPEC §9): the account's own rows for the export, and
//! the deletes and the tombstone for deleting it.

use rusqlite::{params, Connection, OptionalExtension};

use crate::clock::Timestamp;
use crate::error::Result;

/// A subscription row as the export and the deletion read it (times kept as
/// billing wrote them).
#[derive(Clone, Debug, PartialEq)]
pub struct Subscription {
    pub id: String,
    pub customer_id: String,
    pub status: String,
    pub current_period_ends_at: Option<String>,
    pub cancel_at: Option<String>,
    pub discount_ends_at: Option<String>,
}

const SUB_COLUMNS: &str =
    "id, customer_id, status, current_period_ends_at, cancel_at, discount_ends_at";

fn subscription(r: &rusqlite::Row<'_>) -> rusqlite::Result<Subscription> {
    Ok(Subscription {
        id: r.get(0)?,
        customer_id: r.get(1)?,
        status: r.get(2)?,
        current_period_ends_at: r.get(3)?,
        cancel_at: r.get(4)?,
        discount_ends_at: r.get(5)?,
    })
}

/// The user's newest subscription, if any.
pub fn latest_subscription(conn: &Connection, user_id: i64) -> Result<Option<Subscription>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {SUB_COLUMNS} FROM subscriptions WHERE user_id = ?1
             ORDER BY updated_at DESC, created_at DESC LIMIT 1"
        ))?
        .query_row([user_id], subscription)
        .optional()?)
}

/// Subscriptions that still bill: active, trialing or past due, with no
/// cancel scheduled.
pub fn billing_subscriptions(conn: &Connection, user_id: i64) -> Result<Vec<Subscription>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {SUB_COLUMNS} FROM subscriptions WHERE user_id = ?1
         AND status IN ('active', 'trialing', 'past_due') AND cancel_at IS NULL ORDER BY id"
    ))?;
    let rows = stmt.query_map([user_id], subscription)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// `(created_at, converted_at)` of the people this user invited: dates only.
pub fn invited(conn: &Connection, user_id: i64) -> Result<Vec<(Timestamp, Option<Timestamp>)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT created_at, converted_at FROM referrals WHERE referrer_user_id = ?1 ORDER BY id",
    )?;
    let rows = stmt.query_map([user_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The code of whoever invited this user (their current code; null once
/// that account is deleted).
pub fn referred_by_code(conn: &Connection, user_id: i64) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached(
            "SELECT r.referral_code FROM users u JOIN users r ON r.id = u.referred_by_user_id
             WHERE u.id = ?1",
        )?
        .query_row([user_id], |r| r.get(0))
        .optional()?
        .flatten())
}

/// Removes what the account owns and turns its row into a tombstone:
/// `deleted-<id>@invalid`, no referral code, free, no credit. Referrals,
/// rewards, subscriptions and the audit keep pointing at the row.
pub fn erase(conn: &Connection, user_id: i64, email: &str) -> Result<()> {
    conn.prepare_cached("DELETE FROM login_codes WHERE email = ?1")?
        .execute([email])?;
    conn.prepare_cached("DELETE FROM sessions WHERE user_id = ?1")?
        .execute([user_id])?;
    conn.prepare_cached("DELETE FROM holdings WHERE user_id = ?1")?
        .execute([user_id])?;
    conn.prepare_cached(
        "UPDATE users SET email = 'deleted-' || id || '@invalid', referral_code = NULL,
                          tier = 'free', credit_until = NULL
         WHERE id = ?1",
    )?
    .execute([user_id])?;
    Ok(())
}

/// Queues the Paddle call that cancels a subscription, once (the outbox's
/// dedupe key); billing's worker makes it.
pub fn queue_cancel(conn: &Connection, subscription_id: &str, now: Timestamp) -> Result<()> {
    let payload = serde_json::json!({ "subscription_id": subscription_id }).to_string();
    conn.prepare_cached(
        "INSERT INTO paddle_outbox (kind, payload, dedupe_key, created_at, next_attempt_at)
         VALUES ('cancel_subscription', ?1, ?2, ?3, ?3)
         ON CONFLICT (dedupe_key) DO NOTHING",
    )?
    .execute(params![payload, format!("cancel:{subscription_id}"), now])?;
    Ok(())
}
