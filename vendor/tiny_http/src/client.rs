use ascii::AsciiString;

use std::io::Error as IoError;
use std::io::Result as IoResult;
use std::io::{BufReader, BufWriter, ErrorKind, Read, Write};

use std::net::{Shutdown, SocketAddr};
use std::str::FromStr;
use std::time::Instant;

use crate::common::{HTTPVersion, Method};
use crate::connection::Connection;
use crate::framing::{self, Framing, Malformed, Refusal};
use crate::head::{BodyPlan, Head, HeadHook};
use crate::limits;
use crate::util::refined_tcp_stream::Deadline;
use crate::util::RefinedTcpStream;
use crate::util::{SequentialReader, SequentialReaderBuilder, SequentialWriterBuilder};
use crate::Request;
use crate::{Response, StatusCode};

/// A ClientConnection is an object that will store a socket to a client
/// and return Request objects.
pub struct ClientConnection {
    // address of the client
    remote_addr: IoResult<Option<SocketAddr>>,

    // sequence of Readers to the stream, so that the data is not read in
    //  the wrong order
    source: SequentialReaderBuilder<BufReader<RefinedTcpStream>>,

    // sequence of Writers to the stream, to avoid writing response #2 before
    //  response #1
    sink: SequentialWriterBuilder<BufWriter<RefinedTcpStream>>,

    // Reader to read the next header from
    next_header_source: SequentialReader<BufReader<RefinedTcpStream>>,

    // set to true if we know that the previous request is the last one
    no_more_requests: bool,

    // true if the connection goes through SSL
    secure: bool,

    // app patch: the deadline every read of this socket keeps to
    deadline: Deadline,
    // app patch: the app's say over each body, from the head
    head: HeadHook,
    // app patch: request bytes were left unread; linger before closing
    linger: bool,
    // app patch: bytes of the current request head read so far
    head_bytes: usize,
    // app patch: the socket, to close its sending side when lingering
    socket: Option<Connection>,
}

/// Error that can happen when reading a request.
#[derive(Debug)]
enum ReadError {
    WrongRequestLine,
    WrongHeader(HTTPVersion),
    /// the client sent an unrecognized `Expect` header
    ExpectationFailed(HTTPVersion),
    /// app patch: a request line for HTTP/2 or later
    VersionNotSupported,
    ReadIoError(IoError),
}

impl ClientConnection {
    /// Creates a new `ClientConnection` that takes ownership of the `TcpStream`.
    pub fn new(
        write_socket: RefinedTcpStream,
        mut read_socket: RefinedTcpStream,
        head: HeadHook,
    ) -> ClientConnection {
        let remote_addr = read_socket.peer_addr();
        let secure = read_socket.secure();
        let deadline = read_socket.deadline();
        let socket = read_socket.try_clone_connection();

        let mut source = SequentialReaderBuilder::new(BufReader::with_capacity(1024, read_socket));
        let first_header = source.next().unwrap();

        ClientConnection {
            source,
            // app patch: one write per answer up to 16 KiB, not two
            sink: SequentialWriterBuilder::new(BufWriter::with_capacity(
                limits::WRITE_BUFFER,
                write_socket,
            )),
            remote_addr,
            next_header_source: first_header,
            no_more_requests: false,
            secure,
            deadline,
            head,
            linger: false,
            head_bytes: 0,
            socket,
        }
    }

    /// true if the connection is HTTPS
    pub fn secure(&self) -> bool {
        self.secure
    }

    /// Reads the next line from self.next_header_source.
    ///
    /// Reads until `CRLF` is reached. The next read will start
    ///  at the first byte of the new line.
    fn read_next_line(&mut self) -> IoResult<AsciiString> {
        let mut buf = Vec::new();
        let mut prev_byte_was_cr = false;

        loop {
            // app patch: bound a header line's size (the head's time is kept
            // by the socket's deadline, on every read), and refuse a bare CR
            // or LF or a NUL: proxies disagree on what they mean.
            if buf.len() > limits::MAX_HEADER_LINE {
                return Err(IoError::new(ErrorKind::InvalidData, "header line too long"));
            }
            let byte = self.next_header_source.by_ref().bytes().next();

            let byte = match byte {
                Some(b) => b?,
                None => return Err(IoError::new(ErrorKind::ConnectionAborted, "Unexpected EOF")),
            };
            self.head_bytes += 1;

            if byte == b'\n' && prev_byte_was_cr {
                buf.pop(); // removing the '\r'
                return AsciiString::from_ascii(buf)
                    .map_err(|_| IoError::new(ErrorKind::InvalidInput, "Header is not in ASCII"));
            }
            if byte == b'\n' || byte == 0 || prev_byte_was_cr {
                return Err(IoError::new(
                    ErrorKind::InvalidInput,
                    "bare CR or LF, or NUL",
                ));
            }

            prev_byte_was_cr = byte == b'\r';

            buf.push(byte);
        }
    }

    /// Reads a request from the stream.
    /// Blocks until the header has been read.
    fn read(&mut self) -> Result<Request, ReadError> {
        // app patch: one deadline for the whole head, kept on every read
        self.deadline
            .set(Some(Instant::now() + limits::HEAD_DEADLINE));
        self.head_bytes = 0;
        let (method, path, version, headers) = {
            // reading the request line
            let (method, path, version) = {
                let line = self.read_next_line().map_err(ReadError::ReadIoError)?;

                parse_request_line(
                    line.as_str().trim(), // TODO: remove this conversion
                )?
            };
            if version > (1, 1) {
                return Err(ReadError::VersionNotSupported);
            }

            // getting all headers
            let headers = {
                let mut headers = Vec::new();
                loop {
                    let line = self.read_next_line().map_err(ReadError::ReadIoError)?;

                    if line.is_empty() {
                        break;
                    };
                    // app patch: an obsolete folded line (leading space) is
                    // refused, not read as a header of its own
                    if headers.len() >= limits::MAX_HEADERS
                        || line.as_str().starts_with([' ', '\t'])
                    {
                        return Err(ReadError::WrongHeader(version));
                    }
                    headers.push(match FromStr::from_str(line.as_str().trim()) {
                        // TODO: remove this conversion
                        Ok(h) => h,
                        _ => return Err(ReadError::WrongHeader(version)),
                    });
                }

                headers
            };

            (method, path, version, headers)
        };

        // app patch: the app decides from the head whether the body is read
        // and up to what size; then the body is framed strictly and read
        // whole here, on the connection's own thread, within one deadline,
        // so that no worker ever waits on a client.
        let plan = (self.head)(&Head {
            method: &method,
            path: path.split('?').next().unwrap_or(""),
            headers: &headers,
        });
        let (limit, hold, declined) = match plan {
            BodyPlan::Read { limit, hold } => (limit, hold, None),
            BodyPlan::Decline(why) => (0, None, Some(why)),
        };
        let (framing, expects_continue) =
            framing::decide(&headers, limit).map_err(|e| match e {
                Malformed::BadLength => ReadError::WrongHeader(version.clone()),
                Malformed::Expectation => ReadError::ExpectationFailed(version.clone()),
            })?;
        let framing = match declined {
            Some(_) => Framing::Refuse(Refusal::Declined),
            None => framing,
        };
        let body_length = headers
            .iter()
            .find(|h| h.field.equiv("Content-Length"))
            .map(|_| match framing {
                Framing::Length(n) => n,
                Framing::Refuse(_) => 0,
            });

        // building the writer for the request
        let mut writer = self.sink.next().unwrap();

        // follow-up for next potential request
        let mut data_source = self.source.next().unwrap();
        std::mem::swap(&mut self.next_header_source, &mut data_source);

        let (body, refusal) = match framing {
            Framing::Refuse(refusal) => (Vec::new(), Some(refusal)),
            Framing::Length(0) => (Vec::new(), None),
            Framing::Length(length) => {
                if expects_continue && version >= (1, 1) {
                    writer
                        .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                        .and_then(|_| writer.flush())
                        .map_err(ReadError::ReadIoError)?;
                }
                self.deadline
                    .set(Some(Instant::now() + limits::BODY_DEADLINE));
                match read_body(&mut data_source, length) {
                    Ok(body) => (body, None),
                    Err(e) if e.kind() == ErrorKind::TimedOut => {
                        (Vec::new(), Some(Refusal::TimedOut))
                    }
                    Err(e) => return Err(ReadError::ReadIoError(e)),
                }
            }
        };
        // the next head may be read from here on
        drop(data_source);

        let remote_addr = self.remote_addr.as_ref().ok().copied().flatten();
        Ok(crate::request::new_request(
            self.secure,
            method,
            path,
            version,
            headers,
            remote_addr,
            body,
            body_length,
            refusal,
            crate::request::Kept { hold, declined },
            writer,
        ))
    }

    /// app patch: answers a request the server refuses by itself, with
    /// `Connection: close`; the connection then closes.
    fn refuse(&mut self, status: u16, version: HTTPVersion) {
        let mut writer = self.sink.next().unwrap();
        let response = Response::new_empty(StatusCode(status)).closing_connection();
        response
            .raw_print(&mut writer, version, &[], false, None)
            .ok();
        writer.flush().ok();
    }

    /// app patch: after an answer that left request bytes unread, waits for
    /// the answers to go out, closes the sending side, and reads and throws
    /// away what the client still sends (bounded in bytes and time) before
    /// the connection closes. Closing a socket with unread bytes resets it,
    /// and a reset can destroy the answer before the client reads it.
    fn linger(&mut self) {
        self.linger = false;
        if let Some(mut last) = self.sink.next() {
            // waits until every earlier answer has been written
            last.flush().ok();
        }
        if let Some(socket) = &self.socket {
            socket.shutdown(Shutdown::Write).ok();
        }
        self.deadline
            .set(Some(Instant::now() + limits::LINGER_TIME));
        let mut left = limits::LINGER_BYTES;
        let mut buf = [0u8; 8192];
        while left > 0 {
            match self.next_header_source.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => left = left.saturating_sub(n),
            }
        }
    }
}

/// app patch: exactly `length` bytes, read as they arrive (never allocated
/// ahead on the client's word), within the socket's deadline.
fn read_body<R: Read>(source: &mut R, length: usize) -> IoResult<Vec<u8>> {
    let mut body = Vec::new();
    let mut chunk = [0u8; 8192];
    while body.len() < length {
        let want = (length - body.len()).min(chunk.len());
        match source.read(&mut chunk[..want])? {
            0 => {
                let info = "Connection has been closed before we received enough data";
                return Err(IoError::new(ErrorKind::ConnectionAborted, info));
            }
            n => body.extend_from_slice(&chunk[..n]),
        }
    }
    Ok(body)
}

impl Iterator for ClientConnection {
    type Item = Request;

    /// Blocks until the next Request is available.
    /// Returns None when no new Requests will come from the client.
    fn next(&mut self) -> Option<Request> {
        // the client sent a "connection: close" header in this previous request
        //  or is using HTTP 1.0, meaning that no new request will come
        if self.no_more_requests {
            if self.linger {
                self.linger();
            }
            return None;
        }

        // app patch: every answer given here leaves request bytes unread, so
        // it says `Connection: close`, lingers, and closes.
        let rq = match self.read() {
            Err(ReadError::WrongRequestLine) => {
                self.refuse(400, HTTPVersion(1, 1));
                self.linger();
                return None;
            }

            Err(ReadError::WrongHeader(ver)) => {
                self.refuse(400, ver);
                self.linger();
                return None;
            }

            Err(ReadError::VersionNotSupported) => {
                self.refuse(505, HTTPVersion(1, 1));
                self.linger();
                return None;
            }

            // a header line over the limit
            Err(ReadError::ReadIoError(ref err)) if err.kind() == ErrorKind::InvalidData => {
                self.refuse(431, HTTPVersion(1, 1));
                self.linger();
                return None;
            }

            // a bare CR or LF, a NUL, or a byte that is not ASCII
            Err(ReadError::ReadIoError(ref err)) if err.kind() == ErrorKind::InvalidInput => {
                self.refuse(400, HTTPVersion(1, 1));
                self.linger();
                return None;
            }

            // the head's deadline passed: 408, but only to a client that has
            // started a request (an idle kept-alive connection just closes)
            Err(ReadError::ReadIoError(ref err)) if err.kind() == ErrorKind::TimedOut => {
                if self.head_bytes == 0 {
                    return None;
                }
                self.refuse(408, HTTPVersion(1, 1));
                return None;
            }

            Err(ReadError::ExpectationFailed(ver)) => {
                self.refuse(417, ver);
                self.linger();
                return None;
            }

            Err(ReadError::ReadIoError(_)) => return None,

            Ok(rq) => rq,
        };

        // app patch: a refused body was left unread: this request is the
        // last, and the connection lingers once it is answered
        if rq.refusal().is_some() {
            self.no_more_requests = true;
            self.linger = true;
        }

        // updating the status of the connection
        let connection_header = rq
            .headers()
            .iter()
            .find(|h| h.field.equiv("Connection"))
            .map(|h| h.value.as_str());

        let lowercase = connection_header.map(|h| h.to_ascii_lowercase());

        match lowercase {
            Some(ref val) if val.contains("close") => self.no_more_requests = true,
            Some(ref val) if val.contains("upgrade") => self.no_more_requests = true,
            Some(ref val)
                if !val.contains("keep-alive") && *rq.http_version() == HTTPVersion(1, 0) =>
            {
                self.no_more_requests = true
            }
            None if *rq.http_version() == HTTPVersion(1, 0) => self.no_more_requests = true,
            _ => (),
        };

        // returning the request
        Some(rq)
    }
}

/// Parses a "HTTP/1.1" string.
fn parse_http_version(version: &str) -> Result<HTTPVersion, ReadError> {
    let (major, minor) = match version {
        "HTTP/0.9" => (0, 9),
        "HTTP/1.0" => (1, 0),
        "HTTP/1.1" => (1, 1),
        "HTTP/2.0" => (2, 0),
        "HTTP/3.0" => (3, 0),
        _ => return Err(ReadError::WrongRequestLine),
    };

    Ok(HTTPVersion(major, minor))
}

/// Parses the request line of the request.
/// eg. GET / HTTP/1.1
fn parse_request_line(line: &str) -> Result<(Method, String, HTTPVersion), ReadError> {
    let mut parts = line.split(' ');

    let method = parts.next().and_then(|w| w.parse().ok());
    let path = parts.next().map(ToOwned::to_owned);
    let version = parts.next().and_then(|w| parse_http_version(w).ok());

    method
        .and_then(|method| Some((method, path?, version?)))
        .ok_or(ReadError::WrongRequestLine)
}

#[cfg(test)]
mod test {
    #[test]
    fn test_parse_request_line() {
        let (method, path, ver) = super::parse_request_line("GET /hello HTTP/1.1").unwrap();

        assert!(method == crate::Method::Get);
        assert!(path == "/hello");
        assert!(ver == crate::common::HTTPVersion(1, 1));

        assert!(super::parse_request_line("GET /hello").is_err());
        assert!(super::parse_request_line("qsd qsd qsd").is_err());
    }
}
