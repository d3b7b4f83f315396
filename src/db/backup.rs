//! `app backup`: a consistent copy of the live database, checked before it
//! is called good.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use crate::error::{Error, Result};

pub struct Report {
    pub path: PathBuf,
    pub bytes: u64,
    /// `(table, rows)` for the product's tables.
    pub rows: Vec<(String, i64)>,
}

/// Copies `conn`'s database to `to` with `VACUUM INTO` (one read
/// transaction, so a consistent snapshot while the server writes), then runs
/// `PRAGMA integrity_check` on the copy. Never overwrites a file.
pub fn backup(conn: &Connection, to: &Path) -> Result<Report> {
    if to.exists() {
        return Err(Error::Usage(format!(
            "{} already exists; backup never overwrites a file, so choose a new name",
            to.display()
        )));
    }
    let target = to
        .to_str()
        .ok_or_else(|| Error::Usage("the backup path must be valid UTF-8".into()))?;
    // The copy holds every account: it is made 0600 from its first byte.
    // `VACUUM INTO` writes into an existing file only when it is empty, so
    // an empty 0600 file made here (never over an existing one) is filled.
    create_private(to)?;
    conn.execute("VACUUM INTO ?1", [target]).map_err(|e| {
        let _ = std::fs::remove_file(to);
        Error::Usage(format!(
            "could not write the backup to {}: {e}",
            to.display()
        ))
    })?;
    match check(to) {
        Ok(report) => Ok(report),
        Err(e) => {
            let _ = std::fs::remove_file(to);
            Err(e)
        }
    }
}

fn create_private(to: &Path) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(to)
        .map(drop)
        .map_err(|e| {
            Error::Usage(format!(
                "could not create the backup file {}: {e}",
                to.display()
            ))
        })
}

fn check(path: &Path) -> Result<Report> {
    let copy = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let verdict: String = copy.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
    if verdict != "ok" {
        return Err(Error::Internal(format!(
            "the copy failed its integrity check: {verdict}"
        )));
    }
    let tables: Vec<String> = copy
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'refinery_%' ORDER BY name")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut rows = Vec::new();
    for table in tables {
        let n: i64 = copy.query_row(
            &format!("SELECT count(*) FROM \"{}\"", table.replace('"', "\"\"")),
            [],
            |r| r.get(0),
        )?;
        rows.push((table, n));
    }
    Ok(Report {
        path: path.to_path_buf(),
        bytes: std::fs::metadata(path)?.len(),
        rows,
    })
}
