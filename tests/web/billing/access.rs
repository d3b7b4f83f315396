//! The tier follows the subscription; who paid is decided by signed
//! custom_data, a linked customer, or the customer's email.

use super::fixtures::transaction_completed;
use super::*;

fn count(app: &TestServer, sql: &str) -> i64 {
    app.query_i64(sql)
}

#[test]
fn subscribing_makes_the_account_paid() {
    let paddle = FakePaddle::start();
    let app = spawn(&paddle);
    let (client, id) = user(&app, "payer@example.com");
    assert_eq!(api_me(&client)["tier"], "free");
    let sub = Sub::new("sub_01payer", "ctm_01payer").of(id);
    deliver_ok(
        &app,
        &sub.event("evt_payer_created", "created", &at(0)),
        "ok",
    );
    let me = api_me(&client);
    assert_eq!(me["tier"], "paid");
    assert_eq!(me["paid"]["active"], true);
    assert_eq!(me["paid"]["source"], "tier");
    let audit = text(
        &app,
        &format!("SELECT action || ' ' || old_value || '>' || new_value || ' ' || actor || ' ' || note FROM access_audit WHERE user_id = {id}"),
    );
    assert_eq!(audit, "set_tier free>paid paddle evt_payer_created");
    assert_eq!(
        text(
            &app,
            "SELECT customer_id || ' ' || status || ' ' || user_id FROM subscriptions"
        ),
        format!("ctm_01payer active {id}")
    );
    // The payment behind it is stored; it changes nothing more.
    deliver_ok(
        &app,
        &transaction_completed("evt_payer_txn", &sub, &at(0)),
        "ignored",
    );
    assert_eq!(count(&app, "SELECT count(*) FROM billing_events"), 2);
    assert_eq!(count(&app, "SELECT count(*) FROM access_audit"), 1);
    assert!(paddle.calls().is_empty(), "no Paddle call was needed");
}

#[test]
fn a_scheduled_cancel_keeps_access_until_canceled_arrives() {
    let paddle = FakePaddle::start();
    let app = spawn(&paddle);
    let (client, id) = user(&app, "leaver@example.com");
    let sub = Sub::new("sub_01leaver", "ctm_01leaver").of(id);
    deliver_ok(&app, &sub.event("evt_l1", "created", &at(0)), "ok");
    let end = at(30 * 86400);
    let canceling = sub.clone().cancel_at(&end);
    deliver_ok(&app, &canceling.event("evt_l2", "updated", &at(1)), "ok");
    assert_eq!(
        api_me(&client)["tier"],
        "paid",
        "still paid until the period ends"
    );
    assert_eq!(
        text(&app, "SELECT cancel_at FROM subscriptions"),
        format!("{}Z", &end[..19])
    );
    deliver_ok(
        &app,
        &sub.clone()
            .status("canceled")
            .event("evt_l3", "canceled", &at(2)),
        "ok",
    );
    assert_eq!(api_me(&client)["tier"], "free");
    assert_eq!(
        text(&app, &format!("SELECT group_concat(new_value || ':' || note, ' ') FROM access_audit WHERE user_id = {id} AND actor = 'paddle'")),
        "paid:evt_l1 free:evt_l3"
    );
}

#[test]
fn past_due_keeps_access_paused_removes_it_resumed_restores_it() {
    let paddle = FakePaddle::start();
    let app = spawn(&paddle);
    let (_, id) = user(&app, "dunning@example.com");
    let sub = Sub::new("sub_01dunning", "ctm_01dunning").of(id);
    let steps = [
        ("created", "active", "paid"),
        ("past_due", "past_due", "paid"),
        ("paused", "paused", "free"),
        ("resumed", "active", "paid"),
    ];
    for (i, (kind, status, want)) in steps.iter().enumerate() {
        let body = sub
            .clone()
            .status(status)
            .event(&format!("evt_d{i}"), kind, &at(i as i64));
        deliver_ok(&app, &body, "ok");
        assert_eq!(tier(&app, id), *want, "after {kind}");
    }
    // A credit is untouched by billing.
    app.cli(&[
        "grant-credit",
        "--email",
        "dunning@example.com",
        "--days",
        "5",
    ]);
    let credit = text(
        &app,
        &format!("SELECT credit_until FROM users WHERE id = {id}"),
    );
    deliver_ok(
        &app,
        &sub.clone()
            .status("canceled")
            .event("evt_d9", "canceled", &at(9)),
        "ok",
    );
    assert_eq!(tier(&app, id), "free");
    assert_eq!(
        text(
            &app,
            &format!("SELECT credit_until FROM users WHERE id = {id}")
        ),
        credit
    );
}

/// The same events, in order for one customer and shuffled and delivered
/// twice for another, leave the same subscription and tier.
#[test]
fn shuffled_and_replayed_events_reach_the_same_final_state() {
    let paddle = FakePaddle::start();
    let app = spawn(&paddle);
    let (_, a) = user(&app, "in-order@example.com");
    let (_, b) = user(&app, "shuffled@example.com");
    let events = |user: i64, tag: &str| {
        let sub = Sub::new(&format!("sub_01{tag}"), &format!("ctm_01{tag}")).of(user);
        let end = at(86400);
        vec![
            sub.event(&format!("evt_{tag}1"), "created", &at(0)),
            sub.clone()
                .status("past_due")
                .event(&format!("evt_{tag}2"), "past_due", &at(1)),
            sub.clone().event(&format!("evt_{tag}3"), "updated", &at(2)),
            sub.clone()
                .cancel_at(&end)
                .event(&format!("evt_{tag}4"), "updated", &at(3)),
        ]
    };
    for body in events(a, "ordered") {
        deliver_ok(&app, &body, "ok");
    }
    let shuffled = events(b, "shuffled");
    for i in [3, 0, 2, 1, 1, 3, 0, 2] {
        let resp = deliver(&app, &shuffled[i]);
        assert_eq!(resp.status, 200, "{}", resp.summary());
    }
    let state = |tag: &str, user: i64| {
        text(&app, &format!(
            "SELECT status || ' ' || coalesce(cancel_at, '-') || ' ' || substr(last_event_id, 1, 4) || substr(last_event_id, -1)
             FROM subscriptions WHERE id = 'sub_01{tag}'"
        )) + " " + &tier(&app, user)
    };
    assert_eq!(state("ordered", a), state("shuffled", b));
    assert!(
        state("ordered", a).starts_with("active 20"),
        "{}",
        state("ordered", a)
    );
    assert_eq!(
        count(&app, "SELECT count(*) FROM billing_events"),
        8,
        "each event stored once"
    );
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM billing_events WHERE outcome = 'stale'"
        ),
        3
    );
}

/// Paddle's times carry microseconds: `12.5Z` is after `12Z`, though a
/// string compare says otherwise.
#[test]
fn an_older_event_changes_nothing_to_the_microsecond() {
    let paddle = FakePaddle::start();
    let app = spawn(&paddle);
    let (_, id) = user(&app, "micro@example.com");
    let sub = Sub::new("sub_01micro", "ctm_01micro").of(id);
    let second = &at(0)[..19];
    deliver_ok(
        &app,
        &sub.clone()
            .status("canceled")
            .event("evt_m2", "canceled", &format!("{second}.5Z")),
        "ok",
    );
    deliver_ok(
        &app,
        &sub.event("evt_m1", "updated", &format!("{second}Z")),
        "stale",
    );
    assert_eq!(tier(&app, id), "free");
    assert_eq!(text(&app, "SELECT status FROM subscriptions"), "canceled");
    // And a replay answers 200 and changes nothing.
    deliver_ok(
        &app,
        &sub.event("evt_m1", "updated", &format!("{second}Z")),
        "replay",
    );
}

#[test]
fn forged_custom_data_upgrades_no_one() {
    let paddle = FakePaddle::start();
    let app = spawn(&paddle);
    let (client, victim) = user(&app, "victim@example.com");
    let forged = serde_json::json!({"user_id": victim.to_string(), "sig": "0".repeat(64)});
    let sub = Sub::new("sub_01forged", "ctm_01stranger").custom_data(forged);
    deliver_ok(&app, &sub.event("evt_f1", "created", &at(0)), "unmatched");
    // The stranger's email (the fake does not know them) matches no one.
    eventually("the lookup is refused", &app, SOON, || {
        app.query_i64("SELECT count(*) FROM paddle_outbox WHERE failed_at IS NOT NULL") == 1
    });
    assert_eq!(api_me(&client)["tier"], "free");
    assert_eq!(
        app.query_i64("SELECT count(*) FROM subscriptions WHERE user_id IS NOT NULL"),
        0
    );
    // A sig made for someone else's id does not carry over either.
    let (_, other) = user(&app, "other@example.com");
    let mut stolen = super::fixtures::custom_data_for(other);
    stolen["user_id"] = victim.to_string().into();
    let sub = Sub::new("sub_01stolen", "ctm_01stranger2").custom_data(stolen);
    deliver_ok(&app, &sub.event("evt_f2", "created", &at(0)), "unmatched");
    assert_eq!(tier(&app, victim), "free");
}

#[test]
fn a_subscription_created_in_the_dashboard_is_matched_by_email() {
    let paddle = FakePaddle::start();
    paddle.add_customer("ctm_01dashboard", "Dash@Example.com");
    let app = spawn(&paddle);
    let (client, id) = user(&app, "dash@example.com");
    let sub = Sub::new("sub_01dashboard", "ctm_01dashboard");
    deliver_ok(
        &app,
        &sub.event("evt_dash1", "created", &at(0)),
        "unmatched",
    );
    eventually("the email lookup links the account", &app, SOON, || {
        tier(&app, id) == "paid"
    });
    assert_eq!(api_me(&client)["tier"], "paid");
    let calls = paddle.calls_to("GET", "/customers/ctm_01dashboard");
    assert_eq!(calls.len(), 1);
    assert_eq!(
        calls[0].authorization.as_deref(),
        Some("Bearer pdl_sdbx_apikey_test")
    );
    assert_eq!(
        text(
            &app,
            &format!("SELECT note FROM access_audit WHERE user_id = {id}")
        ),
        "evt_dash1"
    );
    // Later events for the same customer need no lookup.
    deliver_ok(
        &app,
        &sub.clone()
            .status("paused")
            .event("evt_dash2", "paused", &at(1)),
        "ok",
    );
    assert_eq!(tier(&app, id), "free");
    assert_eq!(paddle.calls().len(), 1);
}

/// A subscription event without our `custom_data` (say, made before the
/// checkout carried it) is tied to its account by the signed payment.
#[test]
fn a_signed_transaction_links_an_unmatched_subscription() {
    let paddle = FakePaddle::start();
    let app = spawn(&paddle);
    let (_, id) = user(&app, "txn@example.com");
    let bare = Sub::new("sub_01txn", "ctm_01txn");
    deliver_ok(&app, &bare.event("evt_t1", "created", &at(0)), "unmatched");
    assert_eq!(tier(&app, id), "free");
    let signed = bare.clone().of(id);
    deliver_ok(
        &app,
        &transaction_completed("evt_t2", &signed, &at(0)),
        "ok",
    );
    assert_eq!(tier(&app, id), "paid");
    assert_eq!(app.query_i64("SELECT user_id FROM subscriptions"), id);
    // A forged one links nothing.
    let other = Sub::new("sub_01txn2", "ctm_01txn2");
    deliver_ok(&app, &other.event("evt_t3", "created", &at(0)), "unmatched");
    let forged =
        other.custom_data(serde_json::json!({"user_id": id.to_string(), "sig": "ab".repeat(32)}));
    deliver_ok(
        &app,
        &transaction_completed("evt_t4", &forged, &at(0)),
        "ignored",
    );
    assert_eq!(
        app.query_i64("SELECT count(*) FROM subscriptions WHERE user_id IS NULL"),
        1
    );
}
