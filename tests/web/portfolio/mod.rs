//! The portfolio: the page with its table, chart and forms, and the JSON API
//! (SPEC §4 "GET /portfolio", "GET/PUT /api/portfolio", limits on input),
//! driven through the real server.

mod api;
mod chart;
mod limits;
mod page;

use serde_json::{json, Value};

use crate::support::{
    self, csrf_in, input_value, json_error, json_error_message, signed_in, Client, Resp, TestServer,
};

/// GET /portfolio signed in; must be 200 HTML.
fn portfolio_page(client: &Client) -> Resp {
    let page = client.get("/portfolio");
    assert_eq!(page.status, 200, "GET /portfolio: {}", page.summary());
    assert!(
        page.header("content-type")
            .is_some_and(|t| t.starts_with("text/html")),
        "GET /portfolio is not HTML: {}",
        page.summary()
    );
    page
}

/// The page's csrf token.
fn page_csrf(client: &Client) -> String {
    csrf_in(&portfolio_page(client).body)
}

/// POSTs the add/update form with `fields` and the page's csrf token.
fn submit_holding(client: &Client, fields: &[(&str, &str)]) -> Resp {
    let csrf = page_csrf(client);
    let mut all = fields.to_vec();
    all.push(("csrf", &csrf));
    client.post_form("/portfolio/holdings", &all)
}

/// Adds or updates one holding through the form; must answer 303 /portfolio.
fn add_holding(client: &Client, symbol: &str, quantity: &str, price: &str, cost_basis: &str) {
    let resp = submit_holding(
        client,
        &[
            ("symbol", symbol),
            ("quantity", quantity),
            ("price", price),
            ("cost_basis", cost_basis),
        ],
    );
    assert!(
        resp.is_see_other_to("/portfolio"),
        "saving {symbol} {quantity} @ {price}: {}",
        resp.summary()
    );
}

/// POST /portfolio/holdings/{symbol}/delete with the page's csrf token.
fn delete_holding(client: &Client, symbol: &str) -> Resp {
    let csrf = page_csrf(client);
    client.post_form(
        &format!("/portfolio/holdings/{symbol}/delete"),
        &[("csrf", &csrf)],
    )
}

/// GET /api/portfolio; must be 200 JSON. Returns the `holdings` array.
fn api_holdings(client: &Client) -> Vec<Value> {
    let resp = client.get("/api/portfolio");
    assert_eq!(resp.status, 200, "GET /api/portfolio: {}", resp.summary());
    let body = json_of(&resp);
    body["holdings"]
        .as_array()
        .unwrap_or_else(|| panic!("no holdings array: {}", resp.body))
        .clone()
}

/// The symbols of the saved holdings, in the order the API gives them.
fn saved_symbols(client: &Client) -> Vec<String> {
    api_holdings(client)
        .iter()
        .map(|h| {
            h["symbol"]
                .as_str()
                .expect("symbol is a string")
                .to_string()
        })
        .collect()
}

/// PUT /api/portfolio with `body` as `application/json`.
fn put_json(client: &Client, body: &str) -> Resp {
    put_with(client, body, &[("Content-Type", "application/json")])
}

fn put_with(client: &Client, body: &str, headers: &[(&str, &str)]) -> Resp {
    client.request("PUT", "/api/portfolio", headers, body.as_bytes())
}

/// PUT /api/portfolio with `holdings`; must be 200.
fn put_holdings(client: &Client, holdings: Value) -> Value {
    let resp = put_json(client, &json!({ "holdings": holdings }).to_string());
    assert_eq!(resp.status, 200, "PUT /api/portfolio: {}", resp.summary());
    json_of(&resp)
}

/// The JSON body, made `comparable`.
fn json_of(resp: &Resp) -> Value {
    comparable(support::json_of(resp))
}

/// Every number as an f64 (`10` and `10.0` are the same amount) and a null
/// `cost_basis` dropped (it means none), so answers compare by meaning; so
/// are the defaults of SPEC §10's fields (`currency` USD, a `typed` price
/// with a null `price_at`), which `tests/web/portfolio_money/` checks.
fn comparable(value: Value) -> Value {
    let default = |k: &str, v: &Value| {
        (k == "cost_basis" && v.is_null())
            || (k == "price_at" && v.is_null())
            || (k == "price_source" && v == "typed")
            || (k == "currency" && v == "USD")
    };
    match value {
        Value::Number(n) => n.as_f64().map_or(Value::Number(n), |x| json!(x)),
        Value::Array(items) => Value::Array(items.into_iter().map(comparable).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(k, v)| !default(k, v))
                .map(|(k, v)| (k, comparable(v)))
                .collect(),
        ),
        other => other,
    }
}

/// The `<tr data-symbol="SYM">…</tr>` of the holdings table.
fn row(html: &str, symbol: &str) -> Option<String> {
    let start = html.find(&format!("<tr data-symbol=\"{symbol}\""))?;
    let end = start + html[start..].find("</tr>")?;
    Some(html[start..end].to_string())
}

/// The visible text of an HTML fragment, tags dropped, spaces squeezed.
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
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The `<svg …>…</svg>` of the page.
fn svg(html: &str) -> Option<String> {
    let start = html.find("<svg")?;
    let end = start + html[start..].find("</svg>")? + "</svg>".len();
    Some(html[start..end].to_string())
}

/// `n` valid holdings `S0`, `S1`, … worth 1 each.
fn many_holdings(n: usize) -> Value {
    Value::Array(
        (0..n)
            .map(|i| json!({"symbol": format!("S{i}"), "quantity": 1, "price": 1}))
            .collect(),
    )
}

fn three_holdings() -> Value {
    json!([
        {"symbol": "AAPL", "quantity": 10, "price": 190.5, "cost_basis": 150},
        {"symbol": "MSFT", "quantity": 5, "price": 400},
        {"symbol": "CASH", "quantity": 1000, "price": 1},
    ])
}
