//! app patch: the app's say over a request's body, from its head alone,
//! before a byte of the body is read. Upstream read (or left to the app to
//! read) every body; a route that refuses most callers (a webhook whose
//! signature header is missing or stale, or that is switched off) would
//! still take a megabyte from each of them first.

use std::any::Any;
use std::sync::Arc;

use crate::{Header, Method};

/// What the app sees of a request before its body: the method, the path
/// without its query, and the headers.
pub struct Head<'a> {
    pub method: &'a Method,
    pub path: &'a str,
    pub headers: &'a [Header],
}

impl Head<'_> {
    /// The first header of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|h| h.field.as_str().as_str().eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str())
    }

    /// The `Content-Length` as sent, when it is one plain number.
    pub fn content_length(&self) -> Option<usize> {
        self.header("Content-Length")?.parse().ok()
    }
}

/// What the server does with the body.
pub enum BodyPlan {
    /// Read it whole, up to `limit` bytes (a longer `Content-Length` is
    /// refused unread: 413). `hold` is kept with the request until the
    /// request is dropped, after its answer: a permit, say, that bounds how
    /// many such bodies are in memory at once.
    Read {
        limit: usize,
        hold: Option<Box<dyn Any + Send>>,
    },
    /// Leave it unread: the request reaches the app with an empty body,
    /// `Refusal::Declined`, and `why` (`Request::take_declined`), and the
    /// answer closes the connection.
    Decline(Box<dyn Any + Send>),
}

/// The app's hook: called on the connection's thread for every request,
/// once its head has arrived.
pub type HeadHook = Arc<dyn Fn(&Head<'_>) -> BodyPlan + Send + Sync>;

/// Every body read, up to `limits::BODY_LIMIT`.
pub fn read_up_to_the_default_limit() -> HeadHook {
    Arc::new(|_| BodyPlan::Read {
        limit: crate::limits::BODY_LIMIT,
        hold: None,
    })
}
