//! Which events count (SPEC §7): `subscription.imported` gives access but
//! never converts a referral; only our prices give access or rewards; a
//! deleted account's tombstone gets nothing from a webhook.

use serde_json::Value;

use super::fixtures::PRICE;
use super::*;
use crate::support::paddle::FakePaddle;

/// A second price we sell (`APP_PADDLE_PRICE_ID` lists both).
const YEARLY: &str = "pri_01yearlyplan";
/// Another product's price in the same Paddle account.
const OTHER: &str = "pri_01otherproduct";

fn spawn_two_prices(paddle: &FakePaddle) -> TestServer {
    billing(paddle, Some(DISCOUNT))
        .env("APP_PADDLE_PRICE_ID", format!("{PRICE},{YEARLY}"))
        .spawn()
}

fn stored_outcome(app: &TestServer, event_id: &str) -> String {
    text(
        app,
        &format!("SELECT outcome FROM billing_events WHERE event_id = '{event_id}'"),
    )
}

#[test]
fn an_imported_subscription_gives_access_but_never_converts_a_referral() {
    let paddle = FakePaddle::start();
    let app = spawn(&paddle);
    let (alice, alice_id) = user(&app, "alice@example.com");
    let (bob_client, bob) = invited_user(&app, &alice, "bob@example.com");
    // Migrated from another biller: no checkout, no custom_data; matched
    // by the customer's email.
    paddle.add_customer("ctm_01bobold", "bob@example.com");
    let imported = Sub::new("sub_01bobold", "ctm_01bobold");
    deliver_ok(
        &app,
        &imported.event("evt_imp0", "imported", &at(0)),
        "unmatched",
    );
    eventually("matched by email", &app, SOON, || tier(&app, bob) == "paid");
    assert_eq!(
        api_me(&bob_client)["billing"]["subscription_id"],
        "sub_01bobold"
    );
    // Later events of that subscription still convert nothing.
    deliver_ok(&app, &imported.event("evt_imp1", "updated", &at(60)), "ok");
    assert!(rewards_of(&app, alice_id).is_empty());
    assert!(rewards_of(&app, bob).is_empty());
    assert_eq!(api_me(&alice)["referral"]["converted"], 0);
    assert!(text(
        &app,
        &format!("SELECT converted_at FROM referrals WHERE referred_user_id = {bob}")
    )
    .is_empty());
    std::thread::sleep(Duration::from_millis(500));
    assert!(paddle.calls_to("PATCH", "/subscriptions/").is_empty());
    // A subscription Bob takes out himself through checkout is his first
    // payment here: that converts.
    let bought = Sub::new("sub_01bobnew", "ctm_01bobold")
        .of(bob)
        .discount(DISCOUNT, &at(90 * 86_400));
    deliver_ok(&app, &bought.event("evt_new0", "created", &at(120)), "ok");
    assert_eq!(api_me(&alice)["referral"]["converted"], 1);
}

#[test]
fn only_our_prices_give_access_or_rewards() {
    let paddle = FakePaddle::start();
    let app = spawn_two_prices(&paddle);
    let (alice, alice_id) = user(&app, "alice@example.com");
    let (_, bob) = invited_user(&app, &alice, "bob@example.com");
    let other = Sub::new("sub_01other", "ctm_01bob").of(bob).price(OTHER);
    deliver_ok(&app, &other.event("evt_oth0", "created", &at(0)), "ignored");
    assert_eq!(tier(&app, bob), "free", "another product grants nothing");
    assert_eq!(stored_outcome(&app, "evt_oth0"), "ignored", "stored");
    assert_eq!(
        app.query_i64("SELECT count(*) FROM subscriptions WHERE id = 'sub_01other'"),
        0
    );
    assert!(rewards_of(&app, alice_id).is_empty());
    assert!(app.log().contains("event=billing.foreign_price"));
    // The second price we sell counts like the first.
    let yearly = Sub::new("sub_01yearly", "ctm_01bob").of(bob).price(YEARLY);
    deliver_ok(&app, &yearly.event("evt_yr0", "created", &at(5)), "ok");
    assert_eq!(tier(&app, bob), "paid");
    assert_eq!(api_me(&alice)["referral"]["converted"], 1);
}

#[test]
fn webhooks_for_a_deleted_account_leave_its_tombstone_alone() {
    let paddle = FakePaddle::start();
    let app = spawn(&paddle);
    let (ann, ann_id) = user(&app, "ann@example.com");
    let sub = Sub::new("sub_01ann", "ctm_01ann").of(ann_id);
    deliver_ok(
        &app,
        &sub.clone()
            .status("canceled")
            .event("evt_ann0", "canceled", &at(0)),
        "ok",
    );
    delete_account(&ann);
    let audits = || {
        app.query_i64(&format!(
            "SELECT count(*) FROM access_audit WHERE user_id = {ann_id}"
        ))
    };
    let before = audits();
    // Her old signed custom_data, her old customer, or her email: nothing.
    paddle.add_customer("ctm_01annnew", "ann@example.com");
    let cases = [
        ("evt_del1", sub.clone().status("active")),
        ("evt_del2", Sub::new("sub_01ann2", "ctm_01ann")),
        ("evt_del3", Sub::new("sub_01ann3", "ctm_01annnew")),
    ];
    for (event, s) in cases {
        deliver_ok(&app, &s.event(event, "activated", &at(60)), "unmatched");
        assert_eq!(stored_outcome(&app, event), "unmatched");
    }
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(tier(&app, ann_id), "free", "the tombstone stays free");
    assert_eq!(audits(), before, "no audit entry for the tombstone");
    let email = text(
        &app,
        &format!("SELECT email FROM users WHERE id = {ann_id}"),
    );
    assert_eq!(email, format!("deleted-{ann_id}@invalid"));
    let linked: Value = app
        .db()
        .query_row(
            "SELECT count(*) FROM subscriptions WHERE user_id = ?1 AND status != 'canceled'",
            [ann_id],
            |r| r.get::<_, i64>(0),
        )
        .unwrap()
        .into();
    assert_eq!(linked, 0);
}

/// A signed payment for a deleted account links nothing either: an
/// unmatched subscription is not tied to the tombstone, which stays free.
#[test]
fn a_signed_transaction_for_a_deleted_account_links_nothing() {
    let paddle = FakePaddle::start();
    let app = spawn(&paddle);
    let (gone, gone_id) = user(&app, "gone@example.com");
    let bare = Sub::new("sub_01gone", "ctm_01gone");
    deliver_ok(&app, &bare.event("evt_g1", "created", &at(0)), "unmatched");
    delete_account(&gone);
    let signed = bare.clone().of(gone_id);
    deliver_ok(
        &app,
        &super::fixtures::transaction_completed("evt_g2", &signed, &at(10)),
        "unmatched",
    );
    assert_eq!(tier(&app, gone_id), "free", "the tombstone stays free");
    assert_eq!(
        app.query_i64("SELECT count(*) FROM subscriptions WHERE user_id IS NOT NULL"),
        0
    );
}
