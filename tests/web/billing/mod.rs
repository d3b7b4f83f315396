//! Billing with Paddle (SPEC §7), end to end: signed webhooks into the real
//! binary, a fake Paddle API behind `APP_PADDLE_API_URL`, outcomes read from
//! the database and `/api/me`.

mod access;
mod events;
mod fixtures;
mod locks;
mod once;
mod outbox;
mod reversal;
mod rewards;
mod signatures;
mod unread;
mod upgrade;

use std::time::{Duration, Instant};

use serde_json::Value;

pub use crate::support::paddle::post_webhook;
use crate::support::paddle::{deliver_signed, FakePaddle};
pub use crate::support::{api_me, user_id};
use crate::support::{
    csrf_in, enter_emailed_code, input_value, sign_in, Client, Resp, Start, TestServer,
};

pub use fixtures::{at, Sub};

pub const WEBHOOK_SECRET: &str = "pdl_ntf_01testsecret_abcdefghijklmnopqrstuvwxyz";
pub const APP_SECRET: &str = "billing-tests-secret-0123456789abcdef0123456789";
/// The reward discount, as if the operator set `APP_PADDLE_REFERRAL_DISCOUNT_ID`.
pub const DISCOUNT: &str = "dsc_01referral50off3months";

/// The app with billing configured against `paddle`.
pub fn spawn(paddle: &FakePaddle) -> TestServer {
    spawn_with_discount(paddle, Some(DISCOUNT))
}

/// `discount: None` leaves `APP_PADDLE_REFERRAL_DISCOUNT_ID` unset.
pub fn spawn_with_discount(paddle: &FakePaddle, discount: Option<&str>) -> TestServer {
    billing(paddle, discount).spawn()
}

/// The server's start with billing configured against `paddle`, for a
/// test that sets more (`.env(…)`) before it spawns.
pub fn billing(paddle: &FakePaddle, discount: Option<&str>) -> Start {
    let start = TestServer::new()
        .env("APP_SECRET", APP_SECRET)
        .env("APP_PADDLE_WEBHOOK_SECRET", WEBHOOK_SECRET)
        .env("APP_PADDLE_API_KEY", "pdl_sdbx_apikey_test")
        .env("APP_PADDLE_CLIENT_TOKEN", "test_clienttoken")
        .env("APP_PADDLE_PRICE_ID", "pri_01jf2z9y8x7w6v5u4t3s2r1q0p")
        .env("APP_PADDLE_API_URL", paddle.url());
    match discount {
        Some(d) => start.env("APP_PADDLE_REFERRAL_DISCOUNT_ID", d),
        None => start,
    }
}

/// POSTs `body` to the webhook signed as Paddle would sign it now.
pub fn deliver(app: &TestServer, body: &str) -> Resp {
    deliver_signed(app, WEBHOOK_SECRET, body)
}

/// Delivers and expects 200 with `outcome`.
pub fn deliver_ok(app: &TestServer, body: &str, outcome: &str) {
    let resp = deliver(app, body);
    assert_eq!(
        resp.status,
        200,
        "webhook: {}\nlog:\n{}",
        resp.summary(),
        app.log()
    );
    let v: Value = serde_json::from_str(&resp.body).unwrap();
    assert_eq!(v["outcome"], outcome, "{}", resp.body);
}

/// Signs `email` in through the web; returns the client and the user id.
pub fn user(app: &TestServer, email: &str) -> (Client, i64) {
    let client = app.client();
    sign_in(app, &client, email);
    (client, user_id(app, email))
}

/// Signs `email` in by `referrer`'s invite link.
pub fn invited_user(app: &TestServer, referrer: &Client, email: &str) -> (Client, i64) {
    let code = api_me(referrer)["referral"]["code"]
        .as_str()
        .unwrap()
        .to_string();
    let client = app.client();
    let form = client.get(&format!("/login?ref={code}"));
    let mut fields = vec![("email", email.to_string()), ("csrf", csrf_in(&form.body))];
    fields.push((
        "ref",
        input_value(&form.body, "ref").expect("the invited form carries ref"),
    ));
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert!(client
        .post_form("/login", &fields)
        .is_see_other_to("/verify"));
    enter_emailed_code(app, &client, email);
    (client, user_id(app, email))
}

pub fn tier(app: &TestServer, user_id: i64) -> String {
    text(app, &format!("SELECT tier FROM users WHERE id = {user_id}"))
}

pub fn text(app: &TestServer, sql: &str) -> String {
    app.db()
        .query_row(sql, [], |r| r.get::<_, Option<String>>(0))
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .unwrap_or_default()
}

/// `(role, state)` of the rewards of `user_id`, oldest first.
pub fn rewards_of(app: &TestServer, user_id: i64) -> Vec<(String, String)> {
    let conn = app.db();
    let mut stmt = conn
        .prepare("SELECT role, state FROM referral_rewards WHERE user_id = ?1 ORDER BY id")
        .unwrap();
    let rows = stmt
        .query_map([user_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap();
    rows.map(Result::unwrap).collect()
}

/// Polls `check` until it holds (the outbox worker runs in the background).
pub fn eventually(what: &str, app: &TestServer, timeout: Duration, check: impl Fn() -> bool) {
    let deadline = Instant::now() + timeout;
    while !check() {
        if Instant::now() >= deadline {
            panic!("{what}: not within {timeout:?}; log:\n{}", app.log());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub const SOON: Duration = Duration::from_secs(10);

/// When the test discount's three months end (Paddle's `ends_at`).
pub const DISCOUNT_END: &str = "2027-02-24T09:30:12.123456Z";

/// A person with an active subscription of their own (`sub_01{tag}`).
pub fn subscribed(app: &TestServer, email: &str, tag: &str) -> (Client, i64, Sub) {
    let (client, id) = user(app, email);
    let sub = Sub::new(&format!("sub_01{tag}"), &format!("ctm_01{tag}")).of(id);
    deliver_ok(
        app,
        &sub.event(&format!("evt_{tag}0"), "created", &at(0)),
        "ok",
    );
    (client, id, sub)
}

/// An invitee of `referrer` who checks out with the referral discount.
pub fn invitee_pays(app: &TestServer, referrer: &Client, email: &str, tag: &str) -> (i64, Sub) {
    let (_, id) = invited_user(app, referrer, email);
    let sub = Sub::new(&format!("sub_01{tag}"), &format!("ctm_01{tag}"))
        .of(id)
        .discount(DISCOUNT, DISCOUNT_END);
    deliver_ok(
        app,
        &sub.event(&format!("evt_{tag}0"), "created", &at(0)),
        "ok",
    );
    (id, sub)
}

/// PATCHes sent to `sub` (accepted or locked).
pub fn patches_to(paddle: &FakePaddle, sub: &str) -> usize {
    paddle
        .calls_to("PATCH", &format!("/subscriptions/{sub}"))
        .len()
}

/// Deletes the signed-in account through Settings.
pub fn delete_account(client: &Client) {
    let page = client.get("/settings");
    let done = client.post_form(
        "/account/delete",
        &[("confirm", "delete"), ("csrf", &csrf_in(&page.body))],
    );
    assert!(
        done.is_see_other_to("/?account=deleted"),
        "{}",
        done.summary()
    );
}
