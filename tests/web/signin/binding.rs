//! Codes bound to the browser that asked (SPEC §4 Sign-in): a stranger who
//! knows an email cannot burn or replace its owner's code; limits count per
//! mailbox; no dead ends when a sign-in lapses or a code burns.

use super::*;

/// Moves every login code of `email` `secs` seconds into the past, expiry too.
fn age_codes(app: &TestServer, email: &str, secs: i64) {
    let shift = format!("-{secs} seconds");
    let moved = app
        .db()
        .execute(
            "UPDATE login_codes
             SET created_at = strftime('%Y-%m-%dT%H:%M:%SZ', created_at, ?2),
                 expires_at = strftime('%Y-%m-%dT%H:%M:%SZ', expires_at, ?2)
             WHERE email = ?1",
            rusqlite::params![email, shift],
        )
        .expect("age the login codes");
    assert!(moved > 0, "no login codes for {email} to age");
}

#[test]
fn a_strangers_wrong_tries_do_not_burn_the_owners_code() {
    let app = TestServer::new().spawn();
    let email = "olga@example.com";
    let (stranger, strangers_code) = pending_client(&app, email);
    age_codes(&app, email, 61);
    let (owner, owners_code) = pending_client(&app, email);
    for attempt in 1..=5 {
        let guess = if attempt == 1 {
            other_code(&strangers_code)
        } else {
            other_code(&other_code(&strangers_code))
        };
        let resp = submit_code(&stranger, &guess);
        assert_eq!(
            resp.status,
            400,
            "stranger's try {attempt}: {}",
            resp.summary()
        );
    }
    if owners_code != strangers_code {
        let resp = submit_code(&stranger, &owners_code);
        assert!(
            resp.set_cookie("session").is_none(),
            "the stranger spent the owner's code: {}",
            resp.summary()
        );
    }
    let done = submit_code(&owner, &owners_code);
    assert!(
        done.is_see_other_to("/"),
        "the owner's code no longer works: {}",
        done.summary()
    );
}

#[test]
fn a_code_asked_for_in_another_browser_does_not_replace_the_owners() {
    let app = TestServer::new().spawn();
    let email = "pavel@example.com";
    let (owner, owners_code) = pending_client(&app, email);
    age_codes(&app, email, 61);
    let (_stranger, _) = pending_client(&app, email);
    let done = submit_code(&owner, &owners_code);
    assert!(
        done.is_see_other_to("/"),
        "another browser's request replaced the owner's code: {}",
        done.summary()
    );
}

#[test]
fn plus_tags_and_gmail_dots_share_one_mailbox_limit() {
    let app = TestServer::new().spawn();
    let (_, _) = pending_client(&app, "quinn@example.com");
    let tagged = request_code(&app.client(), "quinn+news@example.com");
    assert_eq!(
        tagged.status,
        429,
        "a +tag got its own limit: {}",
        tagged.summary()
    );
    retry_after(&tagged);
    let (_, _) = pending_client(&app, "r.oss@gmail.com");
    let dotted = request_code(&app.client(), "ro.ss+x@googlemail.com");
    assert_eq!(
        dotted.status,
        429,
        "Gmail dots got their own limit: {}",
        dotted.summary()
    );
    // the account keeps the email as typed
    let (client, code) = {
        age_codes(&app, "quinn@example.com", 61);
        pending_client(&app, "quinn+news@example.com")
    };
    assert!(submit_code(&client, &code).is_see_other_to("/"));
    assert_eq!(users(&app), vec!["quinn+news@example.com"]);
}

#[test]
fn a_lapsed_sign_in_goes_back_to_the_email_form() {
    let app = TestServer::new().spawn();
    let email = "rosa@example.com";
    let (client, code) = pending_client(&app, email);
    let csrf = verify_csrf(&client);
    client.remove_cookie(&app.cookie_name("pending"));
    let resp = client.post_form(
        "/verify",
        &[("code", &code), ("csrf", &csrf), ("email", email)],
    );
    assert_eq!(resp.status, 200, "{}", resp.summary());
    assert!(
        resp.body
            .contains("That sign-in took too long. Enter your email again."),
        "{}",
        resp.body
    );
    assert_eq!(input_value(&resp.body, "email").as_deref(), Some(email));
    assert!(resp.set_cookie("session").is_none());
    // and the form it shows works
    age_codes(&app, email, 61);
    let again = client.post_form(
        "/login",
        &[("email", email), ("csrf", &csrf_in(&resp.body))],
    );
    assert!(again.is_see_other_to("/verify"), "{}", again.summary());
}

#[test]
fn after_a_burnt_code_a_new_one_comes_at_once_from_the_verify_page() {
    let app = TestServer::new().spawn();
    let email = "sami@example.com";
    let (client, code) = pending_client(&app, email);
    let mut last = None;
    for _ in 1..=5 {
        last = Some(submit_code(&client, &other_code(&code)));
    }
    let burnt = last.unwrap();
    assert!(burnt.body.contains("Send a new code"), "{}", burnt.body);
    assert!(!burnt.body.contains("It expires in"), "{}", burnt.body);
    assert!(
        !burnt.body.contains("You can ask for a new code in"),
        "{}",
        burnt.body
    );
    // the "Send a new code" form: email and csrf, posted to /login
    let again = client.post_form(
        "/login",
        &[("email", email), ("csrf", &csrf_in(&burnt.body))],
    );
    assert!(
        again.is_see_other_to("/verify"),
        "a burnt code held back a new one: {}",
        again.summary()
    );
    let fresh = app.code_for(email);
    assert!(submit_code(&client, &fresh).is_see_other_to("/"));
}

#[test]
fn the_verify_page_says_when_the_code_expires_and_when_to_ask_again() {
    let app = TestServer::new().spawn();
    let email = "tomas@example.com";
    let (client, _) = pending_client(&app, email);
    let page = client.get("/verify");
    assert!(
        page.body.contains("It expires in 10 minutes"),
        "{}",
        page.body
    );
    assert!(page.body.contains("Send a new code"), "{}", page.body);
    assert!(
        page.body.contains("You can ask for a new code in "),
        "no wait shown: {}",
        page.body
    );
    age_codes(&app, email, 11 * 60);
    let expired = client.get("/verify");
    assert!(!expired.body.contains("It expires in"), "{}", expired.body);
    assert!(
        !expired.body.contains("You can ask for a new code in"),
        "{}",
        expired.body
    );
    let resp = submit_code(&client, "123456");
    assert!(resp.body.contains("expired"), "{}", resp.body);
    assert!(!resp.body.contains("It expires in"), "{}", resp.body);
}
