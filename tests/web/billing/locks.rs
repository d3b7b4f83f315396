//! Paddle's temporary locks (SPEC §7): 409 `subscription_locked_renewal`
//! and friends are waits, retried no sooner than 30 minutes later for up to
//! 7 days; a final failure fails only that reward; no PATCH is sent inside
//! the hour either side of a renewal or onto a scheduled pause or cancel.

use super::*;
use crate::support::paddle::FakePaddle;

fn states(app: &TestServer, user_id: i64) -> Vec<String> {
    rewards_of(app, user_id)
        .into_iter()
        .map(|(_, s)| s)
        .collect()
}

/// Seconds from now until the apply call's next try.
fn apply_due_in(app: &TestServer) -> i64 {
    app.query_i64(
        "SELECT CAST(strftime('%s', next_attempt_at) AS INTEGER) - CAST(strftime('%s', 'now') AS INTEGER)
         FROM paddle_outbox WHERE kind = 'apply_discount' AND done_at IS NULL",
    )
}

/// Time passes: the waiting call is due now (as if its 30 minutes were up).
fn fast_forward_the_wait(app: &TestServer) {
    app.db()
        .execute(
            "UPDATE paddle_outbox SET next_attempt_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now')
             WHERE done_at IS NULL AND failed_at IS NULL",
            [],
        )
        .unwrap();
}

/// The walk: one referrer, three invitees, Paddle locks the
/// subscription for its renewal just as the second reward goes on. The
/// second waits (not lost, not re-banked behind a dead key), is applied
/// after the wait, and the third follows it: all three in turn.
#[test]
fn three_invitees_and_a_renewal_lock_in_the_middle_all_three_rewards_applied_in_turn() {
    let paddle = FakePaddle::start();
    let app = spawn(&paddle);
    let (ref_client, referrer, sub) = subscribed(&app, "rita@example.com", "rita");
    for name in ["ivan", "jane", "karl"] {
        invitee_pays(&app, &ref_client, &format!("{name}@example.com"), name);
    }
    eventually("the first is applied", &app, SOON, || {
        states(&app, referrer) == ["running", "banked", "banked"]
    });

    // The first reward's three months end at a renewal: Paddle is locked.
    paddle.fail_calls(
        Some("PATCH"),
        "/subscriptions/sub_01rita",
        1,
        409,
        "subscription_locked_renewal",
        None,
    );
    paddle.end_discount(&sub.id);
    deliver_ok(&app, &sub.event("evt_rita1", "updated", &at(120)), "ok");
    eventually("the second waits on the lock", &app, SOON, || {
        states(&app, referrer) == ["ended", "waiting", "banked"]
    });
    assert!(app.log().contains("event=billing.outbox_locked"));
    let wait = apply_due_in(&app);
    assert!(
        (1790..=1810).contains(&wait),
        "retried no sooner than 30 minutes later: {wait}"
    );
    assert_eq!(
        app.query_i64("SELECT count(*) FROM paddle_outbox WHERE failed_at IS NOT NULL"),
        0,
        "a lock is not a failure"
    );
    let me = api_me(&ref_client);
    assert_eq!(me["referral"]["active_credits"], 2, "{me}");
    let metrics = app.client().get("/metrics").body;
    assert!(
        metrics.contains("app_referral_rewards{state=\"waiting\"} 1"),
        "{metrics}"
    );
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(patches_to(&paddle, &sub.id), 2, "no retry before the wait");

    fast_forward_the_wait(&app);
    eventually("the second is applied after the wait", &app, SOON, || {
        states(&app, referrer) == ["ended", "running", "banked"]
    });
    // Its discount shows, then ends three months on: the third goes on.
    deliver_ok(
        &app,
        &sub.clone()
            .discount(DISCOUNT, &at(3600))
            .event("evt_rita2", "updated", &at(130)),
        "ok",
    );
    paddle.end_discount(&sub.id);
    deliver_ok(&app, &sub.event("evt_rita3", "updated", &at(260)), "ok");
    eventually("the third is applied", &app, SOON, || {
        states(&app, referrer) == ["ended", "ended", "running"]
    });
    assert_eq!(
        patches_to(&paddle, &sub.id),
        4,
        "three accepted PATCHes and the one Paddle locked"
    );
    assert!(!states(&app, referrer).contains(&"failed".to_string()));
    assert_eq!(api_me(&ref_client)["referral"]["converted"], 3);
}

/// Locks that outlast 7 days fail the call: that reward is `failed` and the
/// next banked one goes on at once, never blocked behind it.
#[test]
fn a_lock_that_outlasts_seven_days_fails_that_reward_only() {
    let paddle = FakePaddle::start();
    let app = spawn(&paddle);
    let (ref_client, referrer, sub) = subscribed(&app, "lena@example.com", "lena");
    paddle.fail_calls(
        Some("PATCH"),
        "/subscriptions/sub_01lena",
        1,
        409,
        "subscription_locked_processing",
        Some(60),
    );
    invitee_pays(&app, &ref_client, "mona@example.com", "mona");
    invitee_pays(&app, &ref_client, "nils@example.com", "nils");
    eventually("the first waits on the lock", &app, SOON, || {
        states(&app, referrer) == ["waiting", "banked"]
    });
    // A week of locks later, Paddle is still locked.
    app.db()
        .execute(
            "UPDATE paddle_outbox SET locked_since = strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-8 days')
             WHERE kind = 'apply_discount'",
            [],
        )
        .unwrap();
    paddle.fail_calls(
        Some("PATCH"),
        "/subscriptions/sub_01lena",
        1,
        400,
        "subscription_locked_pending_changes",
        None,
    );
    fast_forward_the_wait(&app);
    eventually("it fails, and the next one goes on", &app, SOON, || {
        states(&app, referrer) == ["failed", "running"]
    });
    assert_eq!(patches_to(&paddle, &sub.id), 3);
    assert!(app.log().contains("event=billing.reward_failed"));
}

/// `billing-retry` on a failed reward while the next one runs on the same
/// subscription puts it back in line (banked), never PATCHed over the
/// running discount (one discount at a time: that would cut the running
/// reward short); it goes on when the running one ends.
#[test]
fn a_retried_reward_waits_behind_the_one_running_on_its_subscription() {
    let paddle = FakePaddle::start();
    let app = spawn(&paddle);
    let (ref_client, referrer, sub) = subscribed(&app, "olga@example.com", "olga");
    paddle.fail_calls(
        Some("PATCH"),
        "/subscriptions/sub_01olga",
        1,
        400,
        "bad_request",
        None,
    );
    invitee_pays(&app, &ref_client, "pete@example.com", "pete");
    eventually("the first fails", &app, SOON, || {
        states(&app, referrer) == ["failed"]
    });
    invitee_pays(&app, &ref_client, "ruth@example.com", "ruth");
    eventually("the next one goes on", &app, SOON, || {
        states(&app, referrer) == ["failed", "running"]
    });
    assert_eq!(patches_to(&paddle, &sub.id), 2);

    let out = app.cli(&["billing-retry", "--email", "olga@example.com", "--json"]);
    assert!(out.status.success(), "{out:?}");
    let retried: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(retried["rewards"][0]["state"], "banked", "{retried}");
    assert_eq!(
        retried["calls"],
        serde_json::json!([]),
        "no call re-queued: {retried}"
    );
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(states(&app, referrer), ["banked", "running"]);
    assert_eq!(
        patches_to(&paddle, &sub.id),
        2,
        "nothing PATCHed over the running discount"
    );
    // The running one ends: the retried one goes on.
    paddle.end_discount(&sub.id);
    deliver_ok(&app, &sub.event("evt_olga9", "updated", &at(300)), "ok");
    eventually("the retried one is applied in turn", &app, SOON, || {
        states(&app, referrer) == ["running", "ended"]
    });
    assert_eq!(patches_to(&paddle, &sub.id), 3);
}

/// The same while the next reward waits on a Paddle lock: the retried one
/// does not jump in beside it (two PATCHes, one discount: one reward lost).
#[test]
fn a_retried_reward_waits_behind_one_waiting_on_a_lock() {
    let paddle = FakePaddle::start();
    let app = spawn(&paddle);
    let (ref_client, referrer, sub) = subscribed(&app, "vera@example.com", "vera");
    paddle.fail_calls(
        Some("PATCH"),
        "/subscriptions/sub_01vera",
        1,
        400,
        "bad_request",
        None,
    );
    paddle.fail_calls(
        Some("PATCH"),
        "/subscriptions/sub_01vera",
        1,
        409,
        "subscription_locked_renewal",
        None,
    );
    invitee_pays(&app, &ref_client, "walt@example.com", "walt");
    eventually("the first fails", &app, SOON, || {
        states(&app, referrer) == ["failed"]
    });
    invitee_pays(&app, &ref_client, "xena@example.com", "xena");
    eventually("the next one waits on the lock", &app, SOON, || {
        states(&app, referrer) == ["failed", "waiting"]
    });
    let out = app.cli(&["billing-retry", "--email", "vera@example.com", "--json"]);
    assert!(out.status.success(), "{out:?}");
    let retried: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(retried["rewards"][0]["state"], "banked", "{retried}");
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(states(&app, referrer), ["banked", "waiting"]);
    assert_eq!(
        patches_to(&paddle, &sub.id),
        2,
        "only the failed and the locked one"
    );
    fast_forward_the_wait(&app);
    eventually("the waiting one goes on", &app, SOON, || {
        states(&app, referrer) == ["banked", "running"]
    });
}

/// No PATCH within an hour either side of the renewal: it is queued for
/// just after the window.
#[test]
fn no_reward_patch_inside_the_hour_around_a_renewal() {
    let paddle = FakePaddle::start();
    let app = spawn(&paddle);
    let (ref_client, referrer) = user(&app, "otto@example.com");
    let sub = Sub::new("sub_01otto", "ctm_01otto")
        .of(referrer)
        .next_billed_at(&at(600));
    deliver_ok(&app, &sub.event("evt_otto0", "created", &at(0)), "ok");
    invitee_pays(&app, &ref_client, "pia@example.com", "pia");
    eventually("the reward is queued", &app, SOON, || {
        states(&app, referrer) == ["applying"] || states(&app, referrer) == ["waiting"]
    });
    let wait = apply_due_in(&app);
    assert!(
        (600 + 3600..=600 + 3600 + 120).contains(&wait),
        "after the renewal's hour (and a minute of skew): {wait}"
    );
    std::thread::sleep(Duration::from_millis(700));
    assert!(paddle.calls_to("PATCH", "/subscriptions/").is_empty());
    // The renewal moves the next one a month on: once due, it goes.
    deliver_ok(
        &app,
        &sub.clone()
            .next_billed_at(&at(30 * 86_400))
            .event("evt_otto1", "updated", &at(90)),
        "ok",
    );
    fast_forward_the_wait(&app);
    eventually("applied outside the window", &app, SOON, || {
        states(&app, referrer) == ["running"]
    });
}

/// A scheduled pause shows as "pausing on DATE", and no reward is put on
/// a subscription that will pause; once the pause is taken back, it is.
#[test]
fn a_scheduled_pause_is_visible_and_gets_no_reward_patch() {
    let paddle = FakePaddle::start();
    let app = spawn(&paddle);
    let (ref_client, referrer) = user(&app, "paul@example.com");
    let pausing = Sub::new("sub_01paul", "ctm_01paul")
        .of(referrer)
        .pause_at("2027-01-15T10:00:00.000000Z");
    deliver_ok(&app, &pausing.event("evt_paul0", "created", &at(0)), "ok");
    let page = ref_client.get("/settings").body;
    assert!(page.contains("pausing on"), "{page}");
    assert!(page.contains("2027-01-15"), "{page}");
    assert!(
        !page.contains("renews on"),
        "a pausing subscription does not renew"
    );
    assert_eq!(
        api_me(&ref_client)["billing"]["pause_at"],
        "2027-01-15T10:00:00Z"
    );
    invitee_pays(&app, &ref_client, "quin@example.com", "quin");
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(states(&app, referrer), ["banked"]);
    assert!(paddle
        .calls_to("PATCH", "/subscriptions/sub_01paul")
        .is_empty());
    let resumed = Sub::new("sub_01paul", "ctm_01paul").of(referrer);
    deliver_ok(&app, &resumed.event("evt_paul1", "updated", &at(5)), "ok");
    eventually("applied once nothing is scheduled", &app, SOON, || {
        states(&app, referrer) == ["running"]
    });
}

/// A scheduled cancel is a scheduled change too: the referrer's reward
/// stays banked (it would be lost on a subscription that is ending), and
/// goes on once the cancel is taken back.
#[test]
fn a_scheduled_cancel_gets_no_reward_patch() {
    let paddle = FakePaddle::start();
    let app = spawn(&paddle);
    let (ref_client, referrer) = user(&app, "cora@example.com");
    let canceling = Sub::new("sub_01cora", "ctm_01cora")
        .of(referrer)
        .cancel_at("2027-01-15T10:00:00.000000Z");
    deliver_ok(&app, &canceling.event("evt_cora0", "created", &at(0)), "ok");
    invitee_pays(&app, &ref_client, "dirk@example.com", "dirk");
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(states(&app, referrer), ["banked"]);
    assert!(paddle
        .calls_to("PATCH", "/subscriptions/sub_01cora")
        .is_empty());
    let kept = Sub::new("sub_01cora", "ctm_01cora").of(referrer);
    deliver_ok(&app, &kept.event("evt_cora1", "updated", &at(5)), "ok");
    eventually("applied once the cancel is taken back", &app, SOON, || {
        states(&app, referrer) == ["running"]
    });
}

/// A past-due subscription gets no reward PATCH (Paddle refuses changes
/// while a payment is outstanding); once paid up it does, and Paddle's
/// `subscription_outstanding_transaction` on the way is a wait.
#[test]
fn past_due_gets_no_reward_patch_and_an_outstanding_transaction_is_a_wait() {
    let paddle = FakePaddle::start();
    let app = spawn(&paddle);
    let (ref_client, referrer) = user(&app, "rosa@example.com");
    let sub = Sub::new("sub_01rosa", "ctm_01rosa").of(referrer);
    deliver_ok(
        &app,
        &sub.clone()
            .status("past_due")
            .event("evt_rosa0", "created", &at(0)),
        "ok",
    );
    assert_eq!(tier(&app, referrer), "paid", "past due keeps access");
    invitee_pays(&app, &ref_client, "sven@example.com", "sven");
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(states(&app, referrer), ["banked"]);
    assert!(paddle.calls_to("PATCH", "/subscriptions/").is_empty());

    paddle.fail_calls(
        Some("PATCH"),
        "/subscriptions/sub_01rosa",
        1,
        409,
        "subscription_outstanding_transaction",
        None,
    );
    deliver_ok(&app, &sub.event("evt_rosa1", "updated", &at(10)), "ok");
    eventually("the PATCH waits on Paddle", &app, SOON, || {
        states(&app, referrer) == ["waiting"]
    });
    let wait = apply_due_in(&app);
    assert!(
        (1790..=1810).contains(&wait),
        "a wait, not a failure: {wait}"
    );
    fast_forward_the_wait(&app);
    eventually("applied once Paddle lets it", &app, SOON, || {
        states(&app, referrer) == ["running"]
    });
    assert_eq!(patches_to(&paddle, &sub.id), 2);
}
