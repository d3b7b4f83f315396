//! The sign-in flow itself: forms, accounts, sessions, logout.

use super::*;

#[test]
fn login_page_has_an_email_field_and_a_csrf_token() {
    let app = TestServer::new().spawn();
    let page = app.client().get("/login");
    assert_eq!(page.status, 200, "{}", page.summary());
    assert!(
        page.header("content-type")
            .is_some_and(|t| t.starts_with("text/html")),
        "{}",
        page.summary()
    );
    assert!(
        input_value(&page.body, "email").is_some(),
        "no email input: {}",
        page.body
    );
    assert!(!csrf_in(&page.body).is_empty(), "empty csrf token");
}

#[test]
fn landing_page_links_to_sign_in_when_signed_out() {
    let app = TestServer::new().spawn();
    let page = app.client().get("/");
    assert_eq!(page.status, 200, "{}", page.summary());
    assert!(
        page.body.contains("href=\"/login"),
        "no sign-in link: {}",
        page.body
    );
}

#[test]
fn signing_in_with_the_emailed_code_starts_a_session() {
    let app = TestServer::new().spawn();
    let client = app.client();

    let sent = request_code(&client, "carol@example.com");
    assert!(sent.is_see_other_to("/verify"), "{}", sent.summary());
    assert!(
        sent.set_cookie("pending").is_some(),
        "no pending cookie: {}",
        sent.summary()
    );

    let mail = app.next_mail("carol@example.com");
    assert_eq!(mail.to, vec!["carol@example.com".to_string()]);
    assert!(mail.from.starts_with("no-reply@"), "sender: {}", mail.from);
    let code = crate::support::code_in(&mail);
    assert!(code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()));

    let form = client.get("/verify");
    assert_eq!(form.status, 200, "{}", form.summary());
    assert!(
        input_value(&form.body, "code").is_some(),
        "no code input: {}",
        form.body
    );

    let done = client.post_form(
        "/verify",
        &[("code", &code), ("csrf", &csrf_in(&form.body))],
    );
    assert!(done.is_see_other_to("/"), "{}", done.summary());
    assert!(
        done.set_cookie("session")
            .is_some_and(|l| !cookie_pair(l).1.is_empty()),
        "{}",
        done.summary()
    );
    assert!(
        done.set_cookie("pending").is_some(),
        "pending cookie not cleared: {}",
        done.summary()
    );
    assert_eq!(
        client.cookie("pending"),
        None,
        "pending cookie survived the sign-in"
    );

    let home = client.get("/");
    assert!(
        home.is_see_other_to("/portfolio"),
        "GET / signed in: {}",
        home.summary()
    );
    let portfolio = client.get("/portfolio");
    assert_eq!(portfolio.status, 200, "{}", portfolio.summary());
    assert_eq!(users(&app), vec!["carol@example.com"]);
}

#[test]
fn malformed_email_gets_the_form_back_with_400() {
    let app = TestServer::new().spawn();
    let client = app.client();
    let too_long = format!("{}@example.com", "a".repeat(243)); // 255 bytes
    for email in [
        "",
        "not-an-email",
        "a b@example.com",
        "@example.com",
        "alice@",
        too_long.as_str(),
    ] {
        let resp = request_code(&client, email);
        assert_eq!(resp.status, 400, "email {email:?}: {}", resp.summary());
        assert!(
            input_value(&resp.body, "email").is_some(),
            "email {email:?}: no form back: {}",
            resp.body
        );
        assert!(
            resp.set_cookie("pending").is_none(),
            "email {email:?}: pending cookie set"
        );
    }
    std::thread::sleep(SETTLE);
    assert!(
        app.mail.all().is_empty(),
        "mail sent for a malformed email: {:?}",
        app.mail.all()
    );
}

#[test]
fn same_answer_whether_or_not_the_email_has_an_account() {
    let app = TestServer::new().spawn();
    app.db()
        .execute(
            "INSERT INTO users (email, tier, created_at) VALUES ('known@example.com', 'free', '2025-01-01T00:00:00Z')",
            [],
        )
        .expect("insert an existing user");

    let known = request_code(&app.client(), "known@example.com");
    let fresh = request_code(&app.client(), "fresh@example.com");
    for resp in [&known, &fresh] {
        assert!(resp.is_see_other_to("/verify"), "{}", resp.summary());
    }
    assert_eq!(known.body, fresh.body);
    assert_eq!(known.header("content-type"), fresh.header("content-type"));
    let shape = |resp: &Resp| -> Vec<(String, Vec<String>, usize)> {
        resp.set_cookies()
            .into_iter()
            .map(|line| {
                let (name, value) = cookie_pair(line);
                let attrs = cookie_attrs(line).into_iter().map(|(k, _)| k).collect();
                (name.to_string(), attrs, value.len())
            })
            .collect()
    };
    assert_eq!(
        shape(&known),
        shape(&fresh),
        "cookies differ:\n{known:?}\n{fresh:?}"
    );
    app.code_for("known@example.com");
    app.code_for("fresh@example.com");
}

#[test]
fn account_is_created_only_at_a_successful_verify() {
    let app = TestServer::new().spawn();
    let (client, code) = pending_client(&app, "dave@example.com");
    assert!(
        users(&app).is_empty(),
        "an account exists before the email is proven"
    );
    let wrong = submit_code(&client, &other_code(&code));
    assert_eq!(wrong.status, 400, "{}", wrong.summary());
    assert!(users(&app).is_empty(), "a wrong code created an account");
    let done = submit_code(&client, &code);
    assert!(done.is_see_other_to("/"), "{}", done.summary());
    assert_eq!(users(&app), vec!["dave@example.com"]);
}

#[test]
fn email_is_trimmed_and_lowercased() {
    let app = TestServer::new().spawn();
    sign_in(&app, &app.client(), "  Alice@Example.COM ");
    assert_eq!(app.mail.count_to("Alice@Example.COM"), 0);
    assert_eq!(app.mail.count_to("alice@example.com"), 1);
    assert_eq!(users(&app), vec!["alice@example.com"]);
    // The per-email limit counts the normalised address too.
    let again = request_code(&app.client(), "ALICE@example.com");
    assert_eq!(again.status, 429, "{}", again.summary());
}

#[test]
fn verify_without_a_pending_cookie_goes_to_login() {
    let app = TestServer::new().spawn();
    let resp = app.client().get("/verify");
    assert!(resp.is_see_other_to("/login"), "{}", resp.summary());
}

#[test]
fn logout_ends_the_session_on_the_server() {
    let app = TestServer::new().spawn();
    let client = app.client();
    sign_in(&app, &client, "erin@example.com");
    let session = client.cookie("session").unwrap();

    let out = client.post_form("/logout", &[("csrf", &signed_in_csrf(&client))]);
    assert!(out.is_see_other_to("/"), "{}", out.summary());
    assert_eq!(
        client.cookie("session"),
        None,
        "session cookie not cleared: {}",
        out.summary()
    );
    let after = client.get("/portfolio");
    assert!(after.is_see_other_to("/login"), "{}", after.summary());

    let replay = app.client();
    replay.set_cookie_raw("session", &session);
    let resp = replay.get("/portfolio");
    assert!(
        resp.is_see_other_to("/login"),
        "old session still works: {}",
        resp.summary()
    );
}

// ------------------------------------------------------------ wrong codes
