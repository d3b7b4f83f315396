//! The append-only `access_audit` table: every grant, revoke and tier change.

use rusqlite::{params, Connection};

use crate::clock::Timestamp;
use crate::error::Result;

#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub at: Timestamp,
    pub user_id: i64,
    pub action: String,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
    pub actor: String,
    pub client: Option<String>,
    pub note: Option<String>,
}

pub fn append(conn: &Connection, e: &Entry) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO access_audit (at, user_id, action, old_value, new_value, actor, client, note)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        e.at,
        e.user_id,
        e.action,
        e.old_value,
        e.new_value,
        e.actor,
        e.client,
        e.note
    ])?;
    Ok(())
}

pub fn for_user(conn: &Connection, user_id: i64) -> Result<Vec<Entry>> {
    let mut stmt = conn.prepare_cached(
        "SELECT at, user_id, action, old_value, new_value, actor, client, note
         FROM access_audit WHERE user_id = ?1 ORDER BY id",
    )?;
    let rows = stmt.query_map([user_id], |r| {
        Ok(Entry {
            at: r.get(0)?,
            user_id: r.get(1)?,
            action: r.get(2)?,
            old_value: r.get(3)?,
            new_value: r.get(4)?,
            actor: r.get(5)?,
            client: r.get(6)?,
            note: r.get(7)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
