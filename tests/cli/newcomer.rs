//! The verbs as a newcomer meets them (issue 21): a wrong `--db` never
//! makes an empty database, and `--help` says where a `--note` ends up.

use std::process::{Command, Output, Stdio};

use super::{assert_one_line_error, stderr, summary};
use crate::support::{csrf_in, Client};

const BIN: &str = env!("CARGO_BIN_EXE_app");

/// `app ARGS` with no `APP_*` variable from the test's environment, in `dir`.
fn app_in(dir: &std::path::Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(BIN);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("APP_") {
            cmd.env_remove(key);
        }
    }
    cmd.current_dir(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run {BIN} {args:?}: {e}"))
}

#[test]
fn every_verb_but_serve_and_migrate_refuses_a_database_that_is_not_there() {
    let dir = tempfile::tempdir().expect("temp dir");
    let typo = dir.path().join("ap.db");
    let typo_arg = typo.to_string_lossy().to_string();
    let verbs: [&[&str]; 7] = [
        &["grant-credit", "--email", "a@example.com", "--days", "3"],
        &["revoke-credit", "--email", "a@example.com"],
        &["set-tier", "--email", "a@example.com", "--tier", "paid"],
        &["show-status", "--email", "a@example.com"],
        &["backup", "--to", "/tmp/never-written-by-this-test.db"],
        &["stats"],
        &["delete-user", "--email", "a@example.com"],
    ];
    for verb in verbs {
        let mut args = vec!["--db", typo_arg.as_str()];
        args.extend_from_slice(verb);
        let out = app_in(dir.path(), &args);
        assert_one_line_error(&out, &verb.join(" "));
        let err = stderr(&out);
        assert!(
            err.contains(&typo_arg) && err.contains("--db") && err.contains("migrate"),
            "{verb:?}: names the path and how to create one or pass --db: {err}"
        );
        // Run from a folder without app.db, the default path is refused too.
        let out = app_in(dir.path(), verb);
        assert_one_line_error(&out, &format!("{verb:?} with the default path"));
        assert!(stderr(&out).contains("app.db"), "{}", summary(&out));
    }
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "no file was made: {left:?}");

    // `migrate` makes the file, after which the verbs work on it.
    let out = app_in(dir.path(), &["--db", &typo_arg, "migrate"]);
    assert!(out.status.success(), "{}", summary(&out));
    let out = app_in(dir.path(), &["--db", &typo_arg, "stats", "--json"]);
    assert!(out.status.success(), "{}", summary(&out));
}

#[test]
fn every_verb_that_takes_a_note_says_the_person_sees_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    for verb in ["grant-credit", "revoke-credit", "set-tier", "delete-user"] {
        let out = app_in(dir.path(), &[verb, "--help"]);
        let help = String::from_utf8_lossy(&out.stdout);
        let note = help
            .lines()
            .skip_while(|l| !l.trim_start().starts_with("--note"))
            .take(3)
            .collect::<Vec<_>>()
            .join(" ");
        assert!(
            note.contains("shown to the person") && note.contains("export"),
            "{verb} --help: the note is part of the person's data:\n{help}"
        );
    }
}

/// `cargo test` closes on the integration crate's tally, not on an empty
/// doc-test or binary run that reads "0 passed" (issue 21, item 11).
#[test]
fn cargo_test_runs_no_empty_doc_test_or_binary_suite() {
    let manifest = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .expect("read Cargo.toml");
    let section = |name: &str| -> String {
        manifest
            .split("\n[")
            .find(|s| s.starts_with(name))
            .unwrap_or_else(|| panic!("Cargo.toml has no {name}"))
            .to_string()
    };
    assert!(
        section("lib]").contains("doctest = false"),
        "[lib] doctest = false"
    );
    let bin = section("[bin]]");
    assert!(
        bin.contains("name = \"app\"") && bin.contains("test = false"),
        "{bin}"
    );
    // And nothing in src/ wants a doc test run: no fenced example to check.
    for entry in walk(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src"
    ))) {
        let text = std::fs::read_to_string(&entry).unwrap_or_default();
        assert!(
            !text
                .lines()
                .any(|l| l.trim_start().starts_with("/// ```")
                    || l.trim_start().starts_with("//! ```")),
            "{}: a doc example would never run with doctest = false",
            entry.display()
        );
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read src/").flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// The README up to its Configuration section: what a newcomer reads first.
fn readme_first_screen() -> &'static str {
    let readme = include_str!("../../README.md");
    let end = readme
        .find("\n## Configuration")
        .expect("README has a Configuration section");
    &readme[..end]
}

/// The lines of the ```sh blocks in `text`, comments and prompts aside.
fn sh_lines(text: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        match line.trim() {
            "```sh" => inside = true,
            "```" => inside = false,
            l if inside && !l.is_empty() => lines.push(l),
            _ => {}
        }
    }
    lines
}

/// `line` split as a POSIX shell would for these examples: words, '…' and
/// "…" quoting, a `#` comment at the end.
fn shell_words(line: &str) -> Vec<String> {
    let (mut words, mut word, mut quote, mut started) = (Vec::new(), String::new(), None, false);
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => (quote, started) = (Some(c), true),
            (None, '#') if !started => break,
            (None, c) if c.is_whitespace() => {
                if started {
                    words.push(std::mem::take(&mut word));
                    started = false;
                }
            }
            (None, c) => {
                word.push(c);
                started = true;
            }
        }
    }
    assert!(quote.is_none(), "unclosed quote in {line:?}");
    if started {
        words.push(word);
    }
    words
}

#[test]
fn shell_words_split_like_the_shell() {
    assert_eq!(
        shell_words(r#"app grant-credit --note "first try"   # a comment"#),
        ["app", "grant-credit", "--note", "first try"]
    );
    assert_eq!(shell_words("a 'b c'd"), ["a", "b cd"]);
}

/// Item 1: the README's first screen takes a newcomer from a bare Debian
/// machine to a signed-in page. What it says to install is there, the
/// defaults it describes hold (no configuration: `localhost:8080` works, the
/// code is read from the log in the form it shows), and every
/// `target/release/app …` line it gives runs, as written, from the clone's
/// folder where it leaves the reader.
#[test]
fn the_readme_first_screen_gets_a_newcomer_signed_in_and_its_verbs_run_as_written() {
    let first = readme_first_screen();
    let commands = first.find("cargo run --release -- serve     #");
    assert!(
        commands.is_some() && commands < first.find("\n## "),
        "the two commands open the README"
    );
    for needed in [
        "cargo test  ",
        "apt-get install -y build-essential",
        "sh.rustup.rs",
        "1.92",
        "9 minutes on 2 cores",
        "target/release/app",
        "http://localhost:8080",
        "----- mail to you@example.com -----\nYour sign-in code is ",
        "APP_SMTP_URL",
    ] {
        assert!(
            first.contains(needed),
            "the README's first screen lacks {needed:?}"
        );
    }

    // `cargo run --release -- serve` with nothing configured, in a fresh
    // folder (on a free port here rather than 8080).
    let dir = tempfile::tempdir().expect("temp dir");
    let port = crate::support::free_port();
    let log_path = dir.path().join("serve.log");
    let log = std::fs::File::create(&log_path).expect("log file");
    let mut cmd = Command::new(BIN);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("APP_") {
            cmd.env_remove(key);
        }
    }
    let server = cmd
        .current_dir(dir.path())
        .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start app serve");
    let _server = KillOnDrop(server);
    let read_log = || std::fs::read_to_string(&log_path).unwrap_or_default();
    let client = Client::new(
        &format!("127.0.0.1:{port}"),
        Some(&format!("http://localhost:{port}")),
    );
    wait_until("the server answers", || {
        client
            .try_request("GET", "/healthz", &[], b"")
            .is_ok_and(|r| r.status == 200)
    });

    // The browser at localhost: the email form, the code from the log, in.
    let form = client.get("/login");
    let sent = client.post_form(
        "/login",
        &[("email", "you@example.com"), ("csrf", &csrf_in(&form.body))],
    );
    assert!(sent.is_see_other_to("/verify"), "{}", sent.summary());
    let marker = "----- mail to you@example.com -----\nYour sign-in code is ";
    wait_until("the mail in the log", || read_log().contains(marker));
    let logged = read_log();
    let at = logged.find(marker).unwrap() + marker.len();
    let code = &logged[at..at + 6];
    let verify = client.get("/verify");
    let done = client.post_form(
        "/verify",
        &[("code", code), ("csrf", &csrf_in(&verify.body))],
    );
    assert!(done.is_see_other_to("/"), "{}", done.summary());
    let page = client.get("/portfolio");
    assert_eq!(page.status, 200, "signed in: {}", page.summary());

    // The verbs, exactly as the README writes them, from the same folder.
    let verbs: Vec<Vec<String>> = sh_lines(first)
        .into_iter()
        .filter(|l| l.starts_with("target/release/app "))
        .map(shell_words)
        .collect();
    assert!(
        verbs.len() >= 3,
        "the README gives the verbs as target/release/app …: {verbs:?}"
    );
    for words in verbs {
        let args: Vec<&str> = words[1..].iter().map(String::as_str).collect();
        let out = app_in(dir.path(), &args);
        assert!(out.status.success(), "{words:?}: {}", summary(&out));
        assert!(!out.stdout.is_empty(), "{words:?} printed nothing");
    }
    let status = app_in(
        dir.path(),
        &["show-status", "--email", "you@example.com", "--json"],
    );
    let me: serde_json::Value = serde_json::from_slice(&status.stdout).expect("JSON");
    assert_eq!(
        me["paid"]["source"], "credit",
        "the README's grant took: {me}"
    );
}

struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !done() {
        assert!(std::time::Instant::now() < deadline, "{what} within 20 s");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
