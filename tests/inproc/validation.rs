//! Input validation on the portfolio (SPEC §4 "PUT /api/portfolio",
//! "POST /portfolio/holdings"): each bad input is a 400 that names what is
//! wrong, and changes nothing.

use serde_json::{json, Value};

use super::*;
use crate::support::{input_value, json_error, json_error_message, json_of};

/// The saved symbols, in the order the database keeps them.
fn saved(app: &InProcess) -> Vec<String> {
    let mut stmt = app
        .db()
        .prepare("SELECT symbol FROM holdings ORDER BY symbol")
        .unwrap();
    let rows = stmt.query_map([], |r| r.get(0)).unwrap();
    rows.map(Result::unwrap).collect()
}

fn put(app: &InProcess, session: &str, body: &str) -> Resp {
    send(
        app,
        request("PUT", "/api/portfolio")
            .with_session(session)
            .with_json(body),
    )
}

/// `GET /api/portfolio`'s answer.
fn listed(app: &InProcess, session: &str) -> Value {
    json_of(&send(app, get("/api/portfolio").with_session(session)))
}

/// A signed-in account holding just `KEEP`.
fn keeper(app: &InProcess) -> String {
    let session = signed_in(app, "keeper@example.com");
    let body = r#"{"holdings":[{"symbol":"KEEP","quantity":1,"price":1}]}"#;
    let resp = put(app, &session, body);
    assert_eq!(resp.status, 200, "{}", resp.summary());
    session
}

#[test]
fn put_with_a_bad_holding_is_400_naming_it_and_saves_nothing() {
    let app = app();
    let session = keeper(&app);
    let before = listed(&app, &session);
    let good = |symbol: &str| json!({"symbol": symbol, "quantity": 1, "price": 1});
    let bad_entries = [
        json!({"symbol": "", "quantity": 1, "price": 1}),
        json!({"symbol": "A B", "quantity": 1, "price": 1}),
        json!({"symbol": "A".repeat(17), "quantity": 1, "price": 1}),
        json!({"symbol": "A/B", "quantity": 1, "price": 1}),
        json!({"symbol": "AÄ", "quantity": 1, "price": 1}),
        json!({"symbol": 7, "quantity": 1, "price": 1}),
        json!({"quantity": 1, "price": 1}),
        json!({"symbol": "X", "quantity": -1, "price": 1}),
        json!({"symbol": "X", "quantity": 1.000001e12, "price": 1}),
        json!({"symbol": "X", "quantity": "1", "price": 1}),
        json!({"symbol": "X", "quantity": null, "price": 1}),
        json!({"symbol": "X", "price": 1}),
        json!({"symbol": "X", "quantity": 1, "price": -0.5}),
        json!({"symbol": "X", "quantity": 1, "price": 1e13}),
        json!({"symbol": "X", "quantity": 1, "price": "1.5"}),
        json!({"symbol": "X", "quantity": 1, "price": true}),
        json!({"symbol": "X", "quantity": 1}),
        json!({"symbol": "X", "quantity": 1, "price": 1, "cost_basis": -2}),
        json!({"symbol": "X", "quantity": 1, "price": 1, "cost_basis": 2e12}),
        json!({"symbol": "X", "quantity": 1, "price": 1, "cost_basis": "3"}),
        json!({"symbol": "X", "quantity": 1, "price": 1, "sector": "tech"}),
        json!({"symbol": "aaa", "quantity": 1, "price": 1}),
        json!(["X", 1, 1]),
        json!(7),
    ];
    for bad in bad_entries {
        let list = json!({ "holdings": [good("AAA"), good("BBB"), good("CCC"), bad] });
        let resp = put(&app, &session, &list.to_string());
        let message = json_error_message(&resp, 400, "bad_request");
        assert!(
            message.to_lowercase().contains("holdings[3]"),
            "{bad}: the message does not name holdings[3]: {message:?}"
        );
        assert_eq!(saved(&app), ["KEEP"], "{bad}: a refused PUT saved");
        assert_eq!(
            listed(&app, &session),
            before,
            "{bad}: a refused PUT changed it"
        );
    }
}

#[test]
fn put_bodies_of_another_shape_or_type_are_refused() {
    let app = app();
    let session = keeper(&app);
    let before = listed(&app, &session);
    for body in [
        "",
        "not json",
        "null",
        "[]",
        "{}",
        r#"{"holdings": {}}"#,
        r#"{"holdings": null}"#,
        r#"{"holdings": "AAPL"}"#,
        r#"{"holdings":{"symbol":"X","quantity":1,"price":1}}"#,
        r#"{"holdings":["#,
        r#"{"holdings": [{"symbol":"X","quantity":1e999,"price":1}]}"#,
        r#"{"holdings": [{"symbol":"X","quantity":-1e999,"price":1}]}"#,
        r#"{"holdings": [{"symbol":"X","quantity":NaN,"price":1}]}"#,
        r#"{"holdings": [{"symbol":"X","quantity":Infinity,"price":1}]}"#,
    ] {
        json_error(&put(&app, &session, body), 400, "bad_request");
        assert_eq!(
            listed(&app, &session),
            before,
            "{body}: a refused PUT changed it"
        );
    }
    let body = r#"{"holdings":[{"symbol":"X","quantity":1,"price":1}]}"#;
    for ctype in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
    ] {
        let req = request("PUT", "/api/portfolio").with_session(&session);
        let req = match ctype {
            Some(ctype) => req.with_header("content-type", ctype),
            None => req,
        };
        let req = Req {
            body: body.as_bytes().to_vec(),
            ..req
        };
        json_error(&send(&app, req), 415, "unsupported_media_type");
    }
    assert_eq!(listed(&app, &session), before, "a refused PUT changed it");
    let many: Vec<Value> = (0..501)
        .map(|i| json!({"symbol": format!("S{i}"), "quantity": 1, "price": 1}))
        .collect();
    let resp = put(&app, &session, &json!({ "holdings": many }).to_string());
    let message = json_error_message(&resp, 400, "bad_request");
    assert!(
        message.contains("500"),
        "the limit is not named: {message:?}"
    );
    assert_eq!(saved(&app), ["KEEP"], "a refused PUT saved");
    let answer = json_of(&send(&app, get("/api/portfolio").with_session(&session)));
    assert_eq!(answer["holdings"].as_array().map(Vec::len), Some(1));
    // A charset on the JSON type is fine.
    let req = request("PUT", "/api/portfolio")
        .with_session(&session)
        .with_header("content-type", "application/json; charset=utf-8");
    let req = Req {
        body: body.as_bytes().to_vec(),
        ..req
    };
    let resp = send(&app, req);
    assert_eq!(resp.status, 200, "with a charset: {}", resp.summary());
}

#[test]
fn holdings_form_refuses_each_bad_field_with_400_and_saves_nothing() {
    let app = app();
    let session = keeper(&app);
    let csrf = csrf_of(&app, "/portfolio", &session);
    let long_symbol = "A".repeat(17);
    // (symbol, quantity, price, cost_basis, the field the message names)
    let cases = [
        ("", "1", "1", "", "symbol"),
        ("   ", "1", "1", "", "symbol"),
        (long_symbol.as_str(), "1", "1", "", "symbol"),
        ("A B", "1", "1", "", "symbol"),
        ("A/B", "1", "1", "", "symbol"),
        ("$AAPL", "1", "1", "", "symbol"),
        ("AÄ", "1", "1", "", "symbol"),
        ("A", "", "1", "", "quantity"),
        ("A", "-1", "1", "", "quantity"),
        ("A", "abc", "1", "", "quantity"),
        ("A", "NaN", "1", "", "quantity"),
        ("A", "inf", "1", "", "quantity"),
        ("A", "1e13", "1", "", "quantity"),
        ("A", "1000000000001", "1", "", "quantity"),
        ("A", "1", "", "", "price"),
        ("A", "1", "-0.01", "", "price"),
        ("A", "1", "ten", "", "price"),
        ("A", "1", "infinity", "", "price"),
        ("A", "1", "2e12", "", "price"),
        ("A", "1", "1", "-5", "cost basis"),
        ("A", "1", "1", "abc", "cost basis"),
        ("A", "1", "1", "NaN", "cost basis"),
        ("A", "1", "1", "1e13", "cost basis"),
    ];
    for (symbol, quantity, price, cost_basis, field) in cases {
        let fields = [
            ("symbol", symbol),
            ("quantity", quantity),
            ("price", price),
            ("cost_basis", cost_basis),
            ("csrf", csrf.as_str()),
        ];
        let what = format!("{fields:?}");
        let resp = send(
            &app,
            request("POST", "/portfolio/holdings")
                .with_session(&session)
                .with_form(&fields),
        );
        assert_eq!(resp.status, 400, "{what}: {}", resp.summary());
        assert!(
            resp.header("content-type")
                .is_some_and(|t| t.starts_with("text/html")),
            "{what}: the form should come back as a page: {}",
            resp.summary()
        );
        let at = resp
            .body
            .find("class=\"field-error\"")
            .unwrap_or_else(|| panic!("{what}: no error by a field:\n{}", resp.body));
        // the message's text, not the tag (its id names the field)
        let text_at = at + resp.body[at..].find('>').unwrap() + 1;
        let error = &resp.body[text_at..text_at + resp.body[text_at..].find("</").unwrap()];
        assert!(
            error.to_lowercase().contains(field),
            "{what}: the message does not name the {field}: {error:?}"
        );
        assert!(
            input_value(&resp.body, "csrf").is_some(),
            "{what}: the page that comes back has no form to try again"
        );
        assert_eq!(saved(&app), ["KEEP"], "{what}: a refused form saved");
    }
}
