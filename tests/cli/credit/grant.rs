//! `grant-credit` (SPEC §1, §5): `--days` adds to a running credit,
//! `--until` runs through the end of that UTC day and never shortens one,
//! and `--json` reports the change.

use super::*;

#[test]
fn grant_json_reports_the_change() {
    let app = TestServer::new().spawn();
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
    let app = TestServer::new().spawn();
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
    let app = TestServer::new().spawn();
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
    let app = TestServer::new().spawn();
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
    let app = TestServer::new().spawn();
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
