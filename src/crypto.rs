//! Keys, signatures, hashes and randomness: the few primitives the rest of
//! the app builds on. Secrets are compared only in constant time.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::{Error, Result};

type HmacSha256 = Hmac<Sha256>;

/// One key per purpose, each derived from the app secret, so a value signed
/// for one purpose never verifies for another.
#[derive(Clone)]
pub struct Keys {
    pub pending_cookie: [u8; 32],
    pub csrf: [u8; 32],
    pub login_code: [u8; 32],
    /// Signs the user id a Paddle checkout carries in `custom_data`.
    pub checkout: [u8; 32],
    pub flash_cookie: [u8; 32],
    /// Hashes the mailbox a referral was made for (SPEC §7: a mailbox is
    /// referred once, ever); the key never reaches the database.
    pub referred_mailbox: [u8; 32],
}

impl Keys {
    pub fn derive(secret: &[u8]) -> Keys {
        Keys {
            pending_cookie: mac(secret, b"app/pending-cookie/v1"),
            csrf: mac(secret, b"app/csrf/v1"),
            login_code: mac(secret, b"app/login-code/v1"),
            checkout: mac(secret, b"app/paddle-checkout/v1"),
            flash_cookie: mac(secret, b"app/flash-cookie/v1"),
            referred_mailbox: mac(secret, b"app/referred-mailbox/v1"),
        }
    }
}

/// HMAC-SHA256 of `data` under `key`.
pub fn mac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut m = <HmacSha256 as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    m.update(data);
    m.finalize().into_bytes().into()
}

fn mac_matches(key: &[u8], data: &[u8], tag: &[u8]) -> bool {
    let Ok(mut m) = <HmacSha256 as KeyInit>::new_from_slice(key) else {
        return false;
    };
    m.update(data);
    m.verify_slice(tag).is_ok()
}

pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// `base64url(payload).base64url(hmac)`.
pub fn sign(key: &[u8], payload: &[u8]) -> String {
    let body = URL_SAFE_NO_PAD.encode(payload);
    let tag = URL_SAFE_NO_PAD.encode(mac(key, body.as_bytes()));
    format!("{body}.{tag}")
}

/// The payload of a value made by [`sign`] with the same key, or `None` for
/// anything tampered, truncated or malformed.
pub fn verify(key: &[u8], signed: &str) -> Option<Vec<u8>> {
    let (body, tag) = signed.split_once('.')?;
    let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
    if !mac_matches(key, body.as_bytes(), &tag) {
        return None;
    }
    URL_SAFE_NO_PAD.decode(body).ok()
}

/// Whether `tag` is the HMAC-SHA256 of `data` under `key`, compared in
/// constant time (`Mac::verify_slice`).
pub fn mac_verify(key: &[u8], data: &[u8], tag: &[u8]) -> bool {
    mac_matches(key, data, tag)
}

/// Constant-time equality for secrets of any length (the length may leak).
pub fn secrets_equal(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

pub fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).map_err(|e| Error::Internal(format!("OS random source: {e}")))?;
    Ok(buf)
}

/// A uniformly random number below `bound` (rejection sampling, no modulo bias).
pub fn random_below(bound: u32) -> Result<u32> {
    let zone = u32::MAX - (u32::MAX % bound);
    loop {
        let v = u32::from_le_bytes(random_bytes::<4>()?);
        if v < zone {
            return Ok(v % bound);
        }
    }
}

pub fn b64url(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

pub fn b64url_decode(text: &str) -> Result<Vec<u8>> {
    URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| Error::BadRequest("not base64url".into()))
}

pub fn hex(data: &[u8]) -> String {
    // By table rather than a `format!` per byte: the CSRF binding of every
    // signed-in page hashes its session this way.
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(data.len() * 2);
    for b in data {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0x0f)] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_values_round_trip() {
        let s = sign(b"k", b"hello");
        assert_eq!(verify(b"k", &s).as_deref(), Some(&b"hello"[..]));
    }

    #[test]
    fn any_tampering_fails() {
        let s = sign(b"k", b"{\"email\":\"a@b.c\"}");
        let (body, tag) = s.split_once('.').unwrap();
        // every single-character change anywhere
        for i in 0..s.len() {
            let mut bytes = s.clone().into_bytes();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let t = String::from_utf8(bytes).unwrap();
            if t != s {
                assert_eq!(verify(b"k", &t), None, "changed at {i}");
            }
        }
        assert_eq!(verify(b"k", body), None, "no tag");
        assert_eq!(verify(b"k", &format!("{body}.")), None, "empty tag");
        assert_eq!(verify(b"k", &format!(".{tag}")), None, "empty body");
        assert_eq!(verify(b"k", &s[..s.len() - 1]), None, "truncated");
        assert_eq!(verify(b"k", &format!("{s}.x")), None, "extra part");
        assert_eq!(verify(b"k", "junk"), None);
        assert_eq!(verify(b"k", ""), None);
        assert_eq!(verify(b"other", &s), None, "wrong key");
    }

    #[test]
    fn purposes_get_different_keys() {
        let k = Keys::derive(b"0123456789abcdef0123456789abcdef");
        assert_ne!(k.pending_cookie, k.csrf);
        assert_ne!(k.csrf, k.login_code);
        let other = Keys::derive(b"0123456789abcdef0123456789abcdeX");
        assert_ne!(k.pending_cookie, other.pending_cookie);
    }

    #[test]
    fn constant_time_compare() {
        assert!(secrets_equal(b"abc", b"abc"));
        assert!(!secrets_equal(b"abc", b"abd"));
        assert!(!secrets_equal(b"abc", b"abcd"));
    }

    #[test]
    fn hex_is_lowercase_two_digits_a_byte() {
        assert_eq!(hex(&[0x00, 0x0f, 0xab, 0xff]), "000fabff");
        assert_eq!(hex(&[]), "");
    }

    #[test]
    fn random_below_stays_in_range() {
        for _ in 0..1000 {
            assert!(random_below(10).unwrap() < 10);
        }
    }
}
