//! Operations: metrics, graceful shutdown, and durability across SIGKILL.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::support::llm::FakeLlm;
use crate::support::{sign_in, Client, TestServer};

#[test]
fn metrics_are_served_to_this_machine_and_count_what_happens() {
    let app = TestServer::new().spawn();
    let client = app.client();
    sign_in(&app, &client, "metrics@example.com");
    assert_eq!(client.get("/healthz").status, 200);
    let out = app.cli(&[
        "grant-credit",
        "--email",
        "metrics@example.com",
        "--days",
        "3",
    ]);
    assert!(out.status.success());
    let resp = client.get("/metrics");
    assert_eq!(resp.status, 200, "{}", resp.summary());
    assert!(resp
        .header("content-type")
        .is_some_and(|t| t.starts_with("text/plain")));
    let body = &resp.body;
    assert!(
        body.contains("app_http_requests_total{route=\"GET /healthz\",status=\"200\"}"),
        "{body}"
    );
    assert!(
        body.contains("app_http_requests_total{route=\"POST /verify\",status=\"303\"} 1"),
        "{body}"
    );
    assert!(body.contains("app_sign_in_codes_sent_total 1"), "{body}");
    assert!(
        body.contains("app_sign_in_codes_verified_total 1"),
        "{body}"
    );
    assert!(
        body.contains("app_http_request_duration_seconds_bucket{le=\"+Inf\"}"),
        "{body}"
    );
    assert!(
        body.contains("app_credit_grants 1"),
        "grants made over SSH count too: {body}"
    );
    assert!(body.contains("app_users 1"), "{body}");
}

#[test]
fn app_users_leaves_out_deleted_accounts_as_stats_does() {
    let app = TestServer::new().spawn();
    let client = app.client();
    sign_in(&app, &client, "stays@example.com");
    sign_in(&app, &app.client(), "leaves@example.com");
    let out = app.cli(&["delete-user", "--email", "leaves@example.com"]);
    assert!(out.status.success(), "{out:?}");
    let body = client.get("/metrics").body;
    assert!(body.contains("app_users 1\n"), "{body}");
    let stats = app.cli(&["stats", "--json"]);
    assert!(stats.status.success(), "{stats:?}");
    let stats = String::from_utf8_lossy(&stats.stdout);
    assert!(stats.contains("\"users\":{\"total\":1,"), "{stats}");
}

#[test]
fn metrics_are_not_public() {
    let app = TestServer::new()
        .env("APP_TRUSTED_PROXY", "127.0.0.1")
        .env("APP_ADMIN_TOKEN", "metrics-admin-token-0123456789abcdef")
        .spawn();
    let client = app.client();
    // through the proxy, from somewhere else
    let outside = [("X-Forwarded-For", "203.0.113.5")];
    assert_eq!(client.get_with("/metrics", &outside).status, 403);
    let with_token = [
        ("X-Forwarded-For", "203.0.113.5"),
        (
            "Authorization",
            "Bearer metrics-admin-token-0123456789abcdef",
        ),
    ];
    assert_eq!(client.get_with("/metrics", &with_token).status, 200);
    let wrong = [
        ("X-Forwarded-For", "203.0.113.5"),
        ("Authorization", "Bearer nope"),
    ];
    assert_eq!(client.get_with("/metrics", &wrong).status, 401);
}

#[test]
fn sigterm_lets_in_flight_requests_finish_then_exits_0() {
    let llm = FakeLlm::answering_after("Slow but sure.", Duration::from_millis(1500));
    let mut app = TestServer::new()
        .env("APP_LLM_URL", llm.base_url())
        .env("APP_ADMIN_TOKEN", "shutdown-admin-token-0123456789abcdef")
        .spawn();
    let client = app.client();
    let in_flight = thread::spawn(move || {
        client.request(
            "POST",
            "/api/analyze",
            &[
                ("Content-Type", "application/json"),
                (
                    "Authorization",
                    "Bearer shutdown-admin-token-0123456789abcdef",
                ),
            ],
            br#"{"holdings":[{"symbol":"AAPL","quantity":1,"price":10}]}"#,
        )
    });
    thread::sleep(Duration::from_millis(400));
    let status = app.stop();
    assert!(status.success(), "exit status {status:?}");
    let resp = in_flight.join().expect("request thread");
    assert_eq!(resp.status, 200, "{}", resp.summary());
    assert!(resp.body.contains("Slow but sure."), "{}", resp.body);
    let log = app.log();
    assert!(log.contains("event=server.stopping"), "{log}");
    assert!(log.contains("event=server.stopped"), "{log}");
}

#[test]
fn sigkill_in_the_middle_of_sign_ins_and_grants_loses_nothing_committed() {
    let mut app = TestServer::new().spawn();
    let alice = app.client();
    sign_in(&app, &alice, "alice@example.com");
    let code: String = {
        let me = alice.get("/api/me");
        let v: serde_json::Value = serde_json::from_str(&me.body).expect("json");
        v["referral"]["code"].as_str().expect("code").to_string()
    };

    let stop = Arc::new(AtomicBool::new(false));
    // grants over the CLI, recording which ones reported success
    let granted = Arc::new(Mutex::new(0u32));
    let grants = {
        let (stop, granted) = (stop.clone(), granted.clone());
        let db = app.db_path();
        thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                let out = std::process::Command::new(env!("CARGO_BIN_EXE_app"))
                    .arg("--db")
                    .arg(&db)
                    .args([
                        "grant-credit",
                        "--email",
                        "alice@example.com",
                        "--days",
                        "1",
                    ])
                    .env_remove("APP_DB")
                    .output()
                    .expect("run grant-credit");
                if out.status.success() {
                    *granted.lock().expect("lock") += 1;
                }
            }
        })
    };
    // invited sign-ins over HTTP, recording which ones the server confirmed
    let confirmed = Arc::new(Mutex::new(Vec::<String>::new()));
    let signers: Vec<_> = (0..3)
        .map(|t| {
            let (stop, confirmed) = (stop.clone(), confirmed.clone());
            let (addr, origin, code, mail) = (
                app.addr().to_string(),
                app.origin(),
                code.clone(),
                app.mail.clone(),
            );
            thread::spawn(move || {
                let mut n = 0;
                while !stop.load(Ordering::SeqCst) {
                    let email = format!("friend{t}-{n}@example.com");
                    n += 1;
                    if invited_sign_in(&addr, &origin, &code, &email, &mail) {
                        confirmed.lock().expect("lock").push(email);
                    }
                }
            })
        })
        .collect();

    thread::sleep(Duration::from_millis(1500));
    app.kill(); // SIGKILL, mid-traffic
    thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::SeqCst);
    grants.join().expect("grants thread");
    for s in signers {
        s.join().expect("signer thread");
    }
    let granted = *granted.lock().expect("lock");
    assert!(granted > 0, "some grants ran");

    app.restart();
    let db = app.db();
    let integrity: String = db
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity");
    assert_eq!(integrity, "ok");
    let audited: u32 = db
        .query_row(
            "SELECT count(*) FROM access_audit WHERE action = 'grant_credit'",
            [],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(
        audited, granted,
        "every grant whose CLI exited 0 is there, and no other"
    );
    // no half-written referral: every referred user has its row and the other way round
    let orphans: i64 = db
        .query_row(
            "SELECT (SELECT count(*) FROM users u WHERE referred_by_user_id IS NOT NULL
                       AND NOT EXISTS (SELECT 1 FROM referrals r WHERE r.referred_user_id = u.id))
                  + (SELECT count(*) FROM referrals r JOIN users u ON u.id = r.referred_user_id
                       WHERE u.referred_by_user_id IS NOT r.referrer_user_id)",
            [],
            |r| r.get(0),
        )
        .expect("orphans");
    assert_eq!(orphans, 0);
    let confirmed = confirmed.lock().expect("lock").clone();
    assert!(
        !confirmed.is_empty(),
        "some sign-ins completed before the kill"
    );
    for email in &confirmed {
        let referred: i64 = db
            .query_row(
                "SELECT count(*) FROM users u JOIN referrals r ON r.referred_user_id = u.id
                 WHERE u.email = ?1 AND u.referred_by_user_id = 1",
                [email],
                |r| r.get(0),
            )
            .expect("referred");
        assert_eq!(
            referred, 1,
            "{email} was confirmed, so its account and referral survive"
        );
    }
    let counted: i64 = db
        .query_row(
            "SELECT coalesce((SELECT pending FROM referral_counts WHERE user_id = 1), 0)",
            [],
            |r| r.get(0),
        )
        .expect("counts");
    let rows: i64 = db
        .query_row("SELECT count(*) FROM referrals", [], |r| r.get(0))
        .expect("rows");
    assert_eq!(counted, rows, "the counters agree with the rows");
    // and the server serves again
    let started = Instant::now();
    assert_eq!(app.client().get("/healthz").status, 200);
    assert!(started.elapsed() < Duration::from_secs(5));
}

/// One whole invited sign-in; true when the server confirmed it (303 to /).
/// Any failure (the server was killed) is a false, never a panic.
fn invited_sign_in(
    addr: &str,
    origin: &str,
    code: &str,
    email: &str,
    mail: &crate::support::MailSink,
) -> bool {
    let c = Client::new(addr, Some(origin));
    let form = [
        ("Content-Type", "application/x-www-form-urlencoded"),
        ("Origin", origin),
    ];
    let Ok(page) = c.try_request("GET", &format!("/login?ref={code}"), &[], b"") else {
        return false;
    };
    let Some(csrf) = crate::support::try_csrf_in(&page.body) else {
        return false;
    };
    let body = crate::support::form_encode(&[("email", email), ("ref", code), ("csrf", &csrf)]);
    if c.try_request("POST", "/login", &form, body.as_bytes())
        .map_or(true, |r| r.status != 303)
    {
        return false;
    }
    let deadline = Instant::now() + Duration::from_secs(2);
    let sent = loop {
        if let Some(m) = mail.to(email).first() {
            break crate::support::code_in(m);
        }
        if Instant::now() > deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(10));
    };
    let Ok(page) = c.try_request("GET", "/verify", &[], b"") else {
        return false;
    };
    let Some(csrf) = crate::support::try_csrf_in(&page.body) else {
        return false;
    };
    let body = crate::support::form_encode(&[("code", &sent), ("csrf", &csrf)]);
    c.try_request("POST", "/verify", &form, body.as_bytes())
        .is_ok_and(|r| r.status == 303 && r.location() == Some("/"))
}
