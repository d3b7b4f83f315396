//! `paddle_outbox`: Paddle API calls owed, claimed by one worker at a time.

use rusqlite::{params, Connection, OptionalExtension};

use crate::clock::Timestamp;
use crate::error::Result;

/// Queues a call. With a `dedupe_key` already queued nothing is added (false),
/// unless `rearm` and that row is finished, when it is queued again.
pub fn enqueue(
    conn: &Connection,
    kind: &str,
    payload: &str,
    dedupe_key: &str,
    rearm: bool,
    now: Timestamp,
) -> Result<bool> {
    enqueue_at(conn, kind, payload, dedupe_key, rearm, now, now)
}

/// As [`enqueue`], first tried no sooner than `due`.
pub fn enqueue_at(
    conn: &Connection,
    kind: &str,
    payload: &str,
    dedupe_key: &str,
    rearm: bool,
    now: Timestamp,
    due: Timestamp,
) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "INSERT INTO paddle_outbox (kind, payload, dedupe_key, created_at, next_attempt_at)
             VALUES (?1, ?2, ?3, ?4, ?6)
             ON CONFLICT (dedupe_key) DO UPDATE SET
                 payload = excluded.payload, attempts = 0, next_attempt_at = excluded.next_attempt_at,
                 claimed_until = NULL, done_at = NULL, failed_at = NULL, last_error = NULL,
                 locked_since = NULL
             WHERE ?5 AND (done_at IS NOT NULL OR failed_at IS NOT NULL)",
        )?
        .execute(params![kind, payload, dedupe_key, now, rearm, due])?
        == 1)
}

/// Whether the call under `dedupe_key` is still owed (queued, not failed).
pub fn is_pending(conn: &Connection, dedupe_key: &str) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "SELECT 1 FROM paddle_outbox
             WHERE dedupe_key = ?1 AND done_at IS NULL AND failed_at IS NULL",
        )?
        .query_row([dedupe_key], |_| Ok(()))
        .optional()?
        .is_some())
}

/// Whether a reward's apply call is queued (not done, not failed).
pub fn has_live_call_for_reward(conn: &Connection, reward_id: i64) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "SELECT 1 FROM paddle_outbox
             WHERE kind = 'apply_discount' AND done_at IS NULL AND failed_at IS NULL
               AND json_extract(payload, '$.reward_id') = ?1 LIMIT 1",
        )?
        .query_row([reward_id], |_| Ok(()))
        .optional()?
        .is_some())
}

/// Failed reward calls (`apply_discount`, `remove_discount`) of these
/// rewards are queued again, as new: `app billing-retry`. Their ids.
pub fn requeue_failed_rewards(
    conn: &Connection,
    reward_ids: &[i64],
    now: Timestamp,
) -> Result<Vec<i64>> {
    let mut requeued = Vec::new();
    for reward_id in reward_ids {
        let mut stmt = conn.prepare_cached(
            "UPDATE paddle_outbox SET attempts = 0, next_attempt_at = ?2, claimed_until = NULL,
                 failed_at = NULL, last_error = NULL, locked_since = NULL
             WHERE failed_at IS NOT NULL AND done_at IS NULL
               AND kind IN ('apply_discount', 'remove_discount')
               AND json_extract(payload, '$.reward_id') = ?1
             RETURNING id",
        )?;
        let ids = stmt.query_map(params![reward_id, now], |r| r.get::<_, i64>(0))?;
        for id in ids {
            requeued.push(id?);
        }
    }
    Ok(requeued)
}

/// A claimed row.
#[derive(Clone, Debug, PartialEq)]
pub struct Job {
    pub id: i64,
    pub kind: String,
    pub payload: String,
    /// Attempts including this one.
    pub attempts: i64,
    /// The previous attempt's worker died mid-call: its outcome is unknown.
    pub outcome_unknown: bool,
    /// When Paddle first answered it with a lock, if it has.
    pub locked_since: Option<Timestamp>,
}

/// Claims the next due row until `lease_until`. Run inside a `BEGIN
/// IMMEDIATE` transaction, so of two workers (or processes) only one gets it.
pub fn claim(conn: &Connection, now: Timestamp, lease_until: Timestamp) -> Result<Option<Job>> {
    let next: Option<(i64, bool)> = conn
        .prepare_cached(
            "SELECT id, claimed_until IS NOT NULL FROM paddle_outbox
             WHERE done_at IS NULL AND failed_at IS NULL AND next_attempt_at <= ?1
               AND (claimed_until IS NULL OR claimed_until <= ?1)
             ORDER BY next_attempt_at, id LIMIT 1",
        )?
        .query_row([now], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let Some((id, lease_expired)) = next else {
        return Ok(None);
    };
    Ok(conn
        .prepare_cached(
            "UPDATE paddle_outbox SET attempts = attempts + 1, claimed_until = ?2 WHERE id = ?1
             RETURNING id, kind, payload, attempts, locked_since",
        )?
        .query_row(params![id, lease_until], |r| {
            Ok(Job {
                id: r.get(0)?,
                kind: r.get(1)?,
                payload: r.get(2)?,
                attempts: r.get(3)?,
                outcome_unknown: lease_expired,
                locked_since: r.get(4)?,
            })
        })
        .optional()?)
}

pub fn mark_done(conn: &Connection, id: i64, now: Timestamp) -> Result<()> {
    conn.prepare_cached(
        "UPDATE paddle_outbox SET done_at = ?2, claimed_until = NULL, last_error = NULL WHERE id = ?1",
    )?
    .execute(params![id, now])?;
    Ok(())
}

pub fn mark_retry(
    conn: &Connection,
    id: i64,
    next_attempt_at: Timestamp,
    error: &str,
) -> Result<()> {
    conn.prepare_cached(
        "UPDATE paddle_outbox SET next_attempt_at = ?2, claimed_until = NULL, last_error = ?3 WHERE id = ?1",
    )?
    .execute(params![id, next_attempt_at, error])?;
    Ok(())
}

/// Paddle locked the subscription: try again at `next_attempt_at`, and
/// remember when the locks began (they are waited out for 7 days).
pub fn mark_locked(
    conn: &Connection,
    id: i64,
    next_attempt_at: Timestamp,
    error: &str,
    now: Timestamp,
) -> Result<()> {
    conn.prepare_cached(
        "UPDATE paddle_outbox SET next_attempt_at = ?2, claimed_until = NULL, last_error = ?3,
             locked_since = coalesce(locked_since, ?4)
         WHERE id = ?1",
    )?
    .execute(params![id, next_attempt_at, error, now])?;
    Ok(())
}

pub fn mark_failed(conn: &Connection, id: i64, now: Timestamp, error: &str) -> Result<()> {
    conn.prepare_cached(
        "UPDATE paddle_outbox SET failed_at = ?2, claimed_until = NULL, last_error = ?3 WHERE id = ?1",
    )?
    .execute(params![id, now, error])?;
    Ok(())
}

/// `(calls still owed, calls Paddle refused)`, for `/metrics`.
pub fn depth(conn: &Connection) -> Result<(i64, i64)> {
    Ok(conn
        .prepare_cached(
            "SELECT count(*) FILTER (WHERE failed_at IS NULL), count(*) FILTER (WHERE failed_at IS NOT NULL)
             FROM paddle_outbox WHERE done_at IS NULL",
        )?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))?)
}
