//! Limits on input (SPEC §4 "limits on input"), through the form and the
//! JSON API: each bad field or entry is a 400 that names it and changes
//! nothing; the limits themselves are accepted; 500 holdings at most.

use super::*;

/// The first error message the form shows next to a field, as text.
fn form_error(html: &str) -> String {
    let at = html
        .find("class=\"field-error\"")
        .unwrap_or_else(|| panic!("no error message (field-error) in the page:\n{html}"));
    let open_end = at + html[at..].find('>').unwrap() + 1;
    let close = open_end + html[open_end..].find("</").unwrap();
    text(&html[open_end..close])
}

#[test]
fn form_rejects_each_bad_field_with_400_and_saves_nothing() {
    let app = TestServer::new().spawn();
    let client = signed_in(&app, "validate@example.com");
    add_holding(&client, "KEEP", "1", "1", "");
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
        let what = format!(
            "symbol={symbol:?} quantity={quantity:?} price={price:?} cost_basis={cost_basis:?}"
        );
        let resp = submit_holding(
            &client,
            &[
                ("symbol", symbol),
                ("quantity", quantity),
                ("price", price),
                ("cost_basis", cost_basis),
            ],
        );
        assert_eq!(resp.status, 400, "{what}: {}", resp.summary());
        assert!(
            resp.header("content-type")
                .is_some_and(|t| t.starts_with("text/html")),
            "{what}: the form should come back as a page: {}",
            resp.summary()
        );
        let message = form_error(&resp.body);
        assert!(
            message.to_lowercase().contains(field),
            "{what}: the message does not name the {field}: {message:?}"
        );
        assert!(
            try_csrf(&resp.body),
            "{what}: the page that comes back has no form to try again:\n{}",
            resp.body
        );
        assert_eq!(
            saved_symbols(&client),
            vec!["KEEP"],
            "{what}: a refused form changed the portfolio"
        );
    }
}

fn try_csrf(html: &str) -> bool {
    crate::support::try_csrf_in(html).is_some_and(|t| !t.is_empty())
}

#[test]
fn refused_form_keeps_what_was_typed() {
    let app = TestServer::new().spawn();
    let client = signed_in(&app, "retype@example.com");
    let resp = submit_holding(
        &client,
        &[
            ("symbol", "msft"),
            ("quantity", "-3"),
            ("price", "412.5"),
            ("cost_basis", "300"),
        ],
    );
    assert_eq!(resp.status, 400, "{}", resp.summary());
    assert_eq!(input_value(&resp.body, "symbol").as_deref(), Some("msft"));
    assert_eq!(input_value(&resp.body, "quantity").as_deref(), Some("-3"));
    assert_eq!(input_value(&resp.body, "price").as_deref(), Some("412.5"));
    assert_eq!(
        input_value(&resp.body, "cost_basis").as_deref(),
        Some("300")
    );
    assert!(saved_symbols(&client).is_empty());
}

#[test]
fn form_accepts_the_limits_themselves() {
    let app = TestServer::new().spawn();
    let client = signed_in(&app, "limits@example.com");
    let sixteen = "ABCDEFGHIJ.-1234";
    add_holding(&client, sixteen, "0", "1000000000000", "0");
    add_holding(&client, "z", "1000000000000", "0", "1000000000000");
    add_holding(&client, " brk.b ", "0.125", "350.25", "");
    let saved = api_holdings(&client);
    assert_eq!(
        saved,
        vec![
            json!({"symbol": sixteen, "quantity": 0.0, "price": 1e12, "cost_basis": 0.0}),
            json!({"symbol": "BRK.B", "quantity": 0.125, "price": 350.25}),
            json!({"symbol": "Z", "quantity": 1e12, "price": 0.0, "cost_basis": 1e12}),
        ]
    );
}

#[test]
fn form_refuses_the_501st_holding_but_still_updates_existing_ones() {
    let app = TestServer::new().spawn();
    let client = signed_in(&app, "full@example.com");
    put_holdings(&client, many_holdings(500));
    assert_eq!(api_holdings(&client).len(), 500);

    let resp = submit_holding(
        &client,
        &[("symbol", "NEW"), ("quantity", "1"), ("price", "1")],
    );
    assert_eq!(resp.status, 400, "the 501st holding: {}", resp.summary());
    let message = form_error(&resp.body);
    assert!(
        message.contains("500"),
        "the message does not say the limit: {message:?}"
    );
    assert_eq!(api_holdings(&client).len(), 500);
    assert!(!saved_symbols(&client).contains(&"NEW".to_string()));

    add_holding(&client, "S7", "9", "9", "");
    let s7 = api_holdings(&client)
        .into_iter()
        .find(|h| h["symbol"] == "S7")
        .expect("S7 is still there");
    assert_eq!(s7["quantity"], 9.0, "updating at the limit: {s7}");

    assert!(delete_holding(&client, "S0").is_see_other_to("/portfolio"));
    add_holding(&client, "NEW", "1", "1", "");
    assert_eq!(api_holdings(&client).len(), 500);
}

#[test]
fn put_with_a_bad_entry_names_it_and_changes_nothing() {
    let app = TestServer::new().spawn();
    let client = signed_in(&app, "strict@example.com");
    let before = put_holdings(
        &client,
        json!([{"symbol": "KEEP", "quantity": 1, "price": 1}]),
    );
    let good = [
        json!({"symbol": "AAA", "quantity": 1, "price": 1}),
        json!({"symbol": "BBB", "quantity": 2, "price": 2, "cost_basis": 1}),
        json!({"symbol": "CCC", "quantity": 3, "price": 3}),
    ];
    let bad_entries = [
        (
            "empty symbol",
            json!({"symbol": "", "quantity": 1, "price": 1}),
        ),
        (
            "17-character symbol",
            json!({"symbol": "A".repeat(17), "quantity": 1, "price": 1}),
        ),
        (
            "symbol with a space",
            json!({"symbol": "A B", "quantity": 1, "price": 1}),
        ),
        (
            "symbol with a slash",
            json!({"symbol": "A/B", "quantity": 1, "price": 1}),
        ),
        (
            "symbol with a non-ASCII letter",
            json!({"symbol": "AÄ", "quantity": 1, "price": 1}),
        ),
        (
            "symbol as a number",
            json!({"symbol": 7, "quantity": 1, "price": 1}),
        ),
        ("no symbol", json!({"quantity": 1, "price": 1})),
        (
            "negative quantity",
            json!({"symbol": "X", "quantity": -1, "price": 1}),
        ),
        (
            "quantity over 1e12",
            json!({"symbol": "X", "quantity": 1.000001e12, "price": 1}),
        ),
        (
            "quantity as a string",
            json!({"symbol": "X", "quantity": "1", "price": 1}),
        ),
        (
            "null quantity",
            json!({"symbol": "X", "quantity": null, "price": 1}),
        ),
        ("no quantity", json!({"symbol": "X", "price": 1})),
        (
            "negative price",
            json!({"symbol": "X", "quantity": 1, "price": -0.5}),
        ),
        (
            "price over 1e12",
            json!({"symbol": "X", "quantity": 1, "price": 1e13}),
        ),
        (
            "price as a string",
            json!({"symbol": "X", "quantity": 1, "price": "1.5"}),
        ),
        (
            "price as a bool",
            json!({"symbol": "X", "quantity": 1, "price": true}),
        ),
        ("no price", json!({"symbol": "X", "quantity": 1})),
        (
            "negative cost basis",
            json!({"symbol": "X", "quantity": 1, "price": 1, "cost_basis": -2}),
        ),
        (
            "cost basis over 1e12",
            json!({"symbol": "X", "quantity": 1, "price": 1, "cost_basis": 2e12}),
        ),
        (
            "cost basis as a string",
            json!({"symbol": "X", "quantity": 1, "price": 1, "cost_basis": "3"}),
        ),
        (
            "an unknown field",
            json!({"symbol": "X", "quantity": 1, "price": 1, "sector": "tech"}),
        ),
        (
            "a repeated symbol",
            json!({"symbol": "aaa", "quantity": 1, "price": 1}),
        ),
        ("not an object", json!(["X", 1, 1])),
        ("a number", json!(7)),
    ];
    for (what, bad) in bad_entries {
        let mut list = good.to_vec();
        list.push(bad.clone());
        let resp = put_json(&client, &json!({ "holdings": list }).to_string());
        let message = json_error_message(&resp, 400, "bad_request");
        assert!(
            message.to_lowercase().contains("holdings[3]"),
            "{what} ({bad}): the message does not name holdings[3]: {message:?}"
        );
        assert_eq!(
            json_of(&client.get("/api/portfolio")),
            before,
            "{what}: a refused PUT changed the portfolio"
        );
    }
}

#[test]
fn put_refuses_numbers_json_cannot_hold_and_bodies_of_another_shape() {
    let app = TestServer::new().spawn();
    let client = signed_in(&app, "shapes@example.com");
    let before = put_holdings(
        &client,
        json!([{"symbol": "KEEP", "quantity": 1, "price": 1}]),
    );
    let bodies = [
        r#"{"holdings":[{"symbol":"X","quantity":1e999,"price":1}]}"#,
        r#"{"holdings":[{"symbol":"X","quantity":NaN,"price":1}]}"#,
        r#"{"holdings":[{"symbol":"X","quantity":Infinity,"price":1}]}"#,
        r#"{"holdings":[{"symbol":"X","quantity":-1e999,"price":1}]}"#,
        r#"{"holdings":{"symbol":"X","quantity":1,"price":1}}"#,
        r#"{"holdings":null}"#,
        r#"{}"#,
        r#"[]"#,
        r#"null"#,
        r#"{"holdings":["#,
        r#"not json"#,
        r#""#,
    ];
    for body in bodies {
        let resp = put_json(&client, body);
        json_error(&resp, 400, "bad_request");
        assert_eq!(
            json_of(&client.get("/api/portfolio")),
            before,
            "{body}: a refused PUT changed the portfolio"
        );
    }
}

#[test]
fn put_takes_500_holdings_and_refuses_501() {
    let app = TestServer::new().spawn();
    let client = signed_in(&app, "bulk@example.com");
    let body = put_holdings(&client, many_holdings(500));
    assert_eq!(body["holdings"].as_array().map(Vec::len), Some(500));

    let resp = put_json(
        &client,
        &json!({"holdings": many_holdings(501)}).to_string(),
    );
    let message = json_error_message(&resp, 400, "bad_request");
    assert!(
        message.contains("500"),
        "the message does not say the limit: {message:?}"
    );
    assert_eq!(
        api_holdings(&client).len(),
        500,
        "a refused PUT changed the portfolio"
    );
}

#[test]
fn put_accepts_the_limits_themselves() {
    let app = TestServer::new().spawn();
    let client = signed_in(&app, "edges@example.com");
    let body = put_holdings(
        &client,
        json!([
            {"symbol": "ABCDEFGHIJ.-1234", "quantity": 0, "price": 1e12, "cost_basis": 0},
            {"symbol": "z", "quantity": 1e12, "price": 0, "cost_basis": 1e12},
        ]),
    );
    assert_eq!(
        body,
        json!({"holdings": [
            {"symbol": "ABCDEFGHIJ.-1234", "quantity": 0.0, "price": 1e12, "cost_basis": 0.0},
            {"symbol": "Z", "quantity": 1e12, "price": 0.0, "cost_basis": 1e12},
        ]})
    );
}
