//! The app called in-process, for the handler tests in `tests/inproc/`: the
//! real router and handlers through `dispatch`, over an in-memory database,
//! with a log-only mailer and a clock that stands still. No sockets, no
//! server threads, no processes.

use rusqlite::Connection;

use crate::clock::{Timestamp, HOUR};
use crate::config::{Config, Flags};
use crate::crypto::{self, Keys};
use crate::db;
use crate::error::Result;
use crate::services::{auth::SESSION_LIFETIME, mail::Mailer};

use super::http::{Req, Resp};
use super::{respond, server, Ctx, Site};

/// An app with its own in-memory database and a pinned `now`.
pub struct InProcess {
    pub site: Site,
    db: Connection,
    now: Timestamp,
}

impl InProcess {
    /// The defaults (base URL `http://127.0.0.1:8080`, no SMTP, no LLM, no
    /// admin token); `now` is 2026-11-26 12:00:00 UTC.
    pub fn new() -> Result<InProcess> {
        InProcess::with_env(&[])
    }

    /// As if started with exactly these `APP_*` variables set.
    pub fn with_env(vars: &[(&str, &str)]) -> Result<InProcess> {
        let env = |key: &str| {
            vars.iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| v.to_string())
        };
        let config = Config::from_env(Flags::default(), &env)?;
        let (mailer, _log_only) = Mailer::start(None, &config.mail_from)?;
        let mut db = Connection::open_in_memory()?;
        db.execute_batch("PRAGMA foreign_keys = ON;")?;
        db::migrate(&mut db)?;
        Ok(InProcess {
            site: Site::new(config, Keys::derive(&[7u8; 32]), mailer),
            db,
            now: Timestamp::from_date(2026, 11, 26).plus(12 * HOUR),
        })
    }

    /// The clock every request sees.
    pub fn now(&self) -> Timestamp {
        self.now
    }

    pub fn set_now(&mut self, now: Timestamp) {
        self.now = now;
    }

    /// The app's database (one connection, as a worker has).
    pub fn db(&self) -> &Connection {
        &self.db
    }

    /// `APP_BASE_URL`, which is also the origin the CSRF check expects.
    pub fn base_url(&self) -> &str {
        &self.site.config.base_url
    }

    /// What the server loop would send for `req`, minus the socket: the
    /// router's answer (errors rendered) with the security headers. Work a
    /// handler offloads to a pool runs here, on this thread. The request's
    /// `now` is replaced by the pinned clock.
    pub fn send(&self, mut req: Req) -> Resp {
        req.now = self.now;
        let mut resp = server::dispatch(&self.site, &self.db, &req);
        if let Some(later) = resp.offload.take() {
            let ctx = Ctx {
                site: &self.site,
                db: &self.db,
            };
            resp = (later.job)(&ctx, &req)
                .unwrap_or_else(|e| respond::error_response(&self.site, Some(&self.db), &req, &e));
        }
        respond::with_security_headers(resp)
    }

    /// A new free account with a live session; returns the session token
    /// (the `session` cookie's value). Signing in by code is the process
    /// tier's business; this stands in for it.
    pub fn sign_in(&self, email: &str) -> Result<String> {
        let token = crypto::b64url(&crypto::random_bytes::<32>()?);
        db::write(&self.db, |tx| {
            let user = db::users::create(tx, email, self.now)?;
            // As sign-up does: every account has its referral code.
            crate::services::referral::give_code(tx, user.id)?;
            db::sessions::insert(
                tx,
                &crypto::sha256(token.as_bytes()),
                user.id,
                self.now,
                self.now.plus(SESSION_LIFETIME),
            )
        })?;
        Ok(token)
    }
}
