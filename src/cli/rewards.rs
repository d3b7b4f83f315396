//! `billing-retry`: the operator re-queues an account's failed reward calls.

use rusqlite::Connection;

use super::BillingRetryArgs;
use crate::clock::Timestamp;
use crate::error::Result;
use crate::services::billing::retry;

pub fn billing_retry(conn: &Connection, args: BillingRetryArgs, now: Timestamp) -> Result<()> {
    let done = retry::retry(conn, &args.email, now)?;
    if args.json {
        println!("{}", serde_json::to_string(&done)?);
        return Ok(());
    }
    if done.rewards.is_empty() && done.calls.is_empty() {
        println!("{}: no failed reward calls to retry", done.email);
        return Ok(());
    }
    println!(
        "{}: {} reward call(s) queued again; the server's billing worker makes them",
        done.email,
        done.calls.len()
    );
    for r in &done.rewards {
        println!(
            "  reward {} ({}) now {}{}",
            r.reward_id,
            r.role,
            r.state,
            r.subscription_id
                .as_deref()
                .map(|s| format!(" on {s}"))
                .unwrap_or_default()
        );
    }
    Ok(())
}
