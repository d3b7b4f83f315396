//! Referral stats (SPEC §6): conversions and running credits counted, and
//! cheap at 100,000 referrals.

use std::time::Instant;

use rusqlite::params;

use super::*;

#[test]
fn stats_count_conversions_and_running_credits() {
    let app = TestServer::new().spawn();
    let (alice, code) = signed_in_with_code(&app, "alice@example.com");
    let bob = app.client();
    sign_in_from(&app, &bob, &format!("/login?ref={code}"), "bob@example.com");
    let carol = app.client();
    sign_in_from(
        &app,
        &carol,
        &format!("/login?ref={code}"),
        "carol@example.com",
    );
    let bob_id = user_id(&app, "bob@example.com");

    let counts = |client: &Client| {
        let page = settings(client).body;
        let me = api_me(client);
        let on_page = (
            stat(&page, "Pending"),
            stat(&page, "Converted"),
            stat(&page, "Active credits"),
        );
        let in_api = (
            me["referral"]["pending"].as_i64().unwrap(),
            me["referral"]["converted"].as_i64().unwrap(),
            me["referral"]["active_credits"].as_i64().unwrap(),
        );
        assert_eq!(on_page, in_api, "/settings and /api/me disagree");
        on_page
    };
    assert_eq!(counts(&alice), (2, 0, 0));

    // What billing does when Bob first pays: converted, and a reward each,
    // Alice's banked (she has no subscription) and Bob's running.
    let yesterday = sqlite_time(&app, "-1 day");
    let set = "UPDATE referrals SET converted_at = ?1 WHERE referred_user_id = ?2";
    assert_eq!(
        app.db().execute(set, params![yesterday, bob_id]).unwrap(),
        1
    );
    let alice_id = user_id(&app, "alice@example.com");
    let in_3_months = sqlite_time(&app, "+3 months");
    let reward =
        "INSERT INTO referral_rewards (referral_id, user_id, role, state, created_at, ends_at)
                  SELECT id, ?2, ?3, ?4, ?5, ?6 FROM referrals WHERE referred_user_id = ?1";
    for (user, role, state, ends) in [
        (alice_id, "referrer", "banked", None),
        (bob_id, "referred", "running", Some(&in_3_months)),
    ] {
        let args = params![bob_id, user, role, state, yesterday, ends];
        assert_eq!(app.db().execute(reward, args).unwrap(), 1);
    }
    assert_eq!(
        counts(&alice),
        (1, 1, 1),
        "Alice: pending, converted, active credits"
    );
    assert_eq!(counts(&bob), (0, 0, 1), "Bob's own reward counts for him");
    assert_eq!(counts(&carol), (0, 0, 0));

    // A reward whose three months have run, or that ended, counts no more.
    let long_ago = sqlite_time(&app, "-1 day");
    let set = "UPDATE referral_rewards SET ends_at = ?1 WHERE user_id = ?2";
    assert_eq!(app.db().execute(set, params![long_ago, bob_id]).unwrap(), 1);
    let set = "UPDATE referral_rewards SET state = 'ended' WHERE user_id = ?1";
    assert_eq!(app.db().execute(set, params![alice_id]).unwrap(), 1);
    assert_eq!(counts(&alice), (1, 1, 0));
    assert_eq!(counts(&bob), (0, 0, 0));

    // Billing undoing a conversion keeps the counters right too.
    let unset = "UPDATE referrals SET converted_at = NULL WHERE referred_user_id = ?1";
    app.db().execute(unset, [bob_id]).unwrap();
    assert_eq!(counts(&alice), (2, 0, 0));
}

/// 100,000 referrals for one user: the stats cost what they cost for a user
/// with none, because every statement is an index search, never a scan.
#[test]
fn stats_stay_cheap_with_100k_referrals() {
    const SEEDED: i64 = 100_000;
    let app = TestServer::new().spawn();
    let big = app.client();
    sign_in(&app, &big, "big@example.com");
    let small = app.client();
    sign_in(&app, &small, "small@example.com");
    let (big_id, small_id) = (
        user_id(&app, "big@example.com"),
        user_id(&app, "small@example.com"),
    );

    let started = Instant::now();
    let mut db = app.db();
    let tx = db
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .unwrap();
    tx.execute(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
         INSERT INTO users (email, tier, created_at, referred_by_user_id)
         SELECT 'seed' || i || '@example.com', 'free', '2025-01-01T00:00:00Z', ?2 FROM n",
        params![SEEDED, big_id],
    )
    .unwrap();
    let inserted = tx
        .execute(
            "INSERT INTO referrals (referrer_user_id, referred_user_id, created_at)
             SELECT ?1, id, created_at FROM users WHERE referred_by_user_id = ?1",
            [big_id],
        )
        .unwrap();
    tx.commit().unwrap();
    assert_eq!(inserted as i64, SEEDED);
    eprintln!("seeded {SEEDED} referrals in {:?}", started.elapsed());

    // The statements of src/db/referrals.rs, as the app runs them.
    let since = sqlite_time(&app, "+0 seconds"); // now, for `ends_at > ?2`
    let statements = [
        "SELECT pending, converted FROM referral_counts WHERE user_id = ?1",
        "SELECT count(*) FROM referral_rewards WHERE user_id = ?1
           AND (state = 'banked'
                OR (state IN ('applying', 'running') AND (ends_at IS NULL OR ends_at > ?2)))",
    ];
    let db = app.db();
    for sql in statements {
        let takes_since = sql.contains("?2");
        let plan: Vec<String> = {
            let mut stmt = db.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            let rows = if takes_since {
                stmt.query_map(params![big_id, since], |r| r.get::<_, String>(3))
                    .unwrap()
                    .map(Result::unwrap)
                    .collect()
            } else {
                stmt.query_map(params![big_id], |r| r.get::<_, String>(3))
                    .unwrap()
                    .map(Result::unwrap)
                    .collect()
            };
            rows
        };
        assert!(!plan.is_empty(), "{sql}: no query plan");
        for step in &plan {
            assert!(!step.starts_with("SCAN"), "{sql}: a table scan: {plan:?}");
        }
        assert!(
            plan.iter().any(|s| s.starts_with("SEARCH")
                && (s.contains("USING INDEX")
                    || s.contains("USING COVERING INDEX")
                    || s.contains("USING INTEGER PRIMARY KEY"))),
            "{sql}: not an index search: {plan:?}"
        );

        // Runs the statement to the end (the counters may have no row for a
        // user) and counts the virtual machine's steps.
        let steps = |user: i64| {
            let mut stmt = db.prepare(sql).unwrap();
            {
                let mut rows = if takes_since {
                    stmt.query(params![user, since])
                } else {
                    stmt.query(params![user])
                }
                .unwrap();
                while rows.next().unwrap().is_some() {}
            }
            stmt.get_status(rusqlite::StatementStatus::VmStep)
        };
        let (for_big, for_small) = (steps(big_id), steps(small_id));
        assert!(
            for_big <= 2 * for_small + 20,
            "{sql}: {for_big} VM steps for 100k referrals vs {for_small} for none: {plan:?}"
        );
    }

    let page = settings(&big);
    assert_eq!(stat(&page.body, "Pending"), SEEDED);
    assert_eq!(stat(&page.body, "Converted"), 0);
    assert_eq!(stat(&page.body, "Active credits"), 0);
    assert_eq!(api_me(&big)["referral"]["pending"], SEEDED);
    assert_eq!(stat(&settings(&small).body, "Pending"), 0);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
}
