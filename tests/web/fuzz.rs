//! A fuzz-style run: a few thousand random, mutated and truncated request
//! heads from a seeded generator, over loopback. Afterwards the server still
//! answers `/healthz`, no connection was left hanging, and its log has no
//! panic.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::support::TestServer;

const SEED: u64 = 0x5eed_1234_abcd_ef01;
const CASES: usize = 3000;
const CLIENTS: usize = 4;
/// The run stops early (still checking everything) past this.
const RUN_AT_MOST: Duration = Duration::from_secs(90);

/// xorshift64*: small, seeded, good enough to pick bytes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

const TEMPLATES: &[&str] = &[
    "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
    "GET /login?ref=ABC HTTP/1.1\r\nHost: x\r\nCookie: session=abc; pending=def\r\n\r\n",
    "HEAD / HTTP/1.0\r\n\r\n",
    "POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 21\r\n\r\nemail=a%40b.c&csrf=xy",
    "PUT /api/portfolio HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 14\r\n\r\n{\"holdings\":1}",
    "POST /api/analyze HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n{}",
    "POST /webhooks/paddle HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\n{}",
    "GET /metrics HTTP/1.1\r\nX-Forwarded-For: 1.2.3.4, [::1]:80\r\n\r\n",
];

/// Bytes that make parsers think: separators, line ends, digits, NUL,
/// non-ASCII.
const SPICE: &[u8] = b"\r\n\r\n\t :;,=?/%+-0123456789\x00\x7f\xff\xc3\xa9aZ";

const EXTRA_HEADERS: &[&str] = &[
    "Content-Length: 0",
    "Content-Length: 5",
    "Content-Length: 99999999999999999999999",
    "Content-Length: -1",
    "Content-Length:  7 ",
    "Transfer-Encoding: chunked",
    "Transfer-Encoding: identity",
    "Expect: 100-continue",
    "Expect: nonsense",
    "Connection: close",
    "Connection: keep-alive, Upgrade",
    "Upgrade: websocket",
    "Host:",
    ": no-name",
    "X-Folded: a\r\n  b",
];

/// Request lines from words a parser knows (and some it should not).
const METHODS: &[&str] = &[
    "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "CONNECT", "BREW", "",
];
const PATHS: &[&str] = &[
    "/",
    "*",
    "/healthz",
    "/webhooks/paddle",
    "http://x/login",
    "/api/../metrics",
    "/%00",
    "",
];
const VERSIONS: &[&str] = &[
    "HTTP/1.1", "HTTP/1.0", "HTTP/0.9", "HTTP/2.0", "HTTP/3.0", "HTTP/1.2", "http/1.1", "",
];

fn random_bytes(rng: &mut Rng, max: usize) -> Vec<u8> {
    (0..rng.below(max))
        .map(|_| {
            if rng.below(3) == 0 {
                rng.pick(SPICE)
            } else {
                (rng.next() & 0xff) as u8
            }
        })
        .collect()
}

/// One hostile request (or a few pipelined ones).
fn case(rng: &mut Rng) -> Vec<u8> {
    let template = rng.pick(TEMPLATES).as_bytes().to_vec();
    match rng.below(6) {
        0 => random_bytes(rng, 400),
        5 => {
            let (method, path, version) = (rng.pick(METHODS), rng.pick(PATHS), rng.pick(VERSIONS));
            let mut out = format!("{method} {path} {version}\r\n");
            for _ in 0..rng.below(3) {
                out.push_str(rng.pick(EXTRA_HEADERS));
                out.push_str("\r\n");
            }
            out.push_str("\r\nhello");
            let mut bytes = out.into_bytes();
            bytes.extend_from_slice(rng.pick(TEMPLATES).as_bytes());
            bytes
        }
        1 => {
            let cut = rng.below(template.len());
            template[..cut].to_vec()
        }
        2 => {
            let mut bytes = template;
            for _ in 0..1 + rng.below(6) {
                let at = rng.below(bytes.len());
                match rng.below(3) {
                    0 => bytes[at] = rng.pick(SPICE),
                    1 => bytes.insert(at, rng.pick(SPICE)),
                    _ => {
                        bytes.remove(at);
                    }
                }
            }
            bytes
        }
        3 => {
            let text = String::from_utf8_lossy(&template).into_owned();
            let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
            let mut out = head.to_string();
            for _ in 0..1 + rng.below(3) {
                out.push_str("\r\n");
                out.push_str(rng.pick(EXTRA_HEADERS));
            }
            out.push_str("\r\n\r\n");
            out.push_str(body);
            let mut bytes = out.into_bytes();
            bytes.extend_from_slice(rng.pick(TEMPLATES).as_bytes());
            bytes
        }
        _ => {
            let mut bytes = template;
            let other = rng.pick(TEMPLATES).as_bytes();
            bytes.extend_from_slice(&other[..rng.below(other.len())]);
            bytes.extend(random_bytes(rng, 40));
            bytes
        }
    }
}

/// What became of one case.
#[derive(PartialEq)]
enum Outcome {
    /// The server answered (at least once) and closed.
    Answered,
    /// It closed without a word.
    Closed,
    /// It kept the connection open 10 s after we closed our side.
    Hung,
}

/// Sends `bytes`, closes our side, and reads until the server closes.
fn throw(addr: &str, bytes: &[u8]) -> Outcome {
    let mut s = TcpStream::connect(addr).expect("connect over loopback");
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = s.set_write_timeout(Some(Duration::from_secs(10)));
    let _ = s.write_all(bytes);
    let _ = s.shutdown(Shutdown::Write);
    let mut buf = [0u8; 8192];
    let mut answered = false;
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => answered |= buf[..n].starts_with(b"HTTP/1."),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Outcome::Hung
            }
            Err(_) => break,
        }
    }
    if answered {
        Outcome::Answered
    } else {
        Outcome::Closed
    }
}

#[test]
fn thousands_of_random_and_truncated_heads_leave_the_server_answering_without_a_panic() {
    let app = TestServer::new().spawn();
    let started = Instant::now();
    let counter = || Arc::new(AtomicUsize::new(0));
    let (thrown, answered, hung) = (counter(), counter(), counter());
    let clients: Vec<_> = (0..CLIENTS)
        .map(|n| {
            let addr = app.addr().to_string();
            let (thrown, answered, hung) = (thrown.clone(), answered.clone(), hung.clone());
            thread::spawn(move || {
                let mut rng = Rng(SEED ^ (n as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
                for _ in 0..CASES / CLIENTS {
                    if started.elapsed() > RUN_AT_MOST {
                        break;
                    }
                    let bytes = case(&mut rng);
                    match throw(&addr, &bytes) {
                        Outcome::Answered => {
                            answered.fetch_add(1, Ordering::SeqCst);
                        }
                        Outcome::Closed => {}
                        Outcome::Hung => {
                            hung.fetch_add(1, Ordering::SeqCst);
                            eprintln!("hung on {:?}", String::from_utf8_lossy(&bytes));
                        }
                    }
                    thrown.fetch_add(1, Ordering::SeqCst);
                }
            })
        })
        .collect();
    for client in clients {
        client.join().expect("a fuzz client");
    }

    let thrown = thrown.load(Ordering::SeqCst);
    let answered = answered.load(Ordering::SeqCst);
    assert!(thrown >= CASES / 2, "only {thrown} cases ran");
    // most cases are close enough to a request to get an answer
    assert!(
        answered >= thrown / 3,
        "only {answered} of {thrown} answered"
    );
    eprintln!("{thrown} cases, {answered} answered");
    assert_eq!(hung.load(Ordering::SeqCst), 0, "connections left hanging");
    let resp = app.client().get("/healthz");
    assert_eq!(resp.status, 200, "{}", resp.summary());
    let log = app.log();
    for event in ["event=panic", "event=handler.panicked"] {
        assert!(!log.contains(event), "{event} in the server log:\n{log}");
    }
}
