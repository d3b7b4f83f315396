//! Our own request and response types, so handlers are plain functions that
//! tests can call without a socket. Only `server` touches tiny_http.

use std::collections::HashSet;
use std::fmt;

use maud::Markup;

use crate::clock::Timestamp;
use crate::error::{Error, Result};
use crate::web::client::ClientAddr;

/// Fields one form may have: ours have fewer than ten.
pub const MAX_FORM_FIELDS: usize = 64;

use super::Ctx;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Delete,
    Other,
}

impl Method {
    pub fn parse(s: &str) -> Method {
        match s {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "DELETE" => Method::Delete,
            _ => Method::Other,
        }
    }

    /// Methods that change state and so need the CSRF and Origin checks.
    pub fn is_unsafe(self) -> bool {
        !matches!(self, Method::Get | Method::Head)
    }
}

#[derive(Clone, Debug)]
pub struct Req {
    pub method: Method,
    pub path: String,
    pub query: String,
    /// Header names lowercased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub client: ClientAddr,
    /// When the request arrived; the one clock reading rules see.
    pub now: Timestamp,
}

impl Req {
    /// A request as a test would build it.
    pub fn new(method: Method, target: &str) -> Req {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        Req {
            method,
            path: path.to_string(),
            query: query.to_string(),
            headers: Vec::new(),
            body: Vec::new(),
            client: ClientAddr::Direct(std::net::IpAddr::from([127, 0, 0, 1])),
            now: Timestamp::now(),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// A cookie's value; with duplicates (an attacker's sibling domain can
    /// plant one) the first wins, as browsers send the most specific first.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == "cookie")
            .flat_map(|(_, v)| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.trim())
    }

    /// One query parameter, percent-decoded.
    pub fn query_param(&self, name: &str) -> Option<String> {
        form_urlencoded::parse(self.query.as_bytes())
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.into_owned())
    }

    /// The body as an HTML form, decoded in one linear pass. Refused with
    /// 400: more than [`MAX_FORM_FIELDS`] fields (counted before anything is
    /// decoded), text that is not UTF-8, and a field sent twice (no field of
    /// ours is a list).
    pub fn form(&self) -> Result<Form> {
        let fields = self
            .body
            .split(|&b| b == b'&')
            .filter(|part| !part.is_empty())
            .count();
        if fields > MAX_FORM_FIELDS {
            return Err(Error::BadRequest(format!(
                "The form has {fields} fields; a form here has at most {MAX_FORM_FIELDS}."
            )));
        }
        let mut seen = HashSet::with_capacity(fields);
        let mut pairs = Vec::with_capacity(fields);
        for (name, value) in form_urlencoded::parse(&self.body) {
            // The decoder turns bytes that are not UTF-8 into U+FFFD.
            if name.contains('\u{FFFD}') || value.contains('\u{FFFD}') {
                return Err(Error::BadRequest(
                    "The form data is not valid UTF-8 text.".into(),
                ));
            }
            if !seen.insert(name.clone()) {
                return Err(Error::BadRequest(format!(
                    "The form sent the field {name:?} twice."
                )));
            }
            pairs.push((name.into_owned(), value.into_owned()));
        }
        Ok(Form { pairs })
    }

    pub fn content_type_is(&self, mime: &str) -> bool {
        self.header("content-type")
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case(mime))
    }

    /// The body as JSON of type `T`.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T> {
        if !self.content_type_is("application/json") {
            return Err(Error::UnsupportedMediaType);
        }
        serde_json::from_slice(&self.body)
            .map_err(|e| Error::BadRequest(format!("The body is not the JSON this takes: {e}.")))
    }
}

#[derive(Clone, Debug, Default)]
pub struct Form {
    pairs: Vec<(String, String)>,
}

impl Form {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Percent-encodes a query or form value.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The rest of a handler's work, run on a pool thread with a database
/// connection of that thread's own; it answers like any handler.
pub type Job = Box<dyn FnOnce(&Ctx, &Req) -> Result<Resp> + Send>;

/// Which pool finishes a job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoolName {
    /// Calls to the LLM: `APP_LLM_CONCURRENCY` threads.
    Llm,
    /// Calls a person waits on to Paddle's API (Manage billing).
    Paddle,
}

impl fmt::Display for PoolName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PoolName::Llm => "llm",
            PoolName::Paddle => "paddle",
        })
    }
}

/// What `Resp::offload` carries to the server loop; `web::offload` runs it.
pub struct Offload {
    pub pool: PoolName,
    pub job: Job,
}

impl fmt::Debug for Offload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Offload({:?})", self.pool)
    }
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Set by `Resp::offload`: no answer yet, a job for a pool to finish.
    pub offload: Option<Offload>,
}

impl Resp {
    pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Resp {
        Resp {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            body: body.into(),
            offload: None,
        }
    }

    /// "Finish this on pool `pool`": the server loop hands the request to
    /// that pool, whose thread runs `job` and answers with what it returns
    /// (or 503 with `Retry-After` at once when the pool is full). For work
    /// that waits on another server; see `web::offload`.
    pub fn offload(
        pool: PoolName,
        job: impl FnOnce(&Ctx, &Req) -> Result<Resp> + Send + 'static,
    ) -> Resp {
        Resp {
            offload: Some(Offload {
                pool,
                job: Box::new(job),
            }),
            ..Resp::new(500, "text/plain; charset=utf-8", "")
        }
    }

    pub fn html(status: u16, markup: Markup) -> Resp {
        Resp::new(status, "text/html; charset=utf-8", markup.into_string())
    }

    pub fn text(status: u16, body: &str) -> Resp {
        Resp::new(status, "text/plain; charset=utf-8", body)
    }

    pub fn json(status: u16, value: &serde_json::Value) -> Resp {
        Resp::new(status, "application/json", value.to_string())
    }

    /// Any serialisable value as JSON; a value that fails to serialise is a
    /// 500, never an empty 200.
    pub fn json_of<T: serde::Serialize>(status: u16, value: &T) -> crate::error::Result<Resp> {
        Ok(Resp::new(
            status,
            "application/json",
            serde_json::to_vec(value)?,
        ))
    }

    /// 303 See Other: after a POST the browser GETs `location`.
    pub fn redirect(location: &str) -> Resp {
        Resp::new(303, "text/plain; charset=utf-8", "").with_header("Location", location)
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Resp {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(body: &[u8]) -> Req {
        let mut r = Req::new(Method::Post, "/login");
        r.body = body.to_vec();
        r
    }

    #[test]
    fn forms_decode_and_refuse_junk() {
        let f = post(b"email=a%40b.co&ref=AB+CD&empty=").form().unwrap();
        assert_eq!(f.get("email"), Some("a@b.co"));
        assert_eq!(f.get("ref"), Some("AB CD"));
        assert_eq!(f.get("empty"), Some(""));
        assert_eq!(f.get("missing"), None);
        assert!(post(b"email=a&email=b").form().is_err(), "duplicate field");
        assert!(post(b"email=%ff%fe").form().is_err(), "non-UTF-8 escapes");
        assert!(post(&[b'e', b'=', 0xff]).form().is_err(), "non-UTF-8 bytes");
        assert_eq!(post(b"a=100%").form().unwrap().get("a"), Some("100%"));
        assert_eq!(post(b"&&a=1&&").form().unwrap().get("a"), Some("1"));
        assert_eq!(post(b"a=%4").form().unwrap().get("a"), Some("%4"));
        assert_eq!(post(b"a=%zz").form().unwrap().get("a"), Some("%zz"));
    }

    #[test]
    fn a_form_has_at_most_64_fields_and_duplicates_are_found_linearly() {
        let fields = |n: usize| -> Vec<u8> {
            (0..n)
                .map(|i| format!("f{i}=x"))
                .collect::<Vec<_>>()
                .join("&")
                .into_bytes()
        };
        assert!(post(&fields(64)).form().is_ok());
        let err = post(&fields(65)).form().unwrap_err();
        assert_eq!(err.status(), 400);
        assert!(err.public_message().contains("at most 64"), "{err}");
        // the attack of issue 10: 16,000 distinct three-letter names in 64 KiB
        const ABC: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        let big: Vec<u8> = (0..16_000)
            .flat_map(|i| [ABC[i % 62], ABC[i / 62 % 62], ABC[i / 3844], b'&'])
            .collect();
        assert!(big.len() <= 64 * 1024);
        assert_eq!(post(&big).form().unwrap_err().status(), 400);
        let mut dup = fields(63);
        dup.extend_from_slice(b"&f3=y");
        let err = post(&dup).form().unwrap_err();
        assert!(err.public_message().contains("twice"), "{err}");
    }

    #[test]
    fn cookies_and_query() {
        let mut r = Req::new(Method::Get, "/login?ref=ABCD%2D1&x");
        r.headers
            .push(("cookie".into(), "a=1; session=tok; session=second".into()));
        assert_eq!(r.cookie("session"), Some("tok"));
        assert_eq!(r.cookie("missing"), None);
        assert_eq!(r.query_param("ref").as_deref(), Some("ABCD-1"));
        assert_eq!(r.query_param("x").as_deref(), Some(""));
    }

    #[test]
    fn encode_round_trips() {
        let s = "a b&c=d/é";
        let r = post(format!("v={}", encode(s)).as_bytes());
        assert_eq!(r.form().unwrap().get("v"), Some(s));
    }
}
