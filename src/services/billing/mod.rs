//! Billing with Paddle (SPEC §7): the checkout a page offers, the webhook
//! that tells us who paid, the referral rewards, and the outbox of Paddle
//! API calls a background worker makes.

pub mod checkout;
pub mod custom_data;
pub mod portal;
pub mod summary;
