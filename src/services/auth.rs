//! Sign-in with emailed one-time codes, and the sessions that follow.
//!
//! Codes are six random digits kept only as an HMAC; they live ten minutes,
//! are used once, and burn after five wrong tries. Sessions are random
//! 256-bit tokens of which the database keeps only the SHA-256.

use rusqlite::{Connection, Transaction};

use crate::clock::{Timestamp, DAY};
use crate::crypto;
use crate::db::{self, codes, sessions, users::User};
use crate::error::Result;

mod code;
pub use code::*;

pub const SESSION_LIFETIME: i64 = 30 * DAY;
pub const MAX_EMAIL_BYTES: usize = 254;

/// Trims and lowercases an email and checks it is one we can send to.
/// The error is a sentence for the person who typed it.
pub fn normalise_email(raw: &str) -> Result<String, &'static str> {
    let email = raw.trim().to_ascii_lowercase();
    if email.is_empty() {
        return Err("Enter your email address.");
    }
    if email.len() > MAX_EMAIL_BYTES {
        return Err("That email address is too long.");
    }
    if !email.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("An email address has no spaces or special characters.");
    }
    let Some((local, domain)) = email.split_once('@') else {
        return Err("That doesn't look like an email address: it needs an @.");
    };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~.".contains(&b));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if !local_ok || !domain_ok {
        return Err("That doesn't look like an email address.");
    }
    Ok(email)
}

/// Six digits from the OS random source, uniformly distributed.
pub fn generate_code() -> Result<String> {
    Ok(format!("{:06}", crypto::random_below(1_000_000)?))
}

/// Only ASCII `[0-9]{6}` can ever match a code.
pub fn is_code_shaped(s: &str) -> bool {
    s.len() == 6 && s.bytes().all(|b| b.is_ascii_digit())
}

fn start_session(tx: &Transaction<'_>, user_id: i64, now: Timestamp) -> Result<String> {
    let token = crypto::b64url(&crypto::random_bytes::<32>()?);
    sessions::insert(
        tx,
        &crypto::sha256(token.as_bytes()),
        user_id,
        now,
        now.plus(SESSION_LIFETIME),
    )?;
    Ok(token)
}

/// The signed-in user for a session token, if the session is live.
pub fn session_user(conn: &Connection, token: &str, now: Timestamp) -> Result<Option<User>> {
    sessions::user_for(conn, &crypto::sha256(token.as_bytes()), now)
}

pub fn end_session(conn: &Connection, token: &str) -> Result<()> {
    db::write(conn, |tx| {
        sessions::delete(tx, &crypto::sha256(token.as_bytes()))
    })
}

/// Forgets expired sessions and codes whose limits have run out.
pub fn sweep(conn: &Connection, now: Timestamp) -> Result<()> {
    db::write(conn, |tx| {
        sessions::delete_expired(tx, now)?;
        codes::delete_older_than(tx, now.plus(-2 * DAY))?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::Keys;
    use crate::db::test_db;

    const T0: Timestamp = Timestamp(1_800_000_000);

    #[test]
    fn email_normalisation_and_validation() {
        assert_eq!(
            normalise_email("  Alice@Example.COM "),
            Ok("alice@example.com".into())
        );
        assert_eq!(
            normalise_email("a.b+tag@sub.example.co.uk"),
            Ok("a.b+tag@sub.example.co.uk".into())
        );
        for bad in [
            "",
            "   ",
            "alice",
            "@example.com",
            "alice@",
            "alice@example",
            "a b@example.com",
            "a@b.c\r\nBcc: x@y.z",
            "a@@b.com",
            "a@b..com",
            ".a@b.com",
            "a.@b.com",
            "a@-b.com",
            "a@b.com\0",
            "é@b.com",
            "a@b_c.com",
            "a\"b@c.com",
        ] {
            assert!(normalise_email(bad).is_err(), "{bad:?} should be refused");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(normalise_email(&long).is_err());
        let local_too_long = format!("{}@example.com", "a".repeat(65));
        assert!(normalise_email(&local_too_long).is_err());
    }

    #[test]
    fn codes_are_six_ascii_digits_and_vary() {
        let codes: std::collections::HashSet<String> =
            (0..200).map(|_| generate_code().unwrap()).collect();
        assert!(codes.len() > 190, "codes repeat too often");
        assert!(codes.iter().all(|c| is_code_shaped(c)));
        for s in [
            "12345",
            "1234567",
            "abcdef",
            "１２３４５６",
            "12 345",
            "-12345",
            "+12345",
        ] {
            assert!(!is_code_shaped(s), "{s}");
        }
    }

    #[test]
    fn sessions_end_and_expire() {
        let conn = test_db();
        let keys = Keys::derive(b"test-secret-test-secret-test-secret!");
        let issued = request_code(&conn, &keys, "a@b.co", "nonce", "192.0.2.1", T0).unwrap();
        let no_hook = |_: &Transaction<'_>, _: &User| Ok(());
        let verified = verify_code(&conn, &keys, "a@b.co", "nonce", &issued.code, T0, no_hook);
        let Verified::SignedIn { session_token, .. } = verified.unwrap() else {
            panic!()
        };
        assert!(
            session_user(&conn, &session_token, T0.plus(SESSION_LIFETIME - 1))
                .unwrap()
                .is_some()
        );
        assert!(
            session_user(&conn, &session_token, T0.plus(SESSION_LIFETIME))
                .unwrap()
                .is_none()
        );
        assert!(session_user(&conn, "not-a-token", T0).unwrap().is_none());
        end_session(&conn, &session_token).unwrap();
        assert!(session_user(&conn, &session_token, T0).unwrap().is_none());
    }
}
