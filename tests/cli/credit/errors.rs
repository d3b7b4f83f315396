//! What the operator's verbs refuse (SPEC §1): bad arguments, an unknown
//! email, a missing one, an unknown tier, each a one-line error that changes
//! nothing; and every verb's `--help`.

use super::*;

#[test]
fn grant_credit_refuses_bad_arguments_and_changes_nothing() {
    let app = TestServer::new().spawn();
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
    let app = TestServer::new().spawn();
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
    let app = TestServer::new().spawn();
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
    let app = TestServer::new().spawn();
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

#[test]
fn every_verb_has_help() {
    let app = TestServer::new().spawn();
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
