//! A referral converts once, ever (SPEC §7 "Conversion"): a mailbox is
//! referred at most once, even after its account is deleted and signed up
//! again through the same invite, and a Paddle customer that converted one
//! referral never converts another.

use super::*;
use crate::support::paddle::FakePaddle;

fn referrals_of(app: &TestServer, referred: i64) -> i64 {
    app.query_i64(&format!(
        "SELECT count(*) FROM referrals WHERE referred_user_id = {referred}"
    ))
}

#[test]
fn deleting_and_signing_up_again_through_the_invite_earns_nothing_twice() {
    let paddle = FakePaddle::start();
    let app = spawn(&paddle);
    let (alice, alice_id) = user(&app, "alice@example.com");
    let mine = Sub::new("sub_01alice", "ctm_01alice").of(alice_id);
    deliver_ok(&app, &mine.event("evt_alice0", "created", &at(0)), "ok");
    let (bob, bob_id) = invited_user(&app, &alice, "bob@example.com");
    let his = Sub::new("sub_01bob", "ctm_01bob")
        .of(bob_id)
        .discount(DISCOUNT, &at(90 * 86_400));
    deliver_ok(&app, &his.event("evt_bob0", "created", &at(0)), "ok");
    eventually("both rewards run", &app, SOON, || {
        rewards_of(&app, alice_id).len() == 1 && rewards_of(&app, alice_id)[0].1 == "running"
    });
    // Bob cancels, deletes his account, and signs up again by the same
    // link with another address of the same mailbox.
    let canceled = his.clone().status("canceled");
    deliver_ok(&app, &canceled.event("evt_bob1", "canceled", &at(10)), "ok");
    delete_account(&bob);
    let hashes = app.query_i64(
        "SELECT count(*) FROM referrals WHERE mailbox_hash IS NOT NULL
         AND mailbox_hash NOT LIKE '%bob%' AND mailbox_hash NOT LIKE '%example%'",
    );
    assert_eq!(hashes, 1, "the mailbox is kept as a keyed hash only");
    for again in ["bob@example.com", "bob+again@example.com"] {
        let (client, id) = invited_user(&app, &alice, again);
        assert_ne!(id, bob_id);
        assert_eq!(referrals_of(&app, id), 0, "{again}: referred again");
        let page = client.get("/settings");
        assert!(
            !page.body.contains("Invited by a friend: 50%"),
            "{again}: promised the discount again"
        );
        delete_account(&client);
    }
    // Paying again as the same Paddle customer converts nothing.
    let (_, back) = invited_user(&app, &alice, "bob@example.com");
    let new_sub = Sub::new("sub_01bob2", "ctm_01bob").of(back);
    deliver_ok(&app, &new_sub.event("evt_bob2", "created", &at(20)), "ok");
    assert_eq!(tier(&app, back), "paid");
    assert_eq!(
        rewards_of(&app, alice_id).len(),
        1,
        "one reward for Bob, ever"
    );
    assert!(rewards_of(&app, back).is_empty());
    let me = api_me(&alice);
    assert_eq!(me["referral"]["converted"], 1, "{me}");
    assert_eq!(me["referral"]["pending"], 0, "{me}");
    // Someone else following the same link is referred as ever.
    let (_, carol) = invited_user(&app, &alice, "carol@example.com");
    assert_eq!(referrals_of(&app, carol), 1);
    assert_eq!(api_me(&alice)["referral"]["pending"], 1);
}

#[test]
fn a_paddle_customer_converts_one_referral_only() {
    let paddle = FakePaddle::start();
    let app = spawn(&paddle);
    let (alice, alice_id) = user(&app, "alice@example.com");
    let (dave, dave_id) = user(&app, "dave@example.com");
    // Bob (Alice's invitee) pays; Carol (Dave's invitee) pays as the same
    // Paddle customer: one person, two accounts.
    let (_, bob) = invited_user(&app, &alice, "bob@example.com");
    let (_, carol) = invited_user(&app, &dave, "carol@example.com");
    let bobs = Sub::new("sub_01bob", "ctm_01shared")
        .of(bob)
        .discount(DISCOUNT, &at(90 * 86_400));
    deliver_ok(&app, &bobs.event("evt_bob0", "created", &at(0)), "ok");
    assert_eq!(rewards_of(&app, alice_id).len(), 1);
    let carols = Sub::new("sub_01carol", "ctm_01shared").of(carol);
    deliver_ok(&app, &carols.event("evt_carol0", "created", &at(5)), "ok");
    assert_eq!(tier(&app, carol), "paid", "access as paid for");
    assert!(rewards_of(&app, carol).is_empty());
    assert!(rewards_of(&app, dave_id).is_empty());
    assert_eq!(api_me(&dave)["referral"]["converted"], 0);
    assert!(text(
        &app,
        &format!("SELECT converted_at FROM referrals WHERE referred_user_id = {carol}")
    )
    .is_empty());
    assert!(
        app.log()
            .contains("event=billing.customer_converted_before"),
        "{}",
        app.log()
    );
}
