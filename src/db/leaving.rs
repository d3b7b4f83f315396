//! What leaving needs (SPEC §9): the account's own rows for the export, and
//! the deletes and the tombstone for deleting it.

use rusqlite::{Connection, OptionalExtension};

use super::billing::{self, SubscriptionRow};
use super::users;
use crate::clock::Timestamp;
use crate::error::Result;

/// Subscriptions that still bill: active, trialing or past due, with no
/// cancel scheduled.
pub fn billing_subscriptions(conn: &Connection, user_id: i64) -> Result<Vec<SubscriptionRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {} FROM subscriptions WHERE user_id = ?1
         AND status IN {} AND cancel_at IS NULL ORDER BY id",
        billing::COLUMNS,
        billing::GRANTING_STATUSES
    ))?;
    let rows = stmt.query_map([user_id], billing::from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// `(created_at, converted_at)` of the people this user invited: dates only.
pub fn invited(conn: &Connection, user_id: i64) -> Result<Vec<(Timestamp, Option<Timestamp>)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT created_at, converted_at FROM referrals WHERE referrer_user_id = ?1 ORDER BY id",
    )?;
    let rows = stmt.query_map([user_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The code of whoever invited this user (their current code; null once
/// that account is deleted).
pub fn referred_by_code(conn: &Connection, user_id: i64) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached(
            "SELECT r.referral_code FROM users u JOIN users r ON r.id = u.referred_by_user_id
             WHERE u.id = ?1",
        )?
        .query_row([user_id], |r| r.get(0))
        .optional()?
        .flatten())
}

/// Removes what the account owns and turns its row into a tombstone
/// ([`users::tombstone_email`]), no referral code, free, no credit. Referrals,
/// rewards, subscriptions and the audit keep pointing at the row.
pub fn erase(conn: &Connection, user_id: i64, email: &str) -> Result<()> {
    conn.prepare_cached("DELETE FROM login_codes WHERE email = ?1")?
        .execute([email])?;
    conn.prepare_cached("DELETE FROM sessions WHERE user_id = ?1")?
        .execute([user_id])?;
    conn.prepare_cached("DELETE FROM portfolio_history WHERE user_id = ?1")?
        .execute([user_id])?;
    conn.prepare_cached("DELETE FROM holdings WHERE user_id = ?1")?
        .execute([user_id])?;
    conn.prepare_cached(
        "UPDATE users SET email = ?2, referral_code = NULL, tier = 'free', credit_until = NULL
         WHERE id = ?1",
    )?
    .execute(rusqlite::params![user_id, users::tombstone_email(user_id)])?;
    Ok(())
}

/// The Paddle ids that are this account's: its subscriptions' ids and
/// their customers' ids.
pub fn paddle_ids(conn: &Connection, user_id: i64) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id FROM subscriptions WHERE user_id = ?1
         UNION SELECT customer_id FROM subscriptions WHERE user_id = ?1",
    )?;
    let rows = stmt.query_map([user_id], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Stored Paddle events whose raw body names `email` (in any ASCII case)
/// or any of `ids`: `(row id, body)`. One pass over `billing_events`.
pub fn billing_events_naming(
    conn: &Connection,
    email: &str,
    ids: &[String],
) -> Result<Vec<(i64, String)>> {
    let mut sql =
        String::from("SELECT id, body FROM billing_events WHERE instr(lower(body), ?1) > 0");
    for n in 0..ids.len() {
        sql += &format!(" OR instr(body, ?{}) > 0", n + 2);
    }
    sql += " ORDER BY id";
    let mut params: Vec<&dyn rusqlite::ToSql> = vec![&email];
    params.extend(ids.iter().map(|id| id as &dyn rusqlite::ToSql));
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(params.as_slice(), |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Replaces a stored event's raw body (its id, type and times stay).
pub fn set_billing_event_body(conn: &Connection, id: i64, body: &str) -> Result<()> {
    conn.prepare_cached("UPDATE billing_events SET body = ?2 WHERE id = ?1")?
        .execute(rusqlite::params![id, body])?;
    Ok(())
}

/// Queues the Paddle call that cancels a subscription, once (the outbox's
/// dedupe key); billing's worker makes it.
pub fn queue_cancel(conn: &Connection, subscription_id: &str, now: Timestamp) -> Result<()> {
    let payload = serde_json::json!({ "subscription_id": subscription_id }).to_string();
    let dedupe_key = format!("cancel:{subscription_id}");
    super::outbox::enqueue(
        conn,
        "cancel_subscription",
        &payload,
        &dedupe_key,
        false,
        now,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{embedded, open, open_and_migrate};

    #[test]
    fn the_audit_rebuild_keeps_every_row_and_both_guards() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v6.db");
        {
            let mut conn = open(&path).unwrap();
            embedded::migrations::runner()
                .set_target(refinery::Target::Version(6))
                .run(&mut conn)
                .unwrap();
            conn.execute_batch(
                "INSERT INTO users (id, email, tier, created_at) VALUES (7, 'a@b.co', 'free', '2026-01-01T00:00:00Z');
                 INSERT INTO access_audit (id, at, user_id, action, old_value, new_value, actor, client, note)
                 VALUES (41, '2026-01-02T00:00:00Z', 7, 'grant_credit', NULL, '2026-02-01T00:00:00Z', 'ops', '198.51.100.7', 'beta'),
                        (42, '2026-01-03T00:00:00Z', 7, 'set_tier', 'free', 'paid', 'ops', NULL, NULL);",
            )
            .unwrap();
            assert!(
                conn.execute(
                    "INSERT INTO access_audit (at, user_id, action, actor) VALUES ('x', 7, 'delete_user', 'ops')",
                    []
                )
                .is_err(),
                "V6 does not know delete_user"
            );
        }
        let conn = open_and_migrate(&path).unwrap();
        let rows: Vec<(i64, String, Option<String>, Option<String>)> = conn
            .prepare("SELECT id, action, client, note FROM access_audit ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(
            rows,
            [
                (
                    41,
                    "grant_credit".into(),
                    Some("198.51.100.7".into()),
                    Some("beta".into())
                ),
                (42, "set_tier".into(), None, None)
            ]
        );
        conn.execute(
            "INSERT INTO access_audit (at, user_id, action, actor) VALUES ('2026-01-04T00:00:00Z', 7, 'delete_user', 'ops')",
            [],
        )
        .unwrap();
        assert!(conn
            .execute("UPDATE access_audit SET note = 'x' WHERE id = 41", [])
            .unwrap_err()
            .to_string()
            .contains("append-only"));
        assert!(conn
            .execute("DELETE FROM access_audit WHERE id = 42", [])
            .unwrap_err()
            .to_string()
            .contains("append-only"));
        let index: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'access_audit_user' AND tbl_name = 'access_audit'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(index, 1);
        assert_eq!(
            conn.query_row("PRAGMA foreign_key_check", [], |_| Ok(()))
                .ok(),
            None,
            "no dangling references"
        );
    }
}
