//! `billing_events` (every Paddle webhook, once) and `subscriptions` (each
//! Paddle subscription as the newest event left it).

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::Serialize;

use crate::clock::Timestamp;
use crate::error::Result;

/// `subscriptions.status`: Paddle's subscription statuses, and which of
/// them give paid access (SPEC §7: the tier follows this).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionStatus {
    Active,
    Trialing,
    PastDue,
    Paused,
    Canceled,
}

impl SubscriptionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SubscriptionStatus::Active => "active",
            SubscriptionStatus::Trialing => "trialing",
            SubscriptionStatus::PastDue => "past_due",
            SubscriptionStatus::Paused => "paused",
            SubscriptionStatus::Canceled => "canceled",
        }
    }

    /// As Paddle (and the table) spell it.
    pub fn parse(s: &str) -> Option<SubscriptionStatus> {
        Some(match s {
            "active" => SubscriptionStatus::Active,
            "trialing" => SubscriptionStatus::Trialing,
            "past_due" => SubscriptionStatus::PastDue,
            "paused" => SubscriptionStatus::Paused,
            "canceled" => SubscriptionStatus::Canceled,
            _ => return None,
        })
    }

    /// Active, trialing or past due: the subscription gives paid access.
    pub fn grants_access(self) -> bool {
        matches!(
            self,
            SubscriptionStatus::Active | SubscriptionStatus::Trialing | SubscriptionStatus::PastDue
        )
    }

    /// Active or trialing: it will charge again, so a reward's discount may
    /// be put on it (past due, paused and canceled ones take none).
    pub fn charges_again(self) -> bool {
        matches!(
            self,
            SubscriptionStatus::Active | SubscriptionStatus::Trialing
        )
    }
}

/// [`SubscriptionStatus::grants_access`] as an SQL list, for
/// `status IN GRANTING_STATUSES` (a unit test keeps the two the same).
pub const GRANTING_STATUSES: &str = "('active', 'trialing', 'past_due')";

/// [`SubscriptionStatus::charges_again`] as an SQL list (kept the same by
/// the same test).
pub const CHARGING_STATUSES: &str = "('active', 'trialing')";

impl std::fmt::Display for SubscriptionStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl ToSql for SubscriptionStatus {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for SubscriptionStatus {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        SubscriptionStatus::parse(value.as_str()?).ok_or(FromSqlError::InvalidType)
    }
}

/// Stores an event unless its `event_id` is already stored: false for a replay.
pub fn insert_event(
    conn: &Connection,
    event_id: &str,
    event_type: &str,
    occurred_at: &str,
    received_at: Timestamp,
    body: &str,
) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "INSERT INTO billing_events (event_id, event_type, occurred_at, received_at, outcome, body)
             VALUES (?1, ?2, ?3, ?4, 'received', ?5) ON CONFLICT (event_id) DO NOTHING",
        )?
        .execute(params![event_id, event_type, occurred_at, received_at, body])?
        == 1)
}

pub fn set_event_outcome(conn: &Connection, event_id: &str, outcome: &str) -> Result<()> {
    conn.prepare_cached("UPDATE billing_events SET outcome = ?2 WHERE event_id = ?1")?
        .execute([event_id, outcome])?;
    Ok(())
}

/// A `subscriptions` row: what the webhook writes, and what the account
/// page, the export, the deletion and the rewards read.
#[derive(Clone, Debug, PartialEq)]
pub struct SubscriptionRow {
    pub id: String,
    pub user_id: Option<i64>,
    pub customer_id: String,
    pub status: SubscriptionStatus,
    pub price_id: Option<String>,
    pub current_period_ends_at: Option<Timestamp>,
    pub cancel_at: Option<Timestamp>,
    pub discount_id: Option<String>,
    pub discount_ends_at: Option<Timestamp>,
    /// Paddle's `occurred_at` of the event it was set from (microseconds).
    pub event_occurred_at: String,
    pub last_event_id: String,
    pub was_active: bool,
    /// Paddle's `next_billed_at`: around it Paddle locks the subscription.
    pub next_billed_at: Option<Timestamp>,
    /// `scheduled_change.effective_at` when its action is `pause`.
    pub pause_at: Option<Timestamp>,
    /// The transaction that first paid for it (a refund of it reverses a
    /// referral); kept once known.
    pub first_transaction_id: Option<String>,
    /// Came in through `subscription.imported`: access, never a conversion.
    pub imported: bool,
}

impl SubscriptionRow {
    /// A pause or cancel is scheduled: nothing more is put on it.
    pub fn has_scheduled_change(&self) -> bool {
        self.cancel_at.is_some() || self.pause_at.is_some()
    }
}

/// The columns [`from_row`] reads, in its order.
pub(crate) const COLUMNS: &str =
    "id, user_id, customer_id, status, price_id, current_period_ends_at, cancel_at,
    discount_id, discount_ends_at, event_occurred_at, coalesce(last_event_id, ''), was_active,
    next_billed_at, pause_at, first_transaction_id, imported";

pub(crate) fn from_row(r: &Row<'_>) -> rusqlite::Result<SubscriptionRow> {
    Ok(SubscriptionRow {
        id: r.get(0)?,
        user_id: r.get(1)?,
        customer_id: r.get(2)?,
        status: r.get(3)?,
        price_id: r.get(4)?,
        current_period_ends_at: time(r, 5)?,
        cancel_at: time(r, 6)?,
        discount_id: r.get(7)?,
        discount_ends_at: time(r, 8)?,
        event_occurred_at: r.get(9)?,
        last_event_id: r.get(10)?,
        was_active: r.get(11)?,
        next_billed_at: time(r, 12)?,
        pause_at: time(r, 13)?,
        first_transaction_id: r.get(14)?,
        imported: r.get(15)?,
    })
}

/// A time column, to the second: the app writes `…:SSZ`, and a row set by
/// hand may hold Paddle's `…:SS.ffffffZ`.
fn time(r: &Row<'_>, idx: usize) -> rusqlite::Result<Option<Timestamp>> {
    let text: Option<String> = r.get(idx)?;
    Ok(text.and_then(|t| {
        let whole = t.get(..19)?;
        t.ends_with('Z')
            .then(|| Timestamp::parse_rfc3339(&format!("{whole}Z")))
            .flatten()
    }))
}

pub fn subscription(conn: &Connection, id: &str) -> Result<Option<SubscriptionRow>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM subscriptions WHERE id = ?1"
        ))?
        .query_row([id], from_row)
        .optional()?)
}

/// A user's subscriptions, newest event first.
pub fn subscriptions_of(conn: &Connection, user_id: i64) -> Result<Vec<SubscriptionRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM subscriptions WHERE user_id = ?1 ORDER BY event_occurred_at DESC, id"
    ))?;
    let rows = stmt.query_map([user_id], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Inserts or overwrites the row (keeping `user_id` when `row.user_id` is
/// none, `was_active` once set, and `created_at`).
pub fn upsert_subscription(conn: &Connection, row: &SubscriptionRow, now: Timestamp) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO subscriptions (id, user_id, customer_id, status, price_id, current_period_ends_at,
             cancel_at, discount_id, discount_ends_at, event_occurred_at, last_event_id, was_active,
             next_billed_at, pause_at, first_transaction_id, imported, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?14, ?15, ?16, ?17, ?13, ?13)
         ON CONFLICT (id) DO UPDATE SET
             user_id = coalesce(excluded.user_id, user_id),
             customer_id = excluded.customer_id, status = excluded.status,
             price_id = excluded.price_id, current_period_ends_at = excluded.current_period_ends_at,
             cancel_at = excluded.cancel_at, discount_id = excluded.discount_id,
             discount_ends_at = excluded.discount_ends_at,
             event_occurred_at = excluded.event_occurred_at, last_event_id = excluded.last_event_id,
             was_active = max(was_active, excluded.was_active),
             next_billed_at = excluded.next_billed_at, pause_at = excluded.pause_at,
             first_transaction_id = coalesce(first_transaction_id, excluded.first_transaction_id),
             imported = max(imported, excluded.imported), updated_at = excluded.updated_at",
    )?
    .execute(params![
        row.id,
        row.user_id,
        row.customer_id,
        row.status,
        row.price_id,
        row.current_period_ends_at,
        row.cancel_at,
        row.discount_id,
        row.discount_ends_at,
        row.event_occurred_at,
        row.last_event_id,
        row.was_active,
        now,
        row.next_billed_at,
        row.pause_at,
        row.first_transaction_id,
        row.imported,
    ])?;
    Ok(())
}

/// Remembers that an (older) event showed the subscription active.
pub fn mark_was_active(conn: &Connection, id: &str) -> Result<()> {
    conn.prepare_cached("UPDATE subscriptions SET was_active = 1 WHERE id = ?1")?
        .execute([id])?;
    Ok(())
}

/// Records the subscription's first transaction, unless one is known.
pub fn set_first_transaction(conn: &Connection, id: &str, transaction_id: &str) -> Result<()> {
    conn.prepare_cached(
        "UPDATE subscriptions SET first_transaction_id = ?2
         WHERE id = ?1 AND first_transaction_id IS NULL",
    )?
    .execute([id, transaction_id])?;
    Ok(())
}

/// What Paddle answered a discount PATCH with: the subscription's discount now.
pub fn set_discount(
    conn: &Connection,
    id: &str,
    discount_id: Option<&str>,
    ends_at: Option<Timestamp>,
) -> Result<()> {
    conn.prepare_cached(
        "UPDATE subscriptions SET discount_id = ?2, discount_ends_at = ?3 WHERE id = ?1",
    )?
    .execute(params![id, discount_id, ends_at])?;
    Ok(())
}

/// Ties a subscription to an account.
pub fn link_user(conn: &Connection, id: &str, user_id: i64) -> Result<()> {
    conn.prepare_cached("UPDATE subscriptions SET user_id = ?2 WHERE id = ?1")?
        .execute(params![id, user_id])?;
    Ok(())
}

/// The account already tied to a Paddle customer, if any.
pub fn user_of_customer(conn: &Connection, customer_id: &str) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached(
            "SELECT user_id FROM subscriptions WHERE customer_id = ?1 AND user_id IS NOT NULL
             ORDER BY event_occurred_at DESC LIMIT 1",
        )?
        .query_row([customer_id], |r| r.get(0))
        .optional()?)
}

/// Ties every unmatched subscription of a customer to an account; their ids.
pub fn link_customer(conn: &Connection, customer_id: &str, user_id: i64) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "UPDATE subscriptions SET user_id = ?2 WHERE customer_id = ?1 AND user_id IS NULL RETURNING id",
    )?;
    let rows = stmt.query_map(params![customer_id, user_id], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_and_know_which_grant_access() {
        let all = ["active", "trialing", "past_due", "paused", "canceled"];
        for s in all {
            let status = SubscriptionStatus::parse(s).unwrap();
            assert_eq!(status.as_str(), s);
            assert_eq!(serde_json::to_value(status).unwrap(), s);
        }
        let granting: Vec<&str> = all
            .into_iter()
            .filter(|s| SubscriptionStatus::parse(s).is_some_and(|s| s.grants_access()))
            .collect();
        assert_eq!(granting, ["active", "trialing", "past_due"]);
        let sql_list = |pick: fn(SubscriptionStatus) -> bool| {
            let quoted: Vec<String> = all
                .into_iter()
                .filter(|s| SubscriptionStatus::parse(s).is_some_and(pick))
                .map(|s| format!("'{s}'"))
                .collect();
            format!("({})", quoted.join(", "))
        };
        assert_eq!(
            GRANTING_STATUSES,
            sql_list(SubscriptionStatus::grants_access)
        );
        assert_eq!(
            CHARGING_STATUSES,
            sql_list(SubscriptionStatus::charges_again)
        );
        assert_eq!(CHARGING_STATUSES, "('active', 'trialing')");
        assert_eq!(SubscriptionStatus::parse("Active"), None);
    }
}
