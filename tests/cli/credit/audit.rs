//! The audit trail (SPEC §3 audit), `backup` while the server runs, and
//! twenty grants at once on the file the server is serving from.

use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::thread;
use std::time::Duration;

use super::*;

#[test]
fn every_change_is_audited_with_actor_client_and_note() {
    let app = TestServer::new().spawn();
    let _rex = account(&app, "rex@example.com");
    let rex = user_id(&app, "rex@example.com");
    let ssh = "198.51.100.7 52022 10.0.0.5 22";

    let out = app.cli_with(
        &[
            "grant-credit",
            "--email",
            "rex@example.com",
            "--days",
            "3",
            "--note",
            "ticket 42",
        ],
        |cmd| {
            cmd.env_remove("SUDO_USER")
                .env("USER", "deploy")
                .env("SSH_CONNECTION", ssh);
        },
    );
    succeeded(&out, "grant");
    let granted = credit_until(&app, "rex@example.com").unwrap();
    let out = app.cli_with(&["revoke-credit", "--email", "rex@example.com"], |cmd| {
        cmd.env("SUDO_USER", "alice")
            .env("USER", "root")
            .env("SSH_CONNECTION", ssh);
    });
    succeeded(&out, "revoke");
    let revoked = credit_until(&app, "rex@example.com").unwrap();
    let out = app.cli_with(
        &["set-tier", "--email", "rex@example.com", "--tier", "paid"],
        |cmd| {
            cmd.env_remove("SUDO_USER")
                .env_remove("SSH_CONNECTION")
                .env("USER", "ops");
        },
    );
    succeeded(&out, "set-tier");

    let rows = audit_rows(&app);
    assert_eq!(rows.len(), 3, "{rows:#?}");
    let [grant, revoke, tier] = &rows[..] else {
        unreachable!()
    };
    assert_eq!(
        (
            grant.user_id,
            grant.action.as_str(),
            grant.old_value.as_deref(),
            grant.new_value.as_deref()
        ),
        (rex, "grant_credit", None, Some(granted.as_str()))
    );
    assert_eq!(
        (
            grant.actor.as_str(),
            grant.client.as_deref(),
            grant.note.as_deref()
        ),
        ("deploy", Some("198.51.100.7"), Some("ticket 42"))
    );
    assert_eq!(
        (
            revoke.action.as_str(),
            revoke.old_value.as_deref(),
            revoke.new_value.as_deref()
        ),
        (
            "revoke_credit",
            Some(granted.as_str()),
            Some(revoked.as_str())
        )
    );
    assert_eq!(
        (
            revoke.actor.as_str(),
            revoke.client.as_deref(),
            revoke.note.as_deref()
        ),
        ("alice", Some("198.51.100.7"), None),
        "SUDO_USER wins over USER"
    );
    assert_eq!(
        (
            tier.action.as_str(),
            tier.old_value.as_deref(),
            tier.new_value.as_deref()
        ),
        ("set_tier", Some("free"), Some("paid"))
    );
    assert_eq!((tier.actor.as_str(), tier.client.as_deref()), ("ops", None));
    for row in &rows {
        assert_near(secs_of(&app, &row.at), now_secs(), 120, "audit time");
    }

    // Append-only.
    let db = app.db();
    assert!(
        db.execute("UPDATE access_audit SET actor = 'mallory'", [])
            .is_err(),
        "audit rows can be edited"
    );
    assert!(
        db.execute("DELETE FROM access_audit", []).is_err(),
        "audit rows can be deleted"
    );
    assert_eq!(audit_rows(&app), rows);
}

#[test]
fn backup_while_the_server_runs() {
    let app = TestServer::new().spawn();
    let sam = account(&app, "sam@example.com");
    let path = app.dir().join("backup.db");
    let path_arg = path.to_str().unwrap();

    // The server keeps answering while the copy is taken.
    let out = thread::scope(|s| {
        let busy = s.spawn(|| {
            (0..20)
                .map(|_| sam.get("/settings").status)
                .collect::<Vec<_>>()
        });
        let out = run(&app, &["backup", "--to", path_arg]);
        assert!(
            busy.join().unwrap().iter().all(|&s| s == 200),
            "the server stumbled during the backup"
        );
        out
    });
    let text = succeeded(&out, "backup");
    let size = std::fs::metadata(&path).expect("the backup file").len();
    assert!(size > 0);
    assert!(
        text.contains(&size.to_string()),
        "the size {size} is not in the report:\n{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains("users") && l.contains(" 1 ")),
        "no row count line for users (1 row):\n{text}"
    );

    let copy =
        rusqlite::Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let emails: Vec<String> = copy
        .prepare("SELECT email FROM users")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(emails, ["sam@example.com"]);
    let verdict: String = copy
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(verdict, "ok");
    drop(copy);

    // Never overwrites.
    let before = std::fs::read(&path).unwrap();
    let out = run(&app, &["backup", "--to", path_arg]);
    assert_one_line_error(&out, "backup onto an existing file");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the existing file changed"
    );
}

/// Twenty operators granting a day each at the same moment, while the server
/// serves: no grant is lost, none fails, no request fails.
#[test]
fn twenty_grants_at_once_add_up_while_the_server_serves() {
    const GRANTS: i64 = 20;
    let app = TestServer::new().spawn();
    let tom = account(&app, "tom@example.com");
    let stop = AtomicBool::new(false);
    let statuses = Mutex::new(Vec::new());
    let before = now_secs();

    let outputs = thread::scope(|s| {
        s.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                for path in ["/healthz", "/settings"] {
                    let resp = tom.try_request("GET", path, &[], b"");
                    statuses
                        .lock()
                        .unwrap()
                        .push((path, resp.map(|r| r.status).map_err(|e| e.to_string())));
                }
            }
        });
        let children: Vec<_> = (0..GRANTS)
            .map(|_| {
                let mut cmd = Command::new(env!("CARGO_BIN_EXE_app"));
                for (key, _) in std::env::vars_os() {
                    if key.to_string_lossy().starts_with("APP_") {
                        cmd.env_remove(key);
                    }
                }
                clean_env(&mut cmd);
                cmd.arg("--db")
                    .arg(app.db_path())
                    .args(["grant-credit", "--email", "tom@example.com", "--days", "1"])
                    .stdin(Stdio::null())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("spawn grant-credit")
            })
            .collect();
        let outputs: Vec<_> = children
            .into_iter()
            .map(|c| c.wait_with_output().expect("wait for grant-credit"))
            .collect();
        // Let the reader see the server after the last write, too.
        thread::sleep(Duration::from_millis(100));
        stop.store(true, Ordering::Relaxed);
        outputs
    });
    let after = now_secs();

    for (i, out) in outputs.iter().enumerate() {
        assert!(out.status.success(), "grant {i}: {}", summary(out));
    }
    let statuses = statuses.into_inner().unwrap();
    assert!(!statuses.is_empty(), "the reader never ran");
    let failed: Vec<_> = statuses
        .iter()
        .filter(|(_, s)| s.as_ref().ok() != Some(&200))
        .collect();
    assert!(
        failed.is_empty(),
        "{} of {} requests failed during the grants: {failed:?}",
        failed.len(),
        statuses.len()
    );

    let rows = audit_rows(&app);
    assert_eq!(rows.len() as i64, GRANTS, "audit rows");
    assert!(rows.iter().all(|r| r.action == "grant_credit"));
    // Each grant started from the one before it: the new values step by a day.
    let mut ends: Vec<i64> = rows
        .iter()
        .map(|r| secs_of(&app, r.new_value.as_deref().unwrap()))
        .collect();
    ends.sort();
    for pair in ends.windows(2) {
        assert_eq!(
            pair[1] - pair[0],
            DAY,
            "a grant was lost or overlapped: {ends:?}"
        );
    }

    let until = credit_until_secs(&app, "tom@example.com").unwrap();
    assert!(
        until >= before + GRANTS * DAY && until <= after + GRANTS * DAY,
        "credit_until {until}, window {before}..{after}"
    );
    let left = until - now_secs();
    assert!(
        (GRANTS * DAY - 120..=GRANTS * DAY).contains(&left),
        "{left}s left, want 20 days less at most 2 minutes"
    );
    assert_eq!(api_me(&tom)["paid"]["days_remaining"], GRANTS);
}
