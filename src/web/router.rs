//! Every route, in one place, and the checks that stand in front of them
//! (`csrf`) for anything that changes state.

use crate::error::{Error, Result};

use super::csrf::{check_form_csrf, check_header_csrf, check_origin};
use super::handlers::{
    account, auth, checkout, csp_report, holdings_csv, leaving, pages, portal, portfolio, webhooks,
};
use super::http::{Method, Req, Resp};
use super::{Ctx, Site};
use crate::clock::Timestamp;

type Handler = fn(&Ctx, &Req) -> Result<Resp>;

/// One route: its name (for metrics), its handler, and its policy.
#[derive(Clone, Copy)]
pub struct Route {
    pub name: &'static str,
    pub handler: Handler,
    pub kind: Kind,
}

/// What a route is, which decides its body limit, the form its errors take
/// (a page or JSON) and how a request that changes state proves it came from
/// our own pages (CSRF).
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    /// A page or a form: errors are pages (a 401 a trip to `/login`); a
    /// POST carries the form's `csrf` token and a same-site Origin.
    Page,
    /// `POST /verify`: a form whose token binds to the pending sign-in. Once
    /// that cookie lapsed there is nothing to bind a token to, and the
    /// handler writes nothing and sends the person back to the email form,
    /// so the token is asked for only while the sign-in is live (the Origin
    /// check still runs).
    SignIn,
    /// The JSON API: errors are `{"error","message"}`; a request that
    /// changes state needs a same-site Origin, and a token our script sends
    /// as `X-CSRF-Token` must be right.
    Json,
    /// Called by something other than our pages (another server's webhook,
    /// a browser's own report): no cookie, Origin or CSRF token; errors are
    /// JSON; its own body limit. The handler authenticates the sender;
    /// `screen`, when there is one, looks at the head first, and an error
    /// from it is the answer, the body left unread (`gate`).
    Webhook {
        body_limit: usize,
        screen: Option<Screen>,
    },
}

/// A webhook's check of a request's head, before its body is read.
pub type Screen = fn(&Site, &tiny_http::Head<'_>, Timestamp) -> Result<()>;

impl Kind {
    /// The longest body the server reads for this route; a longer
    /// `Content-Length` is refused (413) before any of it is read.
    pub fn body_limit(self) -> usize {
        match self {
            Kind::Webhook { body_limit, .. } => body_limit,
            Kind::Page | Kind::SignIn | Kind::Json => super::BODY_LIMIT,
        }
    }

    /// Errors are JSON, not pages.
    pub fn answers_json(self) -> bool {
        matches!(self, Kind::Json | Kind::Webhook { .. })
    }
}

/// Paddle's webhook deliveries may be larger than a form (SPEC §7); with
/// billing off, or without a well-formed, fresh `Paddle-Signature`, the
/// body is not read at all.
pub const PADDLE_WEBHOOK: Kind = Kind::Webhook {
    body_limit: 1024 * 1024,
    screen: Some(webhooks::screen),
};

/// A browser's CSP violation report (`report-uri`): small, no cookie,
/// Origin or CSRF token; the handler trusts nothing in it but counts.
pub const CSP_REPORT: Kind = Kind::Webhook {
    body_limit: crate::services::csp_report::BODY_LIMIT,
    screen: None,
};

/// The route for a method and path.
fn lookup(method: Method, segments: &[&str]) -> Option<Route> {
    use Kind::{Json, Page, SignIn};
    use Method::*;
    let (name, handler, kind): (&'static str, Handler, Kind) = match (method, segments) {
        (Get, [""]) => ("GET /", pages::landing, Page),
        (Get, ["healthz"]) => ("GET /healthz", pages::healthz, Page),
        (Get, ["metrics"]) => ("GET /metrics", pages::metrics, Json),
        (Get, ["assets", _]) => ("GET /assets/{file}", pages::asset, Page),
        (Get, ["favicon.ico"]) => ("GET /favicon.ico", pages::favicon, Page),
        (Get, ["login"]) => ("GET /login", auth::login_form, Page),
        (Post, ["login"]) => ("POST /login", auth::login, Page),
        (Get, ["verify"]) => ("GET /verify", auth::verify_form, Page),
        (Post, ["verify"]) => ("POST /verify", auth::verify, SignIn),
        (Get, ["api", "verify-status"]) => ("GET /api/verify-status", auth::verify_status, Json),
        (Post, ["logout"]) => ("POST /logout", auth::logout, Page),
        (Get, ["portfolio"]) => ("GET /portfolio", portfolio::page, Page),
        (Get, ["portfolio", "holdings"]) => ("GET /portfolio/holdings", portfolio::to_page, Page),
        (Post, ["portfolio", "holdings"]) => ("POST /portfolio/holdings", portfolio::save, Page),
        (Get, ["portfolio", "holdings", _, "delete"]) => (
            "GET /portfolio/holdings/{symbol}/delete",
            portfolio::to_page,
            Page,
        ),
        (Post, ["portfolio", "holdings", _, "delete"]) => (
            "POST /portfolio/holdings/{symbol}/delete",
            portfolio::delete,
            Page,
        ),
        (Get, ["portfolio", "export.csv"]) => {
            ("GET /portfolio/export.csv", holdings_csv::export, Page)
        }
        (Post, ["portfolio", "import"]) => ("POST /portfolio/import", holdings_csv::import, Page),
        (Get, ["settings"]) => ("GET /settings", account::settings, Page),
        (Post, ["settings", "currency"]) => {
            ("POST /settings/currency", holdings_csv::set_currency, Page)
        }
        (Get, ["account", "export"]) => ("GET /account/export", leaving::export, Page),
        (Post, ["account", "delete"]) => ("POST /account/delete", leaving::delete, Page),
        (Get, ["api", "me"]) => ("GET /api/me", account::api_me, Json),
        (Post, ["billing", "portal"]) => ("POST /billing/portal", portal::open, Page),
        (Post, ["billing", "checkout"]) => ("POST /billing/checkout", checkout::start, Page),
        (Get, ["api", "portfolio"]) => ("GET /api/portfolio", portfolio::api_get, Json),
        (Put, ["api", "portfolio"]) => ("PUT /api/portfolio", portfolio::api_put, Json),
        (Post, ["api", "analyze"]) => ("POST /api/analyze", portfolio::analyze, Json),
        (Post, ["webhooks", "paddle"]) => {
            ("POST /webhooks/paddle", webhooks::paddle, PADDLE_WEBHOOK)
        }
        (Post, ["csp-report"]) => ("POST /csp-report", csp_report::report, CSP_REPORT),
        _ => return None,
    };
    Some(Route {
        name,
        handler,
        kind,
    })
}

/// The methods routes take, as `Allow` names them.
const METHODS: [(Method, &str); 4] = [
    (Method::Get, "GET, HEAD"),
    (Method::Post, "POST"),
    (Method::Put, "PUT"),
    (Method::Delete, "DELETE"),
];

/// More segments than any route has; a path longer than this is matched by
/// its first `MAX_SEGMENTS + 1` segments, which no route takes.
const MAX_SEGMENTS: usize = 8;

/// A path's segments in an array, not a `Vec`: every request is looked up
/// more than once (its body limit, its route, its name in the metrics).
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
    lookup(effective(req.method), Segments::of(&req.path).as_slice()).map_or("other", |r| r.name)
}

/// The policy of a request's path: its route's kind, or for a method the
/// path does not take, the kind of a route it does (its 405 speaks that
/// route's language). A path no route takes is a page, except under `/api/`
/// where a client expects JSON even for a 404.
pub fn kind_of(method: Method, path: &str) -> Kind {
    let segments = Segments::of(path);
    let segments = segments.as_slice();
    lookup(effective(method), segments)
        .or_else(|| METHODS.iter().find_map(|(m, _)| lookup(*m, segments)))
        .map_or_else(
            || {
                if segments.first() == Some(&"api") {
                    Kind::Json
                } else {
                    Kind::Page
                }
            },
            |r| r.kind,
        )
}

/// Some route takes this method at this path.
pub fn takes(method: Method, path: &str) -> bool {
    lookup(effective(method), Segments::of(path).as_slice()).is_some()
}

pub fn route(ctx: &Ctx, req: &Req) -> Result<Resp> {
    let segments = Segments::of(&req.path);
    let segments = segments.as_slice();
    let Some(route) = lookup(effective(req.method), segments) else {
        let allowed: Vec<&str> = METHODS
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
    if req.method.is_unsafe() {
        match route.kind {
            Kind::Page => {
                check_origin(ctx, req)?;
                check_form_csrf(ctx, req)?;
            }
            Kind::SignIn => {
                check_origin(ctx, req)?;
                if ctx.pending(req).is_some() {
                    check_form_csrf(ctx, req)?;
                }
            }
            Kind::Json => {
                check_origin(ctx, req)?;
                check_header_csrf(ctx, req)?;
            }
            Kind::Webhook { .. } => {}
        }
    }
    (route.handler)(ctx, req)
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

    #[test]
    fn the_kind_of_a_path_comes_from_its_routes() {
        let is = |method, path, want: fn(Kind) -> bool| want(kind_of(method, path));
        assert!(is(Method::Post, "/login", |k| matches!(k, Kind::Page)));
        assert!(is(Method::Post, "/verify", |k| matches!(k, Kind::SignIn)));
        assert!(is(Method::Get, "/verify", |k| matches!(k, Kind::Page)));
        assert!(is(Method::Get, "/metrics", |k| matches!(k, Kind::Json)));
        let webhook = |k| {
            matches!(
                k,
                Kind::Webhook {
                    body_limit: 1_048_576,
                    screen: Some(_)
                }
            )
        };
        assert!(is(Method::Post, "/webhooks/paddle", webhook));
        // a method the path does not take speaks its routes' language
        assert!(is(Method::Get, "/webhooks/paddle", webhook));
        assert!(is(Method::Delete, "/api/portfolio", |k| matches!(
            k,
            Kind::Json
        )));
        // paths no route takes
        assert!(is(Method::Get, "/api/nothing", |k| matches!(k, Kind::Json)));
        assert!(is(Method::Get, "/nothing", |k| matches!(k, Kind::Page)));
        assert!(takes(Method::Post, "/webhooks/paddle"));
        assert!(!takes(Method::Get, "/webhooks/paddle"));
        assert_eq!(PADDLE_WEBHOOK.body_limit(), 1024 * 1024);
        assert_eq!(Kind::Json.body_limit(), crate::web::BODY_LIMIT);
        assert!(PADDLE_WEBHOOK.answers_json() && !Kind::SignIn.answers_json());
    }
}
