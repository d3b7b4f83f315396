//! Refunds and chargebacks (SPEC §7): an approved full refund or any
//! chargeback of the invitee's converting payment reverses the conversion,
//! revokes both rewards (taking a running one off with `discount: null`)
//! and audits it; anything smaller changes nothing.

use serde_json::{json, Value};

use super::fixtures::adjustment;
use super::*;
use crate::support::paddle::FakePaddle;

/// A referrer with a running reward from `invitee`'s first payment.
fn converted(app: &TestServer, tag: &str) -> (Client, i64, Client, i64, Sub) {
    let (ref_client, referrer) = user(app, &format!("{tag}-ref@example.com"));
    let mine = Sub::new(&format!("sub_01{tag}r"), &format!("ctm_01{tag}r")).of(referrer);
    deliver_ok(
        app,
        &mine.event(&format!("evt_{tag}r0"), "created", &at(0)),
        "ok",
    );
    let (inv_client, invitee) = invited_user(app, &ref_client, &format!("{tag}-inv@example.com"));
    let theirs = Sub::new(&format!("sub_01{tag}i"), &format!("ctm_01{tag}i"))
        .of(invitee)
        .discount(DISCOUNT, &at(90 * 86_400));
    deliver_ok(
        app,
        &theirs.event(&format!("evt_{tag}i0"), "created", &at(0)),
        "ok",
    );
    eventually("both rewards run", app, SOON, || {
        rewards_of(app, referrer)
            .iter()
            .all(|(_, s)| s == "running")
            && rewards_of(app, invitee).iter().all(|(_, s)| s == "running")
    });
    (ref_client, referrer, inv_client, invitee, theirs)
}

fn states(app: &TestServer, user_id: i64) -> Vec<String> {
    rewards_of(app, user_id)
        .into_iter()
        .map(|(_, s)| s)
        .collect()
}

#[test]
fn a_full_refund_of_the_first_payment_reverses_the_referral_and_revokes_both_rewards() {
    let paddle = FakePaddle::start();
    let app = spawn(&paddle);
    let (ref_client, referrer, inv_client, invitee, theirs) = converted(&app, "refund");
    let refund = adjustment(
        "evt_refund1",
        "created",
        &theirs,
        &theirs.first_transaction(),
        ("refund", "full", "approved"),
        &at(60),
    );
    deliver_ok(&app, &refund, "ok");
    assert!(!text(
        &app,
        &format!("SELECT reversed_at FROM referrals WHERE referred_user_id = {invitee}")
    )
    .is_empty());
    assert_eq!(states(&app, referrer), ["revoked"]);
    assert_eq!(states(&app, invitee), ["revoked"]);
    // Both running discounts are taken off their subscriptions: the
    // referrer's was PATCHed on, the invitee's came with the checkout.
    for (sub, before) in [("sub_01refundr", 1), ("sub_01refundi", 0)] {
        let calls = paddle.wait_for("PATCH", &format!("/subscriptions/{sub}"), before + 1, SOON);
        let removal: Vec<_> = calls
            .iter()
            .filter(|c| c.body == json!({"discount": null}))
            .collect();
        assert_eq!(removal.len(), 1, "{sub}: {calls:?}");
    }
    // Audited for both parties: reverse_referral, by paddle, with the event.
    let audit: Vec<(i64, String, String)> = {
        let db = app.db();
        let mut stmt = db
            .prepare(
                "SELECT user_id, actor, note FROM access_audit WHERE action = 'reverse_referral' ORDER BY user_id",
            )
            .unwrap();
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap();
        rows.map(Result::unwrap).collect()
    };
    let mut parties = [referrer, invitee];
    parties.sort();
    assert_eq!(
        audit,
        parties
            .iter()
            .map(|id| (*id, "paddle".to_string(), "evt_refund1".to_string()))
            .collect::<Vec<_>>()
    );
    // A reversed referral counts neither as converted nor as pending.
    let me = api_me(&ref_client);
    assert_eq!(me["referral"]["converted"], 0, "{me}");
    assert_eq!(me["referral"]["pending"], 0, "{me}");
    assert_eq!(me["referral"]["active_credits"], 0, "{me}");
    assert_eq!(
        api_me(&inv_client)["referral"]["rewards"][0]["state"],
        "revoked"
    );
    let stats: Value = serde_json::from_slice(&app.cli(&["stats", "--json"]).stdout).unwrap();
    assert_eq!(stats["rewards"]["revoked"], 2, "{stats}");
    assert_eq!(stats["invites"]["converted"], 0, "{stats}");
    let metrics = app.client().get("/metrics").body;
    assert!(metrics.contains("app_referrals_reversed 1"), "{metrics}");
    // The refund's update, or a replay, reverses nothing twice; the
    // invitee keeps access as their subscription says (billing's call).
    let updated = adjustment(
        "evt_refund2",
        "updated",
        &theirs,
        &theirs.first_transaction(),
        ("refund", "full", "approved"),
        &at(70),
    );
    deliver_ok(&app, &updated, "ignored");
    deliver_ok(&app, &refund, "replay");
    assert_eq!(
        app.query_i64("SELECT count(*) FROM access_audit WHERE action = 'reverse_referral'"),
        2
    );
    // Paying again later never converts the referral again.
    deliver_ok(
        &app,
        &theirs.event("evt_refundi9", "updated", &at(200)),
        "ok",
    );
    assert_eq!(api_me(&ref_client)["referral"]["converted"], 0);
    assert_eq!(states(&app, referrer), ["revoked"]);
}

#[test]
fn a_chargeback_reverses_but_partial_pending_and_renewal_refunds_do_not() {
    let paddle = FakePaddle::start();
    let app = spawn(&paddle);
    let (_, referrer, _, invitee, theirs) = converted(&app, "cb");
    let first = theirs.first_transaction();
    let cases = [
        ("evt_cb1", first.as_str(), ("refund", "partial", "approved")),
        (
            "evt_cb2",
            first.as_str(),
            ("refund", "full", "pending_approval"),
        ),
        ("evt_cb3", first.as_str(), ("refund", "full", "rejected")),
        ("evt_cb4", first.as_str(), ("credit", "full", "approved")),
        (
            "evt_cb5",
            first.as_str(),
            ("chargeback_warning", "full", "approved"),
        ),
        ("evt_cb6", "txn_01cbrenewal", ("refund", "full", "approved")),
    ];
    for (event, txn, terms) in cases {
        deliver_ok(
            &app,
            &adjustment(event, "created", &theirs, txn, terms, &at(60)),
            "ignored",
        );
        assert_eq!(states(&app, referrer), ["running"], "{event}");
    }
    deliver_ok(
        &app,
        &adjustment(
            "evt_cb7",
            "created",
            &theirs,
            &first,
            ("chargeback", "full", "approved"),
            &at(90),
        ),
        "ok",
    );
    assert_eq!(states(&app, referrer), ["revoked"]);
    assert_eq!(states(&app, invitee), ["revoked"]);
}

#[test]
fn a_refund_approved_by_its_update_reverses_and_the_referrers_next_reward_goes_on_after_the_removal(
) {
    let paddle = FakePaddle::start();
    let app = spawn(&paddle);
    let (ref_client, referrer, _, invitee, theirs) = converted(&app, "upd");
    // A second invitee converts: the referrer's second reward waits in the
    // bank behind the running first one.
    let (_, second) = invited_user(&app, &ref_client, "upd-inv2@example.com");
    let seconds = Sub::new("sub_01updj", "ctm_01updj")
        .of(second)
        .discount(DISCOUNT, &at(90 * 86_400));
    deliver_ok(&app, &seconds.event("evt_updj0", "created", &at(0)), "ok");
    eventually("second reward banked", &app, SOON, || {
        states(&app, referrer) == ["running", "banked"]
    });
    let first = theirs.first_transaction();
    let requested = ("refund", "full", "pending_approval");
    deliver_ok(
        &app,
        &adjustment("evt_upd1", "created", &theirs, &first, requested, &at(60)),
        "ignored",
    );
    assert_eq!(states(&app, referrer), ["running", "banked"]);
    assert!(text(
        &app,
        &format!("SELECT reversed_at FROM referrals WHERE referred_user_id = {invitee}")
    )
    .is_empty());
    // Paddle approves it: the same adjustment, updated.
    let approved = ("refund", "full", "approved");
    deliver_ok(
        &app,
        &adjustment("evt_upd2", "updated", &theirs, &first, approved, &at(120)),
        "ok",
    );
    assert_eq!(states(&app, invitee), ["revoked"]);
    // The revoked discount comes off first, then the next reward goes on.
    eventually("the next reward runs", &app, SOON, || {
        states(&app, referrer) == ["revoked", "running"]
    });
    let bodies: Vec<Value> = paddle
        .calls_to("PATCH", "/subscriptions/sub_01updr")
        .into_iter()
        .map(|c| c.body)
        .collect();
    let apply = json!({"discount": {"id": DISCOUNT, "effective_from": "next_billing_period"}});
    assert_eq!(bodies, [apply.clone(), json!({"discount": null}), apply]);
    // The second invitee's own reward is untouched.
    assert_eq!(states(&app, second), ["running"]);
    assert_eq!(api_me(&ref_client)["referral"]["converted"], 1);
}
