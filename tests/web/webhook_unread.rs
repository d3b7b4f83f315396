//! `POST /webhooks/paddle` refuses before reading the body (SPEC §7, §8): with
//! billing off it is a 404, and with billing on a missing, malformed or stale
//! `Paddle-Signature` is a 401, both answered while the client has sent
//! only the head of a 1 MiB request; and only a few large webhook bodies are
//! read at once (the next is a 503 with `Retry-After`, unread).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::Value;

use crate::support::paddle::{deliver_signed, FakePaddle};
use crate::support::{parse_response, Resp, TestApp};
use crate::web::billing::{paddle_env, WEBHOOK_SECRET};
use app::services::billing::signature::sign;

const MIB: usize = 1024 * 1024;

/// A webhook request's head announcing `length` bytes, with `signature`.
fn head(length: usize, signature: Option<&str>) -> String {
    let mut head = format!(
        "POST /webhooks/paddle HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n"
    );
    if let Some(s) = signature {
        head.push_str(&format!("Paddle-Signature: {s}\r\n"));
    }
    head.push_str("\r\n");
    head
}

/// Sends `head` and, without sending any body, waits up to 3 s for a whole
/// answer; `None` when none came (the server is waiting for the body).
fn answer_to_head(addr: &str, head: &str) -> (Option<Resp>, TcpStream) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.write_all(head.as_bytes()).expect("send the head");
    stream
        .set_read_timeout(Some(Duration::from_secs(3)))
        .expect("timeout");
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(resp) = parse_response(&got).filter(|r| {
            let length = r.header("content-length").and_then(|l| l.parse().ok());
            length.is_some_and(|l: usize| r.body.len() >= l)
        }) {
            return (Some(resp), stream);
        }
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return (parse_response(&got), stream),
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
}

fn error_code(resp: &Resp) -> String {
    let v: Value = serde_json::from_str(&resp.body).unwrap_or(Value::Null);
    v["error"].as_str().unwrap_or("").to_string()
}

#[test]
fn with_billing_off_a_megabyte_webhook_is_a_404_before_its_body() {
    let app = TestApp::spawn();
    let now = app::clock::Timestamp::now().secs();
    let signature = sign(WEBHOOK_SECRET, now, b"whatever");
    for signature in [None, Some(signature.as_str())] {
        let (resp, _stream) = answer_to_head(app.addr(), &head(MIB, signature));
        let resp = resp.expect("an answer while the body is still unsent");
        assert_eq!(resp.status, 404, "{}", resp.summary());
        assert_eq!(error_code(&resp), "not_found");
        assert_eq!(resp.header("connection"), Some("close"));
    }
}

#[test]
fn with_billing_on_a_missing_malformed_or_stale_signature_is_a_401_before_the_body() {
    let paddle = FakePaddle::start();
    let app = TestApp::spawn_with(paddle_env(&paddle, None));
    let now = app::clock::Timestamp::now().secs();
    let stale = sign(WEBHOOK_SECRET, now - 301, b"x");
    let future = sign(WEBHOOK_SECRET, now + 301, b"x");
    for (what, signature) in [
        ("missing", None),
        ("malformed", Some("t=1;v1=abc")),
        ("no h1", Some(&*format!("ts={now}"))),
        ("stale", Some(stale.as_str())),
        ("future", Some(future.as_str())),
    ] {
        let (resp, _stream) = answer_to_head(app.addr(), &head(MIB, signature));
        let resp = resp.unwrap_or_else(|| panic!("{what}: no answer before the body"));
        assert_eq!(resp.status, 401, "{what}: {}", resp.summary());
        assert_eq!(error_code(&resp), "bad_signature", "{what}");
    }
    assert_eq!(
        app.query_i64("SELECT count(*) FROM billing_events"),
        0,
        "nothing stored"
    );
    assert!(app
        .log()
        .contains("event=billing.webhook_refused reason=stale body=unread"));
    // A well-formed, fresh header is read and checked against the body:
    // a wrong tag is still a 401, and the right one is taken.
    let body = r#"{"event_id":"evt_unread_1","event_type":"transaction.created","occurred_at":"2026-11-26T09:30:12.123456Z","notification_id":"ntf_1","data":{}}"#;
    let wrong = deliver_signed(&app, "pdl_ntf_someone_else", body);
    assert_eq!(wrong.status, 401, "{}", wrong.summary());
    let right = deliver_signed(&app, WEBHOOK_SECRET, body);
    assert_eq!(right.status, 200, "{}", right.summary());
}

#[test]
fn only_a_few_large_webhook_bodies_are_read_at_once() {
    let paddle = FakePaddle::start();
    let app = TestApp::spawn_with(paddle_env(&paddle, None));
    let now = app::clock::Timestamp::now().secs();
    let signature = sign(WEBHOOK_SECRET, now, b"unsent");
    let large = head(200 * 1024, Some(&signature));
    // Four large bodies on their way (half sent, then stalled)…
    let mut stalled: Vec<TcpStream> = (0..4)
        .map(|_| {
            let mut s = TcpStream::connect(app.addr()).expect("connect");
            s.write_all(large.as_bytes()).expect("head");
            s.write_all(&vec![b' '; 100 * 1024]).expect("half the body");
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    // …so a fifth is a 503 with Retry-After before its body is read.
    let (resp, _fifth) = answer_to_head(app.addr(), &large);
    let resp = resp.expect("an answer before the body");
    assert_eq!(resp.status, 503, "{}", resp.summary());
    assert_eq!(resp.header("retry-after"), Some("5"));
    assert_eq!(error_code(&resp), "unavailable");
    // A small delivery still gets through at once.
    let body = r#"{"event_id":"evt_unread_small","event_type":"transaction.created","occurred_at":"2026-11-26T09:30:12.123456Z","notification_id":"ntf_2","data":{}}"#;
    let small = deliver_signed(&app, WEBHOOK_SECRET, body);
    assert_eq!(small.status, 200, "{}", small.summary());
    // Once the stalled ones give up, large bodies are read again.
    for s in &mut stalled {
        let _ = s.shutdown(std::net::Shutdown::Both);
    }
    drop(stalled);
    std::thread::sleep(Duration::from_millis(300));
    let padded = format!(
        r#"{{"event_id":"evt_unread_large","event_type":"transaction.created","occurred_at":"2026-11-26T09:30:12.123456Z","notification_id":"ntf_3","data":{{"pad":"{}"}}}}"#,
        "x".repeat(100 * 1024)
    );
    let large_ok = deliver_signed(&app, WEBHOOK_SECRET, &padded);
    assert_eq!(large_ok.status, 200, "{}", large_ok.summary());
}
