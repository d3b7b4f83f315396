//! When the disk is full or read-only: every request that writes fails the
//! same way, so the log says it once a minute (with how many requests it
//! refused meanwhile), not once per request. The answer itself is a 503
//! with `Retry-After` (see `Error::is_storage_unavailable`).

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use crate::clock::Timestamp;
use crate::error::{Error, Result};
use crate::log;

/// What a refused request is told to wait.
pub const RETRY_AFTER: i64 = 60;
/// At most one log line per this many seconds.
const LOG_EVERY: i64 = 60;

static LAST_LOGGED: AtomicI64 = AtomicI64::new(i64::MIN);
static SINCE_LOGGED: AtomicU64 = AtomicU64::new(0);

/// Counts a request refused for storage, and logs when a minute has passed
/// since the last line.
pub fn report(e: &Error, now: Timestamp) {
    if should_log(&LAST_LOGGED, now.secs()) {
        let refused = SINCE_LOGGED.swap(0, Ordering::Relaxed) + 1;
        log::event(
            "storage.unavailable",
            &[("error", e), ("refused_since_last_line", &refused)],
        );
    } else {
        SINCE_LOGGED.fetch_add(1, Ordering::Relaxed);
    }
}

/// True for the one caller that moves `last` forward by a minute or more.
fn should_log(last: &AtomicI64, now: i64) -> bool {
    let seen = last.load(Ordering::Relaxed);
    (seen == i64::MIN || now - seen >= LOG_EVERY)
        && last
            .compare_exchange(seen, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
}

/// A file-size limit (`ulimit -f`, systemd's `LimitFSIZE`) makes the kernel
/// send SIGXFSZ, whose default is to kill the process. Handled, the write
/// fails instead, and SQLite reports it like a full disk: a 503, not an
/// outage.
pub fn survive_file_size_limits() -> Result<()> {
    signal_hook::flag::register(
        signal_hook::consts::SIGXFSZ,
        Arc::new(std::sync::atomic::AtomicBool::new(false)),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_at_most_once_a_minute() {
        let last = AtomicI64::new(i64::MIN);
        assert!(should_log(&last, 1000));
        assert!(!should_log(&last, 1000));
        assert!(!should_log(&last, 1059));
        assert!(should_log(&last, 1060));
        let logged = (0..1000)
            .filter(|i| should_log(&last, 1061 + i / 100))
            .count();
        assert_eq!(logged, 0);
    }
}
