//! Issue 21 in the browser: what Lighthouse's SEO and performance audits
//! look at on the four pages people land on (item 8).

use serde_json::Value;

use super::support::TestApp;
use super::webdriver::{Binaries, Browser, Driver};
use super::{sign_in, Screenshots, HEIGHT, WIDTH};

const CAROL: &str = "carol@example.com";

/// Item 8: `/`, `/login`, `/portfolio` and `/settings` each have a title, a
/// language, a viewport and a meta description of their own, and reach the
/// browser gzip-compressed (the page and its CSS and JS), as it asks for.
#[test]
fn the_four_landing_pages_are_described_and_compressed() {
    let bins = Binaries::find();
    let app = TestApp::spawn();
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
