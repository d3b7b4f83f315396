//! Sign-in with emailed one-time codes (SPEC §4 "Sign-in", §8 cookies,
//! CSRF, headers and logs), driven through the real server.

use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use crate::support::{
    cookie_attrs, cookie_pair, csrf_in, input_value, raw, sign_in, Client, Resp, TestApp,
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
fn pending_client(app: &TestApp, email: &str) -> (Client, String) {
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

fn users(app: &TestApp) -> Vec<String> {
    let db = app.db();
    let mut stmt = db.prepare("SELECT email FROM users ORDER BY id").unwrap();
    let rows = stmt.query_map([], |row| row.get::<_, String>(0)).unwrap();
    rows.map(Result::unwrap).collect()
}

fn assert_healthy(app: &TestApp) {
    let health = app.client().get("/healthz");
    assert_eq!(
        health.status,
        200,
        "the server stopped serving; log:\n{}",
        app.log()
    );
}

/// CSP with `default-src`, `frame-ancestors 'none'` and no inline script;
/// `nosniff`; `Referrer-Policy: same-origin`.
fn assert_security_headers(resp: &Resp, what: &str) {
    let csp = resp
        .header("content-security-policy")
        .unwrap_or_else(|| panic!("{what}: no Content-Security-Policy: {}", resp.summary()));
    let directives: Vec<(String, String)> = csp
        .split(';')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| {
            let (name, value) = d.split_once(char::is_whitespace).unwrap_or((d, ""));
            (name.to_ascii_lowercase(), value.trim().to_string())
        })
        .collect();
    let directive = |name: &str| {
        directives
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    assert!(
        directive("default-src").is_some(),
        "{what}: CSP without default-src: {csp}"
    );
    assert_eq!(
        directive("frame-ancestors"),
        Some("'none'"),
        "{what}: CSP frame-ancestors: {csp}"
    );
    let script = directive("script-src")
        .or(directive("default-src"))
        .unwrap();
    assert!(
        !script.contains("'unsafe-inline'"),
        "{what}: CSP allows inline script: {csp}"
    );
    let nosniff = resp.header("x-content-type-options");
    assert!(
        nosniff.is_some_and(|v| v.eq_ignore_ascii_case("nosniff")),
        "{what}: X-Content-Type-Options {nosniff:?}"
    );
    let referrer = resp.header("referrer-policy");
    assert!(
        referrer.is_some_and(|v| v.eq_ignore_ascii_case("same-origin")),
        "{what}: Referrer-Policy {referrer:?}"
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

#[test]
fn login_page_has_an_email_field_and_a_csrf_token() {
    let app = TestApp::spawn();
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
    let app = TestApp::spawn();
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
    let app = TestApp::spawn();
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
    let app = TestApp::spawn();
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
    let app = TestApp::spawn();
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
    let app = TestApp::spawn();
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
    let app = TestApp::spawn();
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
    let app = TestApp::spawn();
    let resp = app.client().get("/verify");
    assert!(resp.is_see_other_to("/login"), "{}", resp.summary());
}

#[test]
fn logout_ends_the_session_on_the_server() {
    let app = TestApp::spawn();
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

#[test]
fn logout_without_csrf_is_403_and_keeps_the_session() {
    let app = TestApp::spawn();
    let client = app.client();
    sign_in(&app, &client, "frank@example.com");
    let out = client.post_form("/logout", &[]);
    assert_eq!(out.status, 403, "{}", out.summary());
    let out = client.post_form("/logout", &[("csrf", "forged")]);
    assert_eq!(out.status, 403, "{}", out.summary());
    assert_eq!(
        client.get("/portfolio").status,
        200,
        "the session ended without a valid csrf token"
    );
}

// ------------------------------------------------------------ wrong codes

#[test]
fn wrong_code_says_tries_left() {
    let app = TestApp::spawn();
    let (client, code) = pending_client(&app, "gina@example.com");
    let wrong = other_code(&code);
    for (attempt, left) in [
        (1, "4 tries left"),
        (2, "3 tries left"),
        (3, "2 tries left"),
        (4, "1 try left"),
    ] {
        let resp = submit_code(&client, &wrong);
        assert_eq!(resp.status, 400, "wrong try {attempt}: {}", resp.summary());
        assert!(
            resp.body.contains(left),
            "wrong try {attempt} should say {left:?}: {}",
            resp.body
        );
        assert!(
            input_value(&resp.body, "code").is_some(),
            "wrong try {attempt}: no form back"
        );
        assert!(resp.set_cookie("session").is_none());
    }
}

#[test]
fn fifth_wrong_try_burns_the_code() {
    let app = TestApp::spawn();
    let (client, code) = pending_client(&app, "hank@example.com");
    for attempt in 1..=5 {
        let resp = submit_code(&client, &other_code(&code));
        assert_eq!(resp.status, 400, "wrong try {attempt}: {}", resp.summary());
    }
    let late = submit_code(&client, &code);
    assert_eq!(
        late.status,
        400,
        "the right code still works after 5 wrong tries: {}",
        late.summary()
    );
    assert!(late.set_cookie("session").is_none(), "{}", late.summary());
    assert_eq!(client.cookie("session"), None);
    assert!(users(&app).is_empty());
}

/// A new code may be asked for once a minute, and a test cannot wait four
/// minutes for four codes: between codes it moves the email's codes two
/// minutes into the past in the database (the app's own `login_codes` table,
/// times stored as RFC 3339 `Z` text per SPEC §3), as if time had passed.
#[test]
fn twenty_wrong_tries_a_day_then_429() {
    let app = TestApp::spawn();
    let email = "ivy@example.com";
    let client = app.client();
    for round in 1..=4 {
        let sent = request_code(&client, email);
        assert!(
            sent.is_see_other_to("/verify"),
            "code {round}: {}",
            sent.summary()
        );
        let code = app.code_for(email);
        for attempt in 1..=5 {
            let resp = submit_code(&client, &other_code(&code));
            assert_eq!(
                resp.status,
                400,
                "code {round}, wrong try {attempt}: {}",
                resp.summary()
            );
        }
        age_login_codes(&app, email, 120);
    }
    // Twenty wrong tries so far: even a fresh code, rightly typed, is refused.
    let sent = request_code(&client, email);
    assert!(
        sent.is_see_other_to("/verify"),
        "code 5: {}",
        sent.summary()
    );
    let code = app.code_for(email);
    let capped = submit_code(&client, &code);
    assert_eq!(
        capped.status,
        429,
        "after 20 wrong tries today: {}",
        capped.summary()
    );
    assert!(capped.set_cookie("session").is_none());
    assert_security_headers(&capped, "429 on /verify");
    assert!(users(&app).is_empty());
}

/// Moves every login code of `email` `secs` seconds into the past.
fn age_login_codes(app: &TestApp, email: &str, secs: i64) {
    let shift = format!("-{secs} seconds");
    let moved = app
        .db()
        .execute(
            "UPDATE login_codes SET created_at = strftime('%Y-%m-%dT%H:%M:%SZ', created_at, ?2) WHERE email = ?1",
            rusqlite::params![email, shift],
        )
        .expect("age the login codes");
    assert!(moved > 0, "no login codes for {email} to age");
}

#[test]
fn non_digit_or_wrong_length_codes_never_match() {
    let app = TestApp::spawn();
    let (client, code) = pending_client(&app, "jack@example.com");
    let full_width: String = code
        .chars()
        .map(|c| char::from_u32(c as u32 - '0' as u32 + 0xFF10).unwrap())
        .collect();
    let near_misses = [
        code[..5].to_string(),
        format!("{code}0"),
        "abcdef".to_string(),
        full_width,
    ];
    for (i, attempt) in near_misses.iter().enumerate() {
        let resp = submit_code(&client, attempt);
        assert_eq!(
            resp.status,
            400,
            "code {attempt:?} (the real one is {code}): {}",
            resp.summary()
        );
        assert!(
            resp.set_cookie("session").is_none(),
            "code {attempt:?} signed in"
        );
        if i == 3 {
            assert!(
                resp.body.contains("1 try left"),
                "near misses must count as wrong tries: {}",
                resp.body
            );
        }
    }
    let done = submit_code(&client, &code);
    assert!(done.is_see_other_to("/"), "{}", done.summary());
}

#[test]
fn one_code_makes_one_session_even_when_sent_twice_at_once() {
    let app = TestApp::spawn();
    for round in 0..3 {
        let email = format!("race{round}@example.com");
        let (client, code) = pending_client(&app, &email);
        let csrf = verify_csrf(&client);
        let barrier = Arc::new(Barrier::new(4));
        let racers: Vec<_> = (0..4)
            .map(|_| {
                let (twin, code, csrf, barrier) =
                    (client.clone(), code.clone(), csrf.clone(), barrier.clone());
                thread::spawn(move || {
                    barrier.wait();
                    twin.post_form("/verify", &[("code", &code), ("csrf", &csrf)])
                })
            })
            .collect();
        let answers: Vec<Resp> = racers.into_iter().map(|r| r.join().unwrap()).collect();
        let sessions = answers
            .iter()
            .filter(|r| r.is_see_other_to("/") && r.set_cookie("session").is_some())
            .count();
        let statuses: Vec<u16> = answers.iter().map(|r| r.status).collect();
        assert_eq!(sessions, 1, "round {round}: {statuses:?}");
        assert!(
            statuses.iter().all(|s| *s < 500),
            "round {round}: {statuses:?}"
        );
    }
}

// ------------------------------------------------------------ rate limits

#[test]
fn second_code_request_within_a_minute_is_429() {
    let app = TestApp::spawn();
    let (client, _) = pending_client(&app, "kim@example.com");
    let again = request_code(&client, "kim@example.com");
    assert_eq!(again.status, 429, "{}", again.summary());
    retry_after(&again);
    assert_security_headers(&again, "429 on /login");
    let elsewhere = request_code(&app.client(), "kim@example.com");
    assert_eq!(
        elsewhere.status,
        429,
        "the limit is per email, not per cookie: {}",
        elsewhere.summary()
    );
    assert_eq!(
        app.mail.count_to_after("kim@example.com", SETTLE),
        1,
        "a second code was mailed"
    );
}

#[test]
fn thirty_first_code_request_from_one_address_is_429() {
    let app = TestApp::spawn();
    let client = app.client();
    for i in 1..=30 {
        let resp = request_code(&client, &format!("user{i}@example.com"));
        assert!(
            resp.is_see_other_to("/verify"),
            "request {i}: {}",
            resp.summary()
        );
    }
    let over = request_code(&client, "user31@example.com");
    assert_eq!(over.status, 429, "{}", over.summary());
    retry_after(&over);
    app.mail
        .wait_for("user30@example.com", Duration::from_secs(5));
    assert_eq!(app.mail.count_to_after("user31@example.com", SETTLE), 0);
    assert_eq!(app.mail.all().len(), 30);
}

// ------------------------------------------------------------------- CSRF

#[test]
fn login_without_a_valid_csrf_token_is_403() {
    let app = TestApp::spawn();
    let client = app.client();
    let token = csrf_in(&client.get("/login").body);
    let tampered = flip_char(&token, token.len() / 2);
    let attempts: [&[(&str, &str)]; 4] = [
        &[("email", "liz@example.com")],
        &[("email", "liz@example.com"), ("csrf", "")],
        &[("email", "liz@example.com"), ("csrf", "not-a-token")],
        &[("email", "liz@example.com"), ("csrf", &tampered)],
    ];
    for fields in attempts {
        let resp = client.post_form("/login", fields);
        assert_eq!(resp.status, 403, "{fields:?}: {}", resp.summary());
        assert!(resp.set_cookie("pending").is_none());
        assert_security_headers(&resp, "403 on /login");
    }
    assert_eq!(
        app.mail.count_to_after("liz@example.com", SETTLE),
        0,
        "mailed without a csrf token"
    );
    // The same form with its token goes through.
    let ok = client.post_form("/login", &[("email", "liz@example.com"), ("csrf", &token)]);
    assert!(ok.is_see_other_to("/verify"), "{}", ok.summary());
}

#[test]
fn login_from_another_site_is_403() {
    let app = TestApp::spawn();
    let client = app.client();
    let token = csrf_in(&client.get("/login").body);
    let fields = [("email", "max@example.com"), ("csrf", token.as_str())];
    let evil = client.post_form_with("/login", &fields, &[("Origin", "http://evil.example")]);
    assert_eq!(evil.status, 403, "Origin evil: {}", evil.summary());
    let cross = client.post_form_with("/login", &fields, &[("Sec-Fetch-Site", "cross-site")]);
    assert_eq!(
        cross.status,
        403,
        "Sec-Fetch-Site cross-site: {}",
        cross.summary()
    );
    assert_eq!(
        app.mail.count_to_after("max@example.com", SETTLE),
        0,
        "mailed on a cross-site post"
    );
    let own = client.post_form_with("/login", &fields, &[("Sec-Fetch-Site", "same-origin")]);
    assert!(own.is_see_other_to("/verify"), "{}", own.summary());
}

#[test]
fn verify_without_a_valid_csrf_token_or_from_another_site_is_403() {
    let app = TestApp::spawn();
    let (client, code) = pending_client(&app, "nina@example.com");
    let token = verify_csrf(&client);
    let wrong = other_code(&code);
    let tampered = flip_char(&token, token.len() / 2);
    let refused = [
        client.post_form("/verify", &[("code", wrong.as_str())]),
        client.post_form("/verify", &[("code", &wrong), ("csrf", "not-a-token")]),
        client.post_form("/verify", &[("code", &wrong), ("csrf", &tampered)]),
        client.post_form_with(
            "/verify",
            &[("code", &wrong), ("csrf", &token)],
            &[("Origin", "http://evil.example")],
        ),
        client.post_form_with(
            "/verify",
            &[("code", &wrong), ("csrf", &token)],
            &[("Sec-Fetch-Site", "cross-site")],
        ),
    ];
    for (i, resp) in refused.iter().enumerate() {
        assert_eq!(resp.status, 403, "attempt {i}: {}", resp.summary());
    }
    // Refused posts are not tries.
    let first_real_try = submit_code(&client, &wrong);
    assert_eq!(first_real_try.status, 400, "{}", first_real_try.summary());
    assert!(
        first_real_try.body.contains("4 tries left"),
        "a 403 counted as a try: {}",
        first_real_try.body
    );
    let done = submit_code(&client, &code);
    assert!(done.is_see_other_to("/"), "{}", done.summary());
}

// ---------------------------------------------------------------- cookies

#[test]
fn cookies_are_http_only_lax_and_not_secure_over_http() {
    let app = TestApp::spawn();
    let client = app.client();
    let sent = request_code(&client, "olga@example.com");
    let pending = sent
        .set_cookie("pending")
        .unwrap_or_else(|| panic!("no pending cookie: {}", sent.summary()));
    assert_cookie_flags(pending, false);
    let done = submit_code(&client, &app.code_for("olga@example.com"));
    let session = done
        .set_cookie("session")
        .unwrap_or_else(|| panic!("no session cookie: {}", done.summary()));
    assert_cookie_flags(session, false);
    assert!(done.set_cookie("__Host-session").is_none());
}

#[test]
fn https_base_url_gives_secure_host_prefixed_cookies() {
    let app = TestApp::spawn_https();
    let client = app.client();
    let sent = request_code(&client, "pia@example.com");
    assert!(sent.is_see_other_to("/verify"), "{}", sent.summary());
    assert!(
        sent.set_cookie("pending").is_none(),
        "unprefixed cookie over https: {}",
        sent.summary()
    );
    let pending = sent
        .set_cookie("__Host-pending")
        .unwrap_or_else(|| panic!("no __Host-pending: {}", sent.summary()));
    assert_cookie_flags(pending, true);

    let done = submit_code(&client, &app.code_for("pia@example.com"));
    assert!(done.is_see_other_to("/"), "{}", done.summary());
    assert!(
        done.set_cookie("session").is_none(),
        "unprefixed cookie over https: {}",
        done.summary()
    );
    let session = done
        .set_cookie("__Host-session")
        .unwrap_or_else(|| panic!("no __Host-session: {}", done.summary()));
    assert_cookie_flags(session, true);
    assert!(client.get("/").is_see_other_to("/portfolio"));
}

#[test]
fn https_base_url_is_the_origin_the_csrf_check_expects() {
    let app = TestApp::spawn_https();
    let client = app.client();
    let token = csrf_in(&client.get("/login").body);
    let fields = [("email", "quinn@example.com"), ("csrf", token.as_str())];
    let plain_origin = format!("http://{}", app.addr());
    let wrong_scheme = client.post_form_with("/login", &fields, &[("Origin", &plain_origin)]);
    assert_eq!(
        wrong_scheme.status,
        403,
        "Origin {plain_origin} vs an https base URL: {}",
        wrong_scheme.summary()
    );
    let right = client.post_form_with(
        "/login",
        &fields,
        &[("Origin", &format!("https://{}", app.addr()))],
    );
    assert!(right.is_see_other_to("/verify"), "{}", right.summary());
}

#[test]
fn tampered_pending_cookie_counts_as_none() {
    let app = TestApp::spawn();
    let signed_in = app.client();
    sign_in(&app, &signed_in, "rita@example.com");
    let session = signed_in.cookie("session").unwrap();

    let (client, code) = pending_client(&app, "sam@example.com");
    let pending = client.cookie("pending").unwrap();
    let forgeries = [
        flip_char(&pending, pending.len() / 2),
        flip_char(&pending, 0),
        pending[..pending.len() - 1].to_string(),
        pending[..pending.len() / 2].to_string(),
        "junk".to_string(),
        session,
    ];
    for forged in &forgeries {
        let attacker = app.client();
        attacker.set_cookie_raw("pending", forged);
        let page = attacker.get("/verify");
        assert!(
            page.is_see_other_to("/login"),
            "pending {forged:?} was accepted: {}",
            page.summary()
        );
        let csrf = csrf_in(&attacker.get("/login").body);
        let post = attacker.post_form("/verify", &[("code", &code), ("csrf", &csrf)]);
        assert!(post.status < 500, "pending {forged:?}: {}", post.summary());
        assert!(
            post.set_cookie("session").is_none(),
            "pending {forged:?} signed in: {}",
            post.summary()
        );
    }
    // The genuine cookie and code still work.
    let done = submit_code(&client, &code);
    assert!(done.is_see_other_to("/"), "{}", done.summary());
}

#[test]
fn tampered_session_cookie_counts_as_signed_out() {
    let app = TestApp::spawn();
    let client = app.client();
    sign_in(&app, &client, "tess@example.com");
    let session = client.cookie("session").unwrap();
    let (other, _) = pending_client(&app, "uma@example.com");
    let pending = other.cookie("pending").unwrap();
    let forgeries = [
        flip_char(&session, session.len() / 2),
        flip_char(&session, 0),
        session[..session.len() - 1].to_string(),
        format!("{session}A"),
        "junk".to_string(),
        pending,
    ];
    for forged in &forgeries {
        let attacker = app.client();
        attacker.set_cookie_raw("session", forged);
        let page = attacker.get("/portfolio");
        assert!(
            page.is_see_other_to("/login"),
            "session {forged:?}: {}",
            page.summary()
        );
        let home = attacker.get("/");
        assert_eq!(
            home.status,
            200,
            "session {forged:?} on /: {}",
            home.summary()
        );
    }
    assert_eq!(
        client.get("/portfolio").status,
        200,
        "the real session stopped working"
    );
}

// ---------------------------------------------------------------- headers

#[test]
fn every_response_has_security_headers() {
    let app = TestApp::spawn();
    let client = app.client();
    let token = csrf_in(&client.get("/login").body);
    let responses = [
        ("GET /login", client.get("/login")),
        ("GET /", client.get("/")),
        ("GET /healthz", client.get("/healthz")),
        ("GET /verify (303)", client.get("/verify")),
        ("GET /nope (404)", client.get("/nope")),
        (
            "DELETE /login (405)",
            client.request("DELETE", "/login", &[], b""),
        ),
        (
            "POST /login no csrf (403)",
            client.post_form("/login", &[("email", "a@example.com")]),
        ),
        (
            "POST /login bad email (400)",
            client.post_form("/login", &[("email", "bad"), ("csrf", &token)]),
        ),
    ];
    for (what, resp) in &responses {
        assert_security_headers(resp, what);
    }
}

#[test]
fn sign_in_and_personal_pages_are_not_cached() {
    let app = TestApp::spawn();
    let client = app.client();
    let login = client.get("/login");
    let (pending, _) = pending_client(&app, "vera@example.com");
    let verify = pending.get("/verify");
    sign_in(&app, &client, "walt@example.com");
    let portfolio = client.get("/portfolio");
    for (what, resp) in [
        ("/login", login),
        ("/verify", verify),
        ("/portfolio", portfolio),
    ] {
        assert_eq!(resp.status, 200, "{what}: {}", resp.summary());
        let cache = resp.header("cache-control").unwrap_or("");
        assert!(
            cache.to_ascii_lowercase().contains("no-store"),
            "{what}: Cache-Control {cache:?}"
        );
    }
}

#[test]
fn unknown_path_is_404() {
    let app = TestApp::spawn();
    let client = app.client();
    for path in ["/nope", "/login/extra", "/verify.php", "/%2e%2e/etc/passwd"] {
        let resp = client.get(path);
        assert_eq!(resp.status, 404, "{path}: {}", resp.summary());
    }
}

#[test]
fn wrong_method_is_405() {
    let app = TestApp::spawn();
    let client = app.client();
    for (method, path) in [
        ("DELETE", "/login"),
        ("PUT", "/login"),
        ("PUT", "/verify"),
        ("GET", "/logout"),
    ] {
        let resp = client.request(method, path, &[], b"");
        assert_eq!(resp.status, 405, "{method} {path}: {}", resp.summary());
    }
}

#[test]
fn login_body_over_64_kib_is_413() {
    let app = TestApp::spawn();
    let client = app.client();
    let token = csrf_in(&client.get("/login").body);
    let padding = "a".repeat(70 * 1024);
    let resp = client.post_form(
        "/login",
        &[
            ("email", "xena@example.com"),
            ("csrf", &token),
            ("ref", &padding),
        ],
    );
    assert_eq!(resp.status, 413, "{}", resp.summary());
    assert_security_headers(&resp, "413 on /login");
    assert_eq!(app.mail.count_to_after("xena@example.com", SETTLE), 0);
    assert_healthy(&app);
}

// ----------------------------------------------------------- hostile input

#[test]
fn hostile_login_input_gets_4xx_and_no_mail() {
    let app = TestApp::spawn();
    let client = app.client();
    let token = csrf_in(&client.get("/login").body);
    let origin = app.origin();
    let form_headers = [
        ("Content-Type", "application/x-www-form-urlencoded"),
        ("Origin", origin.as_str()),
    ];

    let encoded = [
        (
            "CRLF in email",
            crate::support::form_encode(&[("email", "a@b.c\r\nBcc: x@y.z"), ("csrf", &token)]),
        ),
        (
            "NUL in email",
            crate::support::form_encode(&[("email", "a\0b@example.com"), ("csrf", &token)]),
        ),
        (
            "two email fields",
            crate::support::form_encode(&[
                ("email", "one@example.com"),
                ("email", "two@example.com"),
                ("csrf", &token),
            ]),
        ),
        (
            "percent-encoded non-UTF-8",
            format!("email=caf%E9%FF%40example.com&csrf={token}"),
        ),
    ];
    for (what, body) in &encoded {
        let resp = client.request("POST", "/login", &form_headers, body.as_bytes());
        assert!(
            (400..500).contains(&resp.status),
            "{what}: {}",
            resp.summary()
        );
    }
    let mut raw_bytes = b"email=caf\xe9\xff@example.com&csrf=".to_vec();
    raw_bytes.extend_from_slice(token.as_bytes());
    let resp = client.request("POST", "/login", &form_headers, &raw_bytes);
    assert!(
        (400..500).contains(&resp.status),
        "raw non-UTF-8 body: {}",
        resp.summary()
    );

    std::thread::sleep(SETTLE);
    assert!(
        app.mail.all().is_empty(),
        "hostile input was mailed: {:?}",
        app.mail.all()
    );
    assert_healthy(&app);
}

#[test]
fn ten_kb_ref_is_refused_without_mail() {
    let app = TestApp::spawn();
    let client = app.client();
    let token = csrf_in(&client.get("/login").body);
    let long_ref = "r".repeat(10 * 1024);
    let resp = client.post_form(
        "/login",
        &[
            ("email", "yuri@example.com"),
            ("ref", &long_ref),
            ("csrf", &token),
        ],
    );
    assert!(
        (400..500).contains(&resp.status),
        "10 KB ref: {}",
        resp.summary()
    );
    assert_eq!(
        app.mail.count_to_after("yuri@example.com", SETTLE),
        0,
        "mailed despite a 10 KB ref"
    );
    assert_healthy(&app);
}

#[test]
fn garbage_requests_do_not_stop_the_server() {
    let app = TestApp::spawn();
    let long_header = format!(
        "GET /login HTTP/1.1\r\nHost: x\r\nX-Long: {}\r\n\r\n",
        "h".repeat(200 * 1024)
    );
    let attacks: [&[u8]; 5] = [
        b"\x00\xff\xfe garbage\r\n\r\n",
        b"GET /login HTTP/1.1\r\nHost: x\r\n",
        b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
        b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab",
        long_header.as_bytes(),
    ];
    thread::scope(|s| {
        for attack in attacks {
            let addr = app.addr();
            s.spawn(move || raw(addr, attack));
        }
        // While those hang around, the server still answers.
        thread::sleep(Duration::from_millis(200));
        assert_healthy(&app);
    });
    assert_healthy(&app);
}

// ------------------------------------------------------------------- logs

#[test]
fn log_never_holds_a_code_token_or_cookie() {
    let app = TestApp::spawn();
    let client = app.client();
    let login = client.get("/login");
    let login_csrf = csrf_in(&login.body);
    let sent = client.post_form(
        "/login",
        &[("email", "zoe@example.com"), ("csrf", &login_csrf)],
    );
    assert!(sent.is_see_other_to("/verify"), "{}", sent.summary());
    let pending = client.cookie("pending").unwrap();
    let code = app.code_for("zoe@example.com");
    let verify_csrf = verify_csrf(&client);
    let done = client.post_form("/verify", &[("code", &code), ("csrf", &verify_csrf)]);
    assert!(done.is_see_other_to("/"), "{}", done.summary());
    let session = client.cookie("session").unwrap();
    let logout_csrf = signed_in_csrf(&client);
    let out = client.post_form("/logout", &[("csrf", &logout_csrf)]);
    assert!(out.is_see_other_to("/"), "{}", out.summary());
    thread::sleep(Duration::from_millis(200));

    let log = app.log();
    assert!(
        log.contains("/verify"),
        "no request lines in the log:\n{log}"
    );
    assert!(
        !contains_code(&log, &code),
        "the code {code} is in the log:\n{log}"
    );
    assert!(
        !log.contains(&pending),
        "the pending cookie is in the log:\n{log}"
    );
    assert!(
        !log.contains(&session),
        "the session cookie is in the log:\n{log}"
    );
    for token in [&login_csrf, &verify_csrf, &logout_csrf] {
        assert!(
            token.len() < 16 || !log.contains(token.as_str()),
            "a csrf token is in the log:\n{log}"
        );
    }
}
