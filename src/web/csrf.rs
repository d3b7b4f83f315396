//! Cross-site request forgery: the per-form token, bound to the session or
//! the pending sign-in, and the Origin / Sec-Fetch-Site check. Forms carry
//! the token as `csrf`; our own script sends it as `X-CSRF-Token`.

use crate::crypto;
use crate::error::{Error, Result};

use super::http::Req;
use super::Ctx;

/// The CSRF token for forms on this request's pages. It is bound to the
/// session cookie, else to the pending cookie's nonce, else to nothing
/// (the sign-in form, where the Origin check does the work).
pub fn token(ctx: &Ctx, req: &Req) -> String {
    let binding = match (ctx.session_token(req), ctx.pending(req)) {
        (Some(token), _) => format!("s:{}", crypto::hex(&crypto::sha256(token.as_bytes()))),
        (None, Some(pending)) => format!("p:{}", pending.nonce),
        (None, None) => "anon".to_string(),
    };
    crypto::b64url(&crypto::mac(&ctx.app.keys.csrf, binding.as_bytes()))
}

pub fn token_ok(ctx: &Ctx, req: &Req, submitted: &str) -> bool {
    crypto::secrets_equal(token(ctx, req).as_bytes(), submitted.as_bytes())
}

/// A browser says where a request came from; refuse other sites.
pub fn check_origin(ctx: &Ctx, req: &Req) -> Result<()> {
    const CROSS_SITE: &str = "This request came from another site, so it was refused.";
    if req
        .header("sec-fetch-site")
        .is_some_and(|v| v.eq_ignore_ascii_case("cross-site"))
    {
        return Err(Error::Forbidden(CROSS_SITE));
    }
    match req.header("origin") {
        Some(origin) if !origin.eq_ignore_ascii_case(ctx.origin()) => {
            Err(Error::Forbidden(CROSS_SITE))
        }
        _ => Ok(()),
    }
}

pub fn check_form_csrf(ctx: &Ctx, req: &Req) -> Result<()> {
    let form = req.form()?;
    match form.get("csrf") {
        Some(token) if token_ok(ctx, req, token) => Ok(()),
        _ => Err(Error::Forbidden(
            "This form has expired or did not come from this site. Go back, reload the page and try again.",
        )),
    }
}

/// JSON endpoints rely on the content type and Origin; a token our own script
/// sends must still be the right one.
pub fn check_header_csrf(ctx: &Ctx, req: &Req) -> Result<()> {
    match req.header("x-csrf-token") {
        Some(token) if !token_ok(ctx, req, token) => Err(Error::Forbidden(
            "The page's security token is stale. Reload the page and try again.",
        )),
        _ => Ok(()),
    }
}
