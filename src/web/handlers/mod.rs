//! Request handlers, one file per area. Each is `fn(&Ctx, &Req) -> Result<Resp>`.

pub mod account;
pub mod auth;
pub mod checkout;
pub mod csp_report;
pub mod holdings_csv;
pub mod leaving;
pub mod paddle_pool;
pub mod pages;
pub mod portal;
pub mod portfolio;
pub mod webhooks;

use crate::views::layout::Frame;
use crate::web::{Ctx, Session};

/// The page frame for this request.
pub fn frame<'a>(ctx: &'a Ctx, session: Option<&'a Session>, csrf: &'a str) -> Frame<'a> {
    Frame {
        assets: &ctx.site.assets.urls,
        user: session.map(|s| &s.user),
        csrf,
        billing_on: ctx.site.config.paddle.is_some(),
        support_email: &ctx.site.config.support_email,
    }
}
