//! The load benchmark's own HTTP/1.1 client: sign-in through the pages and
//! keep-alive connections driven for a time or a number of requests.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// The account the benchmark signs in as.
pub const EMAIL: &str = "bench@example.com";

/// One HTTP/1.1 exchange on a kept-alive connection: (status, headers, body).
pub fn exchange(
    reader: &mut BufReader<TcpStream>,
    request: &[u8],
) -> std::io::Result<(u16, Vec<String>, Vec<u8>)> {
    reader.get_mut().write_all(request)?;
    let mut status_line = String::new();
    reader.read_line(&mut status_line)?;
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut headers = Vec::new();
    let mut length = 0;
    let mut chunked = false;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let line = line.trim_end().to_string();
        if line.is_empty() {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("transfer-encoding:") {
            chunked = v.trim() == "chunked";
        }
        headers.push(line);
    }
    let body = if chunked {
        read_chunked(reader)?
    } else {
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        body
    };
    Ok((status, headers, body))
}

/// A `Transfer-Encoding: chunked` body (tiny_http sends pages of 32 KiB
/// and more that way, such as `/portfolio` with 50 holdings).
fn read_chunked(reader: &mut BufReader<TcpStream>) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let size = line.trim_end().split(';').next().unwrap_or_default();
        let size = usize::from_str_radix(size.trim(), 16)
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidData))?;
        if size == 0 {
            // Trailers (none are sent) end with an empty line.
            loop {
                let mut trailer = String::new();
                if reader.read_line(&mut trailer)? == 0 || trailer.trim_end().is_empty() {
                    return Ok(body);
                }
            }
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        let mut crlf = [0; 2];
        reader.read_exact(&mut crlf)?;
    }
}

pub fn connect(addr: &str) -> std::io::Result<BufReader<TcpStream>> {
    let s = TcpStream::connect(addr)?;
    s.set_nodelay(true).ok();
    Ok(BufReader::new(s))
}

fn once(addr: &str, request: String) -> (u16, Vec<String>, Vec<u8>) {
    let mut c = connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    exchange(&mut c, request.as_bytes()).unwrap_or_else(|e| panic!("{request}: {e}"))
}

fn get(addr: &str, path: &str, cookie: &str) -> (u16, Vec<String>, Vec<u8>) {
    once(
        addr,
        format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n"
        ),
    )
}

fn post(addr: &str, path: &str, cookie: &str, body: &str) -> (u16, Vec<String>, Vec<u8>) {
    once(
        addr,
        format!(
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\nOrigin: http://{addr}\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    )
}

/// A JSON PUT signed in; answers the status.
pub fn put_json(addr: &str, path: &str, cookie: &str, body: &str) -> u16 {
    once(
        addr,
        format!(
            "PUT {path} HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\nOrigin: http://{addr}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    )
    .0
}

/// The keep-alive GET the load repeats.
pub fn get_request(addr: &str, path: &str, cookie: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\n\r\n").into_bytes()
}

fn set_cookie(headers: &[String], name: &str) -> Option<String> {
    headers.iter().find_map(|h| {
        let v = h
            .strip_prefix("Set-Cookie: ")
            .or_else(|| h.strip_prefix("set-cookie: "))?;
        let pair = v.split(';').next()?;
        pair.starts_with(&format!("{name}="))
            .then(|| pair.to_string())
    })
}

fn csrf(body: &[u8]) -> String {
    let html = String::from_utf8_lossy(body);
    let at = html.find("name=\"csrf\" value=\"").expect("csrf field") + 19;
    html[at..].split('"').next().unwrap_or_default().to_string()
}

/// Signs in as [`EMAIL`] through the pages, reading the code from the
/// server's log (no SMTP is configured, so the app prints the email there).
/// Returns the `session=…` cookie.
pub fn sign_in(addr: &str, log: &Path) -> String {
    let (_, headers, page) = get(addr, "/login", "");
    let visitor = set_cookie(&headers, "visitor").unwrap_or_default();
    let (status, headers, _) = post(
        addr,
        "/login",
        &visitor,
        &format!("email=bench%40example.com&csrf={}", csrf(&page)),
    );
    assert_eq!(status, 303, "POST /login");
    let pending = set_cookie(&headers, "pending").expect("pending cookie");
    let deadline = Instant::now() + Duration::from_secs(60);
    let code = loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if let Some(at) = text.rfind("Your sign-in code is ") {
            break text[at + 21..at + 27].to_string();
        }
        assert!(Instant::now() < deadline, "no code in the log");
        thread::sleep(Duration::from_millis(20));
    };
    let (_, _, page) = get(addr, "/verify", &pending);
    let (status, headers, _) = post(
        addr,
        "/verify",
        &pending,
        &format!("code={code}&csrf={}", csrf(&page)),
    );
    assert_eq!(status, 303, "POST /verify");
    set_cookie(&headers, "session").expect("session cookie")
}

pub enum Budget {
    Seconds(u64),
    Requests(u64),
}

/// What one load run measured.
pub struct Run {
    /// Latencies of the answers that were 200, sorted, in microseconds.
    pub latencies: Vec<u32>,
    pub errors: u64,
    pub seconds: f64,
    pub body_len: usize,
}

impl Run {
    pub fn throughput(&self) -> f64 {
        self.latencies.len() as f64 / self.seconds
    }

    /// The `p` quantile of the latencies, in milliseconds.
    pub fn percentile(&self, p: f64) -> f64 {
        let all = &self.latencies;
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0) as f64
            / 1000.0
    }
}

/// Keeps `connections` keep-alive connections busy with `request` until the
/// budget is spent.
pub fn drive(addr: &str, request: &[u8], connections: usize, budget: Budget) -> Run {
    let (status, _, body) = exchange(
        &mut connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}")),
        request,
    )
    .expect("first request");
    assert_eq!(status, 200, "the first request answered {status}");
    let stop = Arc::new(AtomicBool::new(false));
    let left = Arc::new(AtomicU64::new(match budget {
        Budget::Requests(n) => n,
        Budget::Seconds(_) => u64::MAX,
    }));
    let started = Instant::now();
    let workers: Vec<_> = (0..connections)
        .map(|_| {
            let (stop, left) = (stop.clone(), left.clone());
            let (addr, request) = (addr.to_string(), request.to_vec());
            thread::spawn(move || {
                let mut latencies = Vec::with_capacity(100_000);
                let mut errors = 0u64;
                let mut conn = connect(&addr).ok();
                while !stop.load(Ordering::Relaxed)
                    && left
                        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                        .is_ok()
                {
                    let t = Instant::now();
                    let answer = match conn.as_mut() {
                        Some(c) => exchange(c, &request).ok(),
                        None => None,
                    };
                    match answer {
                        Some((200, _, _)) => latencies.push(t.elapsed().as_micros() as u32),
                        _ => {
                            errors += 1;
                            conn = connect(&addr).ok();
                        }
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    if let Budget::Seconds(s) = budget {
        thread::sleep(Duration::from_secs(s));
        stop.store(true, Ordering::Relaxed);
    }
    let mut run = Run {
        latencies: Vec::new(),
        errors: 0,
        seconds: 0.0,
        body_len: body.len(),
    };
    for w in workers {
        let (l, e) = w.join().expect("worker");
        run.latencies.extend(l);
        run.errors += e;
    }
    run.seconds = started.elapsed().as_secs_f64();
    run.latencies.sort_unstable();
    run
}
