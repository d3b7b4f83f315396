//! The few Paddle Billing API calls the app makes, over one ureq agent
//! setup: from the outbox worker and, for Manage billing and the checkout,
//! the `paddle` offload pool (never on a request worker). Every call sends
//! `Paddle-Version: 1`; a `Retry-After` Paddle sends back is honoured by
//! the caller, and Paddle's temporary locks are told apart from refusals.

use std::time::Duration;

use serde_json::{json, Value};

use super::reward_terms::RewardTerms;
use crate::config::paddle::is_paddle_id;
use crate::config::PaddleConfig;

const TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_REPLY_BYTES: u64 = 1024 * 1024;
/// How often [`PaddleApi::get`] asks, and the longest `Retry-After` it
/// waits out (longer ones are reported: run the verb again later).
const GET_TRIES: u32 = 3;
const MAX_GET_WAIT_SECS: i64 = 60;

/// Paddle's answers that mean "the subscription is busy, try later"
/// (SPEC §7): waits, never failures.
pub const LOCK_CODES: [(u16, &str); 4] = [
    (409, "subscription_locked_renewal"),
    (409, "subscription_locked_processing"),
    (409, "subscription_outstanding_transaction"),
    (400, "subscription_locked_pending_changes"),
];

/// Why a call did not succeed. `retry_after` is Paddle's `Retry-After`
/// (seconds), when it sent one.
#[derive(Debug, PartialEq)]
pub enum ApiError {
    /// Worth trying again: a timeout, a connection error, a 5xx, a 429, and
    /// 401/403 (a key the operator can fix without touching the queue).
    Transient {
        message: String,
        retry_after: Option<i64>,
    },
    /// Paddle locked the subscription for now (one of [`LOCK_CODES`]).
    Locked {
        message: String,
        retry_after: Option<i64>,
    },
    /// Paddle refused the request itself (another 4xx): retrying the same
    /// call would be refused again.
    Refused(String),
}

impl ApiError {
    pub fn transient(message: impl Into<String>) -> ApiError {
        ApiError::Transient {
            message: message.into(),
            retry_after: None,
        }
    }

    /// The `Retry-After` Paddle asked for, if any.
    pub fn retry_after(&self) -> Option<i64> {
        match self {
            ApiError::Transient { retry_after, .. } | ApiError::Locked { retry_after, .. } => {
                *retry_after
            }
            ApiError::Refused(_) => None,
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiError::Transient { message, .. }
            | ApiError::Locked { message, .. }
            | ApiError::Refused(message) => f.write_str(message),
        }
    }
}

/// A new checkout transaction: what `POST /transactions` is sent.
#[derive(Clone, Debug, PartialEq)]
pub struct NewTransaction<'a> {
    pub price_id: &'a str,
    pub user_id: i64,
    pub sig: &'a str,
    pub discount_id: Option<&'a str>,
    pub customer_id: Option<&'a str>,
}

pub struct PaddleApi {
    agent: ureq::Agent,
    base: String,
    api_key: String,
}

impl PaddleApi {
    pub fn new(config: &PaddleConfig) -> PaddleApi {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(TIMEOUT))
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .http_status_as_error(false)
            .build()
            .into();
        PaddleApi {
            agent,
            base: config.api_url.clone(),
            api_key: config.api_key.clone(),
        }
    }

    /// `GET /customers/{id}` → the customer's email.
    pub fn customer_email(&self, customer_id: &str) -> Result<String, ApiError> {
        let reply = self.call("GET", &format!("/customers/{}", id(customer_id)?), None)?;
        reply
            .pointer("/data/email")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| ApiError::Refused("the customer has no email".into()))
    }

    /// `GET /subscriptions/{id}` → the subscription entity.
    pub fn subscription(&self, subscription_id: &str) -> Result<Value, ApiError> {
        let reply = self.call(
            "GET",
            &format!("/subscriptions/{}", id(subscription_id)?),
            None,
        )?;
        Ok(reply.get("data").cloned().unwrap_or(Value::Null))
    }

    /// `PATCH /subscriptions/{id}` with the discount from the next billing
    /// period → the updated subscription entity.
    pub fn apply_discount(
        &self,
        subscription_id: &str,
        discount_id: &str,
    ) -> Result<Value, ApiError> {
        let body =
            json!({"discount": {"id": discount_id, "effective_from": "next_billing_period"}});
        let reply = self.call(
            "PATCH",
            &format!("/subscriptions/{}", id(subscription_id)?),
            Some(body),
        )?;
        Ok(reply.get("data").cloned().unwrap_or(Value::Null))
    }

    /// `PATCH /subscriptions/{id}` with `"discount": null`: a revoked
    /// reward taken off → the updated subscription entity.
    pub fn remove_discount(&self, subscription_id: &str) -> Result<Value, ApiError> {
        let reply = self.call(
            "PATCH",
            &format!("/subscriptions/{}", id(subscription_id)?),
            Some(json!({ "discount": null })),
        )?;
        Ok(reply.get("data").cloned().unwrap_or(Value::Null))
    }

    /// `GET /prices/{id}` → the price entity (its `billing_cycle`).
    pub fn price(&self, price_id: &str) -> Result<Value, ApiError> {
        let reply = self.call("GET", &format!("/prices/{}", id(price_id)?), None)?;
        Ok(reply.get("data").cloned().unwrap_or(Value::Null))
    }

    /// `POST /discounts`: the referral reward, worth `terms`, that no
    /// customer can type in (`enabled_for_checkout: false`), only for our
    /// prices.
    pub fn create_referral_discount(
        &self,
        terms: &RewardTerms,
        price_ids: &[String],
    ) -> Result<String, ApiError> {
        let body = json!({
            "description": "Referral reward: 50% off for 3 months",
            "type": "percentage",
            "amount": terms.amount,
            "recur": true,
            "maximum_recurring_intervals": terms.maximum_recurring_intervals,
            "enabled_for_checkout": false,
            "restrict_to": price_ids,
        });
        let reply = self.call("POST", "/discounts", Some(body))?;
        reply
            .pointer("/data/id")
            .and_then(Value::as_str)
            .filter(|id| id.starts_with("dsc_"))
            .map(str::to_string)
            .ok_or_else(|| ApiError::transient("the created discount has no id"))
    }

    /// `POST /transactions`: the checkout's transaction → its `txn_…` id.
    pub fn create_transaction(&self, t: &NewTransaction<'_>) -> Result<String, ApiError> {
        let mut body = json!({
            "items": [{"price_id": t.price_id, "quantity": 1}],
            "custom_data": {"user_id": t.user_id.to_string(), "sig": t.sig},
        });
        if let Some(discount) = t.discount_id {
            body["discount_id"] = id(discount)?.into();
        }
        if let Some(customer) = t.customer_id {
            body["customer_id"] = id(customer)?.into();
        }
        let reply = self.call("POST", "/transactions", Some(body))?;
        reply
            .pointer("/data/id")
            .and_then(Value::as_str)
            .filter(|id| id.starts_with("txn_") && id.len() <= 100)
            .map(str::to_string)
            .ok_or_else(|| ApiError::transient("the created transaction has no id"))
    }

    /// `POST /customers/{id}/portal-sessions` for the subscription, if any
    /// (without one the portal still shows invoices) → the session entity.
    pub fn portal_session(
        &self,
        customer_id: &str,
        subscription_id: Option<&str>,
    ) -> Result<Value, ApiError> {
        let body = match subscription_id {
            Some(subscription) => json!({ "subscription_ids": [id(subscription)?] }),
            None => json!({}),
        };
        let path = format!("/customers/{}/portal-sessions", id(customer_id)?);
        let reply = self.call("POST", &path, Some(body))?;
        Ok(reply.get("data").cloned().unwrap_or(Value::Null))
    }

    /// `POST /subscriptions/{id}/cancel`, effective immediately.
    pub fn cancel_subscription(&self, subscription_id: &str) -> Result<(), ApiError> {
        let path = format!("/subscriptions/{}/cancel", id(subscription_id)?);
        self.call(
            "POST",
            &path,
            Some(json!({"effective_from": "immediately"})),
        )?;
        Ok(())
    }

    /// `GET {path_and_query}` → the whole reply (`data` and `meta`), for the
    /// operator's verbs (`billing-check`, `billing-sync`) and serve's check
    /// at start, each on a thread of its own: a `Retry-After` Paddle sends
    /// with a 429 or 5xx (a minute at most) is waited out here and the call
    /// made again, a few times, so a sync of many customers is not cut
    /// short by Paddle's rate limit.
    pub fn get(&self, path_and_query: &str) -> Result<Value, ApiError> {
        let mut tries = 1;
        loop {
            match self.call("GET", path_and_query, None) {
                Err(ApiError::Transient {
                    retry_after: Some(secs),
                    ..
                }) if tries < GET_TRIES && secs <= MAX_GET_WAIT_SECS => {
                    std::thread::sleep(Duration::from_secs(secs.unsigned_abs()));
                    tries += 1;
                }
                answer => return answer,
            }
        }
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, ApiError> {
        let url = format!("{}{path}", self.base);
        let auth = format!("Bearer {}", self.api_key);
        let sent = match (method, body) {
            ("GET", _) => self
                .agent
                .get(&url)
                .header("Authorization", &auth)
                .header("Paddle-Version", PADDLE_VERSION)
                .call(),
            (_, body) => {
                let body = body.unwrap_or(Value::Null).to_string();
                let request = match method {
                    "PATCH" => self.agent.patch(&url),
                    _ => self.agent.post(&url),
                };
                request
                    .header("Authorization", &auth)
                    .header("Paddle-Version", PADDLE_VERSION)
                    .header("Content-Type", "application/json")
                    .send(body)
            }
        };
        let mut response =
            sent.map_err(|e| ApiError::transient(format!("{method} {path}: {e}")))?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let text = response
            .body_mut()
            .with_config()
            .limit(MAX_REPLY_BYTES)
            .read_to_string()
            .map_err(|e| ApiError::transient(format!("{method} {path}: reading the reply: {e}")))?;
        classify(method, path, status, &text, retry_after)
    }
}

/// The API version the app speaks (Paddle Billing's only one so far).
const PADDLE_VERSION: &str = "1";

/// A `Retry-After` of whole seconds, at most a day (an HTTP date, which
/// Paddle does not send, is ignored: the app's own backoff applies).
fn parse_retry_after(value: &str) -> Option<i64> {
    let secs: i64 = value.trim().parse().ok()?;
    (0..=86_400).contains(&secs).then_some(secs)
}

/// What an answer means: its JSON, a lock, a transient failure, a refusal.
fn classify(
    method: &str,
    path: &str,
    status: u16,
    text: &str,
    retry_after: Option<i64>,
) -> Result<Value, ApiError> {
    let code = error_detail(text);
    let message = format!("{method} {path}: Paddle answered {status}: {code}");
    match status {
        200..=299 => serde_json::from_str(text)
            .map_err(|_| ApiError::transient(format!("{method} {path}: the reply is not JSON"))),
        _ if LOCK_CODES.contains(&(status, code.as_str())) => Err(ApiError::Locked {
            message,
            retry_after,
        }),
        401 | 403 | 429 | 500..=599 => Err(ApiError::Transient {
            message,
            retry_after,
        }),
        _ => Err(ApiError::Refused(message)),
    }
}

/// Paddle's `error.code` (never the whole body, which could be long).
fn error_detail(text: &str) -> String {
    serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| {
            v.pointer("/error/code")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_else(|| "no error code".into())
        .chars()
        .take(100)
        .collect()
}

/// Ids go into URL paths: only Paddle's own shape (`sub_01h…`) is sent.
fn id(value: &str) -> Result<&str, ApiError> {
    is_paddle_id(value, "")
        .then_some(value)
        .ok_or_else(|| ApiError::Refused(format!("{value:?} is not a Paddle id")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(status: u16, code: &str, retry_after: Option<i64>) -> ApiError {
        let body = json!({"error": {"type": "request_error", "code": code,
            "detail": "d", "documentation_url": "https://developer.paddle.com/errors/x"}});
        classify(
            "PATCH",
            "/subscriptions/sub_1",
            status,
            &body.to_string(),
            retry_after,
        )
        .unwrap_err()
    }

    #[test]
    fn paddles_lock_codes_are_waits_and_other_refusals_are_not() {
        for (status, code) in LOCK_CODES {
            assert!(
                matches!(error(status, code, None), ApiError::Locked { .. }),
                "{status} {code}"
            );
        }
        assert!(matches!(
            error(400, "subscription_locked_renewal", None),
            ApiError::Refused(_)
        ));
        assert!(matches!(error(409, "conflict", None), ApiError::Refused(_)));
        assert!(matches!(
            error(400, "bad_request", None),
            ApiError::Refused(_)
        ));
        let busy = error(429, "too_many_requests", Some(30));
        assert!(matches!(busy, ApiError::Transient { .. }));
        assert_eq!(busy.retry_after(), Some(30));
        assert_eq!(error(503, "x", None).retry_after(), None);
        assert!(error(409, "subscription_locked_renewal", None)
            .to_string()
            .contains("subscription_locked_renewal"));
    }

    #[test]
    fn retry_after_is_whole_seconds_up_to_a_day() {
        assert_eq!(parse_retry_after(" 120 "), Some(120));
        assert_eq!(parse_retry_after("0"), Some(0));
        assert_eq!(parse_retry_after("-1"), None);
        assert_eq!(parse_retry_after("999999"), None);
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }

    #[test]
    fn ids_that_could_bend_the_path_are_refused() {
        assert!(id("ctm_01hv6y1jedq4p1n0yqn5ba3ky4").is_ok());
        assert!(id("ctm_1/../../discounts").is_err());
        assert!(id("sub_1?x=1").is_err());
        assert!(id("").is_err());
    }
}
