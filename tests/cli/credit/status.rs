//! `show-status` against `/api/me`, and the days of a credit on the
//! settings badge (SPEC §1, §4 "GET /settings").

use super::*;

#[test]
fn grant_then_show_status_matches_api_me() {
    let app = TestServer::new().spawn();
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
fn settings_badge_counts_the_days_of_a_credit() {
    let app = TestServer::new().spawn();
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
