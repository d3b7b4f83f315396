//! `stats` and `delete-user` (SPEC §9), run as processes beside `serve`,
//! on a database seeded the way sign-ups, billing and the operator leave it.

use std::process::{Command, Output};

use serde_json::{json, Value};

use super::{assert_one_line_error, succeeded};
use crate::support::{sign_in, TestServer};

fn run(app: &TestServer, args: &[&str]) -> Output {
    app.cli_with(args, |cmd: &mut Command| {
        cmd.env_remove("SUDO_USER")
            .env_remove("SSH_CONNECTION")
            .env("USER", "opsperson");
    })
}

fn json_of(out: &Output, what: &str) -> Value {
    let text = succeeded(out, what);
    assert_eq!(
        text.trim_end().lines().count(),
        1,
        "one JSON object: {text}"
    );
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{what}: {e}: {text}"))
}

/// The funnel's raw material, written straight into the file as sign-ups,
/// billing and the operator would: users 30+ days old, 20 days old and 2
/// days old, invited and organic, converting or not, paying in every way.
fn seed(app: &TestServer) {
    let at = |days: i64| format!("strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-{days} days')");
    let (old, mid, recent) = (at(100), at(20), at(2));
    let sql = format!(
        "INSERT INTO users (id, email, tier, created_at, referred_by_user_id, credit_until) VALUES
           (1, 'one@example.com',   'paid', {old}, NULL, NULL),
           (2, 'two@example.com',   'free', {old}, NULL, strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '+5 days')),
           (3, 'three@example.com', 'paid', {mid}, 2, NULL),
           (4, 'four@example.com',  'free', {mid}, 2, '2020-01-01T00:00:00Z'),
           (5, 'five@example.com',  'paid', {recent}, 1, NULL),
           (6, 'six@example.com',   'paid', {recent}, NULL, NULL),
           (7, 'seven@example.com', 'paid', {recent}, NULL, NULL),
           (8, 'eight@example.com', 'free', {mid}, NULL, NULL),
           (9, 'deleted-9@invalid', 'free', {recent}, NULL, NULL);
         INSERT INTO referrals (id, referrer_user_id, referred_user_id, created_at, converted_at) VALUES
           (1, 2, 3, {mid}, {recent}), (2, 2, 4, {mid}, NULL), (3, 1, 5, {recent}, {recent});
         INSERT INTO subscriptions (id, user_id, customer_id, status, event_occurred_at, created_at, updated_at) VALUES
           ('sub_3', 3, 'ctm_3', 'active',   {recent}, {recent}, {recent}),
           ('sub_5', 5, 'ctm_5', 'active',   {recent}, {recent}, {recent}),
           ('sub_6', 6, 'ctm_6', 'active',   {recent}, {recent}, {recent}),
           ('sub_7', 7, 'ctm_7', 'trialing', {recent}, {recent}, {recent}),
           ('sub_8', 8, 'ctm_8', 'canceled', {recent}, {recent}, {recent});
         UPDATE subscriptions SET status = 'past_due' WHERE id = 'sub_5';
         INSERT INTO referral_rewards (referral_id, user_id, role, state, subscription_id, created_at) VALUES
           (1, 2, 'referrer', 'running', NULL, {recent}), (1, 3, 'referred', 'running', 'sub_3', {recent}),
           (3, 1, 'referrer', 'banked', NULL, {recent}), (3, 5, 'referred', 'ended', 'sub_5', {recent});
         INSERT INTO analysis_counts (day, provider, count) VALUES
           (date('now'), 'llm', 2), (date('now'), 'builtin', 3), (date('now', '-40 days'), 'builtin', 5);"
    );
    app.db().execute_batch(&sql).unwrap();
}

#[test]
fn stats_reports_the_funnel_of_the_last_thirty_days() {
    let app = TestServer::new().spawn();
    seed(&app);
    let stats = json_of(&run(&app, &["stats", "--json"]), "stats --json");
    let mut shape = stats.clone();
    shape["since"] = json!(null);
    shape["until"] = json!(null);
    assert_eq!(
        shape,
        json!({
            "since": null, "until": null,
            "users": {"total": 8, "new": 7},
            "invites": {"signups": 3, "converted": 2, "conversion_rate": 0.6667},
            "organic": {"signups": 4, "converted": 1, "conversion_rate": 0.25},
            "paid": {"subscribed": 4, "by_tier": 1, "credited": 1},
            "rewards": {"banked": 1, "running": 2, "ended": 1, "failed": 0, "revoked": 0},
            "top_referrers": [
                {"email": "two@example.com", "signups": 2, "converted": 1},
                {"email": "one@example.com", "signups": 1, "converted": 1}
            ],
            "analyses": {"count": 5, "llm": 2, "builtin": 3}
        })
    );
    let since = stats["since"].as_str().unwrap();
    let until = stats["until"].as_str().unwrap();
    assert!(
        since.ends_with("T00:00:00Z") && until.ends_with('Z'),
        "{since} {until}"
    );
    assert!(since < until);

    let table = succeeded(&run(&app, &["stats"]), "stats");
    for line in [
        "invited",
        "organic",
        "two@example.com",
        "subscribed",
        "banked",
    ] {
        assert!(table.contains(line), "{line} in:\n{table}");
    }
    let invited = table
        .lines()
        .find(|l| l.trim_start().starts_with("invited"))
        .unwrap();
    let numbers: Vec<&str> = invited.split_whitespace().skip(1).collect();
    assert_eq!(numbers, ["3", "2", "66.7%"], "{table}");
    assert!(table.lines().count() < 25, "one screen:\n{table}");
}

#[test]
fn stats_since_narrows_the_window_and_a_bad_date_is_a_clear_error() {
    let app = TestServer::new().spawn();
    seed(&app);
    let day: String = app
        .db()
        .query_row("SELECT date('now', '-10 days')", [], |r| r.get(0))
        .unwrap();
    let stats = json_of(&run(&app, &["stats", "--since", &day, "--json"]), "--since");
    assert_eq!(stats["since"], format!("{day}T00:00:00Z"));
    assert_eq!(stats["users"], json!({"total": 8, "new": 4}));
    assert_eq!(
        stats["invites"],
        json!({"signups": 1, "converted": 1, "conversion_rate": 1.0})
    );
    assert_eq!(stats["organic"]["signups"], 3);
    assert_eq!(stats["organic"]["conversion_rate"], 0.3333);
    assert_eq!(
        stats["top_referrers"],
        json!([{"email": "one@example.com", "signups": 1, "converted": 1}])
    );

    for bad in ["2026-02-30", "last-week", "31/01/2026", "2999-01-01"] {
        let out = run(&app, &["stats", "--since", bad]);
        assert_one_line_error(&out, bad);
        assert!(super::stderr(&out).contains("--since"), "{bad}");
    }
    // an empty database has no rates to divide by
    let empty = TestServer::new().spawn();
    let stats = json_of(&run(&empty, &["stats", "--json"]), "empty");
    assert_eq!(stats["invites"]["conversion_rate"], 0.0);
    assert_eq!(stats["top_referrers"], json!([]));
}

fn subscribe(app: &TestServer, email: &str, id: &str) {
    app.db()
        .execute(
            "INSERT INTO subscriptions (id, user_id, customer_id, status, event_occurred_at, created_at, updated_at)
             SELECT ?2, id, 'ctm_x', 'active', 'x', 'x', 'x' FROM users WHERE email = ?1",
            [email, id],
        )
        .unwrap();
}

#[test]
fn delete_user_refuses_a_subscription_unless_forced_and_then_asks_paddle_to_cancel() {
    let app = TestServer::new().spawn();
    let client = app.client();
    sign_in(&app, &client, "payer@example.com");
    subscribe(&app, "payer@example.com", "sub_01payer");
    let id = app.query_i64("SELECT id FROM users WHERE email = 'payer@example.com'");

    let out = run(&app, &["delete-user", "--email", "payer@example.com"]);
    assert_one_line_error(&out, "active subscription");
    assert!(super::stderr(&out).contains("--force"));
    assert_eq!(app.query_i64("SELECT count(*) FROM paddle_outbox"), 0);
    assert_eq!(client.get("/settings").status, 200, "nothing changed");

    let out = run(
        &app,
        &[
            "delete-user",
            "--email",
            "Payer@Example.com",
            "--force",
            "--note",
            "asked by mail",
            "--json",
        ],
    );
    let done = json_of(&out, "--force");
    assert_eq!(done["email"], "payer@example.com");
    assert_eq!(done["cancel_queued"], json!(["sub_01payer"]));
    let (kind, payload, key, due): (String, String, String, String) = app
        .db()
        .query_row(
            "SELECT kind, payload, dedupe_key, next_attempt_at FROM paddle_outbox",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    assert_eq!(kind, "cancel_subscription");
    assert_eq!(
        serde_json::from_str::<Value>(&payload).unwrap(),
        json!({"subscription_id": "sub_01payer"})
    );
    assert_eq!(key, "cancel:sub_01payer");
    assert!(due.ends_with('Z') && due.len() == 20, "{due}");
    assert!(
        client.get("/settings").is_see_other_to("/login"),
        "signed out"
    );
    let (action, actor, note): (String, String, String) = app
        .db()
        .query_row(
            "SELECT action, actor, note FROM access_audit WHERE user_id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(
        (action.as_str(), actor.as_str(), note.as_str()),
        ("delete_user", "opsperson", "asked by mail")
    );
    assert_eq!(
        app.query_i64(&format!(
            "SELECT count(*) FROM users WHERE id = {id} AND email = 'deleted-{id}@invalid'"
        )),
        1
    );
}

#[test]
fn delete_user_without_a_subscription_and_unknown_emails() {
    let app = TestServer::new().spawn();
    sign_in(&app, &app.client(), "plain@example.com");
    let text = succeeded(
        &run(&app, &["delete-user", "--email", "plain@example.com"]),
        "delete",
    );
    assert!(
        text.contains("plain@example.com") && text.contains("@invalid"),
        "{text}"
    );
    assert_eq!(app.query_i64("SELECT count(*) FROM paddle_outbox"), 0);
    assert_eq!(
        app.query_i64("SELECT count(*) FROM access_audit WHERE action = 'delete_user' AND actor = 'opsperson'"),
        1
    );
    for email in ["plain@example.com", "nobody@example.com"] {
        assert_one_line_error(&run(&app, &["delete-user", "--email", email]), email);
    }
    assert_eq!(
        app.query_i64("SELECT count(*) FROM access_audit WHERE action = 'delete_user'"),
        1,
        "a failed deletion writes nothing"
    );
}

#[test]
fn each_analysis_run_is_counted_in_stats() {
    let app = TestServer::new().spawn();
    let client = app.client();
    sign_in(&app, &client, "analyst@example.com");
    assert!(run(
        &app,
        &[
            "grant-credit",
            "--email",
            "analyst@example.com",
            "--days",
            "3"
        ]
    )
    .status
    .success());
    let body = json!({"holdings": [{"symbol": "VTI", "quantity": 2, "price": 200}]}).to_string();
    let json_type = [("Content-Type", "application/json")];
    for _ in 0..2 {
        let resp = client.request("POST", "/api/analyze", &json_type, body.as_bytes());
        assert_eq!(resp.status, 200, "{}", resp.summary());
    }
    let refused = app
        .client()
        .request("POST", "/api/analyze", &json_type, body.as_bytes());
    assert_eq!(refused.status, 401, "a refused call is not an analysis");
    let stats = json_of(&run(&app, &["stats", "--json"]), "stats");
    assert_eq!(
        stats["analyses"],
        json!({"count": 2, "llm": 0, "builtin": 2})
    );
}
