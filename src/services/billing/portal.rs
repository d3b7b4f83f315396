//! "Manage billing": a Paddle customer-portal session for a subscriber
//! (`POST {api}/customers/{customer_id}/portal-sessions`), whose
//! `data.urls.general.overview` link signs them straight in. Sessions are
//! short-lived and never cached.
//!
//! [`session_url`] waits on Paddle, so it never runs on a request worker:
//! the handler calls it in exactly one place, on the `paddle` offload pool.

use rusqlite::Connection;
use serde_json::Value;

use super::paddle_api::PaddleApi;
use super::summary;
use crate::config::PaddleConfig;
use crate::db::billing::SubscriptionStatus;
use crate::error::Result;

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
        subscription_id: (b.status != SubscriptionStatus::Canceled).then_some(b.subscription_id),
        customer_id: b.customer_id,
    }))
}

/// Asks Paddle for a portal session and returns its overview link. The
/// error is for the log (it never holds the API key); the person is told
/// billing is unavailable for a minute.
pub fn session_url(paddle: &PaddleConfig, target: &PortalTarget) -> Result<String, String> {
    let session = PaddleApi::new(paddle)
        .portal_session(&target.customer_id, target.subscription_id.as_deref())
        .map_err(|e| format!("portal session: {e}"))?;
    overview_url(&session)
}

/// `urls.general.overview` of the portal session, if it is a plain http(s)
/// link we can put in a `Location` header.
pub fn overview_url(session: &Value) -> Result<String, String> {
    let url = session
        .pointer("/urls/general/overview")
        .and_then(Value::as_str)
        .ok_or("the portal session has no urls.general.overview")?;
    let plain = url.starts_with("https://") || url.starts_with("http://");
    if !plain || url.len() > 4096 || url.chars().any(|c| c.is_control() || c == ' ') {
        return Err("the portal overview link is not a plain http(s) URL".into());
    }
    Ok(url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `data` of Paddle's reply, as `PaddleApi::portal_session` returns it.
    fn session(reply: &str) -> Value {
        serde_json::from_str::<Value>(reply).unwrap()["data"].clone()
    }

    #[test]
    fn the_overview_link_is_read_from_paddles_reply() {
        let reply = r#"{"data":{"id":"cpls_01","customer_id":"ctm_1","urls":{"general":
            {"overview":"https://customer-portal.paddle.com/cpl_01?action=overview&token=pga_x"},
            "subscriptions":[]},"created_at":"2024-10-25T06:53:58Z"},"meta":{"request_id":"r"}}"#;
        assert_eq!(
            overview_url(&session(reply)).unwrap(),
            "https://customer-portal.paddle.com/cpl_01?action=overview&token=pga_x"
        );
        assert!(overview_url(&session(r#"{"data":{}}"#)).is_err());
        assert!(overview_url(&Value::Null).is_err());
        assert!(overview_url(&session(
            r#"{"data":{"urls":{"general":{"overview":"javascript:x"}}}}"#
        ))
        .is_err());
        assert!(overview_url(&session(
            r#"{"data":{"urls":{"general":{"overview":"https://a\r\nSet-Cookie: x"}}}}"#
        ))
        .is_err());
    }
}
