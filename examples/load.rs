//! Load benchmark: starts the release binary on a temporary database, signs
//! in once, then keeps `--connections` keep-alive connections busy on a
//! signed-in page for `--seconds`, and reports throughput, latency
//! percentiles, resident memory and start-up time.
//!
//!     cargo build --release --bin app --example load --example bare
//!     target/release/examples/load --seconds 10 --connections 50
//!
//! Other modes:
//!
//! - `--compare-bare`: the bare page (`examples/bare.rs`) and the signed-in
//!   page(s), alternately, `--rounds` (3) rounds each with the same
//!   connections and duration; `--path /portfolio,/settings` measures
//!   several routes in one run. Prints each route's throughput as a ratio of
//!   the bare run just before it and the median of those ratios (the number
//!   to compare between builds when other work shares the cores). Uses `wrk -t2` when
//!   it is installed (as the issue measured), else this program's own client
//!   (`--own-client` forces that).
//! - `--with-grants`: runs `app grant-credit --days 1` for the signed-in
//!   account in a loop beside the server while the load runs.
//! - `--wrk`: the load and its latencies from `wrk -t2 --latency` instead of
//!   this program's own client (whose threads share the cores too).
//! - `--callgrind FILE --requests N`: runs the app under valgrind's
//!   callgrind, counting instructions only while N requests are answered
//!   (after sign-in and a warm-up), and prints instructions per request;
//!   then `callgrind_annotate FILE`. Needs symbols:
//!   `CARGO_PROFILE_RELEASE_DEBUG=true cargo build --release …`.
//! - `--wrap "CMD ARGS"` runs the app under a command, e.g.
//!   `--wrap "strace -f -c -o /tmp/syscalls" --requests 10000`.
//! - `--url http://HOST:PORT/PATH` measures another server instead (for
//!   example `target/release/examples/bare`), without signing in.
//! - `--holdings N [--currencies USD,EUR,GBP]`: before the load, the
//!   account gets N holdings (through `PUT /api/portfolio`), their
//!   currencies taken in turn from the list, and the ECB rates for them;
//!   with `--path /portfolio` that is the page with N rows.
//! - `--app PATH`: another build of the app (an older commit, to compare).

#[path = "load/client.rs"]
mod client;
#[path = "load/compare.rs"]
mod compare;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use client::{connect, drive, exchange, Budget};

pub struct Args {
    pub seconds: u64,
    pub connections: usize,
    pub path: String,
    pub url: Option<String>,
    pub requests: Option<u64>,
    pub callgrind: Option<String>,
    pub compare_bare: bool,
    pub rounds: usize,
    pub with_grants: bool,
    pub own_client: bool,
    pub wrap: Vec<String>,
    pub wrk: bool,
    pub holdings: usize,
    pub currencies: Vec<String>,
    pub app: Option<PathBuf>,
}

fn args() -> Args {
    let mut a = Args {
        seconds: 10,
        connections: 50,
        path: "/settings".into(),
        url: None,
        requests: None,
        callgrind: None,
        compare_bare: false,
        rounds: 3,
        with_grants: false,
        own_client: false,
        wrap: Vec::new(),
        wrk: false,
        holdings: 0,
        currencies: Vec::new(),
        app: None,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut it = argv.iter();
    while let Some(flag) = it.next() {
        let mut value = || it.next().cloned().unwrap_or_default();
        match flag.as_str() {
            "--seconds" => a.seconds = value().parse().unwrap_or(a.seconds),
            "--connections" => a.connections = value().parse().unwrap_or(a.connections),
            "--path" => a.path = value(),
            "--url" => a.url = Some(value()),
            "--requests" => a.requests = value().parse().ok(),
            "--callgrind" => a.callgrind = Some(value()),
            "--rounds" => a.rounds = value().parse().unwrap_or(a.rounds),
            "--compare-bare" => a.compare_bare = true,
            "--with-grants" => a.with_grants = true,
            "--own-client" => a.own_client = true,
            "--wrk" => a.wrk = true,
            "--holdings" => a.holdings = value().parse().unwrap_or(0),
            "--currencies" => {
                a.currencies = value().split(',').map(|c| c.trim().to_string()).collect()
            }
            "--app" => a.app = Some(PathBuf::from(value())),
            "--wrap" => a.wrap = value().split_whitespace().map(String::from).collect(),
            _ => {
                eprintln!(
                    "usage: load [--seconds N] [--connections N] [--path /settings] [--requests N]\n\
                     \x20           [--url http://host:port/path] [--compare-bare [--rounds N] [--own-client]]\n\
                     \x20           [--with-grants] [--wrk] [--callgrind FILE --requests N] [--wrap \"strace -f -c\"]\n\
                     \x20           [--holdings N [--currencies USD,EUR,GBP]] [--app PATH]"
                );
                std::process::exit(2);
            }
        }
    }
    a
}

/// A binary built beside this one: `target/release/app` or
/// `target/release/examples/bare`.
pub fn sibling(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let examples = exe.parent().expect("examples dir");
    let path = if name == "app" {
        examples.parent().expect("release dir").join(name)
    } else {
        examples.join(name)
    };
    assert!(
        path.exists(),
        "{} is missing: cargo build --release --bin app --example load --example bare",
        path.display()
    );
    path
}

pub fn free_addr() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(18099);
    format!("127.0.0.1:{port}")
}

/// Waits until `GET path` at `addr` answers 200.
pub fn wait_ready(addr: &str, path: &str, child: &mut Child, limit: Duration) {
    let started = Instant::now();
    loop {
        if let Ok(mut c) = connect(addr) {
            let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n");
            if let Ok((200, _, _)) = exchange(&mut c, req.as_bytes()) {
                return;
            }
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the server at {addr} exited: {status}");
        }
        assert!(started.elapsed() < limit, "{addr} did not start");
        thread::sleep(Duration::from_millis(1));
    }
}

/// The app under test: its process, address, log and database.
pub struct App {
    pub child: Child,
    pub addr: String,
    pub log: PathBuf,
    pub db: PathBuf,
    pub startup: Duration,
}

impl App {
    /// Starts the release binary on a new database in `dir`, optionally
    /// under a wrapper command (valgrind).
    pub fn start(dir: &Path, wrap: &[String], binary: Option<&Path>) -> App {
        let binary = binary.map_or_else(|| sibling("app"), Path::to_path_buf);
        let addr = free_addr();
        let (log, db) = (dir.join("server.log"), dir.join("app.db"));
        let mut cmd = match wrap.split_first() {
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg(&binary);
                c
            }
            None => Command::new(&binary),
        };
        let started = Instant::now();
        let mut child = cmd
            .arg("--db")
            .arg(&db)
            .args(["serve", "--addr", &addr])
            .env_remove("APP_SMTP_URL")
            // No outside rates or quotes during a benchmark.
            .env("APP_FX_URL", "http://127.0.0.1:9/eurofxref-daily.xml")
            .env_remove("APP_QUOTES")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("start app");
        let limit = Duration::from_secs(if wrap.is_empty() { 10 } else { 300 });
        wait_ready(&addr, "/healthz", &mut child, limit);
        App {
            child,
            addr,
            log,
            db,
            startup: started.elapsed(),
        }
    }

    /// SIGTERM, as an operator stops it, and waits for the exit. Under a
    /// wrapper that runs it as a child (strace), the app gets it too.
    pub fn stop(mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("pkill").args(["-TERM", "-P", &pid]).status();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let _ = self.child.wait();
    }
}

/// `--holdings N [--currencies …]`: the account's holdings, and the ECB's
/// rates for their currencies (the job cannot fetch them here).
pub fn prepare(args: &Args, app: &App, cookie: &str) {
    if args.holdings == 0 {
        return;
    }
    let list: Vec<String> = (0..args.holdings)
        .map(|i| {
            let currency = match args.currencies.len() {
                0 => String::new(),
                n => format!(r#","currency":"{}""#, args.currencies[i % n]),
            };
            format!(
                r#"{{"symbol":"S{i:03}","quantity":{},"price":{}.25,"cost_basis":{}{currency}}}"#,
                i + 1,
                100 + i * 7,
                90 + i * 5
            )
        })
        .collect();
    let body = format!(r#"{{"holdings":[{}]}}"#, list.join(","));
    let status = client::put_json(&app.addr, "/api/portfolio", cookie, &body);
    assert_eq!(
        status, 200,
        "PUT /api/portfolio with {} holdings",
        args.holdings
    );
    if !args.currencies.is_empty() {
        let conn = rusqlite::Connection::open(&app.db).expect("open the database");
        conn.execute_batch(
            "INSERT OR REPLACE INTO fx_rates (currency, per_euro, day, fetched_at) VALUES
               ('USD', '1.1435', '2026-07-09', '2026-07-09T15:00:00Z'),
               ('GBP', '0.85363', '2026-07-09', '2026-07-09T15:00:00Z'),
               ('JPY', '185.72', '2026-07-09', '2026-07-09T15:00:00Z'),
               ('CHF', '0.9227', '2026-07-09', '2026-07-09T15:00:00Z');",
        )
        .expect("store the rates");
    }
}

fn rss_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

/// `app grant-credit --days 1` for `email`, over and over until `stop`.
pub fn grant_loop(
    db: PathBuf,
    email: &str,
    stop: Arc<AtomicBool>,
) -> thread::JoinHandle<(u64, u64)> {
    let (app, email) = (sibling("app"), email.to_string());
    thread::spawn(move || {
        let (mut ok, mut failed) = (0, 0);
        while !stop.load(Ordering::Relaxed) {
            let status = Command::new(&app)
                .arg("--db")
                .arg(&db)
                .args(["grant-credit", "--email", &email, "--days", "1"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            match status {
                Ok(s) if s.success() => ok += 1,
                _ => failed += 1,
            }
        }
        (ok, failed)
    })
}

fn callgrind(args: &Args, dir: &Path, out: &str) {
    let wrap: Vec<String> = [
        "valgrind",
        "--tool=callgrind",
        "--instr-atstart=no",
        &format!("--callgrind-out-file={out}"),
    ]
    .map(String::from)
    .to_vec();
    let app = App::start(dir, &wrap, args.app.as_deref());
    let cookie = client::sign_in(&app.addr, &app.log);
    prepare(args, &app, &cookie);
    let request = client::get_request(&app.addr, &args.path, &cookie);
    let n = args.requests.unwrap_or(5000);
    drive(&app.addr, &request, args.connections, Budget::Requests(200));
    let control = |on: &str| {
        let _ = Command::new("callgrind_control")
            .args(["-i", on, &app.child.id().to_string()])
            .stdout(Stdio::null())
            .status();
    };
    control("on");
    let run = drive(&app.addr, &request, args.connections, Budget::Requests(n));
    control("off");
    let addr = app.addr.clone();
    app.stop();
    let text = std::fs::read_to_string(out).expect("callgrind output");
    let total: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("totals: "))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("totals in the callgrind output");
    println!("target      {addr}{} under callgrind", args.path);
    println!(
        "requests    {} ok, {} errors",
        run.latencies.len(),
        run.errors
    );
    println!(
        "instructions {total} in all, {} per request (callgrind_annotate {out})",
        total / run.latencies.len().max(1) as u64
    );
}

fn main() {
    let args = args();
    let dir = std::env::temp_dir().join(format!("app-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    if let Some(out) = &args.callgrind {
        callgrind(&args, &dir, out);
    } else if args.compare_bare {
        compare::run(&args, &dir);
    } else {
        load(&args, &dir);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn load(args: &Args, dir: &Path) {
    let (app, addr, path, cookie) = match &args.url {
        Some(url) => {
            let rest = url.strip_prefix("http://").expect("http:// URL");
            let (addr, path) = rest
                .split_once('/')
                .map(|(a, p)| (a, format!("/{p}")))
                .unwrap_or((rest, "/".into()));
            (None, addr.to_string(), path, String::new())
        }
        None => {
            let app = App::start(dir, &args.wrap, args.app.as_deref());
            let cookie = client::sign_in(&app.addr, &app.log);
            prepare(args, &app, &cookie);
            let addr = app.addr.clone();
            (Some(app), addr, args.path.clone(), cookie)
        }
    };
    let request = client::get_request(&addr, &path, &cookie);
    let stop = Arc::new(AtomicBool::new(false));
    let grants = match (&app, args.with_grants) {
        (Some(app), true) => Some(grant_loop(app.db.clone(), client::EMAIL, stop.clone())),
        _ => None,
    };
    let rss = app.as_ref().map(|a| a.child.id());
    let budget = match args.requests {
        Some(n) => Budget::Requests(n),
        None => Budget::Seconds(args.seconds),
    };
    let rss_under_load = if args.wrk {
        assert!(compare::has_wrk(), "--wrk: wrk is not installed");
        let s = compare::with_wrk(&addr, &path, &cookie, args);
        let rss_under_load = rss.map(|pid| rss_kib(pid, "VmRSS:"));
        stop.store(true, Ordering::Relaxed);
        println!("target      {addr}{path}");
        println!(
            "load        wrk -t2, {} keep-alive connections for {} s",
            args.connections, args.seconds
        );
        println!("answers     {} not 200", s.errors);
        println!("throughput  {:.0} requests/s", s.rps);
        println!("latency     p50 {:.2} ms, p99 {:.2} ms", s.p50, s.p99);
        rss_under_load
    } else {
        let run = drive(&addr, &request, args.connections, budget);
        let rss_under_load = rss.map(|pid| rss_kib(pid, "VmRSS:"));
        stop.store(true, Ordering::Relaxed);
        let pct = |p| run.percentile(p);
        println!("target      {addr}{path} ({} bytes)", run.body_len);
        println!(
            "load        {} keep-alive connections for {:.1} s",
            args.connections, run.seconds
        );
        println!(
            "requests    {} ok, {} errors",
            run.latencies.len(),
            run.errors
        );
        println!("throughput  {:.0} requests/s", run.throughput());
        println!(
            "latency     p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            pct(0.50),
            pct(0.99),
            pct(1.0)
        );
        rss_under_load
    };
    if let Some(grants) = grants {
        let (ok, failed) = grants.join().expect("grant loop");
        println!("beside      {ok} grant-credit runs ({failed} failed)");
    }
    if let (Some(app), Some(rss)) = (app, rss_under_load) {
        println!(
            "memory      {:.1} MB resident under load, peak {:.1} MB",
            rss as f64 / 1024.0,
            rss_kib(app.child.id(), "VmHWM:") as f64 / 1024.0
        );
        println!(
            "start-up    {:.1} ms from spawn to the first answer (new database)",
            app.startup.as_secs_f64() * 1000.0
        );
        app.stop();
    }
}
