//! `POST /billing/portal`: "Manage billing" sends a subscriber to their
//! Paddle customer portal.

use super::frame;
use crate::error::{Error, Result};
use crate::log;
use crate::services::billing::portal;
use crate::views;
use crate::web::http::{Req, Resp};
use crate::web::Ctx;

const UNAVAILABLE: &str = "Billing is unavailable right now, try again in a minute.";

pub fn open(ctx: &Ctx, req: &Req) -> Result<Resp> {
    let session = ctx.require_session(req)?;
    let Some(paddle) = ctx.app.config.paddle.as_ref() else {
        return Err(Error::NotFound);
    };
    let Some(target) = portal::target(ctx.db, session.user.id)? else {
        return Err(Error::BadRequest(
            "There is no subscription on this account to manage yet. Upgrade from Settings first."
                .into(),
        ));
    };
    // The one call that waits on Paddle: it belongs on the offload pool,
    // never on a request worker.
    match portal::session_url(paddle, &target) {
        Ok(url) => {
            log::event("billing.portal_opened", &[("user_id", &session.user.id)]);
            Ok(Resp::redirect(&url).with_header("Cache-Control", "no-store"))
        }
        Err(error) => {
            log::event(
                "billing.portal_failed",
                &[("user_id", &session.user.id), ("error", &error)],
            );
            let csrf = ctx.csrf_token(req);
            let page = views::error::page_for(&frame(ctx, Some(&session), &csrf), 503, UNAVAILABLE);
            Ok(Resp::html(503, page)
                .with_header("Retry-After", "60")
                .with_header("Cache-Control", "no-store"))
        }
    }
}
