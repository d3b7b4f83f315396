//! `app billing-sync` (SPEC §7): Paddle stops retrying a webhook after three
//! days, and a replayed `event_id` changes nothing, so lost or mishandled
//! events are repaired from the API instead: every subscription of every
//! known customer (or one account's), every page, applied as a webhook
//! would apply it, with its `updated_at` as the event time. The webhook's
//! own code decides; a newer stored state wins.

use rusqlite::Connection;
use serde::Serialize;
use serde_json::Value;

use super::event::PaddleTime;
use super::paddle_api::{ApiError, PaddleApi};
use super::webhook::{self, Outcome};
use crate::clock::Timestamp;
use crate::config::paddle::is_paddle_id;
use crate::config::PaddleConfig;
use crate::crypto::Keys;
use crate::db::{self, billing, billing::SubscriptionRow, billing_sync, users};
use crate::error::{Error, Result};
use crate::services::{auth, credit};

/// Paddle's largest page; fewer calls for a customer with many.
const PER_PAGE: u32 = 200;
/// A customer with more pages than this is a loop, not a customer.
const MAX_PAGES: usize = 100;

/// What happened to one subscription.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Synced {
    pub subscription_id: String,
    pub customer_id: String,
    /// The account it belongs to (after the sync), if any.
    pub email: Option<String>,
    /// `created` (no webhook ever delivered it), `updated`, `unchanged`,
    /// `stale` (the stored state is newer), `unmatched` (no account yet),
    /// `not ours` (a price not in `APP_PADDLE_PRICE_ID`: another product
    /// in the same Paddle account), `unreadable` (not a subscription we
    /// can read).
    pub outcome: &'static str,
    /// `status: past_due → active`, `tier: free → paid`, …
    pub changes: Vec<String>,
}

/// A customer whose subscriptions could not be read.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Unread {
    pub customer_id: String,
    pub error: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Report {
    pub customers: usize,
    pub subscriptions: usize,
    pub changed: usize,
    pub results: Vec<Synced>,
    pub failed: Vec<Unread>,
}

/// Syncs every known customer, or only `email`'s. An account that has no
/// customer on file yet is looked up at Paddle by its email.
pub fn run(
    conn: &Connection,
    keys: &Keys,
    paddle: &PaddleConfig,
    api: &PaddleApi,
    email: Option<&str>,
    now: Timestamp,
) -> Result<Report> {
    let customers = match email {
        None => billing_sync::all_customers(conn)?,
        Some(email) => customers_of_account(conn, api, email)?,
    };
    let mut report = Report {
        customers: customers.len(),
        ..Report::default()
    };
    for customer in &customers {
        match subscriptions_of(api, paddle, customer) {
            Ok(subscriptions) => {
                for data in &subscriptions {
                    let synced = apply(conn, keys, paddle, data, now)?;
                    report.subscriptions += 1;
                    if matches!(synced.outcome, "created" | "updated") {
                        report.changed += 1;
                    }
                    report.results.push(synced);
                }
            }
            Err(e) => report.failed.push(Unread {
                customer_id: customer.clone(),
                error: e.to_string(),
            }),
        }
    }
    Ok(report)
}

fn customers_of_account(conn: &Connection, api: &PaddleApi, email: &str) -> Result<Vec<String>> {
    let email = auth::normalise_email(email)
        .map_err(|m| Error::Usage(format!("--email {email:?}: {m}")))?;
    let user = users::by_email(conn, &email)?.ok_or_else(|| credit::unknown_email(&email))?;
    let known = billing_sync::customers_of(conn, user.id)?;
    if !known.is_empty() {
        return Ok(known);
    }
    // No webhook ever linked a customer: ask Paddle who has this email.
    let reply = api
        .get(&format!("/customers?email={}", query_value(&email)))
        .map_err(|e| Error::Usage(format!("looking {email} up at Paddle: {e}")))?;
    Ok(reply
        .get("data")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| c.get("id").and_then(Value::as_str))
        .filter(|id| id.starts_with("ctm_"))
        .map(str::to_string)
        .collect())
}

/// `GET /subscriptions?customer_id=…`, following `meta.pagination.next`
/// while `has_more`. `next` is a full URL on Paddle's host; its path and
/// query are asked of our API base, so tests and proxies see every page.
fn subscriptions_of(
    api: &PaddleApi,
    paddle: &PaddleConfig,
    customer_id: &str,
) -> std::result::Result<Vec<Value>, ApiError> {
    if !is_paddle_id(customer_id, "ctm_") {
        return Err(ApiError::Refused(format!(
            "{customer_id:?} is not a Paddle customer id"
        )));
    }
    let mut next = format!("/subscriptions?customer_id={customer_id}&per_page={PER_PAGE}");
    let mut all = Vec::new();
    for _ in 0..MAX_PAGES {
        let reply = api.get(&next)?;
        all.extend(
            reply
                .get("data")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .cloned(),
        );
        let pagination = reply.pointer("/meta/pagination");
        let more = pagination
            .and_then(|p| p.get("has_more"))
            .and_then(Value::as_bool)
            .unwrap_or(false);
        if !more {
            return Ok(all);
        }
        let url = pagination
            .and_then(|p| p.get("next"))
            .and_then(Value::as_str)
            .unwrap_or("");
        next = next_path(url).ok_or_else(|| {
            ApiError::transient(format!(
                "Paddle's next page {url:?} is not a subscriptions list (API base {})",
                paddle.api_url
            ))
        })?;
    }
    Err(ApiError::transient(format!(
        "customer {customer_id} has more than {MAX_PAGES} pages of subscriptions"
    )))
}

/// `https://api.paddle.com/subscriptions?after=…` → `/subscriptions?after=…`;
/// only a subscriptions list is followed.
fn next_path(url: &str) -> Option<String> {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path = &after_scheme[after_scheme.find('/')?..];
    (path.starts_with("/subscriptions?") && !path.contains(['#', ' ', '\n']))
        .then(|| path.to_string())
}

/// One subscription through the webhook's own code, in one transaction
/// with the reads that say what changed.
fn apply(
    conn: &Connection,
    keys: &Keys,
    paddle: &PaddleConfig,
    data: &Value,
    now: Timestamp,
) -> Result<Synced> {
    let text = |key: &str| {
        data.get(key)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let (id, customer_id) = (text("id"), text("customer_id"));
    let updated_at = PaddleTime::parse(&text("updated_at"));
    // Only our prices give access (SPEC §7); the webhook code ignores the
    // rest, and the report says why.
    let other_product = super::event::subscription(data)
        .is_some_and(|sub| !sub.price_ids.iter().any(|p| paddle.price_ids.contains(p)));
    db::write(conn, |tx| {
        let before = billing::subscription(tx, &id)?;
        // Whose it is before: its own row's account, else the account its
        // customer is already linked to (whom the webhook code would pick).
        let owner = match before.as_ref().and_then(|r| r.user_id) {
            Some(user_id) => Some(user_id),
            None => billing::user_of_customer(tx, &customer_id)?,
        };
        let tier_before = tier_of(tx, owner)?;
        let outcome = match updated_at {
            Some(at) => webhook::apply_subscription(tx, keys, paddle, data, at, now)?,
            None => Outcome::Ignored,
        };
        let after = billing::subscription(tx, &id)?;
        let tier_after = tier_of(tx, after.as_ref().and_then(|r| r.user_id))?;
        let mut changes = row_changes(before.as_ref(), after.as_ref());
        match (&tier_before, &tier_after) {
            (Some((b_id, b)), Some((a_id, a))) if b_id == a_id && b != a => {
                changes.push(format!("tier: {b} → {a}"));
            }
            (_, Some((a_id, a))) if before.as_ref().and_then(|r| r.user_id) != Some(*a_id) => {
                changes.push(format!("linked to its account (tier {a})"));
            }
            _ => {}
        }
        let outcome = match (outcome, &before, changes.is_empty()) {
            (Outcome::Ignored, _, _) if other_product => "not ours",
            (Outcome::Ignored, _, _) => "unreadable",
            (Outcome::Stale, _, _) => "stale",
            (Outcome::Unmatched, None, _) => "unmatched",
            (_, None, _) => "created",
            (_, Some(_), false) => "updated",
            (Outcome::Unmatched, Some(_), true) => "unmatched",
            (_, Some(_), true) => "unchanged",
        };
        let email = after
            .as_ref()
            .and_then(|r| r.user_id)
            .map(|uid| users::by_id(tx, uid))
            .transpose()?
            .flatten()
            .map(|u| u.email);
        Ok(Synced {
            subscription_id: id.clone(),
            customer_id: customer_id.clone(),
            email,
            outcome,
            changes,
        })
    })
}

/// `(user id, tier)` of an account.
fn tier_of(conn: &Connection, user_id: Option<i64>) -> Result<Option<(i64, String)>> {
    let Some(user_id) = user_id else {
        return Ok(None);
    };
    Ok(users::by_id(conn, user_id)?.map(|u| (u.id, u.tier.to_string())))
}

/// The fields a person or operator cares about, before → after.
fn row_changes(before: Option<&SubscriptionRow>, after: Option<&SubscriptionRow>) -> Vec<String> {
    let Some(after) = after else {
        return Vec::new();
    };
    let show = |v: Option<String>| v.unwrap_or_else(|| "none".into());
    let fields = |r: &SubscriptionRow| {
        [
            ("status", Some(r.status.as_str().to_string())),
            ("price", r.price_id.clone()),
            (
                "period ends",
                r.current_period_ends_at.map(|t| t.to_string()),
            ),
            ("cancel at", r.cancel_at.map(|t| t.to_string())),
            ("pause at", r.pause_at.map(|t| t.to_string())),
            ("discount", r.discount_id.clone()),
        ]
    };
    let Some(before) = before else {
        return fields(after)
            .into_iter()
            .filter(|(_, v)| v.is_some())
            .map(|(name, v)| format!("{name}: {}", show(v)))
            .collect();
    };
    fields(before)
        .into_iter()
        .zip(fields(after))
        .filter(|((_, b), (_, a))| b != a)
        .map(|((name, b), (_, a))| format!("{name}: {} → {}", show(b), show(a)))
        .collect()
}

/// An email as a query value (`+` and `@` encoded).
fn query_value(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_pages_are_asked_of_our_own_base() {
        assert_eq!(
            next_path("https://api.paddle.com/subscriptions?customer_id=ctm_1&after=sub_9")
                .as_deref(),
            Some("/subscriptions?customer_id=ctm_1&after=sub_9")
        );
        assert_eq!(next_path("https://api.paddle.com/customers?after=x"), None);
        assert_eq!(next_path(""), None);
        assert_eq!(next_path("https://api.paddle.com"), None);
    }

    #[test]
    fn emails_are_encoded_for_the_query() {
        assert_eq!(query_value("a+b@x.co"), "a%2Bb%40x.co");
    }
}
