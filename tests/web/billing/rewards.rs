//! The two-sided referral reward: conversion on the invitee's first active
//! subscription, the invitee's discount from checkout, the referrer's by
//! one PATCH (or banked until they subscribe), one discount at a time.

use serde_json::json;

use super::fixtures::PRICE;
use super::*;
use crate::support::paddle::FakePaddle;

fn referral(app: &TestServer, referred: i64) -> (String, String) {
    let row = |col: &str| {
        text(
            app,
            &format!("SELECT {col} FROM referrals WHERE referred_user_id = {referred}"),
        )
    };
    (row("converted_at"), row("credited_at"))
}

fn state(rewards: &[(String, String)]) -> Vec<&str> {
    rewards.iter().map(|(_, s)| s.as_str()).collect()
}

#[test]
fn an_invitee_converting_rewards_both_and_the_referrer_is_patched_once() {
    let paddle = FakePaddle::start();
    let app = spawn(&paddle);
    let (ref_client, referrer, ref_sub) = subscribed(&app, "ann@example.com", "ann");
    let (invitee, inv_sub) = invitee_pays(&app, &ref_client, "bob@example.com", "bob");
    assert!(!referral(&app, invitee).0.is_empty(), "converted");
    assert_eq!(
        rewards_of(&app, invitee),
        [("referred".to_string(), "running".to_string())],
        "via checkout"
    );
    eventually("the referrer's discount is accepted", &app, SOON, || {
        state(&rewards_of(&app, referrer)) == ["running"]
    });
    let patch = paddle.calls_to("PATCH", "/subscriptions/");
    assert_eq!(
        patch.len(),
        1,
        "only the referrer's subscription is patched"
    );
    assert_eq!(patch[0].path, format!("/subscriptions/{}", ref_sub.id));
    assert_eq!(
        patch[0].body,
        json!({"discount": {"id": DISCOUNT, "effective_from": "next_billing_period"}})
    );
    assert_eq!(
        patch[0].authorization.as_deref(),
        Some("Bearer pdl_sdbx_apikey_test")
    );
    assert!(
        !referral(&app, invitee).1.is_empty(),
        "credited once both are applied"
    );
    assert_eq!(api_me(&ref_client)["referral"]["converted"], 1);
    // Replays and later events convert nothing again and patch nothing again.
    deliver_ok(
        &app,
        &inv_sub.event("evt_bob0", "created", &at(0)),
        "replay",
    );
    deliver_ok(&app, &inv_sub.event("evt_bob1", "updated", &at(5)), "ok");
    deliver_ok(
        &app,
        &ref_sub
            .clone()
            .discount(DISCOUNT, DISCOUNT_END)
            .event("evt_ann1", "updated", &at(5)),
        "ok",
    );
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(paddle.calls().len(), 1);
    assert_eq!(app.query_i64("SELECT count(*) FROM referral_rewards"), 2);
    assert_eq!(
        text(
            &app,
            &format!("SELECT ends_at FROM referral_rewards WHERE user_id = {referrer}")
        ),
        "2027-02-24T09:30:12Z"
    );
}

#[test]
fn a_referrer_without_a_subscription_banks_the_reward_until_they_subscribe() {
    let paddle = FakePaddle::start();
    let app = spawn(&paddle);
    let (ref_client, referrer) = user(&app, "cat@example.com");
    let (invitee, _) = invitee_pays(&app, &ref_client, "dan@example.com", "dan");
    assert_eq!(state(&rewards_of(&app, referrer)), ["banked"]);
    assert!(
        referral(&app, invitee).1.is_empty(),
        "not credited while banked"
    );
    std::thread::sleep(Duration::from_millis(600));
    assert!(paddle.calls().is_empty());
    let sub = Sub::new("sub_01cat", "ctm_01cat").of(referrer);
    deliver_ok(&app, &sub.event("evt_cat0", "created", &at(1)), "ok");
    eventually("the banked reward is applied", &app, SOON, || {
        state(&rewards_of(&app, referrer)) == ["running"]
    });
    assert_eq!(patches_to(&paddle, "sub_01cat"), 1);
    assert!(!referral(&app, invitee).1.is_empty(), "credited");
}

#[test]
fn three_referrals_are_applied_one_after_another() {
    let paddle = FakePaddle::start();
    let app = spawn(&paddle);
    let (ref_client, referrer, sub) = subscribed(&app, "eve@example.com", "eve");
    for (i, name) in ["fay", "gus", "hal"].iter().enumerate() {
        invitee_pays(&app, &ref_client, &format!("{name}@example.com"), name);
        assert_eq!(rewards_of(&app, referrer).len(), i + 1);
    }
    eventually("the first is applied", &app, SOON, || {
        state(&rewards_of(&app, referrer)) == ["running", "banked", "banked"]
    });
    // Paddle shows the discount on the next renewal: nothing more to do.
    deliver_ok(
        &app,
        &sub.clone()
            .discount(DISCOUNT, DISCOUNT_END)
            .event("evt_eve1", "updated", &at(10)),
        "ok",
    );
    assert_eq!(patches_to(&paddle, &sub.id), 1);
    // Three months on, the discount is gone (an event surely after the
    // apply: more than the minute of clock skew): the next one is applied.
    deliver_ok(&app, &sub.event("evt_eve2", "updated", &at(120)), "ok");
    eventually("the second is applied", &app, SOON, || {
        state(&rewards_of(&app, referrer)) == ["ended", "running", "banked"]
    });
    deliver_ok(
        &app,
        &sub.clone()
            .discount(DISCOUNT, &at(3600))
            .event("evt_eve3", "updated", &at(130)),
        "ok",
    );
    assert_eq!(
        patches_to(&paddle, &sub.id),
        2,
        "a running discount is not replaced"
    );
    deliver_ok(&app, &sub.event("evt_eve4", "updated", &at(240)), "ok");
    eventually("the third is applied", &app, SOON, || {
        state(&rewards_of(&app, referrer)) == ["ended", "ended", "running"]
    });
    assert_eq!(patches_to(&paddle, &sub.id), 3);
    assert_eq!(api_me(&ref_client)["referral"]["converted"], 3);
}

/// An event that shows no discount but may predate the PATCH by Paddle's
/// clock (within the minute of skew allowed) does not end the reward.
#[test]
fn an_event_within_the_clock_skew_of_the_apply_does_not_end_the_reward() {
    let paddle = FakePaddle::start();
    let app = spawn(&paddle);
    let (ref_client, referrer, sub) = subscribed(&app, "sky@example.com", "sky");
    invitee_pays(&app, &ref_client, "ska@example.com", "ska");
    invitee_pays(&app, &ref_client, "skb@example.com", "skb");
    eventually("the first is applied", &app, SOON, || {
        state(&rewards_of(&app, referrer)) == ["running", "banked"]
    });
    deliver_ok(&app, &sub.event("evt_sky1", "updated", &at(30)), "ok");
    assert_eq!(state(&rewards_of(&app, referrer)), ["running", "banked"]);
    assert_eq!(patches_to(&paddle, &sub.id), 1);
}

#[test]
fn trialing_is_not_a_conversion() {
    let paddle = FakePaddle::start();
    let app = spawn(&paddle);
    let (ref_client, referrer, _) = subscribed(&app, "ivy@example.com", "ivy");
    let (_, invitee) = invited_user(&app, &ref_client, "jon@example.com");
    let sub = Sub::new("sub_01jon", "ctm_01jon")
        .of(invitee)
        .discount(DISCOUNT, DISCOUNT_END);
    deliver_ok(
        &app,
        &sub.clone()
            .status("trialing")
            .event("evt_jon0", "created", &at(0)),
        "ok",
    );
    assert_eq!(tier(&app, invitee), "paid", "a trial gives access");
    assert_eq!(referral(&app, invitee), (String::new(), String::new()));
    assert!(rewards_of(&app, referrer).is_empty());
    deliver_ok(&app, &sub.event("evt_jon1", "activated", &at(1)), "ok");
    assert!(
        !referral(&app, invitee).0.is_empty(),
        "the first active subscription converts"
    );
    assert_eq!(state(&rewards_of(&app, invitee)), ["running"]);
    eventually("the referrer's is applied", &app, SOON, || {
        state(&rewards_of(&app, referrer)) == ["running"]
    });
}

/// Without `APP_PADDLE_REFERRAL_DISCOUNT_ID` the discount is created once
/// through the API; rewards wait for it; an invitee who paid without it is
/// PATCHed too.
#[test]
fn the_reward_discount_is_created_once_when_not_configured() {
    let paddle = FakePaddle::start();
    let app = spawn_with_discount(&paddle, None);
    let (ref_client, referrer, ref_sub) = subscribed(&app, "kim@example.com", "kim");
    let (_, invitee) = invited_user(&app, &ref_client, "lou@example.com");
    let sub = Sub::new("sub_01lou", "ctm_01lou").of(invitee);
    deliver_ok(&app, &sub.event("evt_lou0", "created", &at(0)), "ok");
    eventually("both rewards are applied", &app, SOON, || {
        state(&rewards_of(&app, referrer)) == ["running"]
            && state(&rewards_of(&app, invitee)) == ["running"]
    });
    let created = paddle.calls_to("POST", "/discounts");
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].body["type"], "percentage");
    assert_eq!(created[0].body["amount"], "50");
    assert_eq!(created[0].body["recur"], true);
    assert_eq!(created[0].body["maximum_recurring_intervals"], 3);
    assert_eq!(created[0].body["enabled_for_checkout"], false);
    assert_eq!(created[0].body["restrict_to"], json!([PRICE]));
    assert!(created[0].body["description"].is_string());
    assert_eq!(
        text(
            &app,
            "SELECT value FROM meta WHERE key = 'paddle_referral_discount_id'"
        ),
        "dsc_fake000001"
    );
    for sub_id in [&ref_sub.id, &sub.id] {
        let calls = paddle.calls_to("PATCH", &format!("/subscriptions/{sub_id}"));
        assert_eq!(calls.len(), 1, "{sub_id}");
        assert_eq!(calls[0].body["discount"]["id"], "dsc_fake000001");
    }
    assert!(!referral(&app, invitee).1.is_empty());
}

/// A discount whose `ends_at` passed (by more than the minute of clock
/// skew) ends its reward even before Paddle sends another event: the worker
/// looks again (at start, then each minute) and applies the next one.
#[test]
fn a_lapsed_discount_lets_the_next_reward_in() {
    let paddle = FakePaddle::start();
    let mut app = spawn(&paddle);
    let (ref_client, referrer, sub) = subscribed(&app, "max@example.com", "max");
    invitee_pays(&app, &ref_client, "ned@example.com", "ned");
    invitee_pays(&app, &ref_client, "ola@example.com", "ola");
    eventually("the first is applied", &app, SOON, || {
        state(&rewards_of(&app, referrer)) == ["running", "banked"]
    });
    let ends = at(30);
    deliver_ok(
        &app,
        &sub.clone()
            .discount(DISCOUNT, &ends)
            .event("evt_max1", "updated", &at(5)),
        "ok",
    );
    assert_eq!(state(&rewards_of(&app, referrer)), ["running", "banked"]);
    // Time passes: the discount ended two minutes ago, by Paddle's clock.
    app.kill();
    let ended = app::clock::Timestamp::now().plus(-120).to_string();
    app.db()
        .execute(
            "UPDATE subscriptions SET discount_ends_at = ?1 WHERE id = ?2",
            [&ended, &sub.id],
        )
        .unwrap();
    app.db()
        .execute(
            "UPDATE referral_rewards SET ends_at = ?1 WHERE state = 'running'",
            [&ended],
        )
        .unwrap();
    app.restart();
    eventually("the next is applied", &app, SOON, || {
        state(&rewards_of(&app, referrer)) == ["ended", "running"]
    });
    assert_eq!(patches_to(&paddle, &sub.id), 2);
    assert_eq!(
        text(&app, &format!("SELECT ends_at FROM referral_rewards WHERE user_id = {referrer} ORDER BY id LIMIT 1")),
        ended
    );
}

/// A yearly price: "50% for 3 intervals" would be three years. The
/// discount is worth three months at half price in one period instead;
/// a weekly price gets no discount at all (the operator is told).
#[test]
fn the_discount_follows_the_prices_billing_cycle() {
    let yearly = FakePaddle::start();
    yearly.set_price_cycle(PRICE, "year", 1);
    let app = spawn_with_discount(&yearly, None);
    let created = yearly.wait_for("POST", "/discounts", 1, SOON);
    assert_eq!(created.len(), 1, "{}", app.log());
    let read = yearly.catalog(|c| c.calls_to(&format!("/prices/{PRICE}")));
    assert!(!read.is_empty(), "the price's cycle is read");
    let body = &created[0].body;
    assert_eq!(body["amount"], "12.50", "{body}");
    assert_eq!(body["maximum_recurring_intervals"], 1, "{body}");
    assert_eq!(body["recur"], true);
    assert_eq!(body["enabled_for_checkout"], false);
    assert_eq!(body["restrict_to"], json!([PRICE]));
    drop(app);

    let weekly = FakePaddle::start();
    weekly.set_price_cycle(PRICE, "week", 1);
    let app = spawn_with_discount(&weekly, None);
    eventually("the refusal is logged", &app, SOON, || {
        app.log().contains("event=billing.outbox_failed")
    });
    assert!(weekly.calls_to("POST", "/discounts").is_empty());
    assert!(
        app.log()
            .contains("only monthly or yearly cycles are supported"),
        "{}",
        app.log()
    );
    assert_eq!(
        app.query_i64("SELECT count(*) FROM meta WHERE key = 'paddle_referral_discount_id'"),
        0
    );
}

/// Paddle's clock may run a little ahead of ours: a discount whose
/// `ends_at` passed less than a minute ago (by our clock) still runs; one
/// that ended longer ago ends the reward and lets the next one in.
#[test]
fn a_discount_end_within_a_minute_of_our_clock_still_runs() {
    let paddle = FakePaddle::start();
    let app = spawn(&paddle);
    let (ref_client, referrer, sub) = subscribed(&app, "tim@example.com", "tim");
    invitee_pays(&app, &ref_client, "tia@example.com", "tia");
    invitee_pays(&app, &ref_client, "tib@example.com", "tib");
    eventually("the first is applied", &app, SOON, || {
        state(&rewards_of(&app, referrer)) == ["running", "banked"]
    });
    deliver_ok(
        &app,
        &sub.clone()
            .discount(DISCOUNT, &at(-30))
            .event("evt_tim1", "updated", &at(100)),
        "ok",
    );
    assert_eq!(state(&rewards_of(&app, referrer)), ["running", "banked"]);
    assert_eq!(patches_to(&paddle, &sub.id), 1);
    deliver_ok(
        &app,
        &sub.clone()
            .discount(DISCOUNT, &at(-90))
            .event("evt_tim2", "updated", &at(110)),
        "ok",
    );
    eventually("the next is applied", &app, SOON, || {
        state(&rewards_of(&app, referrer)) == ["ended", "running"]
    });
    assert_eq!(patches_to(&paddle, &sub.id), 2);
}
