//! The one SQLite file: opening it with the right pragmas, migrating it, and
//! every SQL statement the app runs (one submodule per table group).

use std::path::Path;
use std::time::Duration;

use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

use crate::error::{Error, Result};

pub mod audit;
pub mod backup;
pub mod billing;
pub mod billing_reads;
pub mod billing_sync;
pub mod codes;
pub mod funnel;
pub mod history;
pub mod holdings;
pub mod leaving;
pub mod meta;
pub mod notices;
pub mod outbox;
pub mod prices;
pub mod referrals;
pub mod rewards;
pub mod sessions;
pub mod stats;
pub mod users;

mod embedded {
    refinery::embed_migrations!("migrations");
}

/// Opens (creating if needed) the database with the pragmas every connection
/// needs. Writes go through [`write`], which starts `BEGIN IMMEDIATE`.
pub fn open(path: &Path) -> Result<Connection> {
    open_with(path, OpenFlags::SQLITE_OPEN_CREATE)
}

/// Opens a database file that must exist already: every verb but `serve`
/// and `migrate` (SPEC §1), so a typo in `--db` or the wrong directory never
/// leaves an empty database behind.
pub fn open_existing(path: &Path) -> Result<Connection> {
    if !path.exists() {
        return Err(missing_database(path));
    }
    // Without SQLITE_OPEN_CREATE, so a file removed since is not made anew.
    open_with(path, OpenFlags::empty()).map_err(|e| match path.exists() {
        false => missing_database(path),
        true => e,
    })
}

/// The one line a verb prints for a database file that is not there.
fn missing_database(path: &Path) -> Error {
    let path = path.display();
    Error::Usage(format!(
        "no database at {path}: pass --db PATH (or set APP_DB) to name the one `serve` uses, \
         or create this one with `app --db {path} migrate`"
    ))
}

fn open_with(path: &Path, create: OpenFlags) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | create
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let mut conn = Connection::open_with_flags(path, flags).map_err(|e| {
        Error::Usage(format!(
            "cannot open database {}: {e}; check the path and its permissions (--db or APP_DB)",
            path.display()
        ))
    })?;
    conn.busy_timeout(Duration::from_secs(10))?;
    // journal_mode answers with a row, so it is queried rather than executed.
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(Error::Internal(format!(
            "could not switch to WAL (got {mode})"
        )));
    }
    conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")?;
    // One plan per statement whatever is bound to it. Without this SQLite
    // re-prepares a cached statement on every run that binds 0 or 1 where it
    // once saw something else (the cache clears bindings, so: every run) if
    // the plan could depend on it, as an `ORDER BY` on a CASE does: user #1,
    // the first account and often the operator's, would pay for a new plan
    // on every page.
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    conn.set_transaction_behavior(TransactionBehavior::Immediate);
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

/// Applies pending migrations. Another process (the server, or a CLI verb run
/// beside it) may be migrating the same file at the same moment; a clash is
/// retried, and the second run finds nothing left to do.
pub fn migrate(conn: &mut Connection) -> Result<()> {
    // Building refinery's runner parses every migration's name with a regex
    // compiled for the purpose: two thirds of a CLI verb's CPU. A file that
    // is already at the newest version has nothing to apply.
    // Both the newest version and the number applied must match: a file
    // that has the newest but lacks an older one goes to refinery, which
    // says so, instead of running without a table.
    if schema_version(conn)? == Some((LATEST_MIGRATION, MIGRATION_COUNT)) {
        return Ok(());
    }
    let mut last_error = None;
    for attempt in 0..5 {
        match embedded::migrations::runner().run(conn) {
            Ok(_) => return Ok(()),
            Err(e) => {
                last_error = Some(e.to_string());
                std::thread::sleep(Duration::from_millis(50 * (attempt + 1)));
            }
        }
    }
    Err(Error::Migration(last_error.unwrap_or_default()))
}

/// Applies the migrations up to `version` and no further: how the upgrade
/// tests build a database as an older release left it.
#[doc(hidden)]
pub fn migrate_to(conn: &mut Connection, version: i32) -> Result<()> {
    embedded::migrations::runner()
        .set_target(refinery::Target::Version(version))
        .run(conn)
        .map(drop)
        .map_err(|e| Error::Migration(e.to_string()))
}

/// The newest migration in `migrations/`, and how many there are (V8 was
/// never shipped); a unit test checks both against the embedded ones.
const LATEST_MIGRATION: i64 = 13;
const MIGRATION_COUNT: i64 = 12;

/// The newest migration applied to this file and how many are; `None` for a
/// new file.
fn schema_version(conn: &Connection) -> Result<Option<(i64, i64)>> {
    let exists: bool = conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM sqlite_schema
                            WHERE type = 'table' AND name = 'refinery_schema_history')",
        )?
        .query_row([], |r| r.get(0))?;
    if !exists {
        return Ok(None);
    }
    let (newest, count): (Option<i64>, i64) = conn
        .prepare_cached("SELECT max(version), count(*) FROM refinery_schema_history")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(newest.map(|newest| (newest, count)))
}

/// Opens (creating if needed) and migrates: what `serve` and `migrate` do first.
pub fn open_and_migrate(path: &Path) -> Result<Connection> {
    let mut conn = open(path)?;
    migrate(&mut conn)?;
    Ok(conn)
}

/// Opens a file that must exist, and migrates it: what every other verb
/// does first.
pub fn open_existing_and_migrate(path: &Path) -> Result<Connection> {
    let mut conn = open_existing(path)?;
    migrate(&mut conn)?;
    Ok(conn)
}

/// A query that needs nothing but a working database.
pub fn ping(conn: &Connection) -> Result<()> {
    let one: i64 = conn
        .prepare_cached("SELECT 1")?
        .query_row([], |r| r.get(0))?;
    if one == 1 {
        Ok(())
    } else {
        Err(Error::Internal("database answered oddly".into()))
    }
}

/// Runs `f` in one `BEGIN IMMEDIATE` transaction that commits only when `f`
/// succeeds.
pub fn write<T>(conn: &Connection, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
    let tx = Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
    let value = f(&tx)?;
    tx.commit()?;
    Ok(value)
}

/// Runs `f`'s reads in one read transaction (`BEGIN DEFERRED`): they see
/// one snapshot, and take SQLite's lock on the file once rather than once
/// each (the workers queue for that lock). Inside a transaction already,
/// `f` just runs in it. `f` must not write: see [`write`].
pub fn read<T>(conn: &Connection, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
    if !conn.is_autocommit() {
        return f(conn);
    }
    // Cached statements: parsing BEGIN and COMMIT afresh each time showed in
    // the profile. The guard rolls back on an error or a panic in `f`.
    conn.prepare_cached("BEGIN DEFERRED")?.execute([])?;
    let mut tx = ReadTx { conn, open: true };
    let value = f(conn)?;
    tx.open = false;
    conn.prepare_cached("COMMIT")?.execute([])?;
    Ok(value)
}

/// An open [`read`] transaction; dropped while open, it rolls back.
struct ReadTx<'c> {
    conn: &'c Connection,
    open: bool,
}

impl Drop for ReadTx<'_> {
    fn drop(&mut self) {
        if self.open {
            let _ = self
                .conn
                .prepare_cached("ROLLBACK")
                .and_then(|mut s| s.execute([]));
        }
    }
}

#[cfg(test)]
pub fn test_db() -> Connection {
    let mut conn = Connection::open_in_memory().unwrap_or_else(|e| panic!("{e}"));
    conn.execute_batch("PRAGMA foreign_keys = ON;")
        .unwrap_or_else(|e| panic!("{e}"));
    migrate(&mut conn).unwrap_or_else(|e| panic!("{e}"));
    conn
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Timestamp;
    use crate::services::{access, referral};

    #[test]
    fn latest_migration_is_the_newest_embedded_one() {
        let newest = embedded::migrations::runner()
            .get_migrations()
            .iter()
            .map(|m| i64::from(m.version()))
            .max();
        assert_eq!(newest, Some(LATEST_MIGRATION));
        let count = embedded::migrations::runner().get_migrations().len();
        assert_eq!(i64::try_from(count).unwrap(), MIGRATION_COUNT);
        let mut conn = test_db();
        assert_eq!(
            schema_version(&conn).unwrap(),
            Some((LATEST_MIGRATION, MIGRATION_COUNT))
        );
        migrate(&mut conn).unwrap();
        let fresh = Connection::open_in_memory().unwrap();
        assert_eq!(schema_version(&fresh).unwrap(), None);
    }

    #[test]
    fn a_file_that_lacks_an_older_migration_is_not_taken_as_up_to_date() {
        let mut conn = test_db();
        conn.execute("DELETE FROM refinery_schema_history WHERE version = 10", [])
            .unwrap();
        assert_eq!(
            schema_version(&conn).unwrap(),
            Some((LATEST_MIGRATION, MIGRATION_COUNT - 1))
        );
        // refinery is asked, and says what is wrong, instead of a silent pass
        assert!(migrate(&mut conn).is_err());
    }

    #[test]
    fn a_database_from_before_referrals_and_credit_upgrades_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        {
            // the schema as the first release left it, with a user in it
            let mut conn = open(&path).unwrap();
            embedded::migrations::runner()
                .set_target(refinery::Target::Version(1))
                .run(&mut conn)
                .unwrap();
            conn.execute(
                "INSERT INTO users (email, tier, created_at) VALUES ('old@b.co', 'free', '2025-01-01T00:00:00Z')",
                [],
            )
            .unwrap();
        }
        let conn = open_and_migrate(&path).unwrap();
        let user = users::by_email(&conn, "old@b.co").unwrap().unwrap();
        assert_eq!(user.credit_until, None);
        assert_eq!(
            referrals::code_of(&conn, user.id).unwrap(),
            None,
            "no backfill"
        );
        let code = referral::assign_code_if_missing(&conn, user.id).unwrap();
        assert_eq!(
            referral::normalise_code(&code),
            Some(code.clone()),
            "a code on first use"
        );
        let now = Timestamp::now();
        assert!(!access::user_paid_status(&user, now).active);
        // running the migrations again is a no-op
        drop(conn);
        open_and_migrate(&path).unwrap();
    }

    #[test]
    fn connections_use_wal_full_sync_foreign_keys_and_a_busy_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open_and_migrate(&dir.path().join("p.db")).unwrap();
        let number = |pragma: &str| -> i64 {
            conn.query_row(&format!("PRAGMA {pragma}"), [], |r| r.get(0))
                .unwrap()
        };
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        assert_eq!(number("synchronous"), 2, "FULL");
        assert_eq!(number("foreign_keys"), 1);
        assert!(number("busy_timeout") >= 5000);
    }

    #[test]
    fn read_runs_in_one_transaction_or_in_the_one_already_open() {
        let conn = test_db();
        let seen = read(&conn, |c| {
            assert!(!c.is_autocommit(), "inside BEGIN DEFERRED");
            Ok(c.query_row("SELECT count(*) FROM users", [], |r| r.get::<_, i64>(0))?)
        })
        .unwrap();
        assert_eq!(seen, 0);
        assert!(conn.is_autocommit(), "committed");
        let inside = write(&conn, |tx| {
            users::create(tx, "a@b.co", Timestamp(1_800_000_000))?;
            read(tx, |c| {
                Ok(c.query_row("SELECT count(*) FROM users", [], |r| r.get::<_, i64>(0))?)
            })
        })
        .unwrap();
        assert_eq!(inside, 1, "a read inside a write sees the write");
        let failed: Result<()> = read(&conn, |_| Err(Error::Internal("no".into())));
        assert!(failed.is_err());
        assert!(conn.is_autocommit(), "rolled back after an error");
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            read(&conn, |_| -> Result<()> { panic!("in a read") })
        }));
        assert!(panicked.is_err());
        assert!(conn.is_autocommit(), "rolled back after a panic");
    }

    #[test]
    fn a_cached_statement_is_not_re_prepared_for_binding_0_or_1() {
        use rusqlite::StatementStatus::RePrepare;
        let dir = tempfile::tempdir().unwrap();
        let conn = open_and_migrate(&dir.path().join("q.db")).unwrap();
        // A statement whose plan could depend on a bound 1 (an ORDER BY on a
        // CASE), for user #1: without QPSG it is re-prepared on every run.
        // No query of the app has this shape today (the subscription ranking
        // moved to Rust); this keeps the next one from paying for it.
        const SQL: &str =
            "SELECT id, customer_id, status, current_period_ends_at, cancel_at, discount_ends_at
             FROM subscriptions WHERE user_id = ?1
             ORDER BY CASE status WHEN 'paused' THEN 1 WHEN 'canceled' THEN 2 ELSE 0 END,
                      created_at DESC, rowid DESC
             LIMIT 1";
        for _ in 0..3 {
            let mut stmt = conn.prepare_cached(SQL).unwrap();
            let mut rows = stmt.query([1]).unwrap();
            assert!(rows.next().unwrap().is_none());
        }
        let stmt = conn.prepare_cached(SQL).unwrap();
        assert_eq!(stmt.get_status(RePrepare), 0);
    }
}
