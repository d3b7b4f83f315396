//! `portfolio_history`: each account's total in its base currency, a row a day.

use rusqlite::{params, Connection};

use crate::error::Result;
use crate::money::{Currency, Decimal};

/// One day's total.
#[derive(Clone, Debug, PartialEq)]
pub struct DayTotal {
    /// `YYYY-MM-DD` (UTC).
    pub day: String,
    pub value: Decimal,
}

/// Records the day's total unless one is already there: the first total of
/// a day is the day's.
pub fn record(
    conn: &Connection,
    user_id: i64,
    day: &str,
    value: Decimal,
    currency: Currency,
) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "INSERT INTO portfolio_history (user_id, day, value, currency) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (user_id, day) DO NOTHING",
        )?
        .execute(params![user_id, day, value, currency])?
        == 1)
}

pub fn has_day(conn: &Connection, user_id: i64, day: &str) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM portfolio_history WHERE user_id = ?1 AND day = ?2")?
        .exists(params![user_id, day])?)
}

/// The account's totals in `currency` from `since` (a day, inclusive) on,
/// oldest first. Days recorded in another base currency are left out.
pub fn since(
    conn: &Connection,
    user_id: i64,
    currency: Currency,
    since: &str,
) -> Result<Vec<DayTotal>> {
    let mut stmt = conn.prepare_cached(
        "SELECT day, value FROM portfolio_history
         WHERE user_id = ?1 AND currency = ?2 AND day >= ?3 ORDER BY day",
    )?;
    let rows = stmt.query_map(params![user_id, currency, since], |r| {
        Ok(DayTotal {
            day: r.get(0)?,
            value: r.get(1)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The last total recorded on or before `day` and after `not_before`.
pub fn last_between(
    conn: &Connection,
    user_id: i64,
    currency: Currency,
    not_before: &str,
    day: &str,
) -> Result<Option<DayTotal>> {
    use rusqlite::OptionalExtension;
    Ok(conn
        .prepare_cached(
            "SELECT day, value FROM portfolio_history
             WHERE user_id = ?1 AND currency = ?2 AND day >= ?3 AND day <= ?4
             ORDER BY day DESC LIMIT 1",
        )?
        .query_row(params![user_id, currency, not_before, day], |r| {
            Ok(DayTotal {
                day: r.get(0)?,
                value: r.get(1)?,
            })
        })
        .optional()?)
}

pub fn delete_all(conn: &Connection, user_id: i64) -> Result<()> {
    conn.prepare_cached("DELETE FROM portfolio_history WHERE user_id = ?1")?
        .execute([user_id])?;
    Ok(())
}
