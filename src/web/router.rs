//! Every route, in one place, and the checks that stand in front of them
//! (`csrf`) for anything that changes state.

use crate::error::{Error, Result};

use super::csrf::{check_form_csrf, check_header_csrf, check_origin};
use super::handlers::{
    account, auth, csp_report, holdings_csv, leaving, pages, portal, portfolio, webhooks,
};
use super::http::{Method, Req, Resp};
use super::Ctx;

type Handler = fn(&Ctx, &Req) -> Result<Resp>;

/// The handler for a method and path, with the route's name for metrics.
fn lookup(method: Method, segments: &[&str]) -> Option<(&'static str, Handler)> {
    use Method::*;
    let route: (&'static str, Handler) = match (method, segments) {
        (Get, [""]) => ("GET /", pages::landing),
        (Get, ["healthz"]) => ("GET /healthz", pages::healthz),
        (Get, ["metrics"]) => ("GET /metrics", pages::metrics),
        (Get, ["assets", _]) => ("GET /assets/{file}", pages::asset),
        (Get, ["favicon.ico"]) => ("GET /favicon.ico", pages::favicon),
        (Get, ["login"]) => ("GET /login", auth::login_form),
        (Post, ["login"]) => ("POST /login", auth::login),
        (Get, ["verify"]) => ("GET /verify", auth::verify_form),
        (Post, ["verify"]) => ("POST /verify", auth::verify),
        (Get, ["api", "verify-status"]) => ("GET /api/verify-status", auth::verify_status),
        (Post, ["logout"]) => ("POST /logout", auth::logout),
        (Get, ["portfolio"]) => ("GET /portfolio", portfolio::page),
        (Get, ["portfolio", "holdings"]) => ("GET /portfolio/holdings", portfolio::to_page),
        (Post, ["portfolio", "holdings"]) => ("POST /portfolio/holdings", portfolio::save),
        (Get, ["portfolio", "holdings", _, "delete"]) => (
            "GET /portfolio/holdings/{symbol}/delete",
            portfolio::to_page,
        ),
        (Post, ["portfolio", "holdings", _, "delete"]) => (
            "POST /portfolio/holdings/{symbol}/delete",
            portfolio::delete,
        ),
        (Get, ["portfolio", "export.csv"]) => ("GET /portfolio/export.csv", holdings_csv::export),
        (Post, ["portfolio", "import"]) => ("POST /portfolio/import", holdings_csv::import),
        (Get, ["settings"]) => ("GET /settings", account::settings),
        (Post, ["settings", "currency"]) => ("POST /settings/currency", holdings_csv::set_currency),
        (Get, ["account", "export"]) => ("GET /account/export", leaving::export),
        (Post, ["account", "delete"]) => ("POST /account/delete", leaving::delete),
        (Get, ["api", "me"]) => ("GET /api/me", account::api_me),
        (Post, ["billing", "portal"]) => ("POST /billing/portal", portal::open),
        (Get, ["api", "portfolio"]) => ("GET /api/portfolio", portfolio::api_get),
        (Put, ["api", "portfolio"]) => ("PUT /api/portfolio", portfolio::api_put),
        (Post, ["api", "analyze"]) => ("POST /api/analyze", portfolio::analyze),
        (Post, ["webhooks", "paddle"]) => ("POST /webhooks/paddle", webhooks::paddle),
        (Post, ["csp-report"]) => ("POST /csp-report", csp_report::report),
        _ => return None,
    };
    Some(route)
}

/// More segments than any route has; a path longer than this is matched by
/// its first `MAX_SEGMENTS + 1` segments, which no route takes.
const MAX_SEGMENTS: usize = 8;

/// A path's segments in an array, not a `Vec`: every request is looked up
/// twice (to route it, and to name its route in the metrics).
struct Segments<'p> {
    parts: [&'p str; MAX_SEGMENTS + 1],
    len: usize,
}

impl<'p> Segments<'p> {
    fn of(path: &'p str) -> Segments<'p> {
        let mut segments = Segments {
            parts: [""; MAX_SEGMENTS + 1],
            len: 0,
        };
        for part in path.strip_prefix('/').unwrap_or(path).split('/') {
            if segments.len == segments.parts.len() {
                break;
            }
            segments.parts[segments.len] = part;
            segments.len += 1;
        }
        segments
    }

    fn as_slice(&self) -> &[&'p str] {
        &self.parts[..self.len]
    }
}

fn effective(method: Method) -> Method {
    if method == Method::Head {
        Method::Get
    } else {
        method
    }
}

/// The route's name (`GET /login`), or `other` for paths no route takes.
pub fn route_name(req: &Req) -> &'static str {
    lookup(effective(req.method), Segments::of(&req.path).as_slice())
        .map_or("other", |(name, _)| name)
}

pub fn route(ctx: &Ctx, req: &Req) -> Result<Resp> {
    let segments = Segments::of(&req.path);
    let segments = segments.as_slice();
    let Some((_, handler)) = lookup(effective(req.method), segments) else {
        let allowed: Vec<&str> = [
            (Method::Get, "GET, HEAD"),
            (Method::Post, "POST"),
            (Method::Put, "PUT"),
            (Method::Delete, "DELETE"),
        ]
        .into_iter()
        .filter(|(m, _)| lookup(*m, segments).is_some())
        .map(|(_, name)| name)
        .collect();
        return Err(if allowed.is_empty() {
            Error::NotFound
        } else {
            Error::MethodNotAllowed(allowed.join(", "))
        });
    };
    // A POST /verify whose pending cookie lapsed has no token to match; it
    // changes nothing and is sent back to the email form (handlers/auth.rs).
    let lapsed_sign_in = req.path == "/verify" && ctx.pending(req).is_none();
    if req.method.is_unsafe() && !is_signed_by_sender(&req.path) && !is_browser_report(&req.path) {
        check_origin(ctx, req)?;
        if is_json_api(&req.path) {
            check_header_csrf(ctx, req)?;
        } else if !lapsed_sign_in {
            check_form_csrf(ctx, req)?;
        }
    }
    handler(ctx, req)
}

pub fn is_json_api(path: &str) -> bool {
    path.starts_with("/api/")
        || path == "/metrics"
        || is_signed_by_sender(path)
        || is_browser_report(path)
}

/// Reports a browser sends by itself (`report-uri`): no cookie, Origin or
/// CSRF token to check; the handler trusts nothing in them but counts.
pub fn is_browser_report(path: &str) -> bool {
    path == "/csp-report"
}

/// Routes another server calls (webhooks): no browser, so no cookie, Origin
/// or CSRF token; each handler authenticates the body by its sender's
/// signature before reading it.
pub fn is_signed_by_sender(path: &str) -> bool {
    path == "/webhooks/paddle"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(method: Method, path: &str) -> &'static str {
        route_name(&Req::new(method, path))
    }

    #[test]
    fn route_names_by_segments_long_paths_included() {
        assert_eq!(name(Method::Get, "/"), "GET /");
        assert_eq!(name(Method::Head, "/settings"), "GET /settings");
        assert_eq!(
            name(Method::Post, "/portfolio/holdings/ABC/delete"),
            "POST /portfolio/holdings/{symbol}/delete"
        );
        assert_eq!(name(Method::Get, "/settings/"), "other");
        assert_eq!(name(Method::Get, "/assets/a/b"), "other");
        let long = format!("/portfolio/holdings/ABC/delete{}", "/x".repeat(40));
        assert_eq!(name(Method::Post, &long), "other");
        assert_eq!(name(Method::Get, &"/".repeat(100)), "other");
    }
}
