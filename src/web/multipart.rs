//! `multipart/form-data` bodies (RFC 7578), for the one upload the app takes
//! (`POST /portfolio/import`). The body is already whole and at most 64 KiB
//! (the server's limit), so this is a plain split on the boundary; written
//! here rather than taken from a crate because a streaming parser would do
//! far more than a 64 KiB body needs, and what it must refuse is short.

use crate::error::{Error, Result};

use super::http::Req;

/// A form has few parts; more is junk.
const MAX_PARTS: usize = 16;

/// One part: its field name, the file name if it is a file, its bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct Part {
    pub name: String,
    pub filename: Option<String>,
    pub body: Vec<u8>,
}

#[derive(Clone, Debug, Default)]
pub struct Multipart {
    parts: Vec<Part>,
}

impl Multipart {
    pub fn get(&self, name: &str) -> Option<&Part> {
        self.parts.iter().find(|p| p.name == name)
    }

    /// A text field's value.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.get(name)
            .and_then(|p| std::str::from_utf8(&p.body).ok())
    }
}

fn bad(why: &str) -> Error {
    Error::BadRequest(format!("The upload could not be read: {why}."))
}

/// The request's body as multipart form data; a 400 naming what is wrong
/// otherwise (a 415 when it is not multipart at all).
pub fn parse(req: &Req) -> Result<Multipart> {
    if !req.content_type_is("multipart/form-data") {
        return Err(Error::UnsupportedMediaType);
    }
    let content_type = req.header("content-type").unwrap_or("");
    let boundary = content_type
        .split(';')
        .skip(1)
        .filter_map(|p| p.trim().split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("boundary"))
        .map(|(_, v)| v.trim().trim_matches('"'))
        .filter(|b| !b.is_empty() && b.len() <= 70)
        .ok_or_else(|| bad("no boundary in its Content-Type"))?;
    parse_body(&req.body, boundary)
}

pub fn parse_body(body: &[u8], boundary: &str) -> Result<Multipart> {
    let delimiter = format!("--{boundary}").into_bytes();
    let mut at = find(body, &delimiter, 0).ok_or_else(|| bad("no first boundary"))?;
    let mut parts = Vec::new();
    loop {
        at += delimiter.len();
        if body[at..].starts_with(b"--") {
            return Ok(Multipart { parts });
        }
        if !body[at..].starts_with(b"\r\n") {
            return Err(bad("a boundary not followed by a line end"));
        }
        at += 2;
        let head_end = find(body, b"\r\n\r\n", at).ok_or_else(|| bad("a part without headers"))?;
        let head = std::str::from_utf8(&body[at..head_end])
            .map_err(|_| bad("part headers that are not text"))?;
        let content_start = head_end + 4;
        let mut close = delimiter.clone();
        close.splice(0..0, *b"\r\n");
        let end = find(body, &close, content_start).ok_or_else(|| bad("a part that never ends"))?;
        if parts.len() == MAX_PARTS {
            return Err(bad("too many parts"));
        }
        let (name, filename) =
            disposition(head).ok_or_else(|| bad("a part without a form-data name"))?;
        parts.push(Part {
            name,
            filename,
            body: body[content_start..end].to_vec(),
        });
        at = end + 2;
    }
}

/// `Content-Disposition: form-data; name="file"; filename="a.csv"`.
fn disposition(head: &str) -> Option<(String, Option<String>)> {
    let line = head.split("\r\n").find(|l| {
        l.split(':')
            .next()
            .is_some_and(|n| n.trim().eq_ignore_ascii_case("content-disposition"))
    })?;
    let value = line.split_once(':')?.1;
    let mut params = value.split(';');
    if !params.next()?.trim().eq_ignore_ascii_case("form-data") {
        return None;
    }
    let (mut name, mut filename) = (None, None);
    for p in params {
        let Some((k, v)) = p.trim().split_once('=') else {
            continue;
        };
        let v = v.trim();
        let v = v
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(v);
        match k.trim().to_ascii_lowercase().as_str() {
            "name" => name = Some(v.to_string()),
            "filename" => filename = Some(v.to_string()),
            _ => {}
        }
    }
    Some((name?, filename))
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if from > haystack.len() {
        return None;
    }
    haystack[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As Chromium sends a form with a token and a file.
    const BODY: &str = "------WebKitFormBoundaryx7Yc\r\n\
Content-Disposition: form-data; name=\"csrf\"\r\n\r\n\
tok-en\r\n\
------WebKitFormBoundaryx7Yc\r\n\
Content-Disposition: form-data; name=\"file\"; filename=\"holdings.csv\"\r\n\
Content-Type: text/csv\r\n\r\n\
symbol,quantity,price,cost_basis,currency\r\nAAPL,1,2,,\r\n\r\n\
------WebKitFormBoundaryx7Yc--\r\n";

    #[test]
    fn reads_fields_and_files() {
        let m = parse_body(BODY.as_bytes(), "----WebKitFormBoundaryx7Yc").unwrap();
        assert_eq!(m.text("csrf"), Some("tok-en"));
        let file = m.get("file").unwrap();
        assert_eq!(file.filename.as_deref(), Some("holdings.csv"));
        assert_eq!(
            file.body,
            b"symbol,quantity,price,cost_basis,currency\r\nAAPL,1,2,,\r\n"
        );
        assert_eq!(m.get("other"), None);
    }

    #[test]
    fn junk_is_refused() {
        for body in [
            "",
            "no boundary here",
            "------WebKitFormBoundaryx7Yc\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nnever ends",
            "------WebKitFormBoundaryx7Yc\r\nX: y\r\n\r\nv\r\n------WebKitFormBoundaryx7Yc--",
        ] {
            assert!(parse_body(body.as_bytes(), "----WebKitFormBoundaryx7Yc").is_err(), "{body:?}");
        }
        let many: String = (0..20)
            .map(|i| format!("--b\r\nContent-Disposition: form-data; name=\"f{i}\"\r\n\r\nv\r\n"))
            .collect::<String>()
            + "--b--";
        assert!(parse_body(many.as_bytes(), "b").is_err());
    }
}
