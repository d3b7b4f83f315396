//! The one integration test crate: it starts the real binary on a free port
//! with a temporary database and an SMTP listener of its own, and talks HTTP
//! (and runs the CLI) exactly as a user would.

mod cli;
mod support;
mod web;
