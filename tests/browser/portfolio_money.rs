//! Issue 22 in the browser: a USD account adds a EUR holding and sees it
//! converted at the (fake) ECB rate, imports a CSV through the file picker,
//! and sees the history chart; the page still fits 390 and 320 px.

use std::time::{Duration, Instant};

use super::support::market::FakeMarket;
use super::support::TestServer;
use super::webdriver::{Binaries, Driver};
use super::{pages, sign_in, Screenshots, HEIGHT, WIDTH};

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
    let form = "form.holding-form";
    for (symbol, quantity, price, currency) in
        [("AAPL", "10", "100", ""), ("SAP.DE", "4", "100", "EUR")]
    {
        for (name, value) in [
            ("symbol", symbol),
            ("quantity", quantity),
            ("price", price),
            ("cost_basis", ""),
            ("currency", currency),
        ] {
            dana.type_into(&dana.find(&format!("{form} input[name={name}]")), value);
        }
        dana.click(&dana.find(&format!("{form} button[type=submit]")));
        dana.find(&format!("tr[data-symbol='{symbol}']"));
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

    let base = app.base_url();
    pages::on_phones(&dana, &shots, base, "/portfolio", "portfolio-money");
    pages::on_phones(&dana, &shots, base, "/settings", "settings-currency");
}
