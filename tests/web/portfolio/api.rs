//! The JSON API (SPEC §4 "GET/PUT /api/portfolio"): listing, replacing,
//! who may call it and the content type it takes (the methods it answers:
//! `inproc::guards`).

use super::*;

#[test]
fn api_portfolio_lists_holdings_sorted_by_symbol() {
    let app = TestServer::new().spawn();
    let client = signed_in(&app, "lister@example.com");
    assert_eq!(api_holdings(&client), Vec::<Value>::new());
    add_holding(&client, "MSFT", "5", "400", "");
    add_holding(&client, "AAPL", "10", "190.5", "150");
    add_holding(&client, "CASH", "1000", "1", "");
    let resp = client.get("/api/portfolio");
    let body = json_of(&resp);
    assert_eq!(
        body,
        json!({"holdings": [
            {"symbol": "AAPL", "quantity": 10.0, "price": 190.5, "cost_basis": 150.0},
            {"symbol": "CASH", "quantity": 1000.0, "price": 1.0},
            {"symbol": "MSFT", "quantity": 5.0, "price": 400.0},
        ]})
    );
}

#[test]
fn api_portfolio_needs_a_session() {
    let app = TestServer::new().spawn();
    let client = app.client();
    json_error(&client.get("/api/portfolio"), 401, "unauthorized");
    let resp = put_json(&client, &json!({"holdings": three_holdings()}).to_string());
    json_error(&resp, 401, "unauthorized");
}

#[test]
fn put_replaces_every_holding_and_answers_the_saved_list() {
    let app = TestServer::new().spawn();
    let client = signed_in(&app, "replacer@example.com");
    add_holding(&client, "OLD", "1", "1", "");
    let body = put_holdings(
        &client,
        json!([
            {"symbol": "msft", "quantity": 5, "price": 400},
            {"symbol": "AAPL", "quantity": 10, "price": 190.5, "cost_basis": 150},
            {"symbol": "CASH", "quantity": 1000, "price": 1, "cost_basis": null},
        ]),
    );
    let want = json!({"holdings": [
        {"symbol": "AAPL", "quantity": 10.0, "price": 190.5, "cost_basis": 150.0},
        {"symbol": "CASH", "quantity": 1000.0, "price": 1.0},
        {"symbol": "MSFT", "quantity": 5.0, "price": 400.0},
    ]});
    assert_eq!(body, want, "the answer to PUT");
    assert_eq!(
        json_of(&client.get("/api/portfolio")),
        want,
        "GET after PUT"
    );
    let page = portfolio_page(&client);
    assert!(row(&page.body, "OLD").is_none(), "OLD survived the PUT");
    assert!(row(&page.body, "MSFT").is_some(), "{}", page.body);

    let body = put_holdings(&client, json!([]));
    assert_eq!(body, json!({"holdings": []}));
    assert!(portfolio_page(&client).body.contains("No holdings yet"));
}
