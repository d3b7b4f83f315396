//! The referral code, `GET /api/me` and the settings page (SPEC §4
//! "GET /settings", "GET /api/me").

use super::*;

#[test]
fn referral_code_is_assigned_on_first_visit_and_stays() {
    let app = TestServer::new().spawn();
    let alice = app.client();
    sign_in(&app, &alice, "alice@example.com");
    assert_eq!(
        stored_code(&app, "alice@example.com"),
        None,
        "a code before any visit"
    );

    let first = code_on_page(&settings(&alice).body);
    assert_eq!(
        stored_code(&app, "alice@example.com").as_deref(),
        Some(first.as_str())
    );
    for _ in 0..3 {
        assert_eq!(code_on_page(&settings(&alice).body), first);
        assert_eq!(api_me(&alice)["referral"]["code"], first.as_str());
    }

    // First visit through the API this time.
    let bob = app.client();
    sign_in(&app, &bob, "bob@example.com");
    assert_eq!(stored_code(&app, "bob@example.com"), None);
    let from_api = api_me(&bob)["referral"]["code"]
        .as_str()
        .expect("a code string")
        .to_string();
    assert_eq!(
        stored_code(&app, "bob@example.com").as_deref(),
        Some(from_api.as_str())
    );
    assert_eq!(code_on_page(&settings(&bob).body), from_api);
    assert_ne!(from_api, first, "two users, one code");
    for code in [&first, &from_api] {
        assert_eq!(code.len(), 8);
        assert!(code.chars().all(|c| ALPHABET.contains(c)), "{code}");
    }
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
