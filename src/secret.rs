//! The signing secret: `APP_SECRET`, else a generated one kept in a key file
//! beside the database, `<db path>.key`, created with mode 0600. Never in the
//! database, so no backup or replica of `app.db` can sign a cookie or
//! brute-force a code's HMAC. A secret that older versions kept in the
//! `meta` table is moved to the key file on first start, then deleted.

use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rusqlite::Connection;

use crate::crypto;
use crate::db;
use crate::error::{Error, Result};
use crate::log;

/// Where older versions kept the generated secret.
const LEGACY_META_KEY: &str = "app_secret";
const MIN_BYTES: usize = 32;

/// `<db path>.key`.
pub fn key_path(db_path: &Path) -> PathBuf {
    let mut name = db_path.as_os_str().to_owned();
    name.push(".key");
    PathBuf::from(name)
}

/// The secret to derive keys from: `APP_SECRET` when set, else the key
/// file's, created on first start. Either way a secret still in the
/// database is moved out of it (to the key file, so it is not lost).
pub fn load(configured: Option<&[u8]>, db_path: &Path, conn: &Connection) -> Result<Vec<u8>> {
    let legacy = db::meta::get(conn, LEGACY_META_KEY)?;
    match configured {
        Some(secret) if legacy.is_none() => Ok(secret.to_vec()),
        Some(secret) => {
            load_or_create_file(db_path, conn, legacy)?;
            Ok(secret.to_vec())
        }
        None => load_or_create_file(db_path, conn, legacy),
    }
}

fn load_or_create_file(
    db_path: &Path,
    conn: &Connection,
    legacy: Option<String>,
) -> Result<Vec<u8>> {
    let path = key_path(db_path);
    let secret = match read(&path)? {
        Some(secret) => secret,
        None => {
            let fresh = match &legacy {
                Some(old) => old.clone(),
                None => crypto::hex(&crypto::random_bytes::<32>()?),
            };
            create(&path, fresh.as_bytes())?;
            // Another process may have created it first: its file wins.
            read(&path)?.ok_or_else(|| Error::Internal("the key file vanished".into()))?
        }
    };
    if let Some(old) = legacy {
        // Only once the key file holds a secret is the row deleted.
        if old.as_bytes() != secret.as_slice() {
            log::event(
                "secret.database_copy_differs",
                &[("note", &"the key file wins; the database's copy is deleted")],
            );
        }
        db::write(conn, |tx| db::meta::delete(tx, LEGACY_META_KEY))?;
        log::event(
            "secret.moved_out_of_database",
            &[("key_file", &path.display())],
        );
    }
    Ok(secret)
}

/// The key file's secret, or `None` when there is no file. A file others can
/// read is tightened to 0600 (and said so); a short one is refused.
fn read(path: &Path) -> Result<Option<Vec<u8>>> {
    let text = match fs::read(path) {
        Ok(text) => text,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(Error::Usage(format!(
                "cannot read the key file {}: {e}",
                path.display()
            )))
        }
    };
    let mode = fs::metadata(path)?.permissions().mode();
    if mode & 0o077 != 0 {
        fs::set_permissions(path, fs::Permissions::from_mode(0o600))?;
        log::event(
            "secret.key_file_tightened",
            &[
                ("key_file", &path.display()),
                ("was", &format!("{:o}", mode & 0o777)),
            ],
        );
    }
    let secret = text.trim_ascii().to_vec();
    if secret.len() < MIN_BYTES {
        return Err(Error::Usage(format!(
            "the key file {} holds fewer than {MIN_BYTES} bytes; restore it from your backup, or delete it to have a new one generated (everyone will be signed out)",
            path.display()
        )));
    }
    Ok(Some(secret))
}

/// Writes `secret` to `path` so that no reader ever sees a partial file or
/// one with wider permissions: a temporary file opened with mode 0600 and
/// `O_EXCL`, synced, then hard-linked into place (which, unlike a rename,
/// never replaces a key file another process made meanwhile).
fn create(path: &Path, secret: &[u8]) -> Result<()> {
    let tmp = {
        let mut name = path.as_os_str().to_owned();
        name.push(format!(
            ".tmp-{}",
            crypto::hex(&crypto::random_bytes::<8>()?)
        ));
        PathBuf::from(name)
    };
    let written = (|| -> std::io::Result<()> {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(secret)?;
        file.write_all(b"\n")?;
        file.sync_all()?;
        match fs::hard_link(&tmp, path) {
            Err(e) if e.kind() != ErrorKind::AlreadyExists => return Err(e),
            _ => {}
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    })();
    let _ = fs::remove_file(&tmp);
    written.map_err(|e| {
        Error::Usage(format!(
            "cannot create the key file {}: {e}; the directory of the database must be writable",
            path.display()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_generated_secret_lives_in_a_0600_key_file_not_the_database() {
        let dir = tempfile::tempdir().unwrap();
        let db_path = dir.path().join("app.db");
        let conn = db::open_and_migrate(&db_path).unwrap();
        let first = load(None, &db_path, &conn).unwrap();
        assert!(first.len() >= 32);
        let key = dir.path().join("app.db.key");
        assert_eq!(mode(&key), 0o600);
        assert_eq!(db::meta::get(&conn, LEGACY_META_KEY).unwrap(), None);
        assert_eq!(load(None, &db_path, &conn).unwrap(), first, "kept");
        let leftovers: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
            .collect();
        assert!(leftovers.is_empty());
    }

    #[test]
    fn a_secret_in_the_database_moves_to_the_key_file() {
        let dir = tempfile::tempdir().unwrap();
        let db_path = dir.path().join("app.db");
        let conn = db::open_and_migrate(&db_path).unwrap();
        let old = "f".repeat(64);
        db::write(&conn, |tx| {
            db::meta::get_or_insert(tx, LEGACY_META_KEY, &old)
        })
        .unwrap();
        assert_eq!(load(None, &db_path, &conn).unwrap(), old.as_bytes());
        assert_eq!(db::meta::get(&conn, LEGACY_META_KEY).unwrap(), None);
        assert_eq!(fs::read_to_string(key_path(&db_path)).unwrap().trim(), old);
    }

    #[test]
    fn app_secret_wins_and_still_moves_the_database_copy_out() {
        let dir = tempfile::tempdir().unwrap();
        let db_path = dir.path().join("app.db");
        let conn = db::open_and_migrate(&db_path).unwrap();
        db::write(&conn, |tx| {
            db::meta::get_or_insert(tx, LEGACY_META_KEY, &"e".repeat(64))
        })
        .unwrap();
        let env = b"from-the-environment-0123456789abcdef";
        assert_eq!(load(Some(env), &db_path, &conn).unwrap(), env);
        assert_eq!(db::meta::get(&conn, LEGACY_META_KEY).unwrap(), None);
        assert_eq!(
            fs::read_to_string(key_path(&db_path)).unwrap().trim(),
            "e".repeat(64)
        );
        // with nothing to move, APP_SECRET makes no key file
        let other = dir.path().join("other.db");
        let conn = db::open_and_migrate(&other).unwrap();
        assert_eq!(load(Some(env), &other, &conn).unwrap(), env);
        assert!(!key_path(&other).exists());
    }

    #[test]
    fn a_readable_key_file_is_tightened_and_a_short_one_refused() {
        let dir = tempfile::tempdir().unwrap();
        let db_path = dir.path().join("app.db");
        let conn = db::open_and_migrate(&db_path).unwrap();
        let key = key_path(&db_path);
        fs::write(&key, "a".repeat(64)).unwrap();
        fs::set_permissions(&key, fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(
            load(None, &db_path, &conn).unwrap(),
            "a".repeat(64).as_bytes()
        );
        assert_eq!(mode(&key), 0o600);
        fs::write(&key, "short").unwrap();
        let err = load(None, &db_path, &conn).unwrap_err();
        assert!(err.to_string().contains("fewer than 32 bytes"), "{err}");
    }
}
