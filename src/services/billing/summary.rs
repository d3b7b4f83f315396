//! A person's billing as `/api/me`, `show-status` and `/settings` show it
//! (SPEC §7): the subscription that matters most, and their referral
//! rewards with who each came from.
//!
//! Which subscription: someone can hold several (a canceled one and a new
//! one, say). We show a live one (active, trialing, past due) before a
//! paused one before a canceled one, and the newest within each.

use rusqlite::Connection;
use serde::Serialize;

use crate::clock::Timestamp;
use crate::db::billing::{SubscriptionRow, SubscriptionStatus};
use crate::db::billing_reads;
use crate::error::Result;

/// The `billing` object of `/api/me`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BillingSummary {
    pub status: SubscriptionStatus,
    pub subscription_id: String,
    pub customer_id: String,
    pub current_period_ends_at: Option<String>,
    pub cancel_at: Option<String>,
    /// A scheduled pause: when it takes effect.
    pub pause_at: Option<String>,
    pub discount_ends_at: Option<String>,
}

impl BillingSummary {
    /// Active, trialing or past due: the subscription still gives access.
    pub fn is_live(&self) -> bool {
        self.status.grants_access()
    }

    /// The date a scheduled pause takes effect, while the subscription is
    /// still live.
    pub fn pausing_on(&self) -> Option<Timestamp> {
        self.pause_at
            .as_deref()
            .filter(|_| self.is_live())
            .and_then(paddle_time)
    }

    /// The date a scheduled cancel takes effect, while it is still ahead.
    pub fn canceling_on(&self) -> Option<Timestamp> {
        self.cancel_at
            .as_deref()
            .filter(|_| self.is_live())
            .and_then(paddle_time)
    }
}

/// One entry of `referral.rewards`. `from` (masked) is for the page only.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Reward {
    pub role: String,
    pub state: String,
    pub ends_at: Option<String>,
    /// The other party's email, masked: the invitee for a referrer's
    /// reward, the referrer for an invitee's.
    #[serde(skip)]
    pub from: String,
}

/// The user's most relevant subscription, or `None` when they never had one.
pub fn billing(conn: &Connection, user_id: i64) -> Result<Option<BillingSummary>> {
    Ok(billing_reads::most_relevant_subscription(conn, user_id)?.map(summary_of))
}

fn summary_of(row: SubscriptionRow) -> BillingSummary {
    BillingSummary {
        status: row.status,
        subscription_id: row.id,
        customer_id: row.customer_id,
        current_period_ends_at: row.current_period_ends_at.map(|t| t.to_string()),
        cancel_at: row.cancel_at.map(|t| t.to_string()),
        pause_at: row.pause_at.map(|t| t.to_string()),
        discount_ends_at: row.discount_ends_at.map(|t| t.to_string()),
    }
}

/// Every reward of the user's, newest first.
pub fn rewards(conn: &Connection, user_id: i64) -> Result<Vec<Reward>> {
    Ok(billing_reads::rewards_of(conn, user_id)?
        .into_iter()
        .map(|r| Reward {
            role: r.role,
            state: r.state,
            ends_at: r.ends_at.map(normalise_time),
            from: mask_email(&r.other_email),
        })
        .collect())
}

/// `alice@example.com` → `a•••@example.com`: enough for a person to
/// recognise a friend, not enough to harvest an address.
pub fn mask_email(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}•••@{domain}")
        }
        None => "•••".to_string(),
    }
}

/// A time as Paddle writes it (`2026-01-02T03:04:05.678901Z`) or as we do
/// (`2026-01-02T03:04:05Z`), to the second.
pub fn paddle_time(s: &str) -> Option<Timestamp> {
    if !s.ends_with('Z') || s.len() < 20 || !s.is_char_boundary(19) {
        return None;
    }
    Timestamp::parse_rfc3339(&format!("{}Z", &s[..19]))
}

/// Times in our JSON are written one way (RFC 3339 to the second, `Z`);
/// text we can't read is passed on as it is.
fn normalise_time(s: String) -> String {
    paddle_time(&s).map_or(s, |t| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_masked_to_their_first_letter_and_domain() {
        assert_eq!(mask_email("alice@example.com"), "a•••@example.com");
        assert_eq!(mask_email("é@x.io"), "é•••@x.io");
        assert_eq!(mask_email("nobody"), "•••");
    }

    #[test]
    fn paddle_times_read_to_the_second() {
        let t = paddle_time("2026-03-01T10:20:30.123456Z").unwrap();
        assert_eq!(t.to_string(), "2026-03-01T10:20:30Z");
        assert_eq!(paddle_time("2026-03-01T10:20:30Z"), Some(t));
        assert_eq!(paddle_time("2026-03-01"), None);
        assert_eq!(normalise_time("soon".into()), "soon");
    }

    #[test]
    fn a_scheduled_cancel_shows_only_while_the_subscription_is_live() {
        let mut s = BillingSummary {
            status: SubscriptionStatus::Active,
            subscription_id: "sub_1".into(),
            customer_id: "ctm_1".into(),
            current_period_ends_at: None,
            cancel_at: Some("2026-05-01T00:00:00Z".into()),
            pause_at: None,
            discount_ends_at: None,
        };
        assert_eq!(
            s.canceling_on().map(|t| t.date_string()),
            Some("2026-05-01".into())
        );
        s.status = SubscriptionStatus::Canceled;
        assert_eq!(s.canceling_on(), None);
    }
}
