//! Issue 17, round three: nobody can lock another out (SPEC §8). Wrong
//! admin tokens never lock out the right one, and a stranger asking for
//! codes from their own address cannot keep a person from signing in.

use crate::support::{Client, TestApp};

const ADMIN: &str = "an-admin-token-of-at-least-32-bytes!";

fn with_token(configure_proxy: bool) -> TestApp {
    TestApp::spawn_with(|cmd| {
        cmd.env("APP_ADMIN_TOKEN", ADMIN);
        if configure_proxy {
            cmd.env("APP_TRUSTED_PROXY", "127.0.0.1");
        }
    })
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
