//! SPEC §10 through the real server: currencies converted at the ECB's
//! rates, quotes from Stooq and Alpha Vantage kept current by the
//! background job, the daily history and its chart, CSV import and export,
//! the API's new fields, and a database from before V9 upgraded in place.
//! Every outside service is `support::market::FakeMarket` on loopback.

mod api;
mod currencies;
mod history;
mod import;
mod quotes;
mod upgrade;

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::market::FakeMarket;
use crate::support::{csrf_in, json_of, Client, Resp, TestServer};

/// How long the background job may take to do what it does within seconds.
const JOB_WAIT: Duration = Duration::from_secs(20);

/// The server with `APP_FX_URL` pointed at the fake, plus `env`.
fn spawn_with_market(market: &FakeMarket, env: &[(&str, String)]) -> TestServer {
    let app = TestServer::new()
        .env("APP_FX_URL", market.fx_url())
        .envs(env.iter().map(|(k, v)| (k, v)))
        .spawn();
    wait_for_rates(&app);
    app
}

/// Waits until the job has stored the fake's rates.
fn wait_for_rates(app: &TestServer) {
    let deadline = Instant::now() + JOB_WAIT;
    while app.query_i64("SELECT count(*) FROM fx_rates") == 0 {
        assert!(
            Instant::now() < deadline,
            "no rates stored; log:\n{}",
            app.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Polls `GET /api/portfolio` until `pred` holds for the holding `symbol`.
fn wait_for_holding(client: &Client, symbol: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + JOB_WAIT;
    loop {
        let h = holding(client, symbol);
        if pred(&h) {
            return h;
        }
        assert!(
            Instant::now() < deadline,
            "{symbol} never became what was wanted: {h}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The API's entry for `symbol`.
fn holding(client: &Client, symbol: &str) -> Value {
    let resp = client.get("/api/portfolio");
    assert_eq!(resp.status, 200, "{}", resp.summary());
    json_of(&resp)["holdings"]
        .as_array()
        .and_then(|list| list.iter().find(|h| h["symbol"] == symbol).cloned())
        .unwrap_or_else(|| panic!("no {symbol} in {}", resp.body))
}

fn put(client: &Client, holdings: Value) -> Resp {
    client.request(
        "PUT",
        "/api/portfolio",
        &[("Content-Type", "application/json")],
        json!({ "holdings": holdings }).to_string().as_bytes(),
    )
}

/// POSTs the holding form with the page's token.
fn submit(client: &Client, fields: &[(&str, &str)]) -> Resp {
    let csrf = csrf_in(&client.get("/portfolio").body);
    let mut all = fields.to_vec();
    all.push(("csrf", &csrf));
    client.post_form("/portfolio/holdings", &all)
}

/// The visible text of a page, tags dropped and spaces squeezed.
fn text(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => {
                in_tag = true;
                out.push(' ');
            }
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    crate::support::html_unescape(&out.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// The `<tr data-symbol="SYM">` row's text.
fn row_text(html: &str, symbol: &str) -> String {
    let start = html
        .find(&format!("<tr data-symbol=\"{symbol}\""))
        .unwrap_or_else(|| panic!("no row for {symbol}"));
    let end = start + html[start..].find("</tr>").unwrap_or(0);
    text(&html[start..end])
}

/// A multipart upload of `csv` as `file`, with `csrf` unless it is `None`.
fn upload(client: &Client, csrf: Option<&str>, csv: &[u8]) -> Resp {
    let boundary = "----WebKitFormBoundaryTest7MA4YWxk";
    let mut body = Vec::new();
    if let Some(token) = csrf {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{token}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"holdings.csv\"\r\nContent-Type: text/csv\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(csv);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    client.request(
        "POST",
        "/portfolio/import",
        &[(
            "Content-Type",
            &format!("multipart/form-data; boundary={boundary}"),
        )],
        &body,
    )
}
