//! CSRF and Origin checks, cookie flags and tampering, headers, status
//! codes, hostile input, and what the log never holds.

use super::*;

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
