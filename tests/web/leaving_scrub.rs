//! Leaving means leaving (SPEC §9): deleting an account, from the page or
//! with `delete-user`, takes its email out of the raw bodies of its stored
//! Paddle events; their ids, types, times and effects stay, so a replay is
//! still recognised. The export never carries another person's data.

use serde_json::{json, Value};

use crate::support::paddle::{deliver_signed, FakePaddle};
use crate::support::paddle_catalog::{event_of, subscription};
use crate::support::{csrf_in, sign_in, user_id, Client, TestServer};

use app::crypto::Keys;

const SECRET: &str = "pdl_ntf_01leaving_abcdefghijklmnopqrstuvwxyz0123";
const APP_SECRET: &str = "leaving-tests-secret-0123456789abcdef0123456789";

fn spawn(paddle: &FakePaddle) -> TestServer {
    let url = paddle.url().to_string();
    TestServer::new()
        .env("APP_SECRET", APP_SECRET)
        .env("APP_PADDLE_WEBHOOK_SECRET", SECRET)
        .env("APP_PADDLE_API_KEY", "pdl_sdbx_leaving")
        .env("APP_PADDLE_CLIENT_TOKEN", "test_leaving")
        .env("APP_PADDLE_PRICE_ID", "pri_01jf2z9y8x7w6v5u4t3s2r1q0p")
        .env("APP_PADDLE_REFERRAL_DISCOUNT_ID", "dsc_01leaving")
        .env("APP_PADDLE_API_URL", &url)
        .spawn()
}

fn signed_for(user_id: i64) -> Value {
    let keys = Keys::derive(APP_SECRET.as_bytes());
    let sig = app::services::billing::custom_data::sign(&keys, user_id);
    json!({"user_id": user_id.to_string(), "sig": sig})
}

fn deliver(app: &TestServer, body: &str) -> Value {
    let resp = deliver_signed(app, SECRET, body);
    assert_eq!(resp.status, 200, "{}\n{}", resp.summary(), app.log());
    serde_json::from_str(&resp.body).unwrap()
}

/// A `customer.updated` event as Paddle sends it, with the email Paddle has.
fn customer_event(event_id: &str, customer: &str, email: &str) -> String {
    json!({
        "event_id": event_id,
        "event_type": "customer.updated",
        "occurred_at": "2026-11-26T09:31:00.000000Z",
        "notification_id": event_id.replace("evt_", "ntf_"),
        "data": {"id": customer, "name": "A Person", "email": email, "status": "active",
                 "locale": "en", "marketing_consent": false, "custom_data": null,
                 "created_at": "2026-11-26T09:30:00.000000Z", "updated_at": "2026-11-26T09:31:00.000000Z"}
    })
    .to_string()
}

/// A paying-then-canceled customer with the given events stored; returns
/// the bodies delivered, the subscription's first.
fn customer_with_events(app: &TestServer, client: &Client, email: &str, n: u32) -> Vec<String> {
    sign_in(app, client, email);
    let id = user_id(app, email);
    let (sub, ctm) = (format!("sub_01leave{n}"), format!("ctm_01leave{n}"));
    let active = subscription(
        &sub,
        &ctm,
        "active",
        "2026-11-26T09:30:12.123456Z",
        signed_for(id),
    );
    let canceled = subscription(
        &sub,
        &ctm,
        "canceled",
        "2026-11-26T09:40:12.123456Z",
        signed_for(id),
    );
    let bodies = vec![
        event_of(
            &active,
            &format!("evt_01created{n}"),
            "created",
            "2026-11-26T09:30:12.123456Z",
        ),
        // Paddle keeps the address as the person typed it at checkout.
        customer_event(&format!("evt_01customer{n}"), &ctm, &email.to_uppercase()),
        event_of(
            &canceled,
            &format!("evt_01canceled{n}"),
            "canceled",
            "2026-11-26T09:40:12.123456Z",
        ),
    ];
    for body in &bodies {
        deliver(app, body);
    }
    bodies
}

/// `(event_id, event_type, occurred_at, received_at, outcome)` of every stored event.
fn event_rows(app: &TestServer) -> Vec<(String, String, String, String, String)> {
    let conn = app.db();
    let mut stmt = conn
        .prepare("SELECT event_id, event_type, occurred_at, received_at, outcome FROM billing_events ORDER BY id")
        .unwrap();
    let rows = stmt
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .unwrap();
    rows.map(Result::unwrap).collect()
}

fn bodies_naming(app: &TestServer, email: &str) -> i64 {
    app.db()
        .query_row(
            "SELECT count(*) FROM billing_events WHERE instr(lower(body), lower(?1)) > 0",
            [email],
            |r| r.get(0),
        )
        .unwrap()
}

fn body_of(app: &TestServer, event_id: &str) -> String {
    app.db()
        .query_row(
            "SELECT body FROM billing_events WHERE event_id = ?1",
            [event_id],
            |r| r.get(0),
        )
        .unwrap()
}

#[test]
fn deleting_on_the_page_scrubs_my_email_from_my_stored_events_and_replays_still_match() {
    let paddle = FakePaddle::start();
    let app = spawn(&paddle);
    let ann = app.client();
    let ann_bodies = customer_with_events(&app, &ann, "ann@example.com", 1);
    let bob = app.client();
    customer_with_events(&app, &bob, "bob@example.com", 2);
    let bob_customer = body_of(&app, "evt_01customer2");

    // Ann's export holds her billing summary, never another person's data.
    let export = ann.get("/account/export").body;
    assert!(export.contains("sub_01leave1"), "{export}");
    for theirs in [
        "bob@example.com",
        "BOB@EXAMPLE.COM",
        "ctm_01leave2",
        "sub_01leave2",
    ] {
        assert!(
            !export.contains(theirs),
            "{theirs} in Ann's export: {export}"
        );
    }

    assert_eq!(
        bodies_naming(&app, "ann@example.com"),
        1,
        "her customer event names her"
    );
    let before = event_rows(&app);
    let ann_id = user_id(&app, "ann@example.com");
    let page = ann.get("/settings");
    let resp = ann.post_form(
        "/account/delete",
        &[("confirm", "delete"), ("csrf", &csrf_in(&page.body))],
    );
    assert_eq!(resp.status, 303, "{}", resp.summary());

    assert_eq!(
        bodies_naming(&app, "ann@example.com"),
        0,
        "her email is gone from every body"
    );
    let tombstone = format!("deleted-{ann_id}@invalid");
    assert!(body_of(&app, "evt_01customer1").contains(&tombstone));
    assert_eq!(
        event_rows(&app),
        before,
        "ids, types, times and outcomes stay"
    );
    assert_eq!(
        body_of(&app, "evt_01customer2"),
        bob_customer,
        "Bob's events are untouched"
    );
    assert_eq!(
        app.db()
            .query_row(
                "SELECT status || ' ' || user_id FROM subscriptions WHERE id = 'sub_01leave1'",
                [],
                |r| r.get::<_, String>(0)
            )
            .unwrap(),
        format!("canceled {ann_id}"),
        "the effects stay"
    );
    // Paddle retrying an old delivery is still a replay: nothing changes.
    for body in &ann_bodies {
        assert_eq!(deliver(&app, body)["outcome"], "replay");
    }
    assert_eq!(bodies_naming(&app, "ann@example.com"), 0);
}

#[test]
fn delete_user_scrubs_the_same_way() {
    let paddle = FakePaddle::start();
    let app = spawn(&paddle);
    let carl = app.client();
    customer_with_events(&app, &carl, "carl@example.com", 3);
    assert_eq!(bodies_naming(&app, "carl@example.com"), 1);
    let out = app.cli(&[
        "delete-user",
        "--email",
        "carl@example.com",
        "--note",
        "asked by mail",
    ]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(bodies_naming(&app, "carl@example.com"), 0);
    assert_eq!(app.query_i64("SELECT count(*) FROM billing_events"), 3);
}
