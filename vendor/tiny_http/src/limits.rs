//! app patch: the bounds this copy of tiny_http 0.12.0 enforces on clients,
//! which upstream does not (it sets no socket timeouts, reads header lines
//! of any length and leaves bodies to the app's threads). See
//! vendor/README.md.

use std::time::Duration;

/// Each read or write on a client socket gives up after this long.
pub const SOCKET_TIMEOUT: Duration = Duration::from_secs(10);
/// The request line and each header line, in bytes.
pub const MAX_HEADER_LINE: usize = 8 * 1024;
/// Header lines in one request.
pub const MAX_HEADERS: usize = 100;
/// The whole request head must arrive within this, checked on every read
/// (each read waits at most what is left). An idle kept-alive connection
/// counts against it too.
pub const HEAD_DEADLINE: Duration = Duration::from_secs(10);
/// The default body limit (`head::read_up_to_the_default_limit`), and the
/// app's for pages: a request whose `Content-Length` is longer is refused
/// (413) without its body being read.
pub const BODY_LIMIT: usize = 64 * 1024;
/// The whole body must arrive within this once the head has: one deadline,
/// not one per read.
pub const BODY_DEADLINE: Duration = Duration::from_secs(10);
/// After an answer that leaves request bytes unread, the connection thread
/// reads and throws away at most this much, for at most `LINGER_TIME`,
/// before it closes; closing on unread bytes would reset the connection and
/// could lose the answer.
pub const LINGER_BYTES: usize = 1024 * 1024;
pub const LINGER_TIME: Duration = Duration::from_secs(2);

/// The buffer an answer is written through: an answer this size or
/// smaller (head and body) leaves in one `write`, where upstream's 1 KiB
/// sent the head and the body of any page in two.
pub const WRITE_BUFFER: usize = 16 * 1024;

/// Open client connections unless the server is given its own cap
/// (`ServerConfig::max_connections`). Each takes `FDS_PER_CONNECTION` file
/// descriptors.
pub const MAX_CONNECTIONS: usize = 1024;
/// File descriptors one client connection holds: the socket, the clone
/// for its writing half, and one more to close the sending side on its own.
pub const FDS_PER_CONNECTION: usize = 3;
