//! `POST /billing/checkout`: the Upgrade button asks the server for a
//! Paddle transaction (price, signed `custom_data`, the referral discount
//! for an invitee, the known customer), made on the `paddle` pool, and
//! Paddle.js opens the checkout on it. The script gets
//! `{"transaction_id"}`; a plain form gets a page that opens the checkout.

use serde_json::json;

use super::frame;
use crate::config::PaddleConfig;
use crate::error::{Error, Result};
use crate::log;
use crate::services::billing::checkout;
use crate::services::billing::in_flight::Refusal;
use crate::views;
use crate::web::http::{Req, Resp};
use crate::web::offload::{self, PoolName};
use crate::web::{csp, Ctx};

const UNAVAILABLE: &str = "The checkout can't be opened right now, try again in a minute.";
/// The `Retry-After` of that 503, unless Paddle asked for longer.
const RETRY_AFTER: i64 = 60;

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
                    // Never sooner than Paddle asked (SPEC §7: Retry-After
                    // is honoured), and not before a minute.
                    return Err(Error::Unavailable {
                        retry_after: error.retry_after.unwrap_or(0).max(RETRY_AFTER),
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

/// Runs `job` for one person's click (`kind`: `checkout` or `portal`) on
/// the `paddle` pool, since Paddle may take seconds: never on a worker. One
/// call of each kind in flight per person and a few a minute (else 429,
/// asking Paddle nothing); 503 at once while the pool is full. `job` gets
/// Paddle's configuration (404 should billing be off by then).
pub fn on_paddle_pool(
    ctx: &Ctx,
    req: &Req,
    kind: &'static str,
    user_id: i64,
    job: impl FnOnce(&Ctx, &Req, &PaddleConfig) -> Result<Resp> + Send + 'static,
) -> Result<Resp> {
    let call = ctx
        .site
        .paddle_calls
        .begin(kind, user_id, req.now)
        .map_err(refused)?;
    if ctx.site.pools.paddle.is_full() {
        return Err(offload::full());
    }
    Ok(Resp::offload(
        PoolName::Paddle,
        move |ctx: &Ctx, req: &Req| {
            // held until the answer is made
            let _call = call;
            let Some(paddle) = ctx.site.config.paddle.as_ref() else {
                return Err(Error::NotFound);
            };
            job(ctx, req, paddle)
        },
    ))
}

/// A person with a call still waiting, or too many this minute: 429.
fn refused(refusal: Refusal) -> Error {
    let (retry_after, message) = match refusal {
        Refusal::InFlight => (
            5,
            "Still waiting for Paddle on your last click; one moment.",
        ),
        Refusal::TooMany(wait) => (
            wait,
            "That was a lot of clicks; wait a minute before trying again.",
        ),
    };
    Error::TooManyRequests {
        retry_after,
        message: message.into(),
    }
}
