//! `app stats` (SPEC §9): the funnel, as a table or as JSON.

use rusqlite::Connection;

use super::StatsArgs;
use crate::clock::Timestamp;
use crate::error::Result;
use crate::services::funnel::{self, Cohort, Stats};

pub fn stats(conn: &Connection, args: StatsArgs, now: Timestamp) -> Result<()> {
    let since = funnel::window_start(args.since.as_deref(), now)?;
    let stats = funnel::stats(conn, since, now)?;
    if args.json {
        println!("{}", serde_json::to_string(&stats).unwrap_or_default());
    } else {
        print!("{}", table(&stats));
    }
    Ok(())
}

/// The funnel as a short aligned table.
pub fn table(s: &Stats) -> String {
    let day = |t: &str| t.get(..10).unwrap_or(t).to_string();
    let cohort = |name: &str, c: &Cohort| {
        format!(
            "  {name:<9}{:>10}{:>11}{:>8.1}%\n",
            c.signups,
            c.converted,
            c.conversion_rate * 100.0
        )
    };
    let mut out = format!(
        "funnel from {} to {} (UTC)\n\n",
        day(&s.since),
        day(&s.until)
    );
    out += &format!(
        "users      {:>10} total {:>10} new\n\n",
        s.users.total, s.users.new
    );
    out += &format!(
        "  {:<9}{:>10}{:>11}{:>9}\n",
        "", "signups", "converted", "rate"
    );
    out += &cohort("invited", &s.invites);
    out += &cohort("organic", &s.organic);
    out += &format!(
        "\npaying now {:>10} subscribed {:>5} by tier {:>5} credited\n",
        s.paid.subscribed, s.paid.by_tier, s.paid.credited
    );
    out += &format!(
        "rewards    {:>10} banked     {:>5} running {:>5} ended {:>5} failed {:>5} revoked\n",
        s.rewards.banked, s.rewards.running, s.rewards.ended, s.rewards.failed, s.rewards.revoked
    );
    out += &format!(
        "analyses   {:>10} total      {:>5} LLM     {:>5} built-in\n",
        s.analyses.count, s.analyses.llm, s.analyses.builtin
    );
    if s.top_referrers.is_empty() {
        out += "\nno referrals in this window\n";
    } else {
        let width = s
            .top_referrers
            .iter()
            .map(|r| r.email.len())
            .max()
            .unwrap_or(5)
            .max(12);
        out += &format!(
            "\n  {:<width$}{:>9}{:>11}\n",
            "top referrer", "signups", "converted"
        );
        for r in &s.top_referrers {
            out += &format!("  {:<width$}{:>9}{:>11}\n", r.email, r.signups, r.converted);
        }
    }
    out
}
