//! `POST /billing/portal`: "Manage billing" sends a subscriber to their
//! Paddle customer portal.

use super::frame;
use crate::error::{Error, Result};
use crate::log;
use crate::services::billing::portal;
use crate::views;
use crate::web::http::{Req, Resp};
use crate::web::offload::{self, PoolName};
use crate::web::Ctx;

const UNAVAILABLE: &str = "Billing is unavailable right now, try again in a minute.";

pub fn open(ctx: &Ctx, req: &Req) -> Result<Resp> {
    let session = ctx.require_session(req)?;
    if ctx.site.config.paddle.is_none() {
        return Err(Error::NotFound);
    }
    let Some(target) = portal::target(ctx.db, session.user.id)? else {
        return Err(Error::BadRequest(
            "There is no subscription on this account to manage yet. Upgrade from Settings first."
                .into(),
        ));
    };
    let user_id = session.user.id;
    let call = ctx
        .site
        .paddle_calls
        .begin("portal", user_id, req.now)
        .map_err(super::checkout::refused)?;
    if ctx.site.pools.paddle.is_full() {
        return Err(offload::full());
    }
    // Paddle may take seconds: its own pool waits for it, never a worker.
    Ok(Resp::offload(
        PoolName::Paddle,
        move |ctx: &Ctx, req: &Req| {
            let _call = call;
            let Some(paddle) = ctx.site.config.paddle.as_ref() else {
                return Err(Error::NotFound);
            };
            match portal::session_url(paddle, &target) {
                Ok(url) => {
                    log::event("billing.portal_opened", &[("user_id", &user_id)]);
                    Ok(Resp::redirect(&url).with_header("Cache-Control", "no-store"))
                }
                Err(error) => {
                    log::event(
                        "billing.portal_failed",
                        &[("user_id", &user_id), ("error", &error)],
                    );
                    unavailable(ctx, req)
                }
            }
        },
    ))
}

/// "Billing is unavailable right now": 503, try again in a minute.
fn unavailable(ctx: &Ctx, req: &Req) -> Result<Resp> {
    let session = ctx.session(req)?;
    let csrf = ctx.csrf_token(req);
    let page = views::error::page_for(&frame(ctx, session.as_ref(), &csrf), 503, UNAVAILABLE);
    Ok(Resp::html(503, page)
        .with_header("Retry-After", "60")
        .with_header("Cache-Control", "no-store"))
}
