//! Whole-database totals for `/metrics`.

use rusqlite::Connection;

use crate::clock::Timestamp;
use crate::error::Result;

/// `(users, paid users, referrals, credit grants)`; users are accounts
/// now, without the tombstones deleted accounts leave.
pub fn totals(conn: &Connection) -> Result<(i64, i64, i64, i64)> {
    let users = super::users::live_count(conn)?;
    let (paid, referrals, grants) = conn
        .prepare_cached(
            "SELECT (SELECT count(*) FROM users WHERE tier = 'paid'),
                    (SELECT count(*) FROM referrals),
                    (SELECT count(*) FROM access_audit WHERE action = 'grant_credit')",
        )?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    Ok((users, paid, referrals, grants))
}

/// Free accounts whose complimentary credit still runs at `now` (paid access
/// that the `tier` count does not show).
pub fn credited_users(conn: &Connection, now: Timestamp) -> Result<i64> {
    Ok(conn
        .prepare_cached("SELECT count(*) FROM users WHERE tier <> 'paid' AND credit_until > ?1")?
        .query_row([now], |r| r.get(0))?)
}
