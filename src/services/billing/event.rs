//! What we read from a Paddle webhook: the envelope, the subscription and
//! transaction entities, and Paddle's timestamps (which carry microseconds,
//! so they are parsed and compared as instants, never as strings).

use std::fmt;

use serde_json::Value;

use crate::clock::Timestamp;
use crate::db::billing::SubscriptionStatus;
use crate::error::{Error, Result};

/// An instant as Paddle writes it (`2026-11-26T09:30:12.123456Z`), to the
/// microsecond.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct PaddleTime(i64);

impl PaddleTime {
    /// `YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z`; digits past the sixth are dropped.
    pub fn parse(s: &str) -> Option<PaddleTime> {
        let (whole, rest) = (s.get(..19)?, s.get(19..)?);
        let seconds = Timestamp::parse_rfc3339(&format!("{whole}Z"))?;
        let fraction = match rest {
            "Z" => "",
            _ => rest.strip_prefix('.')?.strip_suffix('Z')?,
        };
        if fraction.len() > 9
            || !fraction.bytes().all(|b| b.is_ascii_digit())
            || rest != "Z" && fraction.is_empty()
        {
            return None;
        }
        let micros: i64 = format!("{:0<6}", &fraction[..fraction.len().min(6)])
            .parse()
            .ok()?;
        Some(PaddleTime(
            seconds.secs().checked_mul(1_000_000)?.checked_add(micros)?,
        ))
    }

    /// The whole second (rounded down), as the app stores times.
    pub fn timestamp(self) -> Timestamp {
        Timestamp(self.0.div_euclid(1_000_000))
    }

    pub fn from_timestamp(t: Timestamp) -> PaddleTime {
        PaddleTime(t.secs().saturating_mul(1_000_000))
    }
}

/// Always six fractional digits, so every stored value has one shape.
impl fmt::Display for PaddleTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.timestamp().to_string();
        write!(f, "{}.{:06}Z", &whole[..19], self.0.rem_euclid(1_000_000))
    }
}

/// `{"event_id","event_type","occurred_at","notification_id","data"}`.
#[derive(Debug)]
pub struct Envelope {
    pub event_id: String,
    pub event_type: String,
    pub occurred_at: PaddleTime,
    pub data: Value,
}

/// The envelope of a verified body; a malformed one is a 400 (nothing stored).
pub fn envelope(body: &str) -> Result<Envelope> {
    let bad = |what: &str| Error::BadRequest(format!("The event {what}."));
    let v: Value = serde_json::from_str(body).map_err(|_| bad("is not JSON"))?;
    let text = |key: &str| {
        v.get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty() && s.len() <= 200)
            .map(str::to_string)
    };
    let event_id = text("event_id").ok_or_else(|| bad("has no event_id"))?;
    let event_type = text("event_type").ok_or_else(|| bad("has no event_type"))?;
    let occurred_at = text("occurred_at")
        .and_then(|s| PaddleTime::parse(&s))
        .ok_or_else(|| bad("has no valid occurred_at"))?;
    let data = v.get("data").cloned().unwrap_or(Value::Null);
    Ok(Envelope {
        event_id,
        event_type,
        occurred_at,
        data,
    })
}

/// The discount a subscription carries.
#[derive(Clone, Debug, PartialEq)]
pub struct Discount {
    pub id: String,
    pub ends_at: Option<Timestamp>,
}

/// The fields of a subscription entity the app keeps.
#[derive(Clone, Debug, PartialEq)]
pub struct Subscription {
    pub id: String,
    pub status: SubscriptionStatus,
    pub customer_id: String,
    pub custom_data: Value,
    pub price_id: Option<String>,
    /// Every item's `price.id`.
    pub price_ids: Vec<String>,
    pub current_period_ends_at: Option<Timestamp>,
    /// `scheduled_change.effective_at` when its action is `cancel`.
    pub cancel_at: Option<Timestamp>,
    /// `scheduled_change.effective_at` when its action is `pause`.
    pub pause_at: Option<Timestamp>,
    pub next_billed_at: Option<Timestamp>,
    /// The checkout transaction (`subscription.created` carries it).
    pub transaction_id: Option<String>,
    pub discount: Option<Discount>,
}

fn id_at(v: &Value, key: &str, prefix: &str) -> Option<String> {
    v.get(key)
        .and_then(Value::as_str)
        .filter(|s| s.starts_with(prefix) && s.len() <= 100)
        .map(str::to_string)
}

fn time_at(v: &Value, pointer: &str) -> Option<Timestamp> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .and_then(PaddleTime::parse)
        .map(PaddleTime::timestamp)
}

/// The subscription in a `subscription.*` event's `data`; `None` when the
/// fields we need are missing or not what Paddle sends.
pub fn subscription(data: &Value) -> Option<Subscription> {
    let status = SubscriptionStatus::parse(data.get("status").and_then(Value::as_str)?)?;
    let scheduled = |action: &str| {
        (data
            .pointer("/scheduled_change/action")
            .and_then(Value::as_str)
            == Some(action))
        .then(|| time_at(data, "/scheduled_change/effective_at"))
        .flatten()
    };
    let price_ids: Vec<String> = data
        .get("items")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|item| item.pointer("/price/id").and_then(Value::as_str))
        .filter(|id| id.len() <= 100)
        .map(str::to_string)
        .collect();
    let discount =
        id_at(data.get("discount").unwrap_or(&Value::Null), "id", "dsc_").map(|id| Discount {
            id,
            ends_at: time_at(data, "/discount/ends_at"),
        });
    Some(Subscription {
        id: id_at(data, "id", "sub_")?,
        status,
        customer_id: id_at(data, "customer_id", "ctm_")?,
        custom_data: data.get("custom_data").cloned().unwrap_or(Value::Null),
        price_id: price_ids.first().cloned(),
        price_ids,
        current_period_ends_at: time_at(data, "/current_billing_period/ends_at"),
        cancel_at: scheduled("cancel"),
        pause_at: scheduled("pause"),
        next_billed_at: time_at(data, "/next_billed_at"),
        transaction_id: id_at(data, "transaction_id", "txn_"),
        discount,
    })
}

/// The fields of a `transaction.completed` the app uses.
#[derive(Clone, Debug, PartialEq)]
pub struct Transaction {
    pub id: Option<String>,
    /// `web` for a checkout, `subscription_recurring` for a renewal, …
    pub origin: Option<String>,
    pub subscription_id: Option<String>,
    pub customer_id: Option<String>,
    pub custom_data: Value,
}

pub fn transaction(data: &Value) -> Transaction {
    Transaction {
        id: id_at(data, "id", "txn_"),
        origin: data
            .get("origin")
            .and_then(Value::as_str)
            .map(str::to_string),
        subscription_id: id_at(data, "subscription_id", "sub_"),
        customer_id: id_at(data, "customer_id", "ctm_"),
        custom_data: data.get("custom_data").cloned().unwrap_or(Value::Null),
    }
}

/// The fields of an `adjustment.created|updated` the app uses.
#[derive(Clone, Debug, PartialEq)]
pub struct Adjustment {
    pub id: String,
    /// `refund`, `credit`, `chargeback`, `chargeback_warning`, …
    pub action: String,
    /// `full`, `partial`, `tax`, `proration`.
    pub kind: String,
    /// `pending_approval`, `approved`, `rejected`, `reversed`.
    pub status: String,
    pub transaction_id: String,
    pub subscription_id: Option<String>,
    pub customer_id: Option<String>,
}

impl Adjustment {
    /// An approved full refund, or any chargeback: the money went back.
    pub fn takes_the_payment_back(&self) -> bool {
        (self.action == "refund" && self.kind == "full" && self.status == "approved")
            || self.action == "chargeback"
    }
}

pub fn adjustment(data: &Value) -> Option<Adjustment> {
    let text = |key: &str| {
        data.get(key)
            .and_then(Value::as_str)
            .filter(|s| s.len() <= 100)
            .map(str::to_string)
    };
    Some(Adjustment {
        id: id_at(data, "id", "adj_")?,
        action: text("action")?,
        kind: text("type").unwrap_or_default(),
        status: text("status").unwrap_or_default(),
        transaction_id: id_at(data, "transaction_id", "txn_")?,
        subscription_id: id_at(data, "subscription_id", "sub_"),
        customer_id: id_at(data, "customer_id", "ctm_"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paddle_times_keep_microseconds_and_compare_as_instants() {
        let a = PaddleTime::parse("2026-11-26T09:30:12.123456Z").unwrap();
        let b = PaddleTime::parse("2026-11-26T09:30:12.9Z").unwrap();
        let c = PaddleTime::parse("2026-11-26T09:30:12Z").unwrap();
        assert!(
            c < a && a < b,
            "a string compare would put '.9Z' and 'Z' wrongly"
        );
        assert_eq!(a.to_string(), "2026-11-26T09:30:12.123456Z");
        assert_eq!(b.to_string(), "2026-11-26T09:30:12.900000Z");
        assert_eq!(c.timestamp().to_string(), "2026-11-26T09:30:12Z");
        assert_eq!(PaddleTime::parse(&a.to_string()), Some(a));
        let nanos = PaddleTime::parse("2026-11-26T09:30:12.123456789Z").unwrap();
        assert_eq!(nanos, a);
        for bad in [
            "",
            "2026-11-26T09:30:12.Z",
            "2026-11-26T09:30:12.12x4Z",
            "2026-11-26 09:30:12Z",
            "2026-11-26T09:30:12+00:00",
        ] {
            assert_eq!(PaddleTime::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn reads_the_sample_subscription() {
        let body = include_str!(
            "../../../tests/fixtures/paddle/subscription.updated-cancel-scheduled.json"
        );
        let e = envelope(body).unwrap();
        assert_eq!(e.event_type, "subscription.updated");
        let s = subscription(&e.data).unwrap();
        assert_eq!(s.id, "sub_01jf3k8x2v9q7w5e4r3t2y1u0i");
        assert_eq!(s.status, SubscriptionStatus::Active);
        assert_eq!(
            s.price_id.as_deref(),
            Some("pri_01jf2z9y8x7w6v5u4t3s2r1q0p")
        );
        assert_eq!(
            s.cancel_at.map(|t| t.to_string()).as_deref(),
            Some("2026-12-26T09:30:12Z")
        );
        assert_eq!(s.discount, None);
        let body = include_str!(
            "../../../tests/fixtures/paddle/subscription.created-with-referral-discount.json"
        );
        let s = subscription(&envelope(body).unwrap().data).unwrap();
        assert_eq!(
            s.discount.map(|d| d.id).as_deref(),
            Some("dsc_01jf2a0s9d8f7g6h5j4k3l2z1x")
        );
    }

    #[test]
    fn malformed_envelopes_are_refused() {
        for bad in [
            "",
            "[]",
            r#"{"event_id":"e"}"#,
            r#"{"event_id":"e","event_type":"t","occurred_at":"yesterday"}"#,
        ] {
            assert!(envelope(bad).is_err(), "{bad}");
        }
    }
}
