//! Access and referral rewards, derived from a user's subscriptions: the
//! tier follows them, a referral converts on the first `active` one, and the
//! two rewards are applied one discount at a time per subscription.

use rusqlite::Connection;
use serde_json::json;

use super::event::PaddleTime;
use crate::clock::Timestamp;
use crate::db::billing::{self, SubscriptionRow, SubscriptionStatus};
use crate::db::outbox;
use crate::db::rewards::{self, Reward};
use crate::db::users::{self, Tier};
use crate::error::Result;
use crate::log;
use crate::services::credit::{self, Actor};

/// Brings one user's tier, referral and rewards in line with their
/// subscriptions. `event_id` is the audit note of a tier change.
pub fn reconcile(
    conn: &Connection,
    user_id: i64,
    discount: Option<&str>,
    event_id: &str,
    now: Timestamp,
) -> Result<()> {
    sync_tier(conn, user_id, event_id, now)?;
    let referrer = convert_on_first_payment(conn, user_id, now)?;
    settle(conn, user_id, discount, now)?;
    if let Some(referrer) = referrer {
        settle(conn, referrer, discount, now)?;
    }
    Ok(())
}

/// `paid` while any subscription is active, trialing or past due; `free`
/// otherwise. A credit (`credit_until`) is left alone.
fn sync_tier(conn: &Connection, user_id: i64, event_id: &str, now: Timestamp) -> Result<()> {
    let Some(user) = users::by_id(conn, user_id)? else {
        return Ok(());
    };
    let paid = billing::subscriptions_of(conn, user_id)?
        .iter()
        .any(|s| s.status.grants_access());
    let tier = if paid { Tier::Paid } else { Tier::Free };
    if user.tier == tier {
        return Ok(());
    }
    credit::write_tier(conn, &user, tier, &Actor::paddle(event_id), now)?;
    log::event(
        "billing.tier_changed",
        &[
            ("user_id", &user_id),
            ("tier", &tier),
            ("event_id", &event_id),
        ],
    );
    Ok(())
}

/// The first time a referred user has an `active` subscription, the referral
/// converts (once, ever) and each party gets a banked reward. Returns the
/// referrer when this call converted it.
fn convert_on_first_payment(
    conn: &Connection,
    user_id: i64,
    now: Timestamp,
) -> Result<Option<i64>> {
    let Some((referral_id, referrer, converted)) = rewards::referral_of(conn, user_id)? else {
        return Ok(None);
    };
    if converted
        || !billing::subscriptions_of(conn, user_id)?
            .iter()
            .any(|s| s.was_active)
    {
        return Ok(None);
    }
    if !rewards::mark_converted(conn, referral_id, now)? {
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

/// Ends rewards whose discount is over and applies the next banked one to
/// the subscription that will bill again, one at a time.
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
    if let Some(sub) = subs.iter().find(|s| bills_again(s)) {
        apply_next(conn, &rewards, sub, discount, now)?;
    }
    rewards::credit_applied(conn, user_id, now)
}

/// A subscription that will charge again, so a discount on its next period
/// means something.
fn bills_again(sub: &SubscriptionRow) -> bool {
    sub.status.grants_access() && sub.cancel_at.is_none()
}

fn discount_running(sub: &SubscriptionRow, now: Timestamp) -> bool {
    sub.discount_id.is_some() && sub.discount_ends_at.is_none_or(|end| end > now)
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
    // applied_at is whole seconds, rounded down: an event in that same
    // second may predate the apply, so only a later one counts.
    let applied = reward
        .applied_at
        .map(|t| PaddleTime::from_timestamp(t.plus(1)));
    let newer = PaddleTime::parse(&sub.event_occurred_at)
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

fn apply_next(
    conn: &Connection,
    rewards: &[Reward],
    sub: &SubscriptionRow,
    discount: Option<&str>,
    now: Timestamp,
) -> Result<()> {
    let busy = rewards.iter().any(|r| {
        r.state == "applying"
            || (r.state == "running" && r.subscription_id.as_ref() == Some(&sub.id))
    });
    let Some(next) = rewards.iter().find(|r| r.state == "banked") else {
        return Ok(());
    };
    if busy {
        return Ok(());
    }
    if discount_running(sub, now) {
        // The invitee's checkout carried the referral discount: that is their
        // reward, applied already. Any other discount runs out first.
        let ours = discount.is_some() && sub.discount_id.as_deref() == discount;
        if let Some(own) = rewards
            .iter()
            .find(|r| r.state == "banked" && r.role == "referred")
            .filter(|_| ours)
        {
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
        }
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
    if outbox::enqueue(
        conn,
        "apply_discount",
        &payload.to_string(),
        &key,
        false,
        now,
    )? {
        rewards::set_state(conn, next.id, "applying", Some(&sub.id), None, None)?;
        log::event(
            "billing.reward_applying",
            &[("reward_id", &next.id), ("subscription_id", &sub.id)],
        );
    }
    Ok(())
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
}
