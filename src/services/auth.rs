//! Sign-in with emailed one-time codes, and the sessions that follow.
//!
//! Codes are six random digits kept only as an HMAC; they live ten minutes,
//! are used once, and burn after five wrong tries. Sessions are random
//! 256-bit tokens of which the database keeps only the SHA-256.

use rusqlite::{Connection, Transaction};

use crate::clock::{Timestamp, DAY, HOUR, MINUTE};
use crate::crypto::{self, Keys};
use crate::db::{self, codes, sessions, users, users::User};
use crate::error::{Error, Result};

pub const CODE_LIFETIME: i64 = 10 * MINUTE;
pub const SESSION_LIFETIME: i64 = 30 * DAY;
pub const TRIES_PER_CODE: i64 = 5;
pub const WRONG_TRIES_PER_DAY: i64 = 20;
pub const CODES_PER_HOUR: i64 = 5;
pub const CODE_INTERVAL: i64 = MINUTE;
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

fn code_hash(keys: &Keys, email: &str, code: &str) -> [u8; 32] {
    crypto::mac(&keys.login_code, format!("{email}\n{code}").as_bytes())
}

/// A code ready to be emailed.
pub struct IssuedCode {
    pub code: String,
    pub expires_at: Timestamp,
}

/// Issues a new code for `email` (which must be normalised), replacing any
/// earlier one, unless the email has asked too often.
pub fn request_code(
    conn: &Connection,
    keys: &Keys,
    email: &str,
    now: Timestamp,
) -> Result<IssuedCode> {
    db::write(conn, |tx| {
        let (count, newest, oldest) = codes::sent_since(tx, email, now.plus(-HOUR))?;
        if let Some(newest) = newest {
            let wait = newest.secs() + CODE_INTERVAL - now.secs();
            if wait > 0 {
                return Err(too_many(
                    wait,
                    "A code was sent a moment ago. Check your inbox, or ask again in a minute.",
                ));
            }
        }
        if count >= CODES_PER_HOUR {
            let wait = oldest.map_or(HOUR, |t| t.secs() + HOUR - now.secs()).max(1);
            return Err(too_many(
                wait,
                "Too many codes were asked for this address. Try again later.",
            ));
        }
        let code = generate_code()?;
        let expires_at = now.plus(CODE_LIFETIME);
        codes::replace(tx, email, &code_hash(keys, email, &code), now, expires_at)?;
        Ok(IssuedCode { code, expires_at })
    })
}

fn too_many(retry_after: i64, message: &str) -> Error {
    Error::TooManyRequests {
        retry_after: retry_after.max(1),
        message: message.to_string(),
    }
}

#[derive(Debug, PartialEq)]
pub enum Verified {
    /// The code was right; `user` is the account, `created` when it is new.
    SignedIn {
        user: User,
        created: bool,
        session_token: String,
    },
    /// The code was wrong; this many tries remain on it.
    Wrong { tries_left: i64 },
    /// That wrong try was the last one: the code no longer works.
    Burnt,
    /// No code is waiting (none sent, expired, used or burnt).
    NoCode,
}

/// Checks a submitted code. The check and the spending of the code happen in
/// one `BEGIN IMMEDIATE` transaction, so one code makes one session even when
/// it is sent twice at once. `on_new_user` runs inside the same transaction
/// when the account is created here (referral linking uses it).
pub fn verify_code(
    conn: &Connection,
    keys: &Keys,
    email: &str,
    submitted: &str,
    now: Timestamp,
    on_new_user: impl FnOnce(&Transaction<'_>, &User) -> Result<()>,
) -> Result<Verified> {
    db::write(conn, |tx| {
        if codes::wrong_tries_since(tx, email, now.plus(-DAY))? >= WRONG_TRIES_PER_DAY {
            return Err(too_many(
                HOUR,
                "Too many wrong codes for this address today. Try again tomorrow.",
            ));
        }
        let Some(live) = codes::live(tx, email, now)? else {
            return Ok(Verified::NoCode);
        };
        let submitted = submitted.trim();
        let right = is_code_shaped(submitted)
            && crypto::secrets_equal(&code_hash(keys, email, submitted), &live.code_hash);
        if !right {
            let attempts = codes::record_wrong_try(tx, live.id, TRIES_PER_CODE, now)?;
            return Ok(if attempts >= TRIES_PER_CODE {
                Verified::Burnt
            } else {
                Verified::Wrong {
                    tries_left: TRIES_PER_CODE - attempts,
                }
            });
        }
        if !codes::spend(tx, live.id, now)? {
            return Ok(Verified::NoCode);
        }
        let (user, created) = match users::by_email(tx, email)? {
            Some(user) => (user, false),
            None => {
                let user = users::create(tx, email, now)?;
                on_new_user(tx, &user)?;
                (user, true)
            }
        };
        let session_token = start_session(tx, user.id, now)?;
        Ok(Verified::SignedIn {
            user,
            created,
            session_token,
        })
    })
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
    let Some(user_id) = sessions::user_for(conn, &crypto::sha256(token.as_bytes()), now)? else {
        return Ok(None);
    };
    users::by_id(conn, user_id)
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
    use crate::db::test_db;

    fn keys() -> Keys {
        Keys::derive(b"test-secret-test-secret-test-secret!")
    }

    const T0: Timestamp = Timestamp(1_800_000_000);

    fn no_hook(_: &Transaction<'_>, _: &User) -> Result<()> {
        Ok(())
    }

    fn verify(conn: &Connection, email: &str, code: &str, now: Timestamp) -> Verified {
        verify_code(conn, &keys(), email, code, now, no_hook).unwrap()
    }

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
    fn right_code_signs_in_once_and_creates_the_account() {
        let conn = test_db();
        let issued = request_code(&conn, &keys(), "a@b.co", T0).unwrap();
        assert_eq!(issued.expires_at, T0.plus(600));
        assert!(
            users::by_email(&conn, "a@b.co").unwrap().is_none(),
            "no account before verify"
        );
        let Verified::SignedIn {
            user,
            created,
            session_token,
        } = verify(&conn, "a@b.co", &issued.code, T0.plus(5))
        else {
            panic!("should sign in");
        };
        assert!(created);
        assert_eq!(user.email, "a@b.co");
        assert_eq!(
            session_user(&conn, &session_token, T0.plus(6)).unwrap(),
            Some(user.clone())
        );
        assert_eq!(
            verify(&conn, "a@b.co", &issued.code, T0.plus(7)),
            Verified::NoCode,
            "single use"
        );
    }

    #[test]
    fn code_expires_after_ten_minutes() {
        let conn = test_db();
        let issued = request_code(&conn, &keys(), "a@b.co", T0).unwrap();
        assert_eq!(
            verify(&conn, "a@b.co", &issued.code, T0.plus(600)),
            Verified::NoCode
        );
    }

    #[test]
    fn wrong_code_five_times_burns_it() {
        let conn = test_db();
        let issued = request_code(&conn, &keys(), "a@b.co", T0).unwrap();
        let wrong = if issued.code == "000000" {
            "111111"
        } else {
            "000000"
        };
        for left in (1..=4).rev() {
            assert_eq!(
                verify(&conn, "a@b.co", wrong, T0),
                Verified::Wrong { tries_left: left }
            );
        }
        assert_eq!(verify(&conn, "a@b.co", wrong, T0), Verified::Burnt);
        assert_eq!(verify(&conn, "a@b.co", &issued.code, T0), Verified::NoCode);
    }

    #[test]
    fn twenty_wrong_tries_a_day_whatever_the_codes() {
        let conn = test_db();
        let mut now = T0;
        for _ in 0..4 {
            request_code(&conn, &keys(), "a@b.co", now).unwrap();
            for _ in 0..5 {
                verify(&conn, "a@b.co", "abcdef", now);
            }
            now = now.plus(15 * MINUTE);
        }
        let issued = request_code(&conn, &keys(), "a@b.co", now).unwrap();
        let err = verify_code(&conn, &keys(), "a@b.co", &issued.code, now, no_hook).unwrap_err();
        assert_eq!(err.status(), 429);
        // a day later the count has run out
        let later = now.plus(DAY + HOUR);
        let issued = request_code(&conn, &keys(), "a@b.co", later).unwrap();
        assert!(matches!(
            verify(&conn, "a@b.co", &issued.code, later),
            Verified::SignedIn { .. }
        ));
    }

    #[test]
    fn a_new_code_replaces_the_old_one() {
        let conn = test_db();
        let first = request_code(&conn, &keys(), "a@b.co", T0).unwrap();
        let second = request_code(&conn, &keys(), "a@b.co", T0.plus(61)).unwrap();
        if first.code != second.code {
            assert!(matches!(
                verify(&conn, "a@b.co", &first.code, T0.plus(62)),
                Verified::Wrong { .. }
            ));
        }
        assert!(matches!(
            verify(&conn, "a@b.co", &second.code, T0.plus(63)),
            Verified::SignedIn { .. }
        ));
    }

    #[test]
    fn code_requests_are_limited_per_minute_and_hour() {
        let conn = test_db();
        request_code(&conn, &keys(), "a@b.co", T0).unwrap();
        let err = request_code(&conn, &keys(), "a@b.co", T0.plus(30))
            .err()
            .unwrap();
        assert!(
            matches!(
                err,
                Error::TooManyRequests {
                    retry_after: 30,
                    ..
                }
            ),
            "{err:?}"
        );
        for i in 1..5 {
            request_code(&conn, &keys(), "a@b.co", T0.plus(i * 61)).unwrap();
        }
        let err = request_code(&conn, &keys(), "a@b.co", T0.plus(5 * 61))
            .err()
            .unwrap();
        assert!(
            matches!(
                err,
                Error::TooManyRequests {
                    retry_after: 3295,
                    ..
                }
            ),
            "{err:?}"
        );
        request_code(&conn, &keys(), "a@b.co", T0.plus(HOUR + 1)).unwrap();
        request_code(&conn, &keys(), "other@b.co", T0.plus(30)).unwrap();
    }

    #[test]
    fn sessions_end_and_expire() {
        let conn = test_db();
        let issued = request_code(&conn, &keys(), "a@b.co", T0).unwrap();
        let Verified::SignedIn { session_token, .. } = verify(&conn, "a@b.co", &issued.code, T0)
        else {
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
