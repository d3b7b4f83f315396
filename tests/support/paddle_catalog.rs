//! The fake Paddle API's catalog half, for the operator's verbs: prices,
//! discounts, the event types (a cheap authenticated GET for the key
//! check), customers by email, and subscription lists by customer with
//! Paddle's cursor pagination. Replies and errors are shaped as Paddle's
//! (`{"data","meta"}`, `{"error":{"type","code","detail","documentation_url"}}`).

use std::collections::HashMap;

use serde_json::{json, Value};

use super::paddle::Call;

const PRICE: &str = include_str!("../fixtures/paddle/price.json");
const DISCOUNT: &str = include_str!("../fixtures/paddle/discount.json");

/// What the fake's catalog holds; set it with `FakePaddle::catalog`.

#[derive(Default)]
pub struct Catalog {
    /// When set, a catalog call whose `Authorization` is not
    /// `Bearer <key>` gets Paddle's 403 `invalid_token`.
    pub api_key: Option<String>,
    /// Price entities by id; while empty, every id is a monthly price.
    pub prices: HashMap<String, Value>,
    pub discounts: HashMap<String, Value>,
    /// Subscription entities, listed by their `customer_id`.
    pub subscriptions: Vec<Value>,
    /// Page size of subscription lists (Paddle's default 50 when 0);
    /// smaller than `per_page` asked for, as tests need several pages.
    pub page_size: usize,
    /// Every catalog call, in order.
    pub calls: Vec<Call>,
    /// The next `fail_next.0` catalog calls answer `fail_next.1`.
    pub fail_next: (u32, u16),
}

impl Catalog {
    /// Calls whose path starts with `prefix` (all are GETs).
    pub fn calls_to(&self, prefix: &str) -> Vec<Call> {
        self.calls
            .iter()
            .filter(|c| c.path.starts_with(prefix))
            .cloned()
            .collect()
    }
}

/// A price entity `id` billed every `frequency` `interval`s (`None`: one-time).
pub fn price(id: &str, cycle: Option<(&str, u64)>) -> Value {
    let mut p: Value = serde_json::from_str::<Value>(PRICE).unwrap()["data"].clone();
    p["id"] = id.into();
    p["billing_cycle"] = match cycle {
        Some((interval, frequency)) => json!({"interval": interval, "frequency": frequency}),
        None => Value::Null,
    };
    p
}

/// The right referral discount for a monthly price: 50%, recurring for 3
/// intervals, not enabled for checkout.
pub fn discount(id: &str) -> Value {
    let mut d: Value = serde_json::from_str::<Value>(DISCOUNT).unwrap()["data"].clone();
    d["id"] = id.into();
    d
}

/// Paddle's error body.
pub fn error(status: u16, code: &str, detail: &str) -> (u16, Value) {
    (
        status,
        json!({"error": {
            "type": "request_error",
            "code": code,
            "detail": detail,
            "documentation_url": format!("https://developer.paddle.com/errors/shared/{code}"),
        }, "meta": {"request_id": "00000000-0000-4000-8000-000000000000"}}),
    )
}

fn meta() -> Value {
    json!({"request_id": "00000000-0000-4000-8000-000000000001"})
}

/// The query of a path as pairs (values are ids and emails here, so only
/// `%XX` is decoded).
fn query(path: &str) -> (String, HashMap<String, String>) {
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    let pairs = query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_string(), percent_decode(v)))
        .collect();
    (path.to_string(), pairs)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Catalog {
    /// The answer to `call` when it is a catalog call; `None` leaves it to
    /// the rest of the fake. `customers` is the fake's id → email map.
    pub fn answer(
        &mut self,
        call: &Call,
        customers: &HashMap<String, String>,
    ) -> Option<(u16, Value)> {
        if call.method != "GET" {
            return None;
        }
        let (path, q) = query(&call.path);
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let is_catalog = matches!(
            parts.as_slice(),
            ["event-types"] | ["prices", _] | ["discounts", _] | ["subscriptions"] | ["customers"]
        );
        if !is_catalog {
            return None;
        }
        self.calls.push(call.clone());
        if self.fail_next.0 > 0 {
            self.fail_next.0 -= 1;
            return Some(error(
                self.fail_next.1,
                "internal_error",
                "the fake was told to fail",
            ));
        }
        if let Some(key) = &self.api_key {
            if call.authorization.as_deref() != Some(&format!("Bearer {key}")) {
                return Some(error(403, "invalid_token", "Invalid or revoked API key."));
            }
        }
        let not_found =
            |id: &str| error(404, "entity_not_found", &format!("Entity {id} not found"));
        Some(match parts.as_slice() {
            ["event-types"] => (
                200,
                json!({"data": [{
                    "name": "subscription.created",
                    "description": "Occurs when a subscription is created.",
                    "group": "Subscription",
                    "available_versions": [1]
                }], "meta": meta()}),
            ),
            // Until a test sets a price, every price is an active monthly
            // one (what the billing flow's tests sell); then only those set.
            ["prices", id] => match self.prices.get(*id) {
                Some(p) => (200, json!({"data": p, "meta": meta()})),
                None if self.prices.is_empty() => (
                    200,
                    json!({"data": price(id, Some(("month", 1))), "meta": meta()}),
                ),
                None => not_found(id),
            },
            ["discounts", id] => match self.discounts.get(*id) {
                Some(d) => (200, json!({"data": d, "meta": meta()})),
                None => not_found(id),
            },
            ["customers"] => {
                let email = q.get("email").cloned().unwrap_or_default();
                let data: Vec<Value> = customers
                    .iter()
                    .filter(|(_, e)| **e == email)
                    .map(|(id, e)| json!({"id": id, "email": e, "status": "active"}))
                    .collect();
                (200, json!({"data": data, "meta": meta()}))
            }
            _ => self.subscription_page(&q),
        })
    }

    /// `GET /subscriptions?customer_id=…[&after=…]`, by id, a page at a time.
    fn subscription_page(&self, q: &HashMap<String, String>) -> (u16, Value) {
        let Some(customer) = q.get("customer_id") else {
            return error(400, "bad_request", "this fake lists by customer_id only");
        };
        let asked: usize = q.get("per_page").and_then(|n| n.parse().ok()).unwrap_or(50);
        let size = match self.page_size {
            0 => asked,
            n => n.min(asked),
        };
        let mut subs: Vec<&Value> = self
            .subscriptions
            .iter()
            .filter(|s| s["customer_id"] == customer.as_str())
            .collect();
        subs.sort_by_key(|s| s["id"].as_str().unwrap_or("").to_string());
        let after = q.get("after").cloned().unwrap_or_default();
        let rest: Vec<&Value> = subs
            .into_iter()
            .filter(|s| s["id"].as_str().unwrap_or("") > after.as_str())
            .collect();
        let page: Vec<Value> = rest.iter().take(size).map(|s| (*s).clone()).collect();
        let last = page
            .last()
            .and_then(|s| s["id"].as_str())
            .unwrap_or(&after)
            .to_string();
        // As Paddle does, `next` is a full URL on Paddle's own host.
        let next = format!(
            "https://sandbox-api.paddle.com/subscriptions?customer_id={customer}&per_page={asked}&after={last}"
        );
        (
            200,
            json!({"data": page, "meta": {
                "request_id": "00000000-0000-4000-8000-000000000002",
                "pagination": {
                    "per_page": size,
                    "next": next,
                    "has_more": rest.len() > size,
                    "estimated_total": rest.len(),
                }
            }}),
        )
    }
}

const SUBSCRIPTION_EVENT: &str = include_str!("../fixtures/paddle/subscription.created.json");

/// A subscription entity as `GET /subscriptions` lists it: Paddle's sample
/// with the id, customer, status, `updated_at` and `custom_data` given.
pub fn subscription(
    id: &str,
    customer: &str,
    status: &str,
    updated_at: &str,
    custom_data: Value,
) -> Value {
    let mut s: Value = serde_json::from_str::<Value>(SUBSCRIPTION_EVENT).unwrap()["data"].clone();
    s["id"] = id.into();
    s["customer_id"] = customer.into();
    s["status"] = status.into();
    s["updated_at"] = updated_at.into();
    s["custom_data"] = custom_data;
    s.as_object_mut().unwrap().remove("transaction_id");
    if status == "canceled" {
        s["canceled_at"] = updated_at.into();
        s["current_billing_period"] = Value::Null;
        s["next_billed_at"] = Value::Null;
    }
    s
}

/// The webhook event Paddle would have sent for `entity`.
pub fn event_of(entity: &Value, event_id: &str, kind: &str, occurred_at: &str) -> String {
    json!({
        "event_id": event_id,
        "event_type": format!("subscription.{kind}"),
        "occurred_at": occurred_at,
        "notification_id": event_id.replace("evt_", "ntf_"),
        "data": entity,
    })
    .to_string()
}
