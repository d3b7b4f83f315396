//! The outbox worker: one background thread that claims due rows of
//! `paddle_outbox`, makes the Paddle call each describes, and records the
//! outcome in a second transaction. Rows are the queue, so a restart loses
//! nothing; a claimed row whose worker died is retried once its lease runs
//! out, and a discount whose first try's outcome is unknown is checked
//! with a GET before it is sent again.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rusqlite::Connection;
use serde_json::Value;

use super::call_outcomes;
use super::paddle_api::{ApiError, PaddleApi};
use super::reward_terms::{reward_terms, BillingCycle};
use super::rewards::{self, BeforeApply};
use crate::clock::Timestamp;
use crate::config::PaddleConfig;
use crate::db::{self, outbox, outbox::Job};
use crate::error::Result;
use crate::log;

/// How often the worker looks for due rows (the CLI may add some too).
const POLL: Duration = Duration::from_millis(250);
/// How often rewards whose discount has run out are looked at again, so
/// the next one is applied without waiting for a subscription event.
const SWEEP: Duration = Duration::from_secs(60);
/// How long a claim holds a row: longer than any one call can take.
const LEASE_SECS: i64 = 60;
/// After a Paddle lock, the next try comes no sooner than this (SPEC §7)…
pub const LOCK_WAIT: i64 = 30 * 60;
/// …and locks are waited out this long before the call is given up.
pub const LOCK_PATIENCE: i64 = 7 * 86_400;

/// Seconds to wait after the `attempts`-th failed try: the third try comes
/// within 10 s of the first, then the wait grows to at most an hour.
pub fn retry_delay(attempts: i64) -> i64 {
    match attempts {
        ..=1 => 2,
        2 => 6,
        3 => 30,
        4 => 120,
        5 => 600,
        6 => 1800,
        _ => 3600,
    }
}

/// Starts the worker when billing is configured. `failures` counts failed
/// API calls (for `/metrics`). Stopping it waits for a call in flight; a
/// call cut off by the deadline is retried (after its lease) at the next
/// start.
pub fn start(
    db_path: &Path,
    paddle: Option<&PaddleConfig>,
    failures: Arc<AtomicU64>,
) -> Result<Option<crate::worker::Worker>> {
    let Some(paddle) = paddle.cloned() else {
        return Ok(None);
    };
    let conn = db::open(db_path)?;
    // The reward discount exists before any invitee's checkout needs it.
    if super::referral_discount_id(&conn, &paddle)?.is_none() {
        db::write(&conn, |tx| {
            db::outbox::enqueue(
                tx,
                "create_discount",
                "{}",
                "create_discount",
                true,
                Timestamp::now(),
            )
        })?;
    }
    let stopping = Arc::new(AtomicBool::new(false));
    let flag = stopping.clone();
    let handle = std::thread::Builder::new()
        .name("paddle-outbox".into())
        .spawn(move || {
            let api = PaddleApi::new(&paddle);
            let worker = Worker {
                conn: &conn,
                paddle: &paddle,
                api: &api,
                failures: &failures,
            };
            let mut next_sweep = Instant::now();
            while !flag.load(Ordering::SeqCst) {
                // A panic (a bug) must not end billing: log it and go on.
                let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    if Instant::now() >= next_sweep {
                        next_sweep = Instant::now() + SWEEP;
                        let now = Timestamp::now();
                        db::write(&conn, |tx| call_outcomes::settle_lapsed(tx, &paddle, now))?;
                    }
                    worker.run_due(&flag)
                }));
                match ran {
                    Ok(Err(e)) => log::event("billing.outbox_error", &[("error", &e)]),
                    Err(_) => log::event("billing.outbox_panicked", &[]),
                    Ok(Ok(())) => {}
                }
                std::thread::sleep(POLL);
            }
        })?;
    Ok(Some(crate::worker::Worker::new(
        "paddle-outbox",
        vec![handle],
        move || stopping.store(true, Ordering::SeqCst),
    )))
}

/// Why a try did not finish.
enum Failure {
    Api(ApiError),
    /// Not sent: the subscription is inside its renewal window until then.
    Later(Timestamp),
    /// Paddle answered but the outcome could not be written down: the row
    /// stays claimed, and the next try (after the lease) checks first.
    Unrecorded(String),
}

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Failure {
        Failure::Api(e)
    }
}

struct Worker<'a> {
    conn: &'a Connection,
    paddle: &'a PaddleConfig,
    api: &'a PaddleApi,
    failures: &'a AtomicU64,
}

impl Worker<'_> {
    fn run_due(&self, stopping: &AtomicBool) -> Result<()> {
        while !stopping.load(Ordering::SeqCst) {
            let now = Timestamp::now();
            let claimed = db::write(self.conn, |tx| outbox::claim(tx, now, now.plus(LEASE_SECS)))?;
            let Some(job) = claimed else {
                return Ok(());
            };
            let result = self.perform(&job);
            self.record(&job, result)?;
        }
        Ok(())
    }

    /// Makes the call; on success, applies what it tells us and marks the
    /// row done in one transaction.
    fn perform(&self, job: &Job) -> Result<(), Failure> {
        let payload: Value = serde_json::from_str(&job.payload).unwrap_or(Value::Null);
        let text = |key: &str| {
            payload
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let done = |f: &dyn Fn(&Connection, Timestamp) -> Result<()>| -> Result<(), Failure> {
            let now = Timestamp::now();
            // Done first: what the answer leads to (the next reward, a
            // re-armed call) must not see this call as still owed.
            db::write(self.conn, |tx| {
                outbox::mark_done(tx, job.id, now)?;
                f(tx, now)
            })
            .map_err(|e| Failure::Unrecorded(e.to_string()))
        };
        match job.kind.as_str() {
            "lookup_customer" => {
                let customer = text("customer_id");
                let email = self.api.customer_email(&customer)?;
                done(&|tx, now| {
                    call_outcomes::link_customer(tx, self.paddle, &customer, &email, now)
                })
            }
            "apply_discount" => {
                let (sub, discount) = (text("subscription_id"), text("discount_id"));
                let reward_id = payload
                    .get("reward_id")
                    .and_then(Value::as_i64)
                    .unwrap_or(0);
                let now = Timestamp::now();
                let decided = rewards::before_apply(self.conn, reward_id, &sub, now)
                    .map_err(|e| Failure::Unrecorded(e.to_string()))?;
                match decided {
                    BeforeApply::Send => {}
                    BeforeApply::Later(when) => return Err(Failure::Later(when)),
                    BeforeApply::Drop => return done(&|_, _| Ok(())),
                    BeforeApply::Bank => {
                        return done(&|tx, now| {
                            call_outcomes::back_to_bank(tx, self.paddle, reward_id, now)
                        })
                    }
                }
                let entity = self.apply_discount_once(job, &sub, &discount)?;
                done(&|tx, now| {
                    call_outcomes::reward_accepted(tx, self.paddle, reward_id, &entity, now)
                })
            }
            "remove_discount" => {
                let sub = text("subscription_id");
                let entity = self.api.remove_discount(&sub)?;
                done(&|tx, now| {
                    call_outcomes::discount_removed(tx, self.paddle, &sub, &entity, now)
                })
            }
            "create_discount" => {
                let id = create_discount(self.api, self.paddle)?;
                done(&|tx, now| call_outcomes::discount_created(tx, &id, now))
            }
            "cancel_subscription" => {
                self.api.cancel_subscription(&text("subscription_id"))?;
                log::event(
                    "billing.subscription_cancel_sent",
                    &[("subscription_id", &text("subscription_id"))],
                );
                done(&|_, _| Ok(()))
            }
            other => Err(ApiError::Refused(format!("unknown outbox kind {other:?}")).into()),
        }
    }

    /// A PATCH whose earlier try may have reached Paddle (a timeout, a
    /// worker that died) is checked first, so the same reward is never sent
    /// twice once accepted.
    fn apply_discount_once(&self, job: &Job, sub: &str, discount: &str) -> Result<Value, ApiError> {
        if job.attempts > 1 || job.outcome_unknown {
            let entity = self.api.subscription(sub)?;
            // Ours and still running: the earlier try landed. (An earlier
            // reward's discount that has run out does not count.)
            let running = entity
                .pointer("/discount/ends_at")
                .and_then(Value::as_str)
                .and_then(super::event::PaddleTime::parse)
                .is_none_or(|end| end.timestamp() > Timestamp::now().plus(rewards::CLOCK_SKEW));
            if entity.pointer("/discount/id").and_then(Value::as_str) == Some(discount) && running {
                return Ok(entity);
            }
        }
        self.api.apply_discount(sub, discount)
    }

    fn record(&self, job: &Job, result: Result<(), Failure>) -> Result<()> {
        let error = match result {
            Ok(()) => {
                log::event(
                    "billing.outbox_done",
                    &[("id", &job.id), ("kind", &job.kind)],
                );
                return Ok(());
            }
            Err(Failure::Unrecorded(e)) => {
                log::event(
                    "billing.outbox_unrecorded",
                    &[("id", &job.id), ("kind", &job.kind), ("error", &e)],
                );
                return Ok(());
            }
            Err(Failure::Later(when)) => {
                db::write(self.conn, |tx| {
                    outbox::mark_retry(tx, job.id, when, "waiting for the renewal window to pass")?;
                    call_outcomes::reward_waiting(tx, job)
                })?;
                log::event(
                    "billing.outbox_later",
                    &[("id", &job.id), ("kind", &job.kind), ("next", &when)],
                );
                return Ok(());
            }
            Err(Failure::Api(error)) => error,
        };
        self.failures.fetch_add(1, Ordering::Relaxed);
        let now = Timestamp::now();
        let message = error.to_string();
        let asked = error.retry_after().unwrap_or(0);
        let waited_out = job
            .locked_since
            .is_some_and(|since| now.secs() - since.secs() >= LOCK_PATIENCE);
        match error {
            ApiError::Locked { .. } if !waited_out => {
                let next = now.plus(LOCK_WAIT.max(asked));
                db::write(self.conn, |tx| {
                    outbox::mark_locked(tx, job.id, next, &message, now)?;
                    call_outcomes::reward_waiting(tx, job)
                })?;
                log::event(
                    "billing.outbox_locked",
                    &[
                        ("id", &job.id),
                        ("kind", &job.kind),
                        ("next", &next),
                        ("error", &message),
                    ],
                );
            }
            ApiError::Transient { .. } => {
                let next = now.plus(retry_delay(job.attempts).max(asked));
                db::write(self.conn, |tx| {
                    outbox::mark_retry(tx, job.id, next, &message)
                })?;
                log::event(
                    "billing.outbox_retry",
                    &[
                        ("id", &job.id),
                        ("kind", &job.kind),
                        ("attempts", &job.attempts),
                        ("next", &next),
                        ("error", &message),
                    ],
                );
            }
            ApiError::Refused(_) | ApiError::Locked { .. } => {
                db::write(self.conn, |tx| {
                    outbox::mark_failed(tx, job.id, now, &message)?;
                    call_outcomes::refused(tx, self.paddle, job, now)
                })?;
                log::event(
                    "billing.outbox_failed",
                    &[("id", &job.id), ("kind", &job.kind), ("error", &message)],
                );
            }
        }
        Ok(())
    }
}

/// Creates the reward discount, worth three months at half price of the
/// price sold (its cycle read from Paddle). A cycle the reward can't be
/// expressed in (days, weeks, none) is a refusal: the operator must fix
/// the price (`billing-check` says so).
pub fn create_discount(api: &PaddleApi, paddle: &PaddleConfig) -> Result<String, ApiError> {
    let price = api.price(&paddle.price_id)?;
    let cycle = BillingCycle::of_price(&price).ok_or_else(|| {
        ApiError::Refused(format!(
            "price {} has no recurring billing cycle",
            paddle.price_id
        ))
    })?;
    let terms = reward_terms(cycle)
        .map_err(|e| ApiError::Refused(format!("price {} {e}", paddle.price_id)))?;
    api.create_referral_discount(&terms, &paddle.price_ids)
}

#[cfg(test)]
mod tests {
    use super::retry_delay;

    #[test]
    fn third_try_within_a_minute_then_at_most_an_hour_apart() {
        assert!(retry_delay(1) + retry_delay(2) <= 60);
        let waits: Vec<i64> = (1..20).map(retry_delay).collect();
        assert!(waits.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(waits.last(), Some(&3600));
    }
}
