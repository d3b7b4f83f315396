//! A tiny HTTP/1.1 client over `std::net::TcpStream`, with a cookie jar.
//!
//! One connection per request (`Connection: close`, read to EOF), never
//! follows redirects, so tests see exactly what the server answered.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::Mutex;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(10);

/// A parsed response.
#[derive(Clone, Debug)]
pub struct Resp {
    pub status: u16,
    /// Header names as sent, in order.
    pub headers: Vec<(String, String)>,
    /// The body, chunked encoding undone, as lossy UTF-8.
    pub body: String,
    /// The body, chunked encoding undone, as bytes.
    pub body_bytes: Vec<u8>,
}

impl Resp {
    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every header with this name (case-insensitive), in order.
    pub fn headers_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The raw `Set-Cookie` lines.
    pub fn set_cookies(&self) -> Vec<&str> {
        self.headers_all("set-cookie")
    }

    /// The raw `Set-Cookie` line for cookie `name`, if this response sets it.
    pub fn set_cookie(&self, name: &str) -> Option<&str> {
        self.set_cookies()
            .into_iter()
            .find(|line| cookie_pair(line).0 == name)
    }

    /// The `Location` header.
    pub fn location(&self) -> Option<&str> {
        self.header("location")
    }

    /// True when this is a 303 to exactly `path`.
    pub fn is_see_other_to(&self, path: &str) -> bool {
        self.status == 303 && self.location() == Some(path)
    }

    /// A short description for assertion messages.
    pub fn summary(&self) -> String {
        let mut body: String = self.body.chars().take(600).collect();
        if body.len() < self.body.len() {
            body.push('…');
        }
        format!("{} {:?}\n{}", self.status, self.headers, body)
    }
}

/// A browser-like client: keeps cookies, sends `Origin` on form posts.
pub struct Client {
    addr: String,
    origin: Option<String>,
    jar: Mutex<Vec<(String, String)>>,
}

impl Clone for Client {
    /// A second client with a copy of this one's cookies.
    fn clone(&self) -> Client {
        Client {
            addr: self.addr.clone(),
            origin: self.origin.clone(),
            jar: Mutex::new(self.cookies()),
        }
    }
}

impl Client {
    /// A client for the server at `addr` ("127.0.0.1:PORT") whose form posts
    /// carry `Origin: <origin>` when `origin` is set.
    pub fn new(addr: &str, origin: Option<&str>) -> Client {
        Client {
            addr: addr.to_string(),
            origin: origin.map(str::to_string),
            jar: Mutex::new(Vec::new()),
        }
    }

    /// The value of cookie `name` in the jar.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.jar
            .lock()
            .unwrap()
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    }

    /// Every cookie in the jar.
    pub fn cookies(&self) -> Vec<(String, String)> {
        self.jar.lock().unwrap().clone()
    }

    /// Puts a cookie in the jar by hand (to tamper with it).
    pub fn set_cookie_raw(&self, name: &str, value: &str) {
        let mut jar = self.jar.lock().unwrap();
        jar.retain(|(n, _)| n != name);
        jar.push((name.to_string(), value.to_string()));
    }

    pub fn remove_cookie(&self, name: &str) {
        self.jar.lock().unwrap().retain(|(n, _)| n != name);
    }

    pub fn get(&self, path: &str) -> Resp {
        self.request("GET", path, &[], b"")
    }

    pub fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Resp {
        self.request("GET", path, headers, b"")
    }

    /// A urlencoded form post, with `Origin` when the client has one.
    pub fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Resp {
        self.post_form_with(path, fields, &[])
    }

    /// Like `post_form`, plus `headers`; an `Origin` among them replaces the default.
    pub fn post_form_with(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Resp {
        let body = form_encode(fields);
        let mut all: Vec<(&str, &str)> =
            vec![("Content-Type", "application/x-www-form-urlencoded")];
        let has_origin = headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("origin"));
        if let (Some(origin), false) = (self.origin.as_deref(), has_origin) {
            all.push(("Origin", origin));
        }
        all.extend_from_slice(headers);
        self.request("POST", path, &all, body.as_bytes())
    }

    /// Sends exactly `headers` plus `Host`, `Connection: close`, the jar's
    /// cookies (unless `headers` has a `Cookie`) and `Content-Length` (unless
    /// `headers` has one, or a `Transfer-Encoding`). Panics when no response
    /// comes back.
    pub fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Resp {
        match self.try_request(method, path, headers, body) {
            Ok(resp) => resp,
            Err(e) => panic!("{method} {path}: {e}"),
        }
    }

    pub fn try_request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> std::io::Result<Resp> {
        let has = |name: &str| headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
            self.addr
        );
        if !has("cookie") {
            let jar = self.cookies();
            if !jar.is_empty() {
                let pairs: Vec<String> = jar.iter().map(|(n, v)| format!("{n}={v}")).collect();
                head.push_str(&format!("Cookie: {}\r\n", pairs.join("; ")));
            }
        }
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        let sends_body = !body.is_empty() || matches!(method, "POST" | "PUT" | "PATCH");
        if sends_body && !has("content-length") && !has("transfer-encoding") {
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(body);

        let answer = exchange(&self.addr, &bytes)?;
        let resp = parse_response(&answer).ok_or_else(|| {
            std::io::Error::new(
                ErrorKind::InvalidData,
                format!(
                    "unparseable response: {:?}",
                    String::from_utf8_lossy(&answer)
                ),
            )
        })?;
        self.store_cookies(&resp);
        Ok(resp)
    }

    fn store_cookies(&self, resp: &Resp) {
        let mut jar = self.jar.lock().unwrap();
        for line in resp.set_cookies() {
            let (name, value) = cookie_pair(line);
            if name.is_empty() {
                continue;
            }
            jar.retain(|(n, _)| n != name);
            if !value.is_empty() && !cookie_is_expired(line) {
                jar.push((name.to_string(), value.to_string()));
            }
        }
    }
}

/// `name` and `value` of a `Set-Cookie` line.
pub fn cookie_pair(line: &str) -> (&str, &str) {
    let pair = line.split(';').next().unwrap_or("");
    let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
    (name.trim(), value.trim())
}

/// The attributes of a `Set-Cookie` line, names lowercased: `("httponly", "")`.
pub fn cookie_attrs(line: &str) -> Vec<(String, String)> {
    line.split(';')
        .skip(1)
        .map(|attr| {
            let (k, v) = attr.split_once('=').unwrap_or((attr, ""));
            (k.trim().to_ascii_lowercase(), v.trim().to_string())
        })
        .collect()
}

/// True for `Max-Age` ≤ 0 or an `Expires` date before 2000 (how servers delete).
fn cookie_is_expired(line: &str) -> bool {
    cookie_attrs(line).iter().any(|(k, v)| match k.as_str() {
        "max-age" => v.parse::<i64>().map(|n| n <= 0).unwrap_or(false),
        "expires" => v
            .split(|c: char| !c.is_ascii_digit())
            .find(|w| w.len() == 4)
            .and_then(|y| y.parse::<u32>().ok())
            .is_some_and(|year| year < 2000),
        _ => false,
    })
}

/// Sends `bytes` to `addr` on a new connection and returns everything that
/// came back before EOF, a reset or the 10 s timeout. Never panics on I/O.
pub fn raw(addr: &str, bytes: &[u8]) -> Vec<u8> {
    exchange(addr, bytes).unwrap_or_default()
}

fn exchange(addr: &str, bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    // The server may answer (413, 400) and close before reading everything we
    // send; what it answered is still worth reading.
    let _ = stream.write_all(bytes).and_then(|_| stream.flush());
    let mut answer = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                if answer.is_empty() {
                    return Err(std::io::Error::new(
                        ErrorKind::TimedOut,
                        "no answer within 10 s",
                    ));
                }
                break;
            }
            Err(e) => {
                if answer.is_empty() {
                    return Err(e);
                }
                break;
            }
        }
    }
    Ok(answer)
}

/// Parses a full HTTP/1.x response (status line, headers, body).
pub fn parse_response(bytes: &[u8]) -> Option<Resp> {
    let split = bytes.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&bytes[..split]);
    let rest = &bytes[split + 4..];
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let mut words = status_line.split_whitespace();
    if !words.next()?.starts_with("HTTP/1.") {
        return None;
    }
    let status: u16 = words.next()?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let chunked =
        header("transfer-encoding").is_some_and(|te| te.to_ascii_lowercase().contains("chunked"));
    let body_bytes = if chunked {
        decode_chunked(rest)
    } else if let Some(len) = header("content-length").and_then(|l| l.parse::<usize>().ok()) {
        rest[..len.min(rest.len())].to_vec()
    } else {
        rest.to_vec()
    };
    let body = String::from_utf8_lossy(&body_bytes).into_owned();
    Some(Resp {
        status,
        headers,
        body,
        body_bytes,
    })
}

fn decode_chunked(mut rest: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") {
        let size_line = String::from_utf8_lossy(&rest[..eol]);
        let size_hex = size_line.split(';').next().unwrap_or("").trim();
        let Ok(size) = usize::from_str_radix(size_hex, 16) else {
            break;
        };
        rest = &rest[eol + 2..];
        if size == 0 {
            break;
        }
        let take = size.min(rest.len());
        out.extend_from_slice(&rest[..take]);
        rest = &rest[take..];
        rest = rest.strip_prefix(b"\r\n").unwrap_or(rest);
    }
    out
}

/// `application/x-www-form-urlencoded` for `fields`, in order.
pub fn form_encode(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Form encoding of one name or value: unreserved bytes kept, space as `+`,
/// every other UTF-8 byte as `%XX`.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
