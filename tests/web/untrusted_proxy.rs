//! Issue 17.5: a forgotten `APP_TRUSTED_PROXY` no longer fails silently
//! (SPEC §8). Requests that carry `X-Forwarded-For` without it make the log
//! say so, at most once an hour, and `/metrics` then wants the admin token
//! unless the peer is loopback and sent no `X-Forwarded-For`.

use crate::support::TestServer;

const ADMIN: &str = "an-admin-token-of-at-least-32-bytes!";
const WARNING: &str = "event=proxy.untrusted";

/// The test environment sets no `APP_*` variable unless asked, so no
/// `APP_TRUSTED_PROXY` here.
fn without_trusted_proxy() -> TestServer {
    TestServer::new().env("APP_ADMIN_TOKEN", ADMIN).spawn()
}

#[test]
fn forwarded_for_without_a_trusted_proxy_is_warned_about_once() {
    let app = without_trusted_proxy();
    let client = app.client();
    assert_eq!(client.get("/healthz").status, 200);
    assert!(
        !app.log().contains(WARNING),
        "warned without X-Forwarded-For:\n{}",
        app.log()
    );
    for (i, addr) in ["203.0.113.7", "198.51.100.2", "203.0.113.7"]
        .iter()
        .enumerate()
    {
        let resp = client.get_with("/healthz", &[("X-Forwarded-For", addr)]);
        assert_eq!(resp.status, 200, "request {i}: {}", resp.summary());
    }
    let log = app.log();
    let lines: Vec<&str> = log.lines().filter(|l| l.contains(WARNING)).collect();
    assert_eq!(lines.len(), 1, "one warning line an hour:\n{log}");
    assert!(
        lines[0].contains("APP_TRUSTED_PROXY") && lines[0].contains("peer=127.0.0.1"),
        "the warning names the setting and the peer: {}",
        lines[0]
    );
    assert!(
        !log.contains("client=203.0.113.7"),
        "an untrusted X-Forwarded-For was believed:\n{log}"
    );
}

#[test]
fn with_a_trusted_proxy_forwarded_for_is_not_warned_about() {
    let app = TestServer::new()
        .env("APP_TRUSTED_PROXY", "127.0.0.1")
        .spawn();
    let resp = app
        .client()
        .get_with("/healthz", &[("X-Forwarded-For", "203.0.113.7")]);
    assert_eq!(resp.status, 200);
    let log = app.log();
    assert!(log.contains("client=203.0.113.7"), "{log}");
    assert!(!log.contains(WARNING), "{log}");
}

#[test]
fn metrics_through_an_untrusted_proxy_want_the_admin_token() {
    let app = without_trusted_proxy();
    let client = app.client();
    let bearer = format!("Bearer {ADMIN}");
    for xff in ["203.0.113.7", "127.0.0.1", "junk"] {
        let forwarded = client.get_with("/metrics", &[("X-Forwarded-For", xff)]);
        assert_eq!(
            forwarded.status,
            403,
            "X-Forwarded-For {xff:?} without a token: {}",
            forwarded.summary()
        );
        let with_token = client.get_with(
            "/metrics",
            &[("X-Forwarded-For", xff), ("Authorization", &bearer)],
        );
        assert_eq!(
            with_token.status,
            200,
            "X-Forwarded-For {xff:?} with the token: {}",
            with_token.summary()
        );
        assert!(with_token.body.contains("app_users"), "{}", with_token.body);
    }
    let wrong = client.get_with(
        "/metrics",
        &[
            ("X-Forwarded-For", "203.0.113.7"),
            ("Authorization", "Bearer wrong-token"),
        ],
    );
    assert_eq!(wrong.status, 401, "{}", wrong.summary());
    let local = client.get("/metrics");
    assert_eq!(
        local.status,
        200,
        "loopback without X-Forwarded-For: {}",
        local.summary()
    );
}
