//! Hostile and slow clients: stalled, oversized and garbage requests are
//! bounded, and everyone else keeps being served.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::support::{raw, TestServer};

fn open(app: &TestServer, bytes: &[u8]) -> TcpStream {
    let mut s = TcpStream::connect(app.addr()).expect("connect");
    s.write_all(bytes).expect("write");
    s
}

/// What the server sends before it closes, waiting at most `limit`.
fn read_until_closed(s: &mut TcpStream, limit: Duration) -> Option<Vec<u8>> {
    s.set_read_timeout(Some(limit)).ok()?;
    let mut out = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return Some(out),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            // a reset is a close too
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Some(out),
            Err(_) => return None,
        }
    }
}

fn healthz_answers(app: &TestServer) {
    let started = Instant::now();
    let resp = app.client().get("/healthz");
    assert_eq!(resp.status, 200, "{}", resp.summary());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "healthz took {:?}",
        started.elapsed()
    );
}

#[test]
fn fifty_stalled_or_garbage_sockets_do_not_stop_others_and_are_closed() {
    let app = TestServer::new().spawn();
    let mut hostile: Vec<TcpStream> = (0..50)
        .map(|i| {
            if i % 2 == 0 {
                open(&app, b"GET /login HTTP/1.1\r\nHost: x\r\nX-Half: ")
            } else {
                open(&app, b"\x16\x03\x01\x02\x00garbage with no end of line")
            }
        })
        .collect();
    // a slow body: the head arrives, the body never does
    hostile.push(open(
        &app,
        b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nemail=a",
    ));

    for _ in 0..5 {
        healthz_answers(&app);
    }
    let client = app.client();
    assert_eq!(client.get("/login").status, 200);

    // every hostile socket is closed by the server once its time is up
    for (i, s) in hostile.iter_mut().enumerate() {
        let got = read_until_closed(s, Duration::from_secs(30));
        assert!(
            got.is_some(),
            "hostile socket {i} still open after the timeouts"
        );
    }
    healthz_answers(&app);
}

#[test]
fn an_endless_header_line_gets_431_and_is_not_kept() {
    let app = TestServer::new().spawn();
    let mut request = b"GET / HTTP/1.1\r\nX-Long: ".to_vec();
    request.extend(std::iter::repeat_n(b'a', 100_000));
    request.extend_from_slice(b"\r\n\r\n");
    let answer = raw(app.addr(), &request);
    assert!(
        String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 431"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    healthz_answers(&app);
}

#[test]
fn too_many_headers_get_400() {
    let app = TestServer::new().spawn();
    let mut request = b"GET / HTTP/1.1\r\nHost: x\r\n".to_vec();
    for i in 0..200 {
        request.extend_from_slice(format!("X-H{i}: v\r\n").as_bytes());
    }
    request.extend_from_slice(b"\r\n");
    let answer = raw(app.addr(), &request);
    assert!(
        String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 400"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    healthz_answers(&app);
}

#[test]
fn a_huge_content_length_is_413_without_reading_it() {
    let app = TestServer::new().spawn();
    let answer = raw(
        app.addr(),
        b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000000000\r\n\r\nemail=a",
    );
    assert!(
        String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 413"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    healthz_answers(&app);
}

#[test]
fn a_chunked_body_is_411() {
    let app = TestServer::new().spawn();
    let answer = raw(
        app.addr(),
        b"POST /login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nemail\r\n0\r\n\r\n",
    );
    assert!(
        String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 411"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    assert_eq!(app.mail.all().len(), 0);
    healthz_answers(&app);
}

#[test]
fn slow_uploads_do_not_hold_the_workers() {
    // 4 workers; 12 uploads that send their head and part of the body, then stall
    let app = TestServer::new().spawn();
    let _slow: Vec<TcpStream> = (0..12)
        .map(|_| {
            open(
                &app,
                b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\n\r\nemail=slow",
            )
        })
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    for _ in 0..10 {
        healthz_answers(&app);
    }
}
