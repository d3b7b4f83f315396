//! The `users` table.

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use rusqlite::{Connection, OptionalExtension, Row};
use serde::Serialize;

use crate::clock::Timestamp;
use crate::error::Result;
use crate::money::Currency;

/// `users.tier`: the one column the paid gate reads (SPEC §5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Free,
    Paid,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Free => "free",
            Tier::Paid => "paid",
        }
    }

    /// `free` or `paid`, exactly as the CLI and the table spell them.
    pub fn parse(s: &str) -> Option<Tier> {
        match s {
            "free" => Some(Tier::Free),
            "paid" => Some(Tier::Paid),
            _ => None,
        }
    }
}

impl std::fmt::Display for Tier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl ToSql for Tier {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for Tier {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        Tier::parse(value.as_str()?).ok_or(FromSqlError::InvalidType)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub tier: Tier,
    pub created_at: Timestamp,
    pub credit_until: Option<Timestamp>,
    /// What values, weights and history are shown in (settings).
    pub base_currency: Currency,
}

const COLUMNS: &str = "id, email, tier, created_at, credit_until, base_currency";

/// A user from a row of [`COLUMNS`], in that order.
pub(crate) fn from_row(r: &Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: r.get(0)?,
        email: r.get(1)?,
        tier: r.get(2)?,
        created_at: r.get(3)?,
        credit_until: r.get(4)?,
        base_currency: r.get(5)?,
    })
}

pub fn by_email(conn: &Connection, email: &str) -> Result<Option<User>> {
    Ok(conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM users WHERE email = ?1"))?
        .query_row([email], from_row)
        .optional()?)
}

pub fn by_id(conn: &Connection, id: i64) -> Result<Option<User>> {
    Ok(conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM users WHERE id = ?1"))?
        .query_row([id], from_row)
        .optional()?)
}

/// Creates a free account; the caller has checked the email is not taken
/// inside the same transaction.
pub fn create(conn: &Connection, email: &str, now: Timestamp) -> Result<User> {
    let id = conn
        .prepare_cached(
            "INSERT INTO users (email, tier, created_at) VALUES (?1, 'free', ?2) RETURNING id",
        )?
        .query_row(rusqlite::params![email, now], |r| r.get(0))?;
    Ok(User {
        id,
        email: email.to_string(),
        tier: Tier::Free,
        created_at: now,
        credit_until: None,
        base_currency: Currency::USD,
    })
}

pub fn set_credit_until(conn: &Connection, user_id: i64, until: Option<Timestamp>) -> Result<()> {
    conn.prepare_cached("UPDATE users SET credit_until = ?2 WHERE id = ?1")?
        .execute(rusqlite::params![user_id, until])?;
    Ok(())
}

pub fn set_tier(conn: &Connection, user_id: i64, tier: Tier) -> Result<()> {
    conn.prepare_cached("UPDATE users SET tier = ?2 WHERE id = ?1")?
        .execute(rusqlite::params![user_id, tier])?;
    Ok(())
}
