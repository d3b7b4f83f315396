//! Cross-site request forgery: the per-form token, bound to the session,
//! the pending sign-in or the anonymous visitor, and the Origin /
//! Sec-Fetch-Site check. Forms carry the token as `csrf`; our own script
//! sends it as `X-CSRF-Token`.
//!
//! The anonymous visitor's binding is a random value in a short-lived
//! cookie, so the sign-in form of one visitor carries a token no other
//! visitor's form shares. Once a pending or session cookie exists, tokens
//! bind to that instead.

use crate::crypto;
use crate::error::{Error, Result};
use crate::log;

use super::http::Req;
use super::{cookies, Ctx};

pub const VISITOR: &str = "visitor";
/// Long enough for a sign-in form left open over lunch.
pub const VISITOR_LIFETIME: i64 = 2 * 60 * 60;

/// What this request's CSRF tokens can bind to: the session cookie;
/// else, most specific first, the pending cookie's nonce and the anonymous
/// visitor's cookie.
fn bindings(ctx: &Ctx, req: &Req) -> Vec<String> {
    if let Some(token) = ctx.session_token(req) {
        return vec![format!(
            "s:{}",
            crypto::hex(&crypto::sha256(token.as_bytes()))
        )];
    }
    let mut bindings = Vec::new();
    if let Some(pending) = ctx.pending(req) {
        bindings.push(format!("p:{}", pending.nonce));
    }
    if let Some(value) = visitor_value(ctx, req) {
        bindings.push(visitor_binding(value));
    }
    bindings
}

/// The visitor value the request carries, if it is one of ours in shape.
fn visitor_value<'r>(ctx: &Ctx, req: &'r Req) -> Option<&'r str> {
    req.cookie(&ctx.cookie_name(VISITOR)).filter(|v| {
        (16..=64).contains(&v.len())
            && v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

/// What a CSRF token binds to for this visitor.
fn visitor_binding(value: &str) -> String {
    format!("v:{value}")
}

/// The token for a binding.
fn token_for(ctx: &Ctx, binding: &str) -> String {
    crypto::b64url(&crypto::mac(&ctx.site.keys.csrf, binding.as_bytes()))
}

/// The CSRF token for forms on this request's pages, bound to the most
/// specific cookie it carries. A request with none gets a token that no
/// check accepts; anonymous forms use [`anonymous_form_token`], which gives the
/// visitor a cookie to bind to.
pub fn token(ctx: &Ctx, req: &Req) -> String {
    let binding = bindings(ctx, req)
        .into_iter()
        .next()
        .unwrap_or_else(|| "none".to_string());
    token_for(ctx, &binding)
}

/// The CSRF token for a form on an anonymous page, and the `Set-Cookie`
/// that gives the visitor its value when it has none (or a session or
/// pending cookie already binds the token, `None`).
pub fn anonymous_form_token(ctx: &Ctx, req: &Req) -> Result<(String, Option<String>)> {
    let bound = bindings(ctx, req);
    if let Some(binding) = bound.first() {
        return Ok((token_for(ctx, binding), None));
    }
    let fresh = crypto::b64url(&crypto::random_bytes::<16>()?);
    let token = token_for(ctx, &visitor_binding(&fresh));
    let cookie = cookies::set(VISITOR, &fresh, VISITOR_LIFETIME, ctx.https());
    Ok((token, Some(cookie)))
}

/// A token is good when it was made for a cookie this request carries (a
/// pending cookie may have lapsed since the visitor's form was rendered).
/// Compared with `Mac::verify_slice`.
pub fn token_ok(ctx: &Ctx, req: &Req, submitted: &str) -> bool {
    let Ok(tag) = crypto::b64url_decode(submitted) else {
        return false;
    };
    bindings(ctx, req)
        .iter()
        .any(|b| crypto::mac_verify(&ctx.site.keys.csrf, b.as_bytes(), &tag))
}

/// A browser says where a request came from; refuse other sites.
pub fn check_origin(ctx: &Ctx, req: &Req) -> Result<()> {
    let refused = |came: &str| {
        // One line, so a newcomer at the wrong address sees why (the value
        // is the browser's own header, cut short).
        let came: String = came.chars().take(200).collect();
        log::event(
            "csrf.origin_refused",
            &[
                ("path", &req.path),
                ("origin", &came),
                ("expected", &ctx.site.config.origins.join(",")),
            ],
        );
        Err(Error::ForeignOrigin {
            base_url: ctx.origin().to_string(),
        })
    };
    if req
        .header("sec-fetch-site")
        .is_some_and(|v| v.eq_ignore_ascii_case("cross-site"))
    {
        return refused(&format!(
            "{} (Sec-Fetch-Site: cross-site)",
            req.header("origin").unwrap_or("none")
        ));
    }
    match req.header("origin") {
        Some(origin) if !is_own_origin(ctx, origin) => refused(origin),
        _ => Ok(()),
    }
}

/// Whether `origin` is this site: the base URL's origin, or with no base
/// URL and a loopback listen address, the same port by any loopback name.
fn is_own_origin(ctx: &Ctx, origin: &str) -> bool {
    ctx.site
        .config
        .origins
        .iter()
        .any(|own| origin.eq_ignore_ascii_case(own))
}

pub fn check_form_csrf(ctx: &Ctx, req: &Req) -> Result<()> {
    // An upload carries its token as a multipart field.
    let (form, upload);
    let submitted = if req.content_type_is("multipart/form-data") {
        upload = super::multipart::parse(req)?;
        upload.text("csrf")
    } else {
        form = req.form()?;
        form.get("csrf")
    };
    match submitted {
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
