//! Access and referral rewards, derived from a user's subscriptions: the
//! tier follows them, a referral converts on the first paid `active` one,
//! the two rewards are applied one discount at a time per subscription, and
//! a refund or chargeback of the converting payment reverses it all.

use rusqlite::Connection;
use serde_json::json;

use super::event::PaddleTime;
use crate::clock::Timestamp;
use crate::db::billing::{self, SubscriptionRow, SubscriptionStatus};
use crate::db::rewards::{self, Reward};
use crate::db::users::{self, Tier, User};
use crate::db::{audit, outbox};
use crate::error::Result;
use crate::log;
use crate::services::credit::{self, Actor};

/// Paddle's clock and ours may differ: times of theirs are compared with
/// ours allowing this much either way (SPEC §7).
pub const CLOCK_SKEW: i64 = 60;
/// Paddle locks a subscription around its renewal: no reward PATCH within
/// this long either side of `next_billed_at`.
pub const RENEWAL_WINDOW: i64 = 3600;

/// Brings one user's tier, referral and rewards in line with their
/// subscriptions. `event_id` is the audit note of a tier change.
pub fn reconcile(
    conn: &Connection,
    user_id: i64,
    discount: Option<&str>,
    event_id: &str,
    now: Timestamp,
) -> Result<()> {
    // Billing has no effect on a deleted account's tombstone (SPEC §9).
    let Some(user) = users::by_id(conn, user_id)?.filter(|u| !u.is_deleted()) else {
        return Ok(());
    };
    sync_tier(conn, &user, event_id, now)?;
    let referrer = convert_on_first_payment(conn, user_id, now)?;
    settle(conn, user_id, discount, now)?;
    if let Some(referrer) = referrer {
        settle(conn, referrer, discount, now)?;
    }
    Ok(())
}

/// `paid` while any subscription is active, trialing or past due; `free`
/// otherwise. A credit (`credit_until`) is left alone.
fn sync_tier(conn: &Connection, user: &User, event_id: &str, now: Timestamp) -> Result<()> {
    let paid = billing::subscriptions_of(conn, user.id)?
        .iter()
        .any(|s| s.status.grants_access());
    let tier = if paid { Tier::Paid } else { Tier::Free };
    if user.tier == tier {
        return Ok(());
    }
    credit::write_tier(conn, user, tier, &Actor::paddle(event_id), now)?;
    log::event(
        "billing.tier_changed",
        &[
            ("user_id", &user.id),
            ("tier", &tier),
            ("event_id", &event_id),
        ],
    );
    Ok(())
}

/// The first time a referred user has a paid `active` subscription (not an
/// imported one), the referral converts (once, ever) and each party gets a
/// banked reward. A Paddle customer converts at most one referral. Returns
/// the referrer when this call converted it.
fn convert_on_first_payment(
    conn: &Connection,
    user_id: i64,
    now: Timestamp,
) -> Result<Option<i64>> {
    let Some((referral_id, referrer, converted)) = rewards::referral_of(conn, user_id)? else {
        return Ok(None);
    };
    if converted {
        return Ok(None);
    }
    let subs = billing::subscriptions_of(conn, user_id)?;
    let Some(paying) = subs.iter().find(|s| s.was_active && !s.imported) else {
        return Ok(None);
    };
    if rewards::customer_converted_other(conn, &paying.customer_id, referral_id)? {
        log::event(
            "billing.customer_converted_before",
            &[
                ("referral_id", &referral_id),
                ("customer_id", &paying.customer_id),
            ],
        );
        return Ok(None);
    }
    if !rewards::mark_converted(conn, referral_id, &paying.id, now)? {
        return Ok(None);
    }
    rewards::insert_banked(conn, referral_id, referrer, "referrer", now)?;
    rewards::insert_banked(conn, referral_id, user_id, "referred", now)?;
    log::event(
        "billing.referral_converted",
        &[
            ("referral_id", &referral_id),
            ("referrer", &referrer),
            ("referred", &user_id),
        ],
    );
    Ok(Some(referrer))
}

/// An approved full refund or a chargeback of `transaction_id`: when it is
/// the payment that converted a referral, the referral is reversed, both
/// rewards are revoked (a running one is taken off its subscription by the
/// worker), and each party's audit says so. Returns the parties whose
/// rewards were revoked (none when it reversed nothing).
pub fn reverse(
    conn: &Connection,
    transaction_id: &str,
    event_id: &str,
    now: Timestamp,
) -> Result<Vec<i64>> {
    let Some((referral_id, _)) = rewards::converted_by_transaction(conn, transaction_id)? else {
        return Ok(Vec::new());
    };
    if !rewards::mark_reversed(conn, referral_id, now)? {
        return Ok(Vec::new());
    }
    let paddle = Actor::paddle(event_id);
    let mut parties = Vec::new();
    for reward in rewards::rewards_of_referral(conn, referral_id)? {
        parties.push(reward.user_id);
        if reward.state == "running" {
            if let Some(sub) = reward.subscription_id.as_deref() {
                queue_removal(conn, reward.id, sub, now)?;
            }
        }
        rewards::set_state(
            conn,
            reward.id,
            "revoked",
            reward.subscription_id.as_deref(),
            reward.applied_at,
            reward.ends_at,
        )?;
        let entry = paddle.audit_entry(
            now,
            reward.user_id,
            "reverse_referral",
            Some(format!("{} reward {}", reward.role, reward.state)),
            Some("revoked".into()),
        );
        audit::append(conn, &entry)?;
    }
    log::event(
        "billing.referral_reversed",
        &[
            ("referral_id", &referral_id),
            ("transaction_id", &transaction_id),
            ("event_id", &event_id),
        ],
    );
    Ok(parties)
}

/// The outbox key of the call that takes the discount off a subscription.
fn removal_key(subscription_id: &str) -> String {
    format!("remove_discount:{subscription_id}")
}

/// Queues `PATCH discount: null` for a revoked reward's subscription.
pub fn queue_removal(
    conn: &Connection,
    reward_id: i64,
    subscription_id: &str,
    now: Timestamp,
) -> Result<()> {
    let payload = json!({ "reward_id": reward_id, "subscription_id": subscription_id });
    outbox::enqueue(
        conn,
        "remove_discount",
        &payload.to_string(),
        &removal_key(subscription_id),
        true,
        now,
    )?;
    log::event(
        "billing.reward_removing",
        &[
            ("reward_id", &reward_id),
            ("subscription_id", &subscription_id),
        ],
    );
    Ok(())
}

/// Ends rewards whose discount is over, marks the invitee's checkout
/// discount as their reward, and applies the next banked one to the
/// subscription that takes one, one at a time.
pub fn settle(
    conn: &Connection,
    user_id: i64,
    discount: Option<&str>,
    now: Timestamp,
) -> Result<()> {
    let subs = billing::subscriptions_of(conn, user_id)?;
    for reward in rewards::rewards_of(conn, user_id)? {
        if reward.state == "running" {
            refresh_running(conn, &reward, &subs, discount, now)?;
        }
    }
    let rewards = rewards::rewards_of(conn, user_id)?;
    if let Some(checkout) = discount.and_then(|d| {
        subs.iter()
            .find(|s| s.status.grants_access() && ours_running(s, d, now))
    }) {
        take_checkout_discount(conn, &rewards, checkout, now)?;
    }
    let rewards = rewards::rewards_of(conn, user_id)?;
    if let Some(sub) = subs.iter().find(|s| takes_a_discount(s)) {
        apply_next(conn, &rewards, sub, discount, now)?;
    }
    rewards::credit_applied(conn, user_id, now)
}

/// A subscription a reward may be put on now: it will charge again (active
/// or trialing), nothing is scheduled on it (pause or cancel), and it is
/// not past due (SPEC §7).
pub fn takes_a_discount(sub: &SubscriptionRow) -> bool {
    sub.status.charges_again() && !sub.has_scheduled_change()
}

/// When a PATCH on `sub` may be sent: now, or after the renewal window
/// around `next_billed_at` (Paddle locks it there), clock skew allowed.
pub fn patch_allowed_from(sub: &SubscriptionRow, now: Timestamp) -> Timestamp {
    let margin = RENEWAL_WINDOW + CLOCK_SKEW;
    match sub.next_billed_at {
        Some(renews) if now.secs() > renews.secs() - margin && now < renews.plus(margin) => {
            renews.plus(margin)
        }
        _ => now,
    }
}

/// A discount that has not ended (its `ends_at`, by Paddle's clock, is
/// not yet a minute behind ours).
fn discount_running(sub: &SubscriptionRow, now: Timestamp) -> bool {
    sub.discount_id.is_some()
        && sub
            .discount_ends_at
            .is_none_or(|end| end.plus(CLOCK_SKEW) > now)
}

fn ours_running(sub: &SubscriptionRow, discount: &str, now: Timestamp) -> bool {
    sub.discount_id.as_deref() == Some(discount) && discount_running(sub, now)
}

/// A running reward ends when a subscription event newer than its apply
/// shows no discount (or one whose `ends_at` passed), or the subscription
/// is canceled; while it runs, its end follows the discount's.
fn refresh_running(
    conn: &Connection,
    reward: &Reward,
    subs: &[SubscriptionRow],
    discount: Option<&str>,
    now: Timestamp,
) -> Result<()> {
    let Some(sub) = subs
        .iter()
        .find(|s| Some(&s.id) == reward.subscription_id.as_ref())
    else {
        return Ok(());
    };
    // applied_at is ours, whole seconds; the event time is Paddle's. An
    // event that shows no discount proves the reward over only when it
    // surely came after the apply: a clock skew later. One that shows our
    // discount came after it whatever the clocks say.
    let applied = reward
        .applied_at
        .map(|t| PaddleTime::from_timestamp(t.plus(CLOCK_SKEW)));
    let shows_ours = discount.is_some() && sub.discount_id.as_deref() == discount;
    let newer = shows_ours
        || PaddleTime::parse(&sub.event_occurred_at)
            .is_some_and(|seen| applied.is_none_or(|applied| seen >= applied));
    let sub_id = reward.subscription_id.as_deref();
    if sub.status == SubscriptionStatus::Canceled || (newer && !discount_running(sub, now)) {
        let ended = sub
            .discount_ends_at
            .filter(|end| *end <= now)
            .unwrap_or(now);
        rewards::set_state(
            conn,
            reward.id,
            "ended",
            sub_id,
            reward.applied_at,
            Some(ended),
        )?;
        log::event("billing.reward_ended", &[("reward_id", &reward.id)]);
    } else if discount.is_some() && sub.discount_id.as_deref() == discount {
        if let Some(end) = sub
            .discount_ends_at
            .filter(|end| Some(*end) != reward.ends_at)
        {
            rewards::set_state(
                conn,
                reward.id,
                "running",
                sub_id,
                reward.applied_at,
                Some(end),
            )?;
        }
    }
    Ok(())
}

/// The invitee's checkout carried the referral discount: that is their
/// reward, applied already.
fn take_checkout_discount(
    conn: &Connection,
    rewards: &[Reward],
    sub: &SubscriptionRow,
    now: Timestamp,
) -> Result<()> {
    let already = rewards
        .iter()
        .any(|r| r.state == "running" && r.subscription_id.as_ref() == Some(&sub.id));
    let Some(own) = rewards
        .iter()
        .find(|r| r.state == "banked" && r.role == "referred")
        .filter(|_| !already)
    else {
        return Ok(());
    };
    rewards::set_state(
        conn,
        own.id,
        "running",
        Some(&sub.id),
        Some(now),
        sub.discount_ends_at,
    )?;
    log::event(
        "billing.reward_running",
        &[("reward_id", &own.id), ("via", &"checkout")],
    );
    Ok(())
}

fn apply_next(
    conn: &Connection,
    rewards: &[Reward],
    sub: &SubscriptionRow,
    discount: Option<&str>,
    now: Timestamp,
) -> Result<()> {
    // One call for this person at a time; one discount per subscription.
    // A failed reward is not in the way: it waits for `billing-retry`.
    let busy = rewards.iter().any(|r| {
        matches!(r.state.as_str(), "applying" | "waiting")
            || (r.state == "running" && r.subscription_id.as_ref() == Some(&sub.id))
    });
    let Some(next) = rewards.iter().find(|r| r.state == "banked") else {
        return Ok(());
    };
    if busy || discount_running(sub, now) || outbox::is_pending(conn, &removal_key(&sub.id))? {
        return Ok(());
    }
    let Some(discount) = discount else {
        // The discount is created once by the worker; rewards wait for it.
        outbox::enqueue(conn, "create_discount", "{}", "create_discount", true, now)?;
        return Ok(());
    };
    let payload =
        json!({ "reward_id": next.id, "subscription_id": sub.id, "discount_id": discount });
    let key = format!("apply_discount:{}:{}", next.id, sub.id);
    // Re-armed when finished: a reward sent back to the bank (its
    // subscription changed before the call) may be queued again.
    if outbox::enqueue_at(
        conn,
        "apply_discount",
        &payload.to_string(),
        &key,
        true,
        now,
        patch_allowed_from(sub, now),
    )? {
        rewards::set_state(conn, next.id, "applying", Some(&sub.id), None, None)?;
        log::event(
            "billing.reward_applying",
            &[("reward_id", &next.id), ("subscription_id", &sub.id)],
        );
    }
    Ok(())
}

/// What the worker does with a reward's PATCH, decided just before it
/// would be sent (the subscription may have changed since it was queued).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BeforeApply {
    /// Send it.
    Send,
    /// The reward is no longer waiting for this call (revoked, say).
    Drop,
    /// The subscription no longer takes a discount: the reward goes back
    /// to the bank (it is applied when one does).
    Bank,
    /// Inside the renewal window: wait until then.
    Later(Timestamp),
}

pub fn before_apply(
    conn: &Connection,
    reward_id: i64,
    subscription_id: &str,
    now: Timestamp,
) -> Result<BeforeApply> {
    let Some(reward) = rewards::reward(conn, reward_id)?
        .filter(|r| matches!(r.state.as_str(), "applying" | "waiting"))
    else {
        return Ok(BeforeApply::Drop);
    };
    let Some(sub) = billing::subscription(conn, subscription_id)?.filter(takes_a_discount) else {
        return Ok(BeforeApply::Bank);
    };
    // One discount at a time: never PATCHed over another reward running
    // (or being put on) this subscription: it would cut that one short.
    let another_runs = rewards::rewards_of(conn, reward.user_id)?.iter().any(|r| {
        r.id != reward.id
            && matches!(r.state.as_str(), "applying" | "waiting" | "running")
            && r.subscription_id.as_deref() == Some(subscription_id)
    });
    if another_runs {
        return Ok(BeforeApply::Bank);
    }
    let from = patch_allowed_from(&sub, now);
    Ok(if from > now {
        BeforeApply::Later(from)
    } else {
        BeforeApply::Send
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{audit, referrals, test_db};

    const NOW: Timestamp = Timestamp(1_800_000_000);
    const DISCOUNT: &str = "dsc_ref";

    fn sub(id: &str, user_id: i64, status: &str, occurred: &str) -> SubscriptionRow {
        let status = SubscriptionStatus::parse(status).unwrap();
        SubscriptionRow {
            id: id.into(),
            user_id: Some(user_id),
            customer_id: format!("ctm_{id}"),
            status,
            price_id: None,
            current_period_ends_at: Some(NOW.plus(30 * 86400)),
            cancel_at: None,
            discount_id: None,
            discount_ends_at: None,
            event_occurred_at: occurred.into(),
            last_event_id: format!("evt_{status}"),
            was_active: status == SubscriptionStatus::Active,
            next_billed_at: None,
            pause_at: None,
            first_transaction_id: None,
            imported: false,
        }
    }

    fn states(conn: &Connection, user_id: i64) -> Vec<String> {
        rewards::rewards_of(conn, user_id)
            .unwrap()
            .into_iter()
            .map(|r| r.state)
            .collect()
    }

    #[test]
    fn tier_follows_the_subscription_and_each_change_is_audited_once() {
        let conn = test_db();
        let u = users::create(&conn, "a@b.co", NOW).unwrap().id;
        for (status, tier) in [("trialing", "paid"), ("active", "paid"), ("paused", "free")] {
            let row = sub("sub_a", u, status, "2027-01-01T00:00:00.000000Z");
            billing::upsert_subscription(&conn, &row, NOW).unwrap();
            reconcile(&conn, u, None, &row.last_event_id, NOW).unwrap();
            assert_eq!(users::by_id(&conn, u).unwrap().unwrap().tier.as_str(), tier);
        }
        let log = audit::for_user(&conn, u).unwrap();
        let notes: Vec<_> = log
            .iter()
            .map(|e| e.note.clone().unwrap_or_default())
            .collect();
        assert_eq!(
            notes,
            ["evt_trialing", "evt_paused"],
            "no entry when nothing changed"
        );
        assert!(log
            .iter()
            .all(|e| e.actor == "paddle" && e.action == "set_tier"));
    }

    #[test]
    fn a_canceled_subscription_ends_its_running_reward() {
        let conn = test_db();
        let referrer = users::create(&conn, "r@b.co", NOW).unwrap().id;
        let referred = users::create(&conn, "d@b.co", NOW).unwrap().id;
        referrals::insert(&conn, referrer, referred, NOW).unwrap();
        let mut mine = sub("sub_r", referrer, "active", "2027-01-01T00:00:00.000000Z");
        billing::upsert_subscription(&conn, &mine, NOW).unwrap();
        let theirs = sub("sub_d", referred, "active", "2027-01-01T00:00:00.000000Z");
        billing::upsert_subscription(&conn, &theirs, NOW).unwrap();
        reconcile(&conn, referred, Some(DISCOUNT), "evt_d", NOW).unwrap();
        assert_eq!(states(&conn, referrer), ["applying"]);
        assert_eq!(
            states(&conn, referred),
            ["applying"],
            "no checkout discount: PATCHed too"
        );
        let id = rewards::rewards_of(&conn, referrer).unwrap()[0].id;
        rewards::set_state(&conn, id, "running", Some("sub_r"), Some(NOW), None).unwrap();
        mine.status = SubscriptionStatus::Canceled;
        mine.event_occurred_at = "2027-02-01T00:00:00.000000Z".into();
        billing::upsert_subscription(&conn, &mine, NOW).unwrap();
        reconcile(&conn, referrer, Some(DISCOUNT), "evt_c", NOW.plus(60)).unwrap();
        assert_eq!(states(&conn, referrer), ["ended"]);
        assert_eq!(
            users::by_id(&conn, referrer).unwrap().unwrap().tier,
            Tier::Free
        );
        // A second conversion can't happen: the referral converted once.
        reconcile(&conn, referred, Some(DISCOUNT), "evt_d2", NOW.plus(120)).unwrap();
        assert_eq!(rewards::rewards_of(&conn, referrer).unwrap().len(), 1);
    }

    #[test]
    fn no_reward_is_sent_over_another_running_on_its_subscription() {
        let conn = test_db();
        let referrer = users::create(&conn, "r@b.co", NOW).unwrap().id;
        let mine = sub("sub_r", referrer, "active", "2027-01-01T00:00:00.000000Z");
        billing::upsert_subscription(&conn, &mine, NOW).unwrap();
        for (n, email) in ["d1@b.co", "d2@b.co"].into_iter().enumerate() {
            let referred = users::create(&conn, email, NOW).unwrap().id;
            referrals::insert(&conn, referrer, referred, NOW).unwrap();
            rewards::insert_banked(&conn, n as i64 + 1, referrer, "referrer", NOW).unwrap();
        }
        let ids: Vec<i64> = rewards::rewards_of(&conn, referrer)
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect();
        rewards::set_state(&conn, ids[1], "waiting", Some("sub_r"), None, None).unwrap();
        assert_eq!(
            before_apply(&conn, ids[1], "sub_r", NOW).unwrap(),
            BeforeApply::Send
        );
        rewards::set_state(&conn, ids[0], "waiting", Some("sub_r"), None, None).unwrap();
        assert_eq!(
            before_apply(&conn, ids[1], "sub_r", NOW).unwrap(),
            BeforeApply::Bank,
            "not beside another being put on"
        );
        rewards::set_state(&conn, ids[0], "running", Some("sub_r"), Some(NOW), None).unwrap();
        assert_eq!(
            before_apply(&conn, ids[1], "sub_r", NOW).unwrap(),
            BeforeApply::Bank,
            "one discount per subscription"
        );
    }
}
