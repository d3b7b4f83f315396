//! Sign-in pages: ask for an email, send a code, check it, start a session.

use std::cell::Cell;

use serde_json::json;

use super::frame;
use crate::crypto;
use crate::error::{Error, Result};
use crate::log;
use crate::services::auth::{self, Verified};
use crate::services::{mail, referral};
use crate::views;
use crate::views::auth::{LoginForm, VerifyForm};
use crate::web::cookies::{self, PendingCookie};
use crate::web::http::{Req, Resp};
use crate::web::metrics::Metrics;
use crate::web::Ctx;

pub fn login_form(ctx: &Ctx, req: &Req) -> Result<Resp> {
    if ctx.session(req)?.is_some() {
        return Ok(Resp::redirect("/portfolio"));
    }
    // A code that belongs to someone shows the invited banner; junk shows nothing.
    let invited = match req.query_param("ref") {
        Some(raw) => referral::invite_code(ctx.db, &raw)?,
        None => None,
    };
    let form = LoginForm {
        email: "",
        error: None,
        invited_by_code: invited.as_deref(),
    };
    Ok(login_page(ctx, req, 200, &form))
}

fn login_page(ctx: &Ctx, req: &Req, status: u16, form: &LoginForm) -> Resp {
    let csrf = ctx.csrf_token(req);
    Resp::html(status, views::auth::login(&frame(ctx, None, &csrf), form))
}

pub fn login(ctx: &Ctx, req: &Req) -> Result<Resp> {
    let form = req.form()?;
    let raw_email = form.get("email").unwrap_or("");
    let shown_email = if raw_email.len() <= 254 {
        raw_email
    } else {
        ""
    };
    let raw_ref = form.get("ref").unwrap_or("");
    if raw_ref.len() > 64 {
        let form = LoginForm {
            email: shown_email,
            error: Some("That invite code is not valid."),
            invited_by_code: None,
        };
        return Ok(login_page(ctx, req, 400, &form));
    }
    let referral = referral::invite_code(ctx.db, raw_ref)?;
    let email = match auth::normalise_email(raw_email) {
        Ok(email) => email,
        Err(message) => {
            let form = LoginForm {
                email: shown_email,
                error: Some(message),
                invited_by_code: referral.as_deref(),
            };
            return Ok(login_page(ctx, req, 400, &form));
        }
    };
    let limited = |retry_after: i64, message: &str| {
        let form = LoginForm {
            email: &email,
            error: Some(message),
            invited_by_code: referral.as_deref(),
        };
        login_page(ctx, req, 429, &form).with_header("Retry-After", &retry_after.to_string())
    };
    let client = req.client.to_string();
    // Checked and counted in one step, so requests racing at the limit cannot
    // both pass; a request refused below for its email still counts.
    if let Err(wait) = ctx
        .app
        .code_requests_per_client
        .check_and_hit(&client, req.now)
    {
        log::event(
            "auth.code_rate_limited",
            &[("by", &"client"), ("client", &client)],
        );
        return Ok(limited(
            wait,
            "Too many sign-in codes were asked for from your network. Try again later.",
        ));
    }
    let issued = match auth::request_code(ctx.db, &ctx.app.keys, &email, req.now) {
        Ok(issued) => issued,
        Err(Error::TooManyRequests {
            retry_after,
            message,
        }) => {
            log::event(
                "auth.code_rate_limited",
                &[("by", &"email"), ("email", &email)],
            );
            return Ok(limited(retry_after, &message));
        }
        Err(e) => return Err(e),
    };
    let pending = PendingCookie::new(&email, referral.clone(), req.now)?;
    ctx.app.mailer.send(mail::Email {
        sign_in: Some(mail_key(&pending)),
        ..mail::sign_in_code(
            &email,
            &issued.code,
            issued.expires_at,
            req.now,
            &ctx.app.config.base_url,
        )
    });
    log::event("auth.code_sent", &[("email", &email)]);
    Ok(Resp::redirect("/verify").with_header(
        "Set-Cookie",
        &cookies::set(
            cookies::PENDING,
            &pending.seal(&ctx.app.keys.pending_cookie),
            cookies::PENDING_LIFETIME,
            ctx.https(),
        ),
    ))
}

pub fn verify_form(ctx: &Ctx, req: &Req) -> Result<Resp> {
    let Some(pending) = ctx.pending(req) else {
        return Ok(Resp::redirect("/login"));
    };
    Ok(verify_page(ctx, req, 200, &pending.email, None))
}

/// The key the mailer remembers a failed code delivery under: a hash of the
/// pending cookie's nonce, so only that browser's verify page hears of it.
fn mail_key(pending: &PendingCookie) -> String {
    crypto::hex(&crypto::sha256(
        format!("mail:{}", pending.nonce).as_bytes(),
    ))
}

fn mail_failed(ctx: &Ctx, req: &Req) -> bool {
    ctx.pending(req)
        .is_some_and(|p| ctx.app.mailer.undelivered(&mail_key(&p)))
}

fn verify_page(ctx: &Ctx, req: &Req, status: u16, email: &str, error: Option<&str>) -> Resp {
    let csrf = ctx.csrf_token(req);
    let mail_failed = mail_failed(ctx, req);
    let form = VerifyForm {
        email,
        error,
        mail_failed,
    };
    Resp::html(status, views::auth::verify(&frame(ctx, None, &csrf), &form))
}

/// `GET /api/verify-status`: whether the code this browser is waiting for
/// could not be sent, for the verify page's short poll.
pub fn verify_status(ctx: &Ctx, req: &Req) -> Result<Resp> {
    Ok(Resp::json(
        200,
        &json!({ "mail_failed": mail_failed(ctx, req) }),
    ))
}

pub fn verify(ctx: &Ctx, req: &Req) -> Result<Resp> {
    let Some(pending) = ctx.pending(req) else {
        return Ok(Resp::redirect("/login"));
    };
    let form = req.form()?;
    let code = form.get("code").unwrap_or("");
    let email = pending.email.as_str();
    let linked = Cell::new(None);
    let link = referral::linker(pending.referral.as_deref(), &linked, req.now);
    let outcome = auth::verify_code(ctx.db, &ctx.app.keys, email, code, req.now, link);
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(Error::TooManyRequests {
            retry_after,
            message,
        }) => {
            log::event("auth.verify_rate_limited", &[("email", &email)]);
            return Ok(verify_page(ctx, req, 429, email, Some(&message))
                .with_header("Retry-After", &retry_after.to_string()));
        }
        Err(e) => return Err(e),
    };
    match outcome {
        Verified::SignedIn {
            user,
            created,
            session_token,
        } => {
            Metrics::count(&ctx.app.metrics.codes_verified);
            log::event(
                "auth.signed_in",
                &[("user_id", &user.id), ("new_account", &created)],
            );
            if let Some(referrer_id) = linked.get() {
                log::event(
                    "referral.linked",
                    &[
                        ("referrer_user_id", &referrer_id),
                        ("referred_user_id", &user.id),
                    ],
                );
                Metrics::count(&ctx.app.metrics.referrals_linked);
            }
            Ok(Resp::redirect("/")
                .with_header(
                    "Set-Cookie",
                    &cookies::set(
                        cookies::SESSION,
                        &session_token,
                        auth::SESSION_LIFETIME,
                        ctx.https(),
                    ),
                )
                .with_header("Set-Cookie", &cookies::clear(cookies::PENDING, ctx.https())))
        }
        Verified::Wrong { tries_left } => {
            Metrics::count(&ctx.app.metrics.codes_failed);
            log::event(
                "auth.code_wrong",
                &[("email", &email), ("tries_left", &tries_left)],
            );
            let plural = if tries_left == 1 { "try" } else { "tries" };
            let message = format!("That code is not right. {tries_left} {plural} left.");
            Ok(verify_page(ctx, req, 400, email, Some(&message)))
        }
        Verified::Burnt => {
            Metrics::count(&ctx.app.metrics.codes_failed);
            log::event("auth.code_burnt", &[("email", &email)]);
            Ok(verify_page(ctx, req, 400, email, Some(
                "That was the last try for this code, so it no longer works. Start again to get a new code.",
            )))
        }
        Verified::NoCode => Ok(verify_page(
            ctx,
            req,
            400,
            email,
            Some("This code has expired or was already used. Start again to get a new code."),
        )),
    }
}

pub fn logout(ctx: &Ctx, req: &Req) -> Result<Resp> {
    if let Some(session) = ctx.session(req)? {
        auth::end_session(ctx.db, &session.token)?;
        log::event("auth.signed_out", &[("user_id", &session.user.id)]);
    }
    Ok(Resp::redirect("/")
        .with_header("Set-Cookie", &cookies::clear(cookies::SESSION, ctx.https())))
}
