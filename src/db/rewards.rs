//! `referral_rewards` (one per party of a converted referral) and the
//! referral columns billing fills (`converted_at`, `credited_at`).

use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::clock::Timestamp;
use crate::error::Result;

/// The referral that brought `user_id`: `(referral id, referrer, converted)`.
pub fn referral_of(conn: &Connection, user_id: i64) -> Result<Option<(i64, i64, bool)>> {
    Ok(conn
        .prepare_cached(
            "SELECT id, referrer_user_id, converted_at IS NOT NULL FROM referrals WHERE referred_user_id = ?1",
        )?
        .query_row([user_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?)
}

/// Sets `converted_at` once, with the subscription that converted it;
/// false when it was already set.
pub fn mark_converted(
    conn: &Connection,
    referral_id: i64,
    subscription_id: &str,
    now: Timestamp,
) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "UPDATE referrals SET converted_at = ?2, converted_subscription_id = ?3
             WHERE id = ?1 AND converted_at IS NULL",
        )?
        .execute(params![referral_id, now, subscription_id])?
        == 1)
}

/// Whether a Paddle customer already converted a referral other than this one.
pub fn customer_converted_other(
    conn: &Connection,
    customer_id: &str,
    referral_id: i64,
) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "SELECT 1 FROM referrals r JOIN subscriptions s ON s.id = r.converted_subscription_id
             WHERE s.customer_id = ?1 AND r.id <> ?2 LIMIT 1",
        )?
        .query_row(params![customer_id, referral_id], |_| Ok(()))
        .optional()?
        .is_some())
}

/// The converted, not reversed referral whose converting subscription was
/// first paid by `transaction_id`: `(referral id, referred user)`.
pub fn converted_by_transaction(
    conn: &Connection,
    transaction_id: &str,
) -> Result<Option<(i64, i64)>> {
    Ok(conn
        .prepare_cached(
            "SELECT r.id, r.referred_user_id FROM referrals r
             JOIN subscriptions s ON s.id = r.converted_subscription_id
             WHERE s.first_transaction_id = ?1
               AND r.converted_at IS NOT NULL AND r.reversed_at IS NULL",
        )?
        .query_row([transaction_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?)
}

/// Referrals reversed so far (a partial index of V11 holds just those).
pub fn reversed_count(conn: &Connection) -> Result<i64> {
    Ok(conn
        .prepare_cached("SELECT count(*) FROM referrals WHERE reversed_at IS NOT NULL")?
        .query_row([], |r| r.get(0))?)
}

/// Sets `reversed_at` once; false when it was already set.
pub fn mark_reversed(conn: &Connection, referral_id: i64, now: Timestamp) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "UPDATE referrals SET reversed_at = ?2 WHERE id = ?1 AND reversed_at IS NULL",
        )?
        .execute(params![referral_id, now])?
        == 1)
}

pub fn insert_banked(
    conn: &Connection,
    referral_id: i64,
    user_id: i64,
    role: &str,
    now: Timestamp,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO referral_rewards (referral_id, user_id, role, state, created_at)
         VALUES (?1, ?2, ?3, 'banked', ?4) ON CONFLICT (referral_id, role) DO NOTHING",
    )?
    .execute(params![referral_id, user_id, role, now])?;
    Ok(())
}

#[derive(Clone, Debug, PartialEq)]
pub struct Reward {
    pub id: i64,
    pub referral_id: i64,
    pub user_id: i64,
    pub role: String,
    pub state: String,
    pub subscription_id: Option<String>,
    pub applied_at: Option<Timestamp>,
    pub ends_at: Option<Timestamp>,
}

const COLUMNS: &str = "id, referral_id, user_id, role, state, subscription_id, applied_at, ends_at";

fn from_row(r: &Row<'_>) -> rusqlite::Result<Reward> {
    Ok(Reward {
        id: r.get(0)?,
        referral_id: r.get(1)?,
        user_id: r.get(2)?,
        role: r.get(3)?,
        state: r.get(4)?,
        subscription_id: r.get(5)?,
        applied_at: r.get(6)?,
        ends_at: r.get(7)?,
    })
}

pub fn reward(conn: &Connection, id: i64) -> Result<Option<Reward>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM referral_rewards WHERE id = ?1"
        ))?
        .query_row([id], from_row)
        .optional()?)
}

/// A user's rewards, oldest first (the order they are applied in).
pub fn rewards_of(conn: &Connection, user_id: i64) -> Result<Vec<Reward>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM referral_rewards WHERE user_id = ?1 ORDER BY created_at, id"
    ))?;
    let rows = stmt.query_map([user_id], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The (two) rewards of a referral.
pub fn rewards_of_referral(conn: &Connection, referral_id: i64) -> Result<Vec<Reward>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM referral_rewards WHERE referral_id = ?1 ORDER BY id"
    ))?;
    let rows = stmt.query_map([referral_id], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Users holding a banked reward.
pub fn users_with_banked(conn: &Connection) -> Result<Vec<i64>> {
    let mut stmt = conn.prepare_cached(
        "SELECT DISTINCT user_id FROM referral_rewards WHERE state = 'banked' ORDER BY user_id",
    )?;
    let rows = stmt.query_map([], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Users holding a banked reward and a subscription that could take it
/// now: the minute sweep settles them (a safety net under the events).
pub fn users_with_banked_and_a_taker(conn: &Connection) -> Result<Vec<i64>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT DISTINCT rr.user_id FROM referral_rewards rr
         JOIN subscriptions s ON s.user_id = rr.user_id
         WHERE rr.state = 'banked' AND s.status IN {}
           AND s.cancel_at IS NULL AND s.pause_at IS NULL
         ORDER BY rr.user_id",
        super::billing::CHARGING_STATUSES
    ))?;
    let rows = stmt.query_map([], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Users holding a running reward whose `ends_at` has passed by `now`
/// (the caller allows for clock skew).
pub fn users_with_lapsed(conn: &Connection, now: Timestamp) -> Result<Vec<i64>> {
    let mut stmt = conn.prepare_cached(
        "SELECT DISTINCT user_id FROM referral_rewards WHERE state = 'running' AND ends_at <= ?1",
    )?;
    let rows = stmt.query_map([now], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Moves a reward to `state`, with the subscription and times that go with it.
pub fn set_state(
    conn: &Connection,
    id: i64,
    state: &str,
    subscription_id: Option<&str>,
    applied_at: Option<Timestamp>,
    ends_at: Option<Timestamp>,
) -> Result<()> {
    conn.prepare_cached(
        "UPDATE referral_rewards SET state = ?2, subscription_id = ?3, applied_at = ?4, ends_at = ?5
         WHERE id = ?1",
    )?
    .execute(params![id, state, subscription_id, applied_at, ends_at])?;
    Ok(())
}

/// Sets `credited_at` on the user's referrals (either side) whose two
/// rewards have both been applied.
pub fn credit_applied(conn: &Connection, user_id: i64, now: Timestamp) -> Result<()> {
    conn.prepare_cached(
        "UPDATE referrals SET credited_at = ?2
         WHERE credited_at IS NULL AND converted_at IS NOT NULL
           AND (referrer_user_id = ?1 OR referred_user_id = ?1)
           AND 2 = (SELECT count(*) FROM referral_rewards
                    WHERE referral_id = referrals.id AND state IN ('running', 'ended'))",
    )?
    .execute(params![user_id, now])?;
    Ok(())
}
