//! `grant-credit`, `revoke-credit`, `set-tier`, `show-status` and `backup`
//! (SPEC §1, §3 audit, §5 paid access), run while `serve` runs on the same
//! file, and checked through the database, `/api/me` and `/settings`.

mod audit;
mod errors;
mod grant;
mod status;
mod tier;

use std::process::Command;

use serde_json::Value;

use super::{assert_one_line_error, now_secs, stderr, stdout, succeeded, summary};
use crate::support::{api_me, signed_in as account, user_id, Client, TestServer};

const DAY: i64 = 86_400;

/// `app --db <db> ARGS` with no actor, client or base URL from the test's own
/// environment.
fn run(app: &TestServer, args: &[&str]) -> std::process::Output {
    app.cli_with(args, clean_env)
}

fn clean_env(cmd: &mut Command) {
    cmd.env_remove("SUDO_USER")
        .env_remove("SSH_CONNECTION")
        .env("USER", "tester");
}

fn credit_until(app: &TestServer, email: &str) -> Option<String> {
    app.db()
        .query_row(
            "SELECT credit_until FROM users WHERE email = ?1",
            [email],
            |r| r.get(0),
        )
        .unwrap_or_else(|e| panic!("no user {email}: {e}"))
}

/// `credit_until` as seconds since the epoch.
fn credit_until_secs(app: &TestServer, email: &str) -> Option<i64> {
    credit_until(app, email).map(|t| secs_of(app, &t))
}

/// `YYYY-MM-DDTHH:MM:SSZ` → seconds since the epoch (SQLite does the calendar).
fn secs_of(app: &TestServer, rfc3339: &str) -> i64 {
    assert!(
        rfc3339.len() == 20 && rfc3339.as_bytes()[10] == b'T' && rfc3339.ends_with('Z'),
        "not RFC 3339 with Z and whole seconds: {rfc3339:?}"
    );
    app.db()
        .query_row(
            "SELECT CAST(strftime('%s', ?1) AS INTEGER)",
            [rfc3339],
            |r| r.get(0),
        )
        .unwrap()
}

/// The UTC date of now plus an SQLite modifier (`'+100 days'`).
fn date_from_now(app: &TestServer, modifier: &str) -> String {
    app.db()
        .query_row("SELECT date('now', ?1)", [modifier], |r| r.get(0))
        .unwrap()
}

fn audit_count(app: &TestServer) -> i64 {
    app.query_i64("SELECT count(*) FROM access_audit")
}

#[derive(Debug, PartialEq)]
struct AuditRow {
    at: String,
    user_id: i64,
    action: String,
    old_value: Option<String>,
    new_value: Option<String>,
    actor: String,
    client: Option<String>,
    note: Option<String>,
}

fn audit_rows(app: &TestServer) -> Vec<AuditRow> {
    let db = app.db();
    let mut stmt = db
        .prepare("SELECT at, user_id, action, old_value, new_value, actor, client, note FROM access_audit ORDER BY id")
        .unwrap();
    let rows = stmt
        .query_map([], |r| {
            Ok(AuditRow {
                at: r.get(0)?,
                user_id: r.get(1)?,
                action: r.get(2)?,
                old_value: r.get(3)?,
                new_value: r.get(4)?,
                actor: r.get(5)?,
                client: r.get(6)?,
                note: r.get(7)?,
            })
        })
        .unwrap();
    rows.map(Result::unwrap).collect()
}

/// The text of the settings page's tier badge.
fn badge(client: &Client) -> String {
    let page = client.get("/settings");
    assert_eq!(page.status, 200, "GET /settings: {}", page.summary());
    let html = &page.body;
    let at = html
        .find(r#"data-testid="tier-badge""#)
        .unwrap_or_else(|| panic!("no tier badge:\n{html}"));
    let open_end = at + html[at..].find('>').unwrap() + 1;
    let close = open_end + html[open_end..].find('<').unwrap();
    html[open_end..close].trim().replace("&amp;", "&")
}

fn has_upgrade_hint(client: &Client) -> bool {
    let page = client.get("/settings");
    assert_eq!(page.status, 200, "GET /settings: {}", page.summary());
    page.body.contains("upgrade-hint")
}

/// One JSON object on stdout, nothing else.
fn json_out(out: &std::process::Output, what: &str) -> Value {
    let text = succeeded(out, what);
    assert_eq!(
        text.trim_end().lines().count(),
        1,
        "{what}: more than one line of JSON:\n{text}"
    );
    let value: Value = serde_json::from_str(text.trim())
        .unwrap_or_else(|e| panic!("{what}: not JSON ({e}):\n{text}"));
    assert!(value.is_object(), "{what}: not an object: {value}");
    value
}

/// `a` and `b` at most `slack` seconds apart.
fn assert_near(a: i64, b: i64, slack: i64, what: &str) {
    assert!(
        (a - b).abs() <= slack,
        "{what}: {a} vs {b} ({}s apart)",
        (a - b).abs()
    );
}
