//! Paddle calls happen on the outbox worker: retried with backoff, never on
//! the request, kept across restarts, and never made twice once accepted.

use serde_json::Value;

use super::*;
use crate::support::paddle::FakePaddle;

/// An unmatched subscription, so the worker must look the customer up.
fn dashboard_subscription(app: &TestServer, paddle: &FakePaddle, email: &str, tag: &str) -> i64 {
    let (_, id) = user(app, email);
    paddle.add_customer(&format!("ctm_01{tag}"), email);
    let sub = Sub::new(&format!("sub_01{tag}"), &format!("ctm_01{tag}"));
    deliver_ok(
        app,
        &sub.event(&format!("evt_{tag}"), "created", &at(0)),
        "unmatched",
    );
    id
}

#[test]
fn the_api_failing_twice_then_succeeding_is_retried_with_backoff() {
    let paddle = FakePaddle::start();
    paddle.fail_next(2, 503);
    let app = spawn(&paddle);
    let id = dashboard_subscription(&app, &paddle, "retry@example.com", "retry");
    eventually(
        "the third try succeeds",
        &app,
        Duration::from_secs(30),
        || tier(&app, id) == "paid",
    );
    let calls = paddle.calls_to("GET", "/customers/ctm_01retry");
    assert_eq!(calls.len(), 3);
    assert!(
        calls[2].at.duration_since(calls[0].at) <= Duration::from_secs(60),
        "third try within a minute of the first"
    );
    assert_eq!(app.query_i64("SELECT attempts FROM paddle_outbox"), 3);
    assert_eq!(
        text(
            &app,
            "SELECT coalesce(last_error, '') || coalesce(failed_at, '') FROM paddle_outbox"
        ),
        ""
    );
    let metrics = app.client().get("/metrics").body;
    assert!(
        metrics.contains("app_paddle_api_failures_total 2"),
        "{metrics}"
    );
    assert!(metrics.contains("app_paddle_outbox_pending 0"), "{metrics}");
}

#[test]
fn a_call_paddle_refuses_is_recorded_and_not_retried() {
    let paddle = FakePaddle::start();
    let app = spawn(&paddle);
    let sub = Sub::new("sub_01nobody", "ctm_01nobody");
    deliver_ok(
        &app,
        &sub.event("evt_nobody", "created", &at(0)),
        "unmatched",
    );
    eventually("the 404 is recorded", &app, SOON, || {
        app.query_i64("SELECT count(*) FROM paddle_outbox WHERE failed_at IS NOT NULL") == 1
    });
    assert_eq!(app.query_i64("SELECT attempts FROM paddle_outbox"), 1);
    assert!(text(&app, "SELECT last_error FROM paddle_outbox").contains("404"));
    let metrics = app.client().get("/metrics").body;
    assert!(metrics.contains("app_paddle_outbox_failed 1"), "{metrics}");
    assert!(app.log().contains("event=billing.outbox_failed"));
    assert_eq!(paddle.calls().len(), 1);
}

#[test]
fn outbox_work_pending_at_a_restart_is_done_after_it() {
    let paddle = FakePaddle::start();
    paddle.fail_next(1, 500);
    let mut app = spawn(&paddle);
    let id = dashboard_subscription(&app, &paddle, "restart@example.com", "restart");
    eventually("the first try's failure is recorded", &app, SOON, || {
        app.query_i64("SELECT count(*) FROM paddle_outbox WHERE last_error IS NOT NULL") == 1
    });
    app.kill();
    assert_eq!(tier(&app, id), "free", "the first try failed");
    assert_eq!(
        app.query_i64("SELECT count(*) FROM paddle_outbox WHERE done_at IS NULL"),
        1
    );
    app.restart();
    eventually(
        "the restarted worker finishes it",
        &app,
        Duration::from_secs(20),
        || tier(&app, id) == "paid",
    );
    assert_eq!(paddle.calls_to("GET", "/customers/").len(), 2);
}

/// The webhook answers while the worker's call to Paddle is still waiting.
#[test]
fn a_slow_api_does_not_hold_up_the_webhook() {
    let paddle = FakePaddle::start();
    paddle.set_delay(Duration::from_secs(4));
    let app = spawn(&paddle);
    let id = dashboard_subscription(&app, &paddle, "slow@example.com", "slow");
    paddle.wait_for("GET", "/customers/", 1, SOON);
    // A second event arrives while that call is in flight.
    let sub = Sub::new("sub_01slow", "ctm_01slow").status("past_due");
    deliver_ok(
        &app,
        &sub.event("evt_slow2", "past_due", &at(1)),
        "unmatched",
    );
    assert_eq!(
        app.query_i64("SELECT count(*) FROM paddle_outbox WHERE done_at IS NULL"),
        1,
        "both webhooks were answered before Paddle answered the worker"
    );
    eventually("the slow call completes", &app, SOON, || {
        tier(&app, id) == "paid"
    });
}

/// `delete-user --force` queues a cancel; the worker sends it once.
#[test]
fn a_queued_cancel_is_sent_once() {
    let paddle = FakePaddle::start();
    let app = spawn(&paddle);
    app.db()
        .execute(
            "INSERT INTO paddle_outbox (kind, payload, dedupe_key, created_at, next_attempt_at)
             VALUES ('cancel_subscription', '{\"subscription_id\": \"sub_01gone\"}', 'cancel:sub_01gone',
                     '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')",
            [],
        )
        .unwrap();
    eventually("the cancel is done", &app, SOON, || {
        app.query_i64("SELECT count(*) FROM paddle_outbox WHERE done_at IS NOT NULL") == 1
    });
    let calls = paddle.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(
        (calls[0].method.as_str(), calls[0].path.as_str()),
        ("POST", "/subscriptions/sub_01gone/cancel")
    );
    assert_eq!(
        calls[0].body,
        serde_json::json!({"effective_from": "immediately"})
    );
}

/// Paddle applied the reward but the answer never came (a timeout): the
/// retry looks before it sends, so the PATCH is made once.
#[test]
fn a_reward_paddle_accepted_is_never_sent_twice() {
    let paddle = FakePaddle::start();
    let app = spawn(&paddle);
    let (ref_client, referrer) = user(&app, "once@example.com");
    let sub = Sub::new("sub_01once", "ctm_01once").of(referrer);
    deliver_ok(&app, &sub.event("evt_once0", "created", &at(0)), "ok");
    // Longer than the app's 10 s timeout: the fake applies it, the app gives up.
    paddle.set_delay(Duration::from_secs(12));
    let (_, invitee) = invited_user(&app, &ref_client, "twice@example.com");
    let inv = Sub::new("sub_01twice", "ctm_01twice")
        .of(invitee)
        .discount(DISCOUNT, &at(90 * 86400));
    deliver_ok(&app, &inv.event("evt_twice0", "created", &at(0)), "ok");
    paddle.wait_for("PATCH", "/subscriptions/sub_01once", 1, SOON);
    paddle.set_delay(Duration::ZERO);
    eventually("the reward runs", &app, Duration::from_secs(30), || {
        text(
            &app,
            &format!("SELECT state FROM referral_rewards WHERE user_id = {referrer}"),
        ) == "running"
    });
    assert_eq!(paddle.calls_to("PATCH", "/subscriptions/").len(), 1);
    assert_eq!(paddle.calls_to("GET", "/subscriptions/sub_01once").len(), 1);
    assert!(app.log().contains("event=billing.outbox_retry"));
}

/// Paddle refuses the discount: the reward is `failed`, which the person
/// sees as pending and the operator sees everywhere they look; once the
/// cause is fixed, `app billing-retry` re-queues it with its state made
/// right, and the worker applies it.
#[test]
fn a_refused_discount_fails_and_billing_retry_requeues_it() {
    let paddle = FakePaddle::start();
    let app = spawn(&paddle);
    let (ref_client, referrer) = user(&app, "refused@example.com");
    let first = Sub::new("sub_01refused", "ctm_01refused").of(referrer);
    deliver_ok(&app, &first.event("evt_r0", "created", &at(0)), "ok");
    paddle.fail_calls(
        Some("PATCH"),
        "/subscriptions/",
        1,
        400,
        "bad_request",
        None,
    );
    let (_, invitee) = invited_user(&app, &ref_client, "banked@example.com");
    let inv = Sub::new("sub_01banked", "ctm_01banked")
        .of(invitee)
        .discount(DISCOUNT, &at(90 * 86400));
    deliver_ok(&app, &inv.event("evt_b0", "created", &at(0)), "ok");
    let reward = format!("SELECT state FROM referral_rewards WHERE user_id = {referrer}");
    eventually("the refusal fails it", &app, SOON, || {
        text(&app, &reward) == "failed"
    });
    assert!(app.log().contains("event=billing.reward_failed"));
    let me = api_me(&ref_client);
    assert_eq!(me["referral"]["rewards"][0]["state"], "failed", "{me}");
    assert_eq!(me["referral"]["active_credits"], 1, "still owed to them");
    let page = ref_client.get("/settings").body;
    assert!(
        page.contains("pending, being applied"),
        "the person sees it pending"
    );
    let metrics = app.client().get("/metrics").body;
    assert!(
        metrics.contains("app_referral_rewards{state=\"failed\"} 1"),
        "{metrics}"
    );
    let stats = app.cli(&["stats", "--json"]);
    let stats: Value = serde_json::from_slice(&stats.stdout).unwrap();
    assert_eq!(stats["rewards"]["failed"], 1, "{stats}");
    let status = app.cli(&["show-status", "--email", "refused@example.com"]);
    let status = String::from_utf8_lossy(&status.stdout).to_string();
    assert!(status.contains("referrer failed"), "{status}");
    assert!(
        status.contains("billing-retry --email refused@example.com"),
        "{status}"
    );

    let out = app.cli(&["billing-retry", "--email", "refused@example.com", "--json"]);
    assert!(out.status.success(), "{out:?}");
    let retried: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(retried["rewards"][0]["state"], "waiting", "{retried}");
    assert_eq!(
        retried["calls"].as_array().map(Vec::len),
        Some(1),
        "{retried}"
    );
    eventually("the retried call applies it", &app, SOON, || {
        text(&app, &reward) == "running"
    });
    assert_eq!(
        paddle
            .calls_to("PATCH", "/subscriptions/sub_01refused")
            .len(),
        2,
        "the refused call, then the retried one"
    );
    // Nothing failed is left: a second retry re-queues nothing.
    let again = app.cli(&["billing-retry", "--email", "refused@example.com"]);
    assert!(String::from_utf8_lossy(&again.stdout).contains("no failed reward calls"));
    let unknown = app.cli(&["billing-retry", "--email", "nobody@example.com"]);
    assert_eq!(unknown.status.code(), Some(1));
}

/// Every call carries `Paddle-Version: 1`, and a `Retry-After` Paddle sends
/// back is honoured: the next try waits at least that long.
#[test]
fn calls_carry_paddle_version_and_honour_retry_after() {
    let paddle = FakePaddle::start();
    paddle.fail_calls(
        Some("GET"),
        "/customers/",
        1,
        429,
        "too_many_requests",
        Some(600),
    );
    let app = spawn(&paddle);
    dashboard_subscription(&app, &paddle, "later@example.com", "later");
    eventually("the 429 is recorded", &app, SOON, || {
        app.query_i64("SELECT count(*) FROM paddle_outbox WHERE last_error IS NOT NULL") == 1
    });
    let wait = app.query_i64(
        "SELECT CAST(strftime('%s', next_attempt_at) AS INTEGER) - CAST(strftime('%s', 'now') AS INTEGER)
         FROM paddle_outbox WHERE kind = 'lookup_customer'",
    );
    assert!(
        wait >= 590,
        "Retry-After 600 honoured, not the 2 s backoff: {wait}"
    );
    let calls = paddle.calls();
    assert!(!calls.is_empty());
    for call in calls {
        assert_eq!(
            call.paddle_version.as_deref(),
            Some("1"),
            "{} {}",
            call.method,
            call.path
        );
    }
}
