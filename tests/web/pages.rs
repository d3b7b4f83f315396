//! The frame of every page as a person meets it (issue 12, items 2, 5 and 9):
//! the current page marked, the favicon, the credit headlined beside its
//! badge, the invite banner's wording, and the operator's view of credited
//! users in `/metrics` and `serve --help`. The top bar on an error page is
//! checked in-process (`inproc::pages`).

use crate::support::{html_unescape, link, sign_in, TestServer};

fn text_after(html: &str, marker: &str) -> Option<String> {
    let at = html.find(marker)?;
    let open_end = at + html[at..].find('>')? + 1;
    let close = open_end + html[open_end..].find('<')?;
    Some(html_unescape(html[open_end..close].trim()))
}

#[test]
fn the_top_bar_marks_the_page_being_shown() {
    let app = TestServer::new().spawn();
    let client = app.client();
    let login = client.get("/login").body;
    assert!(link(&login, "/login").is_some_and(|a| a.contains("aria-current=\"page\"")));
    sign_in(&app, &client, "here@example.com");
    for (page, current, other) in [
        ("/portfolio", "/portfolio", "/settings"),
        ("/settings", "/settings", "/portfolio"),
    ] {
        let html = client.get(page).body;
        let here = link(&html, current).expect("the current page's link");
        assert!(here.contains("aria-current=\"page\""), "{page}: {here}");
        let there = link(&html, other).expect("the other link");
        assert!(!there.contains("aria-current"), "{page}: {there}");
    }
}

#[test]
fn the_favicon_is_served_and_linked() {
    let app = TestServer::new().spawn();
    let client = app.client();
    let icon = client.get("/favicon.ico");
    assert_eq!(icon.status, 200, "{}", icon.summary());
    assert_eq!(icon.header("content-type"), Some("image/x-icon"));
    assert!(icon.body_bytes.starts_with(&[0, 0, 1, 0]), "an ICO file");
    for path in ["/", "/login"] {
        let html = client.get(path).body;
        assert!(
            html.contains("<link rel=\"icon\" href=\"/favicon.ico\""),
            "{path}"
        );
    }
}

#[test]
fn a_running_credit_is_explained_right_after_its_exact_badge() {
    let app = TestServer::new().spawn();
    let client = app.client();
    sign_in(&app, &client, "credit@example.com");
    let free = client.get("/settings").body;
    assert!(
        !free.contains("credit-headline"),
        "no explanation without a credit"
    );
    let out = app.cli(&[
        "grant-credit",
        "--email",
        "credit@example.com",
        "--days",
        "30",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html = client.get("/settings").body;
    let badge = text_after(&html, "data-testid=\"tier-badge\"").expect("the badge");
    assert!(
        badge.starts_with("free · credit · 30 days remaining (expires "),
        "the badge keeps SPEC §5's text as one piece of text: {badge}"
    );
    let meaning = text_after(&html, "data-testid=\"credit-headline\"").expect("its meaning");
    assert!(
        meaning.starts_with("— paid features are on, complimentary, until "),
        "{meaning}"
    );
    assert!(
        html.find("tier-badge") < html.find("credit-headline"),
        "the badge first, then what it means"
    );
}

#[test]
fn credited_users_are_their_own_metrics_series() {
    let app = TestServer::new().spawn();
    for email in [
        "paid@example.com",
        "credited@example.com",
        "free@example.com",
    ] {
        sign_in(&app, &app.client(), email);
    }
    let run = |args: &[&str]| {
        let out = app.cli(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&["set-tier", "--email", "paid@example.com", "--tier", "paid"]);
    run(&[
        "grant-credit",
        "--email",
        "credited@example.com",
        "--days",
        "3",
    ]);
    let series = |name: &str| -> i64 {
        let text = app.client().get("/metrics").body;
        let line = text
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no {name} in /metrics:\n{text}"));
        line.split_whitespace()
            .nth(1)
            .and_then(|v| v.parse().ok())
            .expect("a number")
    };
    assert_eq!(series("app_paid_users"), 1);
    assert_eq!(series("app_credited_users"), 1);
    run(&["revoke-credit", "--email", "credited@example.com"]);
    assert_eq!(
        series("app_credited_users"),
        0,
        "an ended credit is not counted"
    );
}

#[test]
fn the_invite_banner_speaks_of_signing_in_like_the_heading() {
    let app = TestServer::new().spawn();
    let alice = app.client();
    sign_in(&app, &alice, "inviter@example.com");
    let settings = alice.get("/settings").body;
    let code = text_after(&settings, "data-testid=\"referral-code\"").expect("a code");
    let page = app.client().get(&format!("/login?ref={code}")).body;
    let at = page.find("banner invited").expect("the invited banner");
    let banner = &page[at..at + page[at..].find("</div>").expect("its end")];
    assert!(banner.contains("Sign in with your email"), "{banner}");
    assert!(!banner.contains("Sign up"), "{banner}");
    assert!(page.contains("<h1>Sign in</h1>"));
}

#[test]
fn serve_help_lists_the_environment() {
    let app = TestServer::new().spawn();
    let out = app.cli(&["serve", "--help"]);
    let help = String::from_utf8_lossy(&out.stdout);
    for var in [
        "APP_DB",
        "APP_ADDR",
        "APP_BASE_URL",
        "APP_SECRET",
        "APP_SMTP_URL",
        "APP_MAIL_FROM",
        "APP_ADMIN_TOKEN",
        "APP_LLM_URL",
        "APP_LLM_CONCURRENCY",
        "APP_TRUSTED_PROXY",
        "APP_PADDLE_",
    ] {
        assert!(
            help.contains(var),
            "serve --help does not list {var}:\n{help}"
        );
    }
}
