//! Log lines on stderr, one per request and one per domain event, in a
//! stable `key=value` form. Callers never pass codes, tokens or cookies.
//!
//! Lines are written at once, except request lines while the server is busy
//! (`Flush::Soon`): those wait in a buffer that a flusher thread writes out
//! every [`FLUSH_EVERY`], so a loaded server makes one `write` per batch
//! rather than one per request. Any line written at once takes the waiting
//! ones with it, in order; stopping the server writes the rest.

use std::fmt::{Display, Write as _};
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::clock::Timestamp;

/// The longest a buffered line waits.
pub const FLUSH_EVERY: Duration = Duration::from_millis(10);
/// Past this much waiting text (stderr blocked, say), lines are written at
/// once again, so a stuck reader slows requests rather than growing memory.
const PENDING_LIMIT: usize = 1 << 20;

/// How soon a line must reach stderr.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flush {
    /// Before the call returns.
    Now,
    /// Within [`FLUSH_EVERY`] while batching runs (else at once).
    Soon,
}

struct Sink {
    pending: Mutex<Vec<u8>>,
    wake: Condvar,
    batching: AtomicBool,
}

static SINK: Sink = Sink {
    pending: Mutex::new(Vec::new()),
    wake: Condvar::new(),
    batching: AtomicBool::new(false),
};

fn pending() -> MutexGuard<'static, Vec<u8>> {
    SINK.pending.lock().unwrap_or_else(|p| p.into_inner())
}

/// `ts=… event=NAME k=v …`, written at once.
pub fn event(name: &str, fields: &[(&str, &dyn Display)]) {
    event_with(Flush::Now, name, fields);
}

/// As [`event`], written as soon as `flush` asks.
pub fn event_with(flush: Flush, name: &str, fields: &[(&str, &dyn Display)]) {
    let mut line = String::with_capacity(160);
    let _ = write!(line, "ts={} event={name}", Timestamp::now());
    for (key, value) in fields {
        let _ = write!(line, " {key}=");
        let start = line.len();
        let _ = write!(line, "{value}");
        if !is_plain(&line[start..]) {
            let raw = line.split_off(start);
            push_value(&mut line, &raw);
        }
    }
    line.push('\n');
    emit(line.as_bytes(), flush);
}

fn emit(line: &[u8], flush: Flush) {
    if flush == Flush::Soon && SINK.batching.load(Ordering::Acquire) {
        let mut waiting = pending();
        if waiting.len() + line.len() <= PENDING_LIMIT {
            let first = waiting.is_empty();
            waiting.extend_from_slice(line);
            drop(waiting);
            if first {
                SINK.wake.notify_one();
            }
            return;
        }
    }
    // Holding stderr while taking the waiting lines keeps every line in the
    // order it was logged. A closed stderr must not take a worker down.
    let mut stderr = std::io::stderr().lock();
    let waiting = {
        let mut waiting = pending();
        // Taken only when it holds something: the buffer keeps its size.
        (!waiting.is_empty()).then(|| std::mem::take(&mut *waiting))
    };
    let _ = match waiting {
        None => stderr.write_all(line),
        Some(mut waiting) => {
            waiting.extend_from_slice(line);
            stderr.write_all(&waiting)
        }
    };
}

/// Writes out every waiting line.
pub fn flush() {
    let mut stderr = std::io::stderr().lock();
    let waiting = std::mem::take(&mut *pending());
    let _ = stderr.write_all(&waiting);
}

/// While this lives, `Flush::Soon` lines are batched; dropping it stops
/// the flusher thread and writes whatever still waits.
pub struct Batching {
    flusher: Option<JoinHandle<()>>,
}

impl Batching {
    pub fn start() -> std::io::Result<Batching> {
        SINK.batching.store(true, Ordering::Release);
        let flusher = std::thread::Builder::new()
            .name("log-flusher".into())
            .spawn(flusher);
        match flusher {
            Ok(thread) => Ok(Batching {
                flusher: Some(thread),
            }),
            Err(e) => {
                SINK.batching.store(false, Ordering::Release);
                Err(e)
            }
        }
    }
}

impl Drop for Batching {
    fn drop(&mut self) {
        {
            // Under the lock, so the flusher cannot miss the wake-up.
            let _waiting = pending();
            SINK.batching.store(false, Ordering::Release);
        }
        SINK.wake.notify_all();
        if let Some(thread) = self.flusher.take() {
            let _ = thread.join();
        }
        flush();
    }
}

/// Sleeps until a line waits, lets a batch gather for [`FLUSH_EVERY`],
/// writes it, and again; ends when batching stops and nothing waits.
fn flusher() {
    let mut spare = Vec::new();
    loop {
        {
            let mut waiting = pending();
            while waiting.is_empty() && SINK.batching.load(Ordering::Acquire) {
                waiting = SINK.wake.wait(waiting).unwrap_or_else(|p| p.into_inner());
            }
            if waiting.is_empty() {
                return;
            }
        }
        std::thread::sleep(FLUSH_EVERY);
        let mut stderr = std::io::stderr().lock();
        std::mem::swap(&mut spare, &mut *pending());
        let _ = stderr.write_all(&spare);
        drop(stderr);
        spare.clear();
    }
}

/// An email address as the log shows it once mail goes out by SMTP: the
/// first character and the domain (`a…@example.com`), enough to follow a
/// support request without the log becoming a list of customers. Without
/// SMTP the log is the mailbox, so callers show the address whole there.
pub fn masked_email(email: &str) -> String {
    match email.rsplit_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}…@{domain}")
        }
        None => "…".to_string(),
    }
}

fn is_plain(value: &str) -> bool {
    !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'=')
}

/// Quotes values with spaces or quotes, and escapes control characters so a
/// hostile value can never forge a second log line.
fn push_value(out: &mut String, value: &str) {
    if is_plain(value) {
        out.push_str(value);
        return;
    }
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::push_value;

    #[test]
    fn values_cannot_break_the_line() {
        let mut s = String::new();
        push_value(&mut s, "a b\r\nevent=forged \"x\"");
        assert_eq!(s, r#""a b\u{d}\u{a}event=forged \"x\"""#);
        let mut s = String::new();
        push_value(&mut s, "/login");
        assert_eq!(s, "/login");
    }
}
