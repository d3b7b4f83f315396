//! A background worker: the thread or threads `serve` starts beside the
//! request workers (the janitor and notices jobs, the billing outbox, the
//! mail worker, the offload pools), and the one way to stop them.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::error::Result;
use crate::log;

type Hook = Box<dyn FnOnce() + Send>;

/// Threads that run until asked to stop. [`Worker::stop`] asks, then waits
/// for them until a deadline.
#[must_use = "a worker is stopped at shutdown with `stop`"]
pub struct Worker {
    threads: Vec<JoinHandle<()>>,
    /// Asks the threads to finish: sets a flag, closes a queue, sends a stop.
    ask: Hook,
    /// Said when the threads have not finished by the deadline.
    unfinished: Hook,
}

impl Worker {
    /// `threads`, which finish once `ask` has run.
    pub fn new(
        name: &'static str,
        threads: Vec<JoinHandle<()>>,
        ask: impl FnOnce() + Send + 'static,
    ) -> Worker {
        Worker {
            threads,
            ask: Box::new(ask),
            unfinished: Box::new(move || {
                log::event("worker.unfinished", &[("worker", &name)]);
            }),
        }
    }

    /// What to log instead when the threads outlive the deadline.
    pub fn when_unfinished(self, say: impl FnOnce() + Send + 'static) -> Worker {
        Worker {
            unfinished: Box::new(say),
            ..self
        }
    }

    /// One worker of two, asked and waited for together.
    pub fn and(mut self, other: Worker) -> Worker {
        let (ask, other_ask) = (self.ask, other.ask);
        let (unfinished, other_unfinished) = (self.unfinished, other.unfinished);
        self.threads.extend(other.threads);
        Worker {
            ask: Box::new(move || {
                ask();
                other_ask();
            }),
            unfinished: Box::new(move || {
                unfinished();
                other_unfinished();
            }),
            ..self
        }
    }

    /// Runs `job` at start and then every `every` on a thread named `name`,
    /// until stopped; a failure is logged as `{name}.failed` and the job runs
    /// again at its next turn.
    pub fn every(
        name: &'static str,
        every: Duration,
        mut job: impl FnMut() -> Result<()> + Send + 'static,
    ) -> Result<Worker> {
        let stopping = Arc::new(AtomicBool::new(false));
        let flag = stopping.clone();
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                let mut next = Instant::now();
                while !flag.load(Ordering::SeqCst) {
                    if Instant::now() >= next {
                        if let Err(e) = job() {
                            log::event(&format!("{name}.failed"), &[("error", &e)]);
                        }
                        next = Instant::now() + every;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            })?;
        Ok(Worker::new(name, vec![thread], move || {
            stopping.store(true, Ordering::SeqCst)
        }))
    }

    /// Asks the threads to finish and waits for them until `deadline`.
    /// Returns whether they all did; threads still running are left to the
    /// process's exit, and that is logged.
    pub fn stop(self, deadline: Instant) -> bool {
        (self.ask)();
        while self.threads.iter().any(|t| !t.is_finished()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let finished = self.threads.iter().all(JoinHandle::is_finished);
        if finished {
            for thread in self.threads {
                let _ = thread.join();
            }
        } else {
            (self.unfinished)();
        }
        finished
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn a_job_runs_at_start_and_stops_when_asked() {
        let runs = Arc::new(AtomicUsize::new(0));
        let counted = runs.clone();
        let worker = Worker::every("test-job", Duration::from_secs(3600), move || {
            counted.fetch_add(1, Ordering::SeqCst);
            Ok(())
        })
        .unwrap();
        let started = Instant::now();
        while runs.load(Ordering::SeqCst) == 0 && started.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(worker.stop(Instant::now() + Duration::from_secs(5)));
        assert_eq!(runs.load(Ordering::SeqCst), 1, "once, at start");
    }

    #[test]
    fn a_worker_that_outlives_its_deadline_is_said_and_left() {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let _ = rx.recv_timeout(Duration::from_secs(2));
        });
        let said = Arc::new(AtomicBool::new(false));
        let flag = said.clone();
        let worker = Worker::new("deaf", vec![thread], || {})
            .when_unfinished(move || flag.store(true, Ordering::SeqCst));
        assert!(!worker.stop(Instant::now() + Duration::from_millis(50)));
        assert!(said.load(Ordering::SeqCst));
        drop(tx);
    }

    #[test]
    fn two_workers_joined_are_asked_and_waited_for_together() {
        let quiet = |name| {
            let stopping = Arc::new(AtomicBool::new(false));
            let flag = stopping.clone();
            let thread = std::thread::spawn(move || {
                while !flag.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(5));
                }
            });
            Worker::new(name, vec![thread], move || {
                stopping.store(true, Ordering::SeqCst)
            })
        };
        let both = quiet("a").and(quiet("b"));
        assert!(both.stop(Instant::now() + Duration::from_secs(5)));
    }
}
