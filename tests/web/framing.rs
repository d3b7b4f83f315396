//! Malformed framing (SPEC §8): two or invalid `Content-Length`s and a bare
//! LF in the head are a 400; after any answer that leaves request bytes
//! unread the connection closes, so a request hidden behind a refused one is
//! never served. Bodies have a limit per path: 1 MiB for Paddle's webhook,
//! 64 KiB everywhere else.

use crate::support::{raw, TestServer};

/// A request the server would answer with 200 `ok`, smuggled behind the
/// first one on the same connection.
const SMUGGLED: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";

/// Sends `first` and then `SMUGGLED` on one connection; what came back
/// before the server closed it.
fn with_smuggled(app: &TestServer, first: &[u8]) -> String {
    let mut bytes = first.to_vec();
    bytes.extend_from_slice(SMUGGLED);
    String::from_utf8_lossy(&raw(app.addr(), &bytes)).into_owned()
}

/// The status codes of every answer in `text`, in order (each answer's
/// body skipped by its `Content-Length`).
fn statuses(text: &str) -> Vec<u16> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(end) = rest.find("\r\n\r\n") {
        let head = &rest[..end];
        let code = head.split(' ').nth(1).and_then(|c| c.parse().ok());
        out.push(code.unwrap_or(0));
        let length: usize = head
            .lines()
            .filter_map(|l| l.split_once(':'))
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.trim().parse().ok())
            .unwrap_or(0);
        rest = rest.get(end + 4 + length..).unwrap_or("");
    }
    out
}

/// `first` is answered with `status` and `Connection: close`, and nothing
/// after it on that connection is answered.
fn refused_and_closed(app: &TestServer, first: &[u8], status: u16) {
    let answer = with_smuggled(app, first);
    let what = String::from_utf8_lossy(&first[..first.len().min(200)]);
    assert_eq!(
        statuses(&answer),
        vec![status],
        "{what:?} then a smuggled request got:\n{answer}"
    );
    let head = answer.split("\r\n\r\n").next().unwrap_or("");
    assert!(
        head.lines()
            .any(|l| l.eq_ignore_ascii_case("connection: close")),
        "{what:?}: no Connection: close in\n{answer}"
    );
}

#[test]
fn two_content_lengths_are_400_and_close_the_connection() {
    let app = TestServer::new().spawn();
    // conflicting: the first (0) would frame the smuggled request as the next one
    refused_and_closed(
        &app,
        b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 34\r\n\r\n",
        400,
    );
    // identical but duplicated: refused too, no proxy would agree on it
    refused_and_closed(
        &app,
        b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n",
        400,
    );
}

#[test]
fn an_invalid_content_length_is_400_and_closes_the_connection() {
    let app = TestServer::new().spawn();
    for value in ["abc", "+0", "-1", "0x0", "0 0", "0,0", "", "1e3"] {
        let first = format!("POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: {value}\r\n\r\n");
        refused_and_closed(&app, first.as_bytes(), 400);
    }
}

#[test]
fn a_bare_lf_or_a_folded_line_in_the_head_is_400_and_closes_the_connection() {
    let app = TestServer::new().spawn();
    refused_and_closed(
        &app,
        b"GET /healthz HTTP/1.1\r\nHost: x\nX-Hidden: y\r\n\r\n",
        400,
    );
    refused_and_closed(&app, b"GET /healthz HTTP/1.1\nHost: x\r\n\r\n", 400);
    // an obsolete line folding: a proxy may read it as part of Host
    refused_and_closed(
        &app,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n Content-Length: 0\r\n\r\n",
        400,
    );
}

#[test]
fn a_chunked_body_is_411_and_closes_the_connection() {
    let app = TestServer::new().spawn();
    refused_and_closed(
        &app,
        b"POST /login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
        411,
    );
    // with a Content-Length beside it, the classic smuggling pair
    refused_and_closed(
        &app,
        b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n",
        411,
    );
}

/// CVE-2026-66752 (tiny_http through 0.12.0): a `Transfer-Encoding` whose
/// value is not exactly `chunked` was not parsed, so the body was framed by
/// `Content-Length` while a proxy may have framed it as chunked. Here any
/// `Transfer-Encoding`, whatever its value, is refused unread (vendor/README.md).
#[test]
fn any_transfer_encoding_value_is_411_and_closes_the_connection() {
    let app = TestServer::new().spawn();
    for value in [
        "gzip",
        "identity",
        "Chunked",
        "chunked, identity",
        "gzip, chunked",
        "xchunked",
        "chunked;q=1",
        "",
    ] {
        let first = format!(
            "POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nTransfer-Encoding: {value}\r\n\r\n"
        );
        refused_and_closed(&app, first.as_bytes(), 411);
    }
}

#[test]
fn a_body_over_the_limit_is_413_and_closes_the_connection() {
    let app = TestServer::new().spawn();
    let mut first =
        b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 70000\r\n\r\n"
            .to_vec();
    // 64 KiB of body, then the smuggled request inside the claimed 70000
    first.extend(std::iter::repeat_n(b'a', 64 * 1024));
    refused_and_closed(&app, &first, 413);
}

#[test]
fn an_upgrade_is_refused_with_400_and_closes_the_connection() {
    let app = TestServer::new().spawn();
    refused_and_closed(
        &app,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
        400,
    );
    refused_and_closed(
        &app,
        b"POST /login HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\nContent-Length: 0\r\n\r\n",
        400,
    );
}

#[test]
fn an_unknown_expectation_is_417_and_an_http_2_request_line_505_both_closing() {
    let app = TestServer::new().spawn();
    refused_and_closed(
        &app,
        b"POST /login HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\nContent-Length: 0\r\n\r\n",
        417,
    );
    refused_and_closed(&app, b"GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n", 505);
}

#[test]
fn a_well_framed_pipeline_is_still_served_in_order() {
    let app = TestServer::new().spawn();
    let answer = raw(
        app.addr(),
        b"POST /nothing-here HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc\
          GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n\
          GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let answer = String::from_utf8_lossy(&answer);
    assert_eq!(statuses(&answer), vec![404, 200, 200], "{answer}");
}

/// POSTs a body of `len` bytes to `path`; the answer's status.
fn post_status(app: &TestServer, path: &str, len: usize) -> u16 {
    post_status_with(app, path, "", len)
}

/// Like `post_status`, with `extra` header lines (each ending in CRLF).
fn post_status_with(app: &TestServer, path: &str, extra: &str, len: usize) -> u16 {
    let mut bytes = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {len}\r\n{extra}Connection: close\r\n\r\n"
    )
    .into_bytes();
    bytes.extend(std::iter::repeat_n(b' ', len));
    let answer = String::from_utf8_lossy(&raw(app.addr(), &bytes)).into_owned();
    let got = statuses(&answer);
    assert_eq!(got.len(), 1, "POST {path} ({len} bytes): {answer}");
    got[0]
}

#[test]
fn the_paddle_webhook_takes_bodies_up_to_1_mib_and_other_paths_64_kib() {
    // With billing on and a well-formed, fresh signature the webhook's body
    // is read (with billing off it is a 404 unread: billing/unread.rs).
    let paddle = crate::support::paddle::FakePaddle::start();
    let app = crate::web::billing::spawn_with_discount(&paddle, None);
    let now = app::clock::Timestamp::now().secs();
    let signature = app::services::billing::signature::sign("any", now, b"");
    let signed = format!("Paddle-Signature: {signature}\r\n");
    let webhook = |path, len| post_status_with(&app, path, &signed, len);
    assert_ne!(webhook("/webhooks/paddle", 70 * 1024), 413);
    assert_ne!(webhook("/webhooks/paddle", 1024 * 1024), 413);
    assert_eq!(webhook("/webhooks/paddle", 1024 * 1024 + 1), 413);
    assert_eq!(webhook("/webhooks/paddle?x=1", 1024 * 1024 + 1), 413);
    assert_eq!(post_status(&app, "/login", 70 * 1024), 413);
    assert_eq!(post_status(&app, "/api/portfolio", 64 * 1024 + 1), 413);
    assert_ne!(post_status(&app, "/login", 64 * 1024), 413);
}
