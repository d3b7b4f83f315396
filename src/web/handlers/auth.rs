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
use crate::web::{csrf, Ctx};

/// Said when `POST /verify` comes without a live pending cookie.
pub const TOOK_TOO_LONG: &str = "That sign-in took too long. Enter your email again.";

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
    login_page(ctx, req, 200, &form)
}

fn login_page(ctx: &Ctx, req: &Req, status: u16, form: &LoginForm) -> Result<Resp> {
    let (csrf, cookie) = csrf::anonymous_form_token(ctx, req)?;
    let resp = Resp::html(status, views::auth::login(&frame(ctx, None, &csrf), form));
    Ok(match cookie {
        Some(cookie) => resp.with_header("Set-Cookie", &cookie),
        None => resp,
    })
}

/// An email as this app's log may show it: whole while the log is the
/// mailbox (no SMTP), masked once real mail goes out.
fn logged(ctx: &Ctx, email: &str) -> String {
    if ctx.site.config.smtp_url.is_some() {
        log::masked_email(email)
    } else {
        email.to_string()
    }
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
        return login_page(ctx, req, 400, &form);
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
            return login_page(ctx, req, 400, &form);
        }
    };
    // "Send a new code" inside the minute comes from the verify page with
    // this email's pending cookie: that page stays (SPEC §4), saying when a
    // new code can be sent; the code already sent still works.
    let waiting = ctx.pending(req).filter(|p| p.email == email);
    let limited = |retry_after: i64, message: &str| -> Result<Resp> {
        if let Some(pending) = &waiting {
            let notice = format!("{message} The code we already sent still works.");
            return Ok(verify_page(ctx, req, 429, pending, None, Some(&notice))?
                .with_header("Retry-After", &retry_after.to_string()));
        }
        let form = LoginForm {
            email: &email,
            error: Some(message),
            invited_by_code: referral.as_deref(),
        };
        Ok(login_page(ctx, req, 429, &form)?.with_header("Retry-After", &retry_after.to_string()))
    };
    let client = req.client.limit_key();
    // Checked and counted in one step, so requests racing at the limit cannot
    // both pass; a request refused below for its email still counts.
    if let Err(wait) = ctx
        .site
        .code_requests_per_client
        .check_and_hit(&client, req.now)
    {
        log::event(
            "auth.code_rate_limited",
            &[("by", &"client"), ("client", &client)],
        );
        return limited(
            wait,
            "Too many sign-in codes were asked for from your network. Try again later.",
        );
    }
    // "Send a new code" from the verify page keeps its browser's pending
    // cookie (its nonce, and the referral it came with): the new code
    // replaces that browser's old one, and nobody else's.
    let mut pending = PendingCookie::new(&email, referral.clone(), req.now)?;
    if let Some(earlier) = ctx.pending(req).filter(|p| p.email == email) {
        pending.nonce = earlier.nonce;
        pending.referral = pending.referral.or(earlier.referral);
    }
    let issued = match auth::request_code(
        ctx.db,
        &ctx.site.keys,
        &email,
        &pending.nonce,
        &client,
        req.now,
    ) {
        Ok(issued) => issued,
        Err(Error::TooManyRequests {
            retry_after,
            message,
        }) => {
            log::event(
                "auth.code_rate_limited",
                &[("by", &"email"), ("email", &logged(ctx, &email))],
            );
            return limited(retry_after, &message);
        }
        Err(e) => return Err(e),
    };
    ctx.site.mailer.send(mail::Email {
        sign_in: Some(mail_key(&pending)),
        ..mail::sign_in_code(
            &email,
            &issued.code,
            issued.expires_at,
            req.now,
            &ctx.site.config.base_url,
        )
    });
    log::event("auth.code_sent", &[("email", &logged(ctx, &email))]);
    Ok(Resp::redirect("/verify").with_header(
        "Set-Cookie",
        &cookies::set(
            cookies::PENDING,
            &pending.seal(&ctx.site.keys.pending_cookie),
            cookies::PENDING_LIFETIME,
            ctx.https(),
        ),
    ))
}

pub fn verify_form(ctx: &Ctx, req: &Req) -> Result<Resp> {
    let Some(pending) = ctx.pending(req) else {
        return Ok(Resp::redirect("/login"));
    };
    verify_page(ctx, req, 200, &pending, None, None)
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
        .is_some_and(|p| ctx.site.mailer.undelivered(&mail_key(&p)))
}

fn verify_page(
    ctx: &Ctx,
    req: &Req,
    status: u16,
    pending: &PendingCookie,
    error: Option<&str>,
    notice: Option<&str>,
) -> Result<Resp> {
    let csrf = ctx.csrf_token(req);
    let status_now = auth::code_status(
        ctx.db,
        &ctx.site.keys,
        &pending.email,
        &pending.nonce,
        &req.client.limit_key(),
        req.now,
    )?;
    let form = VerifyForm {
        email: &pending.email,
        referral: pending.referral.as_deref(),
        error,
        minutes_left: status_now
            .expires_at
            .map(|t| ((t.secs() - req.now.secs()) as f64 / 60.0).ceil() as i64),
        wait_for_new: status_now.wait_for_new,
        mail_failed: mail_failed(ctx, req),
        notice,
    };
    Ok(Resp::html(
        status,
        views::auth::verify(&frame(ctx, None, &csrf), &form),
    ))
}

/// `GET /api/verify-status`: whether the code this browser is waiting for
/// could not be sent, for the verify page's short poll.
pub fn verify_status(ctx: &Ctx, req: &Req) -> Result<Resp> {
    Ok(Resp::json(
        200,
        &json!({ "mail_failed": mail_failed(ctx, req) }),
    ))
}

/// `POST /verify` without a live pending cookie: back to the email form,
/// with the email filled in when the lapsed cookie (still signed by us) or
/// the form says it. Nothing is written.
fn took_too_long(ctx: &Ctx, req: &Req) -> Result<Resp> {
    let from_cookie = req
        .cookie(&ctx.cookie_name(cookies::PENDING))
        .and_then(|v| PendingCookie::open_lapsed(&ctx.site.keys.pending_cookie, v))
        .map(|p| p.email);
    let from_form = req
        .form()
        .ok()
        .and_then(|f| f.get("email").map(str::to_string))
        .and_then(|e| auth::normalise_email(&e).ok());
    let email = from_cookie.or(from_form).unwrap_or_default();
    let form = LoginForm {
        email: &email,
        error: Some(TOOK_TOO_LONG),
        invited_by_code: None,
    };
    Ok(login_page(ctx, req, 200, &form)?
        .with_header("Set-Cookie", &cookies::clear(cookies::PENDING, ctx.https())))
}

pub fn verify(ctx: &Ctx, req: &Req) -> Result<Resp> {
    let Some(pending) = ctx.pending(req) else {
        return took_too_long(ctx, req);
    };
    let form = req.form()?;
    let code = form.get("code").unwrap_or("");
    let email = pending.email.as_str();
    let linked = Cell::new(None);
    let link = referral::linker(
        pending.referral.as_deref(),
        &ctx.site.keys,
        &linked,
        req.now,
    );
    let outcome = auth::verify_code(
        ctx.db,
        &ctx.site.keys,
        email,
        &pending.nonce,
        code,
        req.now,
        link,
    );
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(Error::TooManyRequests {
            retry_after,
            message,
        }) => {
            log::event(
                "auth.verify_rate_limited",
                &[("email", &logged(ctx, email))],
            );
            return Ok(verify_page(ctx, req, 429, &pending, Some(&message), None)?
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
            Metrics::count(&ctx.site.metrics.codes_verified);
            if !created {
                // An account from before referral codes gets its own at
                // sign-in (a POST), since no GET writes (SPEC §11).
                referral::assign_code_if_missing(ctx.db, user.id)?;
            }
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
                Metrics::count(&ctx.site.metrics.referrals_linked);
            }
            // The first sign-in of a day records the day's total; a failure
            // here must not keep anyone from signing in.
            if let Err(e) = crate::services::history::record_today(ctx.db, user.id, req.now) {
                log::event("history.failed", &[("user_id", &user.id), ("error", &e)]);
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
            Metrics::count(&ctx.site.metrics.codes_failed);
            log::event(
                "auth.code_wrong",
                &[("email", &logged(ctx, email)), ("tries_left", &tries_left)],
            );
            let plural = if tries_left == 1 { "try" } else { "tries" };
            let message = format!("That code is not right. {tries_left} {plural} left.");
            verify_page(ctx, req, 400, &pending, Some(&message), None)
        }
        Verified::Burnt => {
            Metrics::count(&ctx.site.metrics.codes_failed);
            log::event("auth.code_burnt", &[("email", &logged(ctx, email))]);
            verify_page(ctx, req, 400, &pending, Some(
                "That was the last try for this code, so it no longer works. Send a new code below.",
            ), None)
        }
        Verified::NoCode => verify_page(
            ctx,
            req,
            400,
            &pending,
            Some("This code has expired or was already used. Send a new code below."),
            None,
        ),
        Verified::Malformed => verify_page(
            ctx,
            req,
            400,
            &pending,
            Some("A code is six digits, like 123456. That entry did not use up a try."),
            None,
        ),
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
