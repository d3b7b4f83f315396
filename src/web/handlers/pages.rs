//! The landing page, health check, static assets and signed-in pages.

use super::frame;
use crate::error::{Error, Result};
use crate::services::access::Caller;
use crate::services::{billing, probes};
use crate::views;
use crate::web::http::{Req, Resp};
use crate::web::metrics::Totals;
use crate::web::Ctx;

pub fn landing(ctx: &Ctx, req: &Req) -> Result<Resp> {
    if ctx.session(req)?.is_some() {
        return Ok(Resp::redirect("/portfolio"));
    }
    let csrf = ctx.csrf_token(req);
    Ok(Resp::html(
        200,
        views::landing::landing(
            &frame(ctx, None, &csrf),
            req.query_param("account").as_deref() == Some("deleted"),
        ),
    ))
}

pub fn healthz(ctx: &Ctx, _req: &Req) -> Result<Resp> {
    probes::database_answers(ctx.db)?;
    Ok(Resp::text(200, "ok"))
}

pub fn asset(ctx: &Ctx, req: &Req) -> Result<Resp> {
    let gzip = crate::web::compress::accepts_gzip(req);
    ctx.site
        .assets
        .serve(&req.path, gzip)
        .ok_or(Error::NotFound)
}

pub fn favicon(_ctx: &Ctx, _req: &Req) -> Result<Resp> {
    Ok(crate::web::assets::favicon())
}

/// Prometheus metrics, for the machine itself (loopback) or the admin token.
pub fn metrics(ctx: &Ctx, req: &Req) -> Result<Resp> {
    let allowed = match req.header("authorization") {
        Some(_) => matches!(ctx.caller(req)?, Some(Caller::Admin)),
        None => req.client.is_this_machine(),
    };
    if !allowed {
        return Err(Error::Forbidden(
            "Metrics are served to this machine or to the admin token only.",
        ));
    }
    let (users, paid_users, referrals, credit_grants) = probes::totals(ctx.db)?;
    let (outbox_pending, outbox_failed) = billing::outbox_depth(ctx.db)?;
    let totals = Totals {
        users,
        paid_users,
        referrals,
        credit_grants,
        mail: ctx.site.mailer.counts(),
        llm_outstanding: ctx.site.pools.llm.outstanding(),
        credited_users: probes::credited_users(ctx.db, req.now)?,
        outbox_pending,
        outbox_failed,
        reward_states: billing::reward_states(ctx.db)?,
        referrals_reversed: billing::referrals_reversed(ctx.db)?,
    };
    Ok(Resp::new(
        200,
        "text/plain; version=0.0.4; charset=utf-8",
        ctx.site.metrics.render(&totals),
    ))
}
