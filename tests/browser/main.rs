//! The whole journey in a real headless Chromium (issue 6, part A): sign-in
//! with the mailed code, holdings and chart, the invite link, a referred
//! friend meeting the paywall, a credit granted over the CLI while the server
//! runs, and commentary once it is granted. Along the way (issue 12, in
//! `pages.rs`): the holding form's errors, notes and Undo at desktop and
//! phone widths, and every page at 390 and 320 px without sideways scroll.
//!
//! Run with `cargo test --features browser --test browser`. It needs Debian's
//! `chromium` and `chromium-driver` (`$CHROMIUM` / `$CHROMEDRIVER` override
//! the paths) and fails, never skips, without them. Screenshots of every page
//! land in `target/screenshots/` (or `$CARGO_TARGET_DIR/screenshots/`).

mod axe;
mod pages;
// The integration tests' support, shared: this journey uses a few of its
// helpers, and the `tests` crate, which compiles it with every warning on,
// uses the rest.
#[allow(dead_code, unused_imports)]
#[path = "../support/mod.rs"]
mod support;
mod webdriver;

mod billing;
mod checkout;
mod portfolio_money;

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use support::TestServer;
use webdriver::{Binaries, Browser, Driver};

const ALICE: &str = "alice@example.com";
const BOB: &str = "bob@example.com";
const WIDTH: u32 = 1280;
const HEIGHT: u32 = 900;

#[test]
fn alice_invites_bob_who_gets_commentary_once_granted_credit() {
    let bins = Binaries::find();
    let app = TestServer::new().spawn();
    let shots = Screenshots::new();
    let driver = Driver::start(&bins);
    let profiles = tempfile::Builder::new()
        .prefix("app-browser-")
        .tempdir()
        .expect("make a temp dir for browser profiles");

    // 1. Alice signs in from the front page and builds a portfolio.
    let alice = driver.browser(&profiles.path().join("alice"), WIDTH, HEIGHT);
    alice.goto(&format!("{}/", app.base_url()));
    alice.wait_for_path("/");
    shots.take(&alice, "landing");
    alice.click(&alice.find("main a[href='/login']"));
    alice.wait_for_path("/login");
    sign_in(&app, &alice, ALICE, &shots, "alice");
    shots.take(&alice, "portfolio-empty");
    for (symbol, quantity, price, cost_basis) in [
        ("AAPL", "10", "190.50", "150"),
        ("VWCE.DE", "25", "112.30", "98.10"),
        ("CASH", "2500", "1", ""),
    ] {
        add_holding(&alice, symbol, quantity, price, cost_basis);
    }
    let caption = alice.wait_for("the allocation chart", || {
        let chart = alice.try_find("figure.chart svg")?;
        alice
            .is_displayed(&chart)
            .then(|| alice.try_text("figure.chart figcaption"))
            .flatten()
    });
    for symbol in ["AAPL", "VWCE.DE", "CASH"] {
        assert!(
            caption.contains(symbol),
            "chart caption without {symbol}: {caption}"
        );
    }
    let bars = alice.execute(
        "return document.querySelectorAll('figure.chart svg g.bar rect').length",
        vec![],
    );
    assert_eq!(bars, 3, "one bar per holding");
    shots.take(&alice, "portfolio-alice");
    pages::form_round_trip(&alice, &shots, "SAP.DE", "desktop");

    // 2. Settings: Copy puts the invite link on the clipboard.
    alice.click(&alice.find("nav a[href='/settings']"));
    alice.wait_for_path("/settings");
    let code = alice.text(&alice.find("[data-testid=referral-code]"));
    let invite = alice
        .property(&alice.find("input#invite-link"), "value")
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(invite, format!("{}/login?ref={code}", app.base_url()));
    for permission in ["clipboard-read", "clipboard-write"] {
        if let Err(e) = alice.grant_permission(permission) {
            eprintln!("could not grant {permission} ({e}); the Copied state will have to do");
        }
    }
    let copy = alice.find("button[data-copy=invite-link]");
    alice.click(&copy);
    alice.wait_for("the Copy button to say Copied", || {
        (alice.text(&copy) == "Copied").then_some(())
    });
    shots.take(&alice, "settings-alice-copied");
    match read_clipboard(&alice) {
        Ok(text) => {
            assert_eq!(text, invite, "the clipboard should hold the invite link");
            eprintln!("the clipboard holds the invite link");
        }
        Err(why) => {
            eprintln!("the clipboard is not readable here ({why}); checked the Copied state")
        }
    }
    alice.wait_for("the Copy button to read Copy again", || {
        (alice.text(&copy) == "Copy").then_some(())
    });

    // 3. Bob, in a profile of his own, follows the link and meets the paywall.
    let bob = driver.browser(&profiles.path().join("bob"), WIDTH, HEIGHT);
    bob.goto(&invite);
    bob.wait_for_path("/login");
    let banner = bob.text(&bob.find(".banner.invited"));
    assert!(banner.contains("You were invited"), "banner: {banner}");
    shots.take(&bob, "login-invited-bob");
    sign_in(&app, &bob, BOB, &shots, "bob");
    add_holding(&bob, "MSFT", "12", "420.10", "380");
    bob.find("figure.chart svg");
    press_get_commentary(&bob);
    let hint = bob.wait_for("the upgrade hint", || {
        let panel = bob.try_find("#commentary-upgrade")?;
        let hint = bob.try_find("#commentary-upgrade .upgrade-hint")?;
        (bob.is_displayed(&panel) && bob.is_displayed(&hint)).then(|| bob.text(&hint))
    });
    assert!(hint.contains("paid feature"), "upgrade hint: {hint}");
    let status = bob.text(&bob.find("#commentary-status"));
    assert!(
        !status.contains("Analysing"),
        "the progress line is cleared once the answer came: {status}"
    );
    assert!(
        !bob.is_displayed(&bob.find("#commentary")),
        "commentary shown to a free user"
    );
    shots.take(&bob, "portfolio-bob-upgrade");

    // 4. The operator grants Bob 30 days over the CLI while the server runs.
    let before = unix_now();
    let granted = app.cli(&["grant-credit", "--email", BOB, "--days", "30"]);
    let after = unix_now();
    assert!(
        granted.status.success(),
        "grant-credit failed ({}):\n{}{}",
        granted.status,
        String::from_utf8_lossy(&granted.stdout),
        String::from_utf8_lossy(&granted.stderr)
    );
    press_get_commentary(&bob);
    let commentary = bob.wait_for("the commentary", || {
        let out = bob.try_find("#commentary")?;
        let text = bob.try_text("#commentary p")?;
        (bob.is_displayed(&out) && !text.trim().is_empty()).then_some(text)
    });
    assert!(
        commentary.len() > 20,
        "commentary too short: {commentary:?}"
    );
    assert!(
        !bob.is_displayed(&bob.find("#commentary-upgrade")),
        "the upgrade hint is still shown after the grant"
    );
    shots.take(&bob, "portfolio-bob-commentary");

    bob.click(&bob.find("nav a[href='/settings']"));
    bob.wait_for_path("/settings");
    let badge = bob.text(&bob.find("[data-testid=tier-badge]"));
    let expected: Vec<String> = [before, after]
        .iter()
        .map(|t| {
            format!(
                "free · credit · 30 days remaining (expires {})",
                utc_date(t + 30 * 86_400)
            )
        })
        .collect();
    assert!(
        expected.contains(&badge),
        "Bob's badge reads {badge:?}, wanted {:?}",
        expected[0]
    );
    shots.take(&bob, "settings-bob-credit");

    // Alice sees Bob as a pending referral.
    alice.goto(&format!("{}/settings", app.base_url()));
    alice.wait_for_path("/settings");
    let pending = alice.text(&alice.find("[data-stat=Pending]"));
    assert_eq!(pending, "1", "Alice's Pending count");
    shots.take(&alice, "settings-alice-pending");

    // 5. On a phone: the form again, then every page at 390 and 320 px.
    let base = app.base_url();
    pages::phone(&alice, pages::PHONE);
    alice.goto(&format!("{base}/portfolio"));
    alice.wait_for_path("/portfolio");
    pages::form_round_trip(&alice, &shots, "NOVO-B.CO", "phone");
    pages::on_phones(&alice, &shots, base, "/portfolio", "portfolio-alice");
    pages::on_phones(&alice, &shots, base, "/settings", "settings-alice");
    pages::on_phones(&alice, &shots, base, "/nowhere", "not-found-alice");
    pages::on_phones(&bob, &shots, base, "/settings", "settings-bob-credit");
    pages::on_phones(&bob, &shots, base, "/portfolio", "portfolio-bob");
    press_get_commentary(&bob);
    bob.wait_for("the commentary on a phone", || {
        bob.try_find("#commentary .metrics .stat")
    });
    pages::no_sideways_scroll(&bob, "commentary at 320 px");
    pages::tiles_hold_their_values(&bob, "commentary at 320 px");
    shots.take(&bob, "portfolio-bob-commentary-320");

    let carol = driver.browser(&profiles.path().join("carol"), WIDTH, HEIGHT);
    pages::on_phones(&carol, &shots, base, "/", "landing");
    pages::on_phones(
        &carol,
        &shots,
        base,
        &format!("/login?ref={code}"),
        "login-invited",
    );
    carol.type_into(&carol.find("input[name=email]"), "carol@example.com");
    carol.click(&carol.find("form[action='/login'] button[type=submit]"));
    carol.wait_for_path("/verify");
    pages::on_phones(&carol, &shots, base, "/verify", "verify");
}

/// From `/login`: types the email, reads the code from the mail sink, types
/// it, and lands on `/portfolio`.
fn sign_in(app: &TestServer, browser: &Browser, email: &str, shots: &Screenshots, who: &str) {
    browser.type_into(&browser.find("input[name=email]"), email);
    shots.take(browser, &format!("login-{who}"));
    browser.click(&browser.find("form[action='/login'] button[type=submit]"));
    browser.wait_for_path("/verify");
    let code = app.code_for(email);
    browser.type_into(&browser.find("input[name=code]"), &code);
    shots.take(browser, &format!("verify-{who}"));
    browser.click(&browser.find("form[action='/verify'] button[type=submit]"));
    browser.wait_for_path("/portfolio");
}

/// Fills the holding form, saves, and waits for the row to appear.
fn add_holding(browser: &Browser, symbol: &str, quantity: &str, price: &str, cost_basis: &str) {
    let form = "form.holding-form";
    for (name, value) in [
        ("symbol", symbol),
        ("quantity", quantity),
        ("price", price),
        ("cost_basis", cost_basis),
    ] {
        browser.type_into(&browser.find(&format!("{form} input[name={name}]")), value);
    }
    let save = browser.find(&format!("{form} button[type=submit]"));
    assert_eq!(browser.text(&save), "Save holding");
    browser.click(&save);
    browser.find(&format!("tr[data-symbol='{symbol}']"));
    browser.wait_for_path("/portfolio");
}

/// Clicks "Get commentary" once it is enabled (not mid-request).
fn press_get_commentary(browser: &Browser) {
    let button = browser.find("#get-commentary");
    browser.wait_for("the Get commentary button to be enabled", || {
        (browser.property(&button, "disabled") == false).then_some(())
    });
    browser.click(&button);
}

/// The clipboard's text as the page reads it, or why it could not.
fn read_clipboard(browser: &Browser) -> Result<String, String> {
    let answer = browser.execute_async(
        "const done = arguments[arguments.length - 1];
         if (!navigator.clipboard) { done({ err: 'no navigator.clipboard' }); return; }
         navigator.clipboard.readText().then(
           (text) => done({ ok: text }),
           (e) => done({ err: String(e) }));",
    )?;
    match (answer["ok"].as_str(), answer["err"].as_str()) {
        (Some(text), _) => Ok(text.to_string()),
        (_, Some(err)) => Err(err.to_string()),
        _ => Err(format!("unexpected answer {answer}")),
    }
}

/// `target/screenshots/` (under `$CARGO_TARGET_DIR` when set), emptied of
/// the last run's shots and numbered in the order they are taken.
struct Screenshots {
    dir: PathBuf,
    taken: Cell<u32>,
}

impl Screenshots {
    fn new() -> Screenshots {
        Screenshots::under("")
    }

    /// Shots in `screenshots/<sub>/`, so journeys running at once keep theirs.
    fn under(sub: &str) -> Screenshots {
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
        let target = match std::env::var_os("CARGO_TARGET_DIR") {
            Some(dir) => manifest.join(dir),
            None => manifest.join("target"),
        };
        let dir = target.join("screenshots").join(sub);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            if entry.path().extension().is_some_and(|e| e == "png") {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        Screenshots {
            dir,
            taken: Cell::new(0),
        }
    }

    fn take(&self, browser: &Browser, name: &str) {
        self.taken.set(self.taken.get() + 1);
        let file = self.dir.join(format!("{:02}-{name}.png", self.taken.get()));
        browser.screenshot(&file);
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs()
}

/// `YYYY-MM-DD` of a Unix time, in UTC (Howard Hinnant's civil_from_days).
fn utc_date(unix: u64) -> String {
    let z = (unix / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

#[test]
fn utc_dates_are_civil_dates() {
    assert_eq!(utc_date(0), "1970-01-01");
    assert_eq!(utc_date(951_782_400), "2000-02-29");
    assert_eq!(utc_date(1_800_000_000), "2027-01-15");
}
