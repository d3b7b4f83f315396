//! How many client connections the process can hold (SPEC §8): at most
//! `APP_MAX_CONNECTIONS`, and never more than the open-file limit allows
//! once the database, the log and the workers have theirs; and what the
//! vendored server's accept loop reports when it meets trouble it goes on
//! from.

use crate::log;

/// File descriptors kept for everything but client connections: every
/// SQLite connection (database, WAL and shared-memory files: three each,
/// one per worker and per background job), the log, the listener, the
/// mail and outbound HTTP connections, the signal pipe. `FD_MARGIN` plus
/// `FDS_PER_WORKER` for each worker.
pub const FD_MARGIN: u64 = 128;
pub const FDS_PER_WORKER: u64 = 4;

/// The connection cap: `configured`, lowered to what `open_files` (the soft
/// `RLIMIT_NOFILE`, when known) leaves once the margin is kept, each
/// connection taking `tiny_http::limits::FDS_PER_CONNECTION` descriptors;
/// at least one.
pub fn connection_cap(configured: usize, open_files: Option<u64>, workers: usize) -> usize {
    let Some(limit) = open_files else {
        return configured;
    };
    let margin = FD_MARGIN + FDS_PER_WORKER * workers as u64;
    let per_connection = tiny_http::limits::FDS_PER_CONNECTION as u64;
    let fits = limit.saturating_sub(margin) / per_connection;
    configured
        .min(usize::try_from(fits).unwrap_or(usize::MAX))
        .max(1)
}

/// The soft open-file limit (`RLIMIT_NOFILE`) as Linux shows it in
/// `/proc/self/limits`; `None` elsewhere or when it is unlimited.
pub fn open_file_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    soft_open_files(&limits)
}

/// The "Max open files" line's soft value.
fn soft_open_files(limits: &str) -> Option<u64> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The accept loop's trouble as one log line (the server sends each kind
/// at most once a second, with how many times it happened since).
pub fn report(report: &tiny_http::Report<'_>) {
    let event = format!("server.{}", report.trouble.as_str());
    match report.error {
        Some(error) => log::event(&event, &[("error", error), ("times", &report.times)]),
        None => log::event(&event, &[("times", &report.times)]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_fits_the_open_file_limit_less_the_margin() {
        // unknown limit: as configured
        assert_eq!(connection_cap(1024, None, 8), 1024);
        // systemd's LimitNOFILE=4096 fits the default cap
        assert_eq!(connection_cap(1024, Some(4096), 8), 1024);
        // a 1024 limit: (1024 - 128 - 32) / 3
        assert_eq!(connection_cap(1024, Some(1024), 8), 288);
        // a tiny limit still lets one connection in
        assert_eq!(connection_cap(1024, Some(100), 8), 1);
        assert_eq!(connection_cap(10, Some(1_000_000), 8), 10);
    }

    #[test]
    fn the_shipped_systemd_unit_restarts_always_and_fits_the_default_cap() {
        let unit = include_str!("../../examples/deploy/app.service");
        let value = |key: &str| {
            unit.lines()
                .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
                .map(str::trim)
        };
        assert_eq!(value("Restart"), Some("always"));
        assert_eq!(value("StartLimitIntervalSec"), Some("0"));
        let nofile: u64 = value("LimitNOFILE").unwrap().parse().unwrap();
        let default = crate::config::DEFAULT_MAX_CONNECTIONS;
        let workers = crate::config::DEFAULT_WORKERS;
        assert_eq!(connection_cap(default, Some(nofile), workers), default);
    }

    #[test]
    fn the_soft_limit_is_read_from_proc_self_limits() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                      Max processes             96363                96363                processes \n\
                      Max open files            1024                 524288               files     \n";
        assert_eq!(soft_open_files(limits), Some(1024));
        let unlimited =
            "Max open files            unlimited            unlimited            files\n";
        assert_eq!(soft_open_files(unlimited), None);
        assert!(open_file_limit().is_some(), "this is Linux");
    }
}
