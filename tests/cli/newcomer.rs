//! The verbs as a newcomer meets them (issue 21): a wrong `--db` never
//! makes an empty database, and `--help` says where a `--note` ends up.

use std::process::{Command, Output, Stdio};

use super::{assert_one_line_error, stderr, summary};

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
