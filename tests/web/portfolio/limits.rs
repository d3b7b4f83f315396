//! Limits on input (SPEC §4 "limits on input"), through the form and the
//! JSON API: what was typed comes back, the limits themselves are accepted,
//! 500 holdings at most. Each bad field or entry, and each body of another
//! shape or type, is refused in-process (`inproc::validation`).

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
