//! The `sessions` table: only the SHA-256 of each token is stored.

use rusqlite::{params, Connection, OptionalExtension};

use crate::clock::Timestamp;
use crate::db::users::{self, User};
use crate::error::Result;

pub fn insert(
    conn: &Connection,
    token_hash: &[u8],
    user_id: i64,
    now: Timestamp,
    expires_at: Timestamp,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![token_hash, user_id, now, expires_at])?;
    Ok(())
}

/// The user of a live session, in one statement (every signed-in request
/// asks).
pub fn user_for(conn: &Connection, token_hash: &[u8], now: Timestamp) -> Result<Option<User>> {
    Ok(conn
        .prepare_cached(
            "SELECT u.id, u.email, u.tier, u.created_at, u.credit_until, u.base_currency
             FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.token_hash = ?1 AND s.expires_at > ?2",
        )?
        .query_row(params![token_hash, now], users::from_row)
        .optional()?)
}

pub fn delete(conn: &Connection, token_hash: &[u8]) -> Result<()> {
    conn.prepare_cached("DELETE FROM sessions WHERE token_hash = ?1")?
        .execute([token_hash])?;
    Ok(())
}

/// Drops sessions past their absolute lifetime.
pub fn delete_expired(conn: &Connection, now: Timestamp) -> Result<usize> {
    Ok(conn
        .prepare_cached("DELETE FROM sessions WHERE expires_at <= ?1")?
        .execute([now])?)
}
