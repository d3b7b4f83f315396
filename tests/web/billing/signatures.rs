//! The webhook trusts nothing without Paddle's signature, and is not there
//! at all without billing configured.

use super::*;
use app::services::billing::signature::sign;

fn assert_refused(app: &TestServer, resp: &Resp, what: &str) {
    assert_eq!(resp.status, 401, "{what}: {}", resp.summary());
    let v: Value =
        serde_json::from_str(&resp.body).unwrap_or_else(|_| panic!("{what}: {}", resp.body));
    assert!(v["error"].is_string(), "{what}: {}", resp.body);
    assert_eq!(
        app.query_i64("SELECT count(*) FROM billing_events"),
        0,
        "{what}: nothing stored"
    );
}

#[test]
fn bad_stale_and_missing_signatures_store_nothing() {
    let paddle = FakePaddle::start();
    let app = spawn(&paddle);
    let (_, id) = user(&app, "sigs@example.com");
    let body = Sub::new("sub_01sigs", "ctm_01sigs")
        .of(id)
        .event("evt_s1", "created", &at(0));
    let now = app::clock::Timestamp::now().secs();
    let good = sign(WEBHOOK_SECRET, now, body.as_bytes());
    let h1 = good.split_once(";h1=").unwrap().1.to_string();
    let cases = [
        ("missing", None),
        ("empty", Some(String::new())),
        ("malformed", Some("t=1;v1=abc".to_string())),
        ("no h1", Some(format!("ts={now}"))),
        (
            "wrong secret",
            Some(sign("pdl_ntf_someone_else", now, body.as_bytes())),
        ),
        ("other body", Some(sign(WEBHOOK_SECRET, now, b"{}"))),
        ("ts changed", Some(format!("ts={};h1={h1}", now + 1))),
        (
            "stale",
            Some(sign(WEBHOOK_SECRET, now - 301, body.as_bytes())),
        ),
        // Well past the 300 s allowed: the cases before it take time on a
        // loaded machine, and the server's clock moves on meanwhile.
        (
            "future",
            Some(sign(WEBHOOK_SECRET, now + 360, body.as_bytes())),
        ),
    ];
    for (what, header) in &cases {
        let resp = post_webhook(&app, &body, header.as_deref());
        assert_refused(&app, &resp, what);
    }
    assert_eq!(tier(&app, id), "free");
    // A rotated secret: one of two h1 values matches.
    let old = "ab".repeat(32);
    let rotated = format!("ts={now};h1={old};h1={h1}");
    let resp = post_webhook(&app, &body, Some(&rotated));
    assert_eq!(resp.status, 200, "{}", resp.summary());
    assert_eq!(tier(&app, id), "paid");
    let metrics = app.client().get("/metrics").body;
    assert!(
        metrics.contains(&format!(
            "app_paddle_webhooks_total{{type=\"unknown\",outcome=\"bad_signature\"}} {}",
            cases.len()
        )),
        "{metrics}"
    );
    assert!(metrics
        .contains("app_paddle_webhooks_total{type=\"subscription.created\",outcome=\"ok\"} 1"));
}

#[test]
fn unknown_event_types_are_stored_with_no_effect() {
    let paddle = FakePaddle::start();
    let app = spawn(&paddle);
    let body = serde_json::json!({
        "event_id": "evt_01unknown", "event_type": "address.created",
        "occurred_at": at(0), "notification_id": "ntf_01unknown",
        "data": {"id": "add_01x", "customer_id": "ctm_01x"}
    })
    .to_string();
    deliver_ok(&app, &body, "ignored");
    deliver_ok(&app, &body, "replay");
    assert_eq!(
        text(
            &app,
            "SELECT event_type || ' ' || outcome FROM billing_events"
        ),
        "address.created ignored"
    );
    assert_eq!(
        text(&app, "SELECT body FROM billing_events"),
        body,
        "the raw body is kept"
    );
    assert_eq!(app.query_i64("SELECT count(*) FROM subscriptions"), 0);
    // Signed but not an event: 400, nothing stored.
    let resp = deliver(&app, "not json");
    assert_eq!(resp.status, 400, "{}", resp.summary());
    assert_eq!(app.query_i64("SELECT count(*) FROM billing_events"), 1);
    let metrics = app.client().get("/metrics").body;
    assert!(
        metrics.contains("app_paddle_webhooks_total{type=\"other\",outcome=\"replay\"} 1"),
        "{metrics}"
    );
}

#[test]
fn without_billing_configured_the_webhook_is_not_there() {
    let app = TestServer::new().spawn();
    let body = r#"{"event_id":"evt_1","event_type":"subscription.created","occurred_at":"2026-11-26T09:30:12.123456Z","data":{}}"#;
    let header = sign(
        WEBHOOK_SECRET,
        app::clock::Timestamp::now().secs(),
        body.as_bytes(),
    );
    let resp = post_webhook(&app, body, Some(&header));
    assert_eq!(resp.status, 404, "{}", resp.summary());
    assert_eq!(app.query_i64("SELECT count(*) FROM billing_events"), 0);
}

/// Paddle's events can be large: up to 1 MiB is read here (64 KiB elsewhere).
#[test]
fn the_webhook_takes_bodies_up_to_one_mebibyte() {
    let paddle = FakePaddle::start();
    let app = spawn(&paddle);
    let (_, id) = user(&app, "big@example.com");
    let body = Sub::new("sub_01big", "ctm_01big")
        .of(id)
        .event("evt_big", "created", &at(0));
    let mut v: Value = serde_json::from_str(&body).unwrap();
    v["data"]["padding"] = "x".repeat(900 * 1024).into();
    deliver_ok(&app, &v.to_string(), "ok");
    assert_eq!(tier(&app, id), "paid");
    v["event_id"] = "evt_too_big".into();
    v["data"]["padding"] = "x".repeat(1024 * 1024).into();
    let resp = deliver(&app, &v.to_string());
    assert_eq!(resp.status, 413, "{}", resp.summary());
    assert_eq!(app.query_i64("SELECT count(*) FROM billing_events"), 1);
}
