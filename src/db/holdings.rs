//! The `holdings` table.

use rusqlite::{params, Connection, OptionalExtension};

use serde::Serialize;

use crate::clock::Timestamp;
use crate::error::Result;

/// One position. `cost_basis` is the average price paid per unit.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Holding {
    pub symbol: String,
    pub quantity: f64,
    pub price: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_basis: Option<f64>,
}

impl Holding {
    pub fn value(&self) -> f64 {
        self.quantity * self.price
    }
}

pub fn list(conn: &Connection, user_id: i64) -> Result<Vec<Holding>> {
    let mut stmt = conn.prepare_cached(
        "SELECT symbol, quantity, price, cost_basis FROM holdings WHERE user_id = ?1 ORDER BY symbol",
    )?;
    let rows = stmt.query_map([user_id], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// A row of `symbol, quantity, price, cost_basis`.
fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Holding> {
    Ok(Holding {
        symbol: r.get(0)?,
        quantity: r.get(1)?,
        price: r.get(2)?,
        cost_basis: r.get(3)?,
    })
}

pub fn count(conn: &Connection, user_id: i64) -> Result<usize> {
    let n: i64 = conn
        .prepare_cached("SELECT count(*) FROM holdings WHERE user_id = ?1")?
        .query_row([user_id], |r| r.get(0))?;
    Ok(n as usize)
}

/// Adds the holding, or replaces the one with the same symbol.
pub fn upsert(conn: &Connection, user_id: i64, h: &Holding, now: Timestamp) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO holdings (user_id, symbol, quantity, price, cost_basis, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (user_id, symbol) DO UPDATE SET
             quantity = excluded.quantity, price = excluded.price,
             cost_basis = excluded.cost_basis, updated_at = excluded.updated_at",
    )?
    .execute(params![
        user_id,
        h.symbol,
        h.quantity,
        h.price,
        h.cost_basis,
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
        .prepare_cached(
            "DELETE FROM holdings WHERE user_id = ?1 AND symbol = ?2
             RETURNING symbol, quantity, price, cost_basis",
        )?
        .query_row(params![user_id, symbol], from_row)
        .optional()?)
}

pub fn delete_all(conn: &Connection, user_id: i64) -> Result<()> {
    conn.prepare_cached("DELETE FROM holdings WHERE user_id = ?1")?
        .execute([user_id])?;
    Ok(())
}
