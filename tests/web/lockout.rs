//! Issue 17, round three: nobody can lock another out (SPEC §8). Wrong
//! admin tokens never lock out the right one, and a stranger asking for
//! codes from their own address cannot keep a person from signing in.

use std::time::Duration;

use crate::support::{csrf_in, Client, Resp, TestServer};

const ADMIN: &str = "an-admin-token-of-at-least-32-bytes!";

fn with_token(behind_proxy: bool) -> TestServer {
    let start = TestServer::new().env("APP_ADMIN_TOKEN", ADMIN);
    match behind_proxy {
        true => start.env("APP_TRUSTED_PROXY", "127.0.0.1").spawn(),
        false => start.spawn(),
    }
}

fn metrics_with(client: &Client, token: &str, forwarded_for: Option<&str>) -> u16 {
    let bearer = format!("Bearer {token}");
    let mut headers = vec![("Authorization", bearer.as_str())];
    if let Some(addr) = forwarded_for {
        headers.push(("X-Forwarded-For", addr));
    }
    client.get_with("/metrics", &headers).status
}

// ------------------------------------------------------ admin token (17.3)

#[test]
fn a_hundred_wrong_tokens_from_one_client_do_not_lock_out_the_right_one() {
    let app = with_token(false);
    let client = app.client();
    let statuses: Vec<u16> = (0..100)
        .map(|_| metrics_with(&client, "wrong-token", None))
        .collect();
    assert!(
        statuses[..10].iter().all(|s| *s == 401),
        "the first wrong tokens are 401: {statuses:?}"
    );
    assert!(
        statuses[10..].iter().all(|s| *s == 429),
        "past ten a wrong token is refused: {statuses:?}"
    );
    assert_eq!(
        metrics_with(&client, ADMIN, None),
        200,
        "the right token from the same client"
    );
    let right = format!("Bearer {ADMIN}");
    let analyze = client.request(
        "POST",
        "/api/analyze",
        &[
            ("Authorization", &right),
            ("Content-Type", "application/json"),
        ],
        br#"{"holdings":[{"symbol":"AAPL","quantity":1,"price":100}]}"#,
    );
    assert_eq!(analyze.status, 200, "{}", analyze.summary());
    assert_eq!(
        metrics_with(&client, "wrong-token", None),
        429,
        "the right token does not reset the wrong ones' limit"
    );
}

#[test]
fn wrong_tokens_from_every_address_do_not_lock_out_the_right_one() {
    let app = with_token(true);
    let client = app.client();
    for i in 0..100u32 {
        let addr = format!("198.51.{}.{}", i / 200, i % 200 + 1);
        assert_eq!(
            metrics_with(&client, "wrong-token", Some(&addr)),
            401,
            "wrong token {i}"
        );
    }
    assert_eq!(
        metrics_with(&client, "wrong-token", Some("203.0.113.5")),
        429,
        "the ceiling across all clients holds for wrong tokens"
    );
    for addr in ["203.0.113.5", "198.51.0.1"] {
        assert_eq!(
            metrics_with(&client, ADMIN, Some(addr)),
            200,
            "the right token from {addr}"
        );
    }
}

// ------------------------------------------------------ sign-in codes (17.4)

/// GET /login, then POST /login for `email` as the proxy says `addr` asks.
fn request_code_from(client: &Client, email: &str, addr: &str) -> Resp {
    let form = client.get_with("/login", &[("X-Forwarded-For", addr)]);
    assert_eq!(form.status, 200, "GET /login: {}", form.summary());
    client.post_form_with(
        "/login",
        &[("email", email), ("csrf", &csrf_in(&form.body))],
        &[("X-Forwarded-For", addr)],
    )
}

/// Moves every login code of `email` `secs` seconds into the past in the
/// app's own `login_codes` table (RFC 3339 `Z` text, SPEC §3), as if time
/// had passed: the once-a-minute rule would otherwise make a test wait.
fn age_login_codes(app: &TestServer, email: &str, secs: i64) {
    let moved = app
        .db()
        .execute(
            "UPDATE login_codes SET created_at = strftime('%Y-%m-%dT%H:%M:%SZ', created_at, ?2) WHERE email = ?1",
            rusqlite::params![email, format!("-{secs} seconds")],
        )
        .expect("age the login codes");
    assert!(moved > 0, "no login codes for {email} to age");
}

/// The integer seconds of `Retry-After`, which must be there, within the hour.
fn retry_after(resp: &Resp) -> u64 {
    let secs: u64 = resp
        .header("retry-after")
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("429 without integer Retry-After: {}", resp.summary()));
    assert!(secs > 0 && secs <= 3600, "Retry-After {secs}");
    secs
}

#[test]
fn a_strangers_five_code_requests_do_not_stop_the_owner_from_elsewhere() {
    let app = with_token(true);
    let email = "owner@example.com";
    let stranger = app.client();
    for i in 1..=5 {
        let sent = request_code_from(&stranger, email, "203.0.113.66");
        assert!(
            sent.is_see_other_to("/verify"),
            "request {i}: {}",
            sent.summary()
        );
        age_login_codes(&app, email, 61);
    }
    let refused = request_code_from(&stranger, email, "203.0.113.66");
    assert_eq!(
        refused.status,
        429,
        "the stranger's sixth: {}",
        refused.summary()
    );
    assert!(retry_after(&refused) > 3000, "{}", refused.summary());
    app.mail.wait_for_nth(email, 4, Duration::from_secs(5));

    let owner = app.client();
    let sent = request_code_from(&owner, email, "198.51.100.7");
    assert!(
        sent.is_see_other_to("/verify"),
        "the owner from their own address: {}",
        sent.summary()
    );
    let verify = owner.get_with("/verify", &[("X-Forwarded-For", "198.51.100.7")]);
    assert_eq!(verify.status, 200, "{}", verify.summary());
    assert!(
        !verify.body.contains("ask again in"),
        "the owner is told to wait for the stranger's codes: {}",
        verify.body
    );
    app.mail.wait_for_nth(email, 5, Duration::from_secs(5));
}

#[test]
fn the_twenty_first_code_in_an_hour_for_one_mailbox_is_refused_whoever_asks() {
    let app = with_token(true);
    let email = "popular@example.com";
    let client = app.client();
    for i in 1..=20 {
        let addr = format!("192.0.2.{i}");
        let sent = request_code_from(&client, email, &addr);
        assert!(
            sent.is_see_other_to("/verify"),
            "request {i} from {addr}: {}",
            sent.summary()
        );
    }
    let over = request_code_from(&client, email, "198.51.100.99");
    assert_eq!(over.status, 429, "the 21st: {}", over.summary());
    assert!(retry_after(&over) > 3500, "{}", over.summary());
    assert!(over.body.contains("too many codes"), "{}", over.body);
    // another mailbox from the same address is not held back
    let other = request_code_from(&client, "someone-else@example.com", "198.51.100.99");
    assert!(other.is_see_other_to("/verify"), "{}", other.summary());
    app.mail.wait_for_nth(email, 19, Duration::from_secs(5));
    app.mail
        .wait_for("someone-else@example.com", Duration::from_secs(5));
    assert_eq!(
        app.mail.count_to_after(email, Duration::from_millis(300)),
        20
    );
}
