//! What the emails say, in plain text and simple HTML: the sign-in code and
//! the notices (SPEC §9). Only words here; `notices` decides when.

use crate::clock::Timestamp;
use crate::config::PRODUCT;
use crate::db::notices::Conversion;

use super::Email;

/// The sign-in code message, in plain text and simple HTML.
pub fn sign_in_code(
    to: &str,
    code: &str,
    expires_at: Timestamp,
    now: Timestamp,
    base_url: &str,
) -> Email {
    let minutes = (expires_at.secs() - now.secs()).max(0) / 60;
    let text = format!(
        "Your sign-in code is {code}\n\n\
         Enter it on the sign-in page to finish signing in to {base_url}.\n\
         It works once and expires in {minutes} minutes (at {} UTC).\n\n\
         If you did not ask to sign in, you can ignore this email.\n",
        hhmm(expires_at)
    );
    let html = maud::html! {
        p { "Your sign-in code is" }
        p style="font-size:28px;font-weight:bold;letter-spacing:4px;font-family:monospace" { (code) }
        p { "Enter it on the sign-in page to finish signing in to " (base_url) "." }
        p { "It works once and expires in " (minutes) " minutes (at " (hhmm(expires_at)) " UTC)." }
        p style="color:#666" { "If you did not ask to sign in, you can ignore this email." }
    };
    Email {
        to: to.to_string(),
        subject: "Your sign-in code".to_string(),
        text,
        html: html.into_string(),
        sign_in: None,
    }
}

fn hhmm(t: Timestamp) -> String {
    t.to_string()[11..16].to_string()
}

/// The invitee's notice when they first pay.
pub fn invited_converted(to: &str, base_url: &str) -> Email {
    notice(
        to,
        &format!("Your invite discount on {PRODUCT}"),
        &[
            "Thanks for subscribing. Because a friend invited you, you both get 50% off for 3 months.".into(),
            "Your discount is applied to your subscription from your first payment.".into(),
        ],
        ("Your settings", format!("{base_url}/settings")),
        "you subscribed after accepting an invite",
        base_url,
    )
}

/// The referrer's notice when someone they invited first pays, with where
/// their own 50% off stands.
pub fn referrer_converted(c: &Conversion, base_url: &str) -> Email {
    let state = match (c.referrer_reward.as_deref(), c.referrer_subscribed) {
        (Some("running" | "applying" | "waiting"), _) => {
            "Your 50% off is applied to your subscription.".to_string()
        }
        (_, true) => "Your 50% off is banked: it is applied to your subscription as soon as the discount running now ends.".to_string(),
        _ => "Your 50% off is banked until you subscribe: it is applied from your first payment.".to_string(),
    };
    notice(
        &c.referrer_email,
        &format!("Someone you invited subscribed to {PRODUCT}"),
        &[
            "Someone you invited has just subscribed, so you both get 50% off for 3 months.".into(),
            state,
        ],
        ("See your invites", format!("{base_url}/settings")),
        "someone you invited subscribed",
        base_url,
    )
}

/// The reminder three days before complimentary access ends.
pub fn credit_ending(to: &str, credit_until: &str, base_url: &str) -> Email {
    let date = credit_until.get(..10).unwrap_or(credit_until);
    notice(
        to,
        &format!("Your complimentary {PRODUCT} access ends on {date}"),
        &[
            format!("Your complimentary access to commentary ends on {date} (UTC)."),
            "Upgrade to the paid plan to keep getting plain-language commentary on your portfolio."
                .into(),
        ],
        ("Upgrade", format!("{base_url}/settings#upgrade")),
        "your complimentary access ends within three days",
        base_url,
    )
}

/// The notice that a payment failed.
pub fn payment_past_due(to: &str, base_url: &str) -> Email {
    notice(
        to,
        &format!("Your {PRODUCT} payment did not go through"),
        &[
            "We could not take your last payment, so your subscription is past due.".into(),
            "Please update your payment method under Manage billing to keep your paid plan.".into(),
        ],
        ("Manage billing", format!("{base_url}/settings#billing")),
        "a payment for your subscription failed",
        base_url,
    )
}

/// A notice in plain text and simple HTML, with the product's name and a
/// footer saying why it was sent.
fn notice(
    to: &str,
    subject: &str,
    paragraphs: &[String],
    (label, url): (&str, String),
    why: &str,
    base_url: &str,
) -> Email {
    let footer =
        format!("You get this email from {PRODUCT} ({base_url}) because {why}. It is sent once.");
    let mut text = String::new();
    for p in paragraphs {
        text.push_str(p);
        text.push_str("\n\n");
    }
    text.push_str(&format!("{label}: {url}\n\n-- \n{footer}\n"));
    let html = maud::html! {
        p style="font-weight:bold" { (PRODUCT) }
        @for p in paragraphs { p { (p) } }
        p { a href=(url) { (label) } }
        p style="color:#666;font-size:small" { (footer) }
    };
    Email {
        to: to.to_string(),
        subject: subject.to_string(),
        text,
        html: html.into_string(),
        sign_in: None,
    }
}
