//! Invite links (SPEC §6 Referrals): the invited banner on `/login?ref=`,
//! what junk, unknown or overlong codes get, and the base URL in the link.

use super::*;

#[test]
fn invite_link_shows_the_invited_banner_and_carries_the_code() {
    let app = TestServer::new().spawn();
    let (_alice, code) = signed_in_with_code(&app, "alice@example.com");
    assert_eq!(code.len(), 8, "code {code:?}");
    assert!(
        code.chars().all(|c| ALPHABET.contains(c)),
        "code {code:?} outside the alphabet"
    );

    let lower = code.to_lowercase();
    let dashed = format!("{}-{}", &code[..4], &code[4..]);
    let spaced = format!("%20{}%20{}%20", &lower[..4], &lower[4..]);
    let mixed = format!("{}-{}", &lower[..2], &code[2..]);
    for raw in [code.clone(), lower, dashed, spaced, mixed] {
        let visitor = app.client();
        let page = visitor.get(&format!("/login?ref={raw}"));
        assert_invited(&page, &code, &format!("ref={raw}"));
    }
}

#[test]
fn junk_or_unknown_codes_show_no_banner() {
    let app = TestServer::new().spawn();
    let (_alice, code) = signed_in_with_code(&app, "alice@example.com");
    let unknown = unowned_code(&app, &code);
    let too_long = "A".repeat(1000);
    let refs = [
        String::new(),
        "junk".to_string(),
        code[..7].to_string(),
        format!("{code}X"),
        unknown.clone(),
        unknown.to_lowercase(),
        too_long,
        "%3Cscript%3Ealert(1)%3C%2Fscript%3E".to_string(),
        "%FF%FE".to_string(),
    ];
    for raw in &refs {
        let page = app.client().get(&format!("/login?ref={raw}"));
        assert_not_invited(&page, &format!("ref={raw:.40}"));
    }
    assert_not_invited(&app.client().get("/login"), "no ref at all");
}

#[test]
fn ref_longer_than_64_bytes_is_400_without_mail() {
    let app = TestServer::new().spawn();
    let client = app.client();
    let csrf = csrf_in(&client.get("/login").body);
    let long_ref = "ABCDEFGH".repeat(8) + "J";
    let resp = client.post_form(
        "/login",
        &[
            ("email", "ben@example.com"),
            ("ref", &long_ref),
            ("csrf", &csrf),
        ],
    );
    assert_eq!(
        resp.status,
        400,
        "a {}-byte ref: {}",
        long_ref.len(),
        resp.summary()
    );
    assert_eq!(
        app.mail.count_to_after("ben@example.com", SETTLE),
        0,
        "mailed despite a long ref"
    );
}

#[test]
fn invite_link_uses_the_base_url() {
    let app = TestServer::new()
        .base_url("https://invest.example.test")
        .spawn();
    let client = app.client();
    sign_in(&app, &client, "hal@example.com");
    let page = settings(&client);
    let code = code_on_page(&page.body);
    let want = format!("https://invest.example.test/login?ref={code}");
    assert_eq!(
        invite_link_on_page(&page.body),
        want,
        "the link on /settings"
    );
    assert_eq!(
        api_me(&client)["referral"]["invite_url"],
        want.as_str(),
        "/api/me invite_url"
    );
}
