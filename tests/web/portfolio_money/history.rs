//! Item 3: the daily total in `portfolio_history`, drawn as an SVG line
//! with words beside it, and the 30-day change in the commentary.

use super::*;

fn today() -> String {
    app::clock::Timestamp::now().date_string()
}

fn days_ago(n: i64) -> String {
    app::clock::Timestamp::now()
        .plus(-n * app::clock::DAY)
        .date_string()
}

#[test]
fn the_first_sign_in_of_a_day_records_the_total_and_the_page_draws_it() {
    let market = FakeMarket::start();
    let mut app = spawn_with_market(&market, &[]);
    // An account from an earlier day, with holdings, signs in today.
    app.db()
        .execute(
            "INSERT INTO users (email, tier, created_at) VALUES ('daily@example.com', 'free', '2026-01-01T00:00:00Z')",
            [],
        )
        .unwrap();
    let file = app.dir().join("h.csv");
    std::fs::write(
        &file,
        "symbol,quantity,price,cost_basis,currency
AAPL,10,100,,
SAP.DE,4,100,,EUR
",
    )
    .unwrap();
    let out = app.cli(&[
        "import-holdings",
        "--email",
        "daily@example.com",
        "--csv",
        file.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(app.query_i64("SELECT count(*) FROM portfolio_history"), 0);
    let again = crate::support::signed_in(&app, "daily@example.com");
    let recorded = |app: &TestServer| -> (String, String, String) {
        app.db()
            .query_row(
                "SELECT day, value, currency FROM portfolio_history",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap()
    };
    let (day, value, currency) = recorded(&app);
    assert_eq!(
        (day.as_str(), value.as_str(), currency.as_str()),
        (today().as_str(), "1457.4", "USD")
    );
    let page = again.get("/portfolio");
    assert!(
        page.body.contains("One day recorded so far: 1,457.40 USD"),
        "a dot for one day"
    );

    // The daily job does the same for accounts that did not sign in.
    app.db()
        .execute("DELETE FROM portfolio_history", [])
        .unwrap();
    app.restart();
    let deadline = Instant::now() + JOB_WAIT;
    while app.query_i64("SELECT count(*) FROM portfolio_history") == 0 {
        assert!(
            Instant::now() < deadline,
            "the job recorded nothing:\n{}",
            app.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(recorded(&app).1, "1457.4");
    assert_eq!(
        app.query_i64("SELECT count(*) FROM portfolio_history"),
        1,
        "once a day"
    );

    let id = crate::support::user_id(&app, "daily@example.com");
    app.db()
        .execute(
            "INSERT INTO portfolio_history (user_id, day, value, currency) VALUES (?1, ?2, '1300', 'USD')",
            rusqlite::params![id, days_ago(10)],
        )
        .unwrap();
    let page = again.get("/portfolio");
    assert!(page.body.contains("data-testid=\"history-chart\"") && page.body.contains("<polyline"));
    let words = text(&page.body);
    assert!(
        words.contains(&format!(
            "From 1,300.00 USD on {} to 1,457.40 USD on {}",
            days_ago(10),
            today()
        )),
        "{words}"
    );
    assert!(page.body.contains("aria-current=\"page\">30 days"));
    let year = again.get("/portfolio?range=1y");
    assert!(year.body.contains("aria-current=\"page\">1 year"));
    assert!(again
        .get("/portfolio?range=all")
        .body
        .contains("aria-current=\"page\">All"));
}

#[test]
fn the_commentary_speaks_of_the_30_day_change() {
    let app = TestServer::new().spawn();
    let client = crate::support::paid_user(&app, "change@example.com");
    put(
        &client,
        json!([{"symbol": "AAPL", "quantity": 10, "price": 110}, {"symbol": "CASH", "quantity": 100, "price": 1}]),
    );
    let analyse = || {
        let resp = client.request(
            "POST",
            "/api/analyze",
            &[("Content-Type", "application/json")],
            b"",
        );
        assert_eq!(resp.status, 200, "{}", resp.summary());
        json_of(&resp)
    };
    let first = analyse();
    assert_eq!(first["metrics"]["base_currency"], "USD");
    assert!(
        first["metrics"]["change_30d"].is_null(),
        "no history yet: {first}"
    );
    assert!(!first["commentary"].as_str().unwrap().contains("30 days"));

    let id = crate::support::user_id(&app, "change@example.com");
    let db = app.db();
    for (day, value) in [
        (days_ago(45), "900"),
        (days_ago(31), "1000"),
        (days_ago(5), "1150"),
    ] {
        db.execute(
            "INSERT INTO portfolio_history (user_id, day, value, currency) VALUES (?1, ?2, ?3, 'USD')",
            rusqlite::params![id, day, value],
        )
        .unwrap();
    }
    let second = analyse();
    let change = &second["metrics"]["change_30d"];
    assert_eq!(change["since"], days_ago(31));
    assert_eq!(
        (change["from"].as_f64(), change["to"].as_f64()),
        (Some(1000.0), Some(1200.0))
    );
    assert_eq!(change["change"], 200.0);
    assert_eq!(change["fraction"], 0.2);
    let words = second["commentary"].as_str().unwrap();
    assert!(
        words.contains(&format!(
            "up 20.0% since {}, +200.00 USD over 30 days",
            days_ago(31)
        )),
        "{words}"
    );
}
