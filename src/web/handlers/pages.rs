//! The landing page, health check, static assets and signed-in pages.

use super::frame;
use crate::error::{Error, Result};
use crate::views;
use crate::web::http::{Req, Resp};
use crate::web::Ctx;

pub fn landing(ctx: &Ctx, req: &Req) -> Result<Resp> {
    if ctx.session(req)?.is_some() {
        return Ok(Resp::redirect("/portfolio"));
    }
    let csrf = ctx.csrf_token(req);
    Ok(Resp::html(
        200,
        views::landing::landing(&frame(ctx, None, &csrf)),
    ))
}

pub fn healthz(ctx: &Ctx, _req: &Req) -> Result<Resp> {
    let one: i64 = ctx
        .db
        .prepare_cached("SELECT 1")?
        .query_row([], |r| r.get(0))?;
    if one != 1 {
        return Err(Error::Internal("database answered oddly".into()));
    }
    Ok(Resp::text(200, "ok"))
}

pub fn asset(ctx: &Ctx, req: &Req) -> Result<Resp> {
    ctx.app.assets.serve(&req.path).ok_or(Error::NotFound)
}
