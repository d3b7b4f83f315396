//! The settings page and `GET /api/me`.

use super::frame;
use crate::error::Result;
use crate::services::account;
use crate::views;
use crate::web::http::{Req, Resp};
use crate::web::Ctx;

pub fn settings(ctx: &Ctx, req: &Req) -> Result<Resp> {
    let session = ctx.require_session(req)?;
    let me = account::me(ctx.db, &session.user, &ctx.app.config.base_url, req.now)?;
    let csrf = ctx.csrf_token(req);
    Ok(Resp::html(
        200,
        views::settings::settings(&frame(ctx, Some(&session), &csrf), &me),
    ))
}

pub fn api_me(ctx: &Ctx, req: &Req) -> Result<Resp> {
    let session = ctx.require_session(req)?;
    let me = account::me(ctx.db, &session.user, &ctx.app.config.base_url, req.now)?;
    Resp::json_of(200, &me)
}
