//! `POST /billing/checkout`: the Upgrade button asks the server for a
//! Paddle transaction (price, signed `custom_data`, the referral discount
//! for an invitee, the known customer), made on the `paddle` pool, and
//! Paddle.js opens the checkout on it. The script gets
//! `{"transaction_id"}`; a plain form gets a page that opens the checkout.

use serde_json::json;

use super::frame;
use super::paddle_pool::{on_paddle_pool, retry_after};
use crate::config::PaddleConfig;
use crate::error::{Error, Result};
use crate::log;
use crate::services::billing::checkout;
use crate::views;
use crate::web::http::{Req, Resp};
use crate::web::{csp, Ctx};

const UNAVAILABLE: &str = "The checkout can't be opened right now, try again in a minute.";

pub fn start(ctx: &Ctx, req: &Req) -> Result<Resp> {
    let session = ctx.require_session(req)?;
    let Some(paddle) = ctx.site.config.paddle.as_ref() else {
        return Err(Error::NotFound);
    };
    let user = session.user.clone();
    let Some(request) = checkout::transaction_request(ctx.db, paddle, &ctx.site.keys, &user)?
    else {
        return Err(Error::BadRequest(
            "This account has a subscription already; manage it with Manage billing in Settings."
                .into(),
        ));
    };
    let wants_json = req
        .header("accept")
        .is_some_and(|a| a.contains("application/json"));
    on_paddle_pool(
        ctx,
        req,
        "checkout",
        user.id,
        move |ctx: &Ctx, req: &Req, paddle: &PaddleConfig| {
            let transaction = match checkout::create_transaction(ctx.db, paddle, &request) {
                Ok(id) => id,
                Err(error) => {
                    log::event(
                        "billing.checkout_failed",
                        &[("user_id", &user.id), ("error", &error)],
                    );
                    return Err(Error::Unavailable {
                        retry_after: retry_after(error.retry_after),
                        message: UNAVAILABLE.into(),
                    });
                }
            };
            log::event(
                "billing.checkout_opened",
                &[("user_id", &user.id), ("transaction_id", &transaction)],
            );
            if wants_json {
                return Ok(
                    Resp::json_of(200, &json!({ "transaction_id": transaction }))?
                        .with_header("Cache-Control", "no-store"),
                );
            }
            // No script ran the button: a page whose script opens the checkout.
            let Some(mut offer) = checkout::offer(ctx.db, Some(paddle), &user)? else {
                return Err(Error::BadRequest("There is nothing to check out.".into()));
            };
            offer.settings.transaction_id = Some(transaction);
            let session = ctx.session(req)?;
            let csrf = ctx.csrf_token(req);
            let page = views::billing::checkout_page(&frame(ctx, session.as_ref(), &csrf), &offer);
            Ok(csp::for_checkout(Resp::html(200, page), Some(paddle.env)))
        },
    )
}
