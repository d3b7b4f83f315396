//! The few Paddle Billing API calls the app makes, over one ureq agent
//! setup: from the outbox worker and, for Manage billing, the `paddle`
//! offload pool (never on a request worker).

use std::time::Duration;

use serde_json::{json, Value};

use crate::config::PaddleConfig;

const TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_REPLY_BYTES: u64 = 1024 * 1024;

/// Why a call did not succeed.
#[derive(Debug, PartialEq)]
pub enum ApiError {
    /// Worth trying again: a timeout, a connection error, a 5xx, a 429, and
    /// 401/403 (a key the operator can fix without touching the queue).
    Transient(String),
    /// Paddle refused the request itself (another 4xx): retrying the same
    /// call would be refused again.
    Refused(String),
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiError::Transient(m) | ApiError::Refused(m) => f.write_str(m),
        }
    }
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

    /// `POST /discounts`: the referral reward, 50% for three billing periods.
    pub fn create_referral_discount(&self) -> Result<String, ApiError> {
        let body = json!({
            "description": "Referral reward: 50% off for 3 months",
            "type": "percentage",
            "amount": "50",
            "recur": true,
            "maximum_recurring_intervals": 3,
            "enabled_for_checkout": true,
        });
        let reply = self.call("POST", "/discounts", Some(body))?;
        reply
            .pointer("/data/id")
            .and_then(Value::as_str)
            .filter(|id| id.starts_with("dsc_"))
            .map(str::to_string)
            .ok_or_else(|| ApiError::Transient("the created discount has no id".into()))
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
    /// operator's verbs (`billing-check`, `billing-sync`).
    pub fn get(&self, path_and_query: &str) -> Result<Value, ApiError> {
        self.call("GET", path_and_query, None)
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, ApiError> {
        let url = format!("{}{path}", self.base);
        let auth = format!("Bearer {}", self.api_key);
        let sent = match (method, body) {
            ("GET", _) => self.agent.get(&url).header("Authorization", &auth).call(),
            (_, body) => {
                let body = body.unwrap_or(Value::Null).to_string();
                let request = match method {
                    "PATCH" => self.agent.patch(&url),
                    _ => self.agent.post(&url),
                };
                request
                    .header("Authorization", &auth)
                    .header("Content-Type", "application/json")
                    .send(body)
            }
        };
        let mut response =
            sent.map_err(|e| ApiError::Transient(format!("{method} {path}: {e}")))?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .with_config()
            .limit(MAX_REPLY_BYTES)
            .read_to_string()
            .map_err(|e| ApiError::Transient(format!("{method} {path}: reading the reply: {e}")))?;
        match status {
            200..=299 => serde_json::from_str(&text).map_err(|_| {
                ApiError::Transient(format!("{method} {path}: the reply is not JSON"))
            }),
            401 | 403 | 429 | 500..=599 => Err(ApiError::Transient(format!(
                "{method} {path}: Paddle answered {status}: {}",
                error_detail(&text)
            ))),
            _ => Err(ApiError::Refused(format!(
                "{method} {path}: Paddle answered {status}: {}",
                error_detail(&text)
            ))),
        }
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
    let ok = !value.is_empty()
        && value.len() <= 100
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_');
    ok.then_some(value)
        .ok_or_else(|| ApiError::Refused(format!("{value:?} is not a Paddle id")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_that_could_bend_the_path_are_refused() {
        assert!(id("ctm_01hv6y1jedq4p1n0yqn5ba3ky4").is_ok());
        assert!(id("ctm_1/../../discounts").is_err());
        assert!(id("sub_1?x=1").is_err());
        assert!(id("").is_err());
    }
}
