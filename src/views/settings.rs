//! The settings page: plan, referral code, invite link and referral stats.

use std::borrow::Cow;
use std::sync::OnceLock;

use maud::{html, Markup, PreEscaped};

use super::billing;
use super::layout::{csrf_field, page, Frame};
use crate::clock::Timestamp;
use crate::money::Currency;
use crate::services::access::{self, PaidStatus, Source};
use crate::services::account::Me;
use crate::services::billing::checkout::Checkout;
use crate::services::fx::ECB_CURRENCIES;

pub fn settings(
    frame: &Frame,
    me: &Me,
    base: Currency,
    checkout: Option<&Checkout>,
    now: Timestamp,
) -> Markup {
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
                @if let Some(headline) = credit_headline(&me.paid) {
                    p class="headline" data-testid="credit-headline" { (headline) }
                }
                dl class="facts" {
                    dt { "Email" } dd { (me.email) }
                    dt { "Plan" } dd { span class=(badge_class) data-testid="tier-badge" { (access::badge(&me.paid)) } }
                }
                @if let Some(sub) = &me.billing {
                    (billing::subscription(frame.csrf, sub, now))
                }
                @if !me.paid.active {
                    (upgrade_hint(checkout, frame.csrf))
                } @else if let Some(checkout) = checkout {
                    (billing::checkout_block(checkout, frame.csrf))
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
            (currency_card(frame.csrf, base))
            (super::leaving::danger_card(frame.csrf, None))
        },
    )
}

/// The base currency: what values, weights and history are shown in.
fn currency_card(csrf: &str, base: Currency) -> Markup {
    html! {
        section class="card" id="currency" {
            h2 { "Currency" }
            form method="post" action="/settings/currency" class="inline-form" {
                (csrf_field(csrf))
                label class="field-label" for="f-base" { "Show values in" }
                select id="f-base" name="currency" aria-describedby="base-hint" {
                    (currency_options(base))
                }
                button type="submit" class="button secondary" { "Save" }
            }
            p class="field-hint" id="base-hint" {
                "Each holding keeps its own currency; totals are converted at the European Central Bank's daily reference rates."
            }
        }
    }
}

/// The select's options with `base` selected. The list never changes, so
/// each of its 30 choices is rendered once and kept: rendering the options
/// on every request cost the page about 5% (`load --callgrind`).
fn currency_options(base: Currency) -> PreEscaped<Cow<'static, str>> {
    static RENDERED: OnceLock<Vec<String>> = OnceLock::new();
    let all = RENDERED.get_or_init(|| {
        ECB_CURRENCIES
            .iter()
            .map(|c| options_with(c).into_string())
            .collect()
    });
    match ECB_CURRENCIES.iter().position(|c| *c == base.as_str()) {
        Some(i) => PreEscaped(Cow::Borrowed(all[i].as_str())),
        // A base the ECB does not publish (kept from before): first, chosen.
        None => PreEscaped(Cow::Owned(
            html! {
                option value=(base) selected { (base) }
                (options_with(base.as_str()))
            }
            .into_string(),
        )),
    }
}

fn options_with(selected: &str) -> Markup {
    html! {
        @for c in ECB_CURRENCIES {
            option value=(c) selected[c == selected] { (c) }
        }
    }
}

/// What a running credit means, in a line: "Paid features on until 26 Dec
/// (30 days left)". The year shows when the date is most of a year away.
fn credit_headline(paid: &PaidStatus) -> Option<String> {
    let (Some(Source::Credit), Some(until), Some(days)) =
        (paid.source, paid.expires_at, paid.days_remaining)
    else {
        return None;
    };
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (year, month, day) = until.date();
    let month = MONTHS.get(month as usize - 1).unwrap_or(&"");
    let year = if days > 300 {
        format!(" {year}")
    } else {
        String::new()
    };
    let unit = if days == 1 { "day" } else { "days" };
    Some(format!(
        "Paid features on until {day} {month}{year} ({days} {unit} left)"
    ))
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
pub fn upgrade_hint(checkout: Option<&Checkout>, csrf: &str) -> Markup {
    html! {
        div class="banner warn upgrade-hint" id="upgrade" role="note" {
            strong { "Commentary is a paid feature." }
            " Upgrade to the paid plan, or ask the operator of this site for complimentary access, "
            "to get plain-language commentary on your portfolio. "
            @if !checkout.is_some_and(|c| c.settings.invited) {
                "Invited by a friend? Your first three months are half price."
            }
            @if let Some(checkout) = checkout {
                (billing::checkout_block(checkout, csrf))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{parse_date, Timestamp, DAY};

    fn credit(until: Timestamp, days: i64) -> PaidStatus {
        PaidStatus {
            active: true,
            source: Some(Source::Credit),
            expires_at: Some(until),
            days_remaining: Some(days),
        }
    }

    #[test]
    fn a_credit_is_headlined_with_its_date_and_days_left() {
        let Some(now) = parse_date("2026-11-26").map(|t| t.plus(12 * 3600)) else {
            panic!("the date parses");
        };
        // What `grant-credit --days 30` gives on 26 Nov.
        let until = now.plus(30 * DAY);
        assert_eq!(
            credit_headline(&credit(until, 30)).as_deref(),
            Some("Paid features on until 26 Dec (30 days left)")
        );
        assert_eq!(
            credit_headline(&credit(until, 1)).as_deref(),
            Some("Paid features on until 26 Dec (1 day left)")
        );
        let far = credit(until.plus(365 * DAY), 395);
        assert!(credit_headline(&far).is_some_and(|h| h.contains("26 Dec 2027")));
        let paid = PaidStatus {
            source: Some(Source::Tier),
            expires_at: None,
            days_remaining: None,
            ..credit(until, 30)
        };
        assert_eq!(credit_headline(&paid), None);
        let free = PaidStatus {
            active: false,
            source: None,
            ..paid.clone()
        };
        assert_eq!(credit_headline(&free), None);
    }
}
