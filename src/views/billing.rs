//! Billing on the pages (SPEC §7): the Upgrade button with the checkout
//! settings Paddle.js reads, a subscriber's plan state with Manage billing,
//! and the list of referral rewards.

use maud::{html, Markup, PreEscaped};

use super::layout::{csrf_field, page, Frame};
use crate::clock::Timestamp;
use crate::db::billing::SubscriptionStatus as Status;
use crate::services::billing::checkout::{Checkout, PADDLE_JS};
use crate::services::billing::summary::{paddle_time, BillingSummary, Reward};

/// The Upgrade button: a plain form posting to `/billing/checkout`, which
/// `assets/app.js` turns into a fetch and `Paddle.Checkout.open` on the
/// transaction the server made. The JSON is escaped for a `<script>`
/// element by [`Checkout::json_for_script`] (`<`, `>`, `&` as `\u…`),
/// which is why it may go in unescaped by maud: HTML entities would not be
/// decoded there.
pub fn checkout_block(checkout: &Checkout, csrf: &str) -> Markup {
    html! {
        div class="checkout" {
            @if checkout.settings.invited {
                p class="invited-note" data-testid="invited-discount" {
                    "Invited by a friend: 50% off your first 3 months"
                }
            }
            form method="post" action="/billing/checkout" class="inline" data-checkout-form {
                (csrf_field(csrf))
                button type="submit" class="button" data-checkout data-paddle-js=(PADDLE_JS)
                    data-email=(checkout.email) { "Upgrade" }
            }
            p class="checkout-status muted" role="status" aria-live="polite" {}
            script type="application/json" id="paddle-checkout" { (PreEscaped(checkout.json_for_script())) }
        }
    }
}

/// What `POST /billing/checkout` answers a plain form with: the checkout
/// opens on the transaction it made as the page loads.
pub fn checkout_page(frame: &Frame, checkout: &Checkout) -> Markup {
    page(
        frame,
        "Checkout",
        html! {
            h1 { "Checkout" }
            section class="card" {
                p { "Opening the secure checkout…" }
                div class="checkout" {
                    button type="button" class="button" data-checkout-open data-paddle-js=(PADDLE_JS)
                        data-email=(checkout.email) { "Open the checkout" }
                    p class="checkout-status muted" role="status" aria-live="polite" {}
                    script type="application/json" id="paddle-checkout" { (PreEscaped(checkout.json_for_script())) }
                }
                p { a href="/settings" { "Back to Settings" } }
            }
        },
    )
}

/// A subscriber's plan: its state in words and the Manage billing button.
pub fn subscription(frame_csrf: &str, billing: &BillingSummary, now: Timestamp) -> Markup {
    let period_end = billing
        .current_period_ends_at
        .as_deref()
        .and_then(paddle_time)
        .filter(|t| *t > now);
    html! {
        div class="subscription" id="billing" {
            p {
                "Subscription: "
                strong data-testid="billing-status" { (state_words(billing)) }
                @if let Some(when) = billing.canceling_on() {
                    " · canceling on " span data-testid="cancel-date" { (when.date_string()) }
                    ". You keep paid access until then."
                } @else if let Some(when) = billing.pausing_on() {
                    " · pausing on " span data-testid="pause-date" { (when.date_string()) }
                    ". You keep paid access until then; resume it in Manage billing."
                } @else if let Some(end) = period_end {
                    @match billing.status {
                        Status::Active => { " · renews on " (end.date_string()) }
                        Status::Trialing => { " · first payment on " (end.date_string()) }
                        _ => {}
                    }
                }
            }
            @match billing.status {
                Status::PastDue => p class="banner warn" role="note" {
                    "Your last payment did not go through. Update your card in Manage billing "
                    "to keep paid access."
                },
                Status::Paused => p class="muted" { "Paid features are off while it is paused. Resume it in Manage billing." },
                _ => {}
            }
            form method="post" action="/billing/portal" class="inline" {
                (csrf_field(frame_csrf))
                button type="submit" class="button secondary" { "Manage billing" }
            }
        }
    }
}

fn state_words(billing: &BillingSummary) -> &'static str {
    match billing.status {
        Status::Active if billing.canceling_on().is_some() => "canceling",
        _ if billing.pausing_on().is_some() => "pausing",
        Status::Active => "active",
        Status::Trialing => "trialing",
        Status::PastDue => "past due",
        Status::Paused => "paused",
        Status::Canceled => "canceled",
    }
}

/// Each reward: who it came from, and where it stands.
pub fn rewards(rewards: &[Reward], now: Timestamp) -> Markup {
    html! {
        @if !rewards.is_empty() {
            h3 { "Your rewards" }
            ul class="rewards" data-testid="rewards" {
                @for reward in rewards {
                    li {
                        "50% off for 3 months, "
                        @if reward.role == "referrer" { "for inviting " } @else { "for joining through " }
                        span class="chip" { (reward.from) }
                        ": " span class="reward-state" { (reward_state(reward, now)) }
                    }
                }
            }
        }
    }
}

fn reward_state(reward: &Reward, now: Timestamp) -> String {
    let ends = reward.ends_at.as_deref().and_then(paddle_time);
    match (reward.state.as_str(), ends) {
        ("banked", _) => "banked, applied to your next subscription period".into(),
        // `failed` waits on the operator (billing-retry): pending to the person.
        ("applying" | "waiting" | "failed", _) => "pending, being applied".into(),
        ("revoked", _) => "revoked: the payment it came from was refunded".into(),
        ("running", Some(end)) if end <= now => "ended".into(),
        ("running", Some(end)) => format!("running until {}", end.date_string()),
        ("running", None) => "applied from your next payment".into(),
        _ => "ended".into(),
    }
}
