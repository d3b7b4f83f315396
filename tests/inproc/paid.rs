//! The paid gate in front of `POST /api/analyze` (SPEC §5): who gets 401,
//! who gets 402 and with what body, and who gets through.

use rusqlite::params;

use super::*;
use crate::support::{json_error, json_of};

const HOLDINGS: &str = r#"{"holdings":[{"symbol":"AAPL","quantity":2,"price":10}]}"#;
const DAY: i64 = 86_400;

fn analyze(app: &InProcess, session: &str) -> Resp {
    send(
        app,
        request("POST", "/api/analyze")
            .with_session(session)
            .with_json(HOLDINGS),
    )
}

fn set(app: &InProcess, email: &str, column: &str, value: &dyn rusqlite::ToSql) {
    let sql = format!("UPDATE users SET {column} = ?1 WHERE email = ?2");
    let changed = app
        .db()
        .execute(&sql, params![value, email])
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    assert_eq!(changed, 1, "no user {email}");
}

/// A 402 with this reason, a message, and the upgrade link on this app.
fn assert_payment_required(app: &InProcess, resp: &Resp, reason: &str) {
    let body = json_error(resp, 402, "payment_required");
    assert_eq!(body["reason"], reason, "{}", resp.body);
    assert_eq!(
        body["upgrade_url"],
        format!("{}/settings#upgrade", app.base_url()),
        "{}",
        resp.body
    );
}

#[test]
fn analyze_without_a_caller_is_401() {
    let token = [("APP_ADMIN_TOKEN", "inproc-admin-token-0123456789abcdef0123")];
    // with or without an admin token configured, with a body or without
    // one (the stored portfolio)
    for app in [app(), app_with(&token)] {
        let resp = send(&app, request("POST", "/api/analyze").with_json(HOLDINGS));
        json_error(&resp, 401, "unauthorized");
        let resp = send(&app, request("POST", "/api/analyze"));
        json_error(&resp, 401, "unauthorized");
    }
}

#[test]
fn analyze_for_a_free_user_is_402_free_tier() {
    let app = app();
    let session = signed_in(&app, "free@example.com");
    assert_payment_required(&app, &analyze(&app, &session), "free_tier");
    // without a body, on a stored portfolio, too
    let saved = send(
        &app,
        request("PUT", "/api/portfolio")
            .with_session(&session)
            .with_json(HOLDINGS),
    );
    assert_eq!(saved.status, 200, "{}", saved.summary());
    let stored = send(&app, request("POST", "/api/analyze").with_session(&session));
    assert_payment_required(&app, &stored, "free_tier");
}

#[test]
fn analyze_after_the_credit_expired_is_402_credit_expired() {
    let app = app();
    let session = signed_in(&app, "lapsed@example.com");
    set(
        &app,
        "lapsed@example.com",
        "credit_until",
        &app.now().plus(-DAY),
    );
    assert_payment_required(&app, &analyze(&app, &session), "credit_expired");
    // The second its credit ends, not a second later.
    set(&app, "lapsed@example.com", "credit_until", &app.now());
    assert_payment_required(&app, &analyze(&app, &session), "credit_expired");
}

#[test]
fn analyze_for_a_credited_or_paid_user_is_200() {
    let app = app();
    let credited = signed_in(&app, "credited@example.com");
    set(
        &app,
        "credited@example.com",
        "credit_until",
        &app.now().plus(DAY),
    );
    let paid = signed_in(&app, "paid@example.com");
    set(&app, "paid@example.com", "tier", &"paid");
    for session in [credited, paid] {
        let resp = analyze(&app, &session);
        assert_eq!(resp.status, 200, "{}", resp.summary());
        let body = json_of(&resp);
        assert_eq!(body["provider"], "builtin", "{body}");
        assert_eq!(body["metrics"]["total_value"], 20.0, "{body}");
    }
}

#[test]
fn the_admin_token_passes_the_gate_and_a_wrong_one_is_401() {
    let app = app_with(&[("APP_ADMIN_TOKEN", "inproc-admin-token-0123456789abcdef0123")]);
    let call = |token: &str| {
        send(
            &app,
            request("POST", "/api/analyze")
                .with_header("Authorization", &format!("Bearer {token}"))
                .with_json(HOLDINGS),
        )
    };
    let resp = call("inproc-admin-token-0123456789abcdef0123");
    assert_eq!(resp.status, 200, "{}", resp.summary());
    json_error(
        &call("inproc-admin-token-0123456789abcdef012"),
        401,
        "unauthorized",
    );
}
