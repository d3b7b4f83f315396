//! An SMTP sink that keeps every message the app sends (`mail.rs` reads
//! them).
//!
//! It speaks just enough plain SMTP for lettre's `SmtpTransport`: no TLS, no
//! AUTH. Each connection gets its own thread, and a connection may carry
//! several messages.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::mail::Mail;

#[derive(Default)]
struct Inbox {
    mails: Mutex<Vec<Mail>>,
    arrived: Condvar,
}

/// The running sink. Cheap to clone; all clones share one inbox.
#[derive(Clone)]
pub struct MailSink {
    addr: String,
    inbox: Arc<Inbox>,
}

impl MailSink {
    /// Binds 127.0.0.1:0 and serves until the test process exits.
    pub fn start() -> MailSink {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the SMTP sink");
        let addr = listener.local_addr().unwrap().to_string();
        let inbox = Arc::new(Inbox::default());
        let shared = inbox.clone();
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let inbox = shared.clone();
                thread::spawn(move || {
                    // A client that hangs up mid-message simply loses it.
                    let _ = serve_connection(stream, &inbox);
                });
            }
        });
        MailSink { addr, inbox }
    }

    /// `smtp://127.0.0.1:PORT`, the value for `APP_SMTP_URL`.
    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    /// Every message so far, oldest first.
    pub fn all(&self) -> Vec<Mail> {
        self.inbox.mails.lock().unwrap().clone()
    }

    /// How many messages so far were addressed to `to` (exact match).
    pub fn count_to(&self, to: &str) -> usize {
        self.to(to).len()
    }

    /// The messages so far addressed to `to` (exact match), oldest first.
    pub fn to(&self, to: &str) -> Vec<Mail> {
        let mails = self.inbox.mails.lock().unwrap();
        mails
            .iter()
            .filter(|m| m.to.iter().any(|t| t == to))
            .cloned()
            .collect()
    }

    /// Waits `settle` for stragglers, then counts the messages to `to`.
    /// Use it to check that a mail was *not* sent.
    pub fn count_to_after(&self, to: &str, settle: Duration) -> usize {
        thread::sleep(settle);
        self.count_to(to)
    }

    /// Waits until there is a message to `to` at 0-based position `n` among
    /// the messages to that address, and returns it. Panics after `timeout`.
    pub fn wait_for_nth(&self, to: &str, n: usize, timeout: Duration) -> Mail {
        let deadline = Instant::now() + timeout;
        let mut mails = self.inbox.mails.lock().unwrap();
        loop {
            if let Some(m) = mails.iter().filter(|m| m.to.iter().any(|t| t == to)).nth(n) {
                return m.clone();
            }
            let now = Instant::now();
            if now >= deadline {
                let seen: Vec<_> = mails.iter().map(|m| m.to.join(",")).collect();
                panic!("no mail #{n} to {to} within {timeout:?}; mails so far went to {seen:?}");
            }
            mails = self
                .inbox
                .arrived
                .wait_timeout(mails, deadline - now)
                .unwrap()
                .0;
        }
    }

    /// Waits until at least one message to `to` exists and returns the newest.
    pub fn wait_for(&self, to: &str, timeout: Duration) -> Mail {
        self.wait_for_nth(to, 0, timeout);
        self.to(to).pop().unwrap()
    }
}

fn serve_connection(stream: TcpStream, inbox: &Inbox) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut out = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    out.write_all(b"220 localhost test sink ready\r\n")?;
    let mut from = String::new();
    let mut to = Vec::new();
    loop {
        let line = match read_line(&mut reader)? {
            Some(line) => line,
            None => return Ok(()),
        };
        let upper = line.to_ascii_uppercase();
        let verb = upper.split_whitespace().next().unwrap_or("");
        match verb {
            "EHLO" => out.write_all(b"250-localhost\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n")?,
            "HELO" => out.write_all(b"250 localhost\r\n")?,
            "MAIL" => {
                from = angle_addr(&line);
                to.clear();
                out.write_all(b"250 OK\r\n")?;
            }
            "RCPT" => {
                to.push(angle_addr(&line));
                out.write_all(b"250 OK\r\n")?;
            }
            "DATA" => {
                out.write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")?;
                let data = read_data(&mut reader)?;
                let mail = Mail {
                    from: std::mem::take(&mut from),
                    to: std::mem::take(&mut to),
                    data,
                };
                inbox.mails.lock().unwrap().push(mail);
                inbox.arrived.notify_all();
                out.write_all(b"250 OK queued\r\n")?;
            }
            "RSET" => {
                from.clear();
                to.clear();
                out.write_all(b"250 OK\r\n")?;
            }
            "NOOP" => out.write_all(b"250 OK\r\n")?,
            "QUIT" => {
                out.write_all(b"221 Bye\r\n")?;
                return Ok(());
            }
            _ => out.write_all(b"502 Command not implemented\r\n")?,
        }
        out.flush()?;
    }
}

/// One line without its line end; `None` at end of stream.
fn read_line(reader: &mut impl BufRead) -> std::io::Result<Option<String>> {
    let mut buf = Vec::new();
    if reader.read_until(b'\n', &mut buf)? == 0 {
        return Ok(None);
    }
    while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        buf.pop();
    }
    Ok(Some(String::from_utf8_lossy(&buf).into_owned()))
}

/// The message after DATA, up to the line that is exactly ".", dot-stuffing undone.
fn read_data(reader: &mut impl BufRead) -> std::io::Result<String> {
    let mut lines = Vec::new();
    loop {
        let Some(line) = read_line(reader)? else {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "eof in DATA",
            ));
        };
        if line == "." {
            break;
        }
        lines.push(line.strip_prefix('.').map(str::to_string).unwrap_or(line));
    }
    Ok(lines.join("\r\n"))
}

/// The address between `<` and `>` in `MAIL FROM:<a@b> SIZE=…`.
fn angle_addr(line: &str) -> String {
    match (line.find('<'), line.find('>')) {
        (Some(a), Some(b)) if a < b => line[a + 1..b].to_string(),
        _ => line.split(':').nth(1).unwrap_or("").trim().to_string(),
    }
}

/// Hands out each recipient's mails one at a time, in order.
#[derive(Default)]
pub struct MailCursor {
    handed_out: Mutex<HashMap<String, usize>>,
}

impl MailCursor {
    /// The next mail to `to` not handed out yet, waiting up to `timeout`.
    pub fn next(&self, sink: &MailSink, to: &str, timeout: Duration) -> Mail {
        let n = *self.handed_out.lock().unwrap().get(to).unwrap_or(&0);
        let mail = sink.wait_for_nth(to, n, timeout);
        *self
            .handed_out
            .lock()
            .unwrap()
            .entry(to.to_string())
            .or_insert(0) = n + 1;
        mail
    }
}
