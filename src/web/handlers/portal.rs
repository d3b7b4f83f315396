//! `POST /billing/portal`: "Manage billing" sends a subscriber to their
//! Paddle customer portal.

use super::frame;
use super::paddle_pool::{on_paddle_pool, retry_after};
use crate::config::PaddleConfig;
use crate::error::{Error, Result};
use crate::log;
use crate::services::billing::portal;
use crate::views;
use crate::web::http::{Req, Resp};
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
    on_paddle_pool(
        ctx,
        req,
        "portal",
        user_id,
        move |ctx: &Ctx, req: &Req, paddle: &PaddleConfig| match portal::session_url(
            paddle, &target,
        ) {
            Ok(url) => {
                log::event("billing.portal_opened", &[("user_id", &user_id)]);
                Ok(Resp::redirect(&url).with_header("Cache-Control", "no-store"))
            }
            Err(error) => {
                log::event(
                    "billing.portal_failed",
                    &[("user_id", &user_id), ("error", &error)],
                );
                unavailable(ctx, req, error.retry_after)
            }
        },
    )
}

/// "Billing is unavailable right now": 503, try again in a minute, or
/// later when Paddle asked for longer (its `Retry-After` is honoured).
fn unavailable(ctx: &Ctx, req: &Req, paddle_asked: Option<i64>) -> Result<Resp> {
    let retry_after = retry_after(paddle_asked);
    let session = ctx.session(req)?;
    let csrf = ctx.csrf_token(req);
    let page = views::error::page_for(&frame(ctx, session.as_ref(), &csrf), 503, UNAVAILABLE);
    Ok(Resp::html(503, page)
        .with_header("Retry-After", &retry_after.to_string())
        .with_header("Cache-Control", "no-store"))
}
