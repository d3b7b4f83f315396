//! The `login_codes` table: emailed one-time codes, kept as HMACs. Each code
//! belongs to the pending cookie (its nonce) that asked for it; limits count
//! codes per mailbox and client (a keyed tag of the client address), and per
//! mailbox alone.

use rusqlite::{params, Connection, OptionalExtension};

use crate::clock::Timestamp;
use crate::error::Result;

/// The code a pending cookie may currently use.
pub struct LiveCode {
    pub id: i64,
    pub code_hash: Vec<u8>,
    pub attempts: i64,
    pub expires_at: Timestamp,
}

/// Whose code it is: the email as typed (normalised), the mailbox the limits
/// count by, the pending cookie's nonce, and the tag of the client address
/// that asked for it.
pub struct Owner<'a> {
    pub email: &'a str,
    pub mailbox: &'a str,
    pub nonce: &'a str,
    pub client: &'a str,
}

/// Retires the earlier codes of this pending cookie (never another
/// browser's) and stores the new one.
pub fn replace(
    conn: &Connection,
    owner: &Owner,
    code_hash: &[u8],
    now: Timestamp,
    expires_at: Timestamp,
) -> Result<()> {
    conn.prepare_cached(
        "UPDATE login_codes SET spent_at = ?3
         WHERE email = ?1 AND nonce = ?2 AND spent_at IS NULL",
    )?
    .execute(params![owner.email, owner.nonce, now])?;
    conn.prepare_cached(
        "INSERT INTO login_codes (email, mailbox, nonce, client, code_hash, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        owner.email,
        owner.mailbox,
        owner.nonce,
        owner.client,
        code_hash,
        now,
        expires_at
    ])?;
    Ok(())
}

/// How many codes this mailbox was sent since `since`, and when the oldest
/// of them was sent: those `client` asked for, or with `None` every one.
pub fn sent_since(
    conn: &Connection,
    mailbox: &str,
    client: Option<&str>,
    since: Timestamp,
) -> Result<(i64, Option<Timestamp>)> {
    Ok(conn
        .prepare_cached(
            "SELECT count(*), min(created_at) FROM login_codes
             WHERE mailbox = ?1 AND (?2 IS NULL OR client = ?2) AND created_at > ?3",
        )?
        .query_row(params![mailbox, client, since], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?)
}

/// When `client` last had a code sent to this mailbox, not counting codes
/// that expired or were burnt (took `max_attempts` wrong tries).
pub fn newest_unburnt_sent(
    conn: &Connection,
    mailbox: &str,
    client: &str,
    max_attempts: i64,
    now: Timestamp,
) -> Result<Option<Timestamp>> {
    Ok(conn
        .prepare_cached(
            "SELECT max(created_at) FROM login_codes
             WHERE mailbox = ?1 AND client = ?2 AND attempts < ?3 AND expires_at > ?4",
        )?
        .query_row(params![mailbox, client, max_attempts, now], |r| r.get(0))?)
}

/// Wrong tries made on this email's codes sent since `since`, whoever made them.
pub fn wrong_tries_since(conn: &Connection, email: &str, since: Timestamp) -> Result<i64> {
    Ok(conn
        .prepare_cached(
            "SELECT coalesce(sum(attempts), 0) FROM login_codes WHERE email = ?1 AND created_at > ?2",
        )?
        .query_row(params![email, since], |r| r.get(0))?)
}

/// The live code of this email that this pending cookie asked for.
pub fn live(
    conn: &Connection,
    email: &str,
    nonce: &str,
    now: Timestamp,
) -> Result<Option<LiveCode>> {
    Ok(conn
        .prepare_cached(
            "SELECT id, code_hash, attempts, expires_at FROM login_codes
             WHERE email = ?1 AND nonce = ?2 AND spent_at IS NULL AND expires_at > ?3
             ORDER BY id DESC LIMIT 1",
        )?
        .query_row(params![email, nonce, now], |r| {
            Ok(LiveCode {
                id: r.get(0)?,
                code_hash: r.get(1)?,
                attempts: r.get(2)?,
                expires_at: r.get(3)?,
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
