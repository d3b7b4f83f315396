//! The settings page: plan, referral code, invite link and referral stats.

use maud::{html, Markup};

use super::billing;
use super::layout::{page, Frame};
use crate::clock::Timestamp;
use crate::services::access::{self, Source};
use crate::services::account::Me;
use crate::services::billing::checkout::Checkout;

pub fn settings(frame: &Frame, me: &Me, checkout: Option<&Checkout>, now: Timestamp) -> Markup {
    let badge_class = match me.paid.source {
        Some(Source::Tier) => "badge paid",
        Some(Source::Credit) => "badge credit",
        None => "badge",
    };
    page(
        frame,
        "Settings",
        html! {
            h1 { "Settings" }
            section class="card" {
                h2 { "Account" }
                dl class="facts" {
                    dt { "Email" } dd { (me.email) }
                    dt { "Plan" } dd { span class=(badge_class) data-testid="tier-badge" { (access::badge(&me.paid)) } }
                }
                @if let Some(sub) = &me.billing {
                    (billing::subscription(frame.csrf, sub, now))
                }
                @if !me.paid.active {
                    (upgrade_hint(checkout))
                } @else if let Some(checkout) = checkout {
                    (billing::checkout_block(checkout))
                }
            }
            section class="card" {
                h2 { "Invite friends" }
                p class="muted" {
                    "When someone you invite first pays, you both get 50% off for 3 months."
                }
                p { "Your referral code " span class="chip" data-testid="referral-code" { (me.referral.code) } }
                div class="copy-row" {
                    input type="text" id="invite-link" value=(me.referral.invite_url) readonly aria-label="Invite link";
                    button type="button" class="button secondary" data-copy="invite-link" { "Copy" }
                }
                div class="grid stats" {
                    (stat("Pending", me.referral.pending))
                    (stat("Converted", me.referral.converted))
                    (stat("Active credits", me.referral.active_credits))
                }
                (billing::rewards(&me.referral.rewards, now))
            }
            (super::leaving::danger_card(frame.csrf, None))
        },
    )
}

fn stat(label: &str, value: i64) -> Markup {
    html! {
        div class="stat" {
            div class="stat-value" data-stat=(label) { (value) }
            div class="stat-label" { (label) }
        }
    }
}

/// Shown wherever a person without paid access meets a paid feature, with
/// the Upgrade button when they may open a checkout.
pub fn upgrade_hint(checkout: Option<&Checkout>) -> Markup {
    html! {
        div class="banner warn upgrade-hint" id="upgrade" role="note" {
            strong { "Commentary is a paid feature." }
            " Upgrade to the paid plan, or ask the operator of this site for complimentary access, "
            "to get plain-language commentary on your portfolio. "
            @if !checkout.is_some_and(|c| c.invited_discount) {
                "Invited by a friend? Your first three months are half price."
            }
            @if let Some(checkout) = checkout {
                (billing::checkout_block(checkout))
            }
        }
    }
}
