//! `app billing-retry --email E` (SPEC §7): an account's reward calls that
//! finally failed are queued again, and those rewards are `waiting` again,
//! once the operator has fixed what made Paddle refuse them. Only failed
//! calls: nothing Paddle accepted is ever sent twice.

use rusqlite::Connection;
use serde::Serialize;

use crate::clock::Timestamp;
use crate::db::{self, outbox, rewards, users};
use crate::error::{Error, Result};
use crate::log;
use crate::services::{auth, credit};

/// What a retry re-queued.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Retried {
    pub email: String,
    pub rewards: Vec<RetriedReward>,
    /// The `paddle_outbox` rows queued again.
    pub calls: Vec<i64>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RetriedReward {
    pub reward_id: i64,
    pub role: String,
    pub subscription_id: Option<String>,
    /// `waiting` (its call is queued again) or `banked` (no call was left
    /// to re-queue: it is applied to the next subscription that takes it).
    pub state: String,
}

pub fn retry(conn: &Connection, email: &str, now: Timestamp) -> Result<Retried> {
    let email = auth::normalise_email(email)
        .map_err(|m| Error::Usage(format!("--email {email:?}: {m}")))?;
    let retried = db::write(conn, |tx| {
        let user = users::by_email(tx, &email)?.ok_or_else(|| credit::unknown_email(&email))?;
        let mine = rewards::rewards_of(tx, user.id)?;
        let failed: Vec<&rewards::Reward> = mine.iter().filter(|r| r.state == "failed").collect();
        // A revoked reward's failed removal (`discount: null`) is a reward
        // call too: queued again, its state stays.
        let ids: Vec<i64> = mine
            .iter()
            .filter(|r| matches!(r.state.as_str(), "failed" | "revoked"))
            .map(|r| r.id)
            .collect();
        let calls = outbox::requeue_failed_rewards(tx, &ids, now)?;
        let mut out = Vec::new();
        for reward in failed {
            let requeued = outbox::has_live_call_for_reward(tx, reward.id)?;
            let (state, sub) = if requeued {
                ("waiting", reward.subscription_id.as_deref())
            } else {
                ("banked", None)
            };
            rewards::set_state(tx, reward.id, state, sub, None, None)?;
            out.push(RetriedReward {
                reward_id: reward.id,
                role: reward.role.clone(),
                subscription_id: sub.map(str::to_string),
                state: state.to_string(),
            });
        }
        Ok(Retried {
            email: user.email,
            rewards: out,
            calls,
        })
    })?;
    log::event(
        "billing.retry_queued",
        &[
            ("rewards", &retried.rewards.len()),
            ("calls", &retried.calls.len()),
        ],
    );
    Ok(retried)
}
