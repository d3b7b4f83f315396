//! What the outcome of a Paddle API call the outbox made changes in the
//! database, each applied in the transaction that marks its row done (or failed).

use rusqlite::Connection;
use serde_json::Value;

use super::event::PaddleTime;
use super::{referral_discount_id, rewards};
use crate::clock::Timestamp;
use crate::config::PaddleConfig;
use crate::db::{self, billing, billing_reads, meta, outbox::Job, users};
use crate::error::Result;
use crate::log;
use crate::services::auth;

/// Re-settles the users holding a running reward whose `ends_at` passed
/// (a minute's clock skew allowed): it ends (when an event since its apply
/// showed the discount) and the next banked one is applied; and those with
/// a banked reward and a subscription that takes one now.
pub fn settle_lapsed(tx: &Connection, paddle: &PaddleConfig, now: Timestamp) -> Result<()> {
    let discount = referral_discount_id(tx, paddle)?;
    let lapsed_by = now.plus(-rewards::CLOCK_SKEW);
    let mut users = db::rewards::users_with_lapsed(tx, lapsed_by)?;
    users.extend(db::rewards::users_with_banked_and_a_taker(tx)?);
    users.sort_unstable();
    users.dedup();
    for user_id in users {
        rewards::settle(tx, user_id, discount.as_deref(), now)?;
    }
    Ok(())
}

fn reward_of(tx: &Connection, job: &Job) -> Result<Option<db::rewards::Reward>> {
    if job.kind != "apply_discount" {
        return Ok(None);
    }
    let payload: Value = serde_json::from_str(&job.payload).unwrap_or(Value::Null);
    let reward_id = payload
        .get("reward_id")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    Ok(db::rewards::reward(tx, reward_id)?
        .filter(|r| matches!(r.state.as_str(), "applying" | "waiting")))
}

/// A reward's call finally failed (Paddle refused it, or its locks
/// outlasted the wait): the reward is `failed`, which never holds up the
/// next one (applied now if it can be); `app billing-retry` re-queues it.
pub fn refused(tx: &Connection, paddle: &PaddleConfig, job: &Job, now: Timestamp) -> Result<()> {
    let Some(reward) = reward_of(tx, job)? else {
        return Ok(());
    };
    db::rewards::set_state(
        tx,
        reward.id,
        "failed",
        reward.subscription_id.as_deref(),
        None,
        None,
    )?;
    log::event(
        "billing.reward_failed",
        &[("reward_id", &reward.id), ("user_id", &reward.user_id)],
    );
    let discount = referral_discount_id(tx, paddle)?;
    rewards::settle(tx, reward.user_id, discount.as_deref(), now)
}

/// The reward's call waits (a Paddle lock, the renewal window).
pub fn reward_waiting(tx: &Connection, job: &Job) -> Result<()> {
    if let Some(reward) = reward_of(tx, job)?.filter(|r| r.state == "applying") {
        db::rewards::set_state(
            tx,
            reward.id,
            "waiting",
            reward.subscription_id.as_deref(),
            None,
            None,
        )?;
    }
    Ok(())
}

/// The subscription stopped taking a discount before the call went out
/// (canceled, a pause or cancel scheduled, past due): the reward goes back
/// to the bank, and is applied when a subscription takes it again.
pub fn back_to_bank(
    tx: &Connection,
    paddle: &PaddleConfig,
    reward_id: i64,
    now: Timestamp,
) -> Result<()> {
    let Some(reward) = db::rewards::reward(tx, reward_id)?
        .filter(|r| matches!(r.state.as_str(), "applying" | "waiting"))
    else {
        return Ok(());
    };
    db::rewards::set_state(tx, reward.id, "banked", None, None, None)?;
    log::event("billing.reward_banked_again", &[("reward_id", &reward.id)]);
    let discount = referral_discount_id(tx, paddle)?;
    rewards::settle(tx, reward.user_id, discount.as_deref(), now)
}

/// Paddle took the discount off a revoked reward's subscription: the
/// next banked reward may go on.
pub fn discount_removed(
    tx: &Connection,
    paddle: &PaddleConfig,
    subscription_id: &str,
    entity: &Value,
    now: Timestamp,
) -> Result<()> {
    let (id, ends) = discount_of(entity);
    billing::set_discount(tx, subscription_id, id.as_deref(), ends)?;
    log::event(
        "billing.reward_removed",
        &[("subscription_id", &subscription_id)],
    );
    if let Some(user_id) = billing::subscription(tx, subscription_id)?.and_then(|s| s.user_id) {
        let discount = referral_discount_id(tx, paddle)?;
        rewards::settle(tx, user_id, discount.as_deref(), now)?;
    }
    Ok(())
}

/// The discount a subscription entity carries: its id and `ends_at`.
fn discount_of(entity: &Value) -> (Option<String>, Option<Timestamp>) {
    let id = entity
        .pointer("/discount/id")
        .and_then(Value::as_str)
        .filter(|id| id.starts_with("dsc_"))
        .map(str::to_string);
    let ends = entity
        .pointer("/discount/ends_at")
        .and_then(Value::as_str)
        .and_then(PaddleTime::parse)
        .map(PaddleTime::timestamp);
    (id, ends)
}

/// The customer's email names an account: tie the customer's
/// subscriptions to it and apply what their events said.
pub fn link_customer(
    tx: &Connection,
    paddle: &PaddleConfig,
    customer: &str,
    email: &str,
    now: Timestamp,
) -> Result<()> {
    let user = match auth::normalise_email(email) {
        Ok(email) => users::by_email(tx, &email)?,
        Err(_) => None,
    };
    let Some(user) = user else {
        log::event("billing.customer_unmatched", &[("customer_id", &customer)]);
        return Ok(());
    };
    let linked = billing::link_customer(tx, customer, user.id)?;
    let note = linked
        .iter()
        .filter_map(|id| billing::subscription(tx, id).ok().flatten())
        .max_by_key(|s| PaddleTime::parse(&s.event_occurred_at))
        .map(|s| s.last_event_id)
        .unwrap_or_default();
    let discount = referral_discount_id(tx, paddle)?;
    rewards::reconcile(tx, user.id, discount.as_deref(), &note, now)?;
    log::event(
        "billing.customer_matched",
        &[("customer_id", &customer), ("user_id", &user.id)],
    );
    Ok(())
}

pub fn reward_accepted(
    tx: &Connection,
    paddle: &PaddleConfig,
    reward_id: i64,
    entity: &Value,
    now: Timestamp,
) -> Result<()> {
    let Some(reward) = db::rewards::reward(tx, reward_id)? else {
        return Ok(());
    };
    if let Some(sub) = reward.subscription_id.as_deref() {
        let (id, ends) = discount_of(entity);
        billing::set_discount(tx, sub, id.as_deref(), ends)?;
        if reward.state == "revoked" {
            // Reversed while the call was in flight: take it off again.
            return rewards::queue_removal(tx, reward.id, sub, now);
        }
    }
    if !matches!(reward.state.as_str(), "applying" | "waiting") {
        let discount = referral_discount_id(tx, paddle)?;
        return rewards::settle(tx, reward.user_id, discount.as_deref(), now);
    }
    let sub = reward
        .subscription_id
        .as_deref()
        .map(|id| billing::subscription(tx, id))
        .transpose()?
        .flatten();
    // Paddle says when the discount ends; else three months from the
    // next billing period, until an event says otherwise.
    let ends_at = entity
        .pointer("/discount/ends_at")
        .and_then(Value::as_str)
        .and_then(PaddleTime::parse)
        .map(PaddleTime::timestamp)
        .or_else(|| {
            sub.and_then(|s| s.current_period_ends_at)
                .map(|t| t.add_months(3))
        });
    db::rewards::set_state(
        tx,
        reward.id,
        "running",
        reward.subscription_id.as_deref(),
        Some(now),
        ends_at,
    )?;
    db::rewards::credit_applied(tx, reward.user_id, now)?;
    log::event(
        "billing.reward_running",
        &[("reward_id", &reward.id), ("via", &"patch")],
    );
    Ok(())
}

/// Keeps the new discount's id and applies the rewards that waited for it.
pub fn discount_created(tx: &Connection, id: &str, now: Timestamp) -> Result<()> {
    let id = meta::get_or_insert(tx, billing_reads::REFERRAL_DISCOUNT_META_KEY, id)?;
    log::event("billing.discount_created", &[("discount_id", &id)]);
    for user_id in db::rewards::users_with_banked(tx)? {
        rewards::settle(tx, user_id, Some(&id), now)?;
    }
    Ok(())
}
