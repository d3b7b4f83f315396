//! At most one Paddle call in flight per person and kind (the checkout's
//! transaction, a portal session), and a few a minute (SPEC §7, issue 17):
//! one subscriber clicking fast can't fill the `paddle` pool. In memory, as
//! the other per-client limits are; a restart forgets it.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use crate::clock::Timestamp;

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

#[derive(Default)]
struct Person {
    in_flight: bool,
    started: VecDeque<i64>,
}

#[derive(Clone, Default)]
pub struct PaddleCalls {
    people: Arc<Mutex<HashMap<Key, Person>>>,
}

/// A call in flight; dropping it (when the pool job ends, however it ends)
/// lets the person start the next one.
pub struct InFlight {
    people: Arc<Mutex<HashMap<Key, Person>>>,
    key: Key,
}

impl PaddleCalls {
    /// Starts a `kind` call for `user_id`, or says why not.
    pub fn begin(
        &self,
        kind: &'static str,
        user_id: i64,
        now: Timestamp,
    ) -> Result<InFlight, Refusal> {
        let mut people = self.people.lock().unwrap_or_else(|p| p.into_inner());
        if people.len() > 10_000 {
            people.retain(|_, p| {
                p.in_flight || p.started.back().is_some_and(|t| t + WINDOW > now.secs())
            });
        }
        let person = people.entry((kind, user_id)).or_default();
        while person
            .started
            .front()
            .is_some_and(|t| t + WINDOW <= now.secs())
        {
            person.started.pop_front();
        }
        if person.in_flight {
            return Err(Refusal::InFlight);
        }
        if person.started.len() >= PER_MINUTE {
            let oldest = person.started.front().copied().unwrap_or(now.secs());
            return Err(Refusal::TooMany((oldest + WINDOW - now.secs()).max(1)));
        }
        person.in_flight = true;
        person.started.push_back(now.secs());
        Ok(InFlight {
            people: self.people.clone(),
            key: (kind, user_id),
        })
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut people = self.people.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(person) = people.get_mut(&self.key) {
            person.in_flight = false;
        }
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
