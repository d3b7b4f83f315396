//! Billing with Paddle (SPEC §7): the checkout a page offers, the webhook
//! that tells us who paid, the referral rewards, and the outbox of Paddle
//! API calls a background worker makes.

use rusqlite::Connection;

use crate::config::PaddleConfig;
use crate::db::meta;
use crate::error::Result;

pub mod answers;
pub mod checkout;
pub mod custom_data;
pub mod event;
pub mod outbox;
pub mod paddle_api;
pub mod portal;
pub mod rewards;
pub mod signature;
pub mod summary;
pub mod webhook;

/// Where the reward discount's id is kept when the app created it (read by
/// the checkout too). An id, not a secret.
pub const REFERRAL_DISCOUNT_KEY: &str = crate::db::billing_reads::REFERRAL_DISCOUNT_META_KEY;

/// The referral discount: `APP_PADDLE_REFERRAL_DISCOUNT_ID`, else the one the
/// app created; `None` until it exists.
pub fn referral_discount_id(conn: &Connection, paddle: &PaddleConfig) -> Result<Option<String>> {
    match &paddle.referral_discount_id {
        Some(id) => Ok(Some(id.clone())),
        None => meta::get(conn, REFERRAL_DISCOUNT_KEY),
    }
}

/// `(Paddle calls still owed, calls Paddle refused)`, for `/metrics`.
pub fn outbox_depth(conn: &Connection) -> Result<(i64, i64)> {
    crate::db::outbox::depth(conn)
}
