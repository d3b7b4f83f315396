//! The `login_codes` table: emailed one-time codes, kept as HMACs.

use rusqlite::{params, Connection, OptionalExtension};

use crate::clock::Timestamp;
use crate::error::Result;

/// The code an email may currently use.
pub struct LiveCode {
    pub id: i64,
    pub code_hash: Vec<u8>,
    pub attempts: i64,
}

/// Retires every earlier code of this email and stores the new one.
pub fn replace(
    conn: &Connection,
    email: &str,
    code_hash: &[u8],
    now: Timestamp,
    expires_at: Timestamp,
) -> Result<()> {
    conn.prepare_cached(
        "UPDATE login_codes SET spent_at = ?2 WHERE email = ?1 AND spent_at IS NULL",
    )?
    .execute(params![email, now])?;
    conn.prepare_cached(
        "INSERT INTO login_codes (email, code_hash, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![email, code_hash, now, expires_at])?;
    Ok(())
}

/// How many codes this email was sent since `since`, and when the newest and
/// the oldest of them were sent.
pub fn sent_since(
    conn: &Connection,
    email: &str,
    since: Timestamp,
) -> Result<(i64, Option<Timestamp>, Option<Timestamp>)> {
    Ok(conn
        .prepare_cached(
            "SELECT count(*), max(created_at), min(created_at) FROM login_codes
             WHERE email = ?1 AND created_at > ?2",
        )?
        .query_row(params![email, since], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?)
}

/// Wrong tries this email made on codes sent since `since`.
pub fn wrong_tries_since(conn: &Connection, email: &str, since: Timestamp) -> Result<i64> {
    Ok(conn
        .prepare_cached(
            "SELECT coalesce(sum(attempts), 0) FROM login_codes WHERE email = ?1 AND created_at > ?2",
        )?
        .query_row(params![email, since], |r| r.get(0))?)
}

pub fn live(conn: &Connection, email: &str, now: Timestamp) -> Result<Option<LiveCode>> {
    Ok(conn
        .prepare_cached(
            "SELECT id, code_hash, attempts FROM login_codes
             WHERE email = ?1 AND spent_at IS NULL AND expires_at > ?2
             ORDER BY id DESC LIMIT 1",
        )?
        .query_row(params![email, now], |r| {
            Ok(LiveCode {
                id: r.get(0)?,
                code_hash: r.get(1)?,
                attempts: r.get(2)?,
            })
        })
        .optional()?)
}

/// Marks a live code spent; true when this call is the one that spent it.
pub fn spend(conn: &Connection, id: i64, now: Timestamp) -> Result<bool> {
    Ok(conn
        .prepare_cached("UPDATE login_codes SET spent_at = ?2 WHERE id = ?1 AND spent_at IS NULL")?
        .execute(params![id, now])?
        == 1)
}

/// Counts a wrong try; the try that reaches `max_attempts` also spends (burns)
/// the code. Returns the attempts now recorded.
pub fn record_wrong_try(
    conn: &Connection,
    id: i64,
    max_attempts: i64,
    now: Timestamp,
) -> Result<i64> {
    Ok(conn
        .prepare_cached(
            "UPDATE login_codes
             SET attempts = attempts + 1,
                 spent_at = CASE WHEN attempts + 1 >= ?2 THEN ?3 ELSE spent_at END
             WHERE id = ?1 RETURNING attempts",
        )?
        .query_row(params![id, max_attempts, now], |r| r.get(0))?)
}

/// Forgets codes older than `before` (their limits have run out).
pub fn delete_older_than(conn: &Connection, before: Timestamp) -> Result<usize> {
    Ok(conn
        .prepare_cached("DELETE FROM login_codes WHERE created_at < ?1")?
        .execute([before])?)
}
