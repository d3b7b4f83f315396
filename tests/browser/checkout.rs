//! The upgrade path in a real headless Chromium (issues 9, 19): an invited
//! user presses Upgrade, the server makes the Paddle transaction (`POST
//! /billing/checkout`, the fake Paddle API's `POST /transactions`), Paddle.js
//! (stubbed in the page: there is no network here) opens the checkout on
//! its `transactionId`, the checkout
//! completes, the page says the payment is being activated, and flips to
//! paid once the test delivers Paddle's signed `subscription.created` to the
//! webhook (the Paddle API behind it is the local fake, never the internet).

use serde_json::{json, Value};

use super::billing::fixtures::{at, Sub};
use super::{sign_in, Screenshots, HEIGHT, WIDTH};
use crate::support::paddle::{self, FakePaddle};
use crate::support::{self, TestServer};
use crate::webdriver::{Binaries, Driver};

const CAROL: &str = "carol@example.com";
const DAN: &str = "dan@example.com";
const WEBHOOK_SECRET: &str = "pdl_ntf_browser";
const DISCOUNT: &str = "dsc_01browser";

/// A stand-in for Paddle.js that records what the page asked of it. With
/// `window.Paddle` present, app.js must not load the CDN script.
const FAKE_PADDLE: &str = "
    window.__paddle = { env: null, init: null, opened: [] };
    window.Paddle = {
      Environment: { set: (env) => { window.__paddle.env = env; } },
      Initialize: (options) => { window.__paddle.init = options; },
      Checkout: { open: (options) => { window.__paddle.opened.push(JSON.parse(JSON.stringify(options))); } },
    };";

#[test]
fn an_invited_user_upgrades_through_the_checkout_and_the_page_flips_to_paid() {
    let bins = Binaries::find();
    let paddle_api = FakePaddle::start();
    let app = TestServer::new()
        .envs([
            ("APP_SECRET", super::billing::APP_SECRET),
            ("APP_PADDLE_WEBHOOK_SECRET", WEBHOOK_SECRET),
            ("APP_PADDLE_API_KEY", "pdl_apikey_browser"),
            ("APP_PADDLE_CLIENT_TOKEN", "test_browsertoken"),
            ("APP_PADDLE_PRICE_ID", "pri_01browser"),
            ("APP_PADDLE_REFERRAL_DISCOUNT_ID", DISCOUNT),
            ("APP_PADDLE_API_URL", paddle_api.url()),
        ])
        .spawn();
    let shots = Screenshots::under("checkout");
    let driver = Driver::start(&bins);
    let profiles = tempfile::Builder::new()
        .prefix("app-browser-checkout-")
        .tempdir()
        .expect("make a temp dir for browser profiles");

    // Carol (over plain HTTP) invites Dan, who signs up through her link.
    let carol = app.client();
    support::sign_in(&app, &carol, CAROL);
    let me: Value = serde_json::from_str(&carol.get("/api/me").body).unwrap();
    let invite = me["referral"]["invite_url"].as_str().unwrap().to_string();
    let dan = driver.browser(&profiles.path().join("dan"), WIDTH, HEIGHT);
    dan.goto(&invite);
    dan.wait_for_path("/login");
    sign_in(&app, &dan, DAN, &shots, "dan");

    dan.click(&dan.find("nav a[href='/settings']"));
    dan.wait_for_path("/settings");
    let note = dan.text(&dan.find("[data-testid=invited-discount]"));
    assert_eq!(note, "Invited by a friend: 50% off your first 3 months");
    shots.take(&dan, "settings-dan-upgrade");

    // When Paddle.js can't load, the button says so. (Pointed at a missing
    // file so this holds with or without a network.)
    dan.execute(
        "document.querySelector('button[data-checkout]').dataset.paddleJs = '/assets/no-such-paddle.js'",
        vec![],
    );
    dan.click(&dan.find("button[data-checkout]"));
    let said = dan.wait_for("the button to say the checkout could not load", || {
        let text = dan.try_text("button[data-checkout]")?;
        text.contains("could not load").then_some(text)
    });
    assert!(said.contains("try again"), "{said}");
    shots.take(&dan, "settings-dan-paddle-unreachable");

    // The page carries no price, discount or account: only what Paddle.js
    // needs to start, and whether to promise the invitee's 50%.
    dan.goto(&format!("{}/settings", app.base_url()));
    dan.wait_for_path("/settings");
    let page_settings = dan.execute(
        "return JSON.parse(document.getElementById('paddle-checkout').textContent)",
        vec![],
    );
    assert_eq!(
        page_settings,
        json!({"environment": "sandbox", "token": "test_browsertoken", "invited": true})
    );

    // Paddle can't make the transaction: the page says so, nothing opens.
    dan.execute(FAKE_PADDLE, vec![]);
    paddle_api.fail_calls(
        Some("POST"),
        "/transactions",
        1,
        500,
        "internal_error",
        None,
    );
    dan.click(&dan.find("button[data-checkout]"));
    dan.wait_for("the unavailable message", || {
        let status = dan.try_text(".checkout-status")?;
        status.contains("can't be opened right now").then_some(())
    });
    let opened = dan.execute("return window.__paddle.opened.length", vec![]);
    assert_eq!(opened, 0);
    shots.take(&dan, "settings-dan-paddle-unavailable");

    // Upgrade: POST /billing/checkout makes the transaction on the server
    // and Paddle.js opens the checkout on its id.
    let upgrade = dan.find("button[data-checkout]");
    assert_eq!(dan.text(&upgrade), "Upgrade");
    dan.click(&upgrade);
    let opened = dan.wait_for("Paddle.Checkout.open", || {
        let opened = dan.execute("return window.__paddle.opened", vec![]);
        (opened.as_array().is_some_and(|a| a.len() == 1)).then(|| opened[0].clone())
    });
    assert_eq!(
        opened,
        json!({"transactionId": "txn_fake000001", "customer": {"email": DAN}})
    );
    let made = paddle_api.calls_to("POST", "/transactions");
    assert_eq!(made.len(), 2, "the failed try and this one");
    let transaction = made[1].body.clone();
    let dan_id = support::user_id(&app, DAN);
    assert_eq!(
        transaction,
        json!({
            "items": [{"price_id": "pri_01browser", "quantity": 1}],
            "custom_data": {
                "user_id": dan_id.to_string(),
                "sig": super::billing::fixtures::custom_data_for(dan_id)["sig"],
            },
            "discount_id": DISCOUNT,
        })
    );
    let paddle = dan.execute(
        "return { env: window.__paddle.env, token: window.__paddle.init.token,
                  callback: typeof window.__paddle.init.eventCallback }",
        vec![],
    );
    assert_eq!(
        paddle,
        json!({"env": "sandbox", "token": "test_browsertoken", "callback": "function"})
    );
    let cdn_scripts = dan.execute(
        "return document.querySelectorAll('script[src*=\"paddle.com\"]').length",
        vec![],
    );
    assert_eq!(cdn_scripts, 0, "Paddle.js was present, so no CDN load");
    shots.take(&dan, "settings-dan-checkout-open");

    // The checkout completes: the page waits for the webhook.
    dan.execute(
        "window.__paddle.init.eventCallback({ name: 'checkout.completed', data: {} })",
        vec![],
    );
    dan.wait_for("the activating message", || {
        (dan.try_text(".checkout-status")? == "Payment received, activating…").then_some(())
    });
    shots.take(&dan, "settings-dan-activating");

    // Paddle tells the app: a signed `subscription.created`, active, with
    // the custom_data and the discount of the transaction the server made,
    // delivered to the webhook as Paddle delivers it.
    let created = Sub::new("sub_01dan", "ctm_01dan")
        .price("pri_01browser")
        .custom_data(transaction["custom_data"].clone())
        .discount(DISCOUNT, &at(90 * 24 * 3600))
        .event("evt_01browserdancreated", "created", &at(0));
    let resp = paddle::deliver_signed(&app, WEBHOOK_SECRET, &created);
    assert_eq!(resp.status, 200, "{}\nlog:\n{}", resp.summary(), app.log());
    let answer: Value = serde_json::from_str(&resp.body).unwrap();
    assert_eq!(answer["outcome"], "ok", "{}", resp.body);

    // Within a poll or two the page reloads as a paid subscriber's.
    dan.wait_for("the page to flip to paid", || {
        let badge = dan.try_text("[data-testid=tier-badge]")?;
        let status = dan.try_text("[data-testid=billing-status]")?;
        (badge == "paid" && status == "active").then_some(())
    });
    assert!(
        dan.try_find("button[data-checkout]").is_none(),
        "the Upgrade button is gone"
    );
    let manage = dan.text(&dan.find("form[action='/billing/portal'] button"));
    assert_eq!(manage, "Manage billing");
    shots.take(&dan, "settings-dan-paid");
}
