//! The one integration test crate, in two of the three tiers (the first,
//! unit tests, sits next to the rules in `src/`):
//! - `inproc`: handlers called through the app's `dispatch` with an
//!   in-memory database, no sockets, no processes;
//! - `web` and `cli`: the real binary on a free port with a temporary
//!   database and an SMTP listener of its own, talked to over HTTP and run
//!   as a process, for wiring, hostile sockets, signals, the CLI and
//!   durability.

mod cli;
mod inproc;
mod support;
mod web;
