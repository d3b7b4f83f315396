//! A mail server that is set but does not answer: `serve` says so in one
//! line at start and keeps serving, a code that could not be sent counts as
//! undelivered (not sent) in `/metrics`, and the person's verify page says
//! so; a bad `APP_SMTP_URL` says which forms are allowed (issue 12 items 3
//! and 9).

use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::{csrf_in, free_port, Client, TestServer};

const MAIL_FAILED: &str = "We could not send the email. Try again in a minute.";

/// The app with `APP_SMTP_URL` at a port where nothing listens.
fn spawn_with_dead_mail_server() -> TestServer {
    let url = format!("smtp://127.0.0.1:{}", free_port());
    TestServer::new().env("APP_SMTP_URL", &url).spawn()
}

/// Waits up to `within` for `what` to hold.
fn eventually(within: Duration, mut what: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if what() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(100));
    }
}

fn lines_with(log: &str, needle: &str) -> usize {
    log.lines().filter(|l| l.contains(needle)).count()
}

/// POST /login for `email`; the client is then on its way to /verify.
fn ask_for_code(client: &Client, email: &str) {
    let form = client.get("/login");
    let sent = client.post_form(
        "/login",
        &[("email", email), ("csrf", &csrf_in(&form.body))],
    );
    assert!(sent.is_see_other_to("/verify"), "{}", sent.summary());
}

/// Whether the page shows the sentence (it is there but `hidden` for the
/// page's script to reveal, until the mail has failed).
fn says_mail_failed(html: &str) -> bool {
    let Some(start) = html.find("<p id=\"mail-failed\"") else {
        return false;
    };
    let tag = &html[start..start + html[start..].find('>').unwrap_or(0)];
    html[start..].contains(MAIL_FAILED) && !tag.contains(" hidden")
}

/// `GET /api/verify-status`, which the verify page polls.
fn mail_status(client: &Client) -> Value {
    let resp = client.get("/api/verify-status");
    assert_eq!(resp.status, 200, "{}", resp.summary());
    serde_json::from_str(&resp.body).unwrap()
}

#[test]
fn an_unreachable_mail_server_is_one_warning_at_start_not_a_refusal() {
    let app = spawn_with_dead_mail_server();
    assert_eq!(app.client().get("/healthz").status, 200);
    assert!(
        eventually(Duration::from_secs(10), || app
            .log()
            .contains("event=mail.smtp_unreachable")),
        "no warning about the mail server; log:\n{}",
        app.log()
    );
    let log = app.log();
    assert_eq!(lines_with(&log, "event=mail.smtp_"), 1, "{log}");

    // A mail server that answers gets its one line too.
    let ok = TestServer::new().spawn();
    assert!(
        eventually(Duration::from_secs(10), || ok
            .log()
            .contains("event=mail.smtp_ok")),
        "{}",
        ok.log()
    );
    assert_eq!(lines_with(&ok.log(), "event=mail.smtp_"), 1, "{}", ok.log());
}

#[test]
fn a_code_that_could_not_be_sent_is_said_on_the_verify_page_and_counted_as_undelivered() {
    let app = spawn_with_dead_mail_server();
    let ann = app.client();
    ask_for_code(&ann, "ann@example.com");
    let verify = ann.get("/verify");
    assert_eq!(verify.status, 200, "{}", verify.summary());
    assert!(
        !says_mail_failed(&verify.body),
        "said before the retries were over: {}",
        verify.body
    );
    assert_eq!(mail_status(&ann), json!({ "mail_failed": false }));

    // Three attempts, two and four seconds apart, then the page says so.
    assert!(
        eventually(Duration::from_secs(20), || mail_status(&ann)["mail_failed"]
            == true),
        "the verify page's poll never heard the mail failed; log:\n{}",
        app.log()
    );
    let verify = ann.get("/verify");
    assert!(says_mail_failed(&verify.body), "{}", verify.body);

    let metrics = app.client().get("/metrics").body;
    for line in [
        "app_sign_in_codes_sent_total 0",
        "app_sign_in_codes_undelivered_total 1",
        "app_mail_undelivered_total 1",
        "app_mail_failures_total 3",
    ] {
        assert!(metrics.contains(line), "no {line:?} in:\n{metrics}");
    }

    // Only the page of the browser that asked for that code says so.
    let stranger = app.client();
    ask_for_code(&stranger, "bob@example.com");
    assert!(!says_mail_failed(&stranger.get("/verify").body));
    assert_eq!(mail_status(&stranger), json!({ "mail_failed": false }));
}

#[test]
fn a_bad_tls_value_in_the_smtp_url_names_the_allowed_forms() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_app"))
        .arg("--db")
        .arg(dir.path().join("app.db"))
        .args(["serve", "--addr", &format!("127.0.0.1:{}", free_port())])
        .env_clear()
        .env(
            "APP_SMTP_URL",
            "smtp://user:secret@mail.example:587?tls=maybe",
        )
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let exited = eventually(Duration::from_secs(10), || {
        child.try_wait().ok().flatten().is_some()
    });
    if !exited {
        let _ = child.kill();
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        exited && !out.status.success(),
        "it must refuse to start: {stderr}"
    );
    assert!(stderr.contains("tls=maybe"), "{stderr}");
    assert!(stderr.contains("required or opportunistic"), "{stderr}");
    assert!(stderr.contains("smtps://user:pass@host:465"), "{stderr}");
    for leak in ["secret", "Unknown scheme", "TLS features", "Some("] {
        assert!(!stderr.contains(leak), "{leak:?} in: {stderr}");
    }
}
