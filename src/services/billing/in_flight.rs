//! At most one Paddle call in flight per person and kind (the checkout's
//! transaction, a portal session), and a few a minute (SPEC §7, issue 17):
//! one subscriber clicking fast can't fill the `paddle` pool. In memory, as
//! the other per-client limits are; a restart forgets it.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use crate::clock::Timestamp;
use crate::services::ratelimit::Limiter;

/// Calls per person and kind in any minute.
pub const PER_MINUTE: usize = 5;
const WINDOW: i64 = 60;

/// What a person may not start now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// One of theirs is still waiting on Paddle.
    InFlight,
    /// Too many this minute: wait this many seconds.
    TooMany(i64),
}

type Key = (&'static str, i64);

/// The calls waiting on Paddle now, and each person's starts this minute
/// (the sliding window every other in-memory limit uses).
#[derive(Clone)]
pub struct PaddleCalls {
    in_flight: Arc<Mutex<HashSet<Key>>>,
    per_minute: Arc<Limiter>,
}

impl Default for PaddleCalls {
    fn default() -> PaddleCalls {
        PaddleCalls {
            in_flight: Arc::default(),
            per_minute: Arc::new(Limiter::new(PER_MINUTE, WINDOW)),
        }
    }
}

/// A call under way; dropping it (after the answer is made) frees the
/// person's place.
pub struct InFlight {
    in_flight: Arc<Mutex<HashSet<Key>>>,
    key: Key,
}

impl PaddleCalls {
    /// Starts `kind` for `user_id`, or says why not (nothing is counted
    /// then).
    pub fn begin(
        &self,
        kind: &'static str,
        user_id: i64,
        now: Timestamp,
    ) -> Result<InFlight, Refusal> {
        // Held across the count, so two clicks racing cannot both start.
        let mut in_flight = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        let key = (kind, user_id);
        if in_flight.contains(&key) {
            return Err(Refusal::InFlight);
        }
        self.per_minute
            .check_and_hit(&format!("{kind}:{user_id}"), now)
            .map_err(Refusal::TooMany)?;
        in_flight.insert(key);
        Ok(InFlight {
            in_flight: self.in_flight.clone(),
            key,
        })
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut in_flight = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        in_flight.remove(&self.key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Timestamp = Timestamp(1_800_000_000);

    #[test]
    fn one_in_flight_per_person_and_kind_and_a_few_a_minute() {
        let calls = PaddleCalls::default();
        let first = calls.begin("portal", 1, NOW).unwrap();
        assert_eq!(calls.begin("portal", 1, NOW).err(), Some(Refusal::InFlight));
        let other = calls.begin("portal", 2, NOW).expect("another person");
        let checkout = calls.begin("checkout", 1, NOW).expect("another kind");
        drop((first, other, checkout));
        for _ in 1..PER_MINUTE {
            drop(calls.begin("portal", 1, NOW.plus(10)).unwrap());
        }
        assert_eq!(
            calls.begin("portal", 1, NOW.plus(20)).err(),
            Some(Refusal::TooMany(40))
        );
        assert!(
            calls.begin("portal", 1, NOW.plus(60)).is_ok(),
            "a minute on"
        );
    }
}
