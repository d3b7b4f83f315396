//! `app billing-check` (SPEC §7) against the fake Paddle API: a good setup
//! passes line by line, and each kind of bad one fails its own line with
//! exit 1. `serve` runs the same checks at start and only logs.

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{stderr, stdout, succeeded, summary};
use crate::support::paddle::FakePaddle;
use crate::support::paddle_catalog::{discount, price};
use crate::support::TestServer;

pub const API_KEY: &str = "pdl_sdbx_apikey_operator";
pub const WEBHOOK_SECRET: &str = "pdl_ntf_01operator_abcdefghijklmnopqrstuvwxyz";
pub const APP_SECRET: &str = "operator-tests-secret-0123456789abcdef01234567";
pub const MONTHLY: &str = "pri_01monthly";
pub const YEARLY: &str = "pri_01yearly";
pub const DISCOUNT: &str = "dsc_01referral";

/// Billing configured against `paddle`, selling `MONTHLY` (and `YEARLY`).
pub fn billing_vars(paddle: &FakePaddle) -> Vec<(&'static str, String)> {
    vec![
        ("APP_SECRET", APP_SECRET.into()),
        ("APP_PADDLE_WEBHOOK_SECRET", WEBHOOK_SECRET.into()),
        ("APP_PADDLE_API_KEY", API_KEY.into()),
        ("APP_PADDLE_CLIENT_TOKEN", "test_clienttoken".into()),
        ("APP_PADDLE_PRICE_ID", format!("{MONTHLY},{YEARLY}")),
        ("APP_PADDLE_REFERRAL_DISCOUNT_ID", DISCOUNT.into()),
        ("APP_PADDLE_API_URL", paddle.url().to_string()),
    ]
}

/// The same variables for a CLI run (`cli_with`).
pub fn billing_env(paddle: &FakePaddle) -> impl Fn(&mut Command) {
    let vars = billing_vars(paddle);
    move |cmd: &mut Command| {
        cmd.envs(vars.iter().map(|(k, v)| (k, v)));
    }
}

/// The right discount for these prices: restricted to the monthly price
/// by its id and to the yearly one by its product.
fn good_discount() -> Value {
    let mut d = discount(DISCOUNT);
    let product = price(YEARLY, None)["product_id"].clone();
    d["restrict_to"] = serde_json::json!([MONTHLY, product]);
    d
}

/// A catalog that passes every check.
pub fn good_catalog(paddle: &FakePaddle) {
    paddle.catalog(|c| {
        c.api_key = Some(API_KEY.into());
        c.prices
            .insert(MONTHLY.into(), price(MONTHLY, Some(("month", 1))));
        c.prices
            .insert(YEARLY.into(), price(YEARLY, Some(("year", 1))));
        c.discounts.insert(DISCOUNT.into(), good_discount());
    });
}

fn spawn(paddle: &FakePaddle) -> TestServer {
    good_catalog(paddle);
    TestServer::new().envs(billing_vars(paddle)).spawn()
}

/// `(mark, name)` of each line before the summary.
fn lines(out: &str) -> Vec<(String, String)> {
    out.lines()
        .filter(|l| l.starts_with("ok") || l.starts_with("FAIL"))
        .map(|l| {
            let mut words = l.split_whitespace();
            let mark = words.next().unwrap_or("").to_string();
            (mark, l[4..].trim().to_string())
        })
        .collect()
}

#[test]
fn a_good_setup_passes_every_check_one_line_each() {
    let paddle = FakePaddle::start();
    let app = spawn(&paddle);
    let out = app.cli_with(&["billing-check"], billing_env(&paddle));
    let text = succeeded(&out, "billing-check");
    let checks = lines(&text);
    let names: Vec<&str> = checks.iter().map(|(_, rest)| rest.as_str()).collect();
    for want in [
        "api key prefix",
        "client token prefix",
        "api key accepted",
        &format!("price {MONTHLY}"),
        &format!("price {YEARLY}"),
        &format!("discount {DISCOUNT}"),
        "discount value",
        "discount applies",
        "discount not at checkout",
    ] {
        assert!(
            names.iter().any(|n| n.starts_with(want)),
            "no line for {want:?}: {text}"
        );
    }
    assert!(checks.iter().all(|(mark, _)| mark == "ok"), "{text}");
    assert!(text.contains("all 9 checks passed"), "{text}");
    assert!(!text.contains(API_KEY), "the key is never printed");
    let key_calls = paddle.catalog(|c| c.calls_to("/event-types"));
    assert!(
        key_calls
            .iter()
            .any(|c| c.authorization.as_deref() == Some(&format!("Bearer {API_KEY}"))),
        "a real authenticated GET: {key_calls:?}"
    );

    let out = app.cli_with(&["billing-check", "--json"], billing_env(&paddle));
    let v: Value = serde_json::from_str(&succeeded(&out, "--json")).unwrap();
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["environment"], "sandbox");
    assert_eq!(v["checks"].as_array().unwrap().len(), 9);
    assert!(v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["ok"] == true && c["detail"].is_string()));
}

/// Runs the check with one thing spoiled; expects exit 1, the failed line
/// named `failing` saying `says`, and one line on stderr.
fn assert_fails(
    app: &TestServer,
    paddle: &FakePaddle,
    env: &[(&str, &str)],
    failing: &str,
    says: &str,
) {
    let out = app.cli_with(&["billing-check"], |cmd| {
        billing_env(paddle)(cmd);
        for (k, v) in env {
            cmd.env(k, v);
        }
    });
    let what = format!("{failing} ({says})");
    assert_eq!(out.status.code(), Some(1), "{what}: {}", summary(&out));
    let text = stdout(&out);
    let line = text
        .lines()
        .find(|l| l.starts_with("FAIL") && l[4..].trim().starts_with(failing))
        .unwrap_or_else(|| panic!("{what}: no FAIL line: {}", summary(&out)));
    assert!(line.contains(says), "{what}: {line}");
    let err = stderr(&out);
    assert!(
        err.starts_with("error: ")
            && err.trim_end().lines().count() == 1
            && err.contains("checks failed"),
        "{what}: {err}"
    );
}

#[test]
fn each_kind_of_bad_setup_fails_its_own_line() {
    let paddle = FakePaddle::start();
    let app = spawn(&paddle);
    // Keys that do not fit the environment, or do not work.
    assert_fails(
        &app,
        &paddle,
        &[("APP_PADDLE_API_KEY", "pdl_live_apikey")],
        "api key prefix",
        "pdl_live_",
    );
    assert_fails(
        &app,
        &paddle,
        &[("APP_PADDLE_CLIENT_TOKEN", "live_token")],
        "client token prefix",
        "test_",
    );
    assert_fails(
        &app,
        &paddle,
        &[("APP_PADDLE_API_KEY", "pdl_sdbx_revoked")],
        "api key accepted",
        "invalid_token",
    );
    assert_fails(
        &app,
        &paddle,
        &[
            ("APP_PADDLE_ENV", "live"),
            ("APP_PADDLE_CLIENT_TOKEN", "live_token"),
        ],
        "api key prefix",
        "pdl_sdbx_",
    );
    // Prices: unknown, archived, one-time, weekly.
    assert_fails(
        &app,
        &paddle,
        &[("APP_PADDLE_PRICE_ID", &format!("{MONTHLY},pri_01gone"))],
        "price pri_01gone",
        "entity_not_found",
    );
    let spoil = |id: &str, change: &dyn Fn(&mut Value)| {
        paddle.catalog(|c| change(c.prices.get_mut(id).unwrap()));
    };
    spoil(YEARLY, &|p| p["status"] = "archived".into());
    assert_fails(&app, &paddle, &[], &format!("price {YEARLY}"), "archived");
    spoil(YEARLY, &|p| *p = price(YEARLY, None));
    assert_fails(&app, &paddle, &[], &format!("price {YEARLY}"), "one-time");
    spoil(YEARLY, &|p| *p = price(YEARLY, Some(("week", 2))));
    assert_fails(&app, &paddle, &[], &format!("price {YEARLY}"), "week");
    spoil(YEARLY, &|p| *p = price(YEARLY, Some(("day", 30))));
    assert_fails(&app, &paddle, &[], &format!("price {YEARLY}"), "day");
    spoil(YEARLY, &|p| *p = price(YEARLY, Some(("year", 1))));
    // The discount: archived, typed in at checkout, worth the wrong amount.
    let spoil_discount = |change: &dyn Fn(&mut Value)| {
        paddle.catalog(|c| {
            let mut d = good_discount();
            change(&mut d);
            c.discounts.insert(DISCOUNT.into(), d);
        });
    };
    spoil_discount(&|d| d["status"] = "archived".into());
    assert_fails(
        &app,
        &paddle,
        &[],
        &format!("discount {DISCOUNT}"),
        "archived",
    );
    spoil_discount(&|d| d["enabled_for_checkout"] = true.into());
    assert_fails(
        &app,
        &paddle,
        &[],
        "discount not at checkout",
        "enabled_for_checkout is true",
    );
    spoil_discount(&|d| d["amount"] = "25".into());
    assert_fails(&app, &paddle, &[], "discount value", "percentage 50 for 3");
    spoil_discount(&|d| d["maximum_recurring_intervals"] = Value::Null);
    assert_fails(&app, &paddle, &[], "discount value", "unlimited");
    spoil_discount(&|d| d["type"] = "flat".into());
    assert_fails(&app, &paddle, &[], "discount value", "flat");
    spoil_discount(&|d| d["restrict_to"] = serde_json::json!(["pri_01other"]));
    assert_fails(
        &app,
        &paddle,
        &[],
        "discount applies",
        &format!("leaves out {MONTHLY}, {YEARLY}"),
    );
    spoil_discount(&|_| {});
    // Selling the yearly price wants 12.50% for one interval.
    assert_fails(
        &app,
        &paddle,
        &[("APP_PADDLE_PRICE_ID", YEARLY)],
        "discount value",
        "percentage 12.50 for 1",
    );
    spoil_discount(&|d| {
        d["amount"] = "12.5".into();
        d["maximum_recurring_intervals"] = 1.into();
    });
    let out = app.cli_with(&["billing-check"], |cmd| {
        billing_env(&paddle)(cmd);
        cmd.env("APP_PADDLE_PRICE_ID", YEARLY);
    });
    succeeded(&out, "a yearly price with its yearly discount");
    // A discount the app created and kept, gone from Paddle.
    app.db()
        .execute(
            "INSERT INTO meta (key, value) VALUES ('paddle_referral_discount_id', 'dsc_01kept')",
            [],
        )
        .unwrap();
    assert_fails(
        &app,
        &paddle,
        &[("APP_PADDLE_REFERRAL_DISCOUNT_ID", "")],
        "discount dsc_01kept",
        "entity_not_found",
    );
}

#[test]
fn without_billing_configured_it_says_so_in_one_line() {
    let app = TestServer::new().spawn();
    let out = app.cli(&["billing-check"]);
    super::assert_one_line_error(&out, "billing off");
    assert!(
        stderr(&out).contains("APP_PADDLE_API_KEY"),
        "{}",
        summary(&out)
    );
}

#[test]
fn serve_runs_the_checks_at_start_and_only_logs_failures() {
    let paddle = FakePaddle::start();
    good_catalog(&paddle);
    let app = TestServer::new()
        .envs(billing_vars(&paddle))
        .env("APP_PADDLE_PRICE_ID", format!("{MONTHLY},pri_01gone"))
        .spawn();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !app.log().contains("event=billing.checked") {
        assert!(
            Instant::now() < deadline,
            "no check at start; log:\n{}",
            app.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = app.log();
    let failed: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("event=billing.check_failed"))
        .collect();
    assert_eq!(failed.len(), 1, "{log}");
    assert!(
        failed[0].contains("pri_01gone") && failed[0].contains("entity_not_found"),
        "{log}"
    );
    assert!(!log.contains(API_KEY), "the key is never logged");
    let health = app.client().get("/healthz");
    assert_eq!(health.status, 200, "the server started anyway");
}
