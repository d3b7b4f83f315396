//! The rules of the product, as plain functions over a database connection.
//! A service never sees an HTTP request.

pub mod access;
pub mod account;
pub mod analyst;
pub mod auth;
pub mod billing;
pub mod credit;
pub mod csp_report;
pub mod funnel;
pub mod fx;
pub mod history;
pub mod holding_form;
pub mod import;
pub mod leaving;
pub mod mail;
pub mod mailbox;
pub mod market;
pub mod notices;
pub mod portfolio;
pub mod probes;
pub mod quotes;
pub mod ratelimit;
pub mod referral;
pub mod valuation;
