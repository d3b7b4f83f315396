//! `app import-holdings --email E --csv FILE [--json]` (SPEC §10): the
//! operator's import, beside a running server, all rows or none.

use serde_json::Value;

use super::{assert_one_line_error, stderr, succeeded};
use crate::support::{signed_in, TestServer};

fn write(app: &TestServer, name: &str, text: &str) -> String {
    let path = app.dir().join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[test]
fn import_holdings_brings_a_file_into_an_account() {
    let app = TestServer::new().spawn();
    let client = signed_in(&app, "ops-import@example.com");
    let file = write(
        &app,
        "h.csv",
        "symbol;quantity;price;cost_basis;currency\nVWCE.DE;2,5;110,10;;EUR\nAAPL;10;190.50;150;\n",
    );
    let out = app.cli(&[
        "import-holdings",
        "--email",
        "OPS-Import@example.com",
        "--csv",
        &file,
        "--json",
    ]);
    let printed: Value =
        serde_json::from_str(succeeded(&out, "import-holdings --json").trim()).unwrap();
    assert_eq!(
        printed,
        serde_json::json!({"email": "ops-import@example.com", "added": 2, "updated": 0, "holdings": 2})
    );
    let export = client.get("/portfolio/export.csv").body;
    assert_eq!(
        export,
        "symbol,quantity,price,cost_basis,currency\r\nAAPL,10,190.5,150,USD\r\nVWCE.DE,2.5,110.1,,EUR\r\n"
    );
    let again = app.cli(&[
        "import-holdings",
        "--email",
        "ops-import@example.com",
        "--csv",
        &file,
    ]);
    assert_eq!(
        succeeded(&again, "import-holdings"),
        "ops-import@example.com: 0 added, 2 updated; 2 holdings now\n"
    );
}

#[test]
fn import_holdings_refuses_an_unknown_email_and_bad_rows() {
    let app = TestServer::new().spawn();
    signed_in(&app, "known@example.com");
    let good = write(
        &app,
        "good.csv",
        "symbol,quantity,price,cost_basis,currency\nA,1,1,,\n",
    );
    let out = app.cli(&[
        "import-holdings",
        "--email",
        "nobody@example.com",
        "--csv",
        &good,
    ]);
    assert_one_line_error(&out, "unknown email");
    assert!(stderr(&out).contains("nobody@example.com"));
    let bad = write(
        &app,
        "bad.csv",
        "symbol,quantity,price,cost_basis,currency\nOK,1,1,,\nBAD SYMBOL,1,1,,\nC,1,1e3,,\n",
    );
    let out = app.cli(&[
        "import-holdings",
        "--email",
        "known@example.com",
        "--csv",
        &bad,
    ]);
    assert_one_line_error(&out, "bad rows");
    let err = stderr(&out);
    assert!(
        err.contains("nothing imported, 2 bad row(s): line 3: ") && err.contains("; line 4: price"),
        "{err}"
    );
    assert_eq!(
        app.query_i64("SELECT count(*) FROM holdings"),
        0,
        "all or none"
    );
    let missing = app.cli(&[
        "import-holdings",
        "--email",
        "known@example.com",
        "--csv",
        "/nonexistent.csv",
    ]);
    assert_one_line_error(&missing, "missing file");
}
