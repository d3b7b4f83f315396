//! The paid gate in front of `POST /api/analyze` (SPEC §4, §5) as the real
//! server wires it: sessions after the CLI's grants, revokes and tiers, the
//! admin token and its limiter, and requests from another site. Who gets
//! 401 and which 402 (free tier, credit expired) is the in-process tier's
//! (`inproc::paid`).

use super::*;

#[test]
fn analyze_for_a_credited_user_is_200() {
    let app = TestServer::new().spawn();
    let client = credited_user(&app, "credited@example.com");
    let body = analysis(&analyze(
        &client,
        Some(&json!({ "holdings": sample_holdings() })),
    ));
    assert_eq!(body["provider"], "builtin");
    assert!(
        body.get("note").is_none_or(Value::is_null),
        "a note without an LLM: {body}"
    );
    assert_sample_metrics(&body);
}

#[test]
fn revoked_credit_and_free_tier_again_close_the_gate() {
    let app = TestServer::new().spawn();
    let client = credited_user(&app, "revoked@example.com");
    save_portfolio(&client, &sample_holdings());
    analysis(&analyze(&client, None));
    cli_ok(&app, &["revoke-credit", "--email", "revoked@example.com"]);
    let resp = analyze(&client, None);
    assert_eq!(resp.status, 402, "after revoke-credit: {}", resp.summary());

    cli_ok(
        &app,
        &[
            "set-tier",
            "--email",
            "revoked@example.com",
            "--tier",
            "paid",
        ],
    );
    analysis(&analyze(&client, None));
    cli_ok(
        &app,
        &[
            "set-tier",
            "--email",
            "revoked@example.com",
            "--tier",
            "free",
        ],
    );
    let resp = analyze(&client, None);
    assert_eq!(resp.status, 402, "back to free: {}", resp.summary());
}

#[test]
fn admin_token_passes_the_gate_and_must_send_holdings() {
    let app = TestServer::new()
        .env("APP_ADMIN_TOKEN", ADMIN_TOKEN)
        .spawn();
    let client = app.client();
    let body = analysis(&analyze_as_admin(&client, &sample_holdings()));
    assert_sample_metrics(&body);

    let bearer = format!("Bearer {ADMIN_TOKEN}");
    let auth = [("Authorization", bearer.as_str())];
    json_error(&analyze_with(&client, None, &auth), 400, "bad_request");
    json_error(
        &analyze_with(&client, Some(&json!({})), &auth),
        400,
        "bad_request",
    );
    json_error(&analyze_as_admin(&client, &json!([])), 400, "bad_request");
    assert!(
        !app.log().contains(ADMIN_TOKEN),
        "the admin token is in the log:\n{}",
        app.log()
    );
}

#[test]
fn wrong_admin_token_is_401() {
    let app = TestServer::new()
        .env("APP_ADMIN_TOKEN", ADMIN_TOKEN)
        .spawn();
    let client = app.client();
    let body = Some(json!({ "holdings": sample_holdings() }));
    let wrong = format!("Bearer {ADMIN_TOKEN}x");
    let prefix = format!("Bearer {}", &ADMIN_TOKEN[..ADMIN_TOKEN.len() - 1]);
    for header in [
        wrong.as_str(),
        prefix.as_str(),
        "Bearer ",
        ADMIN_TOKEN,
        "Basic YTpi",
    ] {
        let resp = analyze_with(&client, body.as_ref(), &[("Authorization", header)]);
        json_error(&resp, 401, "unauthorized");
    }
    assert!(
        !app.log().contains(&wrong),
        "a presented token is in the log"
    );
}

#[test]
fn without_an_admin_token_configured_no_bearer_passes() {
    let app = TestServer::new().spawn();
    let client = app.client();
    let body = Some(json!({ "holdings": sample_holdings() }));
    for header in [
        format!("Bearer {ADMIN_TOKEN}"),
        "Bearer ".to_string(),
        "Bearer".to_string(),
    ] {
        let resp = analyze_with(&client, body.as_ref(), &[("Authorization", &header)]);
        json_error(&resp, 401, "unauthorized");
    }
}

#[test]
fn ten_wrong_tokens_from_one_client_then_429() {
    let app = TestServer::new()
        .env("APP_ADMIN_TOKEN", ADMIN_TOKEN)
        .spawn();
    let client = app.client();
    let body = Some(json!({ "holdings": sample_holdings() }));
    for i in 0..10 {
        let wrong = format!("Bearer guess-{i}");
        let resp = analyze_with(&client, body.as_ref(), &[("Authorization", &wrong)]);
        assert_eq!(
            resp.status,
            401,
            "wrong token #{}: {}",
            i + 1,
            resp.summary()
        );
    }
    let resp = analyze_with(
        &client,
        body.as_ref(),
        &[("Authorization", "Bearer guess-10")],
    );
    json_error(&resp, 429, "rate_limited");
    let retry = resp
        .header("retry-after")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or_else(|| panic!("429 without integer Retry-After: {}", resp.summary()));
    assert!(retry > 0 && retry <= 600, "Retry-After {retry}");

    // A session is not a bearer token: a paid user from the same address
    // still gets in.
    let paid = paid_user(&app, "same-address@example.com");
    analysis(&analyze(
        &paid,
        Some(&json!({ "holdings": sample_holdings() })),
    ));
}

#[test]
fn analyze_from_another_site_is_403() {
    let app = TestServer::new().spawn();
    let client = paid_user(&app, "origin@example.com");
    save_portfolio(&client, &sample_holdings());
    let resp = analyze_with(&client, None, &[("Origin", "https://evil.example")]);
    json_error(&resp, 403, "forbidden");
    let resp = analyze_with(&client, None, &[("X-CSRF-Token", "stale")]);
    json_error(&resp, 403, "forbidden");
    let origin = app.origin();
    analysis(&analyze_with(&client, None, &[("Origin", &origin)]));
}
