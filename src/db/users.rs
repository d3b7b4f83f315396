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

impl User {
    /// Whether this row is what a deleted account left (see [`tombstone_email`]).
    pub fn is_deleted(&self) -> bool {
        is_tombstone(&self.email)
    }
}

/// A deleted account's row stays, so referrals, rewards, subscriptions and
/// the audit keep pointing at it, with this email: `deleted-<id>@invalid`,
/// an address no mail can reach. The one definition of a deleted account;
/// [`is_tombstone`] and [`live_count`] read it.
pub fn tombstone_email(id: i64) -> String {
    format!("deleted-{id}@invalid")
}

/// Whether `email` is a tombstone's (see [`tombstone_email`]).
pub fn is_tombstone(email: &str) -> bool {
    email
        .strip_prefix("deleted-")
        .and_then(|rest| rest.strip_suffix("@invalid"))
        .is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
}

/// [`is_tombstone`] as SQL on `users.email`: a short range of the email
/// index, then the shape.
const TOMBSTONE: &str =
    "email >= 'deleted-' AND email < 'deleted.' AND email GLOB 'deleted-[0-9]*@invalid'";

/// Accounts now, not counting the tombstones deleted accounts leave.
pub fn live_count(conn: &Connection) -> Result<i64> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT (SELECT count(*) FROM users) - (SELECT count(*) FROM users WHERE {TOMBSTONE})"
        ))?
        .query_row([], |r| r.get(0))?)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{leaving, test_db};

    #[test]
    fn a_tombstone_is_deleted_dash_id_at_invalid_and_is_not_counted() {
        let conn = test_db();
        let now = Timestamp(1_800_000_000);
        let gone = create(&conn, "gone@example.com", now).unwrap();
        create(&conn, "stays@example.com", now).unwrap();
        // a real address that merely starts like a tombstone still counts
        create(&conn, "deleted-fan@example.com", now).unwrap();
        assert_eq!(live_count(&conn).unwrap(), 3);
        leaving::erase(&conn, gone.id, &gone.email).unwrap();
        let row = by_id(&conn, gone.id).unwrap().unwrap();
        assert_eq!(row.email, tombstone_email(gone.id));
        assert!(row.is_deleted());
        assert!(!is_tombstone("deleted-fan@example.com"));
        assert!(!is_tombstone("deleted-@invalid"));
        assert_eq!(live_count(&conn).unwrap(), 2);
    }
}
