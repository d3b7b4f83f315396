//! The server loop: a fixed pool of worker threads, each with its own
//! database connection, pulling requests from tiny_http. This is the only
//! code that touches the socket.

use std::net::IpAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use rusqlite::Connection;

use crate::clock::Timestamp;
use crate::error::{Error, Result};
use crate::log;

use super::client::ClientAddr;
use super::http::{Method, Req, Resp};
use super::respond::{error_response, SECURITY_HEADERS};
use super::{compress, offload, router, Ctx, Site};

/// Requests being handled on request workers right now. A request line is
/// written at once when no other request is in hand, and batched
/// (`log::Flush::Soon`) while others are: the last of a burst writes them all.
static IN_HAND: AtomicUsize = AtomicUsize::new(0);

/// Counts one request in [`IN_HAND`] until dropped.
struct InHand;

impl InHand {
    fn enter() -> InHand {
        IN_HAND.fetch_add(1, Ordering::Relaxed);
        InHand
    }
}

impl Drop for InHand {
    fn drop(&mut self) {
        IN_HAND.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One worker: takes requests until the server is told to stop. An error
/// from the server while not stopping (its accept loop ended) stops every
/// worker and is returned, so that the process exits non-zero.
pub fn work(
    server: &tiny_http::Server,
    site: &Arc<Site>,
    conn: &Connection,
    stopping: &AtomicBool,
) -> Result<()> {
    let mut outcome = Ok(());
    while !stopping.load(Ordering::SeqCst) {
        match server.recv() {
            Ok(request) => handle(site, conn, request),
            Err(e) => {
                if !stopping.swap(true, Ordering::SeqCst) {
                    log::event("server.recv_failed", &[("error", &e)]);
                    outcome = Err(Error::Internal(format!("the server failed: {e}")));
                }
                break;
            }
        }
    }
    // Pass the wake-up on, in case the signal thread's ran out.
    server.unblock();
    outcome
}

fn handle(site: &Arc<Site>, conn: &Connection, mut request: tiny_http::Request) {
    let started = Instant::now();
    let in_hand = InHand::enter();
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
    let forwarded: Vec<&str> = headers
        .iter()
        .filter(|(n, _)| n == "x-forwarded-for")
        .map(|(_, v)| v.as_str())
        .collect();
    let client = ClientAddr::of(&site.config.trusted_proxies, peer, &forwarded);
    let now = Timestamp::now();
    if site.config.trusted_proxies.is_empty() && !forwarded.is_empty() {
        site.untrusted_proxy.note(peer, now);
    }
    let mut req = Req {
        method: Method::parse(request.method().as_str()),
        path: path.to_string(),
        query: query.to_string(),
        client,
        headers,
        body: Vec::new(),
        now,
    };

    let mut resp = match read_body(&mut request) {
        Ok(body) => {
            req.body = body;
            dispatch(site, conn, &req)
        }
        Err(e) => error_response(site, Some(conn), &req, &e),
    };
    drop(in_hand);
    match resp.offload.take() {
        Some(later) => hand_over(site, request, req, started, later),
        None => answer(site, request, &req, started, resp),
    }
}

/// Hands the request and the rest of its work to the pool the handler
/// named, whose thread answers it; a full pool is a 503, answered here.
fn hand_over(
    site: &Arc<Site>,
    request: tiny_http::Request,
    req: Req,
    started: Instant,
    later: offload::Offload,
) {
    let Some(slot) = site.pools.get(later.pool).reserve() else {
        log::event("offload.full", &[("pool", &later.pool)]);
        let busy = error_response(site, None, &req, &offload::full());
        return answer(site, request, &req, started, busy);
    };
    let site = site.clone();
    slot.run(Box::new(move |conn: &Connection| {
        let resp = guarded(&site, conn, &req, later.job);
        answer(&site, request, &req, started, resp);
    }));
}

/// The one way an answer leaves, from a worker or a pool thread: security
/// headers, metrics, the request's log line, then the bytes.
fn answer(site: &Site, request: tiny_http::Request, req: &Req, started: Instant, resp: Resp) {
    let resp = if resp.offload.is_some() {
        // A job that offloads again is a bug of ours, not a reason to hang.
        let bug = Error::Internal("a job asked to be offloaded".into());
        error_response(site, None, req, &bug)
    } else {
        resp
    };
    site.metrics
        .observe(router::route_name(req), resp.status, started.elapsed());
    let flush = if IN_HAND.load(Ordering::Relaxed) == 0 {
        log::Flush::Now
    } else {
        log::Flush::Soon
    };
    log::event_with(
        flush,
        "request",
        &[
            ("method", &request.method()),
            ("path", &req.path),
            ("status", &resp.status),
            ("ms", &Millis(started.elapsed())),
            ("client", &req.client),
        ],
    );
    let resp = compress::for_client(req, resp);
    let _ = request.respond(to_tiny(resp));
}

/// A duration as milliseconds with two decimals (`1.25`), without the
/// float formatting machinery.
struct Millis(Duration);

impl std::fmt::Display for Millis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hundredths = (self.0.as_micros() + 5) / 10;
        write!(f, "{}.{:02}", hundredths / 100, hundredths % 100)
    }
}

/// The body. The vendored server has read it whole on the connection's own
/// thread, within its route's limit and one deadline (`gate`), or refused
/// to read it; the answer to a refused one closes the connection.
fn read_body(request: &mut tiny_http::Request) -> Result<Vec<u8>> {
    use tiny_http::Refusal;
    match request.refusal() {
        Some(Refusal::TooLarge) => return Err(Error::PayloadTooLarge),
        Some(Refusal::LengthRequired) => return Err(Error::LengthRequired),
        Some(Refusal::TimedOut) => return Err(Error::RequestTimeout),
        // the route's screen (`gate`) said why, before the body was read
        Some(Refusal::Declined) => {
            return Err(request
                .take_declined()
                .and_then(|why| why.downcast::<Error>().ok())
                .map_or_else(|| Error::Internal("a body declined unsaid".into()), |e| *e))
        }
        Some(Refusal::Upgrade) => {
            return Err(Error::BadRequest(
                "This server does not switch protocols (Upgrade).".into(),
            ))
        }
        None => {}
    }
    let mut body = Vec::new();
    request
        .as_reader()
        .read_to_end(&mut body)
        .map_err(|_| Error::BadRequest("The request body could not be read.".into()))?;
    Ok(body)
}

/// Routes the request; a handler's error becomes its page or JSON, and a
/// handler's panic becomes a 500 while the worker lives on.
pub fn dispatch(site: &Site, conn: &Connection, req: &Req) -> Resp {
    guarded(site, conn, req, router::route)
}

fn guarded(
    site: &Site,
    conn: &Connection,
    req: &Req,
    route: impl FnOnce(&Ctx, &Req) -> Result<Resp>,
) -> Resp {
    let ctx = Ctx { site, db: conn };
    match catch_unwind(AssertUnwindSafe(|| route(&ctx, req))) {
        Ok(Ok(resp)) => resp,
        Ok(Err(e)) => error_response(site, Some(conn), req, &e),
        Err(_) => {
            log::event("handler.panicked", &[("path", &req.path)]);
            error_response(
                site,
                Some(conn),
                req,
                &Error::Internal("handler panicked".into()),
            )
        }
    }
}

/// The response on the wire, with the security headers it did not set
/// itself (`respond::SECURITY_HEADERS`, converted once).
fn to_tiny(resp: Resp) -> tiny_http::Response<std::io::Cursor<Vec<u8>>> {
    static SECURITY: OnceLock<Vec<tiny_http::Header>> = OnceLock::new();
    let security = SECURITY.get_or_init(|| {
        SECURITY_HEADERS
            .iter()
            .filter_map(|(n, v)| tiny_http::Header::from_bytes(n.as_bytes(), v.as_bytes()).ok())
            .collect()
    });
    let mut headers: Vec<tiny_http::Header> = Vec::with_capacity(resp.headers.len() + 5);
    headers.extend(
        resp.headers
            .iter()
            .filter_map(|(n, v)| tiny_http::Header::from_bytes(n.as_bytes(), v.as_bytes()).ok()),
    );
    for default in security {
        if resp.header(default.field.as_str().as_str()).is_none() {
            headers.push(default.clone());
        }
    }
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
    use crate::config::Config;
    use crate::crypto::Keys;
    use crate::db;
    use crate::services::mail::Mailer;

    fn site() -> Site {
        let config = Config::from_env(Default::default(), &|_| None).unwrap();
        let (mailer, _log_only) = Mailer::start(None, "no-reply@localhost").unwrap();
        Site::new(config, Keys::derive(&[7u8; 32]), mailer)
    }

    #[test]
    fn a_panicking_handler_becomes_a_500_and_the_worker_lives_on() {
        fn boom(_: &Ctx, _: &Req) -> Result<Resp> {
            panic!("boom")
        }
        let site = site();
        let conn = db::test_db();
        let resp = guarded(&site, &conn, &Req::new(Method::Get, "/"), boom);
        assert_eq!(resp.status, 500);
        let body = String::from_utf8_lossy(&resp.body);
        assert!(!body.contains("boom"), "no internal message shown");
        // the same connection keeps serving
        let resp = dispatch(&site, &conn, &Req::new(Method::Get, "/healthz"));
        assert_eq!(resp.status, 200);
    }

    #[test]
    fn a_server_that_fails_unasked_fails_the_worker_and_stops_the_others() {
        let site = Arc::new(site());
        let conn = db::test_db();
        let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
        // recv now fails while nobody is stopping, as after the accept loop ended
        server.unblock();
        let stopping = AtomicBool::new(false);
        assert!(work(&server, &site, &conn, &stopping).is_err());
        assert!(
            stopping.load(Ordering::SeqCst),
            "the other workers stop too"
        );
        // a signal's stop is no failure
        let stopping = AtomicBool::new(true);
        server.unblock();
        assert!(work(&server, &site, &conn, &stopping).is_ok());
    }

    #[test]
    fn a_header_value_holding_crlf_is_left_out_of_the_answer() {
        // e.g. a redirect to a URL another server gave us (CVE-2026-66753)
        let resp = Resp::redirect("/x\r\nSet-Cookie: session=attacker");
        let tiny = to_tiny(resp);
        let names: Vec<String> = tiny
            .headers()
            .iter()
            .map(|h| h.field.as_str().as_str().to_ascii_lowercase())
            .collect();
        assert!(!names.iter().any(|n| n == "location"), "{names:?}");
        assert!(!names.iter().any(|n| n == "set-cookie"), "{names:?}");
        assert!(
            names.iter().any(|n| n == "x-content-type-options"),
            "{names:?}"
        );
    }

    #[test]
    fn milliseconds_print_with_two_decimals() {
        let ms = |micros| Millis(Duration::from_micros(micros)).to_string();
        assert_eq!(ms(0), "0.00");
        assert_eq!(ms(4), "0.00");
        assert_eq!(ms(5), "0.01");
        assert_eq!(ms(1_234), "1.23");
        assert_eq!(ms(1_236), "1.24");
        assert_eq!(ms(12_999_996), "13000.00");
    }

    #[test]
    fn wrong_method_is_405_with_the_methods_that_are_allowed() {
        let site = site();
        let conn = db::test_db();
        let resp = dispatch(&site, &conn, &Req::new(Method::Delete, "/api/portfolio"));
        assert_eq!(resp.status, 405);
        assert_eq!(resp.header("Allow"), Some("GET, HEAD, PUT"));
        let resp = dispatch(&site, &conn, &Req::new(Method::Get, "/logout"));
        assert_eq!(resp.header("Allow"), Some("POST"));
    }

    #[test]
    fn errors_on_api_paths_are_json() {
        let site = site();
        let conn = db::test_db();
        let resp = dispatch(&site, &conn, &Req::new(Method::Get, "/api/nothing"));
        assert_eq!(resp.status, 404);
        let v: serde_json::Value = serde_json::from_slice(&resp.body).unwrap();
        assert_eq!(v["error"], "not_found");
        assert!(v["message"].is_string());
    }
}
