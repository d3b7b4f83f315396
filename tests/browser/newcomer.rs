//! Issue 21 in the browser: holdings at the input limits fit the page at
//! desktop and phone widths (item 7), and what Lighthouse's SEO and
//! performance audits look at on the four pages people land on (item 8).

use serde_json::Value;

use super::pages::{no_sideways_scroll, phone, PHONE, SMALL_PHONE};
use super::support::TestServer;
use super::webdriver::{Binaries, Browser, Driver};
use super::{add_holding, sign_in, Screenshots, HEIGHT, WIDTH};

const CAROL: &str = "carol@example.com";
const DAN: &str = "dan@example.com";

/// Item 7: holdings at SPEC §4's limits (1e12 for quantity, price and cost
/// basis, a 16-character symbol) fit. At 1280 px the table stays inside its
/// card; at 390 and 320 px each holding's card stays inside the window; at
/// every width no cell's content spills out of it and no number is broken
/// inside a group of digits (a long one may wrap only after a thousands
/// separator).
#[test]
fn holdings_at_the_limits_fit_at_1280_390_and_320_px() {
    let bins = Binaries::find();
    let app = TestServer::new().spawn();
    let shots = Screenshots::under("limits");
    let driver = Driver::start(&bins);
    let profile = tempfile::Builder::new()
        .prefix("app-browser-")
        .tempdir()
        .expect("make a temp dir for the browser profile");
    let dan = driver.browser(profile.path(), WIDTH, HEIGHT);
    dan.goto(&format!("{}/login", app.base_url()));
    dan.wait_for_path("/login");
    sign_in(&app, &dan, DAN, &shots, "dan");
    for (symbol, quantity, price, cost_basis) in [
        // Value and unrealised gain 1e24: the widest numbers the page shows.
        ("VERYLONGSYMBOL.X", "1000000000000", "1000000000000", "0"),
        (
            "MAX.LIMITS-2",
            "999999999999.99",
            "999999999999.99",
            "1000000000000",
        ),
        ("CASH", "1", "1", ""),
    ] {
        add_holding(&dan, symbol, quantity, price, cost_basis);
    }
    for (width, height) in [(WIDTH, HEIGHT), PHONE, SMALL_PHONE] {
        phone(&dan, (width, height));
        dan.goto(&format!("{}/portfolio", app.base_url()));
        dan.wait_for_path("/portfolio");
        shots.take(&dan, &format!("portfolio-limits-{width}"));
        let what = format!("holdings at the limits at {width} px");
        no_sideways_scroll(&dan, &what);
        holdings_inside_their_card(&dan, &what);
        numbers_unbroken(&dan, &what);
    }
}

/// The table (or, on a phone, every holding's card) inside the card's
/// padding, and no cell's content wider than its cell.
fn holdings_inside_their_card(browser: &Browser, what: &str) {
    let found = browser.execute(
        "const table = document.querySelector('table.holdings');
         if (!table) return null;
         const card = table.closest('.card') ?? table.parentElement;
         const box = card.getBoundingClientRect(), style = getComputedStyle(card);
         const left = box.left + parseFloat(style.borderLeftWidth) + parseFloat(style.paddingLeft);
         const right = box.right - parseFloat(style.borderRightWidth) - parseFloat(style.paddingRight);
         const name = (e) => `${e.closest('tr')?.dataset.symbol ?? 'total'} ${e.dataset.label ?? e.className ?? e.tagName}`;
         const cells = [...table.querySelectorAll('tbody th, tbody td, tfoot th, tfoot td')].filter(e => e.getClientRects().length > 0);
         return {
           outside: cells.filter(e => { const r = e.getBoundingClientRect();
               return r.width > 0 && (r.left < left - 1 || r.right > right + 1); }).map(name),
           spilling: cells.filter(e => e.scrollWidth > e.clientWidth + 1).map(name),
           table: table.getBoundingClientRect().right, card: right,
           card_scrolls: card.scrollWidth > card.clientWidth + 1,
         };",
        vec![],
    );
    assert!(found.is_object(), "{what}: no holdings table");
    assert_eq!(
        found["outside"],
        Value::Array(vec![]),
        "{what}: cells outside the card: {found}"
    );
    assert_eq!(
        found["spilling"],
        Value::Array(vec![]),
        "{what}: cells spill: {found}"
    );
    assert_eq!(
        found["card_scrolls"], false,
        "{what}: the card scrolls sideways: {found}"
    );
    assert!(
        found["table"].as_f64() <= found["card"].as_f64().map(|r| r + 1.0),
        "{what}: the table overflows its card: {found}"
    );
}

/// No number in the holdings is broken across lines except right after a
/// thousands separator.
fn numbers_unbroken(browser: &Browser, what: &str) {
    let broken = browser.execute(
        "const broken = [];
         for (const cell of document.querySelectorAll('table.holdings th, table.holdings td')) {
           const chars = [];
           const walk = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
           for (let n = walk.nextNode(); n; n = walk.nextNode()) {
             for (let i = 0; i < n.length; i++) {
               const r = document.createRange(); r.setStart(n, i); r.setEnd(n, i + 1);
               const rect = r.getClientRects()[0];
               chars.push([n.data[i], rect ? Math.round(rect.top) : null]);
             }
           }
           const text = chars.map(c => c[0]).join('');
           for (const m of text.matchAll(/[0-9](?:[0-9.,]*[0-9])?/g)) {
             for (let i = m.index; i < m.index + m[0].length - 1; i++) {
               if (chars[i][1] !== chars[i + 1][1] && chars[i][0] !== ',') {
                 broken.push(`${cell.closest('tr')?.dataset.symbol ?? 'total'}: ${m[0]} after ${text.slice(m.index, i + 1)}`);
                 break;
               }
             }
           }
         }
         return broken;",
        vec![],
    );
    assert_eq!(
        broken,
        Value::Array(vec![]),
        "{what}: numbers broken mid-digit"
    );
}

/// Item 8: `/`, `/login`, `/portfolio` and `/settings` each have a title, a
/// language, a viewport and a meta description of their own, and reach the
/// browser gzip-compressed (the page and its CSS and JS), as it asks for.
#[test]
fn the_four_landing_pages_are_described_and_compressed() {
    let bins = Binaries::find();
    let app = TestServer::new().spawn();
    let shots = Screenshots::under("newcomer");
    let driver = Driver::start(&bins);
    let profile = tempfile::Builder::new()
        .prefix("app-browser-")
        .tempdir()
        .expect("make a temp dir for the browser profile");
    let carol = driver.browser(profile.path(), WIDTH, HEIGHT);

    let mut descriptions = Vec::new();
    for path in ["/", "/login"] {
        carol.goto(&format!("{}{path}", app.base_url()));
        carol.wait_for_path(path);
        descriptions.push(described_and_compressed(&carol, path));
    }
    sign_in(&app, &carol, CAROL, &shots, "carol");
    for path in ["/portfolio", "/settings"] {
        carol.goto(&format!("{}{path}", app.base_url()));
        carol.wait_for_path(path);
        descriptions.push(described_and_compressed(&carol, path));
    }
    descriptions.sort();
    descriptions.dedup();
    assert_eq!(
        descriptions.len(),
        4,
        "each page describes itself: {descriptions:?}"
    );
}

/// Checks the loaded page; returns its meta description.
fn described_and_compressed(browser: &Browser, path: &str) -> String {
    browser.wait_for("the page to load", || {
        let state = browser.execute("return document.readyState", vec![]);
        (state == "complete").then_some(())
    });
    let head = browser.execute(
        "const meta = (n) => document.querySelector(`meta[name='${n}']`)?.content ?? '';
         return { title: document.title, lang: document.documentElement.lang,
                  description: meta('description'), viewport: meta('viewport') };",
        vec![],
    );
    let field = |name: &str| head[name].as_str().unwrap_or_default().to_string();
    let description = field("description");
    assert!(
        (50..=160).contains(&description.chars().count()),
        "{path}: a meta description of 50–160 characters (Lighthouse's SEO audit): {head}"
    );
    assert!(!field("title").is_empty(), "{path}: no title: {head}");
    assert!(!field("lang").is_empty(), "{path}: no lang: {head}");
    assert!(
        field("viewport").contains("width=device-width"),
        "{path}: {head}"
    );

    // What came over the wire: the document and its own CSS and JS were
    // smaller encoded than decoded, and a fresh fetch says gzip.
    let sizes = browser.execute(
        "return [performance.getEntriesByType('navigation')[0],
                 ...performance.getEntriesByType('resource')
                    .filter(e => /\\/assets\\/.*\\.(css|js)$/.test(new URL(e.name).pathname))]
           .map(e => [e.name, e.encodedBodySize, e.decodedBodySize]);",
        vec![],
    );
    let sizes = sizes.as_array().cloned().unwrap_or_default();
    assert!(
        sizes.len() >= 3,
        "{path}: the page, its CSS and its JS: {sizes:?}"
    );
    for entry in &sizes {
        let (encoded, decoded) = (entry[1].as_u64(), entry[2].as_u64());
        // A resource served from the memory cache reports 0 for both.
        if decoded == Some(0) {
            continue;
        }
        assert!(
            encoded.is_some() && encoded < decoded,
            "{path}: {} came uncompressed ({encoded:?} encoded, {decoded:?} decoded)",
            entry[0]
        );
    }
    let encoding = browser
        .execute_async(
            "const done = arguments[arguments.length - 1];
             fetch(location.href, { cache: 'no-store' })
               .then(r => done({ ok: r.headers.get('content-encoding') }),
                     e => done({ err: String(e) }));",
        )
        .unwrap_or_else(|e| panic!("{path}: fetch: {e}"));
    assert_eq!(
        encoding["ok"],
        Value::from("gzip"),
        "{path}: Content-Encoding of the page: {encoding}"
    );
    description
}
