//! The operator's verbs (SPEC §1), run as processes against the database of
//! a running server, the way they are run over SSH.

mod billing_check;
mod billing_sync;
mod business;
mod credit;
mod import_holdings;
mod newcomer;

use std::process::Output;
use std::time::{SystemTime, UNIX_EPOCH};

/// What a verb printed on stdout.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What a verb printed on stderr.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A description of a finished verb for assertion messages.
pub fn summary(out: &Output) -> String {
    format!(
        "{}\n--- stdout:\n{}--- stderr:\n{}",
        out.status,
        stdout(out),
        stderr(out)
    )
}

/// Asserts the verb exited 0 and returns its stdout.
pub fn succeeded(out: &Output, what: &str) -> String {
    assert!(out.status.success(), "{what}: {}", summary(out));
    stdout(out)
}

/// Exit code 1, exactly one line on stderr starting `error: `, nothing on stdout.
pub fn assert_one_line_error(out: &Output, what: &str) {
    assert_eq!(out.status.code(), Some(1), "{what}: {}", summary(out));
    assert_eq!(
        stdout(out),
        "",
        "{what}: printed on stdout: {}",
        summary(out)
    );
    let err = stderr(out);
    assert!(
        err.starts_with("error: "),
        "{what}: stderr does not start with `error: `: {}",
        summary(out)
    );
    assert_eq!(
        err.trim_end_matches('\n').lines().count(),
        1,
        "{what}: more than one line on stderr: {}",
        summary(out)
    );
    assert!(
        err.len() > "error: ".len() + 10,
        "{what}: an error that says nothing: {err:?}"
    );
}

/// Seconds since the Unix epoch.
pub fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}
