//! Who gets referred (SPEC §6 Referrals): a new friend by an invite becomes
//! a pending referral; an existing user, oneself (through an alias) and a
//! second referrer do not; an unknown code is ignored.

use super::*;

#[test]
fn invited_friend_becomes_a_pending_referral() {
    let app = TestServer::new().spawn();
    let (alice, code) = signed_in_with_code(&app, "alice@example.com");
    let page = settings(&alice);
    assert!(
        page.body.contains("alice@example.com"),
        "settings without the email:\n{}",
        page.body
    );
    let link = invite_link_on_page(&page.body);
    assert_eq!(link, format!("{}/login?ref={code}", app.base_url()));
    assert!(
        page.body.contains(r#"data-copy="invite-link""#),
        "no Copy button:\n{}",
        page.body
    );
    assert_eq!(stat(&page.body, "Pending"), 0);

    let bob = app.client();
    let landing = bob.get(&path_of(&link));
    assert_invited(&landing, &code, "Bob opening Alice's link");
    sign_in_from(&app, &bob, &path_of(&link), "bob@example.com");

    let (alice_id, bob_id) = (
        user_id(&app, "alice@example.com"),
        user_id(&app, "bob@example.com"),
    );
    assert_eq!(referral_rows(&app), vec![(alice_id, bob_id)]);
    assert_eq!(referred_by(&app, "bob@example.com"), Some(alice_id));
    assert_eq!(referred_by(&app, "alice@example.com"), None);
    let (converted, credited): (Option<String>, Option<String>) = app
        .db()
        .query_row("SELECT converted_at, credited_at FROM referrals", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(
        (converted, credited),
        (None, None),
        "billing fills these, not sign-in"
    );

    let page = settings(&alice);
    assert_eq!(stat(&page.body, "Pending"), 1);
    assert_eq!(stat(&page.body, "Converted"), 0);
    assert_eq!(stat(&page.body, "Active credits"), 0);
    let me = api_me(&alice);
    assert_eq!(me["referral"]["pending"], 1);
    assert_eq!(me["referral"]["converted"], 0);
    // Bob invited nobody.
    assert_eq!(api_me(&bob)["referral"]["pending"], 0);
}

#[test]
fn existing_user_following_an_invite_is_not_referred() {
    let app = TestServer::new().spawn();
    let (_alice, code) = signed_in_with_code(&app, "alice@example.com");
    let bob = app.client();
    sign_in(&app, &bob, "bob@example.com");

    let again = app.client();
    sign_in_from(
        &app,
        &again,
        &format!("/login?ref={code}"),
        "bob@example.com",
    );
    assert_eq!(referral_rows(&app), vec![]);
    assert_eq!(referred_by(&app, "bob@example.com"), None);
    assert_eq!(
        app.query_i64("SELECT count(*) FROM users WHERE email = 'bob@example.com'"),
        1
    );
}

#[test]
fn self_referral_is_ignored_even_through_an_alias() {
    let app = TestServer::new().spawn();
    let (_alice, code) = signed_in_with_code(&app, "alice@gmail.com");
    let link = format!("/login?ref={code}");

    // Alice following her own link.
    sign_in_from(&app, &app.client(), &link, "alice@gmail.com");
    // The same mailbox under another spelling is a new account, but not a referral.
    sign_in_from(&app, &app.client(), &link, "a.lice+x@googlemail.com");
    sign_in_from(&app, &app.client(), &link, "Alice+promo@gmail.com");

    assert_eq!(
        app.query_i64("SELECT count(*) FROM users"),
        3,
        "alice and her two alias accounts"
    );
    assert_eq!(referral_rows(&app), vec![]);
    assert_eq!(referred_by(&app, "alice@gmail.com"), None);
    assert_eq!(referred_by(&app, "a.lice+x@googlemail.com"), None);
}

#[test]
fn a_user_is_referred_only_once() {
    let app = TestServer::new().spawn();
    let (_alice, alice_code) = signed_in_with_code(&app, "alice@example.com");
    let (_carol, carol_code) = signed_in_with_code(&app, "carol@example.com");
    sign_in_from(
        &app,
        &app.client(),
        &format!("/login?ref={alice_code}"),
        "bob@example.com",
    );
    sign_in_from(
        &app,
        &app.client(),
        &format!("/login?ref={carol_code}"),
        "bob@example.com",
    );

    let (alice_id, bob_id) = (
        user_id(&app, "alice@example.com"),
        user_id(&app, "bob@example.com"),
    );
    assert_eq!(referral_rows(&app), vec![(alice_id, bob_id)]);
    assert_eq!(referred_by(&app, "bob@example.com"), Some(alice_id));
}

#[test]
fn unknown_code_is_ignored_silently() {
    let app = TestServer::new().spawn();
    let (_alice, code) = signed_in_with_code(&app, "alice@example.com");
    let unknown = unowned_code(&app, &code);
    // A form that carries a code nobody owns (a stale or forged link).
    let client = app.client();
    let csrf = csrf_in(&client.get("/login").body);
    let sent = client.post_form(
        "/login",
        &[
            ("email", "dan@example.com"),
            ("ref", &unknown),
            ("csrf", &csrf),
        ],
    );
    assert!(sent.is_see_other_to("/verify"), "{}", sent.summary());
    enter_emailed_code(&app, &client, "dan@example.com");
    // And one through the link itself, with junk.
    sign_in_from(
        &app,
        &app.client(),
        "/login?ref=not-a-code",
        "erin@example.com",
    );

    assert_eq!(
        app.query_i64("SELECT count(*) FROM users"),
        3,
        "accounts still created"
    );
    assert_eq!(referral_rows(&app), vec![]);
    assert_eq!(referred_by(&app, "dan@example.com"), None);
    assert_eq!(referred_by(&app, "erin@example.com"), None);
}
