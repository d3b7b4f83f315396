//! Slow clients hold only their own connection's thread, never a worker:
//! every body is read whole on the connection's thread within one deadline
//! (`Expect: 100-continue` included), an upgrade is refused, and the
//! request head's deadline holds however slowly its bytes drip in.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use crate::support::TestServer;

/// How long each slow upload keeps dripping its body.
const DRIP_FOR: Duration = Duration::from_secs(6);
const DRIP_EVERY: Duration = Duration::from_millis(500);

/// Reads what the server has sent so far, waiting at most `limit`.
fn read_some(s: &mut TcpStream, limit: Duration) -> String {
    s.set_read_timeout(Some(limit)).expect("set a read timeout");
    let mut buf = [0u8; 4096];
    match s.read(&mut buf) {
        Ok(n) => String::from_utf8_lossy(&buf[..n]).into_owned(),
        Err(_) => String::new(),
    }
}

#[test]
fn slow_uploads_with_expect_continue_or_upgrade_do_not_delay_healthz() {
    // 4 workers; 8 uploads, twice as many, that send their head and drip
    // their body a byte at a time
    let app = TestServer::new().spawn();
    let started = Arc::new(Barrier::new(9));
    let finished = Arc::new(AtomicUsize::new(0));
    let uploads: Vec<_> = (0..8)
        .map(|i| {
            let (addr, started, finished) =
                (app.addr().to_string(), started.clone(), finished.clone());
            thread::spawn(move || {
                let expect = i % 2 == 0;
                let extra = if expect {
                    "Expect: 100-continue\r\n"
                } else {
                    "Connection: upgrade\r\nUpgrade: websocket\r\n"
                };
                let head = format!(
                    "POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n{extra}\r\n"
                );
                let sent = TcpStream::connect(&addr).and_then(|mut s| {
                    s.write_all(head.as_bytes())?;
                    // the server asks for the body (or refuses the upgrade) at once
                    let first = read_some(&mut s, Duration::from_secs(5));
                    Ok((s, first))
                });
                started.wait();
                let (mut s, first) = sent.expect("connect and send the head");
                let until = Instant::now() + DRIP_FOR;
                while Instant::now() < until {
                    let _ = s.write_all(b"a");
                    thread::sleep(DRIP_EVERY);
                }
                finished.fetch_add(1, Ordering::SeqCst);
                (expect, first)
            })
        })
        .collect();

    started.wait();
    let healthz = app.client().try_request("GET", "/healthz", &[], b"");
    let finished_by_then = finished.load(Ordering::SeqCst);
    assert!(
        matches!(&healthz, Ok(r) if r.status == 200),
        "/healthz: {healthz:?}"
    );
    assert_eq!(
        finished_by_then, 0,
        "/healthz answered only after slow uploads had finished"
    );

    for upload in uploads {
        let (expect, first) = upload.join().expect("an upload thread");
        if expect {
            assert!(first.starts_with("HTTP/1.1 100 Continue\r\n"), "{first:?}");
        } else {
            assert!(first.starts_with("HTTP/1.1 400"), "{first:?}");
        }
    }
}

#[test]
fn a_body_has_one_deadline_not_one_per_read() {
    let app = TestServer::new().spawn();
    let mut s = TcpStream::connect(app.addr()).expect("connect");
    s.write_all(
        b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n",
    )
    .expect("send the head");
    // a byte every half second would keep a per-read timeout happy forever
    let until = Instant::now() + Duration::from_secs(14);
    let mut answer = String::new();
    while Instant::now() < until && answer.is_empty() {
        let _ = s.write_all(b"a");
        answer = read_some(&mut s, DRIP_EVERY);
    }
    assert!(
        answer.starts_with("HTTP/1.1 408"),
        "no 408 within 14 s of dripping: {answer:?}"
    );
}

#[test]
fn a_request_head_dripped_a_byte_at_a_time_is_cut_off_at_its_deadline() {
    let app = TestServer::new().spawn();
    let mut s = TcpStream::connect(app.addr()).expect("connect");
    s.write_all(b"GET /healthz HTTP/1.1\r\nX-Drip: ")
        .expect("send the start");
    s.set_read_timeout(Some(DRIP_EVERY))
        .expect("set a read timeout");
    let until = Instant::now() + Duration::from_secs(14);
    let mut buf = [0u8; 1024];
    let mut closed = false;
    let mut answer = Vec::new();
    while Instant::now() < until && !closed {
        if s.write_all(b"a").is_err() {
            closed = true;
        }
        match s.read(&mut buf) {
            Ok(0) => closed = true,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => closed = true,
        }
    }
    assert!(
        closed,
        "the connection was still open after 14 s of dripping"
    );
    // what it said before closing, if that was not lost to a reset
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer:?}"
    );
}
