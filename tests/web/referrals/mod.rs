//! Referral codes, invite links, the settings page and `GET /api/me`
//! (SPEC §4 "GET /settings", "GET /api/me", §6 Referrals), driven through the
//! real server, with the database read (and, where billing would, written)
//! directly.

mod flow;
mod links;
mod settings;
mod stats;

use std::time::Duration;

use rusqlite::OptionalExtension;
use serde_json::Value;

use crate::support::{
    api_me, csrf_in, enter_emailed_code, html_unescape, input_value, sign_in, text_of, user_id,
    Client, Resp, TestServer,
};

/// How long to wait before concluding that a mail was not sent.
const SETTLE: Duration = Duration::from_millis(500);

const ALPHABET: &str = "ABCDEFGHJKMNPQRSTUVWXYZ23456789";

/// GET /settings signed in; must be 200.
fn settings(client: &Client) -> Resp {
    let page = client.get("/settings");
    assert_eq!(page.status, 200, "GET /settings: {}", page.summary());
    page
}

/// The referral code chip of the settings page.
fn code_on_page(html: &str) -> String {
    text_of(html, r#"data-testid="referral-code""#)
}

/// A stat of the settings page (`Pending`, `Converted`, `Active credits`).
fn stat(html: &str, label: &str) -> i64 {
    let text = text_of(html, &format!(r#"data-stat="{label}""#));
    text.parse()
        .unwrap_or_else(|_| panic!("stat {label} is not a number: {text:?}"))
}

/// The `value` of `<input … id="invite-link" …>`.
fn invite_link_on_page(html: &str) -> String {
    let at = html
        .find(r#"id="invite-link""#)
        .unwrap_or_else(|| panic!("no #invite-link in the page:\n{html}"));
    let start = html[..at]
        .rfind("<input")
        .expect("#invite-link is an input");
    let end = at + html[at..].find('>').unwrap();
    let tag = &html[start..end];
    let value_at = tag
        .find("value=\"")
        .unwrap_or_else(|| panic!("#invite-link has no value: {tag}"))
        + "value=\"".len();
    let value_end = value_at + tag[value_at..].find('"').unwrap();
    html_unescape(&tag[value_at..value_end])
}

fn referred_by(app: &TestServer, email: &str) -> Option<i64> {
    app.db()
        .query_row(
            "SELECT referred_by_user_id FROM users WHERE email = ?1",
            [email],
            |r| r.get(0),
        )
        .unwrap_or_else(|e| panic!("no user {email}: {e}"))
}

fn stored_code(app: &TestServer, email: &str) -> Option<String> {
    app.db()
        .query_row(
            "SELECT referral_code FROM users WHERE email = ?1",
            [email],
            |r| r.get(0),
        )
        .unwrap_or_else(|e| panic!("no user {email}: {e}"))
}

/// `(referrer_user_id, referred_user_id)` of every referral row.
fn referral_rows(app: &TestServer) -> Vec<(i64, i64)> {
    let db = app.db();
    let mut stmt = db
        .prepare("SELECT referrer_user_id, referred_user_id FROM referrals ORDER BY id")
        .unwrap();
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    rows.map(Result::unwrap).collect()
}

/// A signed-in client for `email`, and the code its settings page shows.
fn signed_in_with_code(app: &TestServer, email: &str) -> (Client, String) {
    let client = app.client();
    sign_in(app, &client, email);
    let code = code_on_page(&settings(&client).body);
    (client, code)
}

/// The way a person arrives by an invite: GET `login_path` (e.g.
/// `/login?ref=CODE`), then POST the form as it is (email, csrf and the
/// hidden `ref` if the page has one), read the mail, verify.
fn sign_in_from(app: &TestServer, client: &Client, login_path: &str, email: &str) -> Resp {
    codes_sent_long_ago(app, email);
    let form = client.get(login_path);
    assert_eq!(form.status, 200, "GET {login_path}: {}", form.summary());
    let csrf = csrf_in(&form.body);
    let mut fields = vec![("email", email.to_string()), ("csrf", csrf)];
    if let Some(code) = input_value(&form.body, "ref") {
        fields.push(("ref", code));
    }
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let sent = client.post_form("/login", &fields);
    assert!(
        sent.is_see_other_to("/verify"),
        "POST /login for {email}: {}",
        sent.summary()
    );
    enter_emailed_code(app, client, email)
}

/// Moves every code already sent two hours back, as if the earlier sign-ins
/// happened a while ago: a second sign-in to the same mailbox (`+tags` and
/// Gmail dots count as one) within the minute would be rate limited (429),
/// which is not what these tests are about.
fn codes_sent_long_ago(app: &TestServer, _email: &str) {
    app.db()
        .execute(
            "UPDATE login_codes SET created_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-2 hours')",
            [],
        )
        .unwrap();
}

/// `/login?ref=CODE` for an invite link `http://…/login?ref=CODE`.
fn path_of(invite_link: &str) -> String {
    let after_scheme = invite_link.find("://").map(|i| i + 3).unwrap_or(0);
    let slash = after_scheme
        + invite_link[after_scheme..]
            .find('/')
            .expect("a path in the invite link");
    invite_link[slash..].to_string()
}

/// A well-formed code that nobody owns.
fn unowned_code(app: &TestServer, near: &str) -> String {
    let shifted: String = near
        .chars()
        .map(|c| {
            let i = ALPHABET.find(c).unwrap_or(0);
            ALPHABET.as_bytes()[(i + 1) % ALPHABET.len()] as char
        })
        .collect();
    let owner: Option<i64> = app
        .db()
        .query_row(
            "SELECT id FROM users WHERE referral_code = ?1",
            [&shifted],
            |r| r.get(0),
        )
        .optional()
        .unwrap();
    assert_eq!(owner, None, "{shifted} happens to be taken");
    shifted
}

fn assert_invited(page: &Resp, code: &str, what: &str) {
    assert_eq!(page.status, 200, "{what}: {}", page.summary());
    assert!(
        page.body.contains("You were invited"),
        "{what}: no invited banner:\n{}",
        page.body
    );
    assert_eq!(
        input_value(&page.body, "ref").as_deref(),
        Some(code),
        "{what}: hidden ref input"
    );
}

fn assert_not_invited(page: &Resp, what: &str) {
    assert_eq!(page.status, 200, "{what}: {}", page.summary());
    assert!(
        !page.body.contains("You were invited"),
        "{what}: invited banner for a code nobody owns:\n{}",
        page.body
    );
    assert_eq!(
        input_value(&page.body, "ref"),
        None,
        "{what}: a ref input for a code nobody owns"
    );
}

/// RFC 3339 (`…Z`, whole seconds) for now plus an SQLite date modifier.
fn sqlite_time(app: &TestServer, modifier: &str) -> String {
    app.db()
        .query_row(
            "SELECT strftime('%Y-%m-%dT%H:%M:%SZ', 'now', ?1)",
            [modifier],
            |r| r.get(0),
        )
        .unwrap()
}
