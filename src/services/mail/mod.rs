//! Outgoing email: the queue and its one worker. Requests only queue a
//! message; the worker hands it to `smtp` (or, without `APP_SMTP_URL`,
//! writes it to the log, for trying the app out). A message given up on is
//! counted and, for a sign-in code, remembered for a while so the person's
//! verify page can say so. What the messages say lives in `texts`.

mod smtp;
pub mod texts;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lettre::message::Mailbox;

use crate::error::{Error, Result};
use crate::log;
use crate::worker::Worker;

pub use texts::sign_in_code;

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
    Smtp(Box<smtp::Transport>),
    Log,
}

pub struct Mailer {
    /// `Sender` is `Sync`, so workers share it without a lock.
    queue: Sender<Job>,
    outcomes: Arc<Outcomes>,
}

impl Mailer {
    /// Starts the mail worker. `smtp_url` as in `APP_SMTP_URL`. Stopping
    /// the worker sends what is queued first; what could not be sent by the
    /// deadline is logged, never dropped silently.
    pub fn start(smtp_url: Option<&str>, from: &str) -> Result<(Mailer, Worker)> {
        let from: Mailbox = from.parse().map_err(|e| {
            Error::Usage(format!(
                "APP_MAIL_FROM {from:?} is not an email address: {e}"
            ))
        })?;
        let delivery = match smtp_url {
            Some(url) => Delivery::Smtp(Box::new(smtp::start(url)?)),
            None => Delivery::Log,
        };
        let (tx, rx) = mpsc::channel();
        let outcomes = Arc::new(Outcomes::default());
        let shared = outcomes.clone();
        let worker = std::thread::Builder::new()
            .name("mail".into())
            .spawn(move || run_worker(rx, delivery, from, &shared))?;
        let stop = tx.clone();
        let worker = Worker::new("mail", vec![worker], move || {
            let _ = stop.send(Job::Stop);
        })
        .when_unfinished(|| {
            log::event(
                "mail.shutdown_timeout",
                &[("note", &"mail still queued at exit was not sent")],
            )
        });
        Ok((
            Mailer {
                queue: tx,
                outcomes,
            },
            worker,
        ))
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
}

fn run_worker(rx: Receiver<Job>, delivery: Delivery, from: Mailbox, outcomes: &Outcomes) {
    while let Ok(Job::Send(email)) = rx.recv() {
        match &delivery {
            Delivery::Log => {
                log_instead(&email);
                outcomes.delivered(&email);
            }
            Delivery::Smtp(transport) => smtp::send(transport, &from, &email, outcomes),
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
