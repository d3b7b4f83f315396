//! The `paddle` pool as the Upgrade and Manage billing clicks use it: one
//! call of each kind in flight per person and a few a minute, a full pool
//! answered at once, and the `Retry-After` of a 503 when Paddle failed.

use crate::config::PaddleConfig;
use crate::error::{Error, Result};
use crate::services::billing::in_flight::Refusal;
use crate::web::http::{Req, Resp};
use crate::web::offload::{self, PoolName};
use crate::web::Ctx;

/// The `Retry-After` of a 503 after Paddle failed, unless Paddle asked for
/// longer.
const RETRY_AFTER: i64 = 60;

/// Never sooner than Paddle asked (SPEC §7: `Retry-After` is honoured), and
/// not before a minute.
pub fn retry_after(paddle_asked: Option<i64>) -> i64 {
    paddle_asked.unwrap_or(0).max(RETRY_AFTER)
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
