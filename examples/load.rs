//! Load benchmark: starts the release binary on a temporary database, signs
//! in once, then keeps `--connections` keep-alive connections busy on a
//! signed-in page for `--seconds`, and reports throughput, latency
//! percentiles, resident memory and start-up time.
//!
//!     cargo build --release
//!     cargo run --release --example load -- --seconds 10 --connections 50
//!
//! `--url http://HOST:PORT/PATH` measures another server instead (for
//! example `cargo run --release --example bare`), without signing in.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

struct Args {
    seconds: u64,
    connections: usize,
    path: String,
    url: Option<String>,
}

fn args() -> Args {
    let mut a = Args {
        seconds: 10,
        connections: 50,
        path: "/settings".into(),
        url: None,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut it = argv.iter();
    while let Some(flag) = it.next() {
        let value = it.next().cloned().unwrap_or_default();
        match flag.as_str() {
            "--seconds" => a.seconds = value.parse().unwrap_or(a.seconds),
            "--connections" => a.connections = value.parse().unwrap_or(a.connections),
            "--path" => a.path = value,
            "--url" => a.url = Some(value),
            _ => {
                eprintln!("usage: load [--seconds N] [--connections N] [--path /settings] [--url http://host:port/path]");
                std::process::exit(2);
            }
        }
    }
    a
}

/// One HTTP/1.1 exchange on a kept-alive connection: (status, headers, body).
fn exchange(
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
        headers.push(line);
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    Ok((status, headers, body))
}

fn connect(addr: &str) -> BufReader<TcpStream> {
    let s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    s.set_nodelay(true).ok();
    BufReader::new(s)
}

fn get(addr: &str, path: &str, cookie: &str) -> (u16, Vec<String>, Vec<u8>) {
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n"
    );
    exchange(&mut connect(addr), req.as_bytes()).unwrap_or_else(|e| panic!("GET {path}: {e}"))
}

fn post(addr: &str, path: &str, cookie: &str, body: &str) -> (u16, Vec<String>, Vec<u8>) {
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\nOrigin: http://{addr}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    exchange(&mut connect(addr), req.as_bytes()).unwrap_or_else(|e| panic!("POST {path}: {e}"))
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

/// Signs in through the pages, reading the code from the server's log
/// (no SMTP is configured, so the app prints the email there).
fn sign_in(addr: &str, log: &PathBuf) -> String {
    let (_, _, page) = get(addr, "/login", "");
    let (status, headers, _) = post(
        addr,
        "/login",
        "",
        &format!("email=bench%40example.com&csrf={}", csrf(&page)),
    );
    assert_eq!(status, 303, "POST /login");
    let pending = set_cookie(&headers, "pending").expect("pending cookie");
    let deadline = Instant::now() + Duration::from_secs(5);
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

fn rss_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

fn start_app(dir: &std::path::Path) -> (Child, String, PathBuf, Duration) {
    let bin = std::env::current_exe()
        .ok()
        .and_then(|p| Some(p.parent()?.parent()?.join("app")))
        .filter(|p| p.exists())
        .unwrap_or_else(|| panic!("build the app first: cargo build --release"));
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(18099);
    let addr = format!("127.0.0.1:{port}");
    let log = dir.join("server.log");
    let started = Instant::now();
    let child = Command::new(bin)
        .arg("--db")
        .arg(dir.join("app.db"))
        .args(["serve", "--addr", &addr])
        .env_remove("APP_SMTP_URL")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("start app");
    loop {
        if let Ok(s) = TcpStream::connect(&addr) {
            let mut r = BufReader::new(s);
            if let Ok((200, _, _)) = exchange(
                &mut r,
                format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes(),
            ) {
                break;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the app did not start"
        );
        thread::sleep(Duration::from_millis(1));
    }
    (child, addr, log, started.elapsed())
}

fn main() {
    let args = args();
    let dir = std::env::temp_dir().join(format!("app-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (mut child, addr, path, cookie, startup) = match &args.url {
        Some(url) => {
            let rest = url.strip_prefix("http://").expect("http:// URL");
            let (addr, path) = rest
                .split_once('/')
                .map(|(a, p)| (a, format!("/{p}")))
                .unwrap_or((rest, "/".into()));
            (None, addr.to_string(), path, String::new(), None)
        }
        None => {
            let (child, addr, log, startup) = start_app(&dir);
            let cookie = sign_in(&addr, &log);
            (Some(child), addr, args.path.clone(), cookie, Some(startup))
        }
    };
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\n\r\n").into_bytes();
    let (status, _, body) = exchange(&mut connect(&addr), &request).expect("first request");
    assert_eq!(status, 200, "GET {path} answers {status}");

    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..args.connections)
        .map(|_| {
            let (stop, addr, request) = (stop.clone(), addr.clone(), request.clone());
            thread::spawn(move || {
                let mut latencies = Vec::with_capacity(100_000);
                let mut errors = 0u64;
                let mut conn = connect(&addr);
                while !stop.load(Ordering::Relaxed) {
                    let t = Instant::now();
                    match exchange(&mut conn, &request) {
                        Ok((200, _, _)) => latencies.push(t.elapsed().as_micros() as u32),
                        _ => {
                            errors += 1;
                            conn = connect(&addr);
                        }
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    thread::sleep(Duration::from_secs(args.seconds));
    let rss_under_load = child.as_ref().map(|c| rss_kib(c.id(), "VmRSS:"));
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    let mut errors = 0;
    for w in workers {
        let (l, e) = w.join().expect("worker");
        all.extend(l);
        errors += e;
    }
    all.sort_unstable();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0) as f64
            / 1000.0
    };
    println!("target      {addr}{path} ({} bytes)", body.len());
    println!(
        "load        {} keep-alive connections for {} s",
        args.connections, args.seconds
    );
    println!("requests    {} ok, {errors} errors", all.len());
    println!(
        "throughput  {:.0} requests/s",
        all.len() as f64 / args.seconds as f64
    );
    println!(
        "latency     p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        pct(0.50),
        pct(0.99),
        pct(1.0)
    );
    if let (Some(c), Some(rss)) = (&child, rss_under_load) {
        println!(
            "memory      {:.1} MB resident under load, peak {:.1} MB",
            rss as f64 / 1024.0,
            rss_kib(c.id(), "VmHWM:") as f64 / 1024.0
        );
    }
    if let Some(startup) = startup {
        println!(
            "start-up    {:.1} ms from spawn to the first answer (new database)",
            startup.as_secs_f64() * 1000.0
        );
    }
    if let Some(c) = child.as_mut() {
        let _ = c.kill();
        let _ = c.wait();
    }
    let _ = std::fs::remove_dir_all(&dir);
}
