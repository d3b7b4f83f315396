//! The integration tests' signed-event fixtures (`tests/web/billing/`),
//! reused so the browser journey delivers the same Paddle entities.

/// What `fixtures::custom_data_for` signs with; the journey's app runs with it.
pub const APP_SECRET: &str = "browser-billing-secret-0123456789abcdef0123456789";

// The journey uses a few of them; the `tests` crate, which compiles them
// with every warning on, uses the rest.
#[allow(dead_code)]
#[path = "../web/billing/fixtures.rs"]
pub mod fixtures;
