//! The checkout in the page (SPEC §7 "Checkout", §8 CSP): the Upgrade
//! button, the exact settings Paddle.js gets, the invitee's discount, and
//! the Content-Security-Policy that lets Paddle in only where it is needed.

use rusqlite::params;
use serde_json::{json, Value};

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

#[test]
fn a_free_user_gets_the_upgrade_button_with_exactly_the_spec_settings() {
    let app = spawn_with_paddle(&[]);
    let (ann, ann_id) = signed_in(&app, "ann@example.com");
    let page = get_ok(&ann, "/settings");
    assert!(
        has_upgrade_button(&page.body),
        "no Upgrade button:\n{}",
        page.body
    );
    let settings = checkout_json(&page.body).expect("no checkout settings in the page");
    assert_eq!(
        settings,
        json!({
            "environment": "sandbox",
            "token": "test_clienttoken",
            "items": [{"priceId": "pri_01monthly", "quantity": 1}],
            "customer": {"email": "ann@example.com"},
            "customData": {"user_id": ann_id.to_string(), "sig": sig_for(ann_id)},
        })
    );
    // The sig is what a webhook trusts: it verifies for Ann and no one else.
    let keys = app::crypto::Keys::derive(SECRET.as_bytes());
    let verify = |data: &Value| app::services::billing::custom_data::verified_user_id(&keys, data);
    assert_eq!(verify(&settings["customData"]), Some(ann_id));
    let mut forged = settings["customData"].clone();
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
}

#[test]
fn an_invited_user_gets_the_discount_until_their_referral_converts() {
    let app = spawn_with_paddle(&[("APP_PADDLE_REFERRAL_DISCOUNT_ID", "dsc_01referral")]);
    let (alice, alice_id) = signed_in(&app, "alice@example.com");
    let (bob, bob_id) = signed_in(&app, "bob@example.com");
    refer(&app, alice_id, bob_id);

    let page = get_ok(&bob, "/settings");
    let settings = checkout_json(&page.body).unwrap();
    assert_eq!(settings["discountId"], "dsc_01referral", "{settings}");
    assert!(
        page.body
            .contains("Invited by a friend: 50% off your first 3 months"),
        "no invited note near the button:\n{}",
        page.body
    );
    let portfolio = get_ok(&bob, "/portfolio");
    assert_eq!(
        checkout_json(&portfolio.body).unwrap()["discountId"],
        "dsc_01referral"
    );

    let referrer = checkout_json(&get_ok(&alice, "/settings").body).unwrap();
    assert!(
        referrer.get("discountId").is_none(),
        "the referrer's own checkout has no discount: {referrer}"
    );

    app.db()
        .execute(
            "UPDATE referrals SET converted_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE referred_user_id = ?1",
            [bob_id],
        )
        .unwrap();
    let page = get_ok(&bob, "/settings");
    let settings = checkout_json(&page.body).unwrap();
    assert!(
        settings.get("discountId").is_none(),
        "converted: {settings}"
    );
    assert!(!page.body.contains("Invited by a friend: 50%"));
}

#[test]
fn the_discount_the_app_created_is_read_from_the_database() {
    let app = spawn_with_paddle(&[]);
    let (_alice, alice_id) = signed_in(&app, "alice@example.com");
    let (bob, bob_id) = signed_in(&app, "bob@example.com");
    refer(&app, alice_id, bob_id);

    let settings = checkout_json(&get_ok(&bob, "/settings").body).unwrap();
    assert!(
        settings.get("discountId").is_none(),
        "no discount exists yet, so none is promised: {settings}"
    );
    app.db()
        .execute(
            "INSERT INTO meta (key, value) VALUES ('paddle_referral_discount_id', ?1)",
            params!["dsc_01created"],
        )
        .unwrap();
    let page = get_ok(&bob, "/settings");
    assert_eq!(
        checkout_json(&page.body).unwrap()["discountId"],
        "dsc_01created"
    );
    assert!(page.body.contains("Invited by a friend: 50%"));
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
