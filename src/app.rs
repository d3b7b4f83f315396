//! What `serve` builds and tears down: the keys, the listener, the mail
//! queue, the signal watcher, the janitor and the worker threads. The
//! request loop itself lives in `web::server`.

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
use crate::web::{capacity, gate, server, App};

/// How often the janitor sweeps.
const JANITOR_EVERY: Duration = Duration::from_secs(600);
/// How long, at shutdown, queued and running offloaded jobs may take.
const OFFLOAD_SHUTDOWN_WAIT: Duration = Duration::from_secs(30);

/// Runs the server until SIGTERM or SIGINT, then finishes in-flight requests,
/// the offloaded jobs (analyses) and the mail queue, and returns.
pub fn serve(config: Config, db_path: &Path) -> Result<()> {
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
    let mailer = Mailer::start(config.smtp_url.as_deref(), &config.mail_from)?;
    let app = Arc::new(App::new(config, keys, mailer));
    let max_connections = capacity::connection_cap(
        app.config.max_connections,
        capacity::open_file_limit(),
        app.config.workers,
    );
    let server = Arc::new(listen(&app, max_connections)?);
    let stopping = Arc::new(AtomicBool::new(false));
    watch_signals(&server, &stopping, app.config.workers)?;
    // The janitor forgets expired sessions and old codes.
    let conn = db::open(db_path)?;
    spawn_every("janitor", JANITOR_EVERY, &stopping, move || {
        auth::sweep(&conn, Timestamp::now())
    })?;
    let (conn, base_url, mail_app) = (db::open(db_path)?, app.config.base_url.clone(), app.clone());
    spawn_every("notices", notices::INTERVAL, &stopping, move || {
        let send = |m| mail_app.mailer.send(m);
        notices::run_once(&conn, &base_url, Timestamp::now(), &send).map(drop)
    })?;
    // Rates, quotes and the daily totals: the market data job.
    let conn = db::open(db_path)?;
    let mut market = market::Job::new(
        market::Http::new(&app.config.fx_url, app.config.quotes.clone()),
        app.config.quotes.as_ref(),
    );
    spawn_every("market", market::TICK, &stopping, move || {
        market.run_once(&conn, Timestamp::now())
    })?;
    let outbox = billing::outbox::start(
        db_path,
        app.config.paddle.as_ref(),
        app.metrics.paddle_api_failures.clone(),
    )?;
    app.pools.start(db_path)?;
    // `app billing-check`'s checks, once, on a thread of their own: each
    // failure is logged, none stops the server.
    billing::check::spawn_at_start(db_path, app.config.paddle.as_ref())?;

    let mut workers = Vec::new();
    for n in 0..app.config.workers {
        let conn = db::open(db_path)?;
        let (server, app, stopping) = (server.clone(), app.clone(), stopping.clone());
        workers.push(
            std::thread::Builder::new()
                .name(format!("worker-{n}"))
                .spawn(move || server::work(&server, &app, &conn, &stopping))?,
        );
    }
    log::event(
        "server.started",
        &[
            ("addr", &app.config.addr),
            ("base_url", &app.config.base_url),
            ("workers", &app.config.workers),
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
    if let Some(outbox) = outbox {
        outbox.stop(Duration::from_secs(3));
    }
    app.pools.shutdown(OFFLOAD_SHUTDOWN_WAIT);
    app.mailer.shutdown(Duration::from_secs(20));
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
fn listen(app: &Arc<App>, max_connections: usize) -> Result<tiny_http::Server> {
    let config = &app.config;
    let cannot =
        |e: &dyn std::fmt::Display| Error::Usage(format!("cannot listen on {}: {e}", config.addr));
    let addr = tiny_http::ConfigListenAddr::from_socket_addrs(config.addr.as_str())
        .map_err(|e| cannot(&e))?;
    tiny_http::Server::new(tiny_http::ServerConfig {
        addr,
        ssl: None,
        head: gate::hook(app.clone()),
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

/// Runs `job` at start and then every `every` on its own thread named
/// `name`, until `stopping`; a failure is logged as `{name}.failed` and the
/// job runs again at its next turn.
fn spawn_every(
    name: &'static str,
    every: Duration,
    stopping: &Arc<AtomicBool>,
    mut job: impl FnMut() -> Result<()> + Send + 'static,
) -> Result<()> {
    let stopping = stopping.clone();
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let mut next = Instant::now();
            while !stopping.load(Ordering::SeqCst) {
                if Instant::now() >= next {
                    if let Err(e) = job() {
                        log::event(&format!("{name}.failed"), &[("error", &e)]);
                    }
                    next = Instant::now() + every;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        })?;
    Ok(())
}
