//! The one error type. Each variant knows its HTTP status; what a user sees
//! (`public_message`) is kept apart from what goes to the log (`Display`).

use std::fmt;

#[derive(Debug)]
pub enum Error {
    /// Input that fails validation; the message is safe to show.
    BadRequest(String),
    /// No signed-in caller.
    Unauthorized,
    /// A free caller met a paid feature (SPEC §5): the 402 body's `reason`
    /// and what the person is told. `services::access` makes these from its
    /// `Denial`.
    PaymentRequired {
        reason: &'static str,
        message: &'static str,
    },
    Forbidden(&'static str),
    /// A POST whose `Origin` is another site's (or that says cross-site):
    /// the page names where this site is.
    ForeignOrigin {
        base_url: String,
    },
    /// A webhook without a valid signature from its sender.
    BadSignature,
    NotFound,
    /// With the methods the path does take, for the `Allow` header.
    MethodNotAllowed(String),
    PayloadTooLarge,
    /// A body sent without `Content-Length` (chunked), which we do not take.
    LengthRequired,
    /// The client took too long to send its request.
    RequestTimeout,
    UnsupportedMediaType,
    TooManyRequests {
        retry_after: i64,
        message: String,
    },
    /// Busy for now (a full queue): 503 with `Retry-After`.
    Unavailable {
        retry_after: i64,
        message: String,
    },
    /// Operator-facing errors of the CLI (unknown email, bad argument).
    Usage(String),
    Db(rusqlite::Error),
    Migration(String),
    Io(std::io::Error),
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// SQLite could not write: the disk is full or read-only, or the file
    /// cannot be opened or written. Not the request's fault, and not a bug:
    /// a 503 that says to come back.
    pub fn is_storage_unavailable(&self) -> bool {
        use rusqlite::ffi;
        let Error::Db(rusqlite::Error::SqliteFailure(e, _)) = self else {
            return false;
        };
        matches!(
            e.code,
            rusqlite::ErrorCode::DiskFull
                | rusqlite::ErrorCode::ReadOnly
                | rusqlite::ErrorCode::CannotOpen
        ) || matches!(
            e.extended_code,
            ffi::SQLITE_IOERR_WRITE | ffi::SQLITE_IOERR_FSYNC | ffi::SQLITE_IOERR_TRUNCATE
        )
    }

    pub fn status(&self) -> u16 {
        if self.is_storage_unavailable() {
            return 503;
        }
        match self {
            Error::BadRequest(_) | Error::Usage(_) => 400,
            Error::Unauthorized | Error::BadSignature => 401,
            Error::PaymentRequired { .. } => 402,
            Error::Forbidden(_) | Error::ForeignOrigin { .. } => 403,
            Error::NotFound => 404,
            Error::MethodNotAllowed(_) => 405,
            Error::PayloadTooLarge => 413,
            Error::LengthRequired => 411,
            Error::RequestTimeout => 408,
            Error::UnsupportedMediaType => 415,
            Error::TooManyRequests { .. } => 429,
            Error::Unavailable { .. } => 503,
            Error::Db(_) | Error::Migration(_) | Error::Io(_) | Error::Internal(_) => 500,
        }
    }

    /// A short machine-readable code for JSON errors.
    pub fn code(&self) -> &'static str {
        match self {
            Error::BadRequest(_) | Error::Usage(_) => "bad_request",
            Error::Unauthorized => "unauthorized",
            Error::PaymentRequired { .. } => "payment_required",
            Error::Forbidden(_) | Error::ForeignOrigin { .. } => "forbidden",
            Error::BadSignature => "bad_signature",
            Error::NotFound => "not_found",
            Error::MethodNotAllowed(_) => "method_not_allowed",
            Error::PayloadTooLarge => "payload_too_large",
            Error::LengthRequired => "length_required",
            Error::RequestTimeout => "request_timeout",
            Error::UnsupportedMediaType => "unsupported_media_type",
            Error::TooManyRequests { .. } => "rate_limited",
            Error::Unavailable { .. } => "unavailable",
            _ if self.is_storage_unavailable() => "unavailable",
            _ => "internal",
        }
    }

    /// What a person may be told. Never carries internal detail.
    pub fn public_message(&self) -> String {
        match self {
            Error::BadRequest(m) | Error::Usage(m) => m.clone(),
            Error::Unauthorized => "Sign in first.".into(),
            Error::PaymentRequired { message, .. } => (*message).into(),
            Error::Forbidden(m) => (*m).into(),
            Error::ForeignOrigin { base_url } => format!(
                "This request came from another site, so it was refused. Open the site at {base_url} and try again."
            ),
            Error::BadSignature => {
                "The Paddle-Signature header is missing, malformed, wrong or stale.".into()
            }
            Error::NotFound => "There is nothing at this address.".into(),
            Error::MethodNotAllowed(_) => "This address does not take that method.".into(),
            Error::PayloadTooLarge => "The request body is too large.".into(),
            Error::LengthRequired => "Send the body with a Content-Length header.".into(),
            Error::RequestTimeout => "The request took too long to arrive.".into(),
            Error::UnsupportedMediaType => "Send the body as application/json.".into(),
            Error::TooManyRequests { message, .. } | Error::Unavailable { message, .. } => {
                message.clone()
            }
            _ if self.is_storage_unavailable() => {
                "We can't save anything right now because the server's disk is full or read-only. Nothing was lost; please try again in a few minutes.".into()
            }
            _ => "Something went wrong on our side. Please try again.".into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Db(e) => write!(f, "database: {e}"),
            Error::Migration(e) => write!(f, "migration: {e}"),
            Error::Io(e) => write!(f, "io: {e}"),
            Error::Internal(e) => write!(f, "internal: {e}"),
            other => f.write_str(&other.public_message()),
        }
    }
}

impl std::error::Error for Error {}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::Db(e)
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e)
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::Internal(format!("json: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqlite(code: i32) -> Error {
        Error::Db(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(code),
            None,
        ))
    }

    #[test]
    fn a_full_or_read_only_disk_is_503_not_500() {
        use rusqlite::ffi;
        for code in [
            ffi::SQLITE_FULL,
            ffi::SQLITE_READONLY,
            ffi::SQLITE_READONLY_DBMOVED,
            ffi::SQLITE_CANTOPEN,
            ffi::SQLITE_IOERR_WRITE,
            ffi::SQLITE_IOERR_FSYNC,
        ] {
            let e = sqlite(code);
            assert_eq!(e.status(), 503, "{e}");
            assert_eq!(e.code(), "unavailable");
            assert!(e.public_message().contains("try again"), "{e}");
            assert!(
                !e.public_message().contains("disk I/O"),
                "no SQLite wording"
            );
        }
        for code in [
            ffi::SQLITE_CORRUPT,
            ffi::SQLITE_IOERR_READ,
            ffi::SQLITE_ERROR,
        ] {
            assert_eq!(sqlite(code).status(), 500, "{code}");
        }
        assert_eq!(Error::Internal("x".into()).status(), 500);
    }
}
