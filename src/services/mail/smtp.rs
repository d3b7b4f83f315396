//! Handing a message to the SMTP server (lettre): the transport for
//! `APP_SMTP_URL`, the one check at start (off the start-up path, logged),
//! and a few attempts per message.

use std::sync::atomic::Ordering;
use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::{Message, SmtpTransport, Transport as _};

use super::{Email, Outcomes};
use crate::config::SMTP_URL_FORMS;
use crate::error::{Error, Result};
use crate::log;

pub(super) type Transport = SmtpTransport;

const ATTEMPTS: u32 = 3;
/// How long the start-up check waits for the SMTP server.
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// The transport for sending, after starting the one check of the server
/// on a thread of its own.
pub(super) fn start(url: &str) -> Result<SmtpTransport> {
    let transport = smtp_transport(url, Duration::from_secs(15))?;
    let check = smtp_transport(url, CHECK_TIMEOUT)?;
    let server = smtp_server(url);
    std::thread::Builder::new()
        .name("mail-check".into())
        .spawn(move || check_server(&check, &server))?;
    Ok(transport)
}

/// The transport for `APP_SMTP_URL`. A URL lettre refuses is told in our
/// words: its own message names its internals (TLS features, `Option`s).
fn smtp_transport(url: &str, timeout: Duration) -> Result<SmtpTransport> {
    let builder = SmtpTransport::from_url(url).map_err(|_| {
        Error::Usage(format!(
            "APP_SMTP_URL is not usable; it must be one of: {SMTP_URL_FORMS}"
        ))
    })?;
    Ok(builder.timeout(Some(timeout)).build())
}

/// `host:port` of an SMTP URL, without the user and password.
fn smtp_server(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host)
        .to_string()
}

/// One line at start saying whether the mail server answers. A warning,
/// never a refusal: a mail outage must not keep the site down.
fn check_server(transport: &SmtpTransport, server: &str) {
    match transport.test_connection() {
        Ok(true) => log::event("mail.smtp_ok", &[("server", &server)]),
        outcome => {
            let error = match outcome {
                Err(e) => e.to_string(),
                _ => "the server did not answer NOOP".to_string(),
            };
            log::event(
                "mail.smtp_unreachable",
                &[
                    ("server", &server),
                    ("error", &error),
                    (
                        "note",
                        &"sign-in codes cannot be emailed until it answers; the site keeps running",
                    ),
                ],
            );
        }
    }
}

pub(super) fn send(transport: &SmtpTransport, from: &Mailbox, email: &Email, outcomes: &Outcomes) {
    let message = match build(from, email) {
        Ok(m) => m,
        Err(e) => {
            log::event(
                "mail.failed",
                &[
                    ("to", &log::masked_email(&email.to)),
                    ("error", &e),
                    ("attempt", &0),
                ],
            );
            outcomes.given_up(email);
            return;
        }
    };
    for attempt in 1..=ATTEMPTS {
        match transport.send(&message) {
            Ok(_) => {
                log::event(
                    "mail.sent",
                    &[
                        ("to", &log::masked_email(&email.to)),
                        ("subject", &email.subject),
                    ],
                );
                outcomes.delivered(email);
                return;
            }
            Err(e) => {
                outcomes
                    .counters
                    .failed_attempts
                    .fetch_add(1, Ordering::Relaxed);
                // lettre's error names the server's reply, never the message body.
                log::event(
                    "mail.failed",
                    &[
                        ("to", &log::masked_email(&email.to)),
                        ("attempt", &attempt),
                        ("error", &e),
                    ],
                );
                if attempt < ATTEMPTS {
                    std::thread::sleep(Duration::from_secs(u64::from(attempt * 2)));
                }
            }
        }
    }
    log::event(
        "mail.given_up",
        &[
            ("to", &log::masked_email(&email.to)),
            ("subject", &email.subject),
        ],
    );
    outcomes.given_up(email);
}

fn build(from: &Mailbox, email: &Email) -> Result<Message, String> {
    let to: Mailbox = email
        .to
        .parse()
        .map_err(|e| format!("bad recipient: {e}"))?;
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(email.subject.clone())
        .multipart(MultiPart::alternative_plain_html(
            email.text.clone(),
            email.html.clone(),
        ))
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Timestamp;

    #[test]
    fn the_server_is_named_without_its_password() {
        assert_eq!(
            smtp_server("smtps://u:p@a@mail.example:465"),
            "mail.example:465"
        );
        assert_eq!(
            smtp_server("smtp://127.0.0.1:25?tls=required"),
            "127.0.0.1:25"
        );
        assert_eq!(smtp_server("smtp://relay/helo.example"), "relay");
    }

    #[test]
    fn code_email_says_what_and_when() {
        let now = Timestamp(1_800_000_000);
        let e =
            super::super::sign_in_code("a@b.co", "042137", now.plus(600), now, "https://x.example");
        assert!(e.text.contains("042137") && e.html.contains("042137"));
        assert!(e.text.contains("10 minutes"));
        assert!(e.text.contains("https://x.example"));
        assert!(build(&"no-reply@x.example".parse().unwrap(), &e).is_ok());
    }
}
