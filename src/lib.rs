//! `app`: a self-hosted portfolio app. One binary, one SQLite file.
//!
//! Data flows one way: `web` or `cli` → `services` → `db`.

pub mod cli;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod db;
pub mod error;
pub mod format;
pub mod log;
pub mod money;
pub mod secret;
pub mod serve;
pub mod services;
pub mod views;
pub mod web;
pub mod worker;

pub use cli::{run, Cli};
