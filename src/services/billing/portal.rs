//! "Manage billing": a Paddle customer-portal session for a subscriber
//! (`POST {api}/customers/{customer_id}/portal-sessions`), whose
//! `data.urls.general.overview` link signs them straight in. Sessions are
//! short-lived and never cached.
//!
//! [`session_url`] waits on Paddle, so it never runs on a request worker:
//! the handler calls it in exactly one place, on the `paddle` offload pool.

use std::time::Duration;

use rusqlite::Connection;
use serde_json::{json, Value};

use super::summary;
use crate::config::PaddleConfig;
use crate::error::Result;

/// Long enough for Paddle on a bad day, short enough that a person is not
/// left staring at a spinner.
const TIMEOUT: Duration = Duration::from_secs(8);
const MAX_REPLY_BYTES: u64 = 64 * 1024;

/// The customer and subscription a portal session is made for. A canceled
/// subscription is left out: the portal still shows its invoices, but
/// there is nothing left to change on it.
#[derive(Clone, Debug, PartialEq)]
pub struct PortalTarget {
    pub customer_id: String,
    pub subscription_id: Option<String>,
}

/// The user's most relevant subscription, if they have one to manage.
pub fn target(conn: &Connection, user_id: i64) -> Result<Option<PortalTarget>> {
    Ok(summary::billing(conn, user_id)?.map(|b| PortalTarget {
        subscription_id: (b.status != "canceled").then_some(b.subscription_id),
        customer_id: b.customer_id,
    }))
}

/// Asks Paddle for a portal session and returns its overview link. The
/// error is for the log (it never holds the API key); the person is told
/// billing is unavailable for a minute.
pub fn session_url(paddle: &PaddleConfig, target: &PortalTarget) -> Result<String, String> {
    let subscription_ok = target.subscription_id.as_deref().is_none_or(is_paddle_id);
    if !is_paddle_id(&target.customer_id) || !subscription_ok {
        return Err("the stored customer or subscription id is malformed".into());
    }
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(TIMEOUT))
        .http_status_as_error(false)
        .build()
        .into();
    let url = format!(
        "{}/customers/{}/portal-sessions",
        paddle.api_url, target.customer_id
    );
    let body = match &target.subscription_id {
        Some(id) => json!({ "subscription_ids": [id] }),
        None => json!({}),
    };
    let mut response = agent
        .post(&url)
        .header("Authorization", &format!("Bearer {}", paddle.api_key))
        .header("Content-Type", "application/json")
        .send(body.to_string())
        .map_err(|e| format!("portal session request failed: {e}"))?;
    let status = response.status().as_u16();
    let text = response
        .body_mut()
        .with_config()
        .limit(MAX_REPLY_BYTES)
        .read_to_string()
        .map_err(|e| format!("reading the portal session reply failed: {e}"))?;
    if !(200..300).contains(&status) {
        return Err(format!("Paddle answered {status} to a portal session"));
    }
    overview_url(&text)
}

/// `data.urls.general.overview` of Paddle's reply, if it is a plain
/// http(s) link we can put in a `Location` header.
pub fn overview_url(reply: &str) -> Result<String, String> {
    let value: Value =
        serde_json::from_str(reply).map_err(|_| "the portal session reply is not JSON")?;
    let url = value
        .pointer("/data/urls/general/overview")
        .and_then(Value::as_str)
        .ok_or("the portal session reply has no data.urls.general.overview")?;
    let plain = url.starts_with("https://") || url.starts_with("http://");
    if !plain || url.len() > 4096 || url.chars().any(|c| c.is_control() || c == ' ') {
        return Err("the portal overview link is not a plain http(s) URL".into());
    }
    Ok(url.to_string())
}

/// Paddle ids are a prefix, `_` and lowercase alphanumerics (`ctm_01h…`).
fn is_paddle_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_overview_link_is_read_from_paddles_reply() {
        let reply = r#"{"data":{"id":"cpls_01","customer_id":"ctm_1","urls":{"general":
            {"overview":"https://customer-portal.paddle.com/cpl_01?action=overview&token=pga_x"},
            "subscriptions":[]},"created_at":"2024-10-25T06:53:58Z"},"meta":{"request_id":"r"}}"#;
        assert_eq!(
            overview_url(reply).unwrap(),
            "https://customer-portal.paddle.com/cpl_01?action=overview&token=pga_x"
        );
        assert!(overview_url(r#"{"data":{}}"#).is_err());
        assert!(overview_url("<html>").is_err());
        assert!(
            overview_url(r#"{"data":{"urls":{"general":{"overview":"javascript:x"}}}}"#).is_err()
        );
        assert!(overview_url(
            r#"{"data":{"urls":{"general":{"overview":"https://a\r\nSet-Cookie: x"}}}}"#
        )
        .is_err());
    }

    #[test]
    fn ids_that_could_bend_the_path_are_refused() {
        assert!(is_paddle_id("ctm_01hv6y1jedq4p1n0yqn5ba3ky4"));
        assert!(!is_paddle_id("ctm_1/../../discounts"));
        assert!(!is_paddle_id(""));
    }
}
