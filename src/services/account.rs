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
use crate::services::{credit, referral};

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
    pub code: String,
    pub invite_url: String,
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

/// Everything about `user`, assigning the referral code on first use.
pub fn me(conn: &Connection, user: &User, base_url: &str, now: Timestamp) -> Result<Me> {
    let ((code, stats), rewards, billing) = db::read(conn, |conn| {
        Ok((
            referral::overview(conn, user.id, now)?,
            summary::rewards(conn, user.id)?,
            summary::billing(conn, user.id)?,
        ))
    })?;
    let code = match code {
        Some(code) => code,
        None => referral::assign_code_if_missing(conn, user.id)?,
    };
    Ok(Me {
        email: user.email.clone(),
        tier: user.tier,
        paid: access::user_paid_status(user, now),
        referral: ReferralInfo {
            invite_url: referral::invite_url(base_url, &code),
            code,
            pending: stats.pending,
            converted: stats.converted,
            active_credits: stats.active_credits,
            rewards,
        },
        billing,
    })
}
