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
    Ok(conn
        .prepare_cached(
            "INSERT INTO paddle_outbox (kind, payload, dedupe_key, created_at, next_attempt_at)
             VALUES (?1, ?2, ?3, ?4, ?4)
             ON CONFLICT (dedupe_key) DO UPDATE SET
                 payload = excluded.payload, attempts = 0, next_attempt_at = excluded.next_attempt_at,
                 claimed_until = NULL, done_at = NULL, failed_at = NULL, last_error = NULL
             WHERE ?5 AND (done_at IS NOT NULL OR failed_at IS NOT NULL)",
        )?
        .execute(params![kind, payload, dedupe_key, now, rearm])?
        == 1)
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
             RETURNING id, kind, payload, attempts",
        )?
        .query_row(params![id, lease_until], |r| {
            Ok(Job {
                id: r.get(0)?,
                kind: r.get(1)?,
                payload: r.get(2)?,
                attempts: r.get(3)?,
                outcome_unknown: lease_expired,
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
