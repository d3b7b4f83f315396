//! What the operator's probes read: is the database answering, and the
//! whole-database totals `/metrics` exports.

use rusqlite::Connection;

use crate::clock::Timestamp;
use crate::db;
use crate::error::Result;

/// `Ok` when the database answers a query.
pub fn database_answers(conn: &Connection) -> Result<()> {
    db::ping(conn)
}

/// `(users, paid users, referrals, credit grants)`.
pub fn totals(conn: &Connection) -> Result<(i64, i64, i64, i64)> {
    db::stats::totals(conn)
}

/// Free accounts with a complimentary credit running at `now`.
pub fn credited_users(conn: &Connection, now: Timestamp) -> Result<i64> {
    db::stats::credited_users(conn, now)
}
