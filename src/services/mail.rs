//! Outgoing email. Requests only queue a message; one background worker
//! sends it over SMTP (lettre), retrying a few times. Without `APP_SMTP_URL`
//! messages are written to the log instead, for trying the app out. At start
//! the SMTP server is checked once, off the start-up path, and the result
//! logged; a message given up on is counted and, for a sign-in code,
//! remembered for a while so the person's verify page can say so.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use lettre::message::{Mailbox, MultiPart};
use lettre::{Message, SmtpTransport, Transport};

use crate::clock::Timestamp;
use crate::config::SMTP_URL_FORMS;
use crate::error::{Error, Result};
use crate::log;

const ATTEMPTS: u32 = 3;
/// How long the start-up check waits for the SMTP server.
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a sign-in code's failed delivery is remembered: as long as the
/// pending sign-in it belongs to lasts.
const UNDELIVERED_KEPT: Duration = Duration::from_secs(30 * 60);
/// The most failed deliveries remembered at once.
const UNDELIVERED_MAX: usize = 10_000;

#[derive(Clone, Debug, Default)]
pub struct Email {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// For a sign-in code: the key its pending sign-in is known by, under
    /// which a delivery that failed for good is remembered.
    pub sign_in: Option<String>,
}

/// What the mail worker did since start.
#[derive(Default)]
struct Counters {
    sent: AtomicU64,
    undelivered: AtomicU64,
    failed_attempts: AtomicU64,
    codes_sent: AtomicU64,
    codes_undelivered: AtomicU64,
}

/// A reading of the counters, for `/metrics`.
#[derive(Clone, Copy, Debug, Default)]
pub struct MailCounts {
    /// Messages the mail server accepted (or, without one, that were logged).
    pub sent: u64,
    /// Messages given up on after every attempt failed.
    pub undelivered: u64,
    pub failed_attempts: u64,
    pub codes_sent: u64,
    pub codes_undelivered: u64,
}

/// Shared between the mailer and its worker.
#[derive(Default)]
struct Outcomes {
    counters: Counters,
    /// Sign-in keys whose code could not be delivered, and when.
    undelivered: Mutex<HashMap<String, Instant>>,
}

impl Outcomes {
    fn delivered(&self, email: &Email) {
        self.counters.sent.fetch_add(1, Ordering::Relaxed);
        if email.sign_in.is_some() {
            self.counters.codes_sent.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn given_up(&self, email: &Email) {
        self.counters.undelivered.fetch_add(1, Ordering::Relaxed);
        let Some(key) = &email.sign_in else { return };
        self.counters
            .codes_undelivered
            .fetch_add(1, Ordering::Relaxed);
        let mut map = self.undelivered.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, at| at.elapsed() < UNDELIVERED_KEPT);
        if map.len() < UNDELIVERED_MAX {
            map.insert(key.clone(), Instant::now());
        }
    }
}

enum Job {
    Send(Email),
    Stop,
}

enum Delivery {
    Smtp(Box<SmtpTransport>),
    Log,
}

pub struct Mailer {
    /// `Sender` is `Sync`, so workers share it without a lock.
    queue: Sender<Job>,
    worker: Mutex<Option<JoinHandle<()>>>,
    outcomes: Arc<Outcomes>,
}

impl Mailer {
    /// Starts the mail worker. `smtp_url` as in `APP_SMTP_URL`.
    pub fn start(smtp_url: Option<&str>, from: &str) -> Result<Mailer> {
        let from: Mailbox = from.parse().map_err(|e| {
            Error::Usage(format!(
                "APP_MAIL_FROM {from:?} is not an email address: {e}"
            ))
        })?;
        let delivery = match smtp_url {
            Some(url) => {
                let transport = smtp_transport(url, Duration::from_secs(15))?;
                let check = smtp_transport(url, CHECK_TIMEOUT)?;
                let server = smtp_server(url);
                std::thread::Builder::new()
                    .name("mail-check".into())
                    .spawn(move || check_server(&check, &server))?;
                Delivery::Smtp(Box::new(transport))
            }
            None => Delivery::Log,
        };
        let (tx, rx) = mpsc::channel();
        let outcomes = Arc::new(Outcomes::default());
        let shared = outcomes.clone();
        let worker = std::thread::Builder::new()
            .name("mail".into())
            .spawn(move || run_worker(rx, delivery, from, &shared))?;
        Ok(Mailer {
            queue: tx,
            worker: Mutex::new(Some(worker)),
            outcomes,
        })
    }

    /// Queues a message; the caller never waits for the network.
    pub fn send(&self, email: Email) {
        if self.queue.send(Job::Send(email)).is_err() {
            log::event("mail.dropped", &[("reason", &"mail worker stopped")]);
        }
    }

    /// What was sent and what failed since start.
    pub fn counts(&self) -> MailCounts {
        let c = &self.outcomes.counters;
        let load = |n: &AtomicU64| n.load(Ordering::Relaxed);
        MailCounts {
            sent: load(&c.sent),
            undelivered: load(&c.undelivered),
            failed_attempts: load(&c.failed_attempts),
            codes_sent: load(&c.codes_sent),
            codes_undelivered: load(&c.codes_undelivered),
        }
    }

    /// Whether the sign-in code sent under `key` could not be delivered
    /// (within the last 30 minutes).
    pub fn undelivered(&self, key: &str) -> bool {
        self.outcomes
            .undelivered
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            .is_some_and(|at| at.elapsed() < UNDELIVERED_KEPT)
    }

    /// Sends what is queued, then stops the worker, waiting at most `wait`;
    /// what could not be sent by then is logged, never dropped silently.
    pub fn shutdown(&self, wait: Duration) {
        let _ = self.queue.send(Job::Stop);
        let Some(worker) = self.worker.lock().unwrap_or_else(|p| p.into_inner()).take() else {
            return;
        };
        let deadline = std::time::Instant::now() + wait;
        while !worker.is_finished() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        if worker.is_finished() {
            let _ = worker.join();
        } else {
            log::event(
                "mail.shutdown_timeout",
                &[("note", &"mail still queued at exit was not sent")],
            );
        }
    }
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

fn run_worker(rx: Receiver<Job>, delivery: Delivery, from: Mailbox, outcomes: &Outcomes) {
    while let Ok(Job::Send(email)) = rx.recv() {
        match &delivery {
            Delivery::Log => {
                log_instead(&email);
                outcomes.delivered(&email);
            }
            Delivery::Smtp(transport) => send_with_retries(transport, &from, &email, outcomes),
        }
    }
    // Whatever was queued after the stop is said, not silently lost.
    for job in rx.try_iter() {
        if let Job::Send(email) = job {
            log::event(
                "mail.unsent",
                &[
                    ("to", &log::masked_email(&email.to)),
                    ("subject", &email.subject),
                ],
            );
        }
    }
}

fn log_instead(email: &Email) {
    log::event(
        "mail.logged",
        &[
            ("to", &email.to),
            ("subject", &email.subject),
            (
                "note",
                &"APP_SMTP_URL is unset, so the message is printed here",
            ),
        ],
    );
    eprintln!(
        "----- mail to {} -----\n{}\n----- end of mail -----",
        email.to, email.text
    );
}

fn send_with_retries(
    transport: &SmtpTransport,
    from: &Mailbox,
    email: &Email,
    outcomes: &Outcomes,
) {
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn a_code_given_up_on_is_remembered_under_its_key_and_counted() {
        let outcomes = Outcomes::default();
        let code = Email {
            sign_in: Some("key-1".into()),
            ..Email::default()
        };
        outcomes.given_up(&code);
        outcomes.delivered(&Email::default());
        let mailer = Mailer {
            queue: mpsc::channel().0,
            worker: Mutex::new(None),
            outcomes: Arc::new(outcomes),
        };
        assert!(mailer.undelivered("key-1"));
        assert!(!mailer.undelivered("key-2"));
        let c = mailer.counts();
        assert_eq!(
            (c.sent, c.undelivered, c.codes_sent, c.codes_undelivered),
            (1, 1, 0, 1)
        );
    }

    #[test]
    fn code_email_says_what_and_when() {
        let now = Timestamp(1_800_000_000);
        let e = sign_in_code("a@b.co", "042137", now.plus(600), now, "https://x.example");
        assert!(e.text.contains("042137") && e.html.contains("042137"));
        assert!(e.text.contains("10 minutes"));
        assert!(e.text.contains("https://x.example"));
        assert!(build(&"no-reply@x.example".parse().unwrap(), &e).is_ok());
    }
}
