//! The rules of the product, as plain functions over a database connection.
//! A service never sees an HTTP request.

pub mod access;
pub mod account;
pub mod analysis;
pub mod analyst;
pub mod auth;
pub mod billing;
pub mod credit;
pub mod csp_report;
pub mod funnel;
pub mod holding_form;
pub mod leaving;
pub mod llm;
pub mod mail;
pub mod mailbox;
pub mod notices;
pub mod ops;
pub mod portfolio;
pub mod ratelimit;
pub mod referral;
