//! Issue 22 in the browser: a USD account adds a EUR holding and sees it
//! converted at the (fake) ECB rate, imports a CSV through the file picker,
//! and sees the history chart; the page still fits 390 and 320 px, and
//! axe-core finds nothing on it, its import errors or the settings' currency
//! form at 1280 and 390 px.

use std::time::{Duration, Instant};

use super::support::market::FakeMarket;
use super::support::TestServer;
use super::webdriver::{Binaries, Browser, Driver};
use super::{axe, pages, sign_in, Screenshots, HEIGHT, WIDTH};

const DANA: &str = "dana@example.com";

#[test]
fn a_eur_holding_is_converted_a_csv_is_imported_and_the_history_is_drawn() {
    let bins = Binaries::find();
    let market = FakeMarket::start();
    let fx = market.fx_url();
    let app = TestServer::new().env("APP_FX_URL", &fx).spawn();
    let deadline = Instant::now() + Duration::from_secs(20);
    while app.query_i64("SELECT count(*) FROM fx_rates") == 0 {
        assert!(Instant::now() < deadline, "no rates:\n{}", app.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    let shots = Screenshots::under("portfolio-money");
    let driver = Driver::start(&bins);
    let profiles = tempfile::tempdir().unwrap();
    let dana = driver.browser(&profiles.path().join("dana"), WIDTH, HEIGHT);
    dana.goto(&format!("{}/login", app.base_url()));
    dana.wait_for_path("/login");
    sign_in(&app, &dana, DANA, &shots, "dana");

    // A USD holding, then a EUR one: the EUR one is valued in USD.
    for (symbol, quantity, price, currency) in
        [("AAPL", "10", "100", ""), ("SAP.DE", "4", "100", "EUR")]
    {
        add(&dana, symbol, quantity, price, currency);
    }
    let sap = dana.text(&dana.find("tr[data-symbol='SAP.DE']"));
    assert!(
        sap.contains("100.00 EUR"),
        "the row shows its own currency: {sap}"
    );
    assert!(
        sap.contains("457.40") && sap.contains("400.00 EUR"),
        "converted at 1.1435: {sap}"
    );
    let total = dana.text(&dana.find("[data-testid=total-value]"));
    assert_eq!(total, "1,457.40 USD");
    let note = dana.text(&dana.find("[data-testid=rates-note]"));
    assert!(note.contains("2026-07-09"), "{note}");
    shots.take(&dana, "portfolio-converted");

    // Earlier days' totals, as the daily job would have kept them.
    let id: i64 = app
        .db()
        .query_row("SELECT id FROM users WHERE email = ?1", [DANA], |r| {
            r.get(0)
        })
        .unwrap();
    let now = app::clock::Timestamp::now();
    for (days, value) in [(3, "1200"), (2, "1350.5"), (1, "1300")] {
        app.db()
            .execute(
                "INSERT INTO portfolio_history (user_id, day, value, currency) VALUES (?1, ?2, ?3, 'USD')",
                rusqlite::params![id, now.plus(-days * app::clock::DAY).date_string(), value],
            )
            .unwrap();
    }

    // Import a CSV through the file picker.
    let csv = profiles.path().join("holdings.csv");
    std::fs::write(
        &csv,
        "symbol,quantity,price,cost_basis,currency\nVWCE.DE,2,\"110,50\",,EUR\nCASH,500,1,,USD\n",
    )
    .unwrap();
    dana.type_into(&dana.find("#f-file"), csv.to_str().unwrap());
    dana.click(&dana.find("form.import-form button[type=submit]"));
    dana.find("tr[data-symbol='VWCE.DE']");
    dana.wait_for_path("/portfolio");
    let vwce = dana.text(&dana.find("tr[data-symbol='VWCE.DE']"));
    assert!(vwce.contains("110.50 EUR"), "{vwce}");

    // The history chart: a line, and the same in words.
    let chart = dana.find("[data-testid=history-chart]");
    assert!(dana.is_displayed(&chart), "the history chart shows");
    let points = dana.execute(
        "return document.querySelector('[data-testid=history-chart] polyline').getAttribute('points').split(' ').length",
        vec![],
    );
    assert_eq!(points, 3, "one point per recorded day");
    let words = dana.text(&dana.find("[data-testid=history-summary]"));
    assert!(
        words.starts_with("From 1,200.00 USD on ") && words.contains("3 days recorded"),
        "{words}"
    );
    dana.click(&dana.find("nav.spans a[href*='range=all']"));
    dana.wait_for("the All span", || {
        dana.try_find("nav.spans a[aria-current=page][href*='range=all']")
    });
    shots.take(&dana, "portfolio-history");

    // A holding in a currency the ECB does not publish: shown with its note,
    // left out of the total, and on the phones below with the other rows.
    add(&dana, "VOLV-B.ST", "3", "250", "SEK");
    let volvo = dana.text(&dana.find("tr[data-symbol='VOLV-B.ST']"));
    assert!(
        volvo.contains("No SEK rate: not in the total"),
        "the row says why it is not counted: {volvo}"
    );

    // axe-core: the portfolio (EUR and USD holdings, the history chart), the
    // import's error state and the settings' currency form, at 1280 and 390.
    let base = app.base_url();
    let bad = profiles.path().join("bad.csv");
    std::fs::write(
        &bad,
        "symbol,quantity,price,cost_basis,currency\nAAPL,ten,100,,USD\n,1,1,,EURO\n",
    )
    .unwrap();
    for (width, height) in [(WIDTH, HEIGHT), pages::PHONE] {
        dana.resize(width, height);
        dana.wait_for(&format!("a {width} px wide window"), || {
            let inner = dana.execute("return window.innerWidth", vec![]);
            (inner.as_u64() == Some(u64::from(width))).then_some(())
        });
        dana.goto(&format!("{base}/portfolio?range=all"));
        dana.find("[data-testid=history-chart]");
        dana.find("tr[data-symbol='SAP.DE']");
        axe::no_violations(
            &dana,
            &format!("/portfolio with EUR and USD holdings and the history at {width} px"),
        );

        dana.type_into(&dana.find("#f-file"), bad.to_str().unwrap());
        dana.click(&dana.find("form.import-form button[type=submit]"));
        let errors = dana.find("#import-errors");
        let listed = dana.text(&errors);
        assert!(
            listed.contains("line 2") && listed.contains("line 3"),
            "each bad row named: {listed}"
        );
        shots.take(&dana, &format!("import-errors-{width}"));
        axe::no_violations(&dana, &format!("the import's errors at {width} px"));

        dana.goto(&format!("{base}/settings"));
        dana.find("select#f-base");
        axe::no_violations(
            &dana,
            &format!("/settings with the currency form at {width} px"),
        );
    }

    pages::on_phones(&dana, &shots, base, "/portfolio", "portfolio-money");
    pages::on_phones(&dana, &shots, base, "/settings", "settings-currency");
}

/// Fills the holding form with a currency, saves, and waits for the row.
fn add(browser: &Browser, symbol: &str, quantity: &str, price: &str, currency: &str) {
    let form = "form.holding-form";
    for (name, value) in [
        ("symbol", symbol),
        ("quantity", quantity),
        ("price", price),
        ("cost_basis", ""),
        ("currency", currency),
    ] {
        browser.type_into(&browser.find(&format!("{form} input[name={name}]")), value);
    }
    browser.click(&browser.find(&format!("{form} button[type=submit]")));
    browser.find(&format!("tr[data-symbol='{symbol}']"));
}
