//! The operator's funnel (`app stats`): each number is one query over a
//! range of one index (V7), so it stays fast on a million users.

use rusqlite::{params, Connection};

use super::billing::GRANTING_STATUSES;
use crate::clock::Timestamp;
use crate::error::Result;

/// Sign-ups in a window, split by how they came.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Signups {
    pub total: i64,
    pub invited: i64,
    pub invited_converted: i64,
    pub organic_converted: i64,
}

pub fn signups(conn: &Connection, since: Timestamp, until: Timestamp) -> Result<Signups> {
    let (total, invited, organic_converted) = conn
        .prepare_cached(
            "SELECT count(*),
                    coalesce(sum(referred_by_user_id IS NOT NULL), 0),
                    coalesce(sum(referred_by_user_id IS NULL AND first_paid_at IS NOT NULL), 0)
             FROM users WHERE created_at >= ?1 AND created_at < ?2",
        )?
        .query_row(params![since, until], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
    // Converted referrals are few next to sign-ups: walk those (CROSS JOIN
    // keeps that order), look up each referred account by its key.
    let invited_converted = conn
        .prepare_cached(
            "SELECT count(*) FROM referrals r CROSS JOIN users u ON u.id = r.referred_user_id
             WHERE r.converted_at IS NOT NULL AND r.reversed_at IS NULL
               AND u.created_at >= ?1 AND u.created_at < ?2",
        )?
        .query_row(params![since, until], |r| r.get(0))?;
    Ok(Signups {
        total,
        invited,
        invited_converted,
        organic_converted,
    })
}

/// `(subscribed, paid by tier without a subscription, credited)` now.
pub fn paying(conn: &Connection, now: Timestamp) -> Result<(i64, i64, i64)> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT
               (SELECT count(DISTINCT user_id) FROM subscriptions
                WHERE status IN {GRANTING_STATUSES} AND user_id IS NOT NULL),
               (SELECT count(*) FROM users u WHERE u.tier = 'paid' AND NOT EXISTS (
                    SELECT 1 FROM subscriptions s WHERE s.user_id = u.id
                    AND s.status IN {GRANTING_STATUSES})),
               (SELECT count(*) FROM users WHERE tier = 'free' AND credit_until > ?1)",
        ))?
        .query_row([now], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?)
}

/// Rewards by state, as `(state, count)` for every state that has any:
/// `/metrics` shows each, `stats` folds them (see [`RewardCounts`]). The
/// counts are kept by V13's triggers, so this reads seven rows whatever the
/// size of `referral_rewards`.
pub fn rewards_by_state(conn: &Connection) -> Result<Vec<(String, i64)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT substr(name, 9), value FROM kept_counts
         WHERE name GLOB 'rewards:*' AND value > 0 ORDER BY name",
    )?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// SPEC §9's `rewards`: a reward whose call is still owed (`applying`,
/// `waiting`) counts as banked: it is not running yet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RewardCounts {
    pub banked: i64,
    pub running: i64,
    pub ended: i64,
    pub failed: i64,
    pub revoked: i64,
}

pub fn rewards(conn: &Connection) -> Result<RewardCounts> {
    let mut counts = RewardCounts::default();
    for (state, n) in rewards_by_state(conn)? {
        match state.as_str() {
            "running" => counts.running += n,
            "ended" => counts.ended += n,
            "failed" => counts.failed += n,
            "revoked" => counts.revoked += n,
            _ => counts.banked += n,
        }
    }
    Ok(counts)
}

/// A referrer's invited sign-ups in the window and how many converted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Referrer {
    pub email: String,
    pub signups: i64,
    pub converted: i64,
}

/// The ten referrers with the most converted, then most sign-ups, among
/// referrals made in the window. A window that holds every referral reads
/// the per-referrer counters (V2) in index order instead of grouping them.
pub fn top_referrers(
    conn: &Connection,
    since: Timestamp,
    until: Timestamp,
) -> Result<Vec<Referrer>> {
    let first: Option<Timestamp> = conn
        .prepare_cached("SELECT min(created_at) FROM referrals")?
        .query_row([], |r| r.get(0))?;
    let referrer = |r: &rusqlite::Row<'_>| {
        Ok(Referrer {
            email: r.get(0)?,
            signups: r.get(1)?,
            converted: r.get(2)?,
        })
    };
    let rows = if first.is_none_or(|first| first >= since) {
        conn.prepare_cached(
            "SELECT u.email, c.pending + c.converted, c.converted
             FROM referral_counts c JOIN users u ON u.id = c.user_id
             WHERE c.pending + c.converted > 0
             ORDER BY c.converted DESC, c.pending + c.converted DESC, c.user_id LIMIT 10",
        )?
        .query_map([], referrer)?
        .collect::<rusqlite::Result<_>>()?
    } else {
        conn.prepare_cached(
            "SELECT u.email, t.signups, t.converted FROM (
                 SELECT referrer_user_id, count(*) AS signups, count(converted_at) AS converted
                 FROM referrals WHERE created_at >= ?1 AND created_at < ?2
                 GROUP BY referrer_user_id
                 ORDER BY converted DESC, signups DESC, referrer_user_id LIMIT 10
             ) t JOIN users u ON u.id = t.referrer_user_id
             ORDER BY t.converted DESC, t.signups DESC, u.id",
        )?
        .query_map(params![since, until], referrer)?
        .collect::<rusqlite::Result<_>>()?
    };
    Ok(rows)
}

/// `(llm, builtin)` analyses on the days from `since_day` (YYYY-MM-DD) on.
pub fn analyses(conn: &Connection, since_day: &str) -> Result<(i64, i64)> {
    Ok(conn
        .prepare_cached(
            "SELECT coalesce(sum(CASE WHEN provider = 'llm' THEN count END), 0),
                    coalesce(sum(CASE WHEN provider = 'builtin' THEN count END), 0)
             FROM analysis_counts WHERE day >= ?1",
        )?
        .query_row([since_day], |r| Ok((r.get(0)?, r.get(1)?)))?)
}

/// Counts one analysis run on `day` by `provider` (`llm` or `builtin`).
pub fn count_analysis(conn: &Connection, day: &str, provider: &str) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO analysis_counts (day, provider, count) VALUES (?1, ?2, 1)
         ON CONFLICT (day, provider) DO UPDATE SET count = count + 1",
    )?
    .execute(params![day, provider])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Timestamp;
    use crate::db::{test_db, users};

    fn counted(conn: &Connection) -> Vec<(String, i64)> {
        let mut stmt = conn
            .prepare("SELECT state, count(*) FROM referral_rewards GROUP BY state ORDER BY state")
            .unwrap();
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
        rows.collect::<rusqlite::Result<_>>().unwrap()
    }

    #[test]
    fn kept_reward_counts_follow_every_insert_change_and_delete() {
        let conn = test_db();
        let now = Timestamp(1_800_000_000);
        let a = users::create(&conn, "a@example.com", now).unwrap();
        let b = users::create(&conn, "b@example.com", now).unwrap();
        conn.execute(
            "INSERT INTO referrals (id, referrer_user_id, referred_user_id, created_at)
             VALUES (1, ?1, ?2, '2027-01-15T08:00:00Z')",
            [a.id, b.id],
        )
        .unwrap();
        for (role, user) in [("referrer", a.id), ("referred", b.id)] {
            conn.execute(
                "INSERT INTO referral_rewards (referral_id, user_id, role, state, created_at)
                 VALUES (1, ?1, ?2, 'banked', '2027-01-15T08:00:00Z')",
                rusqlite::params![user, role],
            )
            .unwrap();
        }
        assert_eq!(rewards_by_state(&conn).unwrap(), vec![("banked".into(), 2)]);
        conn.execute(
            "UPDATE referral_rewards SET state = 'running' WHERE role = 'referrer'",
            [],
        )
        .unwrap();
        conn.execute(
            "UPDATE referral_rewards SET state = 'failed' WHERE role = 'referred'",
            [],
        )
        .unwrap();
        // An update that keeps the state changes no count.
        conn.execute("UPDATE referral_rewards SET state = state", [])
            .unwrap();
        assert_eq!(rewards_by_state(&conn).unwrap(), counted(&conn));
        assert_eq!(
            rewards(&conn).unwrap(),
            RewardCounts {
                running: 1,
                failed: 1,
                ..RewardCounts::default()
            }
        );
        conn.execute("DELETE FROM referral_rewards WHERE role = 'referred'", [])
            .unwrap();
        assert_eq!(
            rewards_by_state(&conn).unwrap(),
            vec![("running".into(), 1)]
        );
        assert_eq!(rewards_by_state(&conn).unwrap(), counted(&conn));
    }
}
