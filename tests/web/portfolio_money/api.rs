//! Item 5: `GET /api/portfolio` entries carry `currency`, `price_source`
//! and `price_at`; `PUT` takes `currency`; the analysis gains
//! `base_currency`.

use super::*;

#[test]
fn entries_carry_currency_and_the_price_source() {
    let app = TestServer::new().spawn();
    let client = crate::support::signed_in(&app, "api@example.com");
    let resp = put(
        &client,
        json!([
            {"symbol": "AAPL", "quantity": 10, "price": 190.5},
            {"symbol": "SAP.DE", "quantity": 4, "price": 120.25, "currency": "eur"},
        ]),
    );
    assert_eq!(resp.status, 200, "{}", resp.summary());
    let body = json_of(&client.get("/api/portfolio"));
    assert_eq!(
        body,
        json!({"holdings": [
            {"symbol": "AAPL", "quantity": 10.0, "price": 190.5, "currency": "USD",
             "price_source": "typed", "price_at": null},
            {"symbol": "SAP.DE", "quantity": 4.0, "price": 120.25, "currency": "EUR",
             "price_source": "typed", "price_at": null},
        ]})
    );
    // What GET gives, PUT takes back unchanged.
    let again = put(&client, body["holdings"].clone());
    assert_eq!(again.status, 200, "{}", again.summary());
    assert_eq!(json_of(&client.get("/api/portfolio")), body);
    let bad = put(
        &client,
        json!([{"symbol": "X", "quantity": 1, "price": 1, "currency": "EURO"}]),
    );
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("Holdings[0]: currency"), "{}", bad.body);
    // With quotes off a quoted entry is saved typed.
    let quoted = put(
        &client,
        json!([{"symbol": "X", "quantity": 1, "price": 1, "price_source": "stooq"}]),
    );
    assert_eq!(json_of(&quoted)["holdings"][0]["price_source"], "typed");
}

#[test]
fn the_analysis_is_in_the_base_currency() {
    let market = FakeMarket::start();
    let app = spawn_with_market(&market, &[]);
    let client = crate::support::paid_user(&app, "weigh@example.com");
    put(
        &client,
        json!([
            {"symbol": "AAPL", "quantity": 10, "price": 100},
            {"symbol": "SAP.DE", "quantity": 4, "price": 100, "currency": "EUR"},
            {"symbol": "YNDX", "quantity": 1, "price": 100, "currency": "RUB"},
        ]),
    );
    let resp = client.request(
        "POST",
        "/api/analyze",
        &[("Content-Type", "application/json")],
        b"",
    );
    assert_eq!(resp.status, 200, "{}", resp.summary());
    let m = &json_of(&resp)["metrics"];
    assert_eq!(m["base_currency"], "USD");
    assert_eq!(m["total_value"], 1457.4);
    let symbols: Vec<&str> = m["positions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["symbol"].as_str().unwrap())
        .collect();
    assert_eq!(
        symbols,
        ["AAPL", "SAP.DE"],
        "a holding without a rate is left out"
    );
    assert_eq!(m["positions"][1]["value"], 457.4);
    // A posted list is weighed the same way, in the caller's base currency.
    let posted = client.request(
        "POST",
        "/api/analyze",
        &[("Content-Type", "application/json")],
        json!({"holdings": [{"symbol": "SAP.DE", "quantity": 1, "price": 100, "currency": "EUR"}]})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(json_of(&posted)["metrics"]["total_value"], 114.35);
}
