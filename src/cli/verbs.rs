//! The operator's account verbs (credit, tier, status, deletion, backup):
//! each parses what is left of its arguments, calls
//! the shared service, and says what happened, as a sentence or as JSON.

use serde_json::json;

use super::{
    BackupArgs, DeleteUserArgs, GrantCreditArgs, RevokeCreditArgs, SetTierArgs, ShowStatusArgs,
};
use crate::clock::{self, Timestamp};
use crate::config;
use crate::db;
use crate::db::users::Tier;
use crate::error::{Error, Result};
use crate::services::credit::{self, Actor, Change, Grant};
use crate::services::{access, account, auth, leaving};
use rusqlite::Connection;

type Env = dyn Fn(&str) -> Option<String>;

pub fn grant_credit(
    conn: &Connection,
    args: GrantCreditArgs,
    env: &Env,
    now: Timestamp,
) -> Result<()> {
    let grant = parse_grant(args.days.as_deref(), args.until.as_deref())?;
    let actor = Actor::from_env(env, args.note);
    let change = credit::grant_credit(conn, &email_arg(&args.email)?, grant, &actor, now)?;
    report(&change, "grant_credit", args.json, now, |c| {
        let days = access::user_paid_status(&c.user, now)
            .days_remaining
            .unwrap_or(0);
        let until = c
            .user
            .credit_until
            .map(|t| t.date_string())
            .unwrap_or_default();
        if c.changed() {
            format!(
                "credit for {} now runs to {until}, {}",
                c.user.email,
                plural_days(days)
            )
        } else {
            format!(
                "credit for {} already runs to {until}, {}; nothing changed",
                c.user.email,
                plural_days(days)
            )
        }
    })
}

pub fn revoke_credit(
    conn: &Connection,
    args: RevokeCreditArgs,
    env: &Env,
    now: Timestamp,
) -> Result<()> {
    let actor = Actor::from_env(env, args.note);
    let change = credit::revoke_credit(conn, &email_arg(&args.email)?, &actor, now)?;
    report(&change, "revoke_credit", args.json, now, |c| {
        if c.changed() {
            let access_now = access::badge(&access::user_paid_status(&c.user, now));
            format!(
                "credit for {} revoked; access now: {access_now}",
                c.user.email
            )
        } else {
            format!("{} had no running credit; nothing changed", c.user.email)
        }
    })
}

pub fn set_tier(conn: &Connection, args: SetTierArgs, env: &Env, now: Timestamp) -> Result<()> {
    let actor = Actor::from_env(env, args.note);
    let tier = Tier::parse(args.tier.trim())
        .ok_or_else(|| Error::Usage(format!("--tier takes free or paid, not {:?}", args.tier)))?;
    let change = credit::set_tier(conn, &email_arg(&args.email)?, tier, &actor, now)?;
    report(&change, "set_tier", args.json, now, |c| {
        let was = c.before.as_deref().unwrap_or("free");
        if c.changed() {
            format!(
                "{} is now on the {} tier (was {was})",
                c.user.email, c.user.tier
            )
        } else {
            format!(
                "{} is already on the {} tier; nothing changed",
                c.user.email, c.user.tier
            )
        }
    })
}

pub fn show_status(
    conn: &Connection,
    args: ShowStatusArgs,
    env: &Env,
    now: Timestamp,
) -> Result<()> {
    let email = email_arg(&args.email)?;
    let user = account::by_email(conn, &email)?;
    let me = account::me(conn, &user, &config::base_url_from_env(env)?, now)?;
    if args.json {
        println!("{}", serde_json::to_string(&me)?);
        return Ok(());
    }
    println!("{}", me.email);
    println!("  tier:          {}", me.tier);
    println!("  access:        {}", access::badge(&me.paid));
    const LATER: &str = "none yet (given at their next sign-in)";
    println!(
        "  referral code: {}",
        me.referral.code.as_deref().unwrap_or(LATER)
    );
    println!(
        "  invite link:   {}",
        me.referral.invite_url.as_deref().unwrap_or(LATER)
    );
    println!(
        "  referrals:     {} pending, {} converted, {} active credits",
        me.referral.pending, me.referral.converted, me.referral.active_credits
    );
    match &me.billing {
        Some(b) => println!(
            "  billing:       {} {} (customer {}){}",
            b.status,
            b.subscription_id,
            b.customer_id,
            b.cancel_at
                .as_deref()
                .map(|at| format!(", cancels {at}"))
                .or_else(|| b.pause_at.as_deref().map(|at| format!(", pauses {at}")))
                .unwrap_or_default()
        ),
        None => println!("  billing:       no subscription"),
    }
    for r in &me.referral.rewards {
        let ends = r.ends_at.as_deref().unwrap_or("-");
        println!("  reward:        {} {} (ends {ends})", r.role, r.state);
    }
    let failed_calls = crate::services::billing::failed_reward_calls(conn, user.id)?;
    if failed_calls > 0 || me.referral.rewards.iter().any(|r| r.state == "failed") {
        println!(
            "  a reward's Paddle call failed: fix the cause (log event=billing.outbox_failed), \
             then `app billing-retry --email {}`",
            me.email
        );
    }
    Ok(())
}

pub fn backup(conn: &Connection, args: BackupArgs) -> Result<()> {
    let report = db::backup::backup(conn, &args.to)?;
    println!(
        "backup written to {} ({} bytes), integrity check ok",
        report.path.display(),
        report.bytes
    );
    for (table, rows) in report.rows {
        println!("  {table}: {rows} rows");
    }
    Ok(())
}

/// `--email`, normalised as sign-in stores it.
fn email_arg(raw: &str) -> Result<String> {
    auth::normalise_email(raw).map_err(|m| Error::Usage(format!("--email {raw:?}: {m}")))
}

/// `--days N` or `--until YYYY-MM-DD`, exactly one of them.
fn parse_grant(days: Option<&str>, until: Option<&str>) -> Result<Grant> {
    match (days, until) {
        (Some(days), None) => days.trim().parse::<i64>().map(Grant::Days).map_err(|_| {
            Error::Usage(format!(
                "--days takes a whole number from 1 to {}, not {days:?}",
                credit::MAX_GRANT_DAYS
            ))
        }),
        (None, Some(until)) => clock::parse_date(until.trim())
            .map(Grant::Until)
            .ok_or_else(|| {
                Error::Usage(format!("--until takes a date as YYYY-MM-DD, not {until:?}"))
            }),
        (Some(_), Some(_)) => Err(Error::Usage(
            "give either --days or --until, not both".into(),
        )),
        (None, None) => Err(Error::Usage(
            "say how long: --days N or --until YYYY-MM-DD".into(),
        )),
    }
}

fn plural_days(days: i64) -> String {
    if days == 1 {
        "1 day".into()
    } else {
        format!("{days} days")
    }
}

fn report(
    change: &Change,
    action: &str,
    json: bool,
    now: Timestamp,
    sentence: impl Fn(&Change) -> String,
) -> Result<()> {
    if json {
        let value = json!({
            "email": change.user.email,
            "action": action,
            "changed": change.changed(),
            "before": change.before,
            "after": change.after,
            "tier": change.user.tier,
            "paid": access::user_paid_status(&change.user, now),
        });
        println!("{value}");
    } else {
        println!("{}", sentence(change));
    }
    Ok(())
}

/// `delete-user`: the same deletion the settings page offers.
pub fn delete_user(
    conn: &Connection,
    args: DeleteUserArgs,
    env: &Env,
    now: Timestamp,
) -> Result<()> {
    let actor = Actor::from_env(env, args.note);
    let done = leaving::delete_by_email(conn, &args.email, args.force, &actor, now)?;
    if args.json {
        println!("{}", serde_json::to_string(&done).unwrap_or_default());
        return Ok(());
    }
    println!(
        "{} deleted: codes, sessions and holdings removed; the account is now {}",
        done.email, done.tombstone
    );
    for sub in &done.cancel_queued {
        println!("  Paddle will be asked to cancel subscription {sub}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grant_arguments() {
        assert_eq!(parse_grant(Some("30"), None).unwrap(), Grant::Days(30));
        assert_eq!(
            parse_grant(None, Some("2027-01-05")).unwrap(),
            Grant::Until(clock::parse_date("2027-01-05").unwrap())
        );
        for (days, until) in [
            (Some("ten"), None),
            (Some("1.5"), None),
            (Some(""), None),
            (None, Some("05/01/2027")),
            (None, Some("2027-02-30")),
            (Some("3"), Some("2027-01-05")),
            (None, None),
        ] {
            assert!(parse_grant(days, until).is_err(), "{days:?} {until:?}");
        }
        // range is checked by the service, before anything is written
        assert_eq!(parse_grant(Some("-1"), None).unwrap(), Grant::Days(-1));
    }
}
