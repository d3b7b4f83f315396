//! The settings page and `GET /api/me`.

use super::frame;
use crate::error::Result;
use crate::services::account;
use crate::services::billing::checkout;
use crate::views;
use crate::web::http::{Req, Resp};
use crate::web::{csp, Ctx};

pub fn settings(ctx: &Ctx, req: &Req) -> Result<Resp> {
    let session = ctx.require_session(req)?;
    let me = account::me(ctx.db, &session.user, &ctx.app.config.base_url, req.now)?;
    let paddle = ctx.app.config.paddle.as_ref();
    let offer = checkout::offer(ctx.db, paddle, &ctx.app.keys, &session.user)?;
    let csrf = ctx.csrf_token(req);
    let page = views::settings::settings(
        &frame(ctx, Some(&session), &csrf),
        &me,
        offer.as_ref(),
        req.now,
    );
    let env = offer.and(paddle).map(|p| p.env);
    Ok(csp::for_checkout(Resp::html(200, page), env))
}

pub fn api_me(ctx: &Ctx, req: &Req) -> Result<Resp> {
    let session = ctx.require_session(req)?;
    let me = account::me(ctx.db, &session.user, &ctx.app.config.base_url, req.now)?;
    Resp::json_of(200, &me)
}
