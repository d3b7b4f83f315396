//! The settings page and `GET /api/me`.

use super::frame;
use crate::error::{Error, Result};
use crate::services::account::{self, Me};
use crate::services::billing::checkout;
use crate::views;
use crate::web::http::{Req, Resp};
use crate::web::{csp, Ctx, Session};

/// The signed-in user and their account, read together (or 401).
fn session_and_me(ctx: &Ctx, req: &Req) -> Result<(Session, Me)> {
    let token = ctx.session_token(req).ok_or(Error::Unauthorized)?;
    let (user, me) = account::me_of_session(ctx.db, token, &ctx.site.config.base_url, req.now)?
        .ok_or(Error::Unauthorized)?;
    let session = Session {
        user,
        token: token.to_string(),
    };
    Ok((session, me))
}

pub fn settings(ctx: &Ctx, req: &Req) -> Result<Resp> {
    let (session, me) = session_and_me(ctx, req)?;
    let paddle = ctx.site.config.paddle.as_ref();
    // `me.billing` is the most relevant subscription already read.
    let status = me.billing.as_ref().map(|b| b.status);
    let offer = checkout::offer_given(ctx.db, paddle, &session.user, status)?;
    let csrf = ctx.csrf_token(req);
    // Read with the session, in the same statement.
    let base = session.user.base_currency;
    let page = views::settings::settings(
        &frame(ctx, Some(&session), &csrf),
        &me,
        base,
        offer.as_ref(),
        req.now,
    );
    let env = offer.and(paddle).map(|p| p.env);
    Ok(csp::for_checkout(Resp::html(200, page), env))
}

pub fn api_me(ctx: &Ctx, req: &Req) -> Result<Resp> {
    let (_, me) = session_and_me(ctx, req)?;
    Resp::json_of(200, &me)
}
