//! The operator's funnel (SPEC §9, `app stats`): sign-ups, how they came,
//! who converted, who pays now, rewards, top referrers and analyses run.

use rusqlite::Connection;
use serde::Serialize;

use crate::clock::{Timestamp, DAY};
use crate::db::{self, funnel, users};
use crate::error::{Error, Result};
use crate::log;

/// How far back `app stats` looks without `--since`.
pub const DEFAULT_DAYS: i64 = 30;

#[derive(Clone, Debug, Serialize)]
pub struct Stats {
    pub since: String,
    pub until: String,
    pub users: Users,
    pub invites: Cohort,
    pub organic: Cohort,
    pub paid: Paid,
    pub rewards: Rewards,
    pub top_referrers: Vec<TopReferrer>,
    pub analyses: Analyses,
}

#[derive(Clone, Debug, Serialize)]
pub struct Users {
    pub total: i64,
    pub new: i64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Cohort {
    pub signups: i64,
    pub converted: i64,
    pub conversion_rate: f64,
}

impl Cohort {
    fn new(signups: i64, converted: i64) -> Cohort {
        let rate = if signups == 0 {
            0.0
        } else {
            // Four decimals are plenty for a rate and keep the JSON readable.
            (converted as f64 / signups as f64 * 10_000.0).round() / 10_000.0
        };
        Cohort {
            signups,
            converted,
            conversion_rate: rate,
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Paid {
    pub subscribed: i64,
    pub by_tier: i64,
    pub credited: i64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Rewards {
    pub banked: i64,
    pub running: i64,
    pub ended: i64,
    /// Their Paddle call finally failed: `app billing-retry` re-queues them.
    pub failed: i64,
    /// Their referral was reversed (a refund or chargeback).
    pub revoked: i64,
}

#[derive(Clone, Debug, Serialize)]
pub struct TopReferrer {
    pub email: String,
    pub signups: i64,
    pub converted: i64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Analyses {
    pub count: i64,
    pub llm: i64,
    pub builtin: i64,
}

/// The start of the window: `--since` (a UTC day), else the start of the
/// day thirty days ago. A future day is refused.
pub fn window_start(since: Option<&str>, now: Timestamp) -> Result<Timestamp> {
    let Some(raw) = since else {
        let today = crate::clock::parse_date(&now.date_string()).unwrap_or(now);
        return Ok(today.plus(-DEFAULT_DAYS * DAY));
    };
    let day = crate::clock::parse_date(raw.trim()).ok_or_else(|| {
        Error::Usage(format!(
            "--since takes a date as YYYY-MM-DD (e.g. 2026-01-31), not {raw:?}"
        ))
    })?;
    if day > now {
        return Err(Error::Usage(format!(
            "--since {} is in the future; give today or an earlier day",
            day.date_string()
        )));
    }
    Ok(day)
}

/// Everything `app stats` prints, read in one read transaction so the
/// numbers agree with each other while the server writes.
pub fn stats(conn: &Connection, since: Timestamp, now: Timestamp) -> Result<Stats> {
    let tx = rusqlite::Transaction::new_unchecked(conn, rusqlite::TransactionBehavior::Deferred)?;
    let until = now.plus(1);
    let total = users::live_count(&tx)?;
    let signups = funnel::signups(&tx, since, until)?;
    let (subscribed, by_tier, credited) = funnel::paying(&tx, now)?;
    let rewards = funnel::rewards(&tx)?;
    let top = funnel::top_referrers(&tx, since, until)?;
    let (llm, builtin) = funnel::analyses(&tx, &since.date_string())?;
    tx.finish()?;
    Ok(Stats {
        since: since.to_string(),
        until: now.to_string(),
        users: Users {
            total,
            new: signups.total,
        },
        invites: Cohort::new(signups.invited, signups.invited_converted),
        organic: Cohort::new(signups.total - signups.invited, signups.organic_converted),
        paid: Paid {
            subscribed,
            by_tier,
            credited,
        },
        rewards: Rewards {
            banked: rewards.banked,
            running: rewards.running,
            ended: rewards.ended,
            failed: rewards.failed,
            revoked: rewards.revoked,
        },
        top_referrers: top
            .into_iter()
            .map(|r| TopReferrer {
                email: r.email,
                signups: r.signups,
                converted: r.converted,
            })
            .collect(),
        analyses: Analyses {
            count: llm + builtin,
            llm,
            builtin,
        },
    })
}

/// Counts one analysis that ran, by the analyst that answered (`builtin`,
/// or any other name: an LLM). A failure to count is logged, never the
/// person's problem.
pub fn record_analysis(conn: &Connection, provider: &str, now: Timestamp) {
    let kind = if provider == "builtin" {
        "builtin"
    } else {
        "llm"
    };
    let day = now.date_string();
    if let Err(e) = db::write(conn, |tx| funnel::count_analysis(tx, &day, kind)) {
        log::event("analysis.count_failed", &[("error", &e)]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{test_db, users};

    const NOW: Timestamp = Timestamp(1_800_000_000);

    #[test]
    fn rates_are_zero_without_signups_and_rounded_otherwise() {
        assert_eq!(Cohort::new(0, 0).conversion_rate, 0.0);
        assert_eq!(Cohort::new(3, 1).conversion_rate, 0.3333);
        assert_eq!(Cohort::new(4, 4).conversion_rate, 1.0);
    }

    #[test]
    fn window_defaults_to_thirty_days_and_refuses_junk() {
        let start = window_start(None, NOW).unwrap();
        assert_eq!(start.secs() % DAY, 0);
        assert!(NOW.secs() - start.secs() >= 30 * DAY && NOW.secs() - start.secs() < 31 * DAY);
        assert_eq!(
            window_start(Some("2026-01-31"), NOW).unwrap().to_string(),
            "2026-01-31T00:00:00Z"
        );
        for bad in ["yesterday", "2026-02-30", "31/01/2026", "2099-01-01"] {
            assert!(window_start(Some(bad), NOW).is_err(), "{bad}");
        }
    }

    #[test]
    fn analyses_are_counted_by_analyst() {
        let conn = test_db();
        record_analysis(&conn, "builtin", NOW);
        record_analysis(&conn, "builtin", NOW);
        record_analysis(&conn, "openai", NOW);
        users::create(&conn, "a@b.co", NOW).unwrap();
        let s = stats(&conn, NOW.plus(-DAY), NOW).unwrap();
        assert_eq!(
            (s.analyses.count, s.analyses.llm, s.analyses.builtin),
            (3, 1, 2)
        );
        assert_eq!((s.users.total, s.users.new, s.organic.signups), (1, 1, 1));
    }
}
