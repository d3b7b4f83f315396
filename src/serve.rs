//! What `serve` builds and tears down: the keys, the listener, the mail
//! worker (and its SMTP check at start), the signal watcher, the janitor,
//! the notices job, the market data job (rates, quotes, daily totals), the
//! billing outbox worker, the offload pools, `billing-check`'s checks at
//! start and the request workers. The request loop itself lives in
//! `web::server`.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::clock::Timestamp;
use crate::config::Config;
use crate::crypto::Keys;
use crate::db;
use crate::error::{Error, Result};
use crate::log;
use crate::services::{auth, billing, mail::Mailer, market, notices};
use crate::web::{capacity, gate, server, Site};
use crate::worker::Worker;

/// How often the janitor sweeps.
const JANITOR_EVERY: Duration = Duration::from_secs(600);
/// How long, at shutdown, each background worker may take to finish.
const JOB_SHUTDOWN_WAIT: Duration = Duration::from_secs(5);
const OUTBOX_SHUTDOWN_WAIT: Duration = Duration::from_secs(3);
/// Queued and running offloaded jobs (analyses, portal links).
const OFFLOAD_SHUTDOWN_WAIT: Duration = Duration::from_secs(30);
/// The mail queue, sent before exit.
const MAIL_SHUTDOWN_WAIT: Duration = Duration::from_secs(20);

/// Runs the server until SIGTERM or SIGINT, then finishes in-flight requests,
/// stops the background workers (the offloaded jobs and the mail queue
/// finish first), and returns.
pub fn run(config: Config, db_path: &Path) -> Result<()> {
    let started = Instant::now();
    // Request lines are batched under load; dropped on return, this writes
    // whatever still waits.
    let _log_batching = log::Batching::start()?;
    log_panics_as_events();
    crate::web::outage::survive_file_size_limits()?;
    let keys = {
        let conn = db::open_and_migrate(db_path)?;
        Keys::derive(&crate::secret::load(
            config.secret.as_deref(),
            db_path,
            &conn,
        )?)
    };
    if config.smtp_url.is_none() {
        log::event(
            "mail.warning",
            &[("message", &"APP_SMTP_URL is unset: sign-in emails, codes included, are printed to this log. This is for trying the app out; set APP_SMTP_URL before real people sign in.")],
        );
    }
    // Background workers, in the order they start; stopped in reverse
    // after the request workers, each given its wait.
    let mut background: Vec<(Worker, Duration)> = Vec::new();
    let (mailer, mail_worker) = Mailer::start(config.smtp_url.as_deref(), &config.mail_from)?;
    background.push((mail_worker, MAIL_SHUTDOWN_WAIT));
    let site = Arc::new(Site::new(config, keys, mailer));
    let max_connections = capacity::connection_cap(
        site.config.max_connections,
        capacity::open_file_limit(),
        site.config.workers,
    );
    let server = Arc::new(listen(&site, max_connections)?);
    let stopping = Arc::new(AtomicBool::new(false));
    watch_signals(&server, &stopping, site.config.workers)?;
    // The janitor forgets expired sessions and old codes.
    let conn = db::open(db_path)?;
    let janitor = Worker::every("janitor", JANITOR_EVERY, move || {
        auth::sweep(&conn, Timestamp::now())
    })?;
    background.push((janitor, JOB_SHUTDOWN_WAIT));
    let (conn, base_url, mail_site) = (
        db::open(db_path)?,
        site.config.base_url.clone(),
        site.clone(),
    );
    let notices = Worker::every("notices", notices::INTERVAL, move || {
        let send = |m| mail_site.mailer.send(m);
        notices::run_once(&conn, &base_url, Timestamp::now(), &send).map(drop)
    })?;
    background.push((notices, JOB_SHUTDOWN_WAIT));
    // Rates, quotes and the daily totals: the market data job.
    let conn = db::open(db_path)?;
    let mut market = market::Job::new(
        market::Http::new(&site.config.fx_url, site.config.quotes.clone()),
        site.config.quotes.as_ref(),
    );
    let market = Worker::every("market", market::TICK, move || {
        market.run_once(&conn, Timestamp::now())
    })?;
    background.push((market, JOB_SHUTDOWN_WAIT));
    if let Some(outbox) = billing::outbox::start(
        db_path,
        site.config.paddle.as_ref(),
        site.metrics.paddle_api_failures.clone(),
    )? {
        background.push((outbox, OUTBOX_SHUTDOWN_WAIT));
    }
    background.push((site.pools.start(db_path)?, OFFLOAD_SHUTDOWN_WAIT));
    // `app billing-check`'s checks, once, on a thread of their own: each
    // failure is logged, none stops the server.
    billing::check::spawn_at_start(db_path, site.config.paddle.as_ref())?;

    let mut workers = Vec::new();
    for n in 0..site.config.workers {
        let conn = db::open(db_path)?;
        let (server, site, stopping) = (server.clone(), site.clone(), stopping.clone());
        workers.push(
            std::thread::Builder::new()
                .name(format!("worker-{n}"))
                .spawn(move || server::work(&server, &site, &conn, &stopping))?,
        );
    }
    log::event(
        "server.started",
        &[
            ("addr", &site.config.addr),
            ("base_url", &site.config.base_url),
            ("workers", &site.config.workers),
            ("max_connections", &max_connections),
            ("db", &db_path.display()),
            ("ms", &started.elapsed().as_millis()),
        ],
    );
    // A worker whose server stopped accepting (never by a signal) fails:
    // the process then exits non-zero, and systemd starts it again.
    let mut listening_failed = false;
    for worker in workers {
        listening_failed |= !matches!(worker.join(), Ok(Ok(())));
    }
    drop(server);
    // The pools first, the mail worker last: what they queue is still sent.
    for (worker, wait) in background.into_iter().rev() {
        worker.stop(Instant::now() + wait);
    }
    if listening_failed {
        log::event("server.stopped", &[("reason", &"the listening loop ended")]);
        return Err(Error::Internal(
            "the server stopped accepting connections".into(),
        ));
    }
    log::event("server.stopped", &[]);
    Ok(())
}

/// The listener, with the vendored server's bounds: what becomes of each
/// body (`gate`), the connection cap, and the app's log for trouble it goes
/// on from.
fn listen(site: &Arc<Site>, max_connections: usize) -> Result<tiny_http::Server> {
    let config = &site.config;
    let cannot =
        |e: &dyn std::fmt::Display| Error::Usage(format!("cannot listen on {}: {e}", config.addr));
    let addr = tiny_http::ConfigListenAddr::from_socket_addrs(config.addr.as_str())
        .map_err(|e| cannot(&e))?;
    tiny_http::Server::new(tiny_http::ServerConfig {
        addr,
        ssl: None,
        head: gate::hook(site.clone()),
        max_connections,
        report: capacity::report,
    })
    .map_err(|e| cannot(&e))
}

/// A panic in a handler is caught and answered with a 500; this makes its
/// report one log line like every other event.
fn log_panics_as_events() {
    std::panic::set_hook(Box::new(|info| {
        let at = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        let thread = std::thread::current()
            .name()
            .unwrap_or("unnamed")
            .to_string();
        log::event(
            "panic",
            &[("thread", &thread), ("at", &at), ("message", &message)],
        );
    }));
}

fn watch_signals(
    server: &Arc<tiny_http::Server>,
    stopping: &Arc<AtomicBool>,
    workers: usize,
) -> Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT])?;
    let (server, stopping) = (server.clone(), stopping.clone());
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            if let Some(signal) = signals.forever().next() {
                log::event("server.stopping", &[("signal", &signal)]);
                stopping.store(true, Ordering::SeqCst);
                // Each unblock wakes one waiting worker.
                for _ in 0..workers {
                    server.unblock();
                }
            }
        })?;
    Ok(())
}
