//! The one SQLite file: opening it with the right pragmas, migrating it, and
//! every SQL statement the app runs (one submodule per table group).

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

use crate::error::{Error, Result};

pub mod audit;
pub mod backup;
pub mod codes;
pub mod holdings;
pub mod meta;
pub mod referrals;
pub mod sessions;
pub mod stats;
pub mod users;

mod embedded {
    refinery::embed_migrations!("migrations");
}

/// Opens (creating if needed) the database with the pragmas every connection
/// needs. Writes go through [`write`], which starts `BEGIN IMMEDIATE`.
pub fn open(path: &Path) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
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
    conn.set_transaction_behavior(TransactionBehavior::Immediate);
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

/// Applies pending migrations. Another process (the server, or a CLI verb run
/// beside it) may be migrating the same file at the same moment; a clash is
/// retried, and the second run finds nothing left to do.
pub fn migrate(conn: &mut Connection) -> Result<()> {
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

/// Opens and migrates: what every command does first.
pub fn open_and_migrate(path: &Path) -> Result<Connection> {
    let mut conn = open(path)?;
    migrate(&mut conn)?;
    Ok(conn)
}

/// Runs `f` in one `BEGIN IMMEDIATE` transaction that commits only when `f`
/// succeeds.
pub fn write<T>(conn: &Connection, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
    let tx = Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
    let value = f(&tx)?;
    tx.commit()?;
    Ok(value)
}

#[cfg(test)]
pub fn test_db() -> Connection {
    let mut conn = Connection::open_in_memory().unwrap_or_else(|e| panic!("{e}"));
    conn.execute_batch("PRAGMA foreign_keys = ON;")
        .unwrap_or_else(|e| panic!("{e}"));
    migrate(&mut conn).unwrap_or_else(|e| panic!("{e}"));
    conn
}
