//! The market data the app keeps: each account's base currency, the ECB's
//! reference rates (`fx_rates`) and the quote provider's answers (`quotes`).

use rusqlite::{params, Connection, OptionalExtension};

use crate::clock::Timestamp;
use crate::db::holdings::PriceSource;
use crate::error::Result;
use crate::money::{Currency, Decimal};

pub fn base_currency(conn: &Connection, user_id: i64) -> Result<Currency> {
    Ok(conn
        .prepare_cached("SELECT base_currency FROM users WHERE id = ?1")?
        .query_row([user_id], |r| r.get(0))
        .optional()?
        .unwrap_or(Currency::USD))
}

pub fn set_base_currency(conn: &Connection, user_id: i64, currency: Currency) -> Result<()> {
    conn.prepare_cached("UPDATE users SET base_currency = ?2 WHERE id = ?1")?
        .execute(params![user_id, currency])?;
    Ok(())
}

/// Units of each currency per euro, as the ECB published them last.
pub fn rates(conn: &Connection) -> Result<Vec<(Currency, Decimal)>> {
    let mut stmt = conn.prepare_cached("SELECT currency, per_euro FROM fx_rates")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The reference day of the rates kept, if any.
pub fn rates_day(conn: &Connection) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT max(day) FROM fx_rates")?
        .query_row([], |r| r.get(0))?)
}

/// Keeps the day's rates; a currency the ECB stopped publishing keeps its
/// last rate (and day) rather than vanishing.
pub fn store_rates(
    conn: &Connection,
    day: &str,
    rates: &[(Currency, Decimal)],
    now: Timestamp,
) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO fx_rates (currency, per_euro, day, fetched_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (currency) DO UPDATE SET per_euro = excluded.per_euro,
             day = excluded.day, fetched_at = excluded.fetched_at
         WHERE excluded.day >= fx_rates.day",
    )?;
    for (currency, rate) in rates {
        stmt.execute(params![currency, rate, day, now])?;
    }
    Ok(())
}

/// A symbol the quote job is to ask for now.
#[derive(Clone, Debug, PartialEq)]
pub struct DueQuote {
    pub symbol: String,
    pub failures: i64,
}

/// Makes sure every quoted symbol has a row; at start, every row is due.
pub fn schedule_quotes(
    conn: &Connection,
    symbols: &[(String, PriceSource)],
    now: Timestamp,
    all_due: bool,
) -> Result<()> {
    let mut insert = conn.prepare_cached(
        "INSERT INTO quotes (symbol, next_try_at) VALUES (?1, ?2) ON CONFLICT (symbol) DO NOTHING",
    )?;
    for (symbol, _) in symbols {
        insert.execute(params![symbol, now])?;
    }
    if all_due {
        conn.prepare_cached("UPDATE quotes SET next_try_at = ?1 WHERE next_try_at > ?1")?
            .execute([now])?;
    }
    Ok(())
}

/// Quoted symbols whose turn has come, oldest turn first.
pub fn due_quotes(conn: &Connection, now: Timestamp, limit: usize) -> Result<Vec<DueQuote>> {
    let mut stmt = conn.prepare_cached(
        "SELECT q.symbol, q.failures FROM quotes q
         WHERE q.next_try_at <= ?1
           AND EXISTS (SELECT 1 FROM holdings h
                       WHERE h.symbol = q.symbol AND h.price_source <> 'typed')
         ORDER BY q.next_try_at, q.symbol LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![now, limit as i64], |r| {
        Ok(DueQuote {
            symbol: r.get(0)?,
            failures: r.get(1)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The provider's good answer: kept, and the next turn set.
pub fn quote_succeeded(
    conn: &Connection,
    symbol: &str,
    source: PriceSource,
    price: Decimal,
    price_at: Timestamp,
    now: Timestamp,
    next: Timestamp,
) -> Result<()> {
    conn.prepare_cached(
        "UPDATE quotes SET source = ?2, price = ?3, price_at = ?4, fetched_at = ?5,
             failures = 0, last_error = NULL, next_try_at = ?6 WHERE symbol = ?1",
    )?
    .execute(params![symbol, source, price, price_at, now, next])?;
    Ok(())
}

/// A failed ask: the last good price stays; the next try waits longer.
pub fn quote_failed(conn: &Connection, symbol: &str, error: &str, next: Timestamp) -> Result<()> {
    conn.prepare_cached(
        "UPDATE quotes SET failures = failures + 1, last_error = ?2, next_try_at = ?3
         WHERE symbol = ?1",
    )?
    .execute(params![symbol, error, next])?;
    Ok(())
}

/// The soonest next turn, so the job knows how long it may sleep.
pub fn next_quote_turn(conn: &Connection) -> Result<Option<Timestamp>> {
    Ok(conn
        .prepare_cached(
            "SELECT min(q.next_try_at) FROM quotes q
             WHERE EXISTS (SELECT 1 FROM holdings h
                           WHERE h.symbol = q.symbol AND h.price_source <> 'typed')",
        )?
        .query_row([], |r| r.get(0))?)
}
