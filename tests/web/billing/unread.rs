//! A webhook body is not read from just anyone (issue 17 item 2): with
//! billing off the route is not there, and a `Paddle-Signature` that is
//! missing, malformed or stale is refused from the head alone, so a
//! stranger announcing a megabyte gets the answer at once with nothing
//! sent; and only a few bodies larger than a form are read at once.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use super::*;
use crate::support::parse_response;

const MIB: usize = 1024 * 1024;

/// Sends a webhook head announcing `length` bytes and no body, and reads
/// what comes back until `"\r\n\r\n"` (a whole interim or final head) or
/// the connection closes. The server waits 10 s for a body it reads, so an
/// answer here within 9 s came without the body.
fn head_only(
    app: &TestServer,
    signature: Option<&str>,
    length: usize,
    expect: bool,
) -> (TcpStream, Vec<u8>) {
    let mut stream = TcpStream::connect(app.addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(9)))
        .unwrap();
    let mut head = format!(
        "POST /webhooks/paddle HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n",
        app.addr()
    );
    if let Some(s) = signature {
        head.push_str(&format!("Paddle-Signature: {s}\r\n"));
    }
    if expect {
        head.push_str("Expect: 100-continue\r\n");
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => panic!("no answer without the body: {e}"),
        }
    }
    // a final answer's body follows its head
    if !got.starts_with(b"HTTP/1.1 100") {
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        let _ = stream.read_to_end(&mut got);
    }
    (stream, got)
}

fn status(bytes: &[u8]) -> u16 {
    parse_response(bytes)
        .unwrap_or_else(|| panic!("an HTTP answer: {:?}", String::from_utf8_lossy(bytes)))
        .status
}

#[test]
fn with_billing_off_a_megabyte_webhook_gets_404_without_sending_it() {
    let app = TestServer::new().spawn();
    let (_, got) = head_only(&app, Some("ts=1;h1=00"), MIB, false);
    assert_eq!(status(&got), 404, "{}", String::from_utf8_lossy(&got));
}

#[test]
fn missing_malformed_or_stale_signatures_get_401_before_the_body() {
    let paddle = FakePaddle::start();
    let app = spawn(&paddle);
    let now = app::clock::Timestamp::now().secs();
    let h1 = "ab".repeat(32);
    let stale = format!("ts={};h1={h1}", now - 301);
    for (what, signature) in [
        ("missing", None),
        ("malformed", Some("t=1;v1=abc")),
        ("stale", Some(stale.as_str())),
    ] {
        let (_, got) = head_only(&app, signature, MIB, false);
        let resp = parse_response(&got).unwrap_or_else(|| panic!("{what}: no answer"));
        assert_eq!(resp.status, 401, "{what}: {}", resp.summary());
        assert!(resp.body.contains("bad_signature"), "{what}: {}", resp.body);
    }
    assert!(app.log().contains("body=unread"), "{}", app.log());
}

#[test]
fn only_a_few_large_webhook_bodies_are_read_at_once() {
    let paddle = FakePaddle::start();
    let app = spawn(&paddle);
    let now = app::clock::Timestamp::now().secs();
    // well-formed and fresh, so the server reads on; the tag is wrong
    let signature = format!("ts={now};h1={}", "ab".repeat(32));
    let mut held = Vec::new();
    for n in 0..4 {
        let (stream, got) = head_only(&app, Some(&signature), MIB, true);
        assert!(
            got.starts_with(b"HTTP/1.1 100 Continue"),
            "large body {n} is read: {}",
            String::from_utf8_lossy(&got)
        );
        held.push(stream);
    }
    let (_, got) = head_only(&app, Some(&signature), MIB, true);
    let busy = parse_response(&got).expect("an answer");
    assert_eq!(busy.status, 503, "{}", busy.summary());
    assert!(busy.header("Retry-After").is_some(), "{}", busy.summary());
    // a body no larger than a form is not held up
    let small = post_webhook(&app, "{}", Some(&signature));
    assert_eq!(small.status, 401, "{}", small.summary());
    // one large body arrives, is answered, and gives its place back
    let mut first = held.remove(0);
    first.write_all(&vec![b' '; MIB]).unwrap();
    first
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let mut answer = Vec::new();
    let _ = first.read_to_end(&mut answer);
    assert_eq!(status(&answer), 401, "{}", String::from_utf8_lossy(&answer));
    let (_, got) = head_only(&app, Some(&signature), MIB, true);
    assert!(
        got.starts_with(b"HTTP/1.1 100 Continue"),
        "a place came back: {}",
        String::from_utf8_lossy(&got)
    );
}
