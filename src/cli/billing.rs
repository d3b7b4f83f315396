//! The operator's Paddle verbs (SPEC §7): `billing-check` and
//! `billing-sync`. They call Paddle from this process, never the server.

use rusqlite::Connection;
use serde_json::json;

use std::path::Path;

use super::{BillingCheckArgs, BillingSyncArgs};
use crate::clock::Timestamp;
use crate::config::{paddle, PaddleConfig};
use crate::crypto::Keys;
use crate::error::{Error, Result};
use crate::services::billing::paddle_api::PaddleApi;
use crate::services::billing::{check, sync};

type Env = dyn Fn(&str) -> Option<String>;

/// The Paddle settings, or a one-line error when billing is off.
fn paddle_config(env: &Env) -> Result<PaddleConfig> {
    paddle::from_env(env)?.ok_or_else(|| {
        Error::Usage(
            "billing is off: set APP_PADDLE_WEBHOOK_SECRET, APP_PADDLE_API_KEY, \
             APP_PADDLE_CLIENT_TOKEN and APP_PADDLE_PRICE_ID as serve has them"
                .into(),
        )
    })
}

pub fn billing_check(conn: &Connection, args: BillingCheckArgs, env: &Env) -> Result<()> {
    let paddle = paddle_config(env)?;
    let checks = check::run(conn, &paddle, &PaddleApi::new(&paddle))?;
    let failed = checks.iter().filter(|c| !c.ok).count();
    if args.json {
        let report = json!({
            "ok": failed == 0,
            "environment": match paddle.env { paddle::PaddleEnv::Sandbox => "sandbox", paddle::PaddleEnv::Live => "live" },
            "api_url": paddle.api_url,
            "checks": checks,
        });
        println!("{report}");
    } else {
        let width = checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
        for c in &checks {
            let mark = if c.ok { "ok  " } else { "FAIL" };
            println!("{mark}  {:<width$}  {}", c.name, c.detail);
        }
    }
    match failed {
        0 => {
            if !args.json {
                println!("all {} checks passed", checks.len());
            }
            Ok(())
        }
        n => Err(Error::Usage(format!(
            "{n} of {} billing checks failed; fix what the FAIL lines say and run billing-check again",
            checks.len()
        ))),
    }
}

pub fn billing_sync(
    conn: &Connection,
    db_path: &Path,
    args: BillingSyncArgs,
    env: &Env,
    now: Timestamp,
) -> Result<()> {
    let paddle = paddle_config(env)?;
    // The same keys as the server, to trust the signed custom_data.
    let secret = env("APP_SECRET");
    let keys = Keys::derive(&crate::secret::load(
        secret.as_deref().map(str::as_bytes),
        db_path,
        conn,
    )?);
    let api = PaddleApi::new(&paddle);
    let report = sync::run(conn, &keys, &paddle, &api, args.email.as_deref(), now)?;
    if args.json {
        println!("{}", serde_json::to_string(&report).unwrap_or_default());
    } else {
        for r in &report.results {
            if r.outcome == "unchanged" || r.outcome == "stale" {
                continue;
            }
            let who = r.email.as_deref().unwrap_or("no account");
            println!(
                "{} ({who}, {}): {}{}",
                r.subscription_id,
                r.customer_id,
                r.outcome,
                match r.changes.as_slice() {
                    [] => String::new(),
                    changes => format!(": {}", changes.join("; ")),
                }
            );
        }
        for f in &report.failed {
            println!("{}: not read: {}", f.customer_id, f.error);
        }
        println!(
            "synced {} subscription(s) of {} customer(s): {} changed, {} already up to date",
            report.subscriptions,
            report.customers,
            report.changed,
            report.subscriptions - report.changed
        );
    }
    match report.failed.len() {
        0 => Ok(()),
        n => Err(Error::Usage(format!(
            "{n} customer(s) could not be read from Paddle; run billing-sync again once Paddle answers"
        ))),
    }
}
