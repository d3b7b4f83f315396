//! Sign-in with emailed one-time codes (SPEC §4 "Sign-in", §8 cookies,
//! CSRF, headers and logs), driven through the real server: the helpers the
//! three suites share.

mod binding;
mod flow;
mod guards;
mod limits;

use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use crate::support::{
    assert_security_headers, cookie_attrs, cookie_pair, csrf_in, input_value, raw, sign_in, Client,
    Resp, TestServer,
};

/// How long to wait before concluding that a mail was not sent.
const SETTLE: Duration = Duration::from_millis(500);

// ------------------------------------------------------------------ helpers

/// GET /login, then POST /login for `email` with the form's csrf token.
fn request_code(client: &Client, email: &str) -> Resp {
    let form = client.get("/login");
    assert_eq!(form.status, 200, "GET /login: {}", form.summary());
    client.post_form(
        "/login",
        &[("email", email), ("csrf", &csrf_in(&form.body))],
    )
}

/// A new client holding a pending cookie for `email`, and the code mailed to it.
fn pending_client(app: &TestServer, email: &str) -> (Client, String) {
    let client = app.client();
    let sent = request_code(&client, email);
    assert!(
        sent.is_see_other_to("/verify"),
        "POST /login for {email}: {}",
        sent.summary()
    );
    (client, app.code_for(email))
}

/// The csrf token of the verify form (which needs a valid pending cookie).
fn verify_csrf(client: &Client) -> String {
    let form = client.get("/verify");
    assert_eq!(form.status, 200, "GET /verify: {}", form.summary());
    csrf_in(&form.body)
}

/// GET /verify, then POST /verify with `code` and the form's csrf token.
fn submit_code(client: &Client, code: &str) -> Resp {
    let csrf = verify_csrf(client);
    client.post_form("/verify", &[("code", code), ("csrf", &csrf)])
}

/// A six-digit code that is not `code`.
fn other_code(code: &str) -> String {
    format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000)
}

/// The csrf token of a signed-in page (the top bar's sign-out form).
fn signed_in_csrf(client: &Client) -> String {
    let page = client.get("/portfolio");
    assert_eq!(
        page.status,
        200,
        "GET /portfolio signed in: {}",
        page.summary()
    );
    csrf_in(&page.body)
}

/// `value` with one alphanumeric character (at or after `at`) replaced.
fn flip_char(value: &str, at: usize) -> String {
    let mut chars: Vec<char> = value.chars().collect();
    let i = (at..chars.len())
        .chain(0..at)
        .find(|&i| chars[i].is_ascii_alphanumeric())
        .expect("a cookie value with an alphanumeric character");
    chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
    chars.into_iter().collect()
}

/// The integer seconds of `Retry-After`, which must be there and positive.
fn retry_after(resp: &Resp) -> u64 {
    let value = resp
        .header("retry-after")
        .unwrap_or_else(|| panic!("429 without Retry-After: {}", resp.summary()));
    let secs: u64 = value
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("Retry-After is not integer seconds: {value:?}"));
    assert!(secs > 0 && secs <= 3600, "Retry-After out of range: {secs}");
    secs
}

fn users(app: &TestServer) -> Vec<String> {
    let db = app.db();
    let mut stmt = db.prepare("SELECT email FROM users ORDER BY id").unwrap();
    let rows = stmt.query_map([], |row| row.get::<_, String>(0)).unwrap();
    rows.map(Result::unwrap).collect()
}

fn assert_healthy(app: &TestServer) {
    let health = app.client().get("/healthz");
    assert_eq!(
        health.status,
        200,
        "the server stopped serving; log:\n{}",
        app.log()
    );
}

fn has_attr(line: &str, name: &str) -> bool {
    cookie_attrs(line).iter().any(|(k, _)| k == name)
}

fn attr<'a>(attrs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    attrs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// HttpOnly, SameSite=Lax, Path=/, no Domain, and Secure exactly when `secure`.
fn assert_cookie_flags(line: &str, secure: bool) {
    let attrs = cookie_attrs(line);
    assert!(has_attr(line, "httponly"), "not HttpOnly: {line}");
    assert!(
        attr(&attrs, "samesite").is_some_and(|v| v.eq_ignore_ascii_case("lax")),
        "not SameSite=Lax: {line}"
    );
    assert_eq!(attr(&attrs, "path"), Some("/"), "not Path=/: {line}");
    assert!(!has_attr(line, "domain"), "has a Domain: {line}");
    assert_eq!(
        has_attr(line, "secure"),
        secure,
        "Secure should be {secure}: {line}"
    );
}

/// Whether `code` appears in `text` as a run of digits of its own.
fn contains_code(text: &str, code: &str) -> bool {
    text.match_indices(code).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + code.len()..].chars().next();
        !before.is_some_and(|c| c.is_ascii_digit()) && !after.is_some_and(|c| c.is_ascii_digit())
    })
}

// -------------------------------------------------------------- the flow
