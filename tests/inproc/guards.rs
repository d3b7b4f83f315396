//! What stands in front of every handler (SPEC §8): the Origin and
//! Sec-Fetch-Site checks and the CSRF token on anything that changes state,
//! 405 with `Allow`, 404 as JSON or a page, and 401 as a trip to /login.

use super::*;
use crate::support::{assert_security_headers, json_error};

const EVIL: &str = "http://evil.example";

/// `token` with one character changed.
fn tampered(token: &str) -> String {
    let mut chars: Vec<char> = token.chars().collect();
    let at = chars.len() / 2;
    chars[at] = if chars[at] == 'A' { 'B' } else { 'A' };
    chars.into_iter().collect()
}

fn codes_issued(app: &InProcess) -> i64 {
    count(app, "SELECT count(*) FROM login_codes")
}

#[test]
fn login_without_a_valid_csrf_token_is_403() {
    let app = app();
    let (token, visitor) = visitor_form(&app, "/login");
    let (_, other_visitor) = visitor_form(&app, "/login");
    let tampered = tampered(&token);
    let with_token = [("email", "liz@example.com"), ("csrf", token.as_str())];
    let attempts: [(&[(&str, &str)], &str); 5] = [
        (&[("email", "liz@example.com")], &visitor),
        (&[("email", "liz@example.com"), ("csrf", "")], &visitor),
        (
            &[("email", "liz@example.com"), ("csrf", "not-a-token")],
            &visitor,
        ),
        (
            &[("email", "liz@example.com"), ("csrf", &tampered)],
            &visitor,
        ),
        // another visitor's cookie: the token is not theirs
        (&with_token, &other_visitor),
    ];
    for (fields, cookie) in attempts {
        let login = request("POST", "/login").with_cookie(cookie);
        let resp = send(&app, login.with_form(fields));
        assert_eq!(resp.status, 403, "{fields:?}: {}", resp.summary());
        assert!(resp.set_cookie("pending").is_none(), "{}", resp.summary());
        assert_security_headers(&resp, "403 on /login");
    }
    assert_eq!(codes_issued(&app), 0, "a code was issued without a token");
    // The same form with its token and its visitor goes through.
    let login = request("POST", "/login").with_cookie(&visitor);
    let ok = send(&app, login.with_form(&with_token));
    assert!(ok.is_see_other_to("/verify"), "{}", ok.summary());
    assert_eq!(codes_issued(&app), 1);
}

#[test]
fn login_from_another_site_is_403() {
    let app = app();
    let (token, visitor) = visitor_form(&app, "/login");
    let fields = [("email", "max@example.com"), ("csrf", token.as_str())];
    let login = || {
        request("POST", "/login")
            .with_cookie(&visitor)
            .with_form(&fields)
    };
    let evil = send(&app, login().with_header("Origin", EVIL));
    assert_eq!(evil.status, 403, "Origin evil: {}", evil.summary());
    let cross = send(&app, login().with_header("Sec-Fetch-Site", "cross-site"));
    assert_eq!(cross.status, 403, "Sec-Fetch-Site: {}", cross.summary());
    assert_eq!(
        codes_issued(&app),
        0,
        "a code was issued on a cross-site post"
    );
    let own = send(
        &app,
        login()
            .with_header("Origin", app.base_url())
            .with_header("Sec-Fetch-Site", "same-origin"),
    );
    assert!(own.is_see_other_to("/verify"), "{}", own.summary());
}

#[test]
fn a_signed_in_form_needs_its_own_sessions_token_and_this_site() {
    let app = app();
    let session = signed_in(&app, "ann@example.com");
    let other = signed_in(&app, "bob@example.com");
    let token = csrf_of(&app, "/portfolio", &session);
    let others_token = csrf_of(&app, "/portfolio", &other);
    let (anon_token, _) = visitor_form(&app, "/login");
    let save = |csrf: Option<&str>| {
        let mut fields = vec![("symbol", "AAPL"), ("quantity", "1"), ("price", "2")];
        fields.extend(csrf.map(|t| ("csrf", t)));
        request("POST", "/portfolio/holdings")
            .with_session(&session)
            .with_form(&fields)
    };
    let refused = [
        ("no token", save(None)),
        ("another session's token", save(Some(&others_token))),
        ("the signed-out token", save(Some(&anon_token))),
        ("a tampered token", save(Some(&tampered(&token)))),
        (
            "from another site",
            save(Some(&token)).with_header("Origin", EVIL),
        ),
        (
            "Sec-Fetch-Site cross-site",
            save(Some(&token)).with_header("Sec-Fetch-Site", "cross-site"),
        ),
    ];
    for (what, req) in refused {
        let resp = send(&app, req);
        assert_eq!(resp.status, 403, "{what}: {}", resp.summary());
        assert!(
            resp.header("content-type")
                .is_some_and(|t| t.starts_with("text/html")),
            "{what}: a form's 403 is a page: {}",
            resp.summary()
        );
    }
    assert_eq!(count(&app, "SELECT count(*) FROM holdings"), 0);
    let ok = send(
        &app,
        save(Some(&token)).with_header("Origin", app.base_url()),
    );
    assert!(ok.is_see_other_to("/portfolio"), "{}", ok.summary());
    assert_eq!(count(&app, "SELECT count(*) FROM holdings"), 1);

    // The delete form too: without its token, or from another site.
    let delete = |csrf: Option<&str>| {
        let fields: Vec<(&str, &str)> = csrf.map(|t| ("csrf", t)).into_iter().collect();
        request("POST", "/portfolio/holdings/AAPL/delete")
            .with_session(&session)
            .with_form(&fields)
    };
    for (what, req) in [
        ("delete without a token", delete(None)),
        ("delete with a forged token", delete(Some("forged"))),
        (
            "delete from another site",
            delete(Some(&token)).with_header("Origin", EVIL),
        ),
    ] {
        let resp = send(&app, req);
        assert_eq!(resp.status, 403, "{what}: {}", resp.summary());
    }
    assert_eq!(
        count(&app, "SELECT count(*) FROM holdings"),
        1,
        "a refused delete removed the holding"
    );
}

#[test]
fn logout_without_its_token_is_403_and_keeps_the_session() {
    let app = app();
    let session = signed_in(&app, "frank@example.com");
    for fields in [&[][..], &[("csrf", "forged")][..]] {
        let out = send(
            &app,
            request("POST", "/logout")
                .with_session(&session)
                .with_form(fields),
        );
        assert_eq!(out.status, 403, "{fields:?}: {}", out.summary());
    }
    let still = send(&app, get("/portfolio").with_session(&session));
    assert_eq!(
        still.status,
        200,
        "the session ended without a valid csrf token: {}",
        still.summary()
    );
}

#[test]
fn the_json_api_refuses_a_stale_token_and_other_sites() {
    let app = app();
    let session = signed_in(&app, "cat@example.com");
    let token = csrf_of(&app, "/portfolio", &session);
    let body = r#"{"holdings":[{"symbol":"AAPL","quantity":1,"price":2}]}"#;
    let put = || {
        request("PUT", "/api/portfolio")
            .with_session(&session)
            .with_json(body)
    };
    let refused = [
        (
            "a stale token",
            put().with_header("X-CSRF-Token", &tampered(&token)),
        ),
        ("another site", put().with_header("Origin", EVIL)),
        (
            "cross-site",
            put().with_header("Sec-Fetch-Site", "cross-site"),
        ),
    ];
    for (what, req) in refused {
        let resp = send(&app, req);
        let body = json_error(&resp, 403, "forbidden");
        assert!(body.get("reason").is_none(), "{what}: {body}");
    }
    assert_eq!(count(&app, "SELECT count(*) FROM holdings"), 0);
    // The page's script sends its token; a client without one relies on the
    // content type and Origin.
    for req in [put().with_header("X-CSRF-Token", &token), put()] {
        let resp = send(&app, req.with_header("Origin", app.base_url()));
        assert_eq!(resp.status, 200, "{}", resp.summary());
    }
}

#[test]
fn wrong_method_is_405_with_the_methods_that_are_allowed() {
    let app = app();
    for (method, path, allowed) in [
        ("DELETE", "/login", "GET, HEAD, POST"),
        ("PUT", "/login", "GET, HEAD, POST"),
        ("PUT", "/verify", "GET, HEAD, POST"),
        ("GET", "/logout", "POST"),
        ("POST", "/settings", "GET, HEAD"),
        ("DELETE", "/api/portfolio", "GET, HEAD, PUT"),
        ("GET", "/api/analyze", "POST"),
    ] {
        let resp = send(&app, request(method, path));
        assert_eq!(resp.status, 405, "{method} {path}: {}", resp.summary());
        assert_eq!(resp.header("allow"), Some(allowed), "{method} {path}");
        if path.starts_with("/api/") {
            json_error(&resp, 405, "method_not_allowed");
        } else {
            let ctype = resp.header("content-type").unwrap_or("");
            assert!(ctype.starts_with("text/html"), "{method} {path}: {ctype}");
        }
    }
}

#[test]
fn wrong_methods_on_the_portfolio_routes_are_405() {
    // (A GET of the page forms' addresses is a 303 to /portfolio:
    // tests/web/portfolio_form.rs.)
    let app = app();
    let session = signed_in(&app, "methods@example.com");
    for (method, path) in [
        ("DELETE", "/api/portfolio"),
        ("POST", "/api/portfolio"),
        ("PUT", "/portfolio/holdings"),
        ("PUT", "/portfolio/holdings/AAPL/delete"),
    ] {
        let req = request(method, path).with_session(&session).with_json("{}");
        let resp = send(&app, req);
        assert_eq!(resp.status, 405, "{method} {path}: {}", resp.summary());
    }
}

#[test]
fn unknown_path_is_404_json_under_api_and_a_page_elsewhere() {
    let app = app();
    for path in ["/nope", "/login/extra", "/verify.php", "/%2e%2e/etc/passwd"] {
        let resp = send(&app, get(path));
        assert_eq!(resp.status, 404, "{path}: {}", resp.summary());
        let ctype = resp.header("content-type").unwrap_or("");
        assert!(ctype.starts_with("text/html"), "{path}: {ctype}");
        assert!(resp.body.contains("<html"), "{path}: {}", resp.summary());
    }
    for path in ["/api/nothing", "/api/me/extra", "/api/"] {
        json_error(&send(&app, get(path)), 404, "not_found");
    }
}

#[test]
fn signed_out_pages_go_to_login_and_the_api_says_401() {
    let mut app = app();
    let session = signed_in(&app, "dan@example.com");
    let expired_at = app.now().plus(31 * 86_400);
    let signed_out = [None, Some("not-a-session"), Some(session.as_str())];
    for (i, cookie) in signed_out.into_iter().enumerate() {
        if i == 2 {
            // a session past its 30 days
            app.set_now(expired_at);
        }
        let with = |req: Req| match cookie {
            Some(token) => req.with_session(token),
            None => req,
        };
        for page in ["/settings", "/portfolio"] {
            let resp = send(&app, with(get(page)));
            assert!(
                resp.is_see_other_to("/login"),
                "{page} with {cookie:?}: {}",
                resp.summary()
            );
        }
        for api in ["/api/me", "/api/portfolio"] {
            json_error(&send(&app, with(get(api))), 401, "unauthorized");
        }
    }
}

/// SPEC §4 "Origins": with no base URL and a loopback listen address (the
/// defaults), a newcomer may open `localhost`, `127.0.0.1` or `[::1]`.
#[test]
fn with_the_defaults_every_loopback_name_of_the_port_is_this_site() {
    let app = app();
    assert_eq!(app.base_url(), "http://127.0.0.1:8080");
    for (i, origin) in [
        "http://localhost:8080",
        "http://127.0.0.1:8080",
        "http://[::1]:8080",
    ]
    .into_iter()
    .enumerate()
    {
        let (token, visitor) = visitor_form(&app, "/login");
        // One email each: a second code for one mailbox would wait a minute.
        let email = format!("max{i}@example.com");
        let fields = [("email", email.as_str()), ("csrf", token.as_str())];
        let login = request("POST", "/login")
            .with_cookie(&visitor)
            .with_form(&fields)
            .with_header("Origin", origin)
            .with_header("Sec-Fetch-Site", "same-origin");
        let resp = send(&app, login);
        assert!(
            resp.is_see_other_to("/verify"),
            "{origin}: {}",
            resp.summary()
        );
    }
    // Another port, or another host, is still another site; and the page
    // says where to open this one.
    for origin in ["http://localhost:8081", "http://10.0.0.1:8080", EVIL] {
        let (token, visitor) = visitor_form(&app, "/login");
        let fields = [("email", "max@example.com"), ("csrf", token.as_str())];
        let login = request("POST", "/login")
            .with_cookie(&visitor)
            .with_form(&fields)
            .with_header("Origin", origin);
        let resp = send(&app, login);
        assert_eq!(resp.status, 403, "{origin}: {}", resp.summary());
        assert!(
            resp.body.contains("Open the site at http://127.0.0.1:8080"),
            "{origin}: the page names the base URL: {}",
            resp.body
        );
    }
}

/// A base URL that was set is the one origin: behind a proxy `localhost`
/// is not the public site.
#[test]
fn with_a_base_url_set_only_its_origin_is_this_site() {
    let app = app_with(&[("APP_BASE_URL", "http://127.0.0.1:8080")]);
    let (token, visitor) = visitor_form(&app, "/login");
    let fields = [("email", "max@example.com"), ("csrf", token.as_str())];
    let login = request("POST", "/login")
        .with_cookie(&visitor)
        .with_form(&fields)
        .with_header("Origin", "http://localhost:8080");
    let resp = send(&app, login);
    assert_eq!(resp.status, 403, "{}", resp.summary());
    assert_eq!(codes_issued(&app), 0);
}
