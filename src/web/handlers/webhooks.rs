//! `POST /webhooks/paddle`: authenticated by Paddle's signature over the raw
//! body (not by a cookie or CSRF token), stored and applied at once, never
//! waiting on Paddle.

use serde_json::json;

use crate::clock::Timestamp;
use crate::error::{Error, Result};
use crate::log;
use crate::services::billing::{signature, webhook};
use crate::web::http::{Req, Resp};
use crate::web::{Ctx, Site};

/// Before the body is read (`web::gate`): with billing off there is no such
/// route (404), and a `Paddle-Signature` that is missing, malformed or stale
/// is a 401, so a stranger's megabyte is never read. The signature's tags,
/// which need the body, are checked by `paddle`.
pub fn screen(site: &Site, head: &tiny_http::Head<'_>, now: Timestamp) -> Result<()> {
    if site.config.paddle.is_none() {
        return Err(Error::NotFound);
    }
    let header = head.header("paddle-signature");
    if let Err(refusal) = signature::well_formed_and_fresh(header, now) {
        site.metrics.webhook("unknown", "bad_signature");
        log::event(
            "billing.webhook_refused",
            &[("reason", &refusal.as_str()), ("body", &"unread")],
        );
        return Err(Error::BadSignature);
    }
    Ok(())
}

pub fn paddle(ctx: &Ctx, req: &Req) -> Result<Resp> {
    let Some(paddle) = &ctx.site.config.paddle else {
        return Err(Error::NotFound);
    };
    let metrics = &ctx.site.metrics;
    let header = req.header("paddle-signature");
    if let Err(refusal) = signature::verify(&paddle.webhook_secrets, header, &req.body, req.now) {
        metrics.webhook("unknown", "bad_signature");
        log::event("billing.webhook_refused", &[("reason", &refusal.as_str())]);
        return Ok(Resp::json(
            401,
            &json!({"error": "bad_signature", "message": "The Paddle-Signature header is missing, malformed, wrong or stale."}),
        ));
    }
    let body = std::str::from_utf8(&req.body)
        .map_err(|_| Error::BadRequest("The event is not UTF-8 text.".into()))?;
    let (event_type, outcome) = webhook::receive(ctx.db, &ctx.site.keys, paddle, body, req.now)?;
    metrics.webhook(webhook::type_label(&event_type), outcome.as_str());
    Ok(Resp::json(
        200,
        &json!({"ok": true, "outcome": outcome.as_str()}),
    ))
}
