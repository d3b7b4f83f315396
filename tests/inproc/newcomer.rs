//! What a newcomer and their first customers see (issue 21): every GET is
//! read-only (SPEC §11), and with billing off the pages name
//! `APP_SUPPORT_EMAIL` and promise no referral discount (SPEC §4).

use super::*;
use crate::support::{html_unescape, json_of, text_of};

/// The text of the element that starts with `attr`, up to `end`, tags dropped.
fn text_within(html: &str, attr: &str, end: &str) -> String {
    let at = html
        .find(attr)
        .unwrap_or_else(|| panic!("no {attr}: {html}"));
    let start = at + html[at..].find('>').expect("the tag ends") + 1;
    let stop = start + html[start..].find(end).expect("the element ends");
    let mut text = String::new();
    let mut in_tag = false;
    for c in html[start..stop].chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    html_unescape(text.trim())
}

/// Every GET route, signed in (and the signed-out ones), as a browser asks.
fn every_get(session: &str, code: &str) -> Vec<Req> {
    let signed_in = [
        "/",
        "/portfolio",
        "/portfolio/holdings",
        "/portfolio/holdings/AAPL/delete",
        "/settings",
        "/account/export",
        "/api/me",
        "/api/portfolio",
    ];
    let signed_out = [
        "/".to_string(),
        "/healthz".to_string(),
        "/metrics".to_string(),
        "/favicon.ico".to_string(),
        "/assets/app.nope.css".to_string(),
        "/login".to_string(),
        format!("/login?ref={code}"),
        "/verify".to_string(),
        "/api/verify-status".to_string(),
    ];
    signed_in
        .iter()
        .map(|p| get(p).with_session(session))
        .chain(signed_out.iter().map(|p| get(p)))
        .collect()
}

#[test]
fn every_get_is_read_only_even_for_an_account_without_a_referral_code() {
    let app = app();
    let inviter = signed_in(&app, "inviter@example.com");
    let code = text_of(
        &send(&app, get("/settings").with_session(&inviter)).body,
        r#"data-testid="referral-code""#,
    );
    // An account from before referral codes, signed in then: no code yet.
    let session = signed_in(&app, "old@example.com");
    app.db()
        .execute(
            "UPDATE users SET referral_code = NULL WHERE email = 'old@example.com'",
            [],
        )
        .unwrap();
    // A pending sign-in, so GET /verify shows its form.
    let (token, visitor) = visitor_form(&app, "/login");
    let login = request("POST", "/login")
        .with_cookie(&visitor)
        .with_form(&[("email", "new@example.com"), ("csrf", &token)]);
    let pending = send(&app, login);
    assert!(pending.is_see_other_to("/verify"), "{}", pending.summary());
    let pending_cookie = pending
        .set_cookie("pending")
        .map(|line| line.split(';').next().unwrap_or("").to_string())
        .expect("a pending cookie");

    // From here on the database refuses writes: a GET that writes fails.
    app.db().execute_batch("PRAGMA query_only = ON").unwrap();
    let before = app.db().total_changes();
    let mut gets = every_get(&session, &code);
    gets.push(get("/verify").with_cookie(&pending_cookie));
    for req in gets {
        let what = format!("GET {}?{}", req.path, req.query);
        let resp = send(&app, req);
        assert!(
            resp.status < 500,
            "{what} wrote to a read-only database: {}",
            resp.summary()
        );
    }
    assert_eq!(app.db().total_changes(), before, "no GET changed a row");
    app.db().execute_batch("PRAGMA query_only = OFF").unwrap();

    let me = json_of(&send(&app, get("/api/me").with_session(&session)));
    assert!(me["referral"]["code"].is_null(), "{me}");
    assert!(me["referral"]["invite_url"].is_null(), "{me}");
}

#[test]
fn a_new_account_has_its_referral_code_from_sign_up() {
    let app = app();
    let session = signed_in(&app, "fresh@example.com");
    app.db().execute_batch("PRAGMA query_only = ON").unwrap();
    let me = json_of(&send(&app, get("/api/me").with_session(&session)));
    let code = me["referral"]["code"].as_str().expect("a code at once");
    assert_eq!(code.len(), 8, "{me}");
    assert_eq!(
        me["referral"]["invite_url"],
        format!("{}/login?ref={code}", app.base_url()).as_str()
    );
}

const DISCOUNT_WORDS: [&str; 3] = ["50%", "half price", "50 %"];

#[test]
fn with_billing_off_the_pages_name_the_support_address_and_promise_no_discount() {
    let shop = app_with(&[("APP_SUPPORT_EMAIL", "help@shop.example")]);
    let session = signed_in(&shop, "free@example.com");
    let settings = send(&shop, get("/settings").with_session(&session));
    assert_eq!(settings.status, 200, "{}", settings.summary());
    let code = text_of(&settings.body, r#"data-testid="referral-code""#);
    assert!(
        settings.body.contains("mailto:help@shop.example"),
        "the upgrade hint says whom to write to: {}",
        settings.body
    );
    let portfolio = send(&shop, get("/portfolio").with_session(&session));
    assert!(portfolio.body.contains("mailto:help@shop.example"));
    let pages = [
        ("/settings", settings.body),
        ("/portfolio", portfolio.body),
        ("/", send(&shop, get("/")).body),
        (
            "/login?ref",
            send(&shop, get(&format!("/login?ref={code}"))).body,
        ),
    ];
    for (path, body) in pages {
        for words in DISCOUNT_WORDS {
            assert!(
                !body.contains(words),
                "{path} promises a discount with billing off ({words}): {body}"
            );
        }
    }
    // Unset, the support address is the sender's.
    let app = app();
    let session = signed_in(&app, "free@example.com");
    let settings = send(&app, get("/settings").with_session(&session)).body;
    assert!(settings.contains("mailto:no-reply@localhost"), "{settings}");
}

#[test]
fn a_credit_reads_as_one_statement_with_its_exact_badge() {
    let app = app();
    let session = signed_in(&app, "credit@example.com");
    let until = app.now().plus(30 * 86_400);
    app.db()
        .execute(
            "UPDATE users SET credit_until = ?1 WHERE email = 'credit@example.com'",
            [until.to_string()],
        )
        .unwrap();
    let body = send(&app, get("/settings").with_session(&session)).body;
    let plan = text_within(&body, r#"data-testid="plan""#, "</dd>");
    assert!(
        plan.starts_with("free · credit · 30 days remaining (expires 2026-12-26)"),
        "SPEC's badge text, first: {plan}"
    );
    assert!(
        plan.contains("paid features are on, complimentary, until 26 Dec"),
        "then what it means, in the same statement: {plan}"
    );
    let account = &body[body.find("<h2>Account</h2>").expect("the card")..];
    let before_plan = &account[..account.find("data-testid=\"plan\"").expect("the plan")];
    assert!(
        !before_plan.contains("Paid features"),
        "nothing above the badge says otherwise: {before_plan}"
    );
}
