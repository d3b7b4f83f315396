//! Item 2: quotes that keep themselves current, from a background job:
//! Stooq's CSV and Alpha Vantage's GLOBAL_QUOTE (local fakes in their real
//! formats), a typed price left alone, a failing provider leaving the last
//! good price, and the key never in the log.

use super::*;
use crate::support::market::{alphavantage_quote, stooq_row, Answer, ALPHAVANTAGE_NOTE};

fn stooq_env(market: &FakeMarket) -> Vec<(&'static str, String)> {
    vec![
        ("APP_QUOTES", "stooq".into()),
        ("APP_QUOTES_URL", market.base_url()),
    ]
}

#[test]
fn a_holding_switched_to_quoted_takes_stooq_prices_and_a_typed_one_stays_typed() {
    let market = FakeMarket::start();
    market.set_quote(
        "aapl.us",
        Answer::ok(
            "text/csv",
            &stooq_row("aapl.us", "2026-10-02", "22:00:00", "227.5"),
        ),
    );
    market.set_quote(
        "msft.us",
        Answer::ok(
            "text/csv",
            &stooq_row("msft.us", "2026-10-02", "22:00:00", "999"),
        ),
    );
    market.set_quote(
        "sap.de",
        Answer::ok(
            "text/csv",
            &stooq_row("sap.de", "2026-10-02", "17:35:00", "120.4"),
        ),
    );
    let app = spawn_with_market(&market, &stooq_env(&market));
    let client = crate::support::signed_in(&app, "quoted@example.com");
    let page = client.get("/portfolio");
    assert!(
        page.body.contains("Keep the price current from Stooq"),
        "the form offers quotes"
    );
    let typed = submit(
        &client,
        &[
            ("symbol", "MSFT"),
            ("quantity", "1"),
            ("price", "400"),
            ("cost_basis", ""),
        ],
    );
    assert!(typed.is_see_other_to("/portfolio"), "{}", typed.summary());
    let quoted = submit(
        &client,
        &[
            ("symbol", "AAPL"),
            ("quantity", "2"),
            ("price", "100"),
            ("cost_basis", ""),
            ("quoted", "1"),
        ],
    );
    assert!(quoted.is_see_other_to("/portfolio"), "{}", quoted.summary());
    let suffix = submit(
        &client,
        &[
            ("symbol", "SAP.DE"),
            ("quantity", "1"),
            ("price", ""),
            ("cost_basis", ""),
            ("currency", "EUR"),
            ("quoted", "1"),
        ],
    );
    assert!(
        suffix.is_see_other_to("/portfolio"),
        "an empty price waits for the quote: {}",
        suffix.summary()
    );

    let aapl = wait_for_holding(&client, "AAPL", |h| h["price_at"].is_string());
    assert_eq!(aapl["price"], 227.5);
    assert_eq!(aapl["price_source"], "stooq");
    // Stooq's 22:00 is Warsaw summer time: 20:00 UTC.
    assert_eq!(aapl["price_at"], "2026-10-02T20:00:00Z");
    let sap = wait_for_holding(&client, "SAP.DE", |h| h["price_at"].is_string());
    assert_eq!(
        (sap["price"].as_f64(), sap["currency"].as_str()),
        (Some(120.4), Some("EUR"))
    );
    let row = row_text(&client.get("/portfolio").body, "AAPL");
    assert!(
        row.contains("227.50 USD") && row.contains("Stooq · 2026-10-02 20:00 UTC"),
        "{row}"
    );

    let msft = holding(&client, "MSFT");
    assert_eq!(
        (msft["price"].as_f64(), msft["price_source"].as_str()),
        (Some(400.0), Some("typed"))
    );
    assert!(msft["price_at"].is_null());
    assert!(
        !market.seen().iter().any(|t| t.contains("msft")),
        "a typed holding is never asked for: {:?}",
        market.seen()
    );
    let asked = market
        .seen()
        .into_iter()
        .find(|t| t.contains("aapl"))
        .unwrap();
    assert_eq!(asked, "/q/l/?s=aapl.us&f=sd2t2ohlcv&h&e=csv");

    // Typing a price again (box unticked) makes it typed, and it stays so.
    let back = submit(
        &client,
        &[
            ("symbol", "AAPL"),
            ("quantity", "2"),
            ("price", "150"),
            ("cost_basis", ""),
        ],
    );
    assert!(back.is_see_other_to("/portfolio"));
    let aapl = holding(&client, "AAPL");
    assert_eq!(
        (aapl["price"].as_f64(), aapl["price_source"].as_str()),
        (Some(150.0), Some("typed"))
    );
}

#[test]
fn a_failing_provider_keeps_the_last_good_price_and_its_time() {
    let market = FakeMarket::start();
    market.set_quote(
        "aapl.us",
        Answer::ok(
            "text/csv",
            &stooq_row("aapl.us", "2026-12-01", "22:00:00", "230.1"),
        ),
    );
    let env = stooq_env(&market);
    let mut app = spawn_with_market(&market, &env);
    let client = crate::support::signed_in(&app, "keeps@example.com");
    let resp = put(
        &client,
        json!([{"symbol": "AAPL", "quantity": 1, "price": 1, "price_source": "stooq"}]),
    );
    assert_eq!(resp.status, 200, "{}", resp.summary());
    let good = wait_for_holding(&client, "AAPL", |h| h["price"] == 230.1);
    assert_eq!(good["price_at"], "2026-12-01T21:00:00Z");

    // The provider goes down; a restart asks for every held symbol at once.
    market.set_all_quotes(Some(Answer::failing()));
    let asked_before = market.seen().len();
    app.restart_with(env.iter().map(|(k, v)| (k, v)));
    assert!(
        market.wait_for(JOB_WAIT, |seen| seen[asked_before..]
            .iter()
            .any(|t| t.contains("aapl"))),
        "the job asked again after the restart"
    );
    let deadline = Instant::now() + JOB_WAIT;
    while !app.log().contains("event=quotes.failed") {
        assert!(
            Instant::now() < deadline,
            "no quotes.failed in the log:\n{}",
            app.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let kept = holding(&client, "AAPL");
    assert_eq!(
        (kept["price"].as_f64(), kept["price_at"].as_str()),
        (Some(230.1), Some("2026-12-01T21:00:00Z"))
    );
    let failures = app.query_i64("SELECT failures FROM quotes WHERE symbol = 'AAPL'");
    assert!(failures >= 1, "the failure is counted for the backoff");
    assert!(
        app.query_i64(
            "SELECT count(*) FROM quotes WHERE symbol = 'AAPL' AND next_try_at > fetched_at"
        ) == 1
    );
}

#[test]
fn alphavantage_global_quote_with_its_key_its_refusals_and_no_key_in_the_log() {
    let market = FakeMarket::start();
    market.set_quote(
        "IBM",
        Answer::ok(
            "application/json",
            &alphavantage_quote("IBM", "219.9900", "2026-09-29"),
        ),
    );
    let key = "AVKEY1234SECRET";
    let env = vec![
        ("APP_QUOTES", "alphavantage".to_string()),
        ("APP_QUOTES_URL", market.base_url()),
        ("APP_QUOTES_API_KEY", key.to_string()),
    ];
    let app = spawn_with_market(&market, &env);
    let client = crate::support::signed_in(&app, "av@example.com");
    assert!(client
        .get("/portfolio")
        .body
        .contains("Keep the price current from Alpha Vantage"));
    let resp = put(
        &client,
        json!([{"symbol": "IBM", "quantity": 2, "price": 1, "price_source": "alphavantage"}]),
    );
    assert_eq!(resp.status, 200, "{}", resp.summary());
    let ibm = wait_for_holding(&client, "IBM", |h| h["price_at"].is_string());
    assert_eq!(
        (ibm["price"].as_f64(), ibm["price_source"].as_str()),
        (Some(219.99), Some("alphavantage"))
    );
    assert_eq!(
        ibm["price_at"], "2026-09-29T00:00:00Z",
        "a trading day, kept as its date"
    );
    let asked = market
        .seen()
        .into_iter()
        .find(|t| t.contains("symbol=IBM"))
        .unwrap();
    assert_eq!(
        asked,
        format!("/query?function=GLOBAL_QUOTE&symbol=IBM&apikey={key}")
    );
    market.set_quote("AAPL", Answer::ok("application/json", ALPHAVANTAGE_NOTE));
    // The rate-limit Note is a 200 that carries no price: the typed one stays.
    let resp = put(
        &client,
        json!([
            {"symbol": "IBM", "quantity": 2, "price": 219.99, "price_source": "alphavantage"},
            {"symbol": "AAPL", "quantity": 1, "price": 180, "price_source": "alphavantage"},
        ]),
    );
    assert_eq!(resp.status, 200, "{}", resp.summary());
    let deadline = Instant::now() + JOB_WAIT;
    while !app.log().contains("event=quotes.failed") {
        assert!(Instant::now() < deadline, "{}", app.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    let aapl = holding(&client, "AAPL");
    assert_eq!(
        (aapl["price"].as_f64(), aapl["price_at"].is_null()),
        (Some(180.0), true)
    );
    assert!(text(&client.get("/portfolio").body)
        .contains("Alpha Vantage · waiting for the first quote"));
    assert!(!app.log().contains(key), "the key never reaches the log");
}

#[test]
fn alphavantage_without_a_key_stops_the_app_at_start() {
    let app = TestServer::new().spawn();
    let out = app.cli_with(&["serve", "--addr", "127.0.0.1:0"], |cmd| {
        cmd.env("APP_QUOTES", "alphavantage");
    });
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("APP_QUOTES_API_KEY"), "{err}");
    let out = app.cli_with(&["serve", "--addr", "127.0.0.1:0"], |cmd| {
        cmd.env("APP_QUOTES", "yahoo");
    });
    assert!(String::from_utf8_lossy(&out.stderr).contains("off, stooq or alphavantage"));
}
