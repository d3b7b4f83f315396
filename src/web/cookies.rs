//! The two cookies: `pending` (signed by hand, carries the email being
//! verified) and `session` (a random token the server knows by its hash).
//! With an https base URL both get `Secure` and the `__Host-` prefix.

use serde::{Deserialize, Serialize};

use crate::clock::{Timestamp, MINUTE};
use crate::crypto;

pub const PENDING: &str = "pending";
pub const SESSION: &str = "session";
pub const PENDING_LIFETIME: i64 = 30 * MINUTE;

/// The cookie's name as the browser sees it.
pub fn name(base: &str, https: bool) -> String {
    if https {
        format!("__Host-{base}")
    } else {
        base.to_string()
    }
}

/// A `Set-Cookie` value. `max_age` 0 clears the cookie.
pub fn set(base: &str, value: &str, max_age: i64, https: bool) -> String {
    let secure = if https { "; Secure" } else { "" };
    format!(
        "{}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}",
        name(base, https)
    )
}

pub fn clear(base: &str, https: bool) -> String {
    set(base, "", 0, https)
}

/// Between "send me a code" and "here is the code": who is signing in, the
/// referral code they came with, and a nonce that CSRF tokens bind to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PendingCookie {
    pub email: String,
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub referral: Option<String>,
    pub nonce: String,
    /// Unix seconds, inside the signed payload.
    pub exp: i64,
}

impl PendingCookie {
    pub fn new(
        email: &str,
        referral: Option<String>,
        now: Timestamp,
    ) -> crate::error::Result<PendingCookie> {
        Ok(PendingCookie {
            email: email.to_string(),
            referral,
            nonce: crypto::b64url(&crypto::random_bytes::<16>()?),
            exp: now.plus(PENDING_LIFETIME).secs(),
        })
    }

    pub fn seal(&self, key: &[u8]) -> String {
        // Serialising a struct of strings and an integer cannot fail.
        let payload = serde_json::to_vec(self).unwrap_or_default();
        crypto::sign(key, &payload)
    }

    /// The cookie, if it is ours, untampered and unexpired.
    pub fn open(key: &[u8], value: &str, now: Timestamp) -> Option<PendingCookie> {
        Self::open_lapsed(key, value).filter(|cookie| cookie.exp > now.secs())
    }

    /// The cookie if it is ours and untampered, even when it has expired:
    /// only for telling someone whose sign-in took too long which email
    /// they were using. It authorises nothing.
    pub fn open_lapsed(key: &[u8], value: &str) -> Option<PendingCookie> {
        if value.len() > 4096 {
            return None;
        }
        let payload = crypto::verify(key, value)?;
        serde_json::from_slice(&payload).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Timestamp = Timestamp(1_800_000_000);

    #[test]
    fn pending_round_trip() {
        let c = PendingCookie::new("a@b.co", Some("ABCDEFGH".into()), NOW).unwrap();
        let sealed = c.seal(b"key");
        assert_eq!(PendingCookie::open(b"key", &sealed, NOW), Some(c.clone()));
        assert_eq!(
            PendingCookie::open(b"key", &sealed, NOW.plus(PENDING_LIFETIME - 1)),
            Some(c)
        );
    }

    #[test]
    fn pending_expires() {
        let sealed = PendingCookie::new("a@b.co", None, NOW)
            .unwrap()
            .seal(b"key");
        assert_eq!(
            PendingCookie::open(b"key", &sealed, NOW.plus(PENDING_LIFETIME)),
            None
        );
    }

    #[test]
    fn pending_with_wrong_purpose_key_is_none() {
        let keys = crypto::Keys::derive(b"0123456789abcdef0123456789abcdef");
        let sealed = PendingCookie::new("a@b.co", None, NOW)
            .unwrap()
            .seal(&keys.csrf);
        assert_eq!(
            PendingCookie::open(&keys.pending_cookie, &sealed, NOW),
            None
        );
    }

    #[test]
    fn pending_tampered_is_none() {
        let key = b"key";
        let c = PendingCookie::new("a@b.co", None, NOW).unwrap();
        let sealed = c.seal(key);
        // a payload of someone else's, signed by nobody
        let (_, tag) = sealed.split_once('.').unwrap();
        let forged = serde_json::to_vec(&PendingCookie {
            email: "victim@b.co".into(),
            ..c.clone()
        })
        .unwrap();
        let forged = format!("{}.{tag}", crypto::b64url(&forged));
        assert_eq!(PendingCookie::open(key, &forged, NOW), None);
        // signed, but not our shape
        assert_eq!(
            PendingCookie::open(key, &crypto::sign(key, b"[1,2]"), NOW),
            None
        );
        assert_eq!(
            PendingCookie::open(key, &crypto::sign(key, b"\xff\xfe"), NOW),
            None
        );
        // junk and oversized values
        for junk in ["", ".", "a.b", "%%%", &"A".repeat(10_000)] {
            assert_eq!(PendingCookie::open(key, junk, NOW), None, "{junk:.20}");
        }
    }

    #[test]
    fn set_cookie_flags() {
        assert_eq!(
            set("session", "v", 60, false),
            "session=v; Path=/; HttpOnly; SameSite=Lax; Max-Age=60"
        );
        assert_eq!(
            set("pending", "v", 60, true),
            "__Host-pending=v; Path=/; HttpOnly; SameSite=Lax; Max-Age=60; Secure"
        );
        assert!(clear("session", false).contains("Max-Age=0"));
    }
}
