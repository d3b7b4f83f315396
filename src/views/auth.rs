//! The sign-in pages: ask for an email, then for the code we sent to it.

use maud::{html, Markup};

use super::layout::{csrf_field, field, page, Frame};

pub struct LoginForm<'a> {
    pub email: &'a str,
    pub error: Option<&'a str>,
    /// A referral code that belongs to someone: shows the invited banner.
    pub invited_by_code: Option<&'a str>,
}

pub fn login(frame: &Frame, form: &LoginForm) -> Markup {
    page(
        frame,
        "Sign in",
        html! {
            section class="card narrow" {
                @if form.invited_by_code.is_some() {
                    div class="banner invited" role="status" {
                        strong { "You were invited." }
                        @if frame.billing_on {
                            " Sign in with your email below to create your account: when you first pay, you and the friend who invited you both get 50% off for 3 months."
                        } @else {
                            " Sign in with your email below to create your account."
                        }
                    }
                }
                h1 { "Sign in" }
                p class="muted" { "We'll email you a six-digit code. No password needed; new here? This creates your account." }
                form method="post" action="/login" class="stack" novalidate {
                    (csrf_field(frame.csrf))
                    @if let Some(code) = form.invited_by_code {
                        input type="hidden" name="ref" value=(code);
                    }
                    (field("Email", html! {
                        input type="email" name="email" value=(form.email) autocomplete="email"
                            required maxlength="254" autofocus
                            aria-invalid=[form.error.map(|_| "true")];
                    }, form.error))
                    button type="submit" class="button" { "Email me a code" }
                }
            }
        },
    )
}

pub struct VerifyForm<'a> {
    pub email: &'a str,
    /// The referral code the pending cookie carries, for "Send a new code".
    pub referral: Option<&'a str>,
    pub error: Option<&'a str>,
    /// The code's email could not be sent (every attempt failed).
    pub mail_failed: bool,
    /// Whole minutes until this browser's code expires; `None` when it no
    /// longer works (expired, burnt or used).
    pub minutes_left: Option<i64>,
    /// Seconds until a new code may be asked for, when there is a wait.
    pub wait_for_new: Option<i64>,
    /// Why "Send a new code" sent none yet (asked inside the minute).
    pub notice: Option<&'a str>,
}

pub const MAIL_FAILED: &str = "We could not send the email. Try again in a minute.";

pub fn verify(frame: &Frame, form: &VerifyForm) -> Markup {
    page(
        frame,
        "Enter your code",
        html! {
            section class="card narrow" {
                h1 { "Check your email" }
                // app.js asks /api/verify-status a few times and shows it when
                // the mail fails after the page was sent.
                p id="mail-failed" class="banner warn" role="alert" hidden[!form.mail_failed] { (MAIL_FAILED) }
                p class="muted" {
                    "We sent a six-digit code to " strong { (form.email) } "."
                    @match form.minutes_left {
                        Some(1) => " It expires in 1 minute.",
                        Some(n) => { " It expires in " (n) " minutes." }
                        None => {}
                    }
                }
                form method="post" action="/verify" class="stack" novalidate {
                    (csrf_field(frame.csrf))
                    input type="hidden" name="email" value=(form.email);
                    (field("Code", html! {
                        input type="text" name="code" inputmode="numeric" pattern="[0-9]{6}"
                            maxlength="6" autocomplete="one-time-code" required autofocus class="code-input"
                            aria-invalid=[form.error.map(|_| "true")];
                    }, form.error))
                    button type="submit" class="button" { "Sign in" }
                }
                form method="post" action="/login" class="stack resend" {
                    (csrf_field(frame.csrf))
                    input type="hidden" name="email" value=(form.email);
                    @if let Some(code) = form.referral {
                        input type="hidden" name="ref" value=(code);
                    }
                    @if let Some(notice) = form.notice {
                        p class="banner warn" role="status" data-testid="resend-notice" { (notice) }
                    } @else if let Some(wait) = form.wait_for_new {
                        p class="muted small" role="status" {
                            "You can ask for a new code in " (wait) " seconds."
                        }
                    }
                    button type="submit" class="button secondary" { "Send a new code" }
                }
                p class="muted small" { "Wrong address? " a href="/login" { "Start again" } "." }
            }
        },
    )
}
