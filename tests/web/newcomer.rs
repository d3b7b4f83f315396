//! What a newcomer meets first (issue 21): a refused origin says why in the
//! log, and "Send a new code" inside the minute keeps the code form.

use crate::support::{csrf_in, TestServer};

#[test]
fn a_refused_origin_is_one_log_line_naming_what_came_and_what_was_expected() {
    let app = TestServer::new().spawn();
    let client = app.client();
    let form = client.get("/login");
    let resp = client.post_form_with(
        "/login",
        &[("email", "new@example.com"), ("csrf", &csrf_in(&form.body))],
        &[("Origin", "http://localhost:1")],
    );
    assert_eq!(resp.status, 403, "{}", resp.summary());
    assert!(
        resp.body
            .contains(&format!("Open the site at {}", app.base_url())),
        "the page says where to open the site: {}",
        resp.body
    );
    let log = app.log();
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("event=csrf.origin_refused"))
        .collect();
    assert_eq!(lines.len(), 1, "one line per refusal:\n{log}");
    assert!(
        lines[0].contains("origin=http://localhost:1")
            && lines[0].contains(&format!("expected={}", app.base_url()))
            && lines[0].contains("path=/login"),
        "{}",
        lines[0]
    );
}

#[test]
fn send_a_new_code_inside_the_minute_keeps_the_code_form_and_the_first_code() {
    let app = TestServer::new().spawn();
    let client = app.client();
    let email = "quick@example.com";
    let form = client.get("/login");
    let sent = client.post_form(
        "/login",
        &[("email", email), ("csrf", &csrf_in(&form.body))],
    );
    assert!(sent.is_see_other_to("/verify"), "{}", sent.summary());
    let code = app.code_for(email);

    // The verify page's "Send a new code" form, pressed at once.
    let verify = client.get("/verify");
    assert_eq!(verify.status, 200, "{}", verify.summary());
    let again = client.post_form(
        "/login",
        &[("email", email), ("csrf", &csrf_in(&verify.body))],
    );
    assert_eq!(again.status, 429, "{}", again.summary());
    assert!(again.header("retry-after").is_some(), "{}", again.summary());
    assert!(
        again.body.contains("name=\"code\""),
        "the code field stays: {}",
        again.body
    );
    assert!(
        again.body.contains("ask again in") && again.body.contains("still works"),
        "says when a new code can be sent, and that the first one works: {}",
        again.body
    );

    // The code already sent still signs in, from the page that answer was.
    let done = client.post_form(
        "/verify",
        &[("code", &code), ("csrf", &csrf_in(&again.body))],
    );
    assert!(done.is_see_other_to("/"), "{}", done.summary());
    assert!(client.cookie(&app.cookie_name("session")).is_some());
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .expect("a gzip body");
    out
}

/// Lighthouse's "text compression" and "meta description" (issue 21,
/// item 8): pages and the assets go out gzipped to a client that takes it.
#[test]
fn text_answers_are_gzipped_for_clients_that_accept_it() {
    let app = TestServer::new().spawn();
    let client = app.client();
    let plain = client.get("/login");
    assert_eq!(
        plain.header("content-encoding"),
        None,
        "{}",
        plain.summary()
    );
    assert_eq!(plain.header("vary"), Some("Accept-Encoding"));
    assert!(
        plain.body.contains("<meta name=\"description\" content=\""),
        "{}",
        plain.body
    );
    let zipped = client.get_with("/login", &[("Accept-Encoding", "gzip, deflate, br")]);
    assert_eq!(zipped.status, 200);
    assert_eq!(zipped.header("content-encoding"), Some("gzip"));
    assert_eq!(zipped.header("vary"), Some("Accept-Encoding"));
    let page = String::from_utf8(gunzip(&zipped.body_bytes)).expect("UTF-8");
    assert!(page.starts_with("<!DOCTYPE html>"), "{page}");
    assert!(zipped.body_bytes.len() < page.len(), "it is smaller");

    // The stylesheet and the script, compressed once and cached a year.
    for asset in ["css", "js"] {
        let href = plain
            .body
            .split('"')
            .find(|s| s.starts_with("/assets/app.") && s.ends_with(&format!(".{asset}")))
            .unwrap_or_else(|| panic!("no {asset} link: {}", plain.body))
            .to_string();
        let raw = client.get(&href);
        let zipped = client.get_with(&href, &[("Accept-Encoding", "gzip")]);
        assert_eq!(zipped.header("content-encoding"), Some("gzip"), "{href}");
        assert_eq!(zipped.header("vary"), Some("Accept-Encoding"), "{href}");
        assert!(zipped
            .header("cache-control")
            .is_some_and(|c| c.contains("immutable")));
        assert_eq!(gunzip(&zipped.body_bytes), raw.body_bytes, "{href}");
        assert!(zipped.body_bytes.len() < raw.body_bytes.len());
    }
    // `identity` only, or gzip refused with q=0: sent as it is.
    let refused = client.get_with("/login", &[("Accept-Encoding", "gzip;q=0, identity")]);
    assert_eq!(refused.header("content-encoding"), None);
}
