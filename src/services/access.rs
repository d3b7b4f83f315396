//! Paid access: who may use the paid features, and why not.

use serde::Serialize;

use crate::clock::{Timestamp, DAY};
use crate::crypto;
use crate::db::users::{Tier, User};
use crate::error::Error;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Tier,
    Credit,
}

/// SPEC §5, exactly.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PaidStatus {
    pub active: bool,
    pub source: Option<Source>,
    #[serde(serialize_with = "rfc3339_or_null")]
    pub expires_at: Option<Timestamp>,
    pub days_remaining: Option<i64>,
}

/// Why a free caller is turned away.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Denial {
    FreeTier,
    CreditExpired,
}

impl Denial {
    /// The 402 body's `reason`.
    pub fn reason(self) -> &'static str {
        match self {
            Denial::FreeTier => "free_tier",
            Denial::CreditExpired => "credit_expired",
        }
    }

    /// What the person is told.
    pub fn message(self) -> &'static str {
        match self {
            Denial::FreeTier => "Commentary is a paid feature. Upgrade to get it.",
            Denial::CreditExpired => {
                "Your complimentary access has ended. Upgrade to keep getting commentary."
            }
        }
    }
}

impl From<Denial> for Error {
    fn from(denial: Denial) -> Error {
        Error::PaymentRequired {
            reason: denial.reason(),
            message: denial.message(),
        }
    }
}

/// Who is asking for a paid feature.
#[derive(Clone, Debug)]
pub enum Caller {
    /// The operator's `APP_ADMIN_TOKEN` bearer.
    Admin,
    User(User),
}

/// The paid gate, SPEC §5 as one match: the user's paid status, or why
/// they have none.
pub fn check(user: &User, now: Timestamp) -> Result<PaidStatus, Denial> {
    match (user.tier, user.credit_until) {
        (Tier::Paid, _) => Ok(PaidStatus {
            active: true,
            source: Some(Source::Tier),
            expires_at: None,
            days_remaining: None,
        }),
        (Tier::Free, Some(until)) if until > now => Ok(PaidStatus {
            active: true,
            source: Some(Source::Credit),
            expires_at: Some(until),
            // ceil((until - now) / 1 day)
            days_remaining: Some((until.secs() - now.secs() + DAY - 1) / DAY),
        }),
        (Tier::Free, Some(_)) => Err(Denial::CreditExpired),
        (Tier::Free, None) => Err(Denial::FreeTier),
    }
}

/// Wrong admin tokens per client in ten minutes, and from all clients
/// together (a guesser with many addresses meets the second).
pub const WRONG_ADMIN_TOKENS_PER_CLIENT: usize = 10;
pub const WRONG_ADMIN_TOKENS_EVERYWHERE: usize = 100;

/// Compares a presented bearer token with the configured one in constant
/// time. No token configured means no bypass.
pub fn admin_token_matches(configured: Option<&str>, presented: &str) -> bool {
    configured.is_some_and(|t| crypto::secrets_equal(t.as_bytes(), presented.as_bytes()))
}

/// [`check`] as the status `/api/me` shows: inactive when denied.
pub fn user_paid_status(user: &User, now: Timestamp) -> PaidStatus {
    check(user, now).unwrap_or(PaidStatus {
        active: false,
        source: None,
        expires_at: None,
        days_remaining: None,
    })
}

/// The tier badge: `paid`, `free`, or `free · credit · N day(s) remaining (expires YYYY-MM-DD)`.
pub fn badge(status: &PaidStatus) -> String {
    match (status.source, status.days_remaining, status.expires_at) {
        (Some(Source::Tier), _, _) => "paid".to_string(),
        (Some(Source::Credit), Some(days), Some(until)) => {
            let unit = if days == 1 { "day" } else { "days" };
            format!(
                "free · credit · {days} {unit} remaining (expires {})",
                until.date_string()
            )
        }
        _ => "free".to_string(),
    }
}

fn rfc3339_or_null<S: serde::Serializer>(t: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&t.to_string()),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Timestamp = Timestamp(1_800_000_000);

    #[test]
    fn a_denial_becomes_a_402_that_says_why() {
        let e = Error::from(Denial::CreditExpired);
        assert_eq!((e.status(), e.code()), (402, "payment_required"));
        assert!(matches!(
            e,
            Error::PaymentRequired {
                reason: "credit_expired",
                ..
            }
        ));
        assert_eq!(e.public_message(), Denial::CreditExpired.message());
    }

    fn user(tier: &str, credit_until: Option<Timestamp>) -> User {
        User {
            id: 1,
            email: "a@b.co".into(),
            tier: Tier::parse(tier).unwrap(),
            created_at: NOW,
            credit_until,
            base_currency: crate::money::Currency::USD,
        }
    }

    fn paid_status(tier: &str, credit_until: Option<Timestamp>, now: Timestamp) -> PaidStatus {
        user_paid_status(&user(tier, credit_until), now)
    }

    fn denial(user: &User, now: Timestamp) -> Option<Denial> {
        check(user, now).err()
    }

    #[test]
    fn paid_tier_is_active_whatever_the_credit() {
        for credit in [None, Some(NOW.plus(-1)), Some(NOW.plus(DAY))] {
            let s = paid_status("paid", credit, NOW);
            assert_eq!(
                s,
                PaidStatus {
                    active: true,
                    source: Some(Source::Tier),
                    expires_at: None,
                    days_remaining: None
                }
            );
        }
    }

    #[test]
    fn running_credit_counts_days_rounding_up() {
        let cases = [
            (1, 1),
            (DAY - 1, 1),
            (DAY, 1),
            (DAY + 1, 2),
            (30 * DAY, 30),
            (30 * DAY - 3600, 30),
        ];
        for (left, days) in cases {
            let s = paid_status("free", Some(NOW.plus(left)), NOW);
            assert!(s.active);
            assert_eq!(s.source, Some(Source::Credit));
            assert_eq!(s.expires_at, Some(NOW.plus(left)));
            assert_eq!(s.days_remaining, Some(days), "{left} seconds left");
        }
    }

    #[test]
    fn credit_at_or_past_expiry_is_inactive() {
        for until in [NOW, NOW.plus(-1), NOW.plus(-30 * DAY)] {
            let s = paid_status("free", Some(until), NOW);
            assert_eq!(
                s,
                PaidStatus {
                    active: false,
                    source: None,
                    expires_at: None,
                    days_remaining: None
                }
            );
        }
        assert!(!paid_status("free", None, NOW).active);
    }

    #[test]
    fn badges() {
        assert_eq!(badge(&paid_status("paid", None, NOW)), "paid");
        assert_eq!(badge(&paid_status("free", None, NOW)), "free");
        let until = crate::clock::parse_date("2027-01-05")
            .unwrap()
            .plus(DAY - 1);
        let one = paid_status("free", Some(until), until.plus(-3600));
        assert_eq!(
            badge(&one),
            "free · credit · 1 day remaining (expires 2027-01-05)"
        );
        let two = paid_status("free", Some(until), until.plus(-DAY - 3600));
        assert_eq!(
            badge(&two),
            "free · credit · 2 days remaining (expires 2027-01-05)"
        );
    }

    #[test]
    fn admin_token_and_callers() {
        assert!(admin_token_matches(Some("s3cret-token"), "s3cret-token"));
        assert!(!admin_token_matches(Some("s3cret-token"), "s3cret-tokeN"));
        assert!(!admin_token_matches(Some("s3cret-token"), ""));
        assert!(!admin_token_matches(None, ""), "unset means no bypass");
        let mut user = user("free", None);
        assert!(check(&user, NOW).is_err());
        assert_eq!(denial(&user, NOW), Some(Denial::FreeTier));
        user.credit_until = Some(NOW);
        assert_eq!(denial(&user, NOW), Some(Denial::CreditExpired));
        user.credit_until = Some(NOW.plus(1));
        assert!(check(&user, NOW).is_ok());
        user.tier = Tier::Paid;
        assert_eq!(denial(&user, NOW.plus(5)), None);
    }

    #[test]
    fn json_shape() {
        let v = serde_json::to_value(paid_status("free", Some(NOW.plus(DAY)), NOW)).unwrap();
        assert_eq!(v["source"], "credit");
        assert_eq!(v["expires_at"], NOW.plus(DAY).to_string());
        assert_eq!(v["days_remaining"], 1);
        let v = serde_json::to_value(paid_status("free", None, NOW)).unwrap();
        assert!(
            v["source"].is_null() && v["expires_at"].is_null() && v["days_remaining"].is_null()
        );
    }
}
