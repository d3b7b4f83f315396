//! `/metrics` at scale (SPEC §9: under 20 ms a scrape at 1,000,000 users).
//! Starts the release binary on a seeded database and scrapes it, one
//! request at a time, the way Prometheus does; then times, on the same file,
//! the whole-table counts a scrape used to run, for comparison:
//!
//!     cargo build --release --bin app --example seed --example metrics
//!     target/release/examples/seed --db /tmp/big.db --users 1000000 --referrals 700000 --subscriptions 100000
//!     target/release/examples/metrics --db /tmp/big.db
//!
//! Run by hand, never as a test (its numbers depend on the machine).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use argh::FromArgs;

/// Scrape `/metrics` of a large database and report the latencies.
#[derive(FromArgs)]
struct Args {
    /// a database made by `examples/seed`
    #[argh(option)]
    db: PathBuf,
    /// how many scrapes (default 200)
    #[argh(option, default = "200")]
    scrapes: usize,
}

/// The server, killed when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn app_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let release = exe.parent().and_then(Path::parent).expect("target/release");
    let app = release.join("app");
    assert!(
        app.exists(),
        "{} is missing: cargo build --release --bin app --example metrics",
        app.display()
    );
    app
}

fn free_addr() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    format!("127.0.0.1:{port}")
}

/// One `GET path` on a new connection: the status line and the body.
fn get(addr: &str, path: &str) -> std::io::Result<(String, String)> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head.lines().next().unwrap_or("").to_string();
    Ok((status, body.to_string()))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// What a scrape counted before V10 kept the totals, timed on the file:
/// the four whole-table counts, then the running credits as they were
/// asked (`tier <> 'paid'`, which no index range answers).
fn old_counts(db: &Path) -> (Duration, Duration) {
    let conn = rusqlite::Connection::open(db).expect("open the database");
    let started = Instant::now();
    let _: (i64, i64, i64, i64) = conn
        .query_row(
            "SELECT (SELECT count(*) FROM users),
                    (SELECT count(*) FROM users WHERE tier = 'paid'),
                    (SELECT count(*) FROM referrals),
                    (SELECT count(*) FROM access_audit WHERE action = 'grant_credit')",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .expect("count");
    let totals = started.elapsed();
    let started = Instant::now();
    let now = app::clock::Timestamp::now();
    let _: i64 = conn
        .query_row(
            "SELECT count(*) FROM users WHERE tier <> 'paid' AND credit_until > ?1",
            [now],
            |r| r.get(0),
        )
        .expect("count");
    (totals, started.elapsed())
}

fn main() {
    let args: Args = argh::from_env();
    assert!(
        args.db.exists(),
        "{} is not there: make it with examples/seed first",
        args.db.display()
    );
    let addr = free_addr();
    let child = Command::new(app_binary())
        .arg("--db")
        .arg(&args.db)
        .args(["serve", "--addr", &addr, "--workers", "2"])
        .env_remove("APP_SMTP_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the app");
    let _server = Server(child);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !get(&addr, "/healthz").is_ok_and(|(s, _)| s.contains(" 200 ")) {
        assert!(Instant::now() < deadline, "the app did not answer /healthz");
        std::thread::sleep(Duration::from_millis(50));
    }
    let (_, body) = get(&addr, "/metrics").expect("a first scrape");
    let users = body
        .lines()
        .find(|l| l.starts_with("app_users "))
        .unwrap_or("app_users ?")
        .to_string();
    let mut took = Vec::with_capacity(args.scrapes);
    for _ in 0..args.scrapes {
        let started = Instant::now();
        let (status, _) = get(&addr, "/metrics").expect("a scrape");
        took.push(started.elapsed());
        assert!(status.contains(" 200 "), "{status}");
    }
    took.sort();
    println!(
        "{} scrapes of /metrics ({users}): p50 {}, p99 {}, max {}",
        args.scrapes,
        ms(percentile(&took, 0.5)),
        ms(percentile(&took, 0.99)),
        ms(took[took.len() - 1])
    );
    let old: Vec<(Duration, Duration)> = (0..3).map(|_| old_counts(&args.db)).collect();
    println!(
        "what a scrape ran before, 3 runs on the same file: whole-table counts {}; running credits {}",
        old.iter().map(|d| ms(d.0)).collect::<Vec<_>>().join(", "),
        old.iter().map(|d| ms(d.1)).collect::<Vec<_>>().join(", ")
    );
}
