//! A restore that never loses the data (SPEC §11), with the real Litestream
//! binary and the deploy example's own settings and restore command:
//!
//! 1. The server and `litestream replicate` run on one file while people
//!    write through the pages' API and the operator's verbs write from the
//!    CLI; both processes are killed (SIGKILL) at once.
//! 2. On a "new machine" the example's `ExecStart` of app-restore.service
//!    (`restore -if-db-not-exists -if-replica-exists`) brings the file back;
//!    it passes `integrity_check` and holds every write acknowledged two
//!    seconds before the kill. With the key file from its own copy, it serves
//!    and the people's sessions still hold.
//! 3. The new machine replicates in turn (a new generation); a third machine
//!    restored from the bucket has everything still, the point of restoring
//!    before the app starts.
//!
//! Run with `cargo test --features litestream --test litestream`. It needs
//! the Litestream binary in `$LITESTREAM_BIN` (`.ci/run` installs it from the
//! npm registry's `@flydotio/litestream-linux-x64`) and fails, never skips,
//! without it.

// The integration tests' support, shared: this test uses a few of its
// helpers, and the `tests` crate, which compiles it with every warning on,
// uses the rest.
#[allow(dead_code, unused_imports)]
#[path = "../support/mod.rs"]
mod support;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use support::{signed_in, Client, TestServer};

/// The version the deploy example pins (examples/deploy/litestream.yml) and
/// `.ci/run` installs.
const PINNED: &str = "v0.3.13";
const EXAMPLE_YML: &str = include_str!("../../examples/deploy/litestream.yml");
const EXAMPLE_RESTORE_UNIT: &str = include_str!("../../examples/deploy/app-restore.service");
/// Where the example keeps the database and Litestream's configuration; the
/// test puts its own paths in their place.
const EXAMPLE_DB: &str = "/var/lib/app/app.db";
const EXAMPLE_CONFIG: &str = "/etc/litestream.yml";
/// Writes acknowledged at least this long before the kill must survive.
const SAFE_BEFORE_KILL: Duration = Duration::from_secs(2);
const ACCOUNTS: usize = 5;
/// How long the writers write before the machine dies.
const WRITING: Duration = Duration::from_secs(6);

/// `$LITESTREAM_BIN`, checked to be the pinned version.
fn litestream() -> PathBuf {
    let bin = std::env::var_os("LITESTREAM_BIN")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            panic!(
                "LITESTREAM_BIN is not set. .ci/run installs Litestream {PINNED}: \
                 `npm pack @flydotio/litestream-linux-x64@1.0.1`, unpack it, and set \
                 LITESTREAM_BIN to the `package/litestream` inside"
            )
        });
    let out = Command::new(&bin)
        .arg("version")
        .output()
        .unwrap_or_else(|e| panic!("run {} version: {e}", bin.display()));
    let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert_eq!(
        version,
        PINNED,
        "{} is not the pinned Litestream",
        bin.display()
    );
    bin
}

/// The value of `key:` in the example's litestream.yml (comments aside).
fn example_setting(key: &str) -> String {
    EXAMPLE_YML
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .map(|l| l.strip_prefix("- ").unwrap_or(l))
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .map(|v| v.trim().to_string())
        .unwrap_or_else(|| panic!("examples/deploy/litestream.yml sets no {key}"))
}

#[test]
fn the_deploy_example_pins_litestream_and_restores_before_the_app_starts() {
    assert!(
        EXAMPLE_YML.contains(&format!(
            "download/{PINNED}/litestream-{PINNED}-linux-amd64.deb"
        )),
        "litestream.yml installs Litestream {PINNED}"
    );
    assert_eq!(example_setting("path"), EXAMPLE_DB);
    assert_eq!(example_setting("sync-interval"), "1s");
    assert!(!example_setting("snapshot-interval").is_empty());
    let restore = restore_args(Path::new(EXAMPLE_CONFIG), Path::new(EXAMPLE_DB));
    for flag in ["-if-db-not-exists", "-if-replica-exists"] {
        assert!(restore.iter().any(|a| a == flag), "restore without {flag}");
    }
    assert!(EXAMPLE_RESTORE_UNIT.contains("Before=app.service litestream.service"));
    assert!(EXAMPLE_RESTORE_UNIT.contains("RequiredBy=app.service"));
    let app_unit = include_str!("../../examples/deploy/app.service");
    assert!(app_unit.contains("After=network-online.target app-restore.service"));
}

/// litestream.yml as the deploy example writes it, with a `file://` replica
/// instead of the S3 bucket and the example's intervals.
fn config(dir: &Path, name: &str, db: &Path, replica: &Path) -> PathBuf {
    let path = dir.join(name);
    let yml = format!(
        "dbs:\n  - path: {}\n    replicas:\n      - url: file://{}\n        sync-interval: {}\n        snapshot-interval: {}\n        retention: {}\n",
        db.display(),
        replica.display(),
        example_setting("sync-interval"),
        example_setting("snapshot-interval"),
        example_setting("retention"),
    );
    std::fs::write(&path, yml).expect("write litestream.yml");
    path
}

/// The arguments of app-restore.service's `ExecStart=litestream …`, with the
/// test's configuration and database in place of the example's.
fn restore_args(config: &Path, db: &Path) -> Vec<String> {
    let line = EXAMPLE_RESTORE_UNIT
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("app-restore.service has an ExecStart");
    let mut words = line.split_whitespace();
    let program = words.next().unwrap_or("");
    assert!(program.ends_with("/litestream"), "ExecStart runs {program}");
    words
        .map(|w| match w {
            EXAMPLE_CONFIG => config.display().to_string(),
            EXAMPLE_DB => db.display().to_string(),
            other => other.to_string(),
        })
        .collect()
}

/// Runs the example's restore (every start of app-restore.service does).
fn restore(bin: &Path, config: &Path, db: &Path) -> Output {
    Command::new(bin)
        .args(restore_args(config, db))
        .output()
        .expect("run litestream restore")
}

/// Killed (SIGKILL) when dropped, if it is still running.
struct Running(Child);

impl Running {
    fn kill(self) {
        drop(self)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn replicate(bin: &Path, config: &Path, log: &Path) -> Running {
    let log = std::fs::File::create(log).expect("litestream log");
    let child = Command::new(bin)
        .args(["replicate", "-config"])
        .arg(config)
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("start litestream replicate");
    Running(child)
}

fn text(out: &Output) -> String {
    format!(
        "{}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "{what} within {timeout:?}");
        thread::sleep(Duration::from_millis(50));
    }
}

/// The generations Litestream has written to the replica so far.
fn generations(replica: &Path) -> usize {
    std::fs::read_dir(replica.join("generations")).map_or(0, |d| d.count())
}

/// The `app` binary, as the integration tests run it, on `db`.
fn app_command(db: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_app"));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("APP_") {
            cmd.env_remove(key);
        }
    }
    cmd.arg("--db").arg(db).stdin(Stdio::null());
    cmd
}

fn grant(db: &Path, email: &str, note: &str) -> Output {
    app_command(db)
        .args([
            "grant-credit",
            "--email",
            email,
            "--days",
            "1",
            "--note",
            note,
        ])
        .output()
        .expect("run grant-credit")
}

/// `app serve` on `db` at a free port, up and answering.
fn serve(db: &Path) -> (Running, String) {
    let addr = format!("127.0.0.1:{}", support::free_port());
    let server = app_command(db)
        .args(["serve", "--addr", &addr])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve the restored file");
    let server = Running(server);
    let client = Client::new(&addr, None);
    wait_for("the server to answer", Duration::from_secs(10), || {
        client
            .try_request("GET", "/healthz", &[], b"")
            .is_ok_and(|r| r.status == 200)
    });
    (server, addr)
}

/// `PUT /api/portfolio` with one holding of `quantity`.
fn put_quantity(client: &Client, origin: &str, quantity: u64) -> bool {
    let body = format!(r#"{{"holdings":[{{"symbol":"AAPL","quantity":{quantity},"price":1}}]}}"#);
    client
        .try_request(
            "PUT",
            "/api/portfolio",
            &[("Content-Type", "application/json"), ("Origin", origin)],
            body.as_bytes(),
        )
        .is_ok_and(|r| r.status == 200)
}

fn saved_quantity(client: &Client) -> f64 {
    let resp = client.get("/api/portfolio");
    assert_eq!(resp.status, 200, "{}", resp.summary());
    let json: serde_json::Value = serde_json::from_str(&resp.body).expect("JSON");
    json["holdings"][0]["quantity"]
        .as_f64()
        .unwrap_or_else(|| panic!("no holding: {json}"))
}

fn open_checked(db: &Path) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(db).expect("open the restored file");
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity_check");
    assert_eq!(check, "ok", "integrity_check of {}", db.display());
    conn
}

fn grant_notes(conn: &rusqlite::Connection) -> HashSet<String> {
    conn.prepare("SELECT note FROM access_audit WHERE action = 'grant_credit'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(|n| n.unwrap())
        .collect()
}

/// What one writer had acknowledged, and when.
type Acks<T> = Arc<Mutex<Vec<(T, Instant)>>>;

/// The values acknowledged at least `SAFE_BEFORE_KILL` before `killed_at`.
fn safe<T: Clone>(acks: &Acks<T>, killed_at: Instant) -> Vec<T> {
    acks.lock()
        .unwrap()
        .iter()
        .filter(|(_, at)| *at + SAFE_BEFORE_KILL <= killed_at)
        .map(|(v, _)| v.clone())
        .collect()
}

#[test]
fn a_restore_after_killing_server_and_litestream_keeps_every_acknowledged_write() {
    let bin = litestream();
    let mut app = TestServer::new().spawn();
    let work = tempfile::Builder::new()
        .prefix("app-litestream-")
        .tempdir()
        .expect("temp dir");
    let replica = work.path().join("replica");
    let cfg = config(work.path(), "old.yml", &app.db_path(), &replica);
    let litestream = replicate(&bin, &cfg, &work.path().join("old-box.log"));

    // People sign up through the pages.
    let emails: Vec<String> = (0..ACCOUNTS)
        .map(|i| format!("person{i}@example.com"))
        .collect();
    let clients: Vec<Client> = emails.iter().map(|e| signed_in(&app, e)).collect();
    wait_for(
        "Litestream's first generation",
        Duration::from_secs(20),
        || generations(&replica) == 1,
    );

    // Then, until the machine dies: the operator grants credit over and over
    // from the CLI (each grant an audit row with its note), and a person
    // saves their portfolio over and over through the API (quantity n).
    let stop = Arc::new(AtomicBool::new(false));
    let grants: Acks<String> = Arc::default();
    let cli_writer = {
        let (grants, stop, db) = (grants.clone(), stop.clone(), app.db_path());
        let emails = emails.clone();
        thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let note = format!("write-{n}");
                // Acknowledged = the verb said it was done.
                if grant(&db, &emails[n % emails.len()], &note)
                    .status
                    .success()
                {
                    grants.lock().unwrap().push((note, Instant::now()));
                }
                n += 1;
            }
        })
    };
    let saves: Acks<u64> = Arc::default();
    let web_writer = {
        let (saves, stop) = (saves.clone(), stop.clone());
        let (client, origin) = (clients[0].clone(), app.origin());
        thread::spawn(move || {
            let mut quantity = 1;
            while !stop.load(Ordering::Relaxed) {
                // Acknowledged = the server answered 200.
                if put_quantity(&client, &origin, quantity) {
                    saves.lock().unwrap().push((quantity, Instant::now()));
                }
                quantity += 1;
            }
        })
    };
    thread::sleep(WRITING);

    // The machine dies: both processes at once, mid-write.
    let killed_at = Instant::now();
    litestream.kill();
    app.kill();
    stop.store(true, Ordering::Relaxed);
    cli_writer.join().expect("the CLI writer");
    web_writer.join().expect("the web writer");
    let must_have_notes = safe(&grants, killed_at);
    let must_have_quantity = safe(&saves, killed_at).into_iter().max().unwrap_or(0);
    assert!(
        must_have_notes.len() >= 10 && must_have_quantity >= 10,
        "too few writes to judge: {} grants and {} saves two seconds before the kill",
        must_have_notes.len(),
        must_have_quantity
    );

    // A replacement machine: the file is gone, the bucket is all there is.
    // Its first start runs the example's restore.
    let new_box = work.path().join("new-box");
    std::fs::create_dir(&new_box).unwrap();
    let restored = new_box.join("app.db");
    let new_cfg = config(work.path(), "new.yml", &restored, &replica);
    let out = restore(&bin, &new_cfg, &restored);
    assert!(out.status.success(), "restore: {}", text(&out));
    assert!(restored.exists(), "restore made no file: {}", text(&out));
    // Every later start runs it again: the file is there, nothing changes.
    let restored_bytes = std::fs::read(&restored).unwrap();
    let again = restore(&bin, &new_cfg, &restored);
    assert!(again.status.success(), "second restore: {}", text(&again));
    assert_eq!(std::fs::read(&restored).unwrap(), restored_bytes);

    let conn = open_checked(&restored);
    let notes = grant_notes(&conn);
    let lost: Vec<&String> = must_have_notes
        .iter()
        .filter(|n| !notes.contains(*n))
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} grants acknowledged 2 s before the kill are missing: {lost:?}",
        lost.len(),
        must_have_notes.len(),
    );
    let accounts: i64 = conn
        .query_row("SELECT count(*) FROM users", [], |r| r.get(0))
        .unwrap();
    assert_eq!(accounts, ACCOUNTS as i64);
    drop(conn);
    eprintln!(
        "{} grants and {} saves acknowledged; {} grants and saves up to {} from 2 s before the kill, all restored",
        grants.lock().unwrap().len(),
        saves.lock().unwrap().len(),
        must_have_notes.len(),
        must_have_quantity,
    );

    // The key file comes back from its own copy, as the README says; the
    // restored file serves, and the people's sessions (kept in the
    // database) still hold on the new machine.
    let key = new_box.join("app.db.key");
    std::fs::copy(app.dir().join("app.db.key"), &key).expect("copy the key file");
    let (server, addr) = serve(&restored);
    let moved = Client::new(&addr, None);
    for (name, value) in clients[0].cookies() {
        moved.set_cookie_raw(&name, &value);
    }
    let me = support::api_me(&moved);
    assert_eq!(me["email"], emails[0].as_str(), "{me}");
    let quantity = saved_quantity(&moved);
    assert!(
        quantity >= must_have_quantity as f64,
        "the portfolio saved with quantity {must_have_quantity} 2 s before the kill reads {quantity}"
    );
    let status = app_command(&restored)
        .args(["show-status", "--email", &emails[1], "--json"])
        .output()
        .expect("show-status");
    assert!(status.status.success(), "{}", text(&status));
    let shown: serde_json::Value = serde_json::from_slice(&status.stdout).expect("JSON");
    assert_eq!(shown["paid"]["source"], "credit", "{shown}");

    // The new machine replicates to the same bucket: a new generation whose
    // snapshot is the restored file plus what comes next, never an empty one.
    let litestream = replicate(&bin, &new_cfg, &work.path().join("new-box.log"));
    wait_for(
        "the new machine's generation",
        Duration::from_secs(20),
        || generations(&replica) == 2,
    );
    let out = grant(&restored, &emails[2], "after-the-move");
    assert!(out.status.success(), "{}", text(&out));
    thread::sleep(SAFE_BEFORE_KILL + Duration::from_millis(500));
    litestream.kill();
    drop(server);

    let third = work.path().join("third-box").join("app.db");
    std::fs::create_dir(third.parent().unwrap()).unwrap();
    let third_cfg = config(work.path(), "third.yml", &third, &replica);
    let out = restore(&bin, &third_cfg, &third);
    assert!(
        out.status.success(),
        "restore on a third machine: {}",
        text(&out)
    );
    let conn = open_checked(&third);
    let notes = grant_notes(&conn);
    assert!(
        notes.contains("after-the-move"),
        "the write on the new machine"
    );
    assert!(
        must_have_notes.iter().all(|n| notes.contains(n)),
        "the third machine lost writes made on the first"
    );
    let accounts: i64 = conn
        .query_row("SELECT count(*) FROM users", [], |r| r.get(0))
        .unwrap();
    assert_eq!(accounts, ACCOUNTS as i64);
}

#[test]
fn the_example_restore_does_nothing_without_a_replica_or_with_a_database() {
    let bin = litestream();
    let work = tempfile::Builder::new()
        .prefix("app-litestream-")
        .tempdir()
        .expect("temp dir");
    // A first install: no replica yet. The restore succeeds and makes no
    // file, so `serve` starts a new database.
    let db = work.path().join("app.db");
    let replica = work.path().join("replica");
    let cfg = config(work.path(), "litestream.yml", &db, &replica);
    let out = restore(&bin, &cfg, &db);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!db.exists(), "no file without a replica");
    // A database already there is never overwritten, replica or not.
    let out = app_command(&db).arg("migrate").output().expect("migrate");
    assert!(out.status.success(), "{}", text(&out));
    let before = std::fs::read(&db).unwrap();
    let out = restore(&bin, &cfg, &db);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(std::fs::read(&db).unwrap(), before);
}
