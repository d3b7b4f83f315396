//! Pages as they render (SPEC §4 "GET /settings", §8 headers): what the
//! settings page shows, the top bar on an error page, and the security
//! headers on every kind of answer.

use super::*;
use crate::support::{assert_security_headers, html_unescape, json_of, link, text_of};

#[test]
fn settings_shows_the_referral_code_chip_and_the_invite_link() {
    let app = app();
    let session = signed_in(&app, "erin@example.com");
    let page = send(&app, get("/settings").with_session(&session));
    assert_eq!(page.status, 200, "{}", page.summary());
    let code = text_of(&page.body, r#"data-testid="referral-code""#);
    assert_eq!(code.len(), 8, "code {code:?}");
    assert!(
        code.bytes()
            .all(|b| b"ABCDEFGHJKMNPQRSTUVWXYZ23456789".contains(&b)),
        "code {code:?} has a character outside the alphabet"
    );
    let link = invite_link(&page.body)
        .unwrap_or_else(|| panic!("no invite link in the page:\n{}", page.body));
    assert_eq!(link, format!("{}/login?ref={code}", app.base_url()));
    // The same code and link as the API gives, and the same on every visit.
    let me = json_of(&send(&app, get("/api/me").with_session(&session)));
    assert_eq!(me["referral"]["code"], code.as_str());
    assert_eq!(me["referral"]["invite_url"], link.as_str());
    let again = send(&app, get("/settings").with_session(&session));
    assert_eq!(text_of(&again.body, r#"data-testid="referral-code""#), code);
    assert_eq!(
        text_of(&page.body, r#"data-testid="tier-badge""#).to_lowercase(),
        "free"
    );
}

/// The `value` of `<input id="invite-link" …>`.
fn invite_link(html: &str) -> Option<String> {
    let at = html.find("id=\"invite-link\"")?;
    let start = html[..at].rfind("<input")?;
    let tag = &html[start..start + html[start..].find('>')?];
    let value_at = tag.find("value=\"")? + "value=\"".len();
    let value_end = value_at + tag[value_at..].find('"')?;
    Some(html_unescape(&tag[value_at..value_end]))
}

#[test]
fn every_kind_of_answer_has_the_security_headers() {
    let app = app();
    let session = signed_in(&app, "fay@example.com");
    let answers = [
        ("GET / (page)", get("/")),
        (
            "GET /settings (signed-in page)",
            get("/settings").with_session(&session),
        ),
        ("GET /api/me (JSON)", get("/api/me").with_session(&session)),
        ("GET /healthz", get("/healthz")),
        ("GET /settings signed out (303)", get("/settings")),
        ("GET /nope (404)", get("/nope")),
        ("GET /api/nope (404 JSON)", get("/api/nope")),
        ("DELETE /login (405)", request("DELETE", "/login")),
        (
            "POST /login without a token (403)",
            request("POST", "/login").with_form(&[("email", "a@example.com")]),
        ),
    ];
    for (what, req) in answers {
        let resp = send(&app, req);
        assert_security_headers(&resp, what);
        assert_eq!(
            resp.header("x-frame-options"),
            Some("DENY"),
            "{what}: {}",
            resp.summary()
        );
        let cache = resp.header("cache-control").unwrap_or("");
        assert!(
            cache.contains("no-store"),
            "{what}: Cache-Control {cache:?}"
        );
    }
}

#[test]
fn a_405_for_a_signed_in_person_keeps_the_signed_in_top_bar() {
    let app = app();
    let resp = send(&app, request("PUT", "/portfolio"));
    assert_eq!(resp.status, 405, "{}", resp.summary());
    assert!(
        link(&resp.body, "/login").is_some(),
        "signed out: a Sign in link"
    );

    let session = signed_in(&app, "lost@example.com");
    for (method, path, status) in [("PUT", "/portfolio", 405), ("GET", "/nowhere", 404)] {
        let resp = send(&app, request(method, path).with_session(&session));
        assert_eq!(resp.status, status, "{method} {path}: {}", resp.summary());
        assert!(resp.body.contains("Error "), "{}", resp.body);
        for href in ["/portfolio", "/settings"] {
            assert!(
                link(&resp.body, href).is_some(),
                "{method} {path}: no {href} link"
            );
        }
        assert!(
            resp.body.contains("action=\"/logout\""),
            "{method} {path}: no Sign out"
        );
        assert!(
            link(&resp.body, "/login").is_none(),
            "{method} {path}: a Sign in link"
        );
    }
}
