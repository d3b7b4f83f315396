//! The add/update form as a person uses it (issue 12, items 1, 2 and 7):
//! a decimal comma, ambiguous numbers refused on their field, every bad
//! field marked at once, POST-redirect-GET with a one-line note, an Undo
//! after a delete, and the forms' addresses answering a GET with a 303.

use serde_json::{json, Value};

use crate::support::{csrf_in, html_unescape, input_value, signed_in, Client, Resp, TestServer};

/// POSTs the form with the page's csrf token (the GET also clears any note).
fn submit(client: &Client, symbol: &str, quantity: &str, price: &str, cost_basis: &str) -> Resp {
    let csrf = csrf_in(&client.get("/portfolio").body);
    client.post_form(
        "/portfolio/holdings",
        &[
            ("symbol", symbol),
            ("quantity", quantity),
            ("price", price),
            ("cost_basis", cost_basis),
            ("csrf", &csrf),
        ],
    )
}

fn saved(client: &Client) -> Vec<Value> {
    let resp = client.get("/api/portfolio");
    assert_eq!(resp.status, 200, "{}", resp.summary());
    let body: Value = serde_json::from_str(&resp.body).expect("JSON");
    body["holdings"].as_array().cloned().unwrap_or_default()
}

/// The opening tag of the element with `id="ID"`.
fn tag_with_id(html: &str, id: &str) -> Option<String> {
    let at = html.find(&format!("id=\"{id}\""))?;
    let start = html[..at].rfind('<')?;
    let end = at + html[at..].find('>')?;
    Some(html[start..=end].to_string())
}

/// The text of the element with `id="ID"` (no nested tags).
fn text_of_id(html: &str, id: &str) -> Option<String> {
    let tag = tag_with_id(html, id)?;
    let open_end = html.find(&tag)? + tag.len();
    let close = open_end + html[open_end..].find('<')?;
    Some(html_unescape(html[open_end..close].trim()))
}

/// The one-line note after a change, as text (tags dropped).
fn flash(html: &str) -> Option<String> {
    let at = html.find("data-testid=\"flash\"")?;
    let open_end = at + html[at..].find('>')? + 1;
    let close = open_end + html[open_end..].find("</div>")?;
    let mut text = String::new();
    let mut in_tag = false;
    for c in html[open_end..close].chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    Some(html_unescape(
        &text.split_whitespace().collect::<Vec<_>>().join(" "),
    ))
}

#[test]
fn a_decimal_comma_saves_the_same_number_as_a_point() {
    let app = TestServer::new().spawn();
    let client = signed_in(&app, "comma@example.com");
    let resp = submit(&client, "aapl", "10", "190,50", "150,25");
    assert!(resp.is_see_other_to("/portfolio"), "{}", resp.summary());
    let resp = submit(&client, "MSFT", "2,5", "400.10", "");
    assert!(resp.is_see_other_to("/portfolio"), "{}", resp.summary());
    assert_eq!(
        saved(&client),
        vec![
            json!({"symbol": "AAPL", "quantity": 10.0, "price": 190.5, "cost_basis": 150.25,
                   "currency": "USD", "price_source": "typed", "price_at": null}),
            json!({"symbol": "MSFT", "quantity": 2.5, "price": 400.1,
                   "currency": "USD", "price_source": "typed", "price_at": null}),
        ]
    );
}

#[test]
fn ambiguous_numbers_and_exponents_are_refused_on_their_field() {
    let app = TestServer::new().spawn();
    let client = signed_in(&app, "ambiguous@example.com");
    for (price, says) in [
        ("1,234,5", "more than one separator"),
        ("1.234,56", "more than one separator"),
        ("1,234.56", "more than one separator"),
        ("1,234", "could mean 1234 or 1.234"),
        ("1e3", "like 1000 rather than 1e3"),
    ] {
        let resp = submit(&client, "AAPL", "10", price, "");
        assert_eq!(resp.status, 400, "{price}: {}", resp.summary());
        let input = tag_with_id(&resp.body, "f-price").expect("the price input");
        assert!(input.contains("aria-invalid=\"true\""), "{price}: {input}");
        let error = text_of_id(&resp.body, "price-error").expect("an error on the price");
        assert!(error.contains(says), "{price}: {error}");
        assert_eq!(input_value(&resp.body, "price").as_deref(), Some(price));
        let quantity = tag_with_id(&resp.body, "f-quantity").expect("the quantity input");
        assert!(!quantity.contains("aria-invalid"), "{price}: {quantity}");
    }
    assert!(saved(&client).is_empty(), "a refused number was saved");
    // The rule is stated on the form, under the fields.
    let page = client.get("/portfolio").body;
    let rule = text_of_id(&page, "number-rule").expect("the number rule");
    assert!(
        rule.contains("190,50") && rule.contains("no thousands separators"),
        "{rule}"
    );
    assert!(!page.contains("placeholder="), "hints, not placeholders");
}

#[test]
fn every_bad_field_is_marked_at_once_in_words_with_the_typed_values_kept() {
    let app = TestServer::new().spawn();
    let client = signed_in(&app, "fields@example.com");
    let resp = submit(&client, "a b", "ten", "1000000000001", "-1");
    assert_eq!(resp.status, 400, "{}", resp.summary());
    assert!(resp
        .header("content-type")
        .is_some_and(|t| t.starts_with("text/html")));
    let html = &resp.body;
    assert!(
        html.contains("<h1>Portfolio</h1>"),
        "the portfolio page comes back"
    );
    for (name, typed, says) in [
        ("symbol", "a b", "A symbol is 1 to 16"),
        (
            "quantity",
            "ten",
            "Quantity must be a number, like 10 or 2.5.",
        ),
        (
            "price",
            "1000000000001",
            "Price must be at most 1,000,000,000,000.",
        ),
        ("cost_basis", "-1", "Cost basis must be 0 or more."),
    ] {
        let input = tag_with_id(html, &format!("f-{name}")).expect("the input");
        assert!(input.contains("aria-invalid=\"true\""), "{name}: {input}");
        let described = format!("{name}-error");
        assert!(
            input.contains(&described),
            "{name} not described by its error: {input}"
        );
        let error = text_of_id(html, &described).expect("the error next to the field");
        assert!(error.starts_with(says), "{name}: {error:?}");
        assert_eq!(input_value(html, name).as_deref(), Some(typed), "{name}");
    }
    assert!(!html.contains("1e12"), "an error says 1e12");
    let symbol = tag_with_id(html, "f-symbol").expect("the symbol input");
    assert!(
        symbol.contains("autofocus"),
        "the first bad field takes the focus: {symbol}"
    );
    assert_eq!(
        html.matches(" autofocus").count(),
        1,
        "one field has the focus"
    );
    let section = tag_with_id(html, "add").expect("the form's section");
    assert!(
        section.contains("data-canonical-url=\"/portfolio\""),
        "{section}"
    );
    assert!(saved(&client).is_empty());
}

#[test]
fn a_save_redirects_to_the_page_which_says_once_what_was_saved() {
    let app = TestServer::new().spawn();
    let client = signed_in(&app, "prg@example.com");
    let resp = submit(&client, "aapl", "10", "190,5", "");
    assert!(
        resp.is_see_other_to("/portfolio"),
        "POST-redirect-GET to the page itself, nothing in the URL: {}",
        resp.summary()
    );
    let cookie = resp
        .set_cookie(&app.cookie_name("flash"))
        .expect("the note's cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("Max-Age=60"),
        "{cookie}"
    );
    let page = client.get("/portfolio");
    assert_eq!(page.status, 200);
    assert_eq!(
        flash(&page.body).as_deref(),
        Some("Saved AAPL: 10 × 190.50")
    );
    let again = client.get("/portfolio");
    assert_eq!(flash(&again.body), None, "the note shows once");

    // A forged note is not shown.
    client.set_cookie_raw(&app.cookie_name("flash"), "e30.AAAA");
    assert_eq!(flash(&client.get("/portfolio").body), None);
}

#[test]
fn a_delete_says_so_and_undo_puts_the_holding_back() {
    let app = TestServer::new().spawn();
    let client = signed_in(&app, "undo@example.com");
    assert!(submit(&client, "VWCE.DE", "1.2340", "112,30", "98.10").is_see_other_to("/portfolio"));
    assert!(submit(&client, "CASH", "2500", "1", "").is_see_other_to("/portfolio"));
    let before = saved(&client);
    let csrf = csrf_in(&client.get("/portfolio").body);
    let resp = client.post_form("/portfolio/holdings/VWCE.DE/delete", &[("csrf", &csrf)]);
    assert!(resp.is_see_other_to("/portfolio"), "{}", resp.summary());
    let page = client.get("/portfolio").body;
    let note = flash(&page).expect("a note after the delete");
    assert!(
        note.starts_with("Deleted VWCE.DE (1.234 × 112.30)."),
        "{note}"
    );
    assert!(note.contains("Undo"), "{note}");
    assert_eq!(saved(&client).len(), 1);

    // The Undo is a plain form: post exactly what it carries.
    let at = page.find("data-testid=\"flash\"").expect("the note");
    let undo = &page[at..at + page[at..].find("</form>").expect("the undo form")];
    assert!(undo.contains("action=\"/portfolio/holdings\""), "{undo}");
    let fields: Vec<(&str, String)> = ["symbol", "quantity", "price", "cost_basis", "csrf"]
        .into_iter()
        .map(|n| (n, input_value(undo, n).unwrap_or_default()))
        .collect();
    let fields: Vec<(&str, &str)> = fields.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let resp = client.post_form("/portfolio/holdings", &fields);
    assert!(
        resp.is_see_other_to("/portfolio"),
        "undo: {}",
        resp.summary()
    );
    assert_eq!(saved(&client), before, "undo restores every value");
    let note = flash(&client.get("/portfolio").body);
    assert_eq!(note.as_deref(), Some("Saved VWCE.DE: 1.234 × 112.30"));
}

#[test]
fn a_get_of_the_forms_addresses_goes_to_the_portfolio() {
    let app = TestServer::new().spawn();
    let client = signed_in(&app, "reload@example.com");
    for path in ["/portfolio/holdings", "/portfolio/holdings/AAPL/delete"] {
        let resp = client.get(path);
        assert!(
            resp.is_see_other_to("/portfolio"),
            "GET {path}: {}",
            resp.summary()
        );
    }
    let stranger = app.client();
    assert!(stranger
        .get("/portfolio/holdings")
        .is_see_other_to("/portfolio"));
    assert!(stranger.get("/portfolio").is_see_other_to("/login"));
}
