//! The integration tests' signed-event fixtures (`tests/web/billing/`),
//! reused so the browser journey delivers the same Paddle entities.
#![allow(dead_code)]

/// What `fixtures::custom_data_for` signs with; the journey's app runs with it.
pub const APP_SECRET: &str = "browser-billing-secret-0123456789abcdef0123456789";

#[path = "../web/billing/fixtures.rs"]
pub mod fixtures;
