//! The `holdings` table.

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use rusqlite::{params, Connection, OptionalExtension};

use serde::{Serialize, Serializer};

use crate::clock::Timestamp;
use crate::error::Result;
use crate::money::{Currency, Decimal};

/// One position. `cost_basis` is the average price paid per unit, in the
/// holding's own `currency`, like its price.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Holding {
    pub symbol: String,
    pub quantity: Decimal,
    pub price: Decimal,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_basis: Option<Decimal>,
    pub currency: Currency,
    pub price_source: PriceSource,
    /// When a provider's price was current; `None` for a typed price.
    #[serde(serialize_with = "rfc3339")]
    pub price_at: Option<Timestamp>,
}

/// `"2026-12-02T08:00:00Z"` or null, as every time in the API.
fn rfc3339<S: Serializer>(t: &Option<Timestamp>, s: S) -> std::result::Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&t.to_string()),
        None => s.serialize_none(),
    }
}

impl Holding {
    /// A holding with a typed price.
    pub fn typed(
        symbol: &str,
        quantity: Decimal,
        price: Decimal,
        cost_basis: Option<Decimal>,
        currency: Currency,
    ) -> Holding {
        Holding {
            symbol: symbol.to_string(),
            quantity,
            price,
            cost_basis,
            currency,
            price_source: PriceSource::Typed,
            price_at: None,
        }
    }

    /// Quantity × price in the holding's own currency; `None` only past
    /// what any amount can reach.
    pub fn value(&self) -> Option<Decimal> {
        self.quantity.checked_mul(self.price)
    }
}

/// Where a holding's price comes from: the person, or a quote provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PriceSource {
    Typed,
    Stooq,
    AlphaVantage,
}

impl PriceSource {
    pub fn as_str(self) -> &'static str {
        match self {
            PriceSource::Typed => "typed",
            PriceSource::Stooq => "stooq",
            PriceSource::AlphaVantage => "alphavantage",
        }
    }

    pub fn parse(s: &str) -> Option<PriceSource> {
        match s {
            "typed" => Some(PriceSource::Typed),
            "stooq" => Some(PriceSource::Stooq),
            "alphavantage" => Some(PriceSource::AlphaVantage),
            _ => None,
        }
    }

    /// How the page names the provider.
    pub fn label(self) -> &'static str {
        match self {
            PriceSource::Typed => "typed",
            PriceSource::Stooq => "Stooq",
            PriceSource::AlphaVantage => "Alpha Vantage",
        }
    }

    pub fn is_quoted(self) -> bool {
        self != PriceSource::Typed
    }
}

impl ToSql for PriceSource {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for PriceSource {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        PriceSource::parse(value.as_str()?).ok_or(FromSqlError::InvalidType)
    }
}

impl Serialize for PriceSource {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

const COLUMNS: &str = "symbol, quantity, price, cost_basis, currency, price_source, price_at";

pub fn list(conn: &Connection, user_id: i64) -> Result<Vec<Holding>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM holdings WHERE user_id = ?1 ORDER BY symbol"
    ))?;
    let rows = stmt.query_map([user_id], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// A row of [`COLUMNS`].
fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Holding> {
    Ok(Holding {
        symbol: r.get(0)?,
        quantity: r.get(1)?,
        price: r.get(2)?,
        cost_basis: r.get(3)?,
        currency: r.get(4)?,
        price_source: r.get(5)?,
        price_at: r.get(6)?,
    })
}

pub fn count(conn: &Connection, user_id: i64) -> Result<usize> {
    let n: i64 = conn
        .prepare_cached("SELECT count(*) FROM holdings WHERE user_id = ?1")?
        .query_row([user_id], |r| r.get(0))?;
    Ok(n as usize)
}

/// Adds the holding, or replaces the one with the same symbol. A quoted
/// holding takes the provider's last good price when there is one (the
/// typed price stands in until the first quote), and its symbol is asked
/// for at the quote job's next turn.
pub fn upsert(conn: &Connection, user_id: i64, h: &Holding, now: Timestamp) -> Result<()> {
    if h.price_source.is_quoted() {
        conn.prepare_cached(
            "INSERT INTO quotes (symbol, next_try_at) VALUES (?1, ?2)
             ON CONFLICT (symbol) DO UPDATE SET
                 next_try_at = min(next_try_at, excluded.next_try_at)
             WHERE quotes.price IS NULL OR quotes.source IS NOT ?3",
        )?
        .execute(params![h.symbol, now, h.price_source])?;
    }
    conn.prepare_cached(
        "INSERT INTO holdings (user_id, symbol, quantity, price, cost_basis, currency,
                               price_source, price_at, updated_at)
         SELECT ?1, ?2, ?3, coalesce(q.price, ?4), ?5, ?6, ?7, q.price_at, ?8
         FROM (SELECT 1) LEFT JOIN quotes q
              ON ?7 <> 'typed' AND q.symbol = ?2 AND q.source = ?7 AND q.price IS NOT NULL
         WHERE true
         ON CONFLICT (user_id, symbol) DO UPDATE SET
             quantity = excluded.quantity, price = excluded.price,
             cost_basis = excluded.cost_basis, currency = excluded.currency,
             price_source = excluded.price_source, price_at = excluded.price_at,
             updated_at = excluded.updated_at",
    )?
    .execute(params![
        user_id,
        h.symbol,
        h.quantity,
        h.price,
        h.cost_basis,
        h.currency,
        h.price_source,
        now
    ])?;
    Ok(())
}

pub fn exists(conn: &Connection, user_id: i64, symbol: &str) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM holdings WHERE user_id = ?1 AND symbol = ?2")?
        .exists(params![user_id, symbol])?)
}

/// Deletes the holding and answers what it was, or `None` if there was none.
pub fn take(conn: &Connection, user_id: i64, symbol: &str) -> Result<Option<Holding>> {
    Ok(conn
        .prepare_cached(&format!(
            "DELETE FROM holdings WHERE user_id = ?1 AND symbol = ?2 RETURNING {COLUMNS}"
        ))?
        .query_row(params![user_id, symbol], from_row)
        .optional()?)
}

pub fn delete_all(conn: &Connection, user_id: i64) -> Result<()> {
    conn.prepare_cached("DELETE FROM holdings WHERE user_id = ?1")?
        .execute([user_id])?;
    Ok(())
}

/// The symbols some holding takes from a provider, with their sources.
pub fn quoted_symbols(conn: &Connection) -> Result<Vec<(String, PriceSource)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT DISTINCT symbol, price_source FROM holdings WHERE price_source <> 'typed'",
    )?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Puts a provider's price on every quoted holding of that symbol (one
/// that followed another provider before `APP_QUOTES` changed follows this
/// one now); a typed holding is never touched.
pub fn set_quoted_price(
    conn: &Connection,
    symbol: &str,
    source: PriceSource,
    price: Decimal,
    price_at: Timestamp,
) -> Result<usize> {
    Ok(conn
        .prepare_cached(
            "UPDATE holdings SET price = ?3, price_at = ?4, price_source = ?2
             WHERE symbol = ?1 AND price_source <> 'typed'",
        )?
        .execute(params![symbol, source, price, price_at])?)
}

/// Accounts that hold something, for the daily history.
pub fn users_with_holdings(conn: &Connection) -> Result<Vec<i64>> {
    let mut stmt = conn.prepare_cached("SELECT DISTINCT user_id FROM holdings")?;
    let rows = stmt.query_map([], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
