//! `app billing-sync` (SPEC §7) against the fake Paddle API: it repairs a
//! subscription no webhook ever delivered, follows every page, keeps a
//! stored state that is newer than the API's, and says what changed.

use serde_json::{json, Value};

use super::billing_check::{
    billing_env, billing_vars, good_catalog, APP_SECRET, MONTHLY, WEBHOOK_SECRET,
};
use super::{stdout, succeeded, summary};
use crate::support::paddle::{deliver_signed, FakePaddle};
use crate::support::paddle_catalog::{self, event_of};
use crate::support::{sign_in, user_id, TestServer};

use app::clock::Timestamp;
use app::crypto::Keys;

/// Now plus `offset` seconds, as Paddle writes times.
fn at(offset: i64) -> String {
    let whole = Timestamp::now().plus(offset).to_string();
    format!("{}.{:06}Z", &whole[..19], 123_456)
}

/// A subscription entity as `GET /subscriptions` lists it, to the price
/// the app sells (only those give access, SPEC §7).
fn subscription(
    id: &str,
    customer: &str,
    status: &str,
    updated_at: &str,
    custom_data: Value,
) -> Value {
    let mut s = paddle_catalog::subscription(id, customer, status, updated_at, custom_data);
    s["items"][0]["price"]["id"] = MONTHLY.into();
    s
}

fn signed_for(user_id: i64) -> Value {
    let keys = Keys::derive(APP_SECRET.as_bytes());
    let sig = app::services::billing::custom_data::sign(&keys, user_id);
    json!({"user_id": user_id.to_string(), "sig": sig})
}

/// A server with billing on, once its own billing check at start is done:
/// that check reads the same fake catalog, and on a loaded machine it could
/// otherwise come late and take a failure a test sets up for the CLI.
fn spawn(paddle: &FakePaddle) -> TestServer {
    good_catalog(paddle);
    let app = TestServer::new().envs(billing_vars(paddle)).spawn();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let checked = |log: String| {
        log.contains("event=billing.checked") || log.contains("event=billing.check_error")
    };
    while !checked(app.log()) {
        assert!(
            std::time::Instant::now() < deadline,
            "no billing check at start; log:\n{}",
            app.log()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    app
}

fn deliver(app: &TestServer, entity: &Value, event_id: &str, kind: &str, occurred_at: &str) {
    let resp = deliver_signed(
        app,
        WEBHOOK_SECRET,
        &event_of(entity, event_id, kind, occurred_at),
    );
    assert_eq!(resp.status, 200, "{}\n{}", resp.summary(), app.log());
}

fn text(app: &TestServer, sql: &str) -> String {
    app.db()
        .query_row(sql, [], |r| r.get::<_, Option<String>>(0))
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .unwrap_or_default()
}

fn sync(app: &TestServer, paddle: &FakePaddle, args: &[&str]) -> Value {
    let mut all = vec!["billing-sync", "--json"];
    all.extend_from_slice(args);
    let out = app.cli_with(&all, billing_env(paddle));
    serde_json::from_str(&succeeded(&out, "billing-sync --json"))
        .unwrap_or_else(|e| panic!("{e}: {}", summary(&out)))
}

fn result_for<'v>(report: &'v Value, sub: &str) -> &'v Value {
    report["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["subscription_id"] == sub)
        .unwrap_or_else(|| panic!("no result for {sub}: {report}"))
}

#[test]
fn a_subscription_no_webhook_delivered_is_repaired_from_every_page() {
    let paddle = FakePaddle::start();
    let app = spawn(&paddle);
    let client = app.client();
    sign_in(&app, &client, "lost@example.com");
    let id = user_id(&app, "lost@example.com");
    // An old subscription of this customer was delivered and has ended.
    let old = subscription(
        "sub_01a_old",
        "ctm_01lost",
        "canceled",
        &at(-7200),
        signed_for(id),
    );
    deliver(&app, &old, "evt_old_canceled", "canceled", &at(-7199));
    assert_eq!(
        text(&app, &format!("SELECT tier FROM users WHERE id = {id}")),
        "free"
    );
    // The new one's webhooks never came; Paddle lists three, one per page.
    let new = subscription("sub_01b_new", "ctm_01lost", "active", &at(-60), Value::Null);
    let other = subscription(
        "sub_01c_other",
        "ctm_01lost",
        "canceled",
        &at(-3000),
        Value::Null,
    );
    paddle.catalog(|c| {
        c.subscriptions = vec![old.clone(), new.clone(), other.clone()];
        c.page_size = 1;
    });

    let out = app.cli_with(&["billing-sync"], billing_env(&paddle));
    let said = succeeded(&out, "billing-sync");
    let line = said
        .lines()
        .find(|l| l.starts_with("sub_01b_new"))
        .unwrap_or_else(|| panic!("nothing said of the new one: {said}"));
    assert!(
        line.contains("lost@example.com")
            && line.contains("created")
            && line.contains("tier: free → paid"),
        "{line}"
    );
    assert!(
        said.contains("synced 3 subscription(s) of 1 customer(s): 2 changed"),
        "{said}"
    );
    assert_eq!(
        text(&app, &format!("SELECT tier FROM users WHERE id = {id}")),
        "paid"
    );
    assert_eq!(
        text(
            &app,
            "SELECT status || ' ' || user_id FROM subscriptions WHERE id = 'sub_01b_new'"
        ),
        format!("active {id}")
    );
    let audit = text(
        &app,
        &format!("SELECT actor || ' ' || new_value || ' ' || note FROM access_audit WHERE user_id = {id} AND new_value = 'paid'"),
    );
    assert!(audit.starts_with("paddle paid billing-sync:"), "{audit}");
    // Every page was asked of APP_PADDLE_API_URL, though `next` names Paddle's host.
    let pages = paddle.catalog(|c| c.calls_to("/subscriptions?customer_id=ctm_01lost"));
    assert_eq!(pages.len(), 3, "{pages:?}");
    assert!(
        pages[1].path.contains("after=sub_01a_old") && pages[2].path.contains("after=sub_01b_new")
    );
    assert!(pages.iter().all(|c| c.authorization.is_some()));

    // A second sync finds nothing left to repair.
    let again = sync(&app, &paddle, &[]);
    assert_eq!(again["changed"], 0, "{again}");
    assert_eq!(again["subscriptions"], 3);
}

#[test]
fn a_newer_stored_state_wins_and_a_newer_api_state_repairs() {
    let paddle = FakePaddle::start();
    let app = spawn(&paddle);
    let client = app.client();
    sign_in(&app, &client, "kept@example.com");
    let id = user_id(&app, "kept@example.com");
    // Stored: active from a webhook a minute ago.
    let active = subscription(
        "sub_01kept",
        "ctm_01kept",
        "active",
        &at(-60),
        signed_for(id),
    );
    deliver(&app, &active, "evt_kept_active", "activated", &at(-60));
    // Stored: past due from an hour ago; the recovery's webhook was lost.
    let past_due = subscription(
        "sub_01fixed",
        "ctm_01kept",
        "past_due",
        &at(-3600),
        signed_for(id),
    );
    deliver(
        &app,
        &past_due,
        "evt_fixed_past_due",
        "past_due",
        &at(-3600),
    );
    paddle.catalog(|c| {
        c.subscriptions = vec![
            // Older than the stored state: a stale read, never applied.
            subscription(
                "sub_01kept",
                "ctm_01kept",
                "canceled",
                &at(-7200),
                signed_for(id),
            ),
            // Newer: the payment went through.
            subscription(
                "sub_01fixed",
                "ctm_01kept",
                "active",
                &at(-30),
                signed_for(id),
            ),
        ];
    });

    let report = sync(&app, &paddle, &["--email", "Kept@Example.com"]);
    let stale = result_for(&report, "sub_01kept");
    assert_eq!(stale["outcome"], "stale", "{report}");
    assert_eq!(stale["changes"], json!([]));
    assert_eq!(
        text(
            &app,
            "SELECT status FROM subscriptions WHERE id = 'sub_01kept'"
        ),
        "active"
    );
    let fixed = result_for(&report, "sub_01fixed");
    assert_eq!(fixed["outcome"], "updated", "{report}");
    assert_eq!(fixed["email"], "kept@example.com");
    assert!(
        fixed["changes"]
            .as_array()
            .unwrap()
            .contains(&json!("status: past_due → active")),
        "{report}"
    );
    assert_eq!(
        text(
            &app,
            "SELECT status FROM subscriptions WHERE id = 'sub_01fixed'"
        ),
        "active"
    );
    assert_eq!(report["changed"], 1);
    assert_eq!(
        text(&app, &format!("SELECT tier FROM users WHERE id = {id}")),
        "paid"
    );
}

#[test]
fn an_account_with_no_webhook_at_all_is_found_by_its_email() {
    let paddle = FakePaddle::start();
    let app = spawn(&paddle);
    let client = app.client();
    sign_in(&app, &client, "quiet+tag@example.com");
    let id = user_id(&app, "quiet+tag@example.com");
    paddle.add_customer("ctm_01quiet", "quiet+tag@example.com");
    paddle.catalog(|c| {
        c.subscriptions = vec![subscription(
            "sub_01quiet",
            "ctm_01quiet",
            "active",
            &at(-10),
            signed_for(id),
        )];
    });
    let out = app.cli_with(
        &["billing-sync", "--email", "quiet+tag@example.com"],
        billing_env(&paddle),
    );
    let said = succeeded(&out, "billing-sync --email");
    assert!(
        said.contains("sub_01quiet (quiet+tag@example.com, ctm_01quiet): created"),
        "{said}"
    );
    assert_eq!(
        text(&app, &format!("SELECT tier FROM users WHERE id = {id}")),
        "paid"
    );
    let lookups = paddle.catalog(|c| c.calls_to("/customers?email=quiet%2Btag%40example.com"));
    assert_eq!(lookups.len(), 1, "{lookups:?}");
}

#[test]
fn an_unknown_email_or_an_unreachable_paddle_is_an_error() {
    let paddle = FakePaddle::start();
    let app = spawn(&paddle);
    let out = app.cli_with(
        &["billing-sync", "--email", "nobody@example.com"],
        billing_env(&paddle),
    );
    super::assert_one_line_error(&out, "unknown email");
    // A customer Paddle cannot list right now: said, exit 1, others go on.
    let client = app.client();
    sign_in(&app, &client, "down@example.com");
    let id = user_id(&app, "down@example.com");
    let sub = subscription(
        "sub_01down",
        "ctm_01down",
        "active",
        &at(-60),
        signed_for(id),
    );
    deliver(&app, &sub, "evt_down", "created", &at(-60));
    paddle.catalog(|c| c.fail_next = (1, 500));
    let out = app.cli_with(&["billing-sync"], billing_env(&paddle));
    assert_eq!(out.status.code(), Some(1), "{}", summary(&out));
    assert!(
        stdout(&out).contains("ctm_01down: not read"),
        "{}",
        summary(&out)
    );
}

/// A customer's subscription to another product in the same Paddle account
/// is listed too: the sync says it is not ours and it grants nothing
/// (SPEC §7: only `APP_PADDLE_PRICE_ID` gives access).
#[test]
fn another_products_subscription_is_not_ours_and_grants_nothing() {
    let paddle = FakePaddle::start();
    let app = spawn(&paddle);
    let client = app.client();
    sign_in(&app, &client, "two@example.com");
    let id = user_id(&app, "two@example.com");
    paddle.add_customer("ctm_01two", "two@example.com");
    let mut other = subscription(
        "sub_01other",
        "ctm_01two",
        "active",
        &at(-10),
        signed_for(id),
    );
    other["items"][0]["price"]["id"] = "pri_01otherproduct".into();
    paddle.catalog(|c| c.subscriptions = vec![other]);
    let report = sync(&app, &paddle, &["--email", "two@example.com"]);
    let result = result_for(&report, "sub_01other");
    assert_eq!(result["outcome"], "not ours", "{report}");
    assert_eq!(result["changes"], json!([]), "{report}");
    assert_eq!(report["changed"], 0, "{report}");
    assert_eq!(
        text(&app, &format!("SELECT tier FROM users WHERE id = {id}")),
        "free"
    );
    assert_eq!(
        app.query_i64("SELECT count(*) FROM subscriptions WHERE id = 'sub_01other'"),
        0
    );
}

/// Paddle's rate limit (429 with `Retry-After`) is honoured, not reported
/// as a customer that cannot be read: the verb waits as long as Paddle
/// asked and asks again (SPEC §7: every call honours a `Retry-After`).
#[test]
fn a_rate_limited_list_waits_for_retry_after_and_asks_again() {
    let paddle = FakePaddle::start();
    let app = spawn(&paddle);
    let client = app.client();
    sign_in(&app, &client, "busy@example.com");
    let id = user_id(&app, "busy@example.com");
    let old = subscription(
        "sub_01busy_old",
        "ctm_01busy",
        "canceled",
        &at(-7200),
        signed_for(id),
    );
    deliver(&app, &old, "evt_busy_old", "canceled", &at(-7199));
    let new = subscription(
        "sub_01busy_new",
        "ctm_01busy",
        "active",
        &at(-60),
        Value::Null,
    );
    paddle.catalog(|c| {
        c.subscriptions = vec![old.clone(), new.clone()];
        c.fail_next = (1, 429);
        c.fail_retry_after = Some(1);
    });
    let report = sync(&app, &paddle, &["--email", "busy@example.com"]);
    assert_eq!(report["failed"], json!([]), "{report}");
    assert_eq!(result_for(&report, "sub_01busy_new")["outcome"], "created");
    assert_eq!(
        text(&app, &format!("SELECT tier FROM users WHERE id = {id}")),
        "paid"
    );
    let lists = paddle.catalog(|c| c.calls_to("/subscriptions?customer_id=ctm_01busy"));
    assert_eq!(lists.len(), 2, "the 429, then the same page again");
    assert!(
        lists[1].at.duration_since(lists[0].at) >= std::time::Duration::from_secs(1),
        "asked again before Paddle's Retry-After"
    );
}
