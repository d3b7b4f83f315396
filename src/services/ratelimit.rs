//! In-memory sliding-window limits keyed by client address (code requests,
//! wrong admin tokens) or by person (Paddle calls a minute). Per-email
//! limits live in the database instead, so they hold across restarts.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use crate::clock::Timestamp;

pub struct Limiter {
    max: usize,
    window: i64,
    hits: Mutex<HashMap<String, VecDeque<i64>>>,
}

impl Limiter {
    pub fn new(max: usize, window_secs: i64) -> Limiter {
        Limiter {
            max,
            window: window_secs,
            hits: Mutex::new(HashMap::new()),
        }
    }

    /// How long `key` must wait before it is under the limit again, or
    /// `None` when it is under it now.
    pub fn retry_after(&self, key: &str, now: Timestamp) -> Option<i64> {
        let mut hits = self.hits.lock().unwrap_or_else(|p| p.into_inner());
        let queue = hits.get_mut(key)?;
        self.wait(queue, now)
    }

    /// Counts one hit for `key`.
    pub fn hit(&self, key: &str, now: Timestamp) {
        let _ = self.record(key, now, false);
    }

    /// Checks the limit and, when under it, counts the hit: one step under
    /// one lock, so requests racing at the limit cannot both pass.
    pub fn check_and_hit(&self, key: &str, now: Timestamp) -> Result<(), i64> {
        self.record(key, now, true)
    }

    fn record(&self, key: &str, now: Timestamp, check: bool) -> Result<(), i64> {
        let mut hits = self.hits.lock().unwrap_or_else(|p| p.into_inner());
        if hits.len() > 100_000 {
            // Bound memory under a flood of distinct keys: drop idle ones.
            let window = self.window;
            hits.retain(|_, q| q.back().is_some_and(|t| t + window > now.secs()));
        }
        let queue = hits.entry(key.to_string()).or_default();
        if check {
            if let Some(wait) = self.wait(queue, now) {
                return Err(wait);
            }
        }
        queue.push_back(now.secs());
        Ok(())
    }

    /// Drops expired hits; how long to wait when the limit is reached.
    fn wait(&self, queue: &mut VecDeque<i64>, now: Timestamp) -> Option<i64> {
        self.expire(queue, now);
        (queue.len() >= self.max).then(|| {
            queue
                .front()
                .map_or(1, |t| t + self.window - now.secs())
                .max(1)
        })
    }

    fn expire(&self, queue: &mut VecDeque<i64>, now: Timestamp) {
        while queue.front().is_some_and(|t| t + self.window <= now.secs()) {
            queue.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_max_per_window_then_says_how_long_to_wait() {
        let l = Limiter::new(3, 100);
        let t = Timestamp(1000);
        for _ in 0..3 {
            assert_eq!(l.check_and_hit("a", t), Ok(()));
        }
        assert_eq!(l.check_and_hit("a", t.plus(10)), Err(90));
        assert_eq!(
            l.check_and_hit("b", t.plus(10)),
            Ok(()),
            "keys are separate"
        );
        assert_eq!(l.check_and_hit("a", t.plus(100)), Ok(()), "window slid");
    }

    #[test]
    fn racing_requests_never_pass_the_limit_together() {
        let l = std::sync::Arc::new(Limiter::new(30, 3600));
        let t = Timestamp(1000);
        let passed: usize = (0..8)
            .map(|_| {
                let l = l.clone();
                std::thread::spawn(move || {
                    (0..10).filter(|_| l.check_and_hit("ip", t).is_ok()).count()
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|h| h.join().unwrap())
            .sum();
        assert_eq!(passed, 30);
    }
}
