//! `grant-credit`, `revoke-credit`, `set-tier`, `show-status` and `backup`
//! (SPEC §1, §3 audit, §5 paid access), run while `serve` runs on the same
//! file, and checked through the database, `/api/me` and `/settings`.

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::thread;
use std::time::Duration;

use serde_json::Value;

use super::{assert_one_line_error, now_secs, stderr, stdout, succeeded, summary};
use crate::support::{api_me, signed_in as account, user_id, Client, TestApp};

const DAY: i64 = 86_400;

// ------------------------------------------------------------------ helpers

/// `app --db <db> ARGS` with no actor, client or base URL from the test's own
/// environment.
fn run(app: &TestApp, args: &[&str]) -> std::process::Output {
    app.cli_with(args, clean_env)
}

fn clean_env(cmd: &mut Command) {
    cmd.env_remove("SUDO_USER")
        .env_remove("SSH_CONNECTION")
        .env("USER", "tester");
}

fn credit_until(app: &TestApp, email: &str) -> Option<String> {
    app.db()
        .query_row(
            "SELECT credit_until FROM users WHERE email = ?1",
            [email],
            |r| r.get(0),
        )
        .unwrap_or_else(|e| panic!("no user {email}: {e}"))
}

/// `credit_until` as seconds since the epoch.
fn credit_until_secs(app: &TestApp, email: &str) -> Option<i64> {
    credit_until(app, email).map(|t| secs_of(app, &t))
}

/// `YYYY-MM-DDTHH:MM:SSZ` → seconds since the epoch (SQLite does the calendar).
fn secs_of(app: &TestApp, rfc3339: &str) -> i64 {
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
fn date_from_now(app: &TestApp, modifier: &str) -> String {
    app.db()
        .query_row("SELECT date('now', ?1)", [modifier], |r| r.get(0))
        .unwrap()
}

fn audit_count(app: &TestApp) -> i64 {
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

fn audit_rows(app: &TestApp) -> Vec<AuditRow> {
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

// ------------------------------------------------------------------ errors

#[test]
fn grant_credit_refuses_bad_arguments_and_changes_nothing() {
    let app = TestApp::spawn();
    let _eve = account(&app, "eve@example.com");
    let future = date_from_now(&app, "+40 days");
    let past = date_from_now(&app, "-1 day");
    let cases: Vec<Vec<&str>> = vec![
        vec!["--email", "nobody@example.com", "--days", "30"],
        vec!["--email", "eve@example.com", "--days", "0"],
        vec!["--email", "eve@example.com", "--days", "-1"],
        vec!["--email", "eve@example.com", "--days", "3651"],
        vec!["--email", "eve@example.com", "--days", "ten"],
        vec!["--email", "eve@example.com", "--days", "1.5"],
        vec!["--email", "eve@example.com", "--until", "2027-13-01"],
        vec!["--email", "eve@example.com", "--until", "05/01/2027"],
        vec!["--email", "eve@example.com", "--until", &past],
        vec!["--email", "eve@example.com", "--until", "2020-01-01"],
        vec![
            "--email",
            "eve@example.com",
            "--days",
            "3",
            "--until",
            &future,
        ],
        vec!["--email", "eve@example.com"],
    ];
    for case in &cases {
        let mut args = vec!["grant-credit"];
        args.extend(case);
        let out = run(&app, &args);
        assert_one_line_error(&out, &format!("{args:?}"));
        assert_eq!(
            credit_until(&app, "eve@example.com"),
            None,
            "{args:?} wrote a credit"
        );
        assert_eq!(audit_count(&app), 0, "{args:?} wrote an audit row");
    }
    assert_eq!(
        app.query_i64("SELECT count(*) FROM users"),
        1,
        "an unknown email made an account"
    );
    // The same account takes a good grant afterwards.
    succeeded(
        &run(
            &app,
            &["grant-credit", "--email", "eve@example.com", "--days", "1"],
        ),
        "a good grant",
    );
}

#[test]
fn unknown_email_is_an_error_for_every_verb() {
    let app = TestApp::spawn();
    let _fred = account(&app, "fred@example.com");
    let verbs: [&[&str]; 5] = [
        &[
            "grant-credit",
            "--email",
            "nobody@example.com",
            "--until",
            "2099-01-01",
        ],
        &["revoke-credit", "--email", "nobody@example.com"],
        &[
            "set-tier",
            "--email",
            "nobody@example.com",
            "--tier",
            "paid",
        ],
        &["show-status", "--email", "nobody@example.com"],
        &["show-status", "--email", "nobody@example.com", "--json"],
    ];
    for args in verbs {
        let out = run(&app, args);
        assert_one_line_error(&out, &format!("{args:?}"));
        assert!(
            stderr(&out).contains("nobody@example.com"),
            "{args:?}: the error does not name the email: {}",
            stderr(&out)
        );
    }
    assert_eq!(audit_count(&app), 0);
    assert_eq!(app.query_i64("SELECT count(*) FROM users"), 1);
}

#[test]
fn missing_email_is_a_usage_error() {
    let app = TestApp::spawn();
    let _gil = account(&app, "gil@example.com");
    let verbs: [&[&str]; 4] = [
        &["grant-credit", "--days", "3"],
        &["revoke-credit"],
        &["set-tier", "--tier", "paid"],
        &["show-status"],
    ];
    for args in verbs {
        let out = run(&app, args);
        assert!(!out.status.success(), "{args:?}: {}", summary(&out));
        assert_eq!(stdout(&out), "", "{args:?}: {}", summary(&out));
        assert!(
            stderr(&out).contains("--email"),
            "{args:?}: the usage error does not mention --email: {}",
            summary(&out)
        );
    }
    assert_eq!(credit_until(&app, "gil@example.com"), None);
    assert_eq!(audit_count(&app), 0);
}

#[test]
fn set_tier_refuses_an_unknown_tier() {
    let app = TestApp::spawn();
    let _hal = account(&app, "hal@example.com");
    let out = run(
        &app,
        &["set-tier", "--email", "hal@example.com", "--tier", "gold"],
    );
    assert_one_line_error(&out, "--tier gold");
    assert_eq!(
        app.query_i64("SELECT count(*) FROM users WHERE tier = 'free'"),
        1
    );
    assert_eq!(audit_count(&app), 0);
}

// ------------------------------------------------------------------ grants

#[test]
fn grant_then_show_status_matches_api_me() {
    let app = TestApp::spawn();
    let carol = account(&app, "carol@example.com");
    let before = now_secs();
    let out = run(
        &app,
        &[
            "grant-credit",
            "--email",
            "Carol@Example.com ",
            "--days",
            "30",
        ],
    );
    let text = succeeded(&out, "grant --days 30");
    let until = credit_until(&app, "carol@example.com").expect("a credit");
    assert_near(
        secs_of(&app, &until),
        before + 30 * DAY,
        60,
        "credit_until after --days 30",
    );
    assert_eq!(
        text.trim_end(),
        format!(
            "credit for carol@example.com now runs to {}, 30 days",
            &until[..10]
        )
    );

    // Human status.
    let status = succeeded(
        &run(&app, &["show-status", "--email", "carol@example.com"]),
        "show-status",
    );
    assert!(status.contains("carol@example.com"), "{status}");
    let badge_text = format!(
        "free · credit · 30 days remaining (expires {})",
        &until[..10]
    );
    assert!(
        status.contains(&badge_text),
        "show-status without {badge_text:?}:\n{status}"
    );

    // JSON status is /api/me, when the CLI knows the server's base URL.
    let out = app.cli_with(
        &["show-status", "--email", "carol@example.com", "--json"],
        |cmd| {
            clean_env(cmd);
            cmd.env("APP_BASE_URL", app.base_url());
        },
    );
    let from_cli = json_out(&out, "show-status --json");
    let from_web = api_me(&carol);
    assert_eq!(
        from_cli, from_web,
        "show-status --json differs from /api/me"
    );
    assert_eq!(from_web["paid"]["active"], true);
    assert_eq!(from_web["paid"]["source"], "credit");
    assert_eq!(from_web["paid"]["expires_at"], until.as_str());
    assert_eq!(from_web["paid"]["days_remaining"], 30);
    assert!(
        status.contains(from_web["referral"]["code"].as_str().unwrap()),
        "no referral code in:\n{status}"
    );

    // Without APP_BASE_URL the invite link uses the default address.
    let out = run(
        &app,
        &["show-status", "--email", "carol@example.com", "--json"],
    );
    let code = from_web["referral"]["code"].as_str().unwrap();
    assert_eq!(
        json_out(&out, "show-status --json")["referral"]["invite_url"],
        format!("http://127.0.0.1:8080/login?ref={code}").as_str()
    );
}

#[test]
fn grant_json_reports_the_change() {
    let app = TestApp::spawn();
    let _ida = account(&app, "ida@example.com");
    let out = run(
        &app,
        &[
            "grant-credit",
            "--email",
            "ida@example.com",
            "--days",
            "7",
            "--json",
        ],
    );
    let report = json_out(&out, "grant --json");
    let until = credit_until(&app, "ida@example.com").unwrap();
    assert_eq!(report["email"], "ida@example.com");
    assert_eq!(report["action"], "grant_credit");
    assert_eq!(report["changed"], true);
    assert!(report["before"].is_null(), "{report}");
    assert_eq!(report["after"], until.as_str());
    assert_eq!(report["tier"], "free");
    assert_eq!(report["paid"]["active"], true);
    assert_eq!(report["paid"]["source"], "credit");
    assert_eq!(report["paid"]["expires_at"], until.as_str());
    assert_eq!(report["paid"]["days_remaining"], 7);
}

#[test]
fn days_twice_add_up() {
    let app = TestApp::spawn();
    let _jo = account(&app, "jo@example.com");
    let before = now_secs();
    succeeded(
        &run(
            &app,
            &["grant-credit", "--email", "jo@example.com", "--days", "30"],
        ),
        "first 30",
    );
    let text = succeeded(
        &run(
            &app,
            &["grant-credit", "--email", "jo@example.com", "--days", "30"],
        ),
        "second 30",
    );
    let until = credit_until_secs(&app, "jo@example.com").unwrap();
    assert_near(until, now_secs() + 60 * DAY, 60, "30 + 30 days");
    assert!(
        until >= before + 60 * DAY,
        "less than 60 days from the first grant"
    );
    assert!(text.contains("60 days"), "{text}");
}

#[test]
fn short_grant_on_a_long_one_adds_to_the_long_one() {
    let app = TestApp::spawn();
    let _kim = account(&app, "kim@example.com");
    succeeded(
        &run(
            &app,
            &[
                "grant-credit",
                "--email",
                "kim@example.com",
                "--days",
                "100",
            ],
        ),
        "100 days",
    );
    let long = credit_until_secs(&app, "kim@example.com").unwrap();
    succeeded(
        &run(
            &app,
            &["grant-credit", "--email", "kim@example.com", "--days", "1"],
        ),
        "1 day",
    );
    assert_eq!(
        credit_until_secs(&app, "kim@example.com").unwrap(),
        long + DAY
    );
}

#[test]
fn until_earlier_than_the_current_credit_changes_nothing() {
    let app = TestApp::spawn();
    let _lee = account(&app, "lee@example.com");
    succeeded(
        &run(
            &app,
            &[
                "grant-credit",
                "--email",
                "lee@example.com",
                "--days",
                "100",
            ],
        ),
        "100 days",
    );
    let long = credit_until(&app, "lee@example.com").unwrap();
    let earlier = date_from_now(&app, "+10 days");
    let out = run(
        &app,
        &[
            "grant-credit",
            "--email",
            "lee@example.com",
            "--until",
            &earlier,
        ],
    );
    let text = succeeded(&out, "--until earlier");
    assert!(text.contains("nothing changed"), "{text}");
    assert!(
        text.contains(&format!("already runs to {}", &long[..10])),
        "{text}"
    );
    assert_eq!(
        credit_until(&app, "lee@example.com").unwrap(),
        long,
        "an --until shortened the credit"
    );
    let out = run(
        &app,
        &[
            "grant-credit",
            "--email",
            "lee@example.com",
            "--until",
            &earlier,
            "--json",
        ],
    );
    let report = json_out(&out, "--until earlier --json");
    assert_eq!(report["changed"], false);
    assert_eq!(report["after"], long.as_str());
}

#[test]
fn until_runs_through_the_end_of_that_utc_day() {
    let app = TestApp::spawn();
    let _max = account(&app, "max@example.com");
    let day = date_from_now(&app, "+100 days");
    let text = succeeded(
        &run(
            &app,
            &[
                "grant-credit",
                "--email",
                "max@example.com",
                "--until",
                &day,
            ],
        ),
        "--until",
    );
    assert_eq!(
        credit_until(&app, "max@example.com").unwrap(),
        format!("{day}T23:59:59Z")
    );
    assert!(
        text.starts_with(&format!("credit for max@example.com now runs to {day}, ")),
        "{text}"
    );

    // Today is not in the past: access through tonight, "1 day".
    let _ned = account(&app, "ned@example.com");
    let today = date_from_now(&app, "+0 days");
    let text = succeeded(
        &run(
            &app,
            &[
                "grant-credit",
                "--email",
                "ned@example.com",
                "--until",
                &today,
            ],
        ),
        "--until today",
    );
    assert_eq!(
        credit_until(&app, "ned@example.com").unwrap(),
        format!("{today}T23:59:59Z")
    );
    assert_eq!(
        text.trim_end(),
        format!("credit for ned@example.com now runs to {today}, 1 day")
    );
}

#[test]
fn revoke_ends_a_running_credit_now() {
    let app = TestApp::spawn();
    let olga = account(&app, "olga@example.com");
    succeeded(
        &run(
            &app,
            &[
                "grant-credit",
                "--email",
                "olga@example.com",
                "--days",
                "30",
            ],
        ),
        "grant",
    );
    assert_eq!(api_me(&olga)["paid"]["active"], true);
    let out = run(
        &app,
        &["revoke-credit", "--email", "olga@example.com", "--json"],
    );
    let report = json_out(&out, "revoke --json");
    assert_eq!(report["action"], "revoke_credit");
    assert_eq!(report["changed"], true);
    assert_eq!(report["paid"]["active"], false);
    let until = credit_until_secs(&app, "olga@example.com").expect("revoke keeps the (ended) date");
    assert_near(until, now_secs(), 60, "revoked credit ends now");
    let me = api_me(&olga);
    assert_eq!(me["paid"]["active"], false, "{me}");
    assert!(
        me["paid"]["source"].is_null() && me["paid"]["expires_at"].is_null(),
        "{me}"
    );
    assert_eq!(badge(&olga), "free");
    assert!(has_upgrade_hint(&olga));
    // Revoking again is no error and no change.
    succeeded(
        &run(&app, &["revoke-credit", "--email", "olga@example.com"]),
        "second revoke",
    );
}

#[test]
fn set_tier_paid_and_free_show_in_api_me_and_settings() {
    let app = TestApp::spawn();
    let pia = account(&app, "pia@example.com");
    assert!(has_upgrade_hint(&pia));
    let out = run(
        &app,
        &[
            "set-tier",
            "--email",
            "pia@example.com",
            "--tier",
            "paid",
            "--json",
        ],
    );
    let report = json_out(&out, "set-tier paid --json");
    assert_eq!(
        (
            report["action"].as_str(),
            report["before"].as_str(),
            report["after"].as_str()
        ),
        (Some("set_tier"), Some("free"), Some("paid"))
    );
    let me = api_me(&pia);
    assert_eq!(me["tier"], "paid");
    assert_eq!(
        me["paid"],
        serde_json::json!({"active": true, "source": "tier", "expires_at": null, "days_remaining": null})
    );
    assert_eq!(badge(&pia), "paid");
    assert!(!has_upgrade_hint(&pia), "upgrade hint for a paid user");

    succeeded(
        &run(
            &app,
            &["set-tier", "--email", "pia@example.com", "--tier", "free"],
        ),
        "set-tier free",
    );
    let me = api_me(&pia);
    assert_eq!(me["tier"], "free");
    assert_eq!(
        me["paid"],
        serde_json::json!({"active": false, "source": null, "expires_at": null, "days_remaining": null})
    );
    assert_eq!(badge(&pia), "free");
    assert!(has_upgrade_hint(&pia));
}

#[test]
fn settings_badge_counts_the_days_of_a_credit() {
    let app = TestApp::spawn();
    let quinn = account(&app, "quinn@example.com");
    assert_eq!(badge(&quinn), "free");
    succeeded(
        &run(
            &app,
            &[
                "grant-credit",
                "--email",
                "quinn@example.com",
                "--days",
                "30",
            ],
        ),
        "grant 30",
    );
    let until = credit_until(&app, "quinn@example.com").unwrap();
    assert_near(
        secs_of(&app, &until),
        now_secs() + 30 * DAY,
        60,
        "--days 30",
    );
    assert_eq!(
        badge(&quinn),
        format!(
            "free · credit · 30 days remaining (expires {})",
            &until[..10]
        )
    );
    assert!(
        !has_upgrade_hint(&quinn),
        "upgrade hint while a credit runs"
    );

    // Less than a day left still reads "1 day".
    let soon: String = app
        .db()
        .query_row(
            "SELECT strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '+3600 seconds')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    app.db()
        .execute(
            "UPDATE users SET credit_until = ?1 WHERE email = 'quinn@example.com'",
            [&soon],
        )
        .unwrap();
    assert_eq!(
        badge(&quinn),
        format!("free · credit · 1 day remaining (expires {})", &soon[..10])
    );
    assert_eq!(api_me(&quinn)["paid"]["days_remaining"], 1);
}

// ------------------------------------------------------------------- audit

#[test]
fn every_change_is_audited_with_actor_client_and_note() {
    let app = TestApp::spawn();
    let _rex = account(&app, "rex@example.com");
    let rex = user_id(&app, "rex@example.com");
    let ssh = "198.51.100.7 52022 10.0.0.5 22";

    let out = app.cli_with(
        &[
            "grant-credit",
            "--email",
            "rex@example.com",
            "--days",
            "3",
            "--note",
            "ticket 42",
        ],
        |cmd| {
            cmd.env_remove("SUDO_USER")
                .env("USER", "deploy")
                .env("SSH_CONNECTION", ssh);
        },
    );
    succeeded(&out, "grant");
    let granted = credit_until(&app, "rex@example.com").unwrap();
    let out = app.cli_with(&["revoke-credit", "--email", "rex@example.com"], |cmd| {
        cmd.env("SUDO_USER", "alice")
            .env("USER", "root")
            .env("SSH_CONNECTION", ssh);
    });
    succeeded(&out, "revoke");
    let revoked = credit_until(&app, "rex@example.com").unwrap();
    let out = app.cli_with(
        &["set-tier", "--email", "rex@example.com", "--tier", "paid"],
        |cmd| {
            cmd.env_remove("SUDO_USER")
                .env_remove("SSH_CONNECTION")
                .env("USER", "ops");
        },
    );
    succeeded(&out, "set-tier");

    let rows = audit_rows(&app);
    assert_eq!(rows.len(), 3, "{rows:#?}");
    let [grant, revoke, tier] = &rows[..] else {
        unreachable!()
    };
    assert_eq!(
        (
            grant.user_id,
            grant.action.as_str(),
            grant.old_value.as_deref(),
            grant.new_value.as_deref()
        ),
        (rex, "grant_credit", None, Some(granted.as_str()))
    );
    assert_eq!(
        (
            grant.actor.as_str(),
            grant.client.as_deref(),
            grant.note.as_deref()
        ),
        ("deploy", Some("198.51.100.7"), Some("ticket 42"))
    );
    assert_eq!(
        (
            revoke.action.as_str(),
            revoke.old_value.as_deref(),
            revoke.new_value.as_deref()
        ),
        (
            "revoke_credit",
            Some(granted.as_str()),
            Some(revoked.as_str())
        )
    );
    assert_eq!(
        (
            revoke.actor.as_str(),
            revoke.client.as_deref(),
            revoke.note.as_deref()
        ),
        ("alice", Some("198.51.100.7"), None),
        "SUDO_USER wins over USER"
    );
    assert_eq!(
        (
            tier.action.as_str(),
            tier.old_value.as_deref(),
            tier.new_value.as_deref()
        ),
        ("set_tier", Some("free"), Some("paid"))
    );
    assert_eq!((tier.actor.as_str(), tier.client.as_deref()), ("ops", None));
    for row in &rows {
        assert_near(secs_of(&app, &row.at), now_secs(), 120, "audit time");
    }

    // Append-only.
    let db = app.db();
    assert!(
        db.execute("UPDATE access_audit SET actor = 'mallory'", [])
            .is_err(),
        "audit rows can be edited"
    );
    assert!(
        db.execute("DELETE FROM access_audit", []).is_err(),
        "audit rows can be deleted"
    );
    assert_eq!(audit_rows(&app), rows);
}

// ------------------------------------------------------------------ backup

#[test]
fn backup_while_the_server_runs() {
    let app = TestApp::spawn();
    let sam = account(&app, "sam@example.com");
    let path = app.dir().join("backup.db");
    let path_arg = path.to_str().unwrap();

    // The server keeps answering while the copy is taken.
    let out = thread::scope(|s| {
        let busy = s.spawn(|| {
            (0..20)
                .map(|_| sam.get("/settings").status)
                .collect::<Vec<_>>()
        });
        let out = run(&app, &["backup", "--to", path_arg]);
        assert!(
            busy.join().unwrap().iter().all(|&s| s == 200),
            "the server stumbled during the backup"
        );
        out
    });
    let text = succeeded(&out, "backup");
    let size = std::fs::metadata(&path).expect("the backup file").len();
    assert!(size > 0);
    assert!(
        text.contains(&size.to_string()),
        "the size {size} is not in the report:\n{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains("users") && l.contains(" 1 ")),
        "no row count line for users (1 row):\n{text}"
    );

    let copy =
        rusqlite::Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let emails: Vec<String> = copy
        .prepare("SELECT email FROM users")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(emails, ["sam@example.com"]);
    let verdict: String = copy
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(verdict, "ok");
    drop(copy);

    // Never overwrites.
    let before = std::fs::read(&path).unwrap();
    let out = run(&app, &["backup", "--to", path_arg]);
    assert_one_line_error(&out, "backup onto an existing file");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the existing file changed"
    );
}

// -------------------------------------------------------------------- help

#[test]
fn every_verb_has_help() {
    let app = TestApp::spawn();
    let verbs: [(&str, &[&str]); 7] = [
        (
            "grant-credit",
            &["--email", "--days", "--until", "--note", "--json"],
        ),
        ("revoke-credit", &["--email", "--json"]),
        ("set-tier", &["--email", "--tier", "--json"]),
        ("show-status", &["--email", "--json"]),
        ("backup", &["--to"]),
        ("serve", &["--addr", "--base-url"]),
        ("migrate", &[]),
    ];
    for (verb, options) in verbs {
        let out = run(&app, &[verb, "--help"]);
        let text = succeeded(&out, &format!("{verb} --help"));
        assert!(
            text.contains("Usage"),
            "{verb} --help has no usage line:\n{text}"
        );
        assert!(
            text.contains(verb),
            "{verb} --help does not name the verb:\n{text}"
        );
        for option in options {
            assert!(
                text.contains(option),
                "{verb} --help does not mention {option}:\n{text}"
            );
        }
    }
    let text = succeeded(&run(&app, &["--help"]), "--help");
    for (verb, _) in verbs {
        assert!(text.contains(verb), "--help does not list {verb}:\n{text}");
    }
}

// ------------------------------------------------------------- concurrency

/// Twenty operators granting a day each at the same moment, while the server
/// serves: no grant is lost, none fails, no request fails.
#[test]
fn twenty_grants_at_once_add_up_while_the_server_serves() {
    const GRANTS: i64 = 20;
    let app = TestApp::spawn();
    let tom = account(&app, "tom@example.com");
    let stop = AtomicBool::new(false);
    let statuses = Mutex::new(Vec::new());
    let before = now_secs();

    let outputs = thread::scope(|s| {
        s.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                for path in ["/healthz", "/settings"] {
                    let resp = tom.try_request("GET", path, &[], b"");
                    statuses
                        .lock()
                        .unwrap()
                        .push((path, resp.map(|r| r.status).map_err(|e| e.to_string())));
                }
            }
        });
        let children: Vec<_> = (0..GRANTS)
            .map(|_| {
                let mut cmd = Command::new(env!("CARGO_BIN_EXE_app"));
                for (key, _) in std::env::vars_os() {
                    if key.to_string_lossy().starts_with("APP_") {
                        cmd.env_remove(key);
                    }
                }
                clean_env(&mut cmd);
                cmd.arg("--db")
                    .arg(app.db_path())
                    .args(["grant-credit", "--email", "tom@example.com", "--days", "1"])
                    .stdin(Stdio::null())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("spawn grant-credit")
            })
            .collect();
        let outputs: Vec<_> = children
            .into_iter()
            .map(|c| c.wait_with_output().expect("wait for grant-credit"))
            .collect();
        // Let the reader see the server after the last write, too.
        thread::sleep(Duration::from_millis(100));
        stop.store(true, Ordering::Relaxed);
        outputs
    });
    let after = now_secs();

    for (i, out) in outputs.iter().enumerate() {
        assert!(out.status.success(), "grant {i}: {}", summary(out));
    }
    let statuses = statuses.into_inner().unwrap();
    assert!(!statuses.is_empty(), "the reader never ran");
    let failed: Vec<_> = statuses
        .iter()
        .filter(|(_, s)| s.as_ref().ok() != Some(&200))
        .collect();
    assert!(
        failed.is_empty(),
        "{} of {} requests failed during the grants: {failed:?}",
        failed.len(),
        statuses.len()
    );

    let rows = audit_rows(&app);
    assert_eq!(rows.len() as i64, GRANTS, "audit rows");
    assert!(rows.iter().all(|r| r.action == "grant_credit"));
    // Each grant started from the one before it: the new values step by a day.
    let mut ends: Vec<i64> = rows
        .iter()
        .map(|r| secs_of(&app, r.new_value.as_deref().unwrap()))
        .collect();
    ends.sort();
    for pair in ends.windows(2) {
        assert_eq!(
            pair[1] - pair[0],
            DAY,
            "a grant was lost or overlapped: {ends:?}"
        );
    }

    let until = credit_until_secs(&app, "tom@example.com").unwrap();
    assert!(
        until >= before + GRANTS * DAY && until <= after + GRANTS * DAY,
        "credit_until {until}, window {before}..{after}"
    );
    let left = until - now_secs();
    assert!(
        (GRANTS * DAY - 120..=GRANTS * DAY).contains(&left),
        "{left}s left, want 20 days less at most 2 minutes"
    );
    assert_eq!(api_me(&tom)["paid"]["days_remaining"], GRANTS);
}
