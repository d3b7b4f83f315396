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

/// Re-settles the users holding a running reward whose `ends_at` passed:
/// it ends (when an event since its apply showed the discount) and the
/// next banked one is applied.
pub fn settle_lapsed(tx: &Connection, paddle: &PaddleConfig, now: Timestamp) -> Result<()> {
    let discount = referral_discount_id(tx, paddle)?;
    for user_id in db::rewards::users_with_lapsed(tx, now)? {
        rewards::settle(tx, user_id, discount.as_deref(), now)?;
    }
    Ok(())
}

/// A refused discount goes back to the bank for the user's next
/// subscription (the dedupe key keeps it off this one).
pub fn refused(tx: &Connection, paddle: &PaddleConfig, job: &Job, now: Timestamp) -> Result<()> {
    if job.kind != "apply_discount" {
        return Ok(());
    }
    let payload: Value = serde_json::from_str(&job.payload).unwrap_or(Value::Null);
    let reward_id = payload
        .get("reward_id")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if let Some(reward) = db::rewards::reward(tx, reward_id)?.filter(|r| r.state == "applying") {
        db::rewards::set_state(tx, reward.id, "banked", None, None, None)?;
        let discount = referral_discount_id(tx, paddle)?;
        rewards::settle(tx, reward.user_id, discount.as_deref(), now)?;
    }
    Ok(())
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
    reward_id: i64,
    entity: &Value,
    now: Timestamp,
) -> Result<()> {
    let Some(reward) = db::rewards::reward(tx, reward_id)?.filter(|r| r.state == "applying") else {
        return Ok(());
    };
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
