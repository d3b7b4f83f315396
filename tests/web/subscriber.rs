//! A subscriber's side of billing (SPEC §7): the plan state on /settings,
//! the rewards list, and the `billing`/`rewards` read side of `/api/me` and
//! `show-status --json`. Subscription and reward rows are written straight
//! into the database, as the webhook would write them.

use rusqlite::params;
use serde_json::{json, Value};

use super::checkout::{
    assert_strict_csp, checkout_json, get_ok, has_upgrade_button, signed_in, spawn_with_paddle,
};
use crate::support::{api_me, text_of, Client, TestServer};

/// A subscription row as the webhook leaves it; times relative to now.
pub fn subscribe(app: &TestServer, user_id: i64, id: &str, status: &str, cancel_in: Option<&str>) {
    app.db()
        .execute(
            "INSERT INTO subscriptions (id, user_id, customer_id, status, price_id,
                 current_period_ends_at, cancel_at, event_occurred_at, created_at, updated_at)
             VALUES (?1, ?2, 'ctm_01ann', ?3, 'pri_01monthly',
                 strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '+20 days'),
                 CASE WHEN ?4 IS NULL THEN NULL ELSE strftime('%Y-%m-%dT%H:%M:%SZ', 'now', ?4) END,
                 strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), strftime('%Y-%m-%dT%H:%M:%SZ', 'now'),
                 strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
             ON CONFLICT (id) DO UPDATE SET status = excluded.status, cancel_at = excluded.cancel_at,
                 current_period_ends_at = excluded.current_period_ends_at, updated_at = excluded.updated_at",
            params![id, user_id, status, cancel_in],
        )
        .unwrap();
    let tier = if matches!(status, "active" | "trialing" | "past_due") {
        "paid"
    } else {
        "free"
    };
    app.db()
        .execute(
            "UPDATE users SET tier = ?1 WHERE id = ?2",
            params![tier, user_id],
        )
        .unwrap();
}

fn date_in(app: &TestServer, modifier: &str) -> String {
    app.db()
        .query_row("SELECT strftime('%Y-%m-%d', 'now', ?1)", [modifier], |r| {
            r.get(0)
        })
        .unwrap()
}

#[test]
fn a_subscribers_settings_show_the_plan_state_and_manage_billing() {
    let app = spawn_with_paddle(&[]);
    let (ann, ann_id) = signed_in(&app, "ann@example.com");
    let state = |client: &Client| {
        let page = get_ok(client, "/settings");
        (text_of(&page.body, r#"data-testid="billing-status""#), page)
    };

    subscribe(&app, ann_id, "sub_01a", "active", None);
    let (status, page) = state(&ann);
    assert_eq!(status, "active");
    assert!(page
        .body
        .contains(&format!("renews on {}", date_in(&app, "+20 days"))));
    assert!(
        page.body.contains(r#"action="/billing/portal""#) && page.body.contains("Manage billing")
    );
    assert!(
        !has_upgrade_button(&page.body),
        "a subscriber is offered a second subscription"
    );
    assert!(checkout_json(&page.body).is_none());
    assert_strict_csp(&page, "a subscriber's settings");

    subscribe(&app, ann_id, "sub_01a", "active", Some("+12 days"));
    let (status, page) = state(&ann);
    assert_eq!(status, "canceling");
    assert_eq!(
        text_of(&page.body, r#"data-testid="cancel-date""#),
        date_in(&app, "+12 days")
    );

    subscribe(&app, ann_id, "sub_01a", "trialing", None);
    assert_eq!(state(&ann).0, "trialing");

    subscribe(&app, ann_id, "sub_01a", "past_due", None);
    let (status, page) = state(&ann);
    assert_eq!(status, "past due");
    assert!(
        page.body.contains("Update your card in Manage billing"),
        "{}",
        page.body
    );

    subscribe(&app, ann_id, "sub_01a", "paused", None);
    let (status, page) = state(&ann);
    assert_eq!(status, "paused");
    assert!(page.body.contains("Resume it in Manage billing"));
    assert!(
        !has_upgrade_button(&page.body),
        "paused resumes, it is not bought again"
    );

    subscribe(&app, ann_id, "sub_01a", "canceled", None);
    let (status, page) = state(&ann);
    assert_eq!(status, "canceled");
    assert!(
        has_upgrade_button(&page.body),
        "after a cancel, a new subscription is on offer"
    );
}

#[test]
fn the_most_relevant_subscription_is_the_live_one_then_the_newest() {
    let app = spawn_with_paddle(&[]);
    let (ann, ann_id) = signed_in(&app, "ann@example.com");
    subscribe(&app, ann_id, "sub_01old", "active", None);
    app.db()
        .execute(
            "UPDATE subscriptions SET created_at = '2025-01-01T00:00:00Z'",
            [],
        )
        .unwrap();
    subscribe(&app, ann_id, "sub_02new", "canceled", None);
    assert_eq!(
        api_me(&ann)["billing"]["subscription_id"],
        "sub_01old",
        "live beats newer"
    );
    subscribe(&app, ann_id, "sub_01old", "paused", None);
    assert_eq!(
        api_me(&ann)["billing"]["subscription_id"],
        "sub_01old",
        "paused beats canceled"
    );
    subscribe(&app, ann_id, "sub_03newest", "canceled", None);
    app.db()
        .execute(
            "UPDATE subscriptions SET created_at = '2025-06-01T00:00:00Z' WHERE id = 'sub_02new'",
            [],
        )
        .unwrap();
    subscribe(&app, ann_id, "sub_01old", "canceled", None);
    assert_eq!(
        api_me(&ann)["billing"]["subscription_id"],
        "sub_03newest",
        "then the newest"
    );
}

#[test]
fn api_me_and_show_status_carry_billing_and_rewards() {
    let app = spawn_with_paddle(&[]);
    let (alice, alice_id) = signed_in(&app, "alice@example.com");
    let (bob, bob_id) = signed_in(&app, "bob@example.com");
    let me = api_me(&alice);
    assert!(me["billing"].is_null(), "{me}");
    assert_eq!(me["referral"]["rewards"], json!([]));

    // Bob, invited by Alice, subscribed and converted: a reward each.
    let db = app.db();
    db.execute(
        "INSERT INTO referrals (referrer_user_id, referred_user_id, created_at, converted_at)
         VALUES (?1, ?2, '2026-01-01T00:00:00Z', '2026-01-02T00:00:00Z')",
        [alice_id, bob_id],
    )
    .unwrap();
    subscribe(&app, bob_id, "sub_01bob", "active", Some("+20 days"));
    db.execute(
        "UPDATE subscriptions SET discount_ends_at = '2099-04-02T00:00:00.000000Z', cancel_at = '2099-01-01T00:00:00Z',
             current_period_ends_at = '2099-01-01T00:00:00.123456Z'",
        [],
    )
    .unwrap();
    let reward = "INSERT INTO referral_rewards (referral_id, user_id, role, state, subscription_id, created_at, applied_at, ends_at)
                  VALUES (1, ?1, ?2, ?3, ?4, '2026-01-02T00:00:00Z', ?5, ?6)";
    db.execute(
        reward,
        params![
            alice_id,
            "referrer",
            "banked",
            None::<String>,
            None::<String>,
            None::<String>
        ],
    )
    .unwrap();
    db.execute(
        reward,
        params![
            bob_id,
            "referred",
            "running",
            "sub_01bob",
            "2026-01-02T00:00:00Z",
            "2099-04-02T00:00:00Z"
        ],
    )
    .unwrap();

    let me = api_me(&bob);
    assert_eq!(
        me["billing"],
        json!({
            "status": "active", "subscription_id": "sub_01bob", "customer_id": "ctm_01ann",
            "current_period_ends_at": "2099-01-01T00:00:00Z", "cancel_at": "2099-01-01T00:00:00Z",
            "pause_at": null, "discount_ends_at": "2099-04-02T00:00:00Z",
        })
    );
    assert_eq!(
        me["referral"]["rewards"],
        json!([{"role": "referred", "state": "running", "ends_at": "2099-04-02T00:00:00Z"}])
    );
    assert_eq!(me["referral"]["active_credits"], 1);
    let alice_me = api_me(&alice);
    assert_eq!(
        alice_me["referral"]["rewards"],
        json!([{"role": "referrer", "state": "banked", "ends_at": null}])
    );
    assert_eq!(
        (
            alice_me["referral"]["converted"].clone(),
            alice_me["referral"]["active_credits"].clone()
        ),
        (json!(1), json!(1))
    );

    for (client, email) in [(&alice, "alice@example.com"), (&bob, "bob@example.com")] {
        let base = |cmd: &mut std::process::Command| {
            cmd.env("APP_BASE_URL", app.base_url());
        };
        let out = app.cli_with(&["show-status", "--email", email, "--json"], base);
        assert!(out.status.success(), "{out:?}");
        let cli: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(cli, api_me(client), "show-status --json is /api/me");
        let human = app.cli(&["show-status", "--email", email]);
        let human = String::from_utf8_lossy(&human.stdout).into_owned();
        assert!(
            human.contains("billing:") && human.contains("reward:"),
            "{human}"
        );
    }
}

#[test]
fn the_rewards_list_says_who_each_came_from_and_where_it_stands() {
    let app = spawn_with_paddle(&[]);
    let (alice, alice_id) = signed_in(&app, "alice@example.com");
    let (bob, bob_id) = signed_in(&app, "bob@example.com");
    let (_carol, carol_id) = signed_in(&app, "carol@example.com");
    let db = app.db();
    for referred in [bob_id, carol_id] {
        db.execute(
            "INSERT INTO referrals (referrer_user_id, referred_user_id, created_at, converted_at)
             VALUES (?1, ?2, '2026-01-01T00:00:00Z', '2026-01-02T00:00:00Z')",
            [alice_id, referred],
        )
        .unwrap();
    }
    let reward =
        "INSERT INTO referral_rewards (referral_id, user_id, role, state, created_at, ends_at)
                  VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
    for args in [
        params![
            1,
            alice_id,
            "referrer",
            "ended",
            "2026-01-02T00:00:00Z",
            "2026-04-02T00:00:00Z"
        ],
        params![
            2,
            alice_id,
            "referrer",
            "banked",
            "2026-01-03T00:00:00Z",
            None::<String>
        ],
        params![
            1,
            bob_id,
            "referred",
            "running",
            "2026-01-02T00:00:00Z",
            "2099-04-02T00:00:00Z"
        ],
    ] {
        db.execute(reward, args).unwrap();
    }

    let page = get_ok(&alice, "/settings").body;
    let list = &page[page
        .find(r#"data-testid="rewards""#)
        .expect("no rewards list")..];
    let (carol_at, bob_at) = (
        list.find("c•••@example.com").unwrap(),
        list.find("b•••@example.com").unwrap(),
    );
    assert!(carol_at < bob_at, "newest first:\n{list}");
    assert!(list[carol_at..bob_at].contains("banked"), "{list}");
    assert!(list[bob_at..].contains("ended"), "{list}");
    assert!(
        !page.contains("bob@example.com"),
        "an invitee's address in full"
    );
    assert_eq!(text_of(&page, r#"data-stat="Active credits""#), "1");

    let page = get_ok(&bob, "/settings").body;
    let list = &page[page
        .find(r#"data-testid="rewards""#)
        .expect("no rewards list")..];
    assert!(
        list.contains("a•••@example.com"),
        "the referrer, masked:\n{list}"
    );
    assert!(list.contains("running until 2099-04-02"), "{list}");
    assert!(!page.contains("alice@example.com"));
}
