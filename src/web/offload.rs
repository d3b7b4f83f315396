//! Work that waits on another server (the LLM, Paddle's API), finished on
//! small bounded pools of their own threads so the request workers never
//! wait on the network. A handler does the quick part (the gate, the
//! input, the rate limit) and returns `Resp::offload(PoolName::Llm, job)`;
//! the worker then hands the connection and the job to that pool, which runs
//! the job and answers. A full pool answers 503 at once, on the worker.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};

use rusqlite::Connection;

use crate::config::Config;
use crate::db;
use crate::error::{Error, Result};
use crate::log;
use crate::worker::Worker;

pub use super::http::{Job, Offload, PoolName};

/// What a full pool tells the client to wait, in seconds.
const FULL_RETRY_AFTER: i64 = 10;

/// The answer when a pool is full: 503 with `Retry-After`.
pub fn full() -> Error {
    Error::Unavailable {
        retry_after: FULL_RETRY_AFTER,
        message: "Too many requests are waiting for this just now. Try again in a few seconds."
            .into(),
    }
}

/// Every pool the app has.
pub struct Pools {
    pub llm: Pool,
    pub paddle: Pool,
}

impl Pools {
    /// The pools, sized from the configuration; no thread runs until `start`.
    pub fn new(config: &Config) -> Pools {
        let n = config.llm_concurrency;
        Pools {
            // n running and 2n waiting: a slow model's queue stays short
            // enough that a waiting analysis still gets its turn in time.
            llm: Pool::new("llm", n, 3 * n),
            // A portal link is a rare click; two calls at once is plenty.
            paddle: Pool::new("paddle", 2, 8),
        }
    }

    pub fn get(&self, name: PoolName) -> &Pool {
        match name {
            PoolName::Llm => &self.llm,
            PoolName::Paddle => &self.paddle,
        }
    }

    /// Starts every pool's threads; stopping the worker lets queued and
    /// running jobs finish, until its deadline.
    pub fn start(&self, db_path: &Path) -> Result<Worker> {
        Ok(self.llm.start(db_path)?.and(self.paddle.start(db_path)?))
    }
}

/// A task as the server loop hands it over: it answers the request itself.
pub type Task = Box<dyn FnOnce(&Connection) + Send>;

/// `threads` threads, each with its own connection, taking tasks from one
/// queue. At most `limit` tasks are outstanding (running or waiting); a
/// caller reserves a place first, so a full pool is known before the
/// request is handed over.
pub struct Pool {
    name: &'static str,
    threads: usize,
    limit: usize,
    outstanding: Arc<AtomicUsize>,
    /// Taken (dropped) to stop the pool: each thread ends once the queue
    /// is empty.
    queue: Arc<Mutex<Option<Sender<Task>>>>,
    waiting: Arc<Mutex<Receiver<Task>>>,
}

/// A place in a pool, reserved; dropping it unused gives it back.
pub struct Slot<'a> {
    pool: &'a Pool,
}

impl Pool {
    pub fn new(name: &'static str, threads: usize, limit: usize) -> Pool {
        let (tx, rx) = mpsc::channel();
        Pool {
            name,
            threads,
            limit,
            outstanding: Arc::new(AtomicUsize::new(0)),
            queue: Arc::new(Mutex::new(Some(tx))),
            waiting: Arc::new(Mutex::new(rx)),
        }
    }

    /// Starts the threads. Stopping the worker stops taking tasks and lets
    /// the queued and running ones finish.
    pub fn start(&self, db_path: &Path) -> Result<Worker> {
        let mut running = Vec::new();
        for n in 0..self.threads {
            let conn = db::open(db_path)?;
            let (waiting, outstanding) = (self.waiting.clone(), self.outstanding.clone());
            running.push(
                std::thread::Builder::new()
                    .name(format!("{}-{n}", self.name))
                    .spawn(move || run(&waiting, &outstanding, &conn))?,
            );
        }
        let (queue, outstanding, name) = (self.queue.clone(), self.outstanding.clone(), self.name);
        let worker = Worker::new(name, running, move || {
            drop(queue.lock().unwrap_or_else(|p| p.into_inner()).take());
        })
        .when_unfinished(move || {
            let left = outstanding.load(Ordering::SeqCst);
            log::event(
                "offload.shutdown_timeout",
                &[("pool", &name), ("unfinished", &left)],
            );
        });
        Ok(worker)
    }

    /// A place for one task, or `None` when `limit` tasks are outstanding.
    pub fn reserve(&self) -> Option<Slot<'_>> {
        self.outstanding
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < self.limit).then_some(n + 1)
            })
            .ok()
            .map(|_| Slot { pool: self })
    }

    /// Whether a task would be refused now. Only a hint (another worker may
    /// take or free a place a moment later); `reserve` is the bound.
    pub fn is_full(&self) -> bool {
        self.outstanding() >= self.limit
    }

    /// Tasks running or waiting now.
    pub fn outstanding(&self) -> usize {
        self.outstanding.load(Ordering::SeqCst)
    }
}

impl Slot<'_> {
    /// Queues the task in the reserved place. The pool stops only after the
    /// request workers have, so this cannot fail in practice; if it did, the
    /// task is dropped and tiny_http answers its request with a bare 500.
    pub fn run(self, task: Task) {
        let queued = match self
            .pool
            .queue
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            Some(tx) => tx.send(task).is_ok(),
            None => false,
        };
        if queued {
            // From here the pool thread gives the place back.
            std::mem::forget(self);
        } else {
            log::event("offload.refused_after_stop", &[("pool", &self.pool.name)]);
        }
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.pool.outstanding.fetch_sub(1, Ordering::SeqCst);
    }
}

fn run(waiting: &Mutex<Receiver<Task>>, outstanding: &AtomicUsize, conn: &Connection) {
    loop {
        // The lock is held only while waiting for the next task.
        let next = waiting.lock().unwrap_or_else(|p| p.into_inner()).recv();
        let Ok(task) = next else { return };
        // A task answers its own request and catches its job's panics; this
        // keeps the thread should anything else in it panic.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| task(conn)));
        outstanding.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn a_full_pool_refuses_and_every_task_frees_its_place() {
        let pool = Pool::new("test", 1, 2);
        let (a, b) = (pool.reserve(), pool.reserve());
        assert!(a.is_some() && b.is_some());
        assert!(pool.reserve().is_none(), "two outstanding is the limit");
        drop(b);
        assert_eq!(pool.outstanding(), 1, "an unused place is given back");

        let dir = tempfile::tempdir().unwrap();
        let worker = pool.start(&dir.path().join("pool.db")).unwrap();
        let (tx, rx) = mpsc::channel();
        let second = pool.reserve().expect("a place after the drop");
        for slot in [a.unwrap(), second] {
            let tx = tx.clone();
            slot.run(Box::new(move |_| {
                std::thread::sleep(Duration::from_millis(50));
                tx.send(()).unwrap();
            }));
        }
        assert!(worker.stop(Instant::now() + Duration::from_secs(5)));
        assert_eq!(
            rx.try_iter().count(),
            2,
            "queued tasks finish before shutdown returns"
        );
        assert_eq!(pool.outstanding(), 0);
        // After shutdown a task is dropped (tiny_http then answers 500), and
        // its place is still given back.
        pool.reserve().unwrap().run(Box::new(|_| {}));
        assert_eq!(pool.outstanding(), 0);
    }
}
