//! The in-process tier: the real router and handlers called through the
//! app's `dispatch` with a test context (`app::web::testing::InProcess`: an
//! in-memory database, a log-only mailer, a clock that stands still). No
//! sockets, no processes. CSRF, 405, 404, 401, 402, input validation and page
//! rendering are checked here; `web/` and `cli/` keep what needs the real
//! process: wiring, hostile sockets, signals, the CLI and durability.
//!
//! Answers come back as the process tier's `support::Resp`, so the same
//! assertions (`json_error`, `csrf_in`, `assert_security_headers`) serve both.

mod csp_report;
mod guards;
mod newcomer;
mod pages;
mod paid;
mod signin;
mod validation;

use app::web::http::{Method, Req};
use app::web::testing::InProcess;

use crate::support::{cookie_pair, csrf_in, form_encode, Resp};

/// A fresh app: default configuration, empty database.
fn app() -> InProcess {
    InProcess::new().unwrap_or_else(|e| panic!("an in-process app: {e}"))
}

/// Like `app`, as if started with these `APP_*` variables.
fn app_with(vars: &[(&str, &str)]) -> InProcess {
    InProcess::with_env(vars).unwrap_or_else(|e| panic!("an in-process app with {vars:?}: {e}"))
}

/// A new free account; returns its session token.
fn signed_in(app: &InProcess, email: &str) -> String {
    app.sign_in(email)
        .unwrap_or_else(|e| panic!("sign {email} in: {e}"))
}

/// `METHOD path` with no headers and no body.
fn request(method: &str, path: &str) -> Req {
    Req::new(Method::parse(method), path)
}

fn get(path: &str) -> Req {
    request("GET", path)
}

/// Building a request the way a browser (or an attacker) would send it.
trait Build {
    /// Adds a header (names are lowercased, as the server loop does).
    fn with_header(self, name: &str, value: &str) -> Req;
    /// Sends a cookie, `name=value`.
    fn with_cookie(self, pair: &str) -> Req;
    /// Sends the `session` cookie.
    fn with_session(self, token: &str) -> Req;
    /// A urlencoded form body.
    fn with_form(self, fields: &[(&str, &str)]) -> Req;
    /// A JSON body with `Content-Type: application/json`.
    fn with_json(self, body: &str) -> Req;
}

impl Build for Req {
    fn with_header(mut self, name: &str, value: &str) -> Req {
        self.headers
            .push((name.to_ascii_lowercase(), value.to_string()));
        self
    }

    fn with_cookie(self, pair: &str) -> Req {
        self.with_header("cookie", pair)
    }

    fn with_session(self, token: &str) -> Req {
        self.with_cookie(&format!("session={token}"))
    }

    fn with_form(mut self, fields: &[(&str, &str)]) -> Req {
        self.body = form_encode(fields).into_bytes();
        self.with_header("content-type", "application/x-www-form-urlencoded")
    }

    fn with_json(mut self, body: &str) -> Req {
        self.body = body.as_bytes().to_vec();
        self.with_header("content-type", "application/json")
    }
}

/// The app's answer to `req`, as the process tier's `Resp`.
fn send(app: &InProcess, req: Req) -> Resp {
    let resp = app.send(req);
    Resp {
        status: resp.status,
        body: String::from_utf8_lossy(&resp.body).into_owned(),
        body_bytes: resp.body,
        headers: resp.headers,
    }
}

/// The CSRF token on `page` (a GET), signed in with `session`.
fn csrf_of(app: &InProcess, page: &str, session: &str) -> String {
    let resp = send(app, get(page).with_session(session));
    assert_eq!(resp.status, 200, "GET {page}: {}", resp.summary());
    csrf_in(&resp.body)
}

/// A signed-out visitor's form on `page` (a GET): its CSRF token, and the
/// `visitor` cookie (`name=value`) the token is bound to.
fn visitor_form(app: &InProcess, page: &str) -> (String, String) {
    let resp = send(app, get(page));
    assert_eq!(resp.status, 200, "GET {page}: {}", resp.summary());
    let cookie = resp
        .set_cookies()
        .into_iter()
        .map(cookie_pair)
        .find(|(name, _)| name.ends_with("visitor"))
        .map(|(name, value)| format!("{name}={value}"))
        .unwrap_or_else(|| panic!("GET {page} gave no visitor cookie: {}", resp.summary()));
    (csrf_in(&resp.body), cookie)
}

/// One integer `sql` selects from the app's database.
fn count(app: &InProcess, sql: &str) -> i64 {
    app.db()
        .query_row(sql, [], |r| r.get(0))
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}
