//! An SMTP sink that keeps every message the app sends, and a small MIME
//! reader to get the sign-in code back out of it.
//!
//! It speaks just enough plain SMTP for lettre's `SmtpTransport`: no TLS, no
//! AUTH. Each connection gets its own thread, and a connection may carry
//! several messages.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// One message as the sink received it.
#[derive(Clone, Debug)]
pub struct Mail {
    /// The address given in `MAIL FROM:<…>`.
    pub from: String,
    /// The addresses given in `RCPT TO:<…>`, in order.
    pub to: Vec<String>,
    /// The raw message (headers and body), dot-stuffing undone, CRLF line ends.
    pub data: String,
}

impl Mail {
    /// The first header with this name (case-insensitive), unfolded.
    pub fn header(&self, name: &str) -> Option<String> {
        let (headers, _) = split_head(&self.data);
        headers
            .into_iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// The decoded `text/plain` part (or the whole decoded body when the
    /// message has no `text/plain` part).
    pub fn text(&self) -> String {
        let parts = leaf_parts(&self.data);
        parts
            .iter()
            .find(|p| p.content_type.starts_with("text/plain"))
            .or(parts.first())
            .map(|p| p.text.clone())
            .unwrap_or_default()
    }

    /// The decoded `text/html` part, if there is one.
    pub fn html(&self) -> Option<String> {
        leaf_parts(&self.data)
            .into_iter()
            .find(|p| p.content_type.starts_with("text/html"))
            .map(|p| p.text)
    }
}

/// The sign-in code in a mail: the first run of exactly six ASCII digits in
/// its decoded `text/plain` part. Panics (showing the mail) when there is none.
pub fn code_in(mail: &Mail) -> String {
    let text = mail.text();
    six_digit_runs(&text).into_iter().next().unwrap_or_else(|| {
        panic!(
            "no six-digit code in the mail text:\n{text}\n--- raw ---\n{}",
            mail.data
        )
    })
}

/// Every maximal run of exactly six ASCII digits in `text`, in order.
pub fn six_digit_runs(text: &str) -> Vec<String> {
    let bytes = text.as_bytes();
    let mut runs = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_digit() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            if i - start == 6 {
                runs.push(text[start..i].to_string());
            }
        } else {
            i += 1;
        }
    }
    runs
}

#[derive(Default)]
struct Inbox {
    mails: Mutex<Vec<Mail>>,
    arrived: Condvar,
}

/// The running sink. Cheap to clone; all clones share one inbox.
#[derive(Clone)]
pub struct MailSink {
    addr: String,
    inbox: Arc<Inbox>,
}

impl MailSink {
    /// Binds 127.0.0.1:0 and serves until the test process exits.
    pub fn start() -> MailSink {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the SMTP sink");
        let addr = listener.local_addr().unwrap().to_string();
        let inbox = Arc::new(Inbox::default());
        let shared = inbox.clone();
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let inbox = shared.clone();
                thread::spawn(move || {
                    // A client that hangs up mid-message simply loses it.
                    let _ = serve_connection(stream, &inbox);
                });
            }
        });
        MailSink { addr, inbox }
    }

    /// "127.0.0.1:PORT".
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// `smtp://127.0.0.1:PORT`, the value for `APP_SMTP_URL`.
    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    /// Every message so far, oldest first.
    pub fn all(&self) -> Vec<Mail> {
        self.inbox.mails.lock().unwrap().clone()
    }

    /// How many messages so far were addressed to `to` (exact match).
    pub fn count_to(&self, to: &str) -> usize {
        self.to(to).len()
    }

    /// The messages so far addressed to `to` (exact match), oldest first.
    pub fn to(&self, to: &str) -> Vec<Mail> {
        let mails = self.inbox.mails.lock().unwrap();
        mails
            .iter()
            .filter(|m| m.to.iter().any(|t| t == to))
            .cloned()
            .collect()
    }

    /// Waits `settle` for stragglers, then counts the messages to `to`.
    /// Use it to check that a mail was *not* sent.
    pub fn count_to_after(&self, to: &str, settle: Duration) -> usize {
        thread::sleep(settle);
        self.count_to(to)
    }

    /// Waits until there is a message to `to` at 0-based position `n` among
    /// the messages to that address, and returns it. Panics after `timeout`.
    pub fn wait_for_nth(&self, to: &str, n: usize, timeout: Duration) -> Mail {
        let deadline = Instant::now() + timeout;
        let mut mails = self.inbox.mails.lock().unwrap();
        loop {
            if let Some(m) = mails.iter().filter(|m| m.to.iter().any(|t| t == to)).nth(n) {
                return m.clone();
            }
            let now = Instant::now();
            if now >= deadline {
                let seen: Vec<_> = mails.iter().map(|m| m.to.join(",")).collect();
                panic!("no mail #{n} to {to} within {timeout:?}; mails so far went to {seen:?}");
            }
            mails = self
                .inbox
                .arrived
                .wait_timeout(mails, deadline - now)
                .unwrap()
                .0;
        }
    }

    /// Waits until at least one message to `to` exists and returns the newest.
    pub fn wait_for(&self, to: &str, timeout: Duration) -> Mail {
        self.wait_for_nth(to, 0, timeout);
        self.to(to).pop().unwrap()
    }
}

fn serve_connection(stream: TcpStream, inbox: &Inbox) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut out = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    out.write_all(b"220 localhost test sink ready\r\n")?;
    let mut from = String::new();
    let mut to = Vec::new();
    loop {
        let line = match read_line(&mut reader)? {
            Some(line) => line,
            None => return Ok(()),
        };
        let upper = line.to_ascii_uppercase();
        let verb = upper.split_whitespace().next().unwrap_or("");
        match verb {
            "EHLO" => out.write_all(b"250-localhost\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n")?,
            "HELO" => out.write_all(b"250 localhost\r\n")?,
            "MAIL" => {
                from = angle_addr(&line);
                to.clear();
                out.write_all(b"250 OK\r\n")?;
            }
            "RCPT" => {
                to.push(angle_addr(&line));
                out.write_all(b"250 OK\r\n")?;
            }
            "DATA" => {
                out.write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")?;
                let data = read_data(&mut reader)?;
                let mail = Mail {
                    from: std::mem::take(&mut from),
                    to: std::mem::take(&mut to),
                    data,
                };
                inbox.mails.lock().unwrap().push(mail);
                inbox.arrived.notify_all();
                out.write_all(b"250 OK queued\r\n")?;
            }
            "RSET" => {
                from.clear();
                to.clear();
                out.write_all(b"250 OK\r\n")?;
            }
            "NOOP" => out.write_all(b"250 OK\r\n")?,
            "QUIT" => {
                out.write_all(b"221 Bye\r\n")?;
                return Ok(());
            }
            _ => out.write_all(b"502 Command not implemented\r\n")?,
        }
        out.flush()?;
    }
}

/// One line without its line end; `None` at end of stream.
fn read_line(reader: &mut impl BufRead) -> std::io::Result<Option<String>> {
    let mut buf = Vec::new();
    if reader.read_until(b'\n', &mut buf)? == 0 {
        return Ok(None);
    }
    while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        buf.pop();
    }
    Ok(Some(String::from_utf8_lossy(&buf).into_owned()))
}

/// The message after DATA, up to the line that is exactly ".", dot-stuffing undone.
fn read_data(reader: &mut impl BufRead) -> std::io::Result<String> {
    let mut lines = Vec::new();
    loop {
        let Some(line) = read_line(reader)? else {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "eof in DATA",
            ));
        };
        if line == "." {
            break;
        }
        lines.push(line.strip_prefix('.').map(str::to_string).unwrap_or(line));
    }
    Ok(lines.join("\r\n"))
}

/// The address between `<` and `>` in `MAIL FROM:<a@b> SIZE=…`.
fn angle_addr(line: &str) -> String {
    match (line.find('<'), line.find('>')) {
        (Some(a), Some(b)) if a < b => line[a + 1..b].to_string(),
        _ => line.split(':').nth(1).unwrap_or("").trim().to_string(),
    }
}

// ---------------------------------------------------------------- MIME

/// A leaf of the MIME tree, its body decoded.
#[derive(Debug)]
pub struct Part {
    /// Lowercased media type, e.g. `text/plain`.
    pub content_type: String,
    pub text: String,
}

/// All leaf parts of a raw message, depth first, bodies decoded.
pub fn leaf_parts(raw: &str) -> Vec<Part> {
    let mut out = Vec::new();
    collect_parts(raw, &mut out, 0);
    out
}

fn collect_parts(raw: &str, out: &mut Vec<Part>, depth: usize) {
    let (headers, body) = split_head(raw);
    let get = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let ctype_full = get("content-type").unwrap_or_else(|| "text/plain".into());
    let content_type = ctype_full
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if content_type.starts_with("multipart/") && depth < 10 {
        if let Some(boundary) = header_param(&ctype_full, "boundary") {
            for part in split_multipart(body, &boundary) {
                collect_parts(part, out, depth + 1);
            }
            return;
        }
    }
    let encoding = get("content-transfer-encoding")
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let bytes = match encoding.as_str() {
        "base64" => decode_base64(body),
        "quoted-printable" => decode_quoted_printable(body),
        _ => body.as_bytes().to_vec(),
    };
    out.push(Part {
        content_type,
        text: String::from_utf8_lossy(&bytes).into_owned(),
    });
}

/// Headers (unfolded) and the body after the first empty line.
fn split_head(raw: &str) -> (Vec<(String, String)>, &str) {
    let (head, body) = match (raw.find("\r\n\r\n"), raw.find("\n\n")) {
        (Some(a), Some(b)) if b < a => (&raw[..b], &raw[b + 2..]),
        (Some(a), _) => (&raw[..a], &raw[a + 4..]),
        (None, Some(b)) => (&raw[..b], &raw[b + 2..]),
        (None, None) => (raw, ""),
    };
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some(last) = headers.last_mut() {
                last.1.push(' ');
                last.1.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_string(), value.trim().to_string()));
        }
    }
    (headers, body)
}

/// A parameter of a structured header value, quotes removed.
fn header_param(value: &str, name: &str) -> Option<String> {
    value.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().trim_matches('"').to_string())
    })
}

fn split_multipart<'a>(body: &'a str, boundary: &str) -> Vec<&'a str> {
    let delimiter = format!("--{boundary}");
    let mut parts = Vec::new();
    let mut current: Option<usize> = None;
    let mut offset = 0;
    for line in body.split_inclusive('\n') {
        let bare = line.trim_end_matches(['\r', '\n']);
        if bare.starts_with(&delimiter) {
            if let Some(start) = current {
                // The CRLF before the delimiter belongs to the delimiter.
                let part = &body[start..offset];
                parts.push(
                    part.strip_suffix("\r\n")
                        .or(part.strip_suffix('\n'))
                        .unwrap_or(part),
                );
            }
            if bare[delimiter.len()..].starts_with("--") {
                return parts;
            }
            current = Some(offset + line.len());
        }
        offset += line.len();
    }
    if let Some(start) = current {
        parts.push(&body[start..]);
    }
    parts
}

/// Standard base64 as MIME writes it (in lines): line breaks ignored.
/// Panics, showing the text, when the app sent a part that is not base64.
pub fn decode_base64(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    let joined: String = text.split_ascii_whitespace().collect();
    base64::engine::general_purpose::STANDARD
        .decode(&joined)
        .unwrap_or_else(|e| panic!("a base64 part that does not decode ({e}):\n{text}"))
}

/// Quoted-printable: soft line breaks joined, `=XX` decoded.
pub fn decode_quoted_printable(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' {
            if bytes[i + 1..].starts_with(b"\r\n") {
                i += 3;
                continue;
            }
            if bytes[i + 1..].starts_with(b"\n") {
                i += 2;
                continue;
            }
            if i + 2 < bytes.len() {
                if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    out.push(h << 4 | l);
                    i += 3;
                    continue;
                }
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

/// Hands out each recipient's mails one at a time, in order.
#[derive(Default)]
pub struct MailCursor {
    handed_out: Mutex<HashMap<String, usize>>,
}

impl MailCursor {
    /// The next mail to `to` not handed out yet, waiting up to `timeout`.
    pub fn next(&self, sink: &MailSink, to: &str, timeout: Duration) -> Mail {
        let n = *self.handed_out.lock().unwrap().get(to).unwrap_or(&0);
        let mail = sink.wait_for_nth(to, n, timeout);
        *self
            .handed_out
            .lock()
            .unwrap()
            .entry(to.to_string())
            .or_insert(0) = n + 1;
        mail
    }
}

#[test]
fn a_base64_part_is_decoded_across_its_line_breaks() {
    let raw = "Content-Type: text/plain; charset=utf-8\r\n\
               Content-Transfer-Encoding: base64\r\n\r\n\
               WW91ciBjb2RlIGlzIDEyMzQ1\r\nNi4gSXQgZXhwaXJlcyBpbiAxMCBtaW51dGVzLg==\r\n";
    let mail = Mail {
        from: String::new(),
        to: Vec::new(),
        data: raw.to_string(),
    };
    assert_eq!(
        mail.text(),
        "Your code is 123456. It expires in 10 minutes."
    );
    assert_eq!(code_in(&mail), "123456");
}
