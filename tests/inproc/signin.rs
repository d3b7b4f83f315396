//! The sign-in forms' refusals that are handler logic (SPEC §4 "Sign-in",
//! §8): the Origin an https base URL expects, forged session cookies, and
//! hostile input to `POST /login`, none of which issues a code.

use super::*;

fn codes_issued(app: &InProcess) -> i64 {
    count(app, "SELECT count(*) FROM login_codes")
}

/// `POST /login` with this exact body, from the app's own site, as the
/// visitor with this cookie.
fn login_with_body(app: &InProcess, visitor: &str, body: &[u8]) -> Resp {
    let req = request("POST", "/login")
        .with_cookie(visitor)
        .with_header("content-type", "application/x-www-form-urlencoded")
        .with_header("origin", app.base_url());
    send(
        app,
        Req {
            body: body.to_vec(),
            ..req
        },
    )
}

#[test]
fn https_base_url_is_the_origin_the_csrf_check_expects() {
    let app = app_with(&[("APP_BASE_URL", "https://app.example")]);
    let (token, visitor) = visitor_form(&app, "/login");
    assert!(visitor.starts_with("__Host-"), "{visitor}");
    let fields = [("email", "quinn@example.com"), ("csrf", token.as_str())];
    let login = || {
        request("POST", "/login")
            .with_cookie(&visitor)
            .with_form(&fields)
    };
    let wrong_scheme = send(&app, login().with_header("Origin", "http://app.example"));
    assert_eq!(wrong_scheme.status, 403, "{}", wrong_scheme.summary());
    assert_eq!(codes_issued(&app), 0);
    let right = send(&app, login().with_header("Origin", "https://app.example"));
    assert!(right.is_see_other_to("/verify"), "{}", right.summary());
}

#[test]
fn tampered_session_cookie_counts_as_signed_out() {
    let app = app();
    let session = signed_in(&app, "tess@example.com");
    let (token, visitor) = visitor_form(&app, "/login");
    let fields = [("email", "uma@example.com"), ("csrf", token.as_str())];
    let login = request("POST", "/login").with_cookie(&visitor);
    let pending = send(&app, login.with_form(&fields));
    let pending = pending
        .set_cookie("pending")
        .map(|line| crate::support::cookie_pair(line).1.to_string())
        .unwrap_or_else(|| panic!("no pending cookie: {}", pending.summary()));
    let mut flipped = session.clone().into_bytes();
    flipped[session.len() / 2] ^= 1;
    let forgeries = [
        String::from_utf8(flipped).unwrap(),
        session[..session.len() - 1].to_string(),
        format!("{session}A"),
        "junk".to_string(),
        pending,
    ];
    for forged in &forgeries {
        let page = send(&app, get("/portfolio").with_session(forged));
        assert!(
            page.is_see_other_to("/login"),
            "session {forged:?}: {}",
            page.summary()
        );
        let home = send(&app, get("/").with_session(forged));
        assert_eq!(home.status, 200, "{forged:?} on /: {}", home.summary());
    }
    let real = send(&app, get("/portfolio").with_session(&session));
    assert_eq!(real.status, 200, "the real session stopped working");
}

#[test]
fn hostile_login_input_gets_4xx_and_no_code() {
    let app = app();
    let (token, visitor) = visitor_form(&app, "/login");
    let encoded = [
        (
            "CRLF in email",
            form_encode(&[("email", "a@b.c\r\nBcc: x@y.z"), ("csrf", &token)]),
        ),
        (
            "NUL in email",
            form_encode(&[("email", "a\0b@example.com"), ("csrf", &token)]),
        ),
        (
            "two email fields",
            form_encode(&[
                ("email", "one@example.com"),
                ("email", "two@example.com"),
                ("csrf", &token),
            ]),
        ),
        (
            "percent-encoded non-UTF-8",
            format!("email=caf%E9%FF%40example.com&csrf={token}"),
        ),
        (
            "a 10 KB ref",
            form_encode(&[
                ("email", "yuri@example.com"),
                ("ref", &"r".repeat(10 * 1024)),
                ("csrf", &token),
            ]),
        ),
    ];
    for (what, body) in &encoded {
        let resp = login_with_body(&app, &visitor, body.as_bytes());
        assert!(
            (400..500).contains(&resp.status),
            "{what}: {}",
            resp.summary()
        );
    }
    let mut raw = b"email=caf\xe9\xff@example.com&csrf=".to_vec();
    raw.extend_from_slice(token.as_bytes());
    let resp = login_with_body(&app, &visitor, &raw);
    assert!(
        (400..500).contains(&resp.status),
        "raw non-UTF-8: {}",
        resp.summary()
    );
    assert_eq!(codes_issued(&app), 0, "hostile input was given a code");
    // The same form, well formed, goes through.
    let fine = form_encode(&[("email", "yuri@example.com"), ("csrf", &token)]);
    let ok = login_with_body(&app, &visitor, fine.as_bytes());
    assert!(ok.is_see_other_to("/verify"), "{}", ok.summary());
}
