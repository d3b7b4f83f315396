//! Outgoing email. Requests only queue a message; one background worker
//! sends it over SMTP (lettre), retrying a few times. Without `APP_SMTP_URL`
//! messages are written to the log instead, for trying the app out.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::{Message, SmtpTransport, Transport};

use crate::clock::Timestamp;
use crate::error::{Error, Result};
use crate::log;

const ATTEMPTS: u32 = 3;

#[derive(Clone, Debug)]
pub struct Email {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
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
    failures: Arc<AtomicU64>,
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
                let transport = SmtpTransport::from_url(url)
                    .map_err(|e| Error::Usage(format!("APP_SMTP_URL is not usable: {e}")))?
                    .timeout(Some(Duration::from_secs(15)))
                    .build();
                Delivery::Smtp(Box::new(transport))
            }
            None => Delivery::Log,
        };
        let (tx, rx) = mpsc::channel();
        let failures = Arc::new(AtomicU64::new(0));
        let counted = failures.clone();
        let worker = std::thread::Builder::new()
            .name("mail".into())
            .spawn(move || run_worker(rx, delivery, from, &counted))?;
        Ok(Mailer {
            queue: tx,
            worker: Mutex::new(Some(worker)),
            failures,
        })
    }

    /// Queues a message; the caller never waits for the network.
    pub fn send(&self, email: Email) {
        if self.queue.send(Job::Send(email)).is_err() {
            log::event("mail.dropped", &[("reason", &"mail worker stopped")]);
        }
    }

    /// Failed send attempts since start.
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
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

fn run_worker(rx: Receiver<Job>, delivery: Delivery, from: Mailbox, failures: &AtomicU64) {
    while let Ok(Job::Send(email)) = rx.recv() {
        match &delivery {
            Delivery::Log => log_instead(&email),
            Delivery::Smtp(transport) => send_with_retries(transport, &from, &email, failures),
        }
    }
    // Whatever was queued after the stop is said, not silently lost.
    for job in rx.try_iter() {
        if let Job::Send(email) = job {
            log::event(
                "mail.unsent",
                &[("to", &email.to), ("subject", &email.subject)],
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
    failures: &AtomicU64,
) {
    let message = match build(from, email) {
        Ok(m) => m,
        Err(e) => {
            log::event(
                "mail.failed",
                &[("to", &email.to), ("error", &e), ("attempt", &0)],
            );
            return;
        }
    };
    for attempt in 1..=ATTEMPTS {
        match transport.send(&message) {
            Ok(_) => {
                log::event(
                    "mail.sent",
                    &[("to", &email.to), ("subject", &email.subject)],
                );
                return;
            }
            Err(e) => {
                failures.fetch_add(1, Ordering::Relaxed);
                // lettre's error names the server's reply, never the message body.
                log::event(
                    "mail.failed",
                    &[("to", &email.to), ("attempt", &attempt), ("error", &e)],
                );
                if attempt < ATTEMPTS {
                    std::thread::sleep(Duration::from_secs(u64::from(attempt * 2)));
                }
            }
        }
    }
    log::event(
        "mail.given_up",
        &[("to", &email.to), ("subject", &email.subject)],
    );
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
    }
}

fn hhmm(t: Timestamp) -> String {
    t.to_string()[11..16].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

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
