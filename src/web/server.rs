//! The server loop: a fixed pool of worker threads, each with its own
//! database connection, pulling requests from tiny_http. This is the only
//! code that touches the socket.

use std::io::Read;
use std::net::IpAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rusqlite::Connection;

use crate::clock::Timestamp;
use crate::config::Config;
use crate::crypto::{self, Keys};
use crate::db;
use crate::error::{Error, Result};
use crate::log;
use crate::services::{auth, mail::Mailer};
use crate::views;

use super::http::{Method, Req, Resp};
use super::{router, App, Ctx, BODY_LIMIT};

const SECRET_KEY: &str = "app_secret";
/// How long a request body may take to arrive, once its head has.
const BODY_DEADLINE: Duration = Duration::from_secs(10);

/// Runs the server until SIGTERM or SIGINT, then finishes in-flight requests
/// and the mail queue, and returns.
pub fn serve(config: Config, db_path: &Path) -> Result<()> {
    let started = Instant::now();
    log_panics_as_events();
    let keys = {
        let conn = db::open_and_migrate(db_path)?;
        Keys::derive(&secret(&config, &conn)?)
    };
    let server = tiny_http::Server::http(&config.addr)
        .map_err(|e| Error::Usage(format!("cannot listen on {}: {e}", config.addr)))?;
    if config.smtp_url.is_none() {
        log::event(
            "mail.warning",
            &[("message", &"APP_SMTP_URL is unset: sign-in emails, codes included, are printed to this log. This is for trying the app out; set APP_SMTP_URL before real people sign in.")],
        );
    }
    let mailer = Mailer::start(config.smtp_url.as_deref(), &config.mail_from)?;
    let server = Arc::new(server);
    let app = Arc::new(App::new(config, keys, mailer));
    let stopping = Arc::new(AtomicBool::new(false));
    watch_signals(&server, &stopping, app.config.workers)?;
    spawn_janitor(db_path, &stopping)?;

    let mut workers = Vec::new();
    for n in 0..app.config.workers {
        let conn = db::open(db_path)?;
        let (server, app, stopping) = (server.clone(), app.clone(), stopping.clone());
        workers.push(
            std::thread::Builder::new()
                .name(format!("worker-{n}"))
                .spawn(move || work(&server, &app, &conn, &stopping))?,
        );
    }
    log::event(
        "server.started",
        &[
            ("addr", &app.config.addr),
            ("base_url", &app.config.base_url),
            ("workers", &app.config.workers),
            ("db", &db_path.display()),
            ("ms", &started.elapsed().as_millis()),
        ],
    );
    for worker in workers {
        let _ = worker.join();
    }
    drop(server);
    app.mailer.shutdown(Duration::from_secs(20));
    log::event("server.stopped", &[]);
    Ok(())
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

/// `APP_SECRET`, else the one generated on first start and kept in the file.
fn secret(config: &Config, conn: &Connection) -> Result<Vec<u8>> {
    if let Some(secret) = &config.secret {
        return Ok(secret.clone());
    }
    let fresh = crypto::hex(&crypto::random_bytes::<32>()?);
    let stored = db::write(conn, |tx| db::meta::get_or_insert(tx, SECRET_KEY, &fresh))?;
    Ok(stored.into_bytes())
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

/// Every ten minutes, forgets expired sessions and old codes.
fn spawn_janitor(db_path: &Path, stopping: &Arc<AtomicBool>) -> Result<()> {
    let conn = db::open(db_path)?;
    let stopping = stopping.clone();
    std::thread::Builder::new()
        .name("janitor".into())
        .spawn(move || {
            let mut next = Instant::now();
            while !stopping.load(Ordering::SeqCst) {
                if Instant::now() >= next {
                    if let Err(e) = auth::sweep(&conn, Timestamp::now()) {
                        log::event("janitor.failed", &[("error", &e)]);
                    }
                    next = Instant::now() + Duration::from_secs(600);
                }
                std::thread::sleep(Duration::from_millis(250));
            }
        })?;
    Ok(())
}

fn work(server: &tiny_http::Server, app: &App, conn: &Connection, stopping: &AtomicBool) {
    while !stopping.load(Ordering::SeqCst) {
        match server.recv() {
            Ok(request) => handle(app, conn, request),
            Err(e) => {
                if !stopping.load(Ordering::SeqCst) {
                    log::event("server.recv_failed", &[("error", &e)]);
                }
                break;
            }
        }
    }
    // Pass the wake-up on, in case the signal thread's ran out.
    server.unblock();
}

fn handle(app: &App, conn: &Connection, mut request: tiny_http::Request) {
    let started = Instant::now();
    let peer = request
        .remote_addr()
        .map(|a| a.ip())
        .unwrap_or(IpAddr::from([127, 0, 0, 1]));
    let url = request.url().to_string();
    let (path, query) = url.split_once('?').unwrap_or((&url, ""));
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .map(|h| {
            (
                h.field.as_str().as_str().to_ascii_lowercase(),
                h.value.as_str().to_string(),
            )
        })
        .collect();
    let mut req = Req {
        method: Method::parse(request.method().as_str()),
        path: path.to_string(),
        query: query.to_string(),
        client: peer,
        headers,
        body: Vec::new(),
        now: Timestamp::now(),
    };
    req.client = client_address(
        &app.config.trusted_proxies,
        peer,
        req.header("x-forwarded-for"),
    );

    let resp = match read_body(&mut request, &req.headers) {
        Ok(body) => {
            req.body = body;
            dispatch(app, conn, &req)
        }
        Err(e) => error_response(app, &req, &e),
    };
    let resp = with_security_headers(resp);
    app.metrics
        .observe(router::route_name(&req), resp.status, started.elapsed());
    log::event(
        "request",
        &[
            ("method", &request.method()),
            ("path", &req.path),
            ("status", &resp.status),
            (
                "ms",
                &format!("{:.2}", started.elapsed().as_secs_f64() * 1000.0),
            ),
            ("client", &req.client),
        ],
    );
    let _ = request.respond(to_tiny(resp));
}

/// The body, refused with 413 past 64 KiB before more than that is read.
/// Bodies that size are normally read already, on the connection's own
/// thread (vendor/tiny_http); what is read here is bounded in time too, so a
/// slow client cannot hold a worker.
fn read_body(request: &mut tiny_http::Request, headers: &[(String, String)]) -> Result<Vec<u8>> {
    if request.body_length().is_some_and(|n| n > BODY_LIMIT) {
        return Err(Error::PayloadTooLarge);
    }
    if headers.iter().any(|(n, _)| n == "transfer-encoding") {
        return Err(Error::LengthRequired);
    }
    let started = Instant::now();
    let mut body = Vec::new();
    let mut reader = request.as_reader().take(BODY_LIMIT as u64 + 1);
    let mut chunk = [0u8; 8192];
    loop {
        let n = reader
            .read(&mut chunk)
            .map_err(|_| Error::BadRequest("The request body could not be read.".into()))?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
        if body.len() > BODY_LIMIT {
            return Err(Error::PayloadTooLarge);
        }
        if started.elapsed() > BODY_DEADLINE {
            return Err(Error::RequestTimeout);
        }
    }
    Ok(body)
}

/// The client: the peer, or behind a trusted proxy the address it forwarded.
fn client_address(trusted: &[IpAddr], peer: IpAddr, forwarded: Option<&str>) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    forwarded
        .and_then(|v| v.rsplit(',').next())
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(peer)
}

/// Routes the request; a handler's error becomes its page or JSON, and a
/// handler's panic becomes a 500 while the worker lives on.
pub fn dispatch(app: &App, conn: &Connection, req: &Req) -> Resp {
    guarded(app, conn, req, router::route)
}

fn guarded(app: &App, conn: &Connection, req: &Req, route: fn(&Ctx, &Req) -> Result<Resp>) -> Resp {
    let ctx = Ctx { app, db: conn };
    match catch_unwind(AssertUnwindSafe(|| route(&ctx, req))) {
        Ok(Ok(resp)) => resp,
        Ok(Err(e)) => error_response(app, req, &e),
        Err(_) => {
            log::event("handler.panicked", &[("path", &req.path)]);
            error_response(app, req, &Error::Internal("handler panicked".into()))
        }
    }
}

fn error_response(app: &App, req: &Req, e: &Error) -> Resp {
    if e.status() >= 500 {
        log::event("request.failed", &[("path", &req.path), ("error", e)]);
    }
    let resp = if router::is_json_api(&req.path) {
        let mut body = serde_json::json!({ "error": e.code(), "message": e.public_message() });
        if let Error::PaymentRequired {
            reason,
            upgrade_url,
        } = e
        {
            body["reason"] = (*reason).into();
            body["upgrade_url"] = upgrade_url.as_str().into();
        }
        Resp::json(e.status(), &body)
    } else if matches!(e, Error::Unauthorized) {
        return Resp::redirect("/login");
    } else {
        Resp::html(
            e.status(),
            views::error::page(&app.assets, e.status(), &e.public_message()),
        )
    };
    match e {
        Error::TooManyRequests { retry_after, .. } => {
            resp.with_header("Retry-After", &retry_after.to_string())
        }
        Error::MethodNotAllowed(allowed) => resp.with_header("Allow", allowed),
        _ => resp,
    }
}

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; form-action 'self'; base-uri 'none'; object-src 'none'; \
                   frame-ancestors 'none'";

fn with_security_headers(mut resp: Resp) -> Resp {
    let defaults = [
        ("Content-Security-Policy", CSP),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "same-origin"),
        ("X-Frame-Options", "DENY"),
        ("Cache-Control", "no-store"),
    ];
    for (name, value) in defaults {
        if resp.header(name).is_none() {
            resp.headers.push((name.to_string(), value.to_string()));
        }
    }
    resp
}

fn to_tiny(resp: Resp) -> tiny_http::Response<std::io::Cursor<Vec<u8>>> {
    let headers = resp
        .headers
        .iter()
        .filter_map(|(n, v)| tiny_http::Header::from_bytes(n.as_bytes(), v.as_bytes()).ok())
        .collect();
    let len = resp.body.len();
    tiny_http::Response::new(
        resp.status.into(),
        headers,
        std::io::Cursor::new(resp.body),
        Some(len),
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::mail::Mailer;

    fn app() -> App {
        let config = Config::from_env(Default::default(), &|_| None).unwrap();
        let mailer = Mailer::start(None, "no-reply@localhost").unwrap();
        App::new(config, Keys::derive(&[7u8; 32]), mailer)
    }

    #[test]
    fn a_panicking_handler_becomes_a_500_and_the_worker_lives_on() {
        fn boom(_: &Ctx, _: &Req) -> Result<Resp> {
            panic!("boom")
        }
        let app = app();
        let conn = db::test_db();
        let resp = guarded(&app, &conn, &Req::new(Method::Get, "/"), boom);
        assert_eq!(resp.status, 500);
        let body = String::from_utf8_lossy(&resp.body);
        assert!(!body.contains("boom"), "no internal message shown");
        // the same connection keeps serving
        let resp = dispatch(&app, &conn, &Req::new(Method::Get, "/healthz"));
        assert_eq!(resp.status, 200);
    }

    #[test]
    fn wrong_method_is_405_with_the_methods_that_are_allowed() {
        let app = app();
        let conn = db::test_db();
        let resp = dispatch(&app, &conn, &Req::new(Method::Delete, "/api/portfolio"));
        assert_eq!(resp.status, 405);
        assert_eq!(resp.header("Allow"), Some("GET, HEAD, PUT"));
        let resp = dispatch(&app, &conn, &Req::new(Method::Get, "/logout"));
        assert_eq!(resp.header("Allow"), Some("POST"));
    }

    #[test]
    fn errors_on_api_paths_are_json() {
        let app = app();
        let conn = db::test_db();
        let resp = dispatch(&app, &conn, &Req::new(Method::Get, "/api/nothing"));
        assert_eq!(resp.status, 404);
        let v: serde_json::Value = serde_json::from_slice(&resp.body).unwrap();
        assert_eq!(v["error"], "not_found");
        assert!(v["message"].is_string());
    }

    #[test]
    fn forwarded_for_is_believed_only_from_a_trusted_proxy() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        let fwd = Some("1.2.3.4, 5.6.7.8");
        assert_eq!(
            client_address(&[proxy], proxy, fwd),
            "5.6.7.8".parse::<IpAddr>().unwrap()
        );
        assert_eq!(client_address(&[proxy], other, fwd), other);
        assert_eq!(client_address(&[], proxy, fwd), proxy);
        assert_eq!(client_address(&[proxy], proxy, Some("junk")), proxy);
    }
}
