//! What happens to a request's body before a byte of it is read: the
//! vendored server asks here, on the connection's thread, once the head has
//! arrived (`tiny_http::HeadHook`). Every route's kind gives its body limit;
//! a webhook's route may also screen the head (`router::Kind::Webhook`), and
//! only a few bodies larger than a form are read at once.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tiny_http::{BodyPlan, Head};

use crate::clock::Timestamp;
use crate::error::{Error, Result};

use super::http::Method;
use super::router::{self, Kind};
use super::{Site, BODY_LIMIT};

/// Webhook bodies over `BODY_LIMIT` being read or handled at once; one more
/// is answered 503 with `Retry-After` unread.
pub const LARGE_BODIES_AT_ONCE: usize = 4;
/// What that 503 asks the sender to wait, in seconds.
pub const LARGE_BODIES_RETRY_AFTER: i64 = 5;

/// A head hook for the server that decides for `site`.
pub fn hook(site: Arc<Site>) -> tiny_http::HeadHook {
    Arc::new(move |head: &Head<'_>| plan(&site, head, Timestamp::now()))
}

/// The body's fate: read up to the route's limit, or declined with the
/// error that answers it (the worker renders it as for any other error).
pub fn plan(site: &Site, head: &Head<'_>, now: Timestamp) -> BodyPlan {
    match screen(site, head, now) {
        Ok(plan) => plan,
        Err(e) => BodyPlan::Decline(Box::new(e)),
    }
}

fn screen(site: &Site, head: &Head<'_>, now: Timestamp) -> Result<BodyPlan> {
    let method = Method::parse(head.method.as_str());
    let kind = router::kind_of(method, head.path);
    let Kind::Webhook { body_limit, screen } = kind else {
        return Ok(BodyPlan::Read {
            limit: kind.body_limit(),
            hold: None,
        });
    };
    // Only the route's own method is screened; another gets its 405.
    if router::takes(method, head.path) {
        if let Some(screen) = screen {
            screen(site, head, now)?;
        }
    }
    let hold = match head.content_length() {
        Some(length) if length > BODY_LIMIT && length <= body_limit => {
            let permit = site.large_bodies.take().ok_or_else(|| Error::Unavailable {
                retry_after: LARGE_BODIES_RETRY_AFTER,
                message: "Too many large requests are being read. Try again in a few seconds."
                    .into(),
            })?;
            Some(Box::new(permit) as Box<dyn std::any::Any + Send>)
        }
        _ => None,
    };
    Ok(BodyPlan::Read {
        limit: body_limit,
        hold,
    })
}

/// A fixed number of places; a taken one is given back when its `Permit`
/// is dropped.
pub struct Permits {
    max: usize,
    taken: Arc<AtomicUsize>,
}

pub struct Permit(Arc<AtomicUsize>);

impl Permits {
    pub fn new(max: usize) -> Permits {
        Permits {
            max,
            taken: Arc::new(AtomicUsize::new(0)),
        }
    }

    pub fn take(&self) -> Option<Permit> {
        self.taken
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max).then_some(n + 1)
            })
            .ok()
            .map(|_| Permit(self.taken.clone()))
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permits_are_few_and_come_back_when_dropped() {
        let permits = Permits::new(2);
        let a = permits.take().unwrap();
        let _b = permits.take().unwrap();
        assert!(permits.take().is_none());
        drop(a);
        assert!(permits.take().is_some());
    }
}
