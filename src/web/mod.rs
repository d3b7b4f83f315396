//! The web side: the server loop, the one router, our request/response
//! types, cookies, CSRF, and the handlers. Handlers are plain functions
//! `fn(&Ctx, &Req) -> Result<Resp>`.

use rusqlite::Connection;

use crate::config::Config;
use crate::crypto::Keys;
use crate::db::users::User;
use crate::error::{Error, Result};
use crate::log;
use crate::services::access::{self, Caller};
use crate::services::{analyst::llm::Llm, auth, mail::Mailer, ratelimit::Limiter};

pub mod assets;
pub mod capacity;
pub mod client;
pub mod compress;
pub mod cookies;
pub mod csp;
pub mod csrf;
pub mod flash;
pub mod gate;
mod handlers;
pub mod holdings_json;
pub mod http;
pub mod metrics;
pub mod multipart;
pub mod offload;
pub mod outage;
pub mod respond;
pub mod router;
pub mod server;
pub mod testing;

use cookies::PendingCookie;
use http::Req;

/// The body limit of pages and the JSON API (SPEC §4): the one constant the
/// vendored server and the app share. A webhook's route names its own
/// (`router::Kind::Webhook`).
pub const BODY_LIMIT: usize = tiny_http::limits::BODY_LIMIT;

/// How many analyses one caller may ask of the LLM a minute.
pub const ANALYSES_PER_MINUTE: usize = 6;

/// The running site, what every worker shares: configuration, keys, the
/// mail queue, the pools and the in-memory per-client limits.
pub struct Site {
    pub config: Config,
    pub keys: Keys,
    pub mailer: Mailer,
    pub code_requests_per_client: Limiter,
    pub wrong_admin_tokens: Limiter,
    /// Analyses per user (or per admin client) with an LLM configured.
    pub analyses_per_caller: Limiter,
    /// Wrong admin tokens from every client together: a ceiling that
    /// spreading guesses over many addresses does not escape.
    pub wrong_admin_tokens_everywhere: Limiter,
    pub assets: assets::Assets,
    /// The LLM analyst, when `APP_LLM_URL` is set.
    pub llm: Option<Llm>,
    pub metrics: metrics::Metrics,
    /// Threads for work that waits on another server; see `offload`.
    pub pools: offload::Pools,
    /// Checkout and portal calls each person has waiting on Paddle.
    pub paddle_calls: crate::services::billing::in_flight::PaddleCalls,
    /// Places for webhook bodies larger than a form (`gate`).
    pub large_bodies: gate::Permits,
    /// A few CSP violation log lines a minute; the rest are counted.
    pub csp_log_budget: crate::services::csp_report::LogBudget,
    /// `X-Forwarded-For` without `APP_TRUSTED_PROXY`, said once an hour.
    pub untrusted_proxy: client::UntrustedProxyWarning,
}

impl Site {
    pub fn new(config: Config, keys: Keys, mailer: Mailer) -> Site {
        Site {
            keys,
            mailer,
            code_requests_per_client: Limiter::new(auth::CODES_PER_HOUR_PER_CLIENT, 3600),
            wrong_admin_tokens: Limiter::new(access::WRONG_ADMIN_TOKENS_PER_CLIENT, 600),
            wrong_admin_tokens_everywhere: Limiter::new(access::WRONG_ADMIN_TOKENS_EVERYWHERE, 600),
            analyses_per_caller: Limiter::new(ANALYSES_PER_MINUTE, 60),
            assets: assets::Assets::new(),
            llm: config.llm.clone().map(Llm::new),
            metrics: metrics::Metrics::default(),
            pools: offload::Pools::new(&config),
            paddle_calls: Default::default(),
            large_bodies: gate::Permits::new(gate::LARGE_BODIES_AT_ONCE),
            csp_log_budget: Default::default(),
            untrusted_proxy: Default::default(),
            config,
        }
    }
}

/// One request's view of the app: the shared state and this worker's own
/// database connection.
pub struct Ctx<'a> {
    pub site: &'a Site,
    pub db: &'a Connection,
}

/// A signed-in person.
pub struct Session {
    pub user: User,
    pub token: String,
}

impl Ctx<'_> {
    pub fn https(&self) -> bool {
        self.site.config.https()
    }

    pub fn cookie_name(&self, base: &str) -> String {
        cookies::name(base, self.https())
    }

    pub(crate) fn session_token<'r>(&self, req: &'r Req) -> Option<&'r str> {
        req.cookie(&self.cookie_name(cookies::SESSION))
            .filter(|t| !t.is_empty() && t.len() <= 128)
    }

    /// The signed-in user, if the session cookie names a live session.
    pub fn session(&self, req: &Req) -> Result<Option<Session>> {
        let Some(token) = self.session_token(req) else {
            return Ok(None);
        };
        Ok(
            auth::session_user(self.db, token, req.now)?.map(|user| Session {
                user,
                token: token.to_string(),
            }),
        )
    }

    /// The signed-in user, or 401 (which pages turn into a trip to /login).
    pub fn require_session(&self, req: &Req) -> Result<Session> {
        self.session(req)?.ok_or(Error::Unauthorized)
    }

    pub fn pending(&self, req: &Req) -> Option<PendingCookie> {
        let value = req.cookie(&self.cookie_name(cookies::PENDING))?;
        PendingCookie::open(&self.site.keys.pending_cookie, value, req.now)
    }

    /// The CSRF token for forms on this request's pages (see `csrf`).
    pub fn csrf_token(&self, req: &Req) -> String {
        csrf::token(self, req)
    }

    /// The caller of a paid route: the admin bearer token or a session. The
    /// right token always passes (SPEC §8): it is compared first, so wrong
    /// tokens from anyone never lock it out. A wrong one is a 401, and past
    /// the limits (per client, and from all clients together) a 429 that is
    /// neither counted nor logged again.
    pub fn caller(&self, req: &Req) -> Result<Option<Caller>> {
        if let Some(header) = req.header("authorization") {
            let presented = header
                .strip_prefix("Bearer ")
                .or_else(|| header.strip_prefix("bearer "))
                .unwrap_or("");
            if access::admin_token_matches(
                self.site.config.admin_token.as_deref(),
                presented.trim(),
            ) {
                return Ok(Some(Caller::Admin));
            }
            let client = req.client.limit_key();
            let everywhere = self
                .site
                .wrong_admin_tokens_everywhere
                .retry_after("all", req.now);
            let here = self.site.wrong_admin_tokens.retry_after(&client, req.now);
            if let Some(retry_after) = here.max(everywhere) {
                return Err(Error::TooManyRequests {
                    retry_after,
                    message: "Too many wrong tokens. Try again later.".into(),
                });
            }
            self.site.wrong_admin_tokens.hit(&client, req.now);
            self.site.wrong_admin_tokens_everywhere.hit("all", req.now);
            log::event("auth.admin_token_rejected", &[("client", &client)]);
            return Err(Error::Unauthorized);
        }
        Ok(self.session(req)?.map(|s| Caller::User(s.user)))
    }

    /// Lets through callers with paid access; 401 for no caller, 402 with
    /// the reason for a free one.
    pub fn require_paid(&self, req: &Req) -> Result<Caller> {
        let caller = self.caller(req)?.ok_or(Error::Unauthorized)?;
        if let Caller::User(user) = &caller {
            access::check(user, req.now)?;
        }
        Ok(caller)
    }

    /// The origin this app is served from, as browsers write `Origin`.
    pub fn origin(&self) -> &str {
        &self.site.config.base_url
    }
}
