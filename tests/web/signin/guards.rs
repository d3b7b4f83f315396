//! CSRF and Origin checks, cookie flags and tampering, headers, status
//! codes, hostile input, and what the log never holds. The sign-in form's
//! CSRF and Origin refusals, forged session cookies, hostile form input, 404
//! and 405 are checked in-process (`inproc::guards`, `inproc::signin`).

use super::*;

#[test]
fn verify_without_a_valid_csrf_token_or_from_another_site_is_403() {
    let app = TestServer::new().spawn();
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
    let app = TestServer::new().spawn();
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
    let app = TestServer::new().https().spawn();
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
fn tampered_pending_cookie_counts_as_none() {
    let app = TestServer::new().spawn();
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

// ---------------------------------------------------------------- headers

#[test]
fn every_response_has_security_headers() {
    let app = TestServer::new().spawn();
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
    let app = TestServer::new().spawn();
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
fn login_body_over_64_kib_is_413() {
    let app = TestServer::new().spawn();
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
fn garbage_requests_do_not_stop_the_server() {
    let app = TestServer::new().spawn();
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
    let app = TestServer::new().spawn();
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
