//! Item 4: `GET /portfolio/export.csv` and `POST /portfolio/import` (a
//! multipart upload, all rows or none, each bad row named by line).

use super::*;

const GOOD: &str = "symbol,quantity,price,cost_basis,currency\r\n\
AAPL,10,190.50,150,USD\r\n\
SAP.DE,4,\"120,25\",,EUR\r\n\
CASH,1000,1,,\r\n";

#[test]
fn an_upload_adds_every_row_and_the_export_reads_back() {
    let app = TestServer::new().spawn();
    let client = crate::support::signed_in(&app, "importer@example.com");
    put(
        &client,
        json!([{"symbol": "AAPL", "quantity": 1, "price": 1}, {"symbol": "KEEP", "quantity": 2, "price": 3}]),
    );
    let csrf = csrf_in(&client.get("/portfolio").body);
    let resp = upload(&client, Some(&csrf), GOOD.as_bytes());
    assert!(
        resp.is_see_other_to("/portfolio#history"),
        "{}",
        resp.summary()
    );
    let aapl = holding(&client, "AAPL");
    assert_eq!(
        (
            aapl["quantity"].as_f64(),
            aapl["price"].as_f64(),
            aapl["cost_basis"].as_f64()
        ),
        (Some(10.0), Some(190.5), Some(150.0))
    );
    let sap = holding(&client, "SAP.DE");
    assert_eq!(
        (sap["price"].as_f64(), sap["currency"].as_str()),
        (Some(120.25), Some("EUR"))
    );
    assert_eq!(
        holding(&client, "CASH")["currency"],
        "USD",
        "an empty currency is the base one"
    );
    assert_eq!(
        holding(&client, "KEEP")["quantity"],
        2.0,
        "holdings not in the file stay"
    );

    let export = client.get("/portfolio/export.csv");
    assert_eq!(export.status, 200);
    assert!(export
        .header("content-type")
        .is_some_and(|t| t.starts_with("text/csv")));
    assert!(export
        .header("content-disposition")
        .is_some_and(|d| d.starts_with("attachment; filename=\"holdings-")));
    assert_eq!(
        export.body,
        "symbol,quantity,price,cost_basis,currency\r\n\
AAPL,10,190.5,150,USD\r\nCASH,1000,1,,USD\r\nKEEP,2,3,,USD\r\nSAP.DE,4,120.25,,EUR\r\n"
    );
    // Another account brings the same file in and holds the same.
    let other = crate::support::signed_in(&app, "copy@example.com");
    let csrf = csrf_in(&other.get("/portfolio").body);
    assert!(
        upload(&other, Some(&csrf), export.body.as_bytes()).is_see_other_to("/portfolio#history")
    );
    assert_eq!(other.get("/portfolio/export.csv").body, export.body);
}

#[test]
fn a_file_with_bad_rows_changes_nothing_and_names_every_one() {
    let app = TestServer::new().spawn();
    let client = crate::support::signed_in(&app, "badrows@example.com");
    put(
        &client,
        json!([{"symbol": "KEEP", "quantity": 1, "price": 1}]),
    );
    let csv = "symbol,quantity,price,cost_basis,currency\n\
GOOD,1,2,,\n\
a b,1,2,,\n\
MSFT,ten,400,,\n\
X,1,2,,EURO\n";
    let csrf = csrf_in(&client.get("/portfolio").body);
    let resp = upload(&client, Some(&csrf), csv.as_bytes());
    assert_eq!(resp.status, 400, "{}", resp.summary());
    let words = text(&resp.body);
    assert!(words.contains("Nothing was imported."), "{words}");
    assert!(words.contains("line 3: a symbol is 1 to 16"), "{words}");
    assert!(
        words.contains("line 4: quantity must be a number"),
        "{words}"
    );
    assert!(words.contains("line 5: currency \"EURO\""), "{words}");
    assert!(!words.contains("line 2:"), "{words}");
    let export = client.get("/portfolio/export.csv").body;
    assert_eq!(
        export, "symbol,quantity,price,cost_basis,currency\r\nKEEP,1,1,,USD\r\n",
        "all or none"
    );
    let header = upload(&client, Some(&csrf), b"sym,qty\nA,1\n");
    assert!(text(&header.body)
        .contains("line 1: the first line must be symbol,quantity,price,cost_basis,currency"));
}

#[test]
fn an_upload_needs_its_token_and_at_most_64_kib() {
    let app = TestServer::new().spawn();
    let client = crate::support::signed_in(&app, "guarded@example.com");
    assert_eq!(upload(&client, None, GOOD.as_bytes()).status, 403);
    assert_eq!(upload(&client, Some("forged"), GOOD.as_bytes()).status, 403);
    let csrf = csrf_in(&client.get("/portfolio").body);
    let mut big = GOOD.as_bytes().to_vec();
    big.resize(70 * 1024, b'\n');
    assert_eq!(upload(&client, Some(&csrf), &big).status, 413);
    let anonymous = app.client();
    let resp = upload(&anonymous, Some(&csrf), GOOD.as_bytes());
    assert!(
        resp.status == 403 || resp.is_see_other_to("/login"),
        "{}",
        resp.summary()
    );
    assert_eq!(app.query_i64("SELECT count(*) FROM holdings"), 0);
}
