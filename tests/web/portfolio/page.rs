//! The portfolio page and its forms (SPEC §4 "GET /portfolio", "POST
//! /portfolio/holdings"): the table and its totals, adding, updating and
//! deleting holdings, whose holdings they are, and escaping. The forms' CSRF
//! token and Origin checks are in-process (`inproc::guards`).

use super::*;

#[test]
fn empty_portfolio_explains_what_to_do() {
    let app = TestServer::new().spawn();
    let client = signed_in(&app, "empty@example.com");
    let page = portfolio_page(&client);
    assert!(
        page.body.contains("No holdings yet"),
        "no empty state:\n{}",
        page.body
    );
    assert!(
        !page.body.contains("data-symbol="),
        "holding rows in an empty portfolio:\n{}",
        page.body
    );
    assert!(
        svg(&page.body).is_none(),
        "an allocation chart with nothing to allocate:\n{}",
        page.body
    );
    for field in ["symbol", "quantity", "price", "cost_basis", "csrf"] {
        assert!(
            input_value(&page.body, field).is_some(),
            "the add form has no {field} input:\n{}",
            page.body
        );
    }
    assert!(
        page.body.contains("action=\"/portfolio/holdings\""),
        "no form posting to /portfolio/holdings:\n{}",
        page.body
    );
    let cache = page.header("cache-control").unwrap_or("");
    assert!(
        cache.contains("no-store"),
        "a personal page without Cache-Control: no-store: {}",
        page.summary()
    );
}

#[test]
fn adding_a_holding_by_form_shows_it_in_the_table_with_totals() {
    let app = TestServer::new().spawn();
    let client = signed_in(&app, "adder@example.com");
    add_holding(&client, "aapl", "10", "190.5", "150");
    add_holding(&client, "MSFT", "5", "400", "");

    let page = portfolio_page(&client);
    assert!(!page.body.contains("No holdings yet"), "{}", page.body);
    let aapl = text(
        &row(&page.body, "AAPL")
            .unwrap_or_else(|| panic!("no row for AAPL (symbols are uppercased):\n{}", page.body)),
    );
    // 10 × 190.50 = 1,905.00 of 3,905.00 is 48.8%; P/L (190.5 − 150) × 10.
    for want in [
        "AAPL", "10", "190.50", "150.00", "1,905.00", "48.8%", "405.00",
    ] {
        assert!(aapl.contains(want), "AAPL row lacks {want:?}: {aapl}");
    }
    let msft = text(&row(&page.body, "MSFT").expect("a row for MSFT"));
    for want in ["MSFT", "5", "400.00", "2,000.00", "51.2%"] {
        assert!(msft.contains(want), "MSFT row lacks {want:?}: {msft}");
    }
    let total = page.body.rfind(">Total<").map(|i| {
        let end = i + page.body[i..].find("</tr>").unwrap_or(page.body.len() - i);
        text(&page.body[i..end])
    });
    assert!(
        total
            .as_deref()
            .is_some_and(|t| t.contains("3,905.00") && t.contains("100.0%")),
        "no totals row with 3,905.00 and 100.0%:\n{}",
        page.body
    );
    assert!(
        page.body.contains("Get commentary"),
        "no Get commentary button:\n{}",
        page.body
    );

    let saved = api_holdings(&client);
    assert_eq!(
        saved,
        vec![
            json!({"symbol": "AAPL", "quantity": 10.0, "price": 190.5, "cost_basis": 150.0}),
            json!({"symbol": "MSFT", "quantity": 5.0, "price": 400.0}),
        ]
    );
}

#[test]
fn saving_the_same_symbol_again_updates_it() {
    let app = TestServer::new().spawn();
    let client = signed_in(&app, "updater@example.com");
    add_holding(&client, "VWCE.DE", "3", "100", "90");
    add_holding(&client, "vwce.de", "7", "110", "");
    let saved = api_holdings(&client);
    assert_eq!(
        saved,
        vec![json!({"symbol": "VWCE.DE", "quantity": 7.0, "price": 110.0})],
        "the second save should replace the first, cost basis included"
    );
    let page = portfolio_page(&client);
    assert_eq!(page.body.matches("data-symbol=\"VWCE.DE\"").count(), 1);
}

#[test]
fn deleting_a_holding_removes_it() {
    let app = TestServer::new().spawn();
    let client = signed_in(&app, "deleter@example.com");
    add_holding(&client, "AAPL", "1", "100", "");
    add_holding(&client, "BRK.B", "2", "300", "");
    add_holding(&client, "RDS-A", "3", "30", "");

    let page = portfolio_page(&client);
    assert!(
        page.body
            .contains("action=\"/portfolio/holdings/AAPL/delete\""),
        "no delete form for AAPL:\n{}",
        page.body
    );

    let resp = delete_holding(&client, "AAPL");
    assert!(resp.is_see_other_to("/portfolio"), "{}", resp.summary());
    assert_eq!(saved_symbols(&client), vec!["BRK.B", "RDS-A"]);

    let resp = delete_holding(&client, "brk.b");
    assert!(
        resp.is_see_other_to("/portfolio"),
        "deleting by a lowercase symbol: {}",
        resp.summary()
    );
    assert_eq!(saved_symbols(&client), vec!["RDS-A"]);
    assert!(row(&portfolio_page(&client).body, "AAPL").is_none());
}

#[test]
fn deleting_an_unknown_symbol_is_404() {
    let app = TestServer::new().spawn();
    let client = signed_in(&app, "nothing@example.com");
    add_holding(&client, "AAPL", "1", "100", "");
    for symbol in ["MSFT", "A%20B", "AAPLAAPLAAPLAAPLX"] {
        let resp = delete_holding(&client, symbol);
        assert_eq!(resp.status, 404, "delete {symbol}: {}", resp.summary());
    }
    assert_eq!(saved_symbols(&client), vec!["AAPL"]);
}

#[test]
fn holdings_belong_to_their_owner() {
    let app = TestServer::new().spawn();
    let alice = signed_in(&app, "alice@example.com");
    let bob = signed_in(&app, "bob@example.com");
    add_holding(&alice, "AAPL", "1", "100", "");
    put_holdings(&bob, json!([{"symbol": "MSFT", "quantity": 1, "price": 1}]));

    assert_eq!(saved_symbols(&alice), vec!["AAPL"]);
    assert_eq!(saved_symbols(&bob), vec!["MSFT"]);
    assert!(row(&portfolio_page(&bob).body, "AAPL").is_none());
    let resp = delete_holding(&bob, "AAPL");
    assert_eq!(
        resp.status,
        404,
        "bob deleting alice's holding: {}",
        resp.summary()
    );
    assert_eq!(saved_symbols(&alice), vec!["AAPL"]);
}

#[test]
fn symbols_and_values_are_escaped_in_the_page() {
    let app = TestServer::new().spawn();
    let client = signed_in(&app, "escape@example.com");
    let resp = submit_holding(
        &client,
        &[("symbol", "<b>x"), ("quantity", "\"><i>"), ("price", "1")],
    );
    assert_eq!(resp.status, 400, "{}", resp.summary());
    assert!(
        !resp.body.contains("<b>x") && !resp.body.contains("\"><i>"),
        "user input was put in the page unescaped:\n{}",
        resp.body
    );
}
