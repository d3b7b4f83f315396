//! The server stays up (SPEC §8): under real limits (`prlimit`, from
//! util-linux, which `.ci/run` makes sure of) a bounded flood of idle
//! sockets that runs the process out of file descriptors or threads, or
//! past its connection cap, never stops it accepting: once the flood's
//! sockets close, `/healthz` answers again within seconds and the process
//! never exited. Loopback only; every flood is a few dozen sockets held for
//! about a second.

use std::fs;
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::support::{free_port, Client, TestServer};

/// Idle sockets in one flood: more than the limits below leave room for.
const FLOOD: usize = 40;
/// How soon `/healthz` must answer once the flood is gone.
const RECOVERY: Duration = Duration::from_secs(5);
/// A held connection is still open after this long…
const HELD: Duration = Duration::from_millis(300);
/// …and one past the cap is closed well before its 10 s head deadline
/// (this much slack is for a loaded machine; it closes in microseconds).
const AT_ONCE: Duration = Duration::from_secs(3);

/// `/healthz` answers as soon as one worker runs; the limits are set only
/// once `serve` has started everything (its start line), so that they hit
/// the flood and not the start.
fn started(app: &TestServer) -> u32 {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !app.log().contains("event=server.started") {
        assert!(
            Instant::now() < deadline,
            "no start line; log:\n{}",
            app.log()
        );
        thread::sleep(Duration::from_millis(20));
    }
    app.pid().expect("running")
}

/// `prlimit --pid PID --RESOURCE=SOFT:` (the soft limit only: a hard limit
/// once lowered cannot be raised again without CAP_SYS_RESOURCE).
fn set_soft_limit(pid: u32, resource: &str, soft: u64) {
    let out = Command::new("prlimit")
        .args(["--pid", &pid.to_string(), &format!("--{resource}={soft}:")])
        .output()
        .expect("prlimit (util-linux) must be installed: .ci/run installs it");
    assert!(
        out.status.success(),
        "prlimit --{resource}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn open_fds(pid: u32) -> u64 {
    fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("read /proc/PID/fd")
        .count() as u64
}

fn vm_size_bytes(pid: u32) -> u64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).expect("read /proc/PID/status");
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmSize:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmSize in /proc/PID/status");
    kb * 1024
}

/// The process has not exited (a child that exited stays a zombie, `Z`,
/// until the test reaps it).
fn is_running(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let state = stat.rsplit_once(") ")?.1.chars().next()?;
            Some(state != 'Z' && state != 'X')
        })
        .unwrap_or(false)
}

/// `FLOOD` connections that send nothing, held for a second and closed.
fn flood(addr: &str) {
    let sockets: Vec<TcpStream> = (0..FLOOD)
        .filter_map(|_| TcpStream::connect(addr).ok())
        .collect();
    assert!(!sockets.is_empty(), "no socket of the flood connected");
    thread::sleep(Duration::from_secs(1));
    drop(sockets);
}

/// `/healthz` answers 200 within `RECOVERY`; how long it took.
fn healthz_answers_again(addr: &str) -> Duration {
    healthz_answers_again_from(addr, None)
}

fn healthz_answers_again_from(addr: &str, pid: Option<u32>) -> Duration {
    let started = Instant::now();
    let client = Client::new(addr, None);
    loop {
        if let Ok(resp) = client.try_request("GET", "/healthz", &[("Connection", "close")], b"") {
            if resp.status == 200 {
                return started.elapsed();
            }
        }
        assert!(
            started.elapsed() < RECOVERY,
            "/healthz did not answer again within {RECOVERY:?} of the flood's end (still running: {:?})",
            pid.map(is_running)
        );
        thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn running_out_of_file_descriptors_never_stops_the_server() {
    let app = TestServer::new().spawn();
    let pid = started(&app);
    // Room for a few connections beyond what the process holds now; the
    // flood needs three descriptors a connection and gets EMFILE.
    set_soft_limit(pid, "nofile", open_fds(pid) + 12);
    flood(app.addr());
    let took = healthz_answers_again(app.addr());
    assert!(is_running(pid), "the server exited; log:\n{}", app.log());
    let log = app.log();
    assert!(
        log.contains("event=server.accept_failed") && log.contains("os error 24"),
        "the accept error is logged; log:\n{log}"
    );
    // a second flood is survived as well (the loop never ended)
    flood(app.addr());
    healthz_answers_again(app.addr());
    assert!(is_running(pid));
    eprintln!("healthz answered {took:?} after the flood");
}

/// Every new thread's stack, in the thread-creation test: 1 GiB of address
/// space (`RUST_MIN_STACK`; only what a thread touches is ever memory), so
/// that a limit with room for 256 MiB more blocks every new thread while
/// leaving the heap (and the unwinder) plenty.
const BIG_STACK: u64 = 1024 * 1024 * 1024;
const HEAP_ROOM: u64 = 256 * 1024 * 1024;

#[test]
fn failing_to_start_threads_never_stops_the_server() {
    let app = TestServer::new()
        .env("RUST_MIN_STACK", BIG_STACK.to_string())
        .spawn();
    let pid = started(&app);
    // As root no RLIMIT_NPROC binds (and no pids cgroup is writable here),
    // but a thread's stack is address space: under RLIMIT_AS no new thread
    // can start, while the threads already running keep working.
    set_soft_limit(pid, "as", vm_size_bytes(pid) + HEAP_ROOM);
    flood(app.addr());
    assert!(
        is_running(pid),
        "the server exited under the flood; log:\n{}",
        app.log()
    );
    healthz_answers_again_from(app.addr(), Some(pid));
    let log = app.log();
    assert!(
        log.contains("event=server.spawn_failed"),
        "the spawn error is logged; log:\n{log}"
    );
    // the limit stays: the pool's idle threads keep serving
    flood(app.addr());
    healthz_answers_again_from(app.addr(), Some(pid));
    assert!(is_running(pid));
}

/// `app serve` started under `prlimit --nofile=SOFT:`, outside `TestServer`
/// (whose command is the binary itself).
struct Limited {
    child: Child,
    addr: String,
    dir: tempfile::TempDir,
}

impl Limited {
    fn start(nofile: u64, env: &[(&str, &str)]) -> Limited {
        let dir = tempfile::tempdir().expect("temp dir");
        let addr = format!("127.0.0.1:{}", free_port());
        let log = fs::File::create(dir.path().join("server.log")).expect("log file");
        let mut cmd = Command::new("prlimit");
        cmd.arg(format!("--nofile={nofile}:"))
            .arg("--")
            .arg(env!("CARGO_BIN_EXE_app"))
            .arg("--db")
            .arg(dir.path().join("app.db"))
            .args(["serve", "--addr", &addr, "--workers", "4"])
            .env_remove("APP_SMTP_URL")
            .env_remove("APP_MAX_CONNECTIONS")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        let child = cmd
            .spawn()
            .expect("prlimit (util-linux) must be installed: .ci/run installs it");
        let limited = Limited { child, addr, dir };
        let deadline = Instant::now() + Duration::from_secs(10);
        let client = Client::new(&limited.addr, None);
        // the start line comes once the workers run
        while !(client
            .try_request("GET", "/healthz", &[], b"")
            .is_ok_and(|r| r.status == 200)
            && limited.log().contains("event=server.started"))
        {
            assert!(
                Instant::now() < deadline,
                "no /healthz; log:\n{}",
                limited.log()
            );
            thread::sleep(Duration::from_millis(20));
        }
        limited
    }

    fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }
}

impl Drop for Limited {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A connection the server closed reads end-of-file (or a reset) within
/// `wait` without our sending anything; one it holds times out.
fn closed_within(socket: &TcpStream, wait: Duration) -> bool {
    use std::io::Read;
    socket.set_read_timeout(Some(wait)).expect("timeout");
    let mut buf = [0u8; 1];
    match (&*socket).read(&mut buf) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => !matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
    }
}

#[test]
fn the_connection_cap_fits_the_open_file_limit_and_past_it_a_connection_closes_at_once() {
    // 200 descriptors: (200 - 128 - 4 × 4) / 3 = 18 connections.
    let app = Limited::start(200, &[]);
    let log = app.log();
    assert!(
        log.contains("event=server.started") && log.contains("max_connections=18 "),
        "the start line says the effective cap; log:\n{log}"
    );
    // the start's /healthz probe has closed by now
    thread::sleep(Duration::from_millis(200));
    let held: Vec<TcpStream> = (0..18)
        .map(|_| TcpStream::connect(&app.addr).expect("connect"))
        .collect();
    // connections are accepted in order: the last held one stands for all
    assert!(
        !closed_within(&held[17], HELD),
        "the 18th is held (it has 10 s to send a request)"
    );
    let past = TcpStream::connect(&app.addr).expect("the kernel takes it");
    assert!(closed_within(&past, AT_ONCE), "the 19th is closed at once");
    drop(held);
    healthz_answers_again(&app.addr);
    assert!(
        app.log().contains("event=server.connections_full"),
        "log:\n{}",
        app.log()
    );
}

#[test]
fn app_max_connections_is_a_cap_of_its_own() {
    let app = Limited::start(20_000, &[("APP_MAX_CONNECTIONS", "3")]);
    assert!(app.log().contains("max_connections=3 "), "{}", app.log());
    thread::sleep(Duration::from_millis(200));
    let held: Vec<TcpStream> = (0..3)
        .map(|_| TcpStream::connect(&app.addr).expect("connect"))
        .collect();
    assert!(!closed_within(&held[2], HELD), "the 3rd is held");
    let past = TcpStream::connect(&app.addr).expect("the kernel takes it");
    assert!(closed_within(&past, AT_ONCE), "the 4th is closed at once");
    drop(held);
    healthz_answers_again(&app.addr);
}
