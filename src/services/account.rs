//! A person's account as they (and the operator's `show-status`) see it:
//! the object behind `GET /api/me` and the settings page.

use rusqlite::Connection;
use serde::Serialize;

use crate::clock::Timestamp;
use crate::db;
use crate::db::users::{self, Tier, User};
use crate::error::Result;
use crate::services::access::{self, PaidStatus};
use crate::services::billing::summary::{self, BillingSummary, Reward};
use crate::services::{auth, credit, referral};

#[derive(Clone, Debug, Serialize)]
pub struct Me {
    pub email: String,
    pub tier: Tier,
    pub paid: PaidStatus,
    pub referral: ReferralInfo,
    /// The most relevant subscription (SPEC §7), or null.
    pub billing: Option<BillingSummary>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ReferralInfo {
    /// Assigned at sign-up (or, for an account from before referral codes,
    /// at its next sign-in); null until then, since reading never writes.
    pub code: Option<String>,
    pub invite_url: Option<String>,
    pub pending: i64,
    pub converted: i64,
    pub active_credits: i64,
    pub rewards: Vec<Reward>,
}

/// The account with this (normalised) email, or the operator's error
/// for an unknown one.
pub fn by_email(conn: &Connection, email: &str) -> Result<User> {
    users::by_email(conn, email)?.ok_or_else(|| credit::unknown_email(email))
}

/// Everything about `user`, as it is: reading writes nothing.
pub fn me(conn: &Connection, user: &User, base_url: &str, now: Timestamp) -> Result<Me> {
    let read = db::read(conn, |conn| Reads::of(conn, user.id, now))?;
    read.into_me(user, base_url, now)
}

/// The user of a live session `token` and their [`me`], the session check
/// included in the same read transaction: what every `/settings` and
/// `/api/me` asks, with SQLite's file lock taken once. `None` when the
/// session is not live.
pub fn me_of_session(
    conn: &Connection,
    token: &str,
    base_url: &str,
    now: Timestamp,
) -> Result<Option<(User, Me)>> {
    let read = db::read(conn, |conn| {
        let Some(user) = auth::session_user(conn, token, now)? else {
            return Ok(None);
        };
        let read = Reads::of(conn, user.id, now)?;
        Ok(Some((user, read)))
    })?;
    let Some((user, read)) = read else {
        return Ok(None);
    };
    let me = read.into_me(&user, base_url, now)?;
    Ok(Some((user, me)))
}

/// What [`me`] reads, in one transaction; the code may be missing yet
/// (an account signed in before codes were given at sign-up).
struct Reads {
    code: Option<String>,
    stats: referral::ReferralCounts,
    rewards: Vec<Reward>,
    billing: Option<BillingSummary>,
}

impl Reads {
    fn of(conn: &Connection, user_id: i64, now: Timestamp) -> Result<Reads> {
        let (code, stats) = referral::overview(conn, user_id, now)?;
        Ok(Reads {
            code,
            stats,
            rewards: summary::rewards(conn, user_id)?,
            billing: summary::billing(conn, user_id)?,
        })
    }

    /// The [`Me`] from what was read.
    fn into_me(self, user: &User, base_url: &str, now: Timestamp) -> Result<Me> {
        let code = self.code;
        Ok(Me {
            email: user.email.clone(),
            tier: user.tier,
            paid: access::user_paid_status(user, now),
            referral: ReferralInfo {
                invite_url: code.as_deref().map(|c| referral::invite_url(base_url, c)),
                code,
                pending: self.stats.pending,
                converted: self.stats.converted,
                active_credits: self.stats.active_credits,
                rewards: self.rewards,
            },
            billing: self.billing,
        })
    }
}
