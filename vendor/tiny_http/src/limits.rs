//! app patch: the bounds this copy of tiny_http 0.12.0 enforces on clients,
//! which upstream does not (it sets no socket timeouts and reads header lines
//! of any length). See vendor/README.md.

use std::time::Duration;

/// Each read or write on a client socket gives up after this long.
pub const SOCKET_TIMEOUT: Duration = Duration::from_secs(10);
/// The request line and each header line, in bytes.
pub const MAX_HEADER_LINE: usize = 8 * 1024;
/// Header lines in one request.
pub const MAX_HEADERS: usize = 100;
/// The whole request head must arrive within this.
pub const HEAD_DEADLINE: Duration = Duration::from_secs(10);
/// Bodies up to this size are read before the request is handed over.
pub const PREREAD_BODY: usize = 64 * 1024;
