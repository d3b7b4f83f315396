//! Whole-database totals for `/metrics`: accounts and referrals kept by
//! triggers (V10), so a scrape reads three rows however many accounts
//! there are; credit grants counted in the operator's audit.

use rusqlite::Connection;

use crate::clock::Timestamp;
use crate::error::Result;

/// `(users, paid users, referrals, credit grants)`; users are accounts,
/// without the tombstones deleted accounts leave (V10's triggers use the
/// shape of `users::TOMBSTONE`). The audit is the operator's actions, a
/// small table whatever the number of accounts, so its grants are counted.
pub fn totals(conn: &Connection) -> Result<(i64, i64, i64, i64)> {
    Ok(conn
        .prepare_cached(
            "SELECT (SELECT value FROM kept_counts WHERE name = 'users'),
                    (SELECT value FROM kept_counts WHERE name = 'paid_users'),
                    (SELECT value FROM kept_counts WHERE name = 'referrals'),
                    (SELECT count(*) FROM access_audit WHERE action = 'grant_credit')",
        )?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?)
}

/// Free accounts whose complimentary credit still runs at `now` (paid access
/// that the `tier` count does not show).
pub fn credited_users(conn: &Connection, now: Timestamp) -> Result<i64> {
    Ok(conn
        // `tier = 'free'`, not `<> 'paid'`: one range of the (tier,
        // credit_until) index, the running credits only.
        .prepare_cached("SELECT count(*) FROM users WHERE tier = 'free' AND credit_until > ?1")?
        .query_row([now], |r| r.get(0))?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{test_db, users};

    /// What the triggers keep is what a full count would say.
    fn counted(conn: &Connection) -> (i64, i64, i64, i64) {
        let (paid, referrals, grants) = conn
            .query_row(
                "SELECT (SELECT count(*) FROM users WHERE tier = 'paid'),
                        (SELECT count(*) FROM referrals),
                        (SELECT count(*) FROM access_audit WHERE action = 'grant_credit')",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        (users::live_count(conn).unwrap(), paid, referrals, grants)
    }

    #[test]
    fn kept_counts_follow_every_change_and_leave_tombstones_out() {
        let conn = test_db();
        let now = Timestamp(1_800_000_000);
        let a = users::create(&conn, "a@example.com", now).unwrap();
        let b = users::create(&conn, "b@example.com", now).unwrap();
        users::create(&conn, "c@example.com", now).unwrap();
        conn.execute("UPDATE users SET tier = 'paid' WHERE id = ?1", [a.id])
            .unwrap();
        conn.execute(
            "INSERT INTO referrals (referrer_user_id, referred_user_id, created_at)
             VALUES (?1, ?2, '2027-01-15T08:00:00Z')",
            [a.id, b.id],
        )
        .unwrap();
        for action in ["grant_credit", "grant_credit", "revoke_credit"] {
            conn.execute(
                "INSERT INTO access_audit (at, user_id, action, actor)
                 VALUES ('2027-01-15T08:00:00Z', ?1, ?2, 'test')",
                rusqlite::params![b.id, action],
            )
            .unwrap();
        }
        assert_eq!(totals(&conn).unwrap(), (3, 1, 1, 2));
        // Deleting an account leaves a tombstone on the free tier.
        conn.execute(
            "UPDATE users SET email = ?1, tier = 'free' WHERE id = ?2",
            rusqlite::params![users::tombstone_email(a.id), a.id],
        )
        .unwrap();
        assert_eq!(totals(&conn).unwrap(), (2, 0, 1, 2));
        conn.execute("DELETE FROM referrals", []).unwrap();
        assert_eq!(totals(&conn).unwrap(), counted(&conn));
        assert_eq!(totals(&conn).unwrap(), (2, 0, 0, 2));
    }
}
