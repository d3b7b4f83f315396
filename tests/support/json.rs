//! JSON answers: the body of a JSON response, and the shape every API error
//! shares (`{"error": code, "message": text}`).

use serde_json::Value;

use super::Resp;

/// The body of a JSON response. Panics (showing the response) when the
/// content type is not JSON or the body does not parse.
pub fn json_of(resp: &Resp) -> Value {
    assert!(
        resp.header("content-type")
            .is_some_and(|t| t.starts_with("application/json")),
        "not JSON: {}",
        resp.summary()
    );
    serde_json::from_str(&resp.body)
        .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", resp.body))
}

/// A JSON error with this status and code and a message that says something;
/// returns the body.
pub fn json_error(resp: &Resp, status: u16, code: &str) -> Value {
    assert_eq!(resp.status, status, "{}", resp.summary());
    let body = json_of(resp);
    assert_eq!(body["error"], code, "{}", resp.body);
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "no message: {}",
        resp.body
    );
    body
}

/// Like `json_error`, returning just the message.
pub fn json_error_message(resp: &Resp, status: u16, code: &str) -> String {
    json_error(resp, status, code)["message"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}
