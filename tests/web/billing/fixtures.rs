//! Signed-event fixtures: full Paddle Billing subscription and transaction
//! entities, built from the samples in `tests/fixtures/paddle/` (shaped as in
//! Paddle's own SDK fixtures) with the ids, status and times a test needs.

use serde_json::{json, Value};

use app::clock::Timestamp;
use app::crypto::Keys;

const SUBSCRIPTION: &str = include_str!("../../fixtures/paddle/subscription.created.json");
const TRANSACTION: &str = include_str!("../../fixtures/paddle/transaction.completed.json");
const ADJUSTMENT: &str = include_str!("../../fixtures/paddle/adjustment.created.json");

/// The price the billing tests' app sells (`APP_PADDLE_PRICE_ID`).
pub const PRICE: &str = "pri_01jf2z9y8x7w6v5u4t3s2r1q0p";

/// Now plus `offset` seconds, as Paddle writes times (with microseconds).
pub fn at(offset: i64) -> String {
    let whole = Timestamp::now().plus(offset).to_string();
    format!("{}.{:06}Z", &whole[..19], 123_456)
}

/// The `custom_data` our checkout gives a user: their id and its signature.
pub fn custom_data_for(user_id: i64) -> Value {
    let keys = Keys::derive(super::APP_SECRET.as_bytes());
    let sig = app::services::billing::custom_data::sign(&keys, user_id);
    json!({"user_id": user_id.to_string(), "sig": sig})
}

/// A subscription as a test describes it.
#[derive(Clone, Debug)]
pub struct Sub {
    pub id: String,
    pub customer: String,
    pub status: String,
    pub custom_data: Value,
    /// `(discount id, ends_at)`.
    pub discount: Option<(String, String)>,
    pub cancel_at: Option<String>,
    pub pause_at: Option<String>,
    pub price: String,
    pub next_billed_at: Option<String>,
}

impl Sub {
    pub fn new(id: &str, customer: &str) -> Sub {
        Sub {
            id: id.into(),
            customer: customer.into(),
            status: "active".into(),
            custom_data: Value::Null,
            discount: None,
            cancel_at: None,
            pause_at: None,
            price: PRICE.into(),
            next_billed_at: Some(at(30 * 86_400)),
        }
    }

    /// The checkout transaction that first paid for it.
    pub fn first_transaction(&self) -> String {
        self.id.replacen("sub_", "txn_", 1)
    }

    pub fn price(mut self, price: &str) -> Sub {
        self.price = price.into();
        self
    }

    pub fn next_billed_at(mut self, when: &str) -> Sub {
        self.next_billed_at = Some(when.into());
        self
    }

    pub fn pause_at(mut self, when: &str) -> Sub {
        self.pause_at = Some(when.into());
        self
    }

    /// Checkout's signed `custom_data` for this user.
    pub fn of(mut self, user_id: i64) -> Sub {
        self.custom_data = custom_data_for(user_id);
        self
    }

    pub fn custom_data(mut self, data: Value) -> Sub {
        self.custom_data = data;
        self
    }

    pub fn status(mut self, status: &str) -> Sub {
        self.status = status.into();
        self
    }

    pub fn discount(mut self, id: &str, ends_at: &str) -> Sub {
        self.discount = Some((id.into(), ends_at.into()));
        self
    }

    pub fn cancel_at(mut self, when: &str) -> Sub {
        self.cancel_at = Some(when.into());
        self
    }

    /// The full event body: `subscription.<kind>` at `occurred_at`.
    pub fn event(&self, event_id: &str, kind: &str, occurred_at: &str) -> String {
        let mut e: Value = serde_json::from_str(SUBSCRIPTION).unwrap();
        e["event_id"] = event_id.into();
        e["notification_id"] = event_id.replace("evt_", "ntf_").into();
        e["event_type"] = format!("subscription.{kind}").into();
        e["occurred_at"] = occurred_at.into();
        let d = &mut e["data"];
        d["id"] = self.id.as_str().into();
        d["status"] = self.status.as_str().into();
        d["customer_id"] = self.customer.as_str().into();
        d["custom_data"] = self.custom_data.clone();
        d["updated_at"] = occurred_at.into();
        d["items"][0]["price"]["id"] = self.price.as_str().into();
        d["next_billed_at"] = self.next_billed_at.clone().into();
        if kind == "created" {
            d["transaction_id"] = self.first_transaction().into();
        } else {
            d.as_object_mut().unwrap().remove("transaction_id");
        }
        d["discount"] = match &self.discount {
            Some((id, ends_at)) => json!({
                "id": id, "starts_at": "2026-11-26T09:30:12.123456Z", "ends_at": ends_at, "type": "percentage"
            }),
            None => Value::Null,
        };
        d["scheduled_change"] = match (&self.cancel_at, &self.pause_at) {
            (Some(when), _) => json!({"action": "cancel", "effective_at": when, "resume_at": null}),
            (None, Some(when)) => {
                json!({"action": "pause", "effective_at": when, "resume_at": null})
            }
            (None, None) => Value::Null,
        };
        if self.status == "canceled" {
            d["canceled_at"] = occurred_at.into();
            d["current_billing_period"] = Value::Null;
            d["next_billed_at"] = Value::Null;
        }
        if self.status == "paused" {
            d["paused_at"] = occurred_at.into();
            d["next_billed_at"] = Value::Null;
        }
        e.to_string()
    }
}

/// `transaction.completed` for a subscription's first payment.
pub fn transaction_completed(event_id: &str, sub: &Sub, occurred_at: &str) -> String {
    let mut e: Value = serde_json::from_str(TRANSACTION).unwrap();
    e["event_id"] = event_id.into();
    e["notification_id"] = event_id.replace("evt_", "ntf_").into();
    e["occurred_at"] = occurred_at.into();
    e["data"]["id"] = sub.first_transaction().into();
    e["data"]["subscription_id"] = sub.id.as_str().into();
    e["data"]["customer_id"] = sub.customer.as_str().into();
    e["data"]["custom_data"] = sub.custom_data.clone();
    e.to_string()
}

/// `adjustment.<kind>` taking back (or not) the payment `transaction_id`:
/// `action` (`refund`, `chargeback`, `credit`…), `type` (`full`,
/// `partial`), `status` (`approved`, `pending_approval`…).
pub fn adjustment(
    event_id: &str,
    kind: &str,
    sub: &Sub,
    transaction_id: &str,
    (action, kind_of, status): (&str, &str, &str),
    occurred_at: &str,
) -> String {
    let mut e: Value = serde_json::from_str(ADJUSTMENT).unwrap();
    e["event_id"] = event_id.into();
    e["notification_id"] = event_id.replace("evt_", "ntf_").into();
    e["event_type"] = format!("adjustment.{kind}").into();
    e["occurred_at"] = occurred_at.into();
    let d = &mut e["data"];
    d["id"] = event_id.replace("evt_", "adj_").into();
    d["action"] = action.into();
    d["type"] = kind_of.into();
    d["status"] = status.into();
    d["transaction_id"] = transaction_id.into();
    d["subscription_id"] = sub.id.as_str().into();
    d["customer_id"] = sub.customer.as_str().into();
    e.to_string()
}
