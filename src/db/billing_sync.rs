//! What `app billing-sync` reads to know whose subscriptions to ask Paddle
//! for: the Paddle customers the database knows.

use crate::error::Result;
use rusqlite::Connection;

/// Every Paddle customer a stored subscription names, linked to an account
/// or not yet.
pub fn all_customers(conn: &Connection) -> Result<Vec<String>> {
    let mut stmt =
        conn.prepare_cached("SELECT DISTINCT customer_id FROM subscriptions ORDER BY customer_id")?;
    let rows = stmt.query_map([], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The Paddle customers an account's subscriptions name.
pub fn customers_of(conn: &Connection, user_id: i64) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT DISTINCT customer_id FROM subscriptions WHERE user_id = ?1 ORDER BY customer_id",
    )?;
    let rows = stmt.query_map([user_id], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
