//! `POST /webhooks/paddle` after the signature checked out: store the event
//! once and apply what it says in the same transaction. Nothing here waits
//! on Paddle; calls it needs are written to the outbox.

use rusqlite::{Connection, Transaction};
use serde_json::json;

use super::event::{self, Envelope, PaddleTime, Subscription};
use super::{custom_data, referral_discount_id, rewards};
use crate::clock::Timestamp;
use crate::config::PaddleConfig;
use crate::crypto::Keys;
use crate::db::billing::{SubscriptionRow, SubscriptionStatus};
use crate::db::{self, billing, outbox, users};
use crate::error::Result;
use crate::log;

pub const SUBSCRIPTION_EVENTS: [&str; 9] = [
    "subscription.created",
    "subscription.activated",
    "subscription.updated",
    "subscription.trialing",
    "subscription.past_due",
    "subscription.paused",
    "subscription.resumed",
    "subscription.canceled",
    "subscription.imported",
];

pub const ADJUSTMENT_EVENTS: [&str; 2] = ["adjustment.created", "adjustment.updated"];

/// The event type as a metrics label: the ones we handle by name, the rest
/// as `other` (so the label set stays small).
pub fn type_label(event_type: &str) -> &'static str {
    SUBSCRIPTION_EVENTS
        .iter()
        .chain(&["transaction.completed"])
        .chain(&ADJUSTMENT_EVENTS)
        .find(|t| **t == event_type)
        .copied()
        .unwrap_or("other")
}

/// What an event did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Its effects are applied.
    Ok,
    /// Its event_id was stored before: nothing changed.
    Replay,
    /// Older than the event the subscription was last set from.
    Stale,
    /// Stored, but no account is known yet (an email lookup is queued).
    Unmatched,
    /// A type we do not act on: stored, no effect.
    Ignored,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Replay => "replay",
            Outcome::Stale => "stale",
            Outcome::Unmatched => "unmatched",
            Outcome::Ignored => "ignored",
        }
    }
}

/// Stores and applies one verified event body. Returns its type and outcome.
pub fn receive(
    conn: &Connection,
    keys: &Keys,
    paddle: &PaddleConfig,
    body: &str,
    now: Timestamp,
) -> Result<(String, Outcome)> {
    let env = event::envelope(body)?;
    let outcome = db::write(conn, |tx| {
        let raw_occurred = env.occurred_at.to_string();
        if !billing::insert_event(tx, &env.event_id, &env.event_type, &raw_occurred, now, body)? {
            return Ok(Outcome::Replay);
        }
        let outcome = apply(tx, keys, paddle, &env, now)?;
        billing::set_event_outcome(tx, &env.event_id, outcome.as_str())?;
        Ok(outcome)
    })?;
    log::event(
        "billing.webhook",
        &[
            ("type", &env.event_type),
            ("event_id", &env.event_id),
            ("outcome", &outcome.as_str()),
        ],
    );
    Ok((env.event_type, outcome))
}

/// Applies a subscription entity read from the API (`app billing-sync`)
/// exactly as a `subscription.updated` event at `updated_at` would, without
/// storing an event: a row set from a newer event stays as it is (`Stale`).
pub fn apply_subscription(
    tx: &Transaction<'_>,
    keys: &Keys,
    paddle: &PaddleConfig,
    data: &serde_json::Value,
    updated_at: PaddleTime,
    now: Timestamp,
) -> Result<Outcome> {
    let env = Envelope {
        event_id: format!("billing-sync:{updated_at}"),
        event_type: "subscription.updated".into(),
        occurred_at: updated_at,
        data: data.clone(),
    };
    apply(tx, keys, paddle, &env, now)
}

fn apply(
    tx: &Transaction<'_>,
    keys: &Keys,
    paddle: &PaddleConfig,
    env: &Envelope,
    now: Timestamp,
) -> Result<Outcome> {
    let discount = referral_discount_id(tx, paddle)?;
    let discount = discount.as_deref();
    if SUBSCRIPTION_EVENTS.contains(&env.event_type.as_str()) {
        return match event::subscription(&env.data) {
            Some(sub) if !sub.price_ids.iter().any(|p| paddle.price_ids.contains(p)) => {
                // Another product in the same Paddle account: not ours.
                log::event(
                    "billing.foreign_price",
                    &[("event_id", &env.event_id), ("subscription_id", &sub.id)],
                );
                Ok(Outcome::Ignored)
            }
            Some(sub) => on_subscription(tx, keys, env, &sub, discount, now),
            None => {
                log::event(
                    "billing.unreadable_subscription",
                    &[("event_id", &env.event_id)],
                );
                Ok(Outcome::Ignored)
            }
        };
    }
    if env.event_type == "transaction.completed" {
        return on_transaction(tx, keys, env, discount, now);
    }
    if ADJUSTMENT_EVENTS.contains(&env.event_type.as_str()) {
        return on_adjustment(tx, paddle, env, now);
    }
    Ok(Outcome::Ignored)
}

/// A refund or chargeback: when it takes back the payment that converted a
/// referral, the conversion is reversed (SPEC §7).
fn on_adjustment(
    tx: &Transaction<'_>,
    paddle: &PaddleConfig,
    env: &Envelope,
    now: Timestamp,
) -> Result<Outcome> {
    let Some(adjustment) = event::adjustment(&env.data) else {
        log::event(
            "billing.unreadable_adjustment",
            &[("event_id", &env.event_id)],
        );
        return Ok(Outcome::Ignored);
    };
    if !adjustment.takes_the_payment_back() {
        return Ok(Outcome::Ignored);
    }
    let parties = rewards::reverse(tx, &adjustment.transaction_id, &env.event_id, now)?;
    if parties.is_empty() {
        return Ok(Outcome::Ignored);
    }
    // A party's next banked reward goes on once the worker has taken the
    // revoked discount off (settle waits for that call).
    let discount = referral_discount_id(tx, paddle)?;
    for user_id in parties {
        rewards::settle(tx, user_id, discount.as_deref(), now)?;
    }
    Ok(Outcome::Ok)
}

fn on_subscription(
    tx: &Transaction<'_>,
    keys: &Keys,
    env: &Envelope,
    sub: &Subscription,
    discount: Option<&str>,
    now: Timestamp,
) -> Result<Outcome> {
    let existing = billing::subscription(tx, &sub.id)?;
    if let Some(row) = &existing {
        let last = PaddleTime::parse(&row.event_occurred_at);
        if last.is_some_and(|last| env.occurred_at < last) {
            // Too old to set the row; that it was once active still counts
            // for the referral, whatever order events arrive in.
            if sub.status == SubscriptionStatus::Active && !row.was_active {
                billing::mark_was_active(tx, &sub.id)?;
                if let Some(user_id) = row.user_id {
                    rewards::reconcile(tx, user_id, discount, &row.last_event_id, now)?;
                }
            }
            return Ok(Outcome::Stale);
        }
    }
    let previous_user = existing.as_ref().and_then(|r| r.user_id);
    let user_id = match_user(tx, keys, &sub.custom_data, previous_user, &sub.customer_id)?;
    if let Some(deleted) = user_id.filter(|id| is_deleted_account(tx, *id).unwrap_or(false)) {
        // Stored and logged; a deleted account's tombstone gets nothing.
        log::event(
            "billing.deleted_account",
            &[("event_id", &env.event_id), ("user_id", &deleted)],
        );
        return Ok(Outcome::Unmatched);
    }
    let imported = env.event_type == "subscription.imported";
    billing::upsert_subscription(
        tx,
        &SubscriptionRow {
            id: sub.id.clone(),
            user_id,
            customer_id: sub.customer_id.clone(),
            status: sub.status,
            price_id: sub.price_id.clone(),
            current_period_ends_at: sub.current_period_ends_at,
            cancel_at: sub.cancel_at,
            discount_id: sub.discount.as_ref().map(|d| d.id.clone()),
            discount_ends_at: sub.discount.as_ref().and_then(|d| d.ends_at),
            event_occurred_at: env.occurred_at.to_string(),
            last_event_id: env.event_id.clone(),
            was_active: sub.status == SubscriptionStatus::Active,
            next_billed_at: sub.next_billed_at,
            pause_at: sub.pause_at,
            first_transaction_id: sub.transaction_id.clone(),
            imported,
        },
        now,
    )?;
    let Some(user_id) = user_id else {
        queue_customer_lookup(tx, &sub.customer_id, now)?;
        log::event(
            "billing.unmatched",
            &[
                ("event_id", &env.event_id),
                ("customer_id", &sub.customer_id),
            ],
        );
        return Ok(Outcome::Unmatched);
    };
    rewards::reconcile(tx, user_id, discount, &env.event_id, now)?;
    if let Some(previous) = previous_user.filter(|p| *p != user_id) {
        rewards::reconcile(tx, previous, discount, &env.event_id, now)?;
    }
    Ok(Outcome::Ok)
}

/// A transaction carries the same signed `custom_data` as its subscription:
/// it can tie an unmatched subscription to its account. Its other effects
/// arrive as subscription events.
fn on_transaction(
    tx: &Transaction<'_>,
    keys: &Keys,
    env: &Envelope,
    discount: Option<&str>,
    now: Timestamp,
) -> Result<Outcome> {
    let txn = event::transaction(&env.data);
    // The first payment of a subscription (a checkout, not a renewal) is
    // the one whose refund reverses a referral.
    if let (Some(sub), Some(id)) = (&txn.subscription_id, &txn.id) {
        if txn.origin.as_deref() != Some("subscription_recurring") {
            billing::set_first_transaction(tx, sub, id)?;
        }
    }
    let Some(user_id) = verified_user(tx, keys, &txn.custom_data)? else {
        return Ok(Outcome::Ignored);
    };
    let Some(row) = txn
        .subscription_id
        .as_deref()
        .map(|id| billing::subscription(tx, id))
        .transpose()?
        .flatten()
    else {
        return Ok(Outcome::Ignored);
    };
    if row.user_id.is_some() {
        return Ok(Outcome::Ignored);
    }
    billing::link_user(tx, &row.id, user_id)?;
    rewards::reconcile(tx, user_id, discount, &env.event_id, now)?;
    Ok(Outcome::Ok)
}

/// Whose subscription: the signed `custom_data`, else the account the row
/// (or another of this customer's) is already tied to.
fn match_user(
    tx: &Transaction<'_>,
    keys: &Keys,
    data: &serde_json::Value,
    previous: Option<i64>,
    customer_id: &str,
) -> Result<Option<i64>> {
    if let Some(id) = verified_user(tx, keys, data)? {
        return Ok(Some(id));
    }
    if previous.is_some() {
        return Ok(previous);
    }
    billing::user_of_customer(tx, customer_id)
}

fn is_deleted_account(tx: &Transaction<'_>, user_id: i64) -> Result<bool> {
    Ok(users::by_id(tx, user_id)?.is_some_and(|u| u.is_deleted()))
}

fn verified_user(
    tx: &Transaction<'_>,
    keys: &Keys,
    data: &serde_json::Value,
) -> Result<Option<i64>> {
    match custom_data::verified_user_id(keys, data) {
        Some(id) => Ok(users::by_id(tx, id)?.map(|u| u.id)),
        None => Ok(None),
    }
}

/// Asks the worker for the customer's email. A lookup that already ran is
/// queued again, since the account may exist by now.
fn queue_customer_lookup(tx: &Transaction<'_>, customer_id: &str, now: Timestamp) -> Result<()> {
    outbox::enqueue(
        tx,
        "lookup_customer",
        &json!({ "customer_id": customer_id }).to_string(),
        &format!("lookup_customer:{customer_id}"),
        true,
        now,
    )?;
    Ok(())
}
