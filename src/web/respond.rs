//! How an answer leaves: errors rendered as a page or as JSON, and the
//! security headers every response carries.

use rusqlite::Connection;

use crate::error::Error;
use crate::log;
use crate::views;

use super::http::{Req, Resp};
use super::{router, Ctx, Site};

/// The error as a page or JSON. With this worker's connection, a page for a
/// signed-in person keeps their top bar.
pub fn error_response(site: &Site, conn: Option<&Connection>, req: &Req, e: &Error) -> Resp {
    if e.is_storage_unavailable() {
        super::outage::report(e, req.now);
    } else if e.status() >= 500 {
        log::event("request.failed", &[("path", &req.path), ("error", e)]);
    }
    let resp = if router::kind_of(req.method, &req.path).answers_json() {
        let mut body = serde_json::json!({ "error": e.code(), "message": e.public_message() });
        if let Error::PaymentRequired { reason, .. } = e {
            body["reason"] = (*reason).into();
            body["upgrade_url"] = format!("{}/settings#upgrade", site.config.base_url).into();
        }
        Resp::json(e.status(), &body)
    } else if matches!(e, Error::Unauthorized) {
        return Resp::redirect("/login");
    } else {
        // A signed-in person keeps their top bar (a 404 or 405 is no dead
        // end); after a server error nothing more is asked of the database.
        let markup = match conn {
            Some(db) => {
                let ctx = Ctx { site, db };
                let session = (e.status() < 500)
                    .then(|| ctx.session(req).ok().flatten())
                    .flatten();
                let csrf = ctx.csrf_token(req);
                let frame = super::handlers::frame(&ctx, session.as_ref(), &csrf);
                views::error::page_for(&frame, e.status(), &e.public_message())
            }
            None => views::error::page(&site.assets.urls, e.status(), &e.public_message()),
        };
        Resp::html(e.status(), markup)
    };
    match e {
        Error::TooManyRequests { retry_after, .. } | Error::Unavailable { retry_after, .. } => {
            resp.with_header("Retry-After", &retry_after.to_string())
        }
        Error::MethodNotAllowed(allowed) => resp.with_header("Allow", allowed),
        _ if e.is_storage_unavailable() => {
            resp.with_header("Retry-After", &super::outage::RETRY_AFTER.to_string())
        }
        _ => resp,
    }
}

/// Strict: nothing inline, nothing from elsewhere; violations are reported
/// to `POST /csp-report` (`csp::REPORT_URI`).
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; form-action 'self'; base-uri 'none'; object-src 'none'; \
                   frame-ancestors 'none'; report-uri /csp-report";

/// Every response carries these, unless it set its own (a page with the
/// checkout has its own CSP). The server turns them into wire headers once,
/// at start-up, not per response.
pub const SECURITY_HEADERS: [(&str, &str); 5] = [
    ("Content-Security-Policy", CSP),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
    ("X-Frame-Options", "DENY"),
    ("Cache-Control", "no-store"),
];

pub fn with_security_headers(mut resp: Resp) -> Resp {
    for (name, value) in SECURITY_HEADERS {
        if resp.header(name).is_none() {
            resp.headers.push((name.to_string(), value.to_string()));
        }
    }
    resp
}
