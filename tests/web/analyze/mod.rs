//! `POST /api/analyze`: the paid gate in front of it (SPEC §4, §5), the
//! built-in analyst, and the LLM analyst against a small OpenAI-compatible
//! server started inside the test, with its fallbacks (SPEC §2, issue 5).

mod gate;
mod input;
mod llm;

use serde_json::{json, Value};

use crate::support::{json_error, json_of, paid_user, signed_in, Client, Resp, TestServer};

const ADMIN_TOKEN: &str = "admin-token-for-tests-0123456789abcdef";

/// Runs the CLI; it must succeed.
fn cli_ok(app: &TestServer, args: &[&str]) {
    let out = app.cli(args);
    assert!(
        out.status.success(),
        "app {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A signed-in free user with a 30-day credit.
fn credited_user(app: &TestServer, email: &str) -> Client {
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
