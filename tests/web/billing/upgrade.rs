//! A database from before V11 (rewards without `waiting`/`failed`/
//! `revoked`, an audit without `reverse_referral`) upgrades in place: every
//! reward and audit row keeps its id and values, the audit stays
//! append-only, and the new states and columns work.

use super::*;
use crate::support::paddle::FakePaddle;

/// `(id, role, state, subscription_id, ends_at)`.
type RewardRow = (i64, String, String, Option<String>, Option<String>);

#[test]
fn a_v9_database_upgrades_in_place_keeping_every_reward_and_audit_row() {
    let paddle = FakePaddle::start();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v9.db");
    {
        let mut conn = app::db::open(&path).unwrap();
        app::db::migrate_to(&mut conn, 9).unwrap();
        conn.execute_batch(
            "INSERT INTO users (id, email, tier, created_at) VALUES
               (1, 'ref@example.com', 'paid', '2026-01-01T00:00:00Z'),
               (2, 'inv@example.com', 'paid', '2026-01-02T00:00:00Z');
             INSERT INTO referrals (id, referrer_user_id, referred_user_id, created_at, converted_at)
               VALUES (1, 1, 2, '2026-01-02T00:00:00Z', '2026-01-03T00:00:00Z');
             INSERT INTO subscriptions (id, user_id, customer_id, status, event_occurred_at, created_at, updated_at)
               VALUES ('sub_01inv', 2, 'ctm_01inv', 'active', '2026-01-03T00:00:00.000000Z',
                       '2026-01-03T00:00:00Z', '2026-01-03T00:00:00Z');
             INSERT INTO referral_rewards (id, referral_id, user_id, role, state, subscription_id, created_at, applied_at, ends_at)
               VALUES (7, 1, 1, 'referrer', 'banked', NULL, '2026-01-03T00:00:00Z', NULL, NULL),
                      (8, 1, 2, 'referred', 'running', 'sub_01inv', '2026-01-03T00:00:00Z',
                       '2026-01-03T00:00:00Z', '2099-04-03T00:00:00Z');
             INSERT INTO access_audit (id, at, user_id, action, old_value, new_value, actor, note)
               VALUES (5, '2026-01-03T00:00:00Z', 2, 'set_tier', 'free', 'paid', 'paddle', 'evt_old');",
        )
        .unwrap();
    }
    // A server's own file is swapped for the old one, and served again.
    let mut app = spawn(&paddle);
    app.kill();
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", app.db_path().display()));
    }
    std::fs::copy(&path, app.db_path()).unwrap();
    app.restart();
    assert_eq!(
        app.query_i64("SELECT count(*) FROM refinery_schema_history WHERE version = 11"),
        1,
        "V11 applied"
    );
    let rewards: Vec<RewardRow> = {
        let db = app.db();
        let mut stmt = db
            .prepare("SELECT id, role, state, subscription_id, ends_at FROM referral_rewards ORDER BY id")
            .unwrap();
        let rows = stmt
            .query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .unwrap();
        rows.map(Result::unwrap).collect()
    };
    assert_eq!(
        rewards,
        [
            (7, "referrer".into(), "banked".into(), None, None),
            (
                8,
                "referred".into(),
                "running".into(),
                Some("sub_01inv".into()),
                Some("2099-04-03T00:00:00Z".into())
            ),
        ]
    );
    assert_eq!(
        text(
            &app,
            "SELECT actor || ' ' || new_value || ' ' || note FROM access_audit WHERE id = 5"
        ),
        "paddle paid evt_old"
    );
    let db = app.db();
    assert!(
        db.execute("UPDATE access_audit SET note = 'x' WHERE id = 5", [])
            .is_err(),
        "the audit is still append-only"
    );
    assert!(db
        .execute("DELETE FROM access_audit WHERE id = 5", [])
        .is_err());
    for state in ["waiting", "failed", "revoked"] {
        db.execute(
            "UPDATE referral_rewards SET state = ?1 WHERE id = 7",
            [state],
        )
        .unwrap_or_else(|e| panic!("{state}: {e}"));
    }
    assert!(db
        .execute(
            "UPDATE referral_rewards SET state = 'lost' WHERE id = 7",
            []
        )
        .is_err());
    db.execute(
        "INSERT INTO access_audit (at, user_id, action, actor, note)
         VALUES ('2026-02-01T00:00:00Z', 1, 'reverse_referral', 'paddle', 'evt_new')",
        [],
    )
    .unwrap();
    assert!(text(&app, "SELECT reversed_at FROM referrals WHERE id = 1").is_empty());
    // Served as before: the referrer's count and the invitee's reward.
    let (client, _) = user(&app, "inv@example.com");
    let me = api_me(&client);
    assert_eq!(me["referral"]["rewards"][0]["state"], "running", "{me}");
    let (referrer, _) = user(&app, "ref@example.com");
    assert_eq!(api_me(&referrer)["referral"]["converted"], 1);
}
