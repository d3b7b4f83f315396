//! `--compare-bare`: the bare page and the signed-in routes (`--path`, a
//! comma-separated list), alternately, with the same load; each route's
//! throughput as a ratio of the bare run just before it, and the median of
//! those ratios over the rounds (robust when other work shares the cores).

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::client::{self, drive, Budget};
use super::{free_addr, grant_loop, sibling, wait_ready, App, Args};

/// One measurement: requests a second, p99 in ms, and answers that were
/// not 200.
pub struct Sample {
    pub rps: f64,
    pub p50: f64,
    pub p99: f64,
    pub errors: u64,
    pub seconds: f64,
    /// The server's CPU time per answer, in microseconds.
    pub cpu_us: f64,
}

/// User plus system CPU time of a process so far, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) in parentheses.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let ticks: Vec<f64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|t| t.parse().ok())
        .collect();
    // USER_HZ is 100 on Linux.
    ticks.iter().sum::<f64>() / 100.0
}

pub fn run(args: &Args, dir: &std::path::Path) {
    let bare_addr = free_addr();
    let mut bare = Command::new(sibling("bare"))
        .arg(&bare_addr)
        .stdout(Stdio::null())
        .spawn()
        .expect("start examples/bare");
    wait_ready(&bare_addr, "/", &mut bare, Duration::from_secs(10));
    let app = App::start(dir, &[], args.app.as_deref());
    let cookie = client::sign_in(&app.addr, &app.log);
    super::prepare(args, &app, &cookie);
    let wrk = !args.own_client && has_wrk();
    let stop = Arc::new(AtomicBool::new(false));
    let grants = args
        .with_grants
        .then(|| grant_loop(app.db.clone(), client::EMAIL, stop.clone()));
    println!(
        "{} rounds of {} s, {} connections, {}; bare {} / app {}{}",
        args.rounds,
        args.seconds,
        args.connections,
        if wrk {
            "wrk -t2"
        } else {
            "the built-in client"
        },
        bare_addr,
        app.addr,
        args.path
    );
    let measure_load = |addr: &str, path: &str, cookie: &str| {
        if wrk {
            with_wrk(addr, path, cookie, args)
        } else {
            let request = client::get_request(addr, path, cookie);
            let run = drive(
                addr,
                &request,
                args.connections,
                Budget::Seconds(args.seconds),
            );
            Sample {
                rps: run.throughput(),
                p50: run.percentile(0.50),
                p99: run.percentile(0.99),
                errors: run.errors,
                seconds: run.seconds,
                cpu_us: 0.0,
            }
        }
    };
    // CPU time the server process itself spent per answer (user + system,
    // from /proc): unlike throughput, what other work on the machine takes
    // does not enter it, only what it does to the caches.
    let measure = |addr: &str, path: &str, cookie: &str, pid: u32| {
        let cpu = cpu_seconds(pid);
        let mut sample = measure_load(addr, path, cookie);
        let answers = sample.rps * sample.seconds;
        sample.cpu_us = (cpu_seconds(pid) - cpu) * 1e6 / answers.max(1.0);
        sample
    };
    // Each round measures the bare page, then every route right after it,
    // so each route's ratio is to a bare run taken under the same load.
    let paths: Vec<&str> = args.path.split(',').map(str::trim).collect();
    let mut bares = Vec::new();
    let mut routes: Vec<(Vec<f64>, Vec<f64>, Vec<f64>)> =
        vec![(Vec::new(), Vec::new(), Vec::new()); paths.len()];
    let mut bare_cpu = Vec::new();
    for round in 1..=args.rounds {
        let b = measure(&bare_addr, "/", "", bare.id());
        print!(
            "round {round}     bare {:>8.0} req/s (p99 {:.2} ms, {:.1} µs CPU)",
            b.rps, b.p99, b.cpu_us
        );
        bare_cpu.push(b.cpu_us);
        for (path, (rps, ratios, cpu)) in paths.iter().zip(routes.iter_mut()) {
            let a = measure(&app.addr, path, &cookie, app.child.id());
            cpu.push(a.cpu_us);
            print!(
                "   {path} {:>7.0} req/s (p99 {:.2} ms, {:.1} µs CPU, ratio {:.3}){}",
                a.rps,
                a.p99,
                a.cpu_us,
                a.rps / b.rps,
                match b.errors + a.errors {
                    0 => String::new(),
                    n => format!(" {n} answers not 200!"),
                }
            );
            rps.push(a.rps);
            ratios.push(a.rps / b.rps);
        }
        println!();
        bares.push(b.rps);
    }
    stop.store(true, Ordering::Relaxed);
    println!(
        "median      bare {:>8.0} req/s, {:.1} µs CPU a request",
        median(&mut bares),
        median(&mut bare_cpu)
    );
    for (path, (rps, ratios, cpu)) in paths.iter().zip(routes.iter_mut()) {
        println!(
            "median      {path} {:>8.0} req/s, {:.1} µs CPU a request, ratio to bare {:.3} (median of the rounds' ratios)",
            median(rps),
            median(cpu),
            median(ratios)
        );
    }
    if let Some(grants) = grants {
        let (ok, failed) = grants.join().expect("grant loop");
        println!("beside      {ok} grant-credit runs ({failed} failed)");
    }
    let _ = bare.kill();
    let _ = bare.wait();
    app.stop();
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

pub fn has_wrk() -> bool {
    Command::new("wrk")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// One `wrk -t2 --latency` run of `args.connections` for `args.seconds`.
pub fn with_wrk(addr: &str, path: &str, cookie: &str, args: &Args) -> Sample {
    let mut cmd = Command::new("wrk");
    cmd.args(["-t2", "--latency"])
        .arg(format!("-c{}", args.connections))
        .arg(format!("-d{}s", args.seconds));
    if !cookie.is_empty() {
        cmd.args(["-H", &format!("Cookie: {cookie}")]);
    }
    let out = cmd
        .arg(format!("http://{addr}{path}"))
        .output()
        .expect("run wrk");
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |prefix: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(prefix).map(str::trim))
            .map(str::to_string)
    };
    Sample {
        rps: field("Requests/sec:")
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no Requests/sec from wrk:\n{text}")),
        p50: field("50%").map_or(0.0, |v| millis(&v)),
        p99: field("99%").map_or(0.0, |v| millis(&v)),
        errors: field("Non-2xx or 3xx responses:")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
        seconds: args.seconds as f64,
        cpu_us: 0.0,
    }
}

/// wrk's `2.10ms`, `850.00us` or `1.20s` in milliseconds.
fn millis(v: &str) -> f64 {
    let split = v.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(v.len());
    let n: f64 = v[..split].parse().unwrap_or(0.0);
    match &v[split..] {
        "us" => n / 1000.0,
        "s" => n * 1000.0,
        "m" => n * 60_000.0,
        _ => n,
    }
}
