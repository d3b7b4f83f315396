//! The checkout in the page (SPEC §7 "Checkout", §8 CSP): the Upgrade
//! button, the exact settings Paddle.js gets, the invitee's discount, and
//! the Content-Security-Policy that lets Paddle in only where it is needed.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::paddle::FakePaddle;
use crate::support::{self, csrf_in, user_id, Client, Resp, TestServer};

pub const SECRET: &str = "checkout-tests-secret-0123456789abcdef";
pub const PADDLE: [(&str, &str); 5] = [
    ("APP_SECRET", SECRET),
    ("APP_PADDLE_WEBHOOK_SECRET", "pdl_ntf_test_secret"),
    ("APP_PADDLE_API_KEY", "pdl_apikey_test"),
    ("APP_PADDLE_CLIENT_TOKEN", "test_clienttoken"),
    ("APP_PADDLE_PRICE_ID", "pri_01monthly"),
];

/// A server with Paddle billing configured, plus `extra` variables.
pub fn spawn_with_paddle(extra: &[(&str, &str)]) -> TestServer {
    let extra: Vec<(String, String)> = extra
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    TestServer::new().envs(PADDLE).envs(extra.clone()).spawn()
}

/// A client signed in as `email`, and the user's id.
pub fn signed_in(app: &TestServer, email: &str) -> (Client, i64) {
    (support::signed_in(app, email), user_id(app, email))
}

pub fn get_ok(client: &Client, path: &str) -> Resp {
    let page = client.get(path);
    assert_eq!(page.status, 200, "GET {path}: {}", page.summary());
    page
}

/// The JSON of `<script type="application/json" id="paddle-checkout">`.
pub fn checkout_json(html: &str) -> Option<Value> {
    let open = r#"<script type="application/json" id="paddle-checkout">"#;
    let start = html.find(open)? + open.len();
    let end = start + html[start..].find("</script>")?;
    Some(serde_json::from_str(&html[start..end]).unwrap_or_else(|e| {
        panic!(
            "checkout settings are not JSON ({e}): {}",
            &html[start..end]
        )
    }))
}

pub fn has_upgrade_button(html: &str) -> bool {
    html.contains("data-checkout") && html.contains(">Upgrade</button>")
}

pub fn csp(resp: &Resp) -> &str {
    resp.header("content-security-policy")
        .unwrap_or_else(|| panic!("no CSP: {}", resp.summary()))
}

/// The strict policy every page without a checkout keeps.
pub fn assert_strict_csp(resp: &Resp, what: &str) {
    let policy = csp(resp);
    assert!(
        !policy.contains("paddle"),
        "{what}: Paddle allowed: {policy}"
    );
    assert!(policy.contains("script-src 'self';"), "{what}: {policy}");
}

/// Bob invited by Alice, as sign-in through her link records it.
fn refer(app: &TestServer, referrer: i64, referred: i64) {
    let db = app.db();
    db.execute(
        "UPDATE users SET referred_by_user_id = ?1 WHERE id = ?2",
        [referrer, referred],
    )
    .unwrap();
    db.execute(
        "INSERT INTO referrals (referrer_user_id, referred_user_id, created_at)
         VALUES (?1, ?2, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))",
        [referrer, referred],
    )
    .unwrap();
}

fn sig_for(user_id: i64) -> String {
    let keys = app::crypto::Keys::derive(SECRET.as_bytes());
    app::services::billing::custom_data::sign(&keys, user_id)
}

/// A server with billing configured against `paddle`, plus `extra`.
pub fn spawn_with_fake(paddle: &FakePaddle, extra: &[(&str, &str)]) -> TestServer {
    let mut all = vec![("APP_PADDLE_API_URL", paddle.url())];
    all.extend_from_slice(extra);
    spawn_with_paddle(&all)
}

/// The Upgrade button as `assets/app.js` sends it: the page's form, asking
/// for JSON, plus any `extra` fields a browser might add.
pub fn start_checkout(client: &Client, extra: &[(&str, &str)]) -> Resp {
    let csrf = csrf_in(&get_ok(client, "/settings").body);
    let mut fields = vec![("csrf", csrf.as_str())];
    fields.extend_from_slice(extra);
    client.post_form_with(
        "/billing/checkout",
        &fields,
        &[("Accept", "application/json")],
    )
}

/// The transaction id `POST /billing/checkout` answered the script with.
pub fn transaction_id(resp: &Resp) -> String {
    assert_eq!(resp.status, 200, "{}", resp.summary());
    assert_eq!(resp.header("cache-control"), Some("no-store"));
    let v: Value = serde_json::from_str(&resp.body).unwrap();
    assert_eq!(v.as_object().map(|o| o.len()), Some(1), "{v}");
    v["transaction_id"].as_str().unwrap().to_string()
}

/// The body of the last `POST /transactions` the app made.
fn last_transaction(paddle: &FakePaddle) -> Value {
    let calls = paddle.calls_to("POST", "/transactions");
    calls.last().expect("no POST /transactions").body.clone()
}

#[test]
fn a_free_user_gets_the_upgrade_button_with_exactly_the_spec_settings() {
    let paddle = FakePaddle::start();
    let app = spawn_with_fake(&paddle, &[("APP_PADDLE_REFERRAL_DISCOUNT_ID", "dsc_01ref")]);
    let (ann, ann_id) = signed_in(&app, "ann@example.com");
    let page = get_ok(&ann, "/settings");
    assert!(
        has_upgrade_button(&page.body),
        "no Upgrade button:\n{}",
        page.body
    );
    // The page says nothing of price, discount or account: no browser
    // chooses them.
    let settings = checkout_json(&page.body).expect("no checkout settings in the page");
    assert_eq!(
        settings,
        json!({"environment": "sandbox", "token": "test_clienttoken", "invited": false})
    );
    assert!(page.body.contains(r#"data-email="ann@example.com""#));
    assert!(
        !page.body.contains("pri_01monthly") && !page.body.contains("dsc_01ref"),
        "a price or discount id in the page"
    );

    // The click: the server makes the transaction, whatever the form adds.
    let forged = [
        ("price_id", "pri_01free"),
        ("discount_id", "dsc_01ref"),
        ("customer_id", "ctm_01someoneelse"),
        ("user_id", "999"),
    ];
    let txn = transaction_id(&start_checkout(&ann, &forged));
    assert_eq!(txn, "txn_fake000001");
    let made = last_transaction(&paddle);
    assert_eq!(
        made,
        json!({
            "items": [{"price_id": "pri_01monthly", "quantity": 1}],
            "custom_data": {"user_id": ann_id.to_string(), "sig": sig_for(ann_id)},
        })
    );
    let call = &paddle.calls_to("POST", "/transactions")[0];
    assert_eq!(
        call.authorization.as_deref(),
        Some("Bearer pdl_apikey_test")
    );
    assert_eq!(call.paddle_version.as_deref(), Some("1"));
    // The sig is what a webhook trusts: it verifies for Ann and no one else.
    let keys = app::crypto::Keys::derive(SECRET.as_bytes());
    let verify = |data: &Value| app::services::billing::custom_data::verified_user_id(&keys, data);
    assert_eq!(verify(&made["custom_data"]), Some(ann_id));
    let mut forged = made["custom_data"].clone();
    forged["user_id"] = (ann_id + 1).to_string().into();
    assert_eq!(verify(&forged), None);
    assert!(
        !page.body.contains("Invited by a friend: 50%"),
        "Ann was not invited"
    );
    assert!(
        !page.body.contains("pdl_apikey_test") && !page.body.contains("pdl_ntf_test_secret"),
        "a secret in the page"
    );

    // Without script, the plain form gets a page that opens the checkout
    // on the transaction (and lets Paddle.js in).
    let csrf = csrf_in(&page.body);
    let plain = ann.post_form("/billing/checkout", &[("csrf", &csrf)]);
    assert_eq!(plain.status, 200, "{}", plain.summary());
    assert_eq!(
        checkout_json(&plain.body).unwrap(),
        json!({"environment": "sandbox", "token": "test_clienttoken", "invited": false,
               "transactionId": "txn_fake000002"})
    );
    assert!(plain.body.contains("data-checkout-open"), "{}", plain.body);
    assert!(csp(&plain).contains("script-src 'self' https://cdn.paddle.com;"));

    // A forged form asks Paddle nothing.
    let before = paddle.calls_to("POST", "/transactions").len();
    let refused = ann.post_form_with(
        "/billing/checkout",
        &[("csrf", "forged")],
        &[("Accept", "application/json")],
    );
    assert_eq!(refused.status, 403, "{}", refused.summary());
    assert_eq!(paddle.calls_to("POST", "/transactions").len(), before);
}

#[test]
fn an_invited_user_gets_the_discount_until_their_referral_converts() {
    let paddle = FakePaddle::start();
    let app = spawn_with_fake(
        &paddle,
        &[("APP_PADDLE_REFERRAL_DISCOUNT_ID", "dsc_01referral")],
    );
    let (alice, alice_id) = signed_in(&app, "alice@example.com");
    let (bob, bob_id) = signed_in(&app, "bob@example.com");
    refer(&app, alice_id, bob_id);

    let page = get_ok(&bob, "/settings");
    let settings = checkout_json(&page.body).unwrap();
    assert_eq!(settings["invited"], true, "{settings}");
    assert!(
        page.body
            .contains("Invited by a friend: 50% off your first 3 months"),
        "no invited note near the button:\n{}",
        page.body
    );
    assert!(
        !page.body.contains("dsc_01referral"),
        "the discount id in the page"
    );
    let portfolio = get_ok(&bob, "/portfolio");
    assert_eq!(checkout_json(&portfolio.body).unwrap()["invited"], true);
    transaction_id(&start_checkout(&bob, &[]));
    assert_eq!(last_transaction(&paddle)["discount_id"], "dsc_01referral");

    let referrer = checkout_json(&get_ok(&alice, "/settings").body).unwrap();
    assert_eq!(referrer["invited"], false, "{referrer}");
    transaction_id(&start_checkout(
        &alice,
        &[("discount_id", "dsc_01referral")],
    ));
    let theirs = last_transaction(&paddle);
    assert!(
        theirs.get("discount_id").is_none(),
        "the referrer's own checkout has no discount: {theirs}"
    );

    app.db()
        .execute(
            "UPDATE referrals SET converted_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE referred_user_id = ?1",
            [bob_id],
        )
        .unwrap();
    let page = get_ok(&bob, "/settings");
    let settings = checkout_json(&page.body).unwrap();
    assert_eq!(settings["invited"], false, "converted: {settings}");
    assert!(!page.body.contains("Invited by a friend: 50%"));
    transaction_id(&start_checkout(&bob, &[]));
    let after = last_transaction(&paddle);
    assert!(after.get("discount_id").is_none(), "converted: {after}");
}

/// Unset, the reward discount is created by the worker at the first start
/// with billing on, before anyone is invited, and kept: every invitee's
/// checkout carries it, and a restart makes no second one.
#[test]
fn the_discount_the_app_created_at_its_first_start_is_read_from_the_database() {
    let paddle = FakePaddle::start();
    let mut app = spawn_with_fake(&paddle, &[]);
    let created = paddle.wait_for("POST", "/discounts", 1, Duration::from_secs(10));
    assert_eq!(created.len(), 1, "not created at start:\n{}", app.log());
    assert_eq!(created[0].body["enabled_for_checkout"], false);
    assert_eq!(created[0].body["restrict_to"], json!(["pri_01monthly"]));
    // Its cycle read first (serve's check at start reads it too).
    let read = paddle.catalog(|c| c.calls_to("/prices/pri_01monthly"));
    assert!(!read.is_empty(), "its cycle read");
    let kept = || -> Option<String> {
        app.db()
            .query_row(
                "SELECT value FROM meta WHERE key = 'paddle_referral_discount_id'",
                [],
                |r| r.get(0),
            )
            .ok()
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while kept().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(kept().as_deref(), Some("dsc_fake000001"));

    let (_alice, alice_id) = signed_in(&app, "alice@example.com");
    let (bob, bob_id) = signed_in(&app, "bob@example.com");
    refer(&app, alice_id, bob_id);
    let page = get_ok(&bob, "/settings");
    assert!(page.body.contains("Invited by a friend: 50%"));
    transaction_id(&start_checkout(&bob, &[]));
    assert_eq!(last_transaction(&paddle)["discount_id"], "dsc_fake000001");

    app.kill();
    app.restart();
    transaction_id(&start_checkout(&bob, &[]));
    assert_eq!(last_transaction(&paddle)["discount_id"], "dsc_fake000001");
    assert_eq!(
        paddle.calls_to("POST", "/discounts").len(),
        1,
        "kept, not made again"
    );
}

/// When the start could not make the discount (Paddle refused it then),
/// an invitee's checkout makes it first, on the paddle pool: an invitee
/// never pays full price for want of it.
#[test]
fn an_invitees_checkout_makes_the_discount_first_if_it_is_missing() {
    let paddle = FakePaddle::start();
    paddle.fail_calls(Some("POST"), "/discounts", 1, 403, "forbidden", None);
    let app = spawn_with_fake(&paddle, &[]);
    let first = paddle.wait_for("POST", "/discounts", 1, Duration::from_secs(10));
    assert_eq!(first.len(), 1, "tried at start:\n{}", app.log());
    let (_alice, alice_id) = signed_in(&app, "alice@example.com");
    let (bob, bob_id) = signed_in(&app, "bob@example.com");
    refer(&app, alice_id, bob_id);
    transaction_id(&start_checkout(&bob, &[]));
    assert_eq!(paddle.calls_to("POST", "/discounts").len(), 2);
    assert_eq!(last_transaction(&paddle)["discount_id"], "dsc_fake000001");
    let kept: String = app
        .db()
        .query_row(
            "SELECT value FROM meta WHERE key = 'paddle_referral_discount_id'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(kept, "dsc_fake000001");
}

#[test]
fn a_checkout_paddle_cannot_make_is_a_clear_503_and_clicks_are_limited() {
    let paddle = FakePaddle::start();
    let app = spawn_with_fake(&paddle, &[("APP_PADDLE_REFERRAL_DISCOUNT_ID", "dsc_01ref")]);
    let (ann, ann_id) = signed_in(&app, "ann@example.com");
    paddle.fail_calls(
        Some("POST"),
        "/transactions",
        1,
        500,
        "internal_error",
        None,
    );
    let failed = start_checkout(&ann, &[]);
    assert_eq!(failed.status, 503, "{}", failed.summary());
    assert_eq!(failed.header("retry-after"), Some("60"));
    assert!(
        failed
            .body
            .contains("The checkout can't be opened right now"),
        "{}",
        failed.body
    );
    assert!(!failed.body.contains("internal_error") && !failed.body.contains("127.0.0.1"));
    // Five a minute per person (the failed one counts), then 429.
    for _ in 0..4 {
        transaction_id(&start_checkout(&ann, &[]));
    }
    let limited = start_checkout(&ann, &[]);
    assert_eq!(limited.status, 429, "{}", limited.summary());
    assert!(limited.header("retry-after").is_some());
    assert_eq!(paddle.calls_to("POST", "/transactions").len(), 5);
    // A subscriber, or a paid tier, has nothing to buy: 400, Paddle not asked.
    app.db()
        .execute(
            "INSERT INTO subscriptions (id, user_id, customer_id, status, event_occurred_at, created_at, updated_at)
             VALUES ('sub_01ann', ?1, 'ctm_01ann', 'active', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')",
            [ann_id],
        )
        .unwrap();
    let subscribed = ann.post_form_with(
        "/billing/checkout",
        &[("csrf", &csrf_in(&get_ok(&ann, "/portfolio").body))],
        &[("Accept", "application/json")],
    );
    assert_eq!(subscribed.status, 400, "{}", subscribed.summary());
    let (bob, _) = signed_in(&app, "bob@example.com");
    let csrf = csrf_in(&get_ok(&bob, "/settings").body);
    let out = app.cli(&["set-tier", "--email", "bob@example.com", "--tier", "paid"]);
    assert!(out.status.success(), "{out:?}");
    let paid = bob.post_form_with(
        "/billing/checkout",
        &[("csrf", &csrf)],
        &[("Accept", "application/json")],
    );
    assert_eq!(paid.status, 400, "{}", paid.summary());
    assert_eq!(paddle.calls_to("POST", "/transactions").len(), 5);
}

/// A returning customer (a canceled subscription before) checks out as
/// the same Paddle customer.
#[test]
fn a_returning_customer_checks_out_as_the_same_paddle_customer() {
    let paddle = FakePaddle::start();
    let app = spawn_with_fake(&paddle, &[("APP_PADDLE_REFERRAL_DISCOUNT_ID", "dsc_01ref")]);
    let (ann, ann_id) = signed_in(&app, "ann@example.com");
    app.db()
        .execute(
            "INSERT INTO subscriptions (id, user_id, customer_id, status, event_occurred_at, created_at, updated_at)
             VALUES ('sub_01ann', ?1, 'ctm_01ann', 'canceled', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')",
            [ann_id],
        )
        .unwrap();
    transaction_id(&start_checkout(&ann, &[("customer_id", "ctm_01other")]));
    assert_eq!(last_transaction(&paddle)["customer_id"], "ctm_01ann");
}

#[test]
fn without_billing_configured_there_is_no_button_and_the_strict_csp() {
    let app = TestServer::new().spawn();
    let (ann, _) = signed_in(&app, "ann@example.com");
    for path in ["/settings", "/portfolio"] {
        let page = get_ok(&ann, path);
        assert!(checkout_json(&page.body).is_none(), "{path}: checkout JSON");
        assert!(!has_upgrade_button(&page.body), "{path}: Upgrade button");
        assert!(page.body.contains("upgrade-hint"), "{path}: the hint stays");
        assert_strict_csp(&page, path);
    }
    let csrf = csrf_in(&get_ok(&ann, "/settings").body);
    let portal = ann.post_form("/billing/portal", &[("csrf", &csrf)]);
    assert_eq!(portal.status, 404, "billing is off: {}", portal.summary());
}

#[test]
fn paddle_is_let_in_only_on_pages_that_carry_the_checkout() {
    let app = spawn_with_paddle(&[]);
    let anonymous = app.client();
    for path in ["/", "/login"] {
        assert_strict_csp(&get_ok(&anonymous, path), path);
    }
    let (ann, _) = signed_in(&app, "ann@example.com");
    for path in ["/settings", "/portfolio"] {
        let page = get_ok(&ann, path);
        assert!(checkout_json(&page.body).is_some(), "{path}: no checkout");
        let policy = csp(&page);
        assert!(
            policy.contains("script-src 'self' https://cdn.paddle.com;"),
            "{path}: {policy}"
        );
        assert!(
            policy.contains("frame-src https://sandbox-buy.paddle.com;"),
            "{path}: {policy}"
        );
        assert!(
            policy.contains("frame-ancestors 'none'"),
            "{path}: {policy}"
        );
        // Paddle.js styles its overlay at run time; scripts stay strict.
        assert!(
            policy.contains("style-src 'self' 'unsafe-inline';"),
            "{path}: {policy}"
        );
        assert!(
            policy.contains("img-src 'self' data: https://cdn.paddle.com;"),
            "{path}: {policy}"
        );
        assert!(
            policy.contains("connect-src 'self' https://sandbox-checkout-service.paddle.com;"),
            "{path}: {policy}"
        );
        assert_eq!(policy.matches("unsafe").count(), 1, "{path}: {policy}");
        assert!(
            policy.contains("report-uri /csp-report"),
            "{path}: {policy}"
        );
    }
    assert_strict_csp(&ann.get("/api/me"), "/api/me");

    // A paid user has nothing to buy: no checkout, the strict policy.
    let out = app.cli(&["set-tier", "--email", "ann@example.com", "--tier", "paid"]);
    assert!(out.status.success(), "{out:?}");
    for path in ["/settings", "/portfolio"] {
        let page = get_ok(&ann, path);
        assert!(checkout_json(&page.body).is_none(), "{path}: checkout");
        assert!(!has_upgrade_button(&page.body), "{path}: Upgrade button");
        assert_strict_csp(&page, path);
    }
}

#[test]
fn the_live_environment_opens_paddles_live_checkout() {
    let app = spawn_with_paddle(&[("APP_PADDLE_ENV", "live")]);
    let (ann, _) = signed_in(&app, "ann@example.com");
    let page = get_ok(&ann, "/settings");
    assert_eq!(
        checkout_json(&page.body).unwrap()["environment"],
        "production"
    );
    let policy = csp(&page);
    assert!(
        policy.contains("frame-src https://buy.paddle.com;"),
        "{policy}"
    );
    assert!(!policy.contains("sandbox"), "{policy}");
}
