//! Item 1: each holding in its own currency, values and weights in the
//! account's base currency at the ECB's rate, unknown rates left out.

use super::*;

#[test]
fn a_eur_holding_in_a_usd_account_is_converted_at_the_ecb_rate() {
    let market = FakeMarket::start();
    let app = spawn_with_market(&market, &[]);
    assert!(market
        .seen()
        .iter()
        .any(|t| t.ends_with("eurofxref-daily.xml")));
    let client = crate::support::signed_in(&app, "euro@example.com");
    let resp = submit(
        &client,
        &[
            ("symbol", "SAP.DE"),
            ("quantity", "4"),
            ("price", "100"),
            ("cost_basis", "90"),
            ("currency", "eur"),
        ],
    );
    assert!(resp.is_see_other_to("/portfolio"), "{}", resp.summary());
    let resp = put(
        &client,
        json!([
            {"symbol": "AAPL", "quantity": 10, "price": 100},
            {"symbol": "SAP.DE", "quantity": 4, "price": 100, "cost_basis": 90, "currency": "EUR"},
        ]),
    );
    assert_eq!(resp.status, 200, "{}", resp.summary());
    let page = client.get("/portfolio");
    // 4 × 100 EUR × 1.1435 USD per EUR = 457.40 USD; with AAPL, 1,457.40.
    assert!(
        text(&page.body).contains("Total value 1,457.40 USD"),
        "{}",
        text(&page.body)
    );
    let sap = row_text(&page.body, "SAP.DE");
    assert!(
        sap.contains("100.00 EUR"),
        "the row shows its own currency: {sap}"
    );
    assert!(
        sap.contains("457.40") && sap.contains("400.00 EUR"),
        "{sap}"
    );
    assert!(sap.contains("31.4%"), "weight in the base currency: {sap}");
    // P/L (100 − 90) × 4 = 40 EUR = 45.74 USD.
    assert!(sap.contains("+45.74"), "{sap}");
    assert!(text(&page.body).contains("reference rates of 2026-07-09"));
}

#[test]
fn a_holding_without_a_rate_is_left_out_of_the_totals_with_a_note() {
    let market = FakeMarket::start();
    let app = spawn_with_market(&market, &[]);
    let client = crate::support::signed_in(&app, "rouble@example.com");
    let resp = put(
        &client,
        json!([
            {"symbol": "AAPL", "quantity": 10, "price": 100},
            {"symbol": "YNDX", "quantity": 3, "price": 2500, "currency": "RUB"},
        ]),
    );
    assert_eq!(resp.status, 200, "{}", resp.summary());
    let page = text(&client.get("/portfolio").body);
    assert!(
        page.contains("Total value 1,000.00 USD"),
        "never summed unconverted: {page}"
    );
    assert!(page.contains("Not in the total: YNDX (RUB)"), "{page}");
    assert!(
        page.contains("7,500.00 RUB") && page.contains("No RUB rate"),
        "{page}"
    );
}

#[test]
fn the_base_currency_is_chosen_in_settings() {
    let market = FakeMarket::start();
    let app = spawn_with_market(&market, &[]);
    let client = crate::support::signed_in(&app, "base@example.com");
    let settings = client.get("/settings");
    assert!(
        settings.body.contains("<option value=\"USD\" selected>"),
        "USD by default"
    );
    put(
        &client,
        json!([{"symbol": "AAPL", "quantity": 10, "price": 100}]),
    );
    let csrf = csrf_in(&settings.body);
    let resp = client.post_form(
        "/settings/currency",
        &[("currency", "EUR"), ("csrf", &csrf)],
    );
    assert!(
        resp.is_see_other_to("/settings#currency"),
        "{}",
        resp.summary()
    );
    assert!(client
        .get("/settings")
        .body
        .contains("<option value=\"EUR\" selected>"));
    // 1,000 USD / 1.1435 = 874.51 EUR.
    let page = text(&client.get("/portfolio").body);
    assert!(page.contains("Total value 874.51 EUR"), "{page}");
    let bad = client.post_form(
        "/settings/currency",
        &[("currency", "EURO"), ("csrf", &csrf)],
    );
    assert_eq!(bad.status, 400, "{}", bad.summary());
    let no_token = client.post_form("/settings/currency", &[("currency", "GBP")]);
    assert_eq!(no_token.status, 403);
    assert!(client
        .get("/settings")
        .body
        .contains("<option value=\"EUR\" selected>"));
}

#[test]
fn a_bad_currency_in_the_form_is_marked_and_nothing_is_saved() {
    let app = TestServer::new().spawn();
    let client = crate::support::signed_in(&app, "typo@example.com");
    let resp = submit(
        &client,
        &[
            ("symbol", "SAP.DE"),
            ("quantity", "4"),
            ("price", "100"),
            ("cost_basis", ""),
            ("currency", "EURO"),
        ],
    );
    assert_eq!(resp.status, 400, "{}", resp.summary());
    assert!(resp.body.contains("id=\"f-currency\"") && resp.body.contains("aria-invalid=\"true\""));
    assert!(text(&resp.body).contains("ISO 4217"));
    assert_eq!(app.query_i64("SELECT count(*) FROM holdings"), 0);
}
