//! A message the SMTP sink received, and a small MIME reader to get the
//! sign-in code (or any text) back out of it: headers, `text/plain` and
//! `text/html` parts, base64 and quoted-printable.

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
