//! The portfolio: the page with its table, chart and forms, and the JSON API
//! (SPEC §4 "GET /portfolio", "GET/PUT /api/portfolio", limits on input),
//! driven through the real server.

use serde_json::{json, Value};

use crate::support::{
    self, csrf_in, input_value, json_error, json_error_message, signed_in, Client, Resp, TestApp,
};

// ------------------------------------------------------------------ helpers

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
/// `cost_basis` dropped (it means none), so answers compare by meaning.
fn comparable(value: Value) -> Value {
    match value {
        Value::Number(n) => n.as_f64().map_or(Value::Number(n), |x| json!(x)),
        Value::Array(items) => Value::Array(items.into_iter().map(comparable).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(k, v)| !(k == "cost_basis" && v.is_null()))
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

/// The value of `attr="…"` in the first tag of `fragment`.
fn attr_of(fragment: &str, attr: &str) -> Option<String> {
    let tag_end = fragment.find('>')?;
    let tag = &fragment[..tag_end];
    let at = tag.find(&format!(" {attr}=\""))? + attr.len() + 3;
    let end = at + tag[at..].find('"')?;
    Some(tag[at..end].to_string())
}

/// The text inside the element whose opening tag contains `id="ID"`.
fn element_text(html: &str, id: &str) -> Option<String> {
    let at = html.find(&format!("id=\"{id}\""))?;
    let open_end = at + html[at..].find('>')? + 1;
    let close = open_end + html[open_end..].find("</")?;
    Some(text(&html[open_end..close]))
}

/// The first error message the form shows next to a field, as text.
fn form_error(html: &str) -> String {
    let at = html
        .find("class=\"field-error\"")
        .unwrap_or_else(|| panic!("no error message (field-error) in the page:\n{html}"));
    let open_end = at + html[at..].find('>').unwrap() + 1;
    let close = open_end + html[open_end..].find("</").unwrap();
    text(&html[open_end..close])
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

// ------------------------------------------------------------- the page

#[test]
fn portfolio_page_needs_a_session() {
    let app = TestApp::spawn();
    let resp = app.client().get("/portfolio");
    assert!(resp.is_see_other_to("/login"), "{}", resp.summary());
}

#[test]
fn empty_portfolio_explains_what_to_do() {
    let app = TestApp::spawn();
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
    let app = TestApp::spawn();
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
    let app = TestApp::spawn();
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
    let app = TestApp::spawn();
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
    let app = TestApp::spawn();
    let client = signed_in(&app, "nothing@example.com");
    add_holding(&client, "AAPL", "1", "100", "");
    for symbol in ["MSFT", "A%20B", "AAPLAAPLAAPLAAPLX"] {
        let resp = delete_holding(&client, symbol);
        assert_eq!(resp.status, 404, "delete {symbol}: {}", resp.summary());
    }
    assert_eq!(saved_symbols(&client), vec!["AAPL"]);
}

#[test]
fn holding_forms_need_the_csrf_token_and_our_origin() {
    let app = TestApp::spawn();
    let client = signed_in(&app, "careful@example.com");
    add_holding(&client, "AAPL", "1", "100", "");
    let fields = [("symbol", "MSFT"), ("quantity", "1"), ("price", "1")];

    let resp = client.post_form("/portfolio/holdings", &fields);
    assert_eq!(resp.status, 403, "add without csrf: {}", resp.summary());
    let resp = client.post_form(
        "/portfolio/holdings",
        &[
            ("symbol", "MSFT"),
            ("quantity", "1"),
            ("price", "1"),
            ("csrf", "forged"),
        ],
    );
    assert_eq!(
        resp.status,
        403,
        "add with a forged csrf: {}",
        resp.summary()
    );
    let csrf = page_csrf(&client);
    let mut with_csrf = fields.to_vec();
    with_csrf.push(("csrf", &csrf));
    let resp = client.post_form_with(
        "/portfolio/holdings",
        &with_csrf,
        &[("Origin", "https://evil.example")],
    );
    assert_eq!(
        resp.status,
        403,
        "add from another site: {}",
        resp.summary()
    );

    let resp = client.post_form("/portfolio/holdings/AAPL/delete", &[]);
    assert_eq!(resp.status, 403, "delete without csrf: {}", resp.summary());
    let resp = client.post_form_with(
        "/portfolio/holdings/AAPL/delete",
        &[("csrf", &csrf)],
        &[("Origin", "https://evil.example")],
    );
    assert_eq!(
        resp.status,
        403,
        "delete from another site: {}",
        resp.summary()
    );

    assert_eq!(
        saved_symbols(&client),
        vec!["AAPL"],
        "a refused form changed the portfolio"
    );
}

#[test]
fn holdings_belong_to_their_owner() {
    let app = TestApp::spawn();
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

// ------------------------------------------------------------ the chart

#[test]
fn allocation_chart_is_an_svg_with_a_title_and_a_text_alternative() {
    let app = TestApp::spawn();
    let client = signed_in(&app, "chart@example.com");
    // Values 4,000 / 3,000 / 1,000: 50.0%, 37.5%, 12.5%.
    put_holdings(
        &client,
        json!([
            {"symbol": "AAPL", "quantity": 20, "price": 200},
            {"symbol": "MSFT", "quantity": 10, "price": 300},
            {"symbol": "CASH", "quantity": 1000, "price": 1},
        ]),
    );
    let page = portfolio_page(&client);
    let svg = svg(&page.body).unwrap_or_else(|| panic!("no inline <svg>:\n{}", page.body));
    assert_eq!(attr_of(&svg, "role").as_deref(), Some("img"), "{svg}");

    let labelled_by = attr_of(&svg, "aria-labelledby")
        .unwrap_or_else(|| panic!("the svg has no aria-labelledby: {svg}"));
    let ids: Vec<&str> = labelled_by.split_whitespace().collect();
    assert!(!ids.is_empty(), "{svg}");
    for id in &ids {
        assert!(
            svg.contains(&format!("id=\"{id}\"")),
            "aria-labelledby names {id}, which is not in the svg: {svg}"
        );
    }
    let title = element_text(&svg, "chart-title")
        .or_else(|| {
            let at = svg.find("<title")?;
            let open_end = at + svg[at..].find('>')? + 1;
            Some(text(
                &svg[open_end..open_end + svg[open_end..].find("</title>")?],
            ))
        })
        .unwrap_or_else(|| panic!("the svg has no <title>: {svg}"));
    assert_eq!(title, "Allocation by value");

    // A text alternative that carries the numbers, for people who cannot see
    // the bars: in the <desc> and in the visible caption.
    let desc_start = svg
        .find("<desc")
        .unwrap_or_else(|| panic!("no <desc>: {svg}"));
    let desc = text(&svg[desc_start..desc_start + svg[desc_start..].find("</desc>").unwrap()]);
    for want in ["AAPL 50.0%", "MSFT 37.5%", "CASH 12.5%"] {
        assert!(desc.contains(want), "the <desc> lacks {want:?}: {desc}");
    }
    let caption = page
        .body
        .find("<figcaption")
        .map(|i| text(&page.body[i..i + page.body[i..].find("</figcaption>").unwrap()]));
    assert!(
        caption.as_deref().is_some_and(|c| c.contains("AAPL 50.0%")),
        "no figcaption with the allocation: {caption:?}"
    );
    // Readable without colour: every bar is labelled with its symbol and share.
    for symbol in ["AAPL", "MSFT", "CASH"] {
        assert!(
            svg.contains(&format!(">{symbol}</text>")),
            "no text label for {symbol} in the chart: {svg}"
        );
    }
    for share in ["50.0%", "37.5%", "12.5%"] {
        assert!(
            svg.contains(&format!(">{share}</text>")),
            "no text label {share} in the chart: {svg}"
        );
    }
}

#[test]
fn symbols_and_values_are_escaped_in_the_page() {
    let app = TestApp::spawn();
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

// ------------------------------------------------- form validation (400)

#[test]
fn form_rejects_each_bad_field_with_400_and_saves_nothing() {
    let app = TestApp::spawn();
    let client = signed_in(&app, "validate@example.com");
    add_holding(&client, "KEEP", "1", "1", "");
    let long_symbol = "A".repeat(17);
    // (symbol, quantity, price, cost_basis, the field the message names)
    let cases = [
        ("", "1", "1", "", "symbol"),
        ("   ", "1", "1", "", "symbol"),
        (long_symbol.as_str(), "1", "1", "", "symbol"),
        ("A B", "1", "1", "", "symbol"),
        ("A/B", "1", "1", "", "symbol"),
        ("$AAPL", "1", "1", "", "symbol"),
        ("AÄ", "1", "1", "", "symbol"),
        ("A", "", "1", "", "quantity"),
        ("A", "-1", "1", "", "quantity"),
        ("A", "abc", "1", "", "quantity"),
        ("A", "NaN", "1", "", "quantity"),
        ("A", "inf", "1", "", "quantity"),
        ("A", "1e13", "1", "", "quantity"),
        ("A", "1000000000001", "1", "", "quantity"),
        ("A", "1", "", "", "price"),
        ("A", "1", "-0.01", "", "price"),
        ("A", "1", "ten", "", "price"),
        ("A", "1", "infinity", "", "price"),
        ("A", "1", "2e12", "", "price"),
        ("A", "1", "1", "-5", "cost basis"),
        ("A", "1", "1", "abc", "cost basis"),
        ("A", "1", "1", "NaN", "cost basis"),
        ("A", "1", "1", "1e13", "cost basis"),
    ];
    for (symbol, quantity, price, cost_basis, field) in cases {
        let what = format!(
            "symbol={symbol:?} quantity={quantity:?} price={price:?} cost_basis={cost_basis:?}"
        );
        let resp = submit_holding(
            &client,
            &[
                ("symbol", symbol),
                ("quantity", quantity),
                ("price", price),
                ("cost_basis", cost_basis),
            ],
        );
        assert_eq!(resp.status, 400, "{what}: {}", resp.summary());
        assert!(
            resp.header("content-type")
                .is_some_and(|t| t.starts_with("text/html")),
            "{what}: the form should come back as a page: {}",
            resp.summary()
        );
        let message = form_error(&resp.body);
        assert!(
            message.to_lowercase().contains(field),
            "{what}: the message does not name the {field}: {message:?}"
        );
        assert!(
            try_csrf(&resp.body),
            "{what}: the page that comes back has no form to try again:\n{}",
            resp.body
        );
        assert_eq!(
            saved_symbols(&client),
            vec!["KEEP"],
            "{what}: a refused form changed the portfolio"
        );
    }
}

fn try_csrf(html: &str) -> bool {
    crate::support::try_csrf_in(html).is_some_and(|t| !t.is_empty())
}

#[test]
fn refused_form_keeps_what_was_typed() {
    let app = TestApp::spawn();
    let client = signed_in(&app, "retype@example.com");
    let resp = submit_holding(
        &client,
        &[
            ("symbol", "msft"),
            ("quantity", "-3"),
            ("price", "412.5"),
            ("cost_basis", "300"),
        ],
    );
    assert_eq!(resp.status, 400, "{}", resp.summary());
    assert_eq!(input_value(&resp.body, "symbol").as_deref(), Some("msft"));
    assert_eq!(input_value(&resp.body, "quantity").as_deref(), Some("-3"));
    assert_eq!(input_value(&resp.body, "price").as_deref(), Some("412.5"));
    assert_eq!(
        input_value(&resp.body, "cost_basis").as_deref(),
        Some("300")
    );
    assert!(saved_symbols(&client).is_empty());
}

#[test]
fn form_accepts_the_limits_themselves() {
    let app = TestApp::spawn();
    let client = signed_in(&app, "limits@example.com");
    let sixteen = "ABCDEFGHIJ.-1234";
    add_holding(&client, sixteen, "0", "1000000000000", "0");
    add_holding(&client, "z", "1000000000000", "0", "1000000000000");
    add_holding(&client, " brk.b ", "0.125", "350.25", "");
    let saved = api_holdings(&client);
    assert_eq!(
        saved,
        vec![
            json!({"symbol": sixteen, "quantity": 0.0, "price": 1e12, "cost_basis": 0.0}),
            json!({"symbol": "BRK.B", "quantity": 0.125, "price": 350.25}),
            json!({"symbol": "Z", "quantity": 1e12, "price": 0.0, "cost_basis": 1e12}),
        ]
    );
}

#[test]
fn form_refuses_the_501st_holding_but_still_updates_existing_ones() {
    let app = TestApp::spawn();
    let client = signed_in(&app, "full@example.com");
    put_holdings(&client, many_holdings(500));
    assert_eq!(api_holdings(&client).len(), 500);

    let resp = submit_holding(
        &client,
        &[("symbol", "NEW"), ("quantity", "1"), ("price", "1")],
    );
    assert_eq!(resp.status, 400, "the 501st holding: {}", resp.summary());
    let message = form_error(&resp.body);
    assert!(
        message.contains("500"),
        "the message does not say the limit: {message:?}"
    );
    assert_eq!(api_holdings(&client).len(), 500);
    assert!(!saved_symbols(&client).contains(&"NEW".to_string()));

    add_holding(&client, "S7", "9", "9", "");
    let s7 = api_holdings(&client)
        .into_iter()
        .find(|h| h["symbol"] == "S7")
        .expect("S7 is still there");
    assert_eq!(s7["quantity"], 9.0, "updating at the limit: {s7}");

    assert!(delete_holding(&client, "S0").is_see_other_to("/portfolio"));
    add_holding(&client, "NEW", "1", "1", "");
    assert_eq!(api_holdings(&client).len(), 500);
}

// --------------------------------------------------------------- the API

#[test]
fn api_portfolio_lists_holdings_sorted_by_symbol() {
    let app = TestApp::spawn();
    let client = signed_in(&app, "lister@example.com");
    assert_eq!(api_holdings(&client), Vec::<Value>::new());
    add_holding(&client, "MSFT", "5", "400", "");
    add_holding(&client, "AAPL", "10", "190.5", "150");
    add_holding(&client, "CASH", "1000", "1", "");
    let resp = client.get("/api/portfolio");
    let body = json_of(&resp);
    assert_eq!(
        body,
        json!({"holdings": [
            {"symbol": "AAPL", "quantity": 10.0, "price": 190.5, "cost_basis": 150.0},
            {"symbol": "CASH", "quantity": 1000.0, "price": 1.0},
            {"symbol": "MSFT", "quantity": 5.0, "price": 400.0},
        ]})
    );
}

#[test]
fn api_portfolio_needs_a_session() {
    let app = TestApp::spawn();
    let client = app.client();
    json_error(&client.get("/api/portfolio"), 401, "unauthorized");
    let resp = put_json(&client, &json!({"holdings": three_holdings()}).to_string());
    json_error(&resp, 401, "unauthorized");
}

#[test]
fn put_replaces_every_holding_and_answers_the_saved_list() {
    let app = TestApp::spawn();
    let client = signed_in(&app, "replacer@example.com");
    add_holding(&client, "OLD", "1", "1", "");
    let body = put_holdings(
        &client,
        json!([
            {"symbol": "msft", "quantity": 5, "price": 400},
            {"symbol": "AAPL", "quantity": 10, "price": 190.5, "cost_basis": 150},
            {"symbol": "CASH", "quantity": 1000, "price": 1, "cost_basis": null},
        ]),
    );
    let want = json!({"holdings": [
        {"symbol": "AAPL", "quantity": 10.0, "price": 190.5, "cost_basis": 150.0},
        {"symbol": "CASH", "quantity": 1000.0, "price": 1.0},
        {"symbol": "MSFT", "quantity": 5.0, "price": 400.0},
    ]});
    assert_eq!(body, want, "the answer to PUT");
    assert_eq!(
        json_of(&client.get("/api/portfolio")),
        want,
        "GET after PUT"
    );
    let page = portfolio_page(&client);
    assert!(row(&page.body, "OLD").is_none(), "OLD survived the PUT");
    assert!(row(&page.body, "MSFT").is_some(), "{}", page.body);

    let body = put_holdings(&client, json!([]));
    assert_eq!(body, json!({"holdings": []}));
    assert!(portfolio_page(&client).body.contains("No holdings yet"));
}

#[test]
fn put_with_a_bad_entry_names_it_and_changes_nothing() {
    let app = TestApp::spawn();
    let client = signed_in(&app, "strict@example.com");
    let before = put_holdings(
        &client,
        json!([{"symbol": "KEEP", "quantity": 1, "price": 1}]),
    );
    let good = [
        json!({"symbol": "AAA", "quantity": 1, "price": 1}),
        json!({"symbol": "BBB", "quantity": 2, "price": 2, "cost_basis": 1}),
        json!({"symbol": "CCC", "quantity": 3, "price": 3}),
    ];
    let bad_entries = [
        (
            "empty symbol",
            json!({"symbol": "", "quantity": 1, "price": 1}),
        ),
        (
            "17-character symbol",
            json!({"symbol": "A".repeat(17), "quantity": 1, "price": 1}),
        ),
        (
            "symbol with a space",
            json!({"symbol": "A B", "quantity": 1, "price": 1}),
        ),
        (
            "symbol with a slash",
            json!({"symbol": "A/B", "quantity": 1, "price": 1}),
        ),
        (
            "symbol with a non-ASCII letter",
            json!({"symbol": "AÄ", "quantity": 1, "price": 1}),
        ),
        (
            "symbol as a number",
            json!({"symbol": 7, "quantity": 1, "price": 1}),
        ),
        ("no symbol", json!({"quantity": 1, "price": 1})),
        (
            "negative quantity",
            json!({"symbol": "X", "quantity": -1, "price": 1}),
        ),
        (
            "quantity over 1e12",
            json!({"symbol": "X", "quantity": 1.000001e12, "price": 1}),
        ),
        (
            "quantity as a string",
            json!({"symbol": "X", "quantity": "1", "price": 1}),
        ),
        (
            "null quantity",
            json!({"symbol": "X", "quantity": null, "price": 1}),
        ),
        ("no quantity", json!({"symbol": "X", "price": 1})),
        (
            "negative price",
            json!({"symbol": "X", "quantity": 1, "price": -0.5}),
        ),
        (
            "price over 1e12",
            json!({"symbol": "X", "quantity": 1, "price": 1e13}),
        ),
        (
            "price as a string",
            json!({"symbol": "X", "quantity": 1, "price": "1.5"}),
        ),
        (
            "price as a bool",
            json!({"symbol": "X", "quantity": 1, "price": true}),
        ),
        ("no price", json!({"symbol": "X", "quantity": 1})),
        (
            "negative cost basis",
            json!({"symbol": "X", "quantity": 1, "price": 1, "cost_basis": -2}),
        ),
        (
            "cost basis over 1e12",
            json!({"symbol": "X", "quantity": 1, "price": 1, "cost_basis": 2e12}),
        ),
        (
            "cost basis as a string",
            json!({"symbol": "X", "quantity": 1, "price": 1, "cost_basis": "3"}),
        ),
        (
            "an unknown field",
            json!({"symbol": "X", "quantity": 1, "price": 1, "currency": "USD"}),
        ),
        (
            "a repeated symbol",
            json!({"symbol": "aaa", "quantity": 1, "price": 1}),
        ),
        ("not an object", json!(["X", 1, 1])),
        ("a number", json!(7)),
    ];
    for (what, bad) in bad_entries {
        let mut list = good.to_vec();
        list.push(bad.clone());
        let resp = put_json(&client, &json!({ "holdings": list }).to_string());
        let message = json_error_message(&resp, 400, "bad_request");
        assert!(
            message.to_lowercase().contains("holdings[3]"),
            "{what} ({bad}): the message does not name holdings[3]: {message:?}"
        );
        assert_eq!(
            json_of(&client.get("/api/portfolio")),
            before,
            "{what}: a refused PUT changed the portfolio"
        );
    }
}

#[test]
fn put_refuses_numbers_json_cannot_hold_and_bodies_of_another_shape() {
    let app = TestApp::spawn();
    let client = signed_in(&app, "shapes@example.com");
    let before = put_holdings(
        &client,
        json!([{"symbol": "KEEP", "quantity": 1, "price": 1}]),
    );
    let bodies = [
        r#"{"holdings":[{"symbol":"X","quantity":1e999,"price":1}]}"#,
        r#"{"holdings":[{"symbol":"X","quantity":NaN,"price":1}]}"#,
        r#"{"holdings":[{"symbol":"X","quantity":Infinity,"price":1}]}"#,
        r#"{"holdings":[{"symbol":"X","quantity":-1e999,"price":1}]}"#,
        r#"{"holdings":{"symbol":"X","quantity":1,"price":1}}"#,
        r#"{"holdings":null}"#,
        r#"{}"#,
        r#"[]"#,
        r#"null"#,
        r#"{"holdings":["#,
        r#"not json"#,
        r#""#,
    ];
    for body in bodies {
        let resp = put_json(&client, body);
        json_error(&resp, 400, "bad_request");
        assert_eq!(
            json_of(&client.get("/api/portfolio")),
            before,
            "{body}: a refused PUT changed the portfolio"
        );
    }
}

#[test]
fn put_refuses_a_symbol_twice_in_any_case() {
    let app = TestApp::spawn();
    let client = signed_in(&app, "twice@example.com");
    let resp = put_json(
        &client,
        &json!({"holdings": [
            {"symbol": "AAPL", "quantity": 1, "price": 1},
            {"symbol": "aapl", "quantity": 2, "price": 2},
        ]})
        .to_string(),
    );
    let message = json_error_message(&resp, 400, "bad_request");
    assert!(
        message.to_lowercase().contains("holdings[1]"),
        "the message does not name the repeat: {message:?}"
    );
    assert!(api_holdings(&client).is_empty());
}

#[test]
fn put_takes_500_holdings_and_refuses_501() {
    let app = TestApp::spawn();
    let client = signed_in(&app, "bulk@example.com");
    let body = put_holdings(&client, many_holdings(500));
    assert_eq!(body["holdings"].as_array().map(Vec::len), Some(500));

    let resp = put_json(
        &client,
        &json!({"holdings": many_holdings(501)}).to_string(),
    );
    let message = json_error_message(&resp, 400, "bad_request");
    assert!(
        message.contains("500"),
        "the message does not say the limit: {message:?}"
    );
    assert_eq!(
        api_holdings(&client).len(),
        500,
        "a refused PUT changed the portfolio"
    );
}

#[test]
fn put_accepts_the_limits_themselves() {
    let app = TestApp::spawn();
    let client = signed_in(&app, "edges@example.com");
    let body = put_holdings(
        &client,
        json!([
            {"symbol": "ABCDEFGHIJ.-1234", "quantity": 0, "price": 1e12, "cost_basis": 0},
            {"symbol": "z", "quantity": 1e12, "price": 0, "cost_basis": 1e12},
        ]),
    );
    assert_eq!(
        body,
        json!({"holdings": [
            {"symbol": "ABCDEFGHIJ.-1234", "quantity": 0.0, "price": 1e12, "cost_basis": 0.0},
            {"symbol": "Z", "quantity": 1e12, "price": 0.0, "cost_basis": 1e12},
        ]})
    );
}

#[test]
fn put_takes_only_application_json() {
    let app = TestApp::spawn();
    let client = signed_in(&app, "typed@example.com");
    let body = json!({"holdings": three_holdings()}).to_string();
    for headers in [
        vec![],
        vec![("Content-Type", "text/plain")],
        vec![("Content-Type", "application/x-www-form-urlencoded")],
        vec![("Content-Type", "multipart/form-data; boundary=x")],
    ] {
        let resp = put_with(&client, &body, &headers);
        json_error(&resp, 415, "unsupported_media_type");
    }
    assert!(
        api_holdings(&client).is_empty(),
        "a refused PUT saved holdings"
    );

    let resp = put_with(
        &client,
        &body,
        &[("Content-Type", "application/json; charset=utf-8")],
    );
    assert_eq!(resp.status, 200, "with a charset: {}", resp.summary());
}

#[test]
fn put_from_another_site_or_with_a_stale_token_is_403() {
    let app = TestApp::spawn();
    let client = signed_in(&app, "guarded@example.com");
    let body = json!({"holdings": three_holdings()}).to_string();
    let json_type = ("Content-Type", "application/json");

    let resp = put_with(
        &client,
        &body,
        &[json_type, ("Origin", "https://evil.example")],
    );
    json_error(&resp, 403, "forbidden");
    let resp = put_with(
        &client,
        &body,
        &[json_type, ("Sec-Fetch-Site", "cross-site")],
    );
    json_error(&resp, 403, "forbidden");
    let resp = put_with(&client, &body, &[json_type, ("X-CSRF-Token", "stale")]);
    json_error(&resp, 403, "forbidden");
    assert!(
        api_holdings(&client).is_empty(),
        "a refused PUT saved holdings"
    );

    // What our own script sends: our Origin and the page's token.
    let token = page_csrf(&client);
    let origin = app.origin();
    let resp = put_with(
        &client,
        &body,
        &[json_type, ("Origin", &origin), ("X-CSRF-Token", &token)],
    );
    assert_eq!(resp.status, 200, "{}", resp.summary());
    assert_eq!(saved_symbols(&client), vec!["AAPL", "CASH", "MSFT"]);
}

#[test]
fn wrong_methods_on_the_portfolio_api_are_405() {
    // (A GET of the page forms' addresses is a 303 to /portfolio:
    // tests/web/portfolio_form.rs.)
    let app = TestApp::spawn();
    let client = signed_in(&app, "methods@example.com");
    for (method, path) in [
        ("DELETE", "/api/portfolio"),
        ("POST", "/api/portfolio"),
        ("PUT", "/portfolio/holdings"),
        ("PUT", "/portfolio/holdings/AAPL/delete"),
    ] {
        let resp = client.request(method, path, &[("Content-Type", "application/json")], b"{}");
        assert_eq!(resp.status, 405, "{method} {path}: {}", resp.summary());
    }
}
