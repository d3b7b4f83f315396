//! The referral code, `GET /api/me` and the settings page (SPEC §4
//! "GET /settings", "GET /api/me").

use super::*;

#[test]
fn referral_code_is_assigned_at_sign_up_and_stays() {
    let app = TestServer::new().spawn();
    let alice = app.client();
    sign_in(&app, &alice, "alice@example.com");
    let first = stored_code(&app, "alice@example.com").expect("a code from sign-up on");
    for _ in 0..3 {
        assert_eq!(code_on_page(&settings(&alice).body), first);
        assert_eq!(api_me(&alice)["referral"]["code"], first.as_str());
    }
    let bob = app.client();
    sign_in(&app, &bob, "bob@example.com");
    let bobs = stored_code(&app, "bob@example.com").expect("a code from sign-up on");
    assert_ne!(bobs, first, "two users, one code");
    for code in [&first, &bobs] {
        assert_eq!(code.len(), 8);
        assert!(code.chars().all(|c| ALPHABET.contains(c)), "{code}");
    }
}

/// An account from before referral codes (SPEC §3: no backfill) gets its
/// code at its next sign-in, never from a GET (SPEC §11).
#[test]
fn an_account_without_a_code_gets_one_at_its_next_sign_in_not_on_a_visit() {
    let app = TestServer::new().spawn();
    let old = app.client();
    sign_in(&app, &old, "old@example.com");
    app.db()
        .execute(
            "UPDATE users SET referral_code = NULL WHERE email = 'old@example.com'",
            [],
        )
        .unwrap();
    let page = settings(&old).body;
    assert!(page.contains("come with your next sign-in"), "{page}");
    assert!(api_me(&old)["referral"]["code"].is_null());
    assert_eq!(stored_code(&app, "old@example.com"), None, "a GET wrote");

    // The next sign-in, past the minute between codes.
    app.db()
        .execute(
            "UPDATE login_codes SET created_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-2 hours')",
            [],
        )
        .unwrap();
    let again = app.client();
    sign_in(&app, &again, "old@example.com");
    let code = stored_code(&app, "old@example.com").expect("given at sign-in");
    assert_eq!(code_on_page(&settings(&again).body), code);
}

#[test]
fn api_me_has_the_documented_shape() {
    let app = TestServer::new().spawn();
    let client = app.client();
    sign_in(&app, &client, "fay@example.com");
    let resp = client.get("/api/me");
    assert_eq!(resp.status, 200, "{}", resp.summary());
    let content_type = resp.header("content-type").unwrap_or("");
    assert!(
        content_type.starts_with("application/json"),
        "Content-Type {content_type:?}"
    );
    let me: Value = serde_json::from_str(&resp.body).unwrap();

    let keys = |v: &Value| {
        let mut k: Vec<String> = v.as_object().expect("an object").keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(keys(&me), ["billing", "email", "paid", "referral", "tier"]);
    assert!(me["billing"].is_null(), "no subscription: {me}");
    assert_eq!(
        keys(&me["paid"]),
        ["active", "days_remaining", "expires_at", "source"]
    );
    assert_eq!(
        keys(&me["referral"]),
        [
            "active_credits",
            "code",
            "converted",
            "invite_url",
            "pending",
            "rewards"
        ]
    );
    assert_eq!(me["referral"]["rewards"], serde_json::json!([]));

    assert_eq!(me["email"], "fay@example.com");
    assert_eq!(me["tier"], "free");
    assert_eq!(me["paid"]["active"], false);
    assert!(me["paid"]["source"].is_null(), "{me}");
    assert!(me["paid"]["expires_at"].is_null(), "{me}");
    assert!(me["paid"]["days_remaining"].is_null(), "{me}");
    let referral = &me["referral"];
    let code = referral["code"].as_str().expect("code is a string");
    assert_eq!(
        referral["invite_url"],
        format!("{}/login?ref={code}", app.base_url()).as_str()
    );
    for key in ["pending", "converted", "active_credits"] {
        assert!(referral[key].is_i64(), "{key} is not an integer: {me}");
        assert_eq!(referral[key], 0);
    }
}

#[test]
fn settings_signed_out_redirects_to_login() {
    let app = TestServer::new().spawn();
    let resp = app.client().get("/settings");
    assert!(resp.is_see_other_to("/login"), "{}", resp.summary());
}

#[test]
fn settings_shows_plan_and_upgrade_hint_for_a_free_user() {
    let app = TestServer::new().spawn();
    let client = app.client();
    sign_in(&app, &client, "gus@example.com");
    let page = settings(&client);
    assert_eq!(text_of(&page.body, r#"data-testid="tier-badge""#), "free");
    assert!(
        page.body.contains("upgrade-hint"),
        "no upgrade hint for a free user:\n{}",
        page.body
    );
    assert!(
        page.body.contains(r#"href="/settings""#),
        "no Settings link in the top bar:\n{}",
        page.body
    );
    let cache = page.header("cache-control").unwrap_or("");
    assert!(
        cache.contains("no-store"),
        "Cache-Control {cache:?} on a personal page"
    );
}
