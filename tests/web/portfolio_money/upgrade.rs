//! A database from before V9 (REAL amounts, no currencies) upgrades in place:
//! every holding keeps its numbers and takes the account's base currency.

use super::*;

#[test]
fn a_v7_database_upgrades_in_place_and_its_holdings_take_the_base_currency() {
    let market = FakeMarket::start();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v7.db");
    {
        let mut conn = app::db::open(&path).unwrap();
        app::db::migrate_to(&mut conn, 7).unwrap();
        conn.execute_batch(
            "INSERT INTO users (id, email, tier, created_at) VALUES (1, 'old@example.com', 'free', '2026-01-01T00:00:00Z');
             INSERT INTO holdings (user_id, symbol, quantity, price, cost_basis, updated_at)
             VALUES (1, 'AAPL', 10.0, 190.5, 150.25, '2026-01-02T00:00:00Z'),
                    (1, 'BTC', 0.00012345, 61234.56, NULL, '2026-01-02T00:00:00Z'),
                    (1, 'CASH', 1000, 1, NULL, '2026-01-02T00:00:00Z');",
        )
        .unwrap();
    }
    // A server's own file is swapped for the old one, and served again.
    let mut app = TestServer::new().env("APP_FX_URL", market.fx_url()).spawn();
    app.kill();
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", app.db_path().display()));
    }
    std::fs::copy(&path, app.db_path()).unwrap();
    app.restart();
    let version = app.query_i64("SELECT max(version) FROM refinery_schema_history");
    assert!(version >= 9, "migrated to {version}");
    let rows: Vec<(String, String, String, Option<String>, String, String)> = {
        let db = app.db();
        let mut stmt = db
            .prepare("SELECT symbol, quantity, price, cost_basis, currency, price_source FROM holdings ORDER BY symbol")
            .unwrap();
        stmt.query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect()
    };
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0].4, "USD");
    assert_eq!(rows[0].5, "typed");
    let client = crate::support::signed_in(&app, "old@example.com");
    let body = json_of(&client.get("/api/portfolio"));
    assert_eq!(
        body["holdings"][0],
        json!({"symbol": "AAPL", "quantity": 10.0, "price": 190.5, "cost_basis": 150.25,
               "currency": "USD", "price_source": "typed", "price_at": null})
    );
    assert_eq!(body["holdings"][1]["quantity"], 0.00012345);
    assert!(text(&client.get("/portfolio").body).contains("Total value 2,912.56 USD"));
}
