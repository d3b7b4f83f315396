//! Issue 12 in the browser: the holding form refusing ambiguous numbers with
//! errors at their fields (items 1, 2), the one-line notes and the Undo after
//! a delete (item 7), at desktop and phone widths; and every page at 390 and
//! 320 px without sideways scrolling, holdings as cards (item 6).

use serde_json::Value;

use super::webdriver::Browser;
use super::Screenshots;

pub const PHONE: (u32, u32) = (390, 844);
pub const SMALL_PHONE: (u32, u32) = (320, 640);

/// The form's round trip on one screen size: a submission with three bad
/// fields, the fix, a delete and its Undo. `symbol` is not held yet.
pub fn form_round_trip(browser: &Browser, shots: &Screenshots, symbol: &str, size: &str) {
    let form = "form.holding-form";
    let fill = |quantity: &str, price: &str, cost_basis: &str| {
        for (name, value) in [
            ("symbol", symbol),
            ("quantity", quantity),
            ("price", price),
            ("cost_basis", cost_basis),
        ] {
            browser.type_into(&browser.find(&format!("{form} input[name={name}]")), value);
        }
        browser.click(&browser.find(&format!("{form} button[type=submit]")));
    };

    // Item 1 and 2: every bad field at once, in words, typed values kept.
    fill("ten", "1,234,5", "1e3");
    browser.wait_for("the refused form", || {
        browser.try_find("#f-cost_basis[aria-invalid=true]")
    });
    browser.wait_for_path("/portfolio");
    for (name, typed, says) in [
        (
            "quantity",
            "ten",
            "Quantity must be a number, like 10 or 2.5.",
        ),
        ("price", "1,234,5", "more than one separator"),
        ("cost_basis", "1e3", "like 1000 rather than 1e3"),
    ] {
        let input = browser.find(&format!("#f-{name}"));
        assert_eq!(
            browser.property(&input, "value"),
            typed,
            "{name} keeps what was typed"
        );
        let error = browser.text(&browser.find(&format!("#{name}-error")));
        assert!(error.contains(says), "{size}: {name} error {error:?}");
    }
    let symbol_input = browser.find("#f-symbol");
    assert_eq!(
        browser.property(&symbol_input, "ariaInvalid"),
        Value::Null,
        "{size}: a good symbol is not marked"
    );
    let focus = browser.execute(
        "const a = document.activeElement, r = a.getBoundingClientRect();
         return [a.id, r.top >= 0 && r.bottom <= window.innerHeight];",
        vec![],
    );
    assert_eq!(
        focus[0], "f-quantity",
        "{size}: the first bad field has the focus"
    );
    assert_eq!(focus[1], true, "{size}: the first bad field is in view");
    no_sideways_scroll(browser, size);
    shots.take(browser, &format!("portfolio-form-errors-{size}"));

    // The fix, with a decimal comma; the note says what was saved.
    fill("4", "120,50", "");
    let saved = format!("Saved {symbol}: 4 × 120.50");
    wait_for_flash(browser, &saved);
    browser.wait_for_path("/portfolio");
    browser.find(&format!("tr[data-symbol='{symbol}']"));
    shots.take(browser, &format!("portfolio-saved-{size}"));

    // Item 7: delete, then Undo from the note.
    let row = format!("tr[data-symbol='{symbol}']");
    let delete = browser.find(&format!("{row} button.danger"));
    assert!(browser.is_displayed(&delete), "{size}: Delete is reachable");
    browser.click(&delete);
    wait_for_flash(browser, &format!("Deleted {symbol} (4 × 120.50). Undo"));
    assert!(browser.try_find(&row).is_none(), "{size}: the row is gone");
    no_sideways_scroll(browser, size);
    shots.take(browser, &format!("portfolio-deleted-{size}"));
    browser.click(&browser.find(".flash button.undo"));
    wait_for_flash(browser, &saved);
    browser.find(&row);
}

fn wait_for_flash(browser: &Browser, want: &str) {
    browser.wait_for(&format!("the note {want:?}"), || {
        browser
            .try_text("[data-testid=flash]")
            .filter(|t| t == want)
    });
}

/// Item 6: the page fits the window; nothing scrolls sideways.
pub fn no_sideways_scroll(browser: &Browser, what: &str) {
    let sizes = browser.execute(
        "return [document.documentElement.scrollWidth, window.innerWidth, location.pathname]",
        vec![],
    );
    let (scroll, inner) = (sizes[0].as_u64(), sizes[1].as_u64());
    assert!(
        scroll.is_some() && scroll <= inner,
        "{what} {}: scrollWidth {scroll:?} > innerWidth {inner:?}",
        sizes[2]
    );
}

/// Resizes to a phone and checks the window took it.
pub fn phone(browser: &Browser, (width, height): (u32, u32)) {
    browser.resize(width, height);
    browser.wait_for(&format!("a {width} px wide window"), || {
        let inner = browser.execute("return window.innerWidth", vec![]);
        (inner.as_u64() == Some(u64::from(width))).then_some(())
    });
}

/// Opens `path` at each phone size, checks it, and keeps a screenshot.
pub fn on_phones(browser: &Browser, shots: &Screenshots, base: &str, path: &str, name: &str) {
    for size in [PHONE, SMALL_PHONE] {
        phone(browser, size);
        browser.goto(&format!("{base}{path}"));
        browser.wait_for("the page to load", || {
            let state = browser.execute("return document.readyState", vec![]);
            (state == "complete").then_some(())
        });
        let what = format!("{name} at {} px", size.0);
        no_sideways_scroll(browser, &what);
        top_bar_on_one_line(browser, &what);
        if path == "/portfolio" {
            holdings_as_cards(browser, &what);
        }
        tiles_hold_their_values(browser, &what);
        badge_breaks_between_phrases(browser, &what);
        shots.take(browser, &format!("{name}-{}", size.0));
    }
}

/// The brand and the links share one line (no ragged wrap of the links).
fn top_bar_on_one_line(browser: &Browser, what: &str) {
    let tops = browser.execute(
        "return [...document.querySelectorAll('.topbar .brand, .topbar .nav a, .topbar .nav button')]
           .map(e => Math.round(e.getBoundingClientRect().top / 8))",
        vec![],
    );
    let tops: Vec<i64> = tops
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_i64)
        .collect();
    assert!(
        tops.windows(2).all(|w| (w[0] - w[1]).abs() <= 1),
        "{what}: the top bar wraps (rows at {tops:?} × 8 px)"
    );
}

/// Each holding shows every value and its Delete inside the window.
fn holdings_as_cards(browser: &Browser, what: &str) {
    let rows = browser.execute(
        "return [...document.querySelectorAll('table.holdings tbody tr')].map(tr => {
           const shown = (sel) => { const e = tr.querySelector(sel); if (!e) return false;
             const r = e.getBoundingClientRect();
             return r.width > 0 && r.height > 0 && r.left >= 0 && r.right <= window.innerWidth; };
           return [tr.dataset.symbol,
             ['Quantity', 'Price', 'Cost basis', 'Value', 'Weight']
               .every(l => shown(`td[data-label='${l}']`)),
             shown('button.danger')];
         })",
        vec![],
    );
    let rows = rows.as_array().cloned().unwrap_or_default();
    assert!(!rows.is_empty(), "{what}: no holdings to look at");
    for row in rows {
        assert_eq!(row[1], true, "{what}: {} hides a value", row[0]);
        assert_eq!(row[2], true, "{what}: {}'s Delete is out of reach", row[0]);
    }
}

/// Numbers in tiles stay inside their tile.
pub fn tiles_hold_their_values(browser: &Browser, what: &str) {
    let spill = browser.execute(
        "return [...document.querySelectorAll('.stat-value')]
           .filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.textContent)",
        vec![],
    );
    assert_eq!(spill, Value::Array(vec![]), "{what}: tiles overflow");
}

/// The credit badge (SPEC §5's exact text) may wrap on a phone, but only
/// between its phrases: "free · credit ·", "N days remaining", "(expires …)".
fn badge_breaks_between_phrases(browser: &Browser, what: &str) {
    let lines = browser.execute(
        "const badge = document.querySelector('[data-testid=tier-badge].credit');
         if (!badge) return null;
         const node = badge.firstChild, text = node.textContent, tops = [];
         for (const m of text.matchAll(/\\S+/g)) {
           const r = document.createRange();
           r.setStart(node, m.index); r.setEnd(node, m.index + m[0].length);
           tops.push([m[0], Math.round(r.getBoundingClientRect().top)]);
         }
         return tops;",
        vec![],
    );
    let Some(words) = lines.as_array() else {
        return;
    };
    let top = |i: usize| words.get(i).and_then(|w| w[1].as_i64());
    // free · credit · | N days remaining | (expires YYYY-MM-DD)
    for phrase in [0..4, 4..7, 7..9] {
        let first = top(phrase.start);
        assert!(
            phrase.clone().all(|i| top(i) == first),
            "{what}: the badge breaks inside a phrase: {lines}"
        );
    }
}
