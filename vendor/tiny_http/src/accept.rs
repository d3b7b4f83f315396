//! app patch: the accept loop, which never ends but when the server is
//! dropped. Upstream's ended on the first accept error (`EMFILE` when the
//! process ran out of file descriptors), unwrapped a socket clone that fails
//! the same way, and let a failed thread spawn panic the accept thread: a
//! few hundred idle sockets left the process alive and refusing everyone
//! for good. Here an accept, clone or spawn error drops at most that one
//! connection, is reported (at most once a second), and accepting goes on
//! after a short pause; past `max_connections` open ones a new connection
//! is closed at once.

use std::io::{Error as IoError, ErrorKind};
use std::net::Shutdown;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use crate::client::ClientConnection;
use crate::connection::Listener;
use crate::head::HeadHook;
use crate::util::{MessagesQueue, RefinedTcpStream, TaskPool};
use crate::Message;

/// How long the loop pauses after an accept error that is not about one
/// connection (no file descriptors, no memory): the condition usually
/// passes as connections close, and retrying at once would spin.
pub const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// A kind of trouble the server met and went on from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trouble {
    /// `accept` failed (no file descriptors, no memory, …), or a socket
    /// could not be cloned for its two halves.
    Accept,
    /// No thread could be started for a connection: it was closed.
    Spawn,
    /// `max_connections` were open: a new one was closed at once.
    Full,
}

impl Trouble {
    pub fn as_str(self) -> &'static str {
        match self {
            Trouble::Accept => "accept_failed",
            Trouble::Spawn => "spawn_failed",
            Trouble::Full => "connections_full",
        }
    }
}

/// What the app hears of it: the kind, the error (when there is one), and
/// how many times it happened since the last report of that kind.
pub struct Report<'a> {
    pub trouble: Trouble,
    pub error: Option<&'a IoError>,
    pub times: u64,
}

/// The default reporter: nothing (upstream logged through `log`).
pub fn ignore(_: &Report<'_>) {}

/// At most one report a second per kind; the ones in between are counted.
#[derive(Default)]
struct Throttle {
    last: Option<Instant>,
    unreported: u64,
}

impl Throttle {
    fn hit(&mut self, now: Instant) -> Option<u64> {
        self.unreported += 1;
        if self.last.is_some_and(|t| now.duration_since(t) < Duration::from_secs(1)) {
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.unreported))
    }
}

/// Counts one open connection until dropped.
struct Open(Arc<AtomicUsize>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Tells the workers when the loop ends other than by the server being
/// dropped (a panic): `recv` then fails, so the app can exit non-zero
/// instead of living on without a listener.
struct Ended {
    close: Arc<AtomicBool>,
    messages: Arc<MessagesQueue<Message>>,
}

impl Drop for Ended {
    fn drop(&mut self) {
        if !self.close.load(Ordering::Relaxed) {
            let e = IoError::new(ErrorKind::Other, "the accept loop ended");
            self.messages.push(Message::Error(e));
        }
    }
}

pub(crate) struct AcceptLoop {
    pub listener: Listener,
    pub close: Arc<AtomicBool>,
    pub messages: Arc<MessagesQueue<Message>>,
    pub head: HeadHook,
    pub max_connections: usize,
    pub report: fn(&Report<'_>),
}

impl AcceptLoop {
    pub(crate) fn run(self) {
        let _ended = Ended {
            close: self.close.clone(),
            messages: self.messages.clone(),
        };
        let tasks_pool = TaskPool::new();
        let open = Arc::new(AtomicUsize::new(0));
        let mut throttles: [Throttle; 3] = Default::default();
        let mut trouble = |kind: Trouble, error: Option<&IoError>| {
            if let Some(times) = throttles[kind as usize].hit(Instant::now()) {
                (self.report)(&Report {
                    trouble: kind,
                    error,
                    times,
                });
            }
        };
        while !self.close.load(Ordering::Relaxed) {
            let sock = match self.listener.accept() {
                Ok((sock, _)) => sock,
                // one connection's own trouble: go on at once
                Err(e) if is_per_connection(&e) => continue,
                Err(e) => {
                    trouble(Trouble::Accept, Some(&e));
                    thread::sleep(ACCEPT_BACKOFF);
                    continue;
                }
            };
            if open.load(Ordering::Acquire) >= self.max_connections {
                let _ = sock.shutdown(Shutdown::Both);
                trouble(Trouble::Full, None);
                continue;
            }
            let (read, write) = match RefinedTcpStream::new(sock) {
                Ok(halves) => halves,
                Err(e) => {
                    trouble(Trouble::Accept, Some(&e));
                    thread::sleep(ACCEPT_BACKOFF);
                    continue;
                }
            };
            open.fetch_add(1, Ordering::AcqRel);
            let slot = Open(open.clone());
            let client = ClientConnection::new(write, read, self.head.clone());
            let messages = self.messages.clone();
            let mut task = Some((client, slot));
            let spawned = tasks_pool.spawn(Box::new(move || {
                if let Some((client, _slot)) = task.take() {
                    serve(client, &messages);
                }
            }));
            // a task that could not start was dropped with its connection
            if let Err(e) = spawned {
                trouble(Trouble::Spawn, Some(&e));
                thread::sleep(ACCEPT_BACKOFF);
            }
        }
    }
}

/// Hands every request of one connection to the workers.
fn serve(client: ClientConnection, messages: &MessagesQueue<Message>) {
    // Synchronization is needed for HTTPS requests to avoid a deadlock
    if client.secure() {
        let (sender, receiver) = mpsc::channel();
        for rq in client {
            messages.push(rq.with_notify_sender(sender.clone()).into());
            if receiver.recv().is_err() {
                break;
            }
        }
    } else {
        for rq in client {
            messages.push(rq.into());
        }
    }
}

/// Errors that concern the connection being accepted, not the process.
fn is_per_connection(e: &IoError) -> bool {
    matches!(
        e.kind(),
        ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset | ErrorKind::Interrupted
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kind_is_reported_at_most_once_a_second_with_the_count_between() {
        let mut t = Throttle::default();
        let start = Instant::now();
        assert_eq!(t.hit(start), Some(1));
        assert_eq!(t.hit(start + Duration::from_millis(10)), None);
        assert_eq!(t.hit(start + Duration::from_millis(900)), None);
        assert_eq!(t.hit(start + Duration::from_millis(1000)), Some(3));
        assert_eq!(t.hit(start + Duration::from_millis(1001)), None);
    }

    #[test]
    fn a_loop_that_ends_unasked_fails_the_next_recv() {
        let messages = MessagesQueue::with_capacity(1);
        let close = Arc::new(AtomicBool::new(false));
        drop(Ended {
            close: close.clone(),
            messages: messages.clone(),
        });
        assert!(matches!(messages.try_pop(), Some(Message::Error(_))));
        // dropped with the server: nothing to report
        close.store(true, Ordering::Relaxed);
        drop(Ended {
            close,
            messages: messages.clone(),
        });
        assert!(messages.try_pop().is_none());
    }
}
