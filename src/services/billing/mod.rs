//! Billing with Paddle (SPEC §7): the checkout a page offers, the webhook
//! that tells us who paid, the referral rewards, and the outbox of Paddle
//! API calls a background worker makes.

use rusqlite::Connection;

use crate::config::PaddleConfig;
use crate::db::billing_reads::REFERRAL_DISCOUNT_META_KEY;
use crate::db::meta;
use crate::error::Result;

pub mod call_outcomes;
pub mod check;
pub mod checkout;
pub mod custom_data;
pub mod event;
pub mod in_flight;
pub mod outbox;
pub mod paddle_api;
pub mod portal;
pub mod retry;
pub mod reward_terms;
pub mod rewards;
pub mod signature;
pub mod summary;
pub mod sync;
pub mod webhook;

/// The referral discount, for the checkout, the webhook and the outbox:
/// `APP_PADDLE_REFERRAL_DISCOUNT_ID`, else the one the app created and kept
/// in `meta` (under `REFERRAL_DISCOUNT_META_KEY`: an id, not a secret);
/// `None` until either exists.
pub fn referral_discount_id(conn: &Connection, paddle: &PaddleConfig) -> Result<Option<String>> {
    if let Some(id) = &paddle.referral_discount_id {
        return Ok(Some(id.clone()));
    }
    Ok(meta::get(conn, REFERRAL_DISCOUNT_META_KEY)?.filter(|id| !id.is_empty()))
}

/// `(Paddle calls still owed, calls Paddle refused)`, for `/metrics`.
pub fn outbox_depth(conn: &Connection) -> Result<(i64, i64)> {
    crate::db::outbox::depth(conn)
}

/// Referral rewards by state, for `/metrics`.
pub fn reward_states(conn: &Connection) -> Result<Vec<(String, i64)>> {
    crate::db::funnel::rewards_by_state(conn)
}

/// Referrals reversed by a refund or chargeback, for `/metrics`.
pub fn referrals_reversed(conn: &Connection) -> Result<i64> {
    crate::db::rewards::reversed_count(conn)
}
