//! The rules of the product, as plain functions over a database connection.
//! A service never sees an HTTP request.

pub mod access;
pub mod account;
pub mod analyst;
pub mod auth;
pub mod billing;
pub mod credit;
pub mod funnel;
pub mod holding_form;
pub mod leaving;
pub mod mail;
pub mod mailbox;
pub mod notices;
pub mod portfolio;
pub mod probes;
pub mod ratelimit;
pub mod referral;
