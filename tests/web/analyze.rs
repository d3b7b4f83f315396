//! `POST /api/analyze`: the paid gate in front of it (SPEC §4, §5), the
//! built-in analyst, and the LLM analyst against a small OpenAI-compatible
//! server started inside the test, with its fallbacks (SPEC §2, issue 5).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::llm::{FakeLlm, Reply};
use crate::support::{
    json_error, json_of, paid_user, parse_response, signed_in, Client, Resp, TestApp,
};

const ADMIN_TOKEN: &str = "admin-token-for-tests-0123456789abcdef";
const LLM_KEY: &str = "sk-test-key-5f3c2a";
const LLM_MODEL: &str = "test-model-7b";

// ------------------------------------------------------------------ helpers

/// Runs the CLI; it must succeed.
fn cli_ok(app: &TestApp, args: &[&str]) {
    let out = app.cli(args);
    assert!(
        out.status.success(),
        "app {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A signed-in free user with a 30-day credit.
fn credited_user(app: &TestApp, email: &str) -> Client {
    let client = signed_in(app, email);
    cli_ok(app, &["grant-credit", "--email", email, "--days", "30"]);
    client
}

/// PUT /api/portfolio with `holdings`; must be 200.
fn save_portfolio(client: &Client, holdings: &Value) {
    let body = json!({ "holdings": holdings }).to_string();
    let resp = client.request(
        "PUT",
        "/api/portfolio",
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    );
    assert_eq!(resp.status, 200, "PUT /api/portfolio: {}", resp.summary());
}

/// POST /api/analyze with `body` (as JSON when there is one) and `headers`.
fn analyze_with(client: &Client, body: Option<&Value>, headers: &[(&str, &str)]) -> Resp {
    let mut all: Vec<(&str, &str)> = headers.to_vec();
    let bytes = match body {
        Some(body) => {
            all.push(("Content-Type", "application/json"));
            body.to_string().into_bytes()
        }
        None => Vec::new(),
    };
    client.request("POST", "/api/analyze", &all, &bytes)
}

fn analyze(client: &Client, body: Option<&Value>) -> Resp {
    analyze_with(client, body, &[])
}

/// POST /api/analyze as the operator, with `holdings`.
fn analyze_as_admin(client: &Client, holdings: &Value) -> Resp {
    let bearer = format!("Bearer {ADMIN_TOKEN}");
    analyze_with(
        client,
        Some(&json!({ "holdings": holdings })),
        &[("Authorization", &bearer)],
    )
}

/// A 200 analysis; checks its shape and returns it.
fn analysis(resp: &Resp) -> Value {
    assert_eq!(resp.status, 200, "POST /api/analyze: {}", resp.summary());
    let body = json_of(resp);
    let commentary = body["commentary"]
        .as_str()
        .unwrap_or_else(|| panic!("no commentary: {}", resp.body));
    assert!(
        !commentary.trim().is_empty(),
        "empty commentary: {}",
        resp.body
    );
    assert!(
        matches!(body["provider"].as_str(), Some("builtin" | "llm")),
        "provider: {}",
        resp.body
    );
    let m = &body["metrics"];
    for key in ["total_value", "top_weight", "effective_positions"] {
        assert!(
            m[key].is_number(),
            "metrics.{key} is not a number: {}",
            resp.body
        );
    }
    assert!(
        m["unrealized_pl"].is_number() || m["unrealized_pl"].is_null(),
        "metrics.unrealized_pl: {}",
        resp.body
    );
    for p in m["positions"]
        .as_array()
        .unwrap_or_else(|| panic!("no metrics.positions: {}", resp.body))
    {
        assert!(p["symbol"].is_string(), "{p}");
        assert!(p["value"].is_number() && p["weight"].is_number(), "{p}");
        assert!(
            p["unrealized_pl"].is_number() || p["unrealized_pl"].is_null(),
            "{p}"
        );
    }
    body
}

/// A 402 with this reason, a message and an upgrade URL.
fn assert_payment_required(resp: &Resp, reason: &str) {
    let body = json_error(resp, 402, "payment_required");
    assert_eq!(body["reason"], reason, "{}", resp.body);
    assert!(
        body["upgrade_url"].as_str().is_some_and(|u| !u.is_empty()),
        "no upgrade_url: {}",
        resp.body
    );
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 * b.abs().max(1.0)
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// AAPL 10 × 190 (cost 150) = 1,900; MSFT 5 × 400 (cost 420) = 2,000;
/// CASH 100 × 1 = 100. Total 4,000; P/L +400 − 100 = +300.
fn sample_holdings() -> Value {
    json!([
        {"symbol": "AAPL", "quantity": 10, "price": 190, "cost_basis": 150},
        {"symbol": "MSFT", "quantity": 5, "price": 400, "cost_basis": 420},
        {"symbol": "CASH", "quantity": 100, "price": 1},
    ])
}

fn assert_sample_metrics(body: &Value) {
    let m = &body["metrics"];
    assert!(close(num(&m["total_value"]), 4000.0), "total_value: {m}");
    assert!(close(num(&m["top_weight"]), 0.5), "top_weight: {m}");
    let effective = 1.0 / (0.475f64.powi(2) + 0.5f64.powi(2) + 0.025f64.powi(2));
    assert!(
        close(num(&m["effective_positions"]), effective),
        "effective_positions: {m}"
    );
    assert!(close(num(&m["unrealized_pl"]), 300.0), "unrealized_pl: {m}");
    let positions = m["positions"].as_array().unwrap();
    let find = |symbol: &str| {
        positions
            .iter()
            .find(|p| p["symbol"] == symbol)
            .unwrap_or_else(|| panic!("no position {symbol}: {m}"))
    };
    let aapl = find("AAPL");
    assert!(close(num(&aapl["value"]), 1900.0), "{aapl}");
    assert!(close(num(&aapl["weight"]), 0.475), "{aapl}");
    assert!(close(num(&aapl["unrealized_pl"]), 400.0), "{aapl}");
    let msft = find("MSFT");
    assert!(close(num(&msft["unrealized_pl"]), -100.0), "{msft}");
    let cash = find("CASH");
    assert!(
        cash["unrealized_pl"].is_null(),
        "no cost basis, no P/L: {cash}"
    );
    assert_eq!(positions.len(), 3, "{m}");
}

/// POST /api/analyze over a connection of our own that waits up to `wait`
/// for the answer (the shared client gives up after 10 s).
fn slow_analyze_as_admin(app: &TestApp, holdings: &Value, wait: Duration) -> Resp {
    let body = json!({ "holdings": holdings }).to_string();
    let request = format!(
        "POST /api/analyze HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Authorization: Bearer {ADMIN_TOKEN}\r\nContent-Type: application/json\r\n\
         Content-Length: {len}\r\n\r\n{body}",
        addr = app.addr(),
        len = body.len()
    );
    let mut stream = TcpStream::connect(app.addr()).expect("connect to the app");
    stream.set_read_timeout(Some(wait)).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = Vec::new();
    if let Err(e) = stream.read_to_end(&mut answer) {
        assert!(
            !answer.is_empty(),
            "no answer from the app within {wait:?} ({e}); log:\n{}",
            app.log()
        );
    }
    parse_response(&answer)
        .unwrap_or_else(|| panic!("unparseable answer: {:?}", String::from_utf8_lossy(&answer)))
}

// ------------------------------- the fake OpenAI-compatible API (support::llm)

impl FakeLlm {
    /// The app, configured to use this fake (and to take the admin token).
    fn spawn_app(&self) -> TestApp {
        let url = self.base_url();
        TestApp::spawn_with(|cmd| {
            cmd.env("APP_LLM_URL", &url)
                .env("APP_LLM_MODEL", LLM_MODEL)
                .env("APP_LLM_API_KEY", LLM_KEY)
                .env("APP_ADMIN_TOKEN", ADMIN_TOKEN);
        })
    }
}

/// The app answered with the built-in analyst and said why.
fn assert_fell_back(resp: &Resp, what: &str) {
    let body = analysis(resp);
    assert_eq!(body["provider"], "builtin", "{what}: {}", resp.body);
    assert!(
        body["note"].as_str().is_some_and(|n| !n.trim().is_empty()),
        "{what}: a fallback without a note: {}",
        resp.body
    );
    assert_sample_metrics(&body);
}

// ------------------------------------------------------------- the gate

#[test]
fn analyze_without_a_caller_is_401() {
    let app = TestApp::spawn_with(|cmd| {
        cmd.env("APP_ADMIN_TOKEN", ADMIN_TOKEN);
    });
    let client = app.client();
    json_error(&analyze(&client, None), 401, "unauthorized");
    let resp = analyze(&client, Some(&json!({ "holdings": sample_holdings() })));
    json_error(&resp, 401, "unauthorized");
}

#[test]
fn analyze_for_a_free_user_is_402_free_tier() {
    let app = TestApp::spawn();
    let client = signed_in(&app, "free@example.com");
    save_portfolio(&client, &sample_holdings());
    assert_payment_required(&analyze(&client, None), "free_tier");
    let resp = analyze(&client, Some(&json!({ "holdings": sample_holdings() })));
    assert_payment_required(&resp, "free_tier");
}

#[test]
fn analyze_after_the_credit_expired_is_402_credit_expired() {
    let app = TestApp::spawn();
    let client = credited_user(&app, "lapsed@example.com");
    save_portfolio(&client, &sample_holdings());
    analysis(&analyze(&client, None));

    app.db()
        .execute(
            "UPDATE users SET credit_until = '2020-01-01T00:00:00Z' WHERE email = ?1",
            ["lapsed@example.com"],
        )
        .unwrap();
    assert_payment_required(&analyze(&client, None), "credit_expired");
}

#[test]
fn analyze_for_a_credited_user_is_200() {
    let app = TestApp::spawn();
    let client = credited_user(&app, "credited@example.com");
    let body = analysis(&analyze(
        &client,
        Some(&json!({ "holdings": sample_holdings() })),
    ));
    assert_eq!(body["provider"], "builtin");
    assert!(
        body.get("note").is_none_or(Value::is_null),
        "a note without an LLM: {body}"
    );
    assert_sample_metrics(&body);
}

#[test]
fn analyze_for_a_paid_user_is_200() {
    let app = TestApp::spawn();
    let client = paid_user(&app, "paid@example.com");
    let body = analysis(&analyze(
        &client,
        Some(&json!({ "holdings": sample_holdings() })),
    ));
    assert_eq!(body["provider"], "builtin");
    assert_sample_metrics(&body);
}

#[test]
fn revoked_credit_and_free_tier_again_close_the_gate() {
    let app = TestApp::spawn();
    let client = credited_user(&app, "revoked@example.com");
    save_portfolio(&client, &sample_holdings());
    analysis(&analyze(&client, None));
    cli_ok(&app, &["revoke-credit", "--email", "revoked@example.com"]);
    let resp = analyze(&client, None);
    assert_eq!(resp.status, 402, "after revoke-credit: {}", resp.summary());

    cli_ok(
        &app,
        &[
            "set-tier",
            "--email",
            "revoked@example.com",
            "--tier",
            "paid",
        ],
    );
    analysis(&analyze(&client, None));
    cli_ok(
        &app,
        &[
            "set-tier",
            "--email",
            "revoked@example.com",
            "--tier",
            "free",
        ],
    );
    let resp = analyze(&client, None);
    assert_eq!(resp.status, 402, "back to free: {}", resp.summary());
}

#[test]
fn admin_token_passes_the_gate_and_must_send_holdings() {
    let app = TestApp::spawn_with(|cmd| {
        cmd.env("APP_ADMIN_TOKEN", ADMIN_TOKEN);
    });
    let client = app.client();
    let body = analysis(&analyze_as_admin(&client, &sample_holdings()));
    assert_sample_metrics(&body);

    let bearer = format!("Bearer {ADMIN_TOKEN}");
    let auth = [("Authorization", bearer.as_str())];
    json_error(&analyze_with(&client, None, &auth), 400, "bad_request");
    json_error(
        &analyze_with(&client, Some(&json!({})), &auth),
        400,
        "bad_request",
    );
    json_error(&analyze_as_admin(&client, &json!([])), 400, "bad_request");
    assert!(
        !app.log().contains(ADMIN_TOKEN),
        "the admin token is in the log:\n{}",
        app.log()
    );
}

#[test]
fn wrong_admin_token_is_401() {
    let app = TestApp::spawn_with(|cmd| {
        cmd.env("APP_ADMIN_TOKEN", ADMIN_TOKEN);
    });
    let client = app.client();
    let body = Some(json!({ "holdings": sample_holdings() }));
    let wrong = format!("Bearer {ADMIN_TOKEN}x");
    let prefix = format!("Bearer {}", &ADMIN_TOKEN[..ADMIN_TOKEN.len() - 1]);
    for header in [
        wrong.as_str(),
        prefix.as_str(),
        "Bearer ",
        ADMIN_TOKEN,
        "Basic YTpi",
    ] {
        let resp = analyze_with(&client, body.as_ref(), &[("Authorization", header)]);
        json_error(&resp, 401, "unauthorized");
    }
    assert!(
        !app.log().contains(&wrong),
        "a presented token is in the log"
    );
}

#[test]
fn without_an_admin_token_configured_no_bearer_passes() {
    let app = TestApp::spawn();
    let client = app.client();
    let body = Some(json!({ "holdings": sample_holdings() }));
    for header in [
        format!("Bearer {ADMIN_TOKEN}"),
        "Bearer ".to_string(),
        "Bearer".to_string(),
    ] {
        let resp = analyze_with(&client, body.as_ref(), &[("Authorization", &header)]);
        json_error(&resp, 401, "unauthorized");
    }
}

#[test]
fn ten_wrong_tokens_from_one_client_then_429() {
    let app = TestApp::spawn_with(|cmd| {
        cmd.env("APP_ADMIN_TOKEN", ADMIN_TOKEN);
    });
    let client = app.client();
    let body = Some(json!({ "holdings": sample_holdings() }));
    for i in 0..10 {
        let wrong = format!("Bearer guess-{i}");
        let resp = analyze_with(&client, body.as_ref(), &[("Authorization", &wrong)]);
        assert_eq!(
            resp.status,
            401,
            "wrong token #{}: {}",
            i + 1,
            resp.summary()
        );
    }
    let resp = analyze_with(
        &client,
        body.as_ref(),
        &[("Authorization", "Bearer guess-10")],
    );
    json_error(&resp, 429, "rate_limited");
    let retry = resp
        .header("retry-after")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or_else(|| panic!("429 without integer Retry-After: {}", resp.summary()));
    assert!(retry > 0 && retry <= 600, "Retry-After {retry}");

    // A session is not a bearer token: a paid user from the same address
    // still gets in.
    let paid = paid_user(&app, "same-address@example.com");
    analysis(&analyze(
        &paid,
        Some(&json!({ "holdings": sample_holdings() })),
    ));
}

// ------------------------------------------------ what gets analysed

#[test]
fn analysis_of_the_saved_portfolio() {
    let app = TestApp::spawn();
    let client = paid_user(&app, "saved@example.com");
    save_portfolio(&client, &sample_holdings());

    let empty_body = analysis(&analyze(&client, None));
    assert_sample_metrics(&empty_body);
    let empty_object = analysis(&analyze(&client, Some(&json!({}))));
    assert_sample_metrics(&empty_object);
    assert_eq!(
        empty_body["commentary"], empty_object["commentary"],
        "an empty body and {{}} both mean the saved portfolio"
    );
}

#[test]
fn posted_holdings_are_analysed_instead_of_the_saved_ones() {
    let app = TestApp::spawn();
    let client = paid_user(&app, "posted@example.com");
    save_portfolio(
        &client,
        &json!([{"symbol": "SAVED", "quantity": 1, "price": 1}]),
    );
    let body = analysis(&analyze(
        &client,
        Some(&json!({ "holdings": sample_holdings() })),
    ));
    assert_sample_metrics(&body);
    let saved = client.get("/api/portfolio");
    assert!(
        saved.body.contains("SAVED") && !saved.body.contains("AAPL"),
        "analysing posted holdings changed the saved portfolio: {}",
        saved.body
    );
}

#[test]
fn analysing_an_empty_saved_portfolio_is_400() {
    let app = TestApp::spawn();
    let client = paid_user(&app, "nothing@example.com");
    let resp = analyze(&client, None);
    let body = json_error(&resp, 400, "bad_request");
    let message = body["message"].as_str().unwrap().to_lowercase();
    assert!(
        message.contains("holding"),
        "the message does not say there are no holdings: {message:?}"
    );
    json_error(&analyze(&client, Some(&json!({}))), 400, "bad_request");
    json_error(
        &analyze(&client, Some(&json!({"holdings": []}))),
        400,
        "bad_request",
    );
}

#[test]
fn posted_holdings_are_validated_like_put() {
    let app = TestApp::spawn();
    let client = paid_user(&app, "checked@example.com");
    save_portfolio(&client, &sample_holdings());
    let good = json!({"symbol": "OK", "quantity": 1, "price": 1});
    let bad_entries = [
        json!({"symbol": "A B", "quantity": 1, "price": 1}),
        json!({"symbol": "A".repeat(17), "quantity": 1, "price": 1}),
        json!({"symbol": "X", "quantity": -1, "price": 1}),
        json!({"symbol": "X", "quantity": "1", "price": 1}),
        json!({"symbol": "X", "quantity": 1, "price": 1e13}),
        json!({"symbol": "X", "quantity": 1, "price": 1, "cost_basis": -1}),
        json!({"symbol": "X", "quantity": 1, "price": 1, "extra": 1}),
        json!({"symbol": "ok", "quantity": 1, "price": 1}),
        json!({"symbol": "X", "quantity": 1}),
    ];
    for bad in bad_entries {
        let resp = analyze(
            &client,
            Some(&json!({ "holdings": [good.clone(), bad.clone()] })),
        );
        let body = json_error(&resp, 400, "bad_request");
        let message = body["message"].as_str().unwrap().to_lowercase();
        assert!(message.contains("holdings[1]"), "{bad}: {message:?}");
    }
    let many: Vec<Value> = (0..501)
        .map(|i| json!({"symbol": format!("S{i}"), "quantity": 1, "price": 1}))
        .collect();
    json_error(
        &analyze(&client, Some(&json!({ "holdings": many }))),
        400,
        "bad_request",
    );
    json_error(&analyze(&client, Some(&json!([]))), 400, "bad_request");
    json_error(
        &analyze(&client, Some(&json!({ "holdings": "AAPL" }))),
        400,
        "bad_request",
    );

    let resp = client.request(
        "POST",
        "/api/analyze",
        &[("Content-Type", "text/plain")],
        json!({ "holdings": sample_holdings() })
            .to_string()
            .as_bytes(),
    );
    json_error(&resp, 415, "unsupported_media_type");
}

#[test]
fn analyze_from_another_site_is_403() {
    let app = TestApp::spawn();
    let client = paid_user(&app, "origin@example.com");
    save_portfolio(&client, &sample_holdings());
    let resp = analyze_with(&client, None, &[("Origin", "https://evil.example")]);
    json_error(&resp, 403, "forbidden");
    let resp = analyze_with(&client, None, &[("X-CSRF-Token", "stale")]);
    json_error(&resp, 403, "forbidden");
    let origin = app.origin();
    analysis(&analyze_with(&client, None, &[("Origin", &origin)]));
}

#[test]
fn commentary_differs_between_a_concentrated_and_a_diversified_portfolio() {
    let app = TestApp::spawn_with(|cmd| {
        cmd.env("APP_ADMIN_TOKEN", ADMIN_TOKEN);
    });
    let client = app.client();
    let concentrated = json!([
        {"symbol": "TSLA", "quantity": 90, "price": 100},
        {"symbol": "VTI", "quantity": 10, "price": 100},
    ]);
    let diversified = json!([
        {"symbol": "AAPL", "quantity": 10, "price": 100},
        {"symbol": "MSFT", "quantity": 10, "price": 100},
        {"symbol": "GOOG", "quantity": 10, "price": 100},
        {"symbol": "AMZN", "quantity": 10, "price": 100},
        {"symbol": "VTI", "quantity": 10, "price": 100},
    ]);
    let a = analysis(&analyze_as_admin(&client, &concentrated));
    let b = analysis(&analyze_as_admin(&client, &diversified));

    assert!(close(num(&a["metrics"]["top_weight"]), 0.9), "{a}");
    assert!(
        close(num(&a["metrics"]["effective_positions"]), 1.0 / 0.82),
        "{a}"
    );
    assert!(close(num(&b["metrics"]["top_weight"]), 0.2), "{b}");
    assert!(close(num(&b["metrics"]["effective_positions"]), 5.0), "{b}");

    let a = a["commentary"].as_str().unwrap();
    let b = b["commentary"].as_str().unwrap();
    assert_ne!(a, b, "the same commentary for both portfolios");
    assert!(
        a.contains("TSLA") && a.to_lowercase().contains("concentrat"),
        "the concentrated portfolio's commentary does not name TSLA and its concentration: {a}"
    );
    assert!(
        !b.to_lowercase().contains("very concentrated"),
        "an equal-weighted portfolio called very concentrated: {b}"
    );
    // Decimal points are followed by digits, so ". " ends a sentence.
    let sentences = |s: &str| s.trim().matches(". ").count() + 1;
    for c in [a, b] {
        assert!(
            (3..=6).contains(&sentences(c)),
            "commentary is not a few plain sentences: {c}"
        );
    }
}

// ------------------------------------------------------------ the LLM

#[test]
fn llm_commentary_comes_from_the_configured_model() {
    let llm = FakeLlm::answering("Half of this portfolio sits in MSFT, which is a lot.");
    let app = llm.spawn_app();
    let client = paid_user(&app, "llm@example.com");
    save_portfolio(&client, &sample_holdings());

    let body = analysis(&analyze(&client, None));
    assert_eq!(body["provider"], "llm", "{body}");
    assert_eq!(
        body["commentary"], "Half of this portfolio sits in MSFT, which is a lot.",
        "{body}"
    );
    assert!(
        body.get("note").is_none_or(Value::is_null),
        "a note on success: {body}"
    );
    assert_sample_metrics(&body);

    let requests = llm.requests();
    assert_eq!(
        requests.len(),
        1,
        "the app should call the API once: {requests:?}"
    );
    let request = &requests[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/v1/chat/completions");
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {LLM_KEY}").as_str()),
        "{request:?}"
    );
    assert!(
        request
            .header("content-type")
            .is_some_and(|t| t.starts_with("application/json")),
        "{request:?}"
    );
    let sent = request.json();
    assert_eq!(sent["model"], LLM_MODEL, "{sent}");
    let messages = sent["messages"]
        .as_array()
        .unwrap_or_else(|| panic!("no messages: {sent}"));
    assert_eq!(messages.len(), 2, "{sent}");
    assert_eq!(messages[0]["role"], "system", "{sent}");
    assert!(
        messages[0]["content"]
            .as_str()
            .is_some_and(|c| !c.is_empty()),
        "{sent}"
    );
    assert_eq!(messages[1]["role"], "user", "{sent}");
    let user = messages[1]["content"]
        .as_str()
        .unwrap_or_else(|| panic!("the user message is not text: {sent}"));
    for symbol in ["AAPL", "MSFT", "CASH"] {
        assert!(user.contains(symbol), "the prompt lacks {symbol}: {user}");
    }
    assert!(
        user.contains("4000"),
        "the prompt lacks the total value 4000: {user}"
    );
    assert!(
        sent.get("stream").is_none_or(|s| s == false),
        "the app asked for a stream it does not read: {sent}"
    );

    let log = app.log();
    assert!(
        !log.contains(LLM_KEY),
        "the LLM API key is in the log:\n{log}"
    );
}

#[test]
fn llm_without_an_api_key_sends_no_authorization() {
    let llm = FakeLlm::answering("Fine.");
    let url = llm.base_url();
    let app = TestApp::spawn_with(|cmd| {
        cmd.env("APP_LLM_URL", &url)
            .env("APP_LLM_MODEL", LLM_MODEL)
            .env("APP_ADMIN_TOKEN", ADMIN_TOKEN);
    });
    let body = analysis(&analyze_as_admin(&app.client(), &sample_holdings()));
    assert_eq!(body["provider"], "llm", "{body}");
    let requests = llm.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(
        requests[0].header("authorization"),
        None,
        "{:?}",
        requests[0]
    );
}

#[test]
fn llm_server_error_falls_back_to_the_builtin_analyst_with_a_note() {
    let llm = FakeLlm::start(Reply::Answer(
        500,
        json!({"error": {"message": "overloaded", "type": "server_error"}}).to_string(),
    ));
    let app = llm.spawn_app();
    let resp = analyze_as_admin(&app.client(), &sample_holdings());
    assert_fell_back(&resp, "HTTP 500");
    assert_eq!(llm.requests().len(), 1, "the app did not call the API");
    assert!(
        !resp.body.contains("overloaded"),
        "the API's error leaked: {}",
        resp.body
    );
}

#[test]
fn llm_junk_reply_falls_back_to_the_builtin_analyst() {
    let llm = FakeLlm::start(Reply::Answer(200, "<html>definitely not JSON".to_string()));
    let app = llm.spawn_app();
    assert_fell_back(
        &analyze_as_admin(&app.client(), &sample_holdings()),
        "junk body",
    );
    assert_eq!(llm.requests().len(), 1, "the app did not call the API");
}

#[test]
fn llm_reply_without_content_falls_back_to_the_builtin_analyst() {
    for reply in [
        json!({}),
        json!({"choices": []}),
        json!({"choices": [{"index": 0, "message": {"role": "assistant"}}]}),
        json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": ""}}]}),
        json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": 42}}]}),
    ] {
        let llm = FakeLlm::start(Reply::Answer(200, reply.to_string()));
        let app = llm.spawn_app();
        let resp = analyze_as_admin(&app.client(), &sample_holdings());
        assert_fell_back(&resp, &format!("reply {reply}"));
    }
}

#[test]
fn unreachable_llm_falls_back_to_the_builtin_analyst() {
    let port = crate::support::free_port();
    let app = TestApp::spawn_with(|cmd| {
        cmd.env("APP_LLM_URL", format!("http://127.0.0.1:{port}/v1"))
            .env("APP_LLM_MODEL", LLM_MODEL)
            .env("APP_ADMIN_TOKEN", ADMIN_TOKEN);
    });
    assert_fell_back(
        &analyze_as_admin(&app.client(), &sample_holdings()),
        "connection refused",
    );
}

#[test]
fn llm_that_never_answers_falls_back_within_25_seconds() {
    let llm = FakeLlm::start(Reply::Hang);
    let app = llm.spawn_app();
    let started = Instant::now();
    let resp = slow_analyze_as_admin(&app, &sample_holdings(), Duration::from_secs(40));
    let took = started.elapsed();
    assert_fell_back(&resp, "no answer");
    assert!(
        took <= Duration::from_secs(25),
        "the app waited {took:?} for a silent LLM"
    );
    assert_eq!(llm.requests().len(), 1, "the app did not call the API");
    // The server is still serving after the long wait.
    assert_eq!(app.client().get("/healthz").status, 200);
}
