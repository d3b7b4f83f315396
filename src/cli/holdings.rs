//! `import-holdings`: the operator brings a CSV of holdings into an account,
//! the same file and rules as `POST /portfolio/import`.

use rusqlite::Connection;
use serde_json::json;

use super::ImportHoldingsArgs;
use crate::clock::Timestamp;
use crate::error::{Error, Result};
use crate::services::{account, auth, import};

pub fn import_holdings(conn: &Connection, args: ImportHoldingsArgs, now: Timestamp) -> Result<()> {
    let email = auth::normalise_email(&args.email)
        .map_err(|m| Error::Usage(format!("--email {:?}: {m}", args.email)))?;
    let user = account::by_email(conn, &email)?;
    let path = args.csv.display().to_string();
    let meta = std::fs::metadata(&args.csv)
        .map_err(|e| Error::Usage(format!("cannot read --csv {path}: {e}")))?;
    if meta.len() > import::MAX_BYTES as u64 {
        return Err(Error::Usage(format!(
            "{path} is {} bytes; an import is at most 64 KiB (65536 bytes)",
            meta.len()
        )));
    }
    let bytes = std::fs::read(&args.csv)
        .map_err(|e| Error::Usage(format!("cannot read --csv {path}: {e}")))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| Error::Usage(format!("{path} is not UTF-8 text; save it as CSV UTF-8")))?;
    let done = match import::import(conn, user.id, &text, now) {
        Ok(Ok(done)) => done,
        Ok(Err(errors)) => {
            let rows: Vec<String> = errors.iter().map(ToString::to_string).collect();
            return Err(Error::Usage(format!(
                "{path}: nothing imported, {} bad row(s): {}",
                errors.len(),
                rows.join("; ")
            )));
        }
        Err(Error::BadRequest(message)) => {
            return Err(Error::Usage(format!("{path}: nothing imported: {message}")))
        }
        Err(e) => return Err(e),
    };
    if args.json {
        let out = json!({
            "email": user.email,
            "added": done.added,
            "updated": done.updated,
            "holdings": done.total,
        });
        println!("{out}");
    } else {
        println!(
            "{}: {} added, {} updated; {} holdings now",
            user.email, done.added, done.updated, done.total
        );
    }
    Ok(())
}
