//! What gets analysed (SPEC §4 "POST /api/analyze"): the saved portfolio
//! or the posted holdings, validated like `PUT /api/portfolio`, and the
//! built-in analyst's commentary.

use super::*;

#[test]
fn analysis_of_the_saved_portfolio() {
    let app = TestServer::new().spawn();
    let client = paid_user(&app, "saved@example.com");
    save_portfolio(&client, &sample_holdings());

    let empty_body = analysis(&analyze(&client, None));
    assert_sample_metrics(&empty_body);
    let empty_object = analysis(&analyze(&client, Some(&json!({}))));
    assert_sample_metrics(&empty_object);
    assert_eq!(
        empty_body["commentary"], empty_object["commentary"],
        "an empty body and {{}} both mean the saved portfolio"
    );
}

#[test]
fn posted_holdings_are_analysed_instead_of_the_saved_ones() {
    let app = TestServer::new().spawn();
    let client = paid_user(&app, "posted@example.com");
    save_portfolio(
        &client,
        &json!([{"symbol": "SAVED", "quantity": 1, "price": 1}]),
    );
    let body = analysis(&analyze(
        &client,
        Some(&json!({ "holdings": sample_holdings() })),
    ));
    assert_sample_metrics(&body);
    let saved = client.get("/api/portfolio");
    assert!(
        saved.body.contains("SAVED") && !saved.body.contains("AAPL"),
        "analysing posted holdings changed the saved portfolio: {}",
        saved.body
    );
}

#[test]
fn analysing_an_empty_saved_portfolio_is_400() {
    let app = TestServer::new().spawn();
    let client = paid_user(&app, "nothing@example.com");
    let resp = analyze(&client, None);
    let body = json_error(&resp, 400, "bad_request");
    let message = body["message"].as_str().unwrap().to_lowercase();
    assert!(
        message.contains("holding"),
        "the message does not say there are no holdings: {message:?}"
    );
    json_error(&analyze(&client, Some(&json!({}))), 400, "bad_request");
    json_error(
        &analyze(&client, Some(&json!({"holdings": []}))),
        400,
        "bad_request",
    );
}

#[test]
fn posted_holdings_are_validated_like_put() {
    let app = TestServer::new().spawn();
    let client = paid_user(&app, "checked@example.com");
    save_portfolio(&client, &sample_holdings());
    let good = json!({"symbol": "OK", "quantity": 1, "price": 1});
    let bad_entries = [
        json!({"symbol": "A B", "quantity": 1, "price": 1}),
        json!({"symbol": "A".repeat(17), "quantity": 1, "price": 1}),
        json!({"symbol": "X", "quantity": -1, "price": 1}),
        json!({"symbol": "X", "quantity": "1", "price": 1}),
        json!({"symbol": "X", "quantity": 1, "price": 1e13}),
        json!({"symbol": "X", "quantity": 1, "price": 1, "cost_basis": -1}),
        json!({"symbol": "X", "quantity": 1, "price": 1, "extra": 1}),
        json!({"symbol": "ok", "quantity": 1, "price": 1}),
        json!({"symbol": "X", "quantity": 1}),
    ];
    for bad in bad_entries {
        let resp = analyze(
            &client,
            Some(&json!({ "holdings": [good.clone(), bad.clone()] })),
        );
        let body = json_error(&resp, 400, "bad_request");
        let message = body["message"].as_str().unwrap().to_lowercase();
        assert!(message.contains("holdings[1]"), "{bad}: {message:?}");
    }
    let many: Vec<Value> = (0..501)
        .map(|i| json!({"symbol": format!("S{i}"), "quantity": 1, "price": 1}))
        .collect();
    json_error(
        &analyze(&client, Some(&json!({ "holdings": many }))),
        400,
        "bad_request",
    );
    json_error(&analyze(&client, Some(&json!([]))), 400, "bad_request");
    json_error(
        &analyze(&client, Some(&json!({ "holdings": "AAPL" }))),
        400,
        "bad_request",
    );

    let resp = client.request(
        "POST",
        "/api/analyze",
        &[("Content-Type", "text/plain")],
        json!({ "holdings": sample_holdings() })
            .to_string()
            .as_bytes(),
    );
    json_error(&resp, 415, "unsupported_media_type");
}

#[test]
fn commentary_differs_between_a_concentrated_and_a_diversified_portfolio() {
    let app = TestServer::new()
        .env("APP_ADMIN_TOKEN", ADMIN_TOKEN)
        .spawn();
    let client = app.client();
    let concentrated = json!([
        {"symbol": "TSLA", "quantity": 90, "price": 100},
        {"symbol": "VTI", "quantity": 10, "price": 100},
    ]);
    let diversified = json!([
        {"symbol": "AAPL", "quantity": 10, "price": 100},
        {"symbol": "MSFT", "quantity": 10, "price": 100},
        {"symbol": "GOOG", "quantity": 10, "price": 100},
        {"symbol": "AMZN", "quantity": 10, "price": 100},
        {"symbol": "VTI", "quantity": 10, "price": 100},
    ]);
    let a = analysis(&analyze_as_admin(&client, &concentrated));
    let b = analysis(&analyze_as_admin(&client, &diversified));

    assert!(close(num(&a["metrics"]["top_weight"]), 0.9), "{a}");
    assert!(
        close(num(&a["metrics"]["effective_positions"]), 1.0 / 0.82),
        "{a}"
    );
    assert!(close(num(&b["metrics"]["top_weight"]), 0.2), "{b}");
    assert!(close(num(&b["metrics"]["effective_positions"]), 5.0), "{b}");

    let a = a["commentary"].as_str().unwrap();
    let b = b["commentary"].as_str().unwrap();
    assert_ne!(a, b, "the same commentary for both portfolios");
    assert!(
        a.contains("TSLA") && a.to_lowercase().contains("concentrat"),
        "the concentrated portfolio's commentary does not name TSLA and its concentration: {a}"
    );
    assert!(
        !b.to_lowercase().contains("very concentrated"),
        "an equal-weighted portfolio called very concentrated: {b}"
    );
    // Decimal points are followed by digits, so ". " ends a sentence.
    let sentences = |s: &str| s.trim().matches(". ").count() + 1;
    for c in [a, b] {
        assert!(
            (3..=6).contains(&sentences(c)),
            "commentary is not a few plain sentences: {c}"
        );
    }
}
