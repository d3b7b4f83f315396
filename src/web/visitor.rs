//! The anonymous visitor's CSRF binding: a random value in a short-lived
//! cookie, so the sign-in form of one visitor carries a token no other
//! visitor's form shares. Once a pending or session cookie exists, tokens
//! bind to that instead (see `csrf.rs`).

use crate::crypto;
use crate::error::Result;
use crate::web::http::Req;
use crate::web::Ctx;
use crate::web::{cookies, csrf};

pub const VISITOR: &str = "visitor";
/// Long enough for a sign-in form left open over lunch.
pub const VISITOR_LIFETIME: i64 = 2 * 60 * 60;

/// The visitor value the request carries, if it is one of ours in shape.
pub fn value<'r>(ctx: &Ctx, req: &'r Req) -> Option<&'r str> {
    req.cookie(&ctx.cookie_name(VISITOR)).filter(|v| {
        (16..=64).contains(&v.len())
            && v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

/// What a CSRF token binds to for this visitor.
pub fn binding(value: &str) -> String {
    format!("v:{value}")
}

/// The CSRF token for a form on an anonymous page, and the `Set-Cookie`
/// that gives the visitor its value when it has none (or a session or
/// pending cookie already binds the token, `None`).
pub fn csrf_for_form(ctx: &Ctx, req: &Req) -> Result<(String, Option<String>)> {
    if csrf::has_binding(ctx, req) {
        return Ok((csrf::token(ctx, req), None));
    }
    let fresh = crypto::b64url(&crypto::random_bytes::<16>()?);
    let token = csrf::token_for(ctx, &binding(&fresh));
    let cookie = cookies::set(VISITOR, &fresh, VISITOR_LIFETIME, ctx.https());
    Ok((token, Some(cookie)))
}
