//! Issue 10, round two: what an attacker on the open internet found, each
//! shut (SPEC §2, §4, §8): bounded forms, proxy trust that fails closed,
//! limits that +tags, IPv6 and many addresses do not escape, the secret out
//! of the database, a full disk answered calmly, and a quieter log.

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{csrf_in, Client, TestServer};

const ADMIN: &str = "an-admin-token-of-at-least-32-bytes!";

fn behind_proxy() -> TestServer {
    TestServer::new()
        .env("APP_TRUSTED_PROXY", "127.0.0.1")
        .env("APP_ADMIN_TOKEN", ADMIN)
        .spawn()
}

fn login_csrf(client: &Client) -> String {
    let form = client.get("/login");
    assert_eq!(form.status, 200, "{}", form.summary());
    csrf_in(&form.body)
}

// ------------------------------------------------------------- forms (1)

#[test]
fn a_form_of_16000_fields_is_refused_with_400() {
    let app = TestServer::new().spawn();
    let client = app.client();
    let csrf = login_csrf(&client);
    const ABC: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut body: Vec<u8> = (0..16_000)
        .flat_map(|i| [ABC[i % 62], ABC[i / 62 % 62], ABC[i / 3844], b'&'])
        .collect();
    body.extend_from_slice(format!("csrf={csrf}").as_bytes());
    assert!(body.len() <= 64 * 1024);
    let origin = app.origin();
    let resp = client.request(
        "POST",
        "/login",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Origin", &origin),
        ],
        &body,
    );
    assert_eq!(resp.status, 400, "{}", resp.summary());
    assert!(resp.body.contains("at most 64"), "{}", resp.body);
    assert_eq!(app.client().get("/healthz").status, 200);
}

// --------------------------------------------------------- the proxy (7)

#[test]
fn behind_the_proxy_an_unusable_forwarded_for_is_nobody_local() {
    let app = behind_proxy();
    let client = app.client();
    for junk in ["junk", "", "127.0.0.1:8080", "[::1]", "::1, nonsense"] {
        let resp = client.get_with("/metrics", &[("X-Forwarded-For", junk)]);
        assert_eq!(
            resp.status,
            403,
            "X-Forwarded-For {junk:?}: {}",
            resp.summary()
        );
    }
    let absent = client.get("/metrics");
    assert_eq!(
        absent.status,
        403,
        "no X-Forwarded-For: {}",
        absent.summary()
    );
    // even a forwarded loopback address is not this machine
    let spoofed = client.get_with("/metrics", &[("X-Forwarded-For", "127.0.0.1")]);
    assert_eq!(spoofed.status, 403, "{}", spoofed.summary());
    let bearer = format!("Bearer {ADMIN}");
    let with_token = client.get_with("/metrics", &[("Authorization", &bearer)]);
    assert_eq!(with_token.status, 200, "{}", with_token.summary());
}

#[test]
fn when_forwarded_for_comes_twice_the_last_counts() {
    let app = behind_proxy();
    let client = app.client();
    let resp = client.get_with(
        "/healthz",
        &[
            ("X-Forwarded-For", "198.51.100.1"),
            ("X-Forwarded-For", "203.0.113.77"),
        ],
    );
    assert_eq!(resp.status, 200);
    let log = app.log();
    assert!(log.contains("client=203.0.113.77"), "{log}");
    assert!(!log.contains("client=198.51.100.1"), "{log}");
}

// ------------------------------------------------------------ limits (9)

#[test]
fn ipv6_clients_share_the_code_limit_per_64() {
    let app = behind_proxy();
    let client = app.client();
    for i in 0..30 {
        let addr = format!("2001:db8:7:8:{i:x}::1");
        let email = format!("six{i}@example.com");
        let csrf = login_csrf(&client);
        let resp = client.post_form_with(
            "/login",
            &[("email", &email), ("csrf", &csrf)],
            &[("X-Forwarded-For", &addr)],
        );
        assert!(
            resp.is_see_other_to("/verify"),
            "request {i}: {}",
            resp.summary()
        );
    }
    let csrf = login_csrf(&client);
    let resp = client.post_form_with(
        "/login",
        &[("email", "six-more@example.com"), ("csrf", &csrf)],
        &[("X-Forwarded-For", "2001:db8:7:8:ffff:1:2:3")],
    );
    assert_eq!(
        resp.status,
        429,
        "a fresh address in the same /64: {}",
        resp.summary()
    );
    let other_net = client.post_form_with(
        "/login",
        &[
            ("email", "six-other@example.com"),
            ("csrf", &login_csrf(&client)),
        ],
        &[("X-Forwarded-For", "2001:db8:7:9::1")],
    );
    assert!(
        other_net.is_see_other_to("/verify"),
        "{}",
        other_net.summary()
    );
}

#[test]
fn wrong_admin_tokens_meet_a_ceiling_across_all_clients() {
    let app = behind_proxy();
    let client = app.client();
    let mut refused = None;
    for i in 0..=100u32 {
        let addr = format!("198.51.{}.{}", i / 200, i % 200 + 1);
        let resp = client.get_with(
            "/metrics",
            &[
                ("X-Forwarded-For", &addr),
                ("Authorization", "Bearer wrong"),
            ],
        );
        if resp.status == 429 {
            refused = Some(i);
            break;
        }
        assert_eq!(resp.status, 401, "try {i}: {}", resp.summary());
    }
    assert_eq!(refused, Some(100), "101 wrong tokens from 101 addresses");
}

#[test]
fn an_admin_token_under_32_bytes_stops_the_app_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_app"))
        .env("APP_ADMIN_TOKEN", "short-admin-token")
        .arg("--db")
        .arg(dir.path().join("app.db"))
        .args(["serve", "--addr", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let status = status.expect("the app started with a 17-byte admin token");
    assert!(!status.success());
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(
        stderr.contains("APP_ADMIN_TOKEN must be at least 32 bytes"),
        "{stderr}"
    );
}

// ------------------------------------------------------------ secret (3)

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn the_secret_lives_in_a_0600_key_file_and_moves_out_of_an_old_database() {
    let mut app = TestServer::new().spawn();
    let key = app.dir().join("app.db.key");
    assert_eq!(mode(&key), 0o600);
    let secret = std::fs::read_to_string(&key).unwrap();
    assert!(secret.trim().len() >= 32);
    let rows = app.query_i64("SELECT count(*) FROM meta WHERE key = 'app_secret'");
    assert_eq!(rows, 0, "the secret is in the database");
    // a pending cookie signed with it
    let client = app.client();
    let csrf = login_csrf(&client);
    let sent = client.post_form("/login", &[("email", "uma@example.com"), ("csrf", &csrf)]);
    assert!(sent.is_see_other_to("/verify"));
    // as an older version left it: the secret in `meta`, no key file
    app.stop();
    std::fs::remove_file(&key).unwrap();
    app.db()
        .execute(
            "INSERT INTO meta (key, value) VALUES ('app_secret', ?1)",
            [secret.trim()],
        )
        .unwrap();
    app.restart();
    assert_eq!(std::fs::read_to_string(&key).unwrap().trim(), secret.trim());
    assert_eq!(mode(&key), 0o600);
    let rows = app.query_i64("SELECT count(*) FROM meta WHERE key = 'app_secret'");
    assert_eq!(rows, 0, "the old row was not deleted");
    assert_eq!(
        client.get("/verify").status,
        200,
        "the same secret signs on"
    );
}

#[test]
fn backups_are_written_with_mode_0600() {
    let app = TestServer::new().spawn();
    let to = app.dir().join("copy.db");
    let out = app.cli(&["backup", "--to", to.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(mode(&to), 0o600);
}

// --------------------------------------------------------- full disk (10)

fn prlimit_fsize(pid: u32, limit: &str) {
    let status = Command::new("prlimit")
        .args(["--pid", &pid.to_string(), &format!("--fsize={limit}")])
        .status()
        .expect("prlimit (util-linux)");
    assert!(status.success(), "prlimit --fsize={limit}");
}

/// A file-size limit of one byte on the running server makes every write
/// to the database fail as on a full disk (EFBIG), for real.
#[test]
fn a_disk_that_cannot_be_written_answers_503_with_retry_after() {
    let app = TestServer::new().spawn();
    let client = app.client();
    let csrf = login_csrf(&client);
    let pid = app.pid().unwrap();
    prlimit_fsize(pid, "1:unlimited");
    let mut statuses = Vec::new();
    for email in ["vera@example.com", "walt@example.com", "xena@example.com"] {
        let resp = client.post_form("/login", &[("email", email), ("csrf", &csrf)]);
        statuses.push(resp.status);
        assert_eq!(resp.status, 503, "{}", resp.summary());
        assert!(resp.header("retry-after").is_some(), "{}", resp.summary());
        assert!(
            resp.body.contains("try again in a few minutes"),
            "{}",
            resp.body
        );
    }
    assert_eq!(client.get("/healthz").status, 200, "reads still work");
    prlimit_fsize(pid, "unlimited:unlimited");
    let resp = client.post_form("/login", &[("email", "yuri@example.com"), ("csrf", &csrf)]);
    assert!(
        resp.is_see_other_to("/verify"),
        "after the disk recovered: {}",
        resp.summary()
    );
    let log = app.log();
    assert!(
        log.matches("event=storage.unavailable").count() <= 1,
        "logged per request: {log}"
    );
}

// --------------------------------------------------------------- low (11)

#[test]
fn with_smtp_the_log_does_not_hold_whole_email_addresses() {
    let app = TestServer::new().spawn();
    let client = app.client();
    let csrf = login_csrf(&client);
    let sent = client.post_form(
        "/login",
        &[("email", "zoe.private@example.com"), ("csrf", &csrf)],
    );
    assert!(sent.is_see_other_to("/verify"));
    app.code_for("zoe.private@example.com");
    std::thread::sleep(Duration::from_millis(200));
    let log = app.log();
    assert!(!log.contains("zoe.private@example.com"), "{log}");
    assert!(log.contains("z…@example.com"), "{log}");
}

#[test]
fn the_caddy_example_sends_hsts() {
    let caddy = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/deploy/Caddyfile"
    ))
    .unwrap();
    assert!(caddy.contains("Strict-Transport-Security"), "{caddy}");
}
