//! One-time sign-in codes: issuing them under the limits (per mailbox and
//! client address, so a stranger asking from their own address cannot keep
//! a person from signing in, under a mailbox-wide ceiling; and per browser:
//! each code belongs to the pending cookie's nonce that asked for it) and
//! checking them, where a wrong try costs only that browser's code and an
//! email has a daily ceiling of wrong tries.

use rusqlite::{Connection, Transaction};

use super::{generate_code, is_code_shaped, start_session};
use crate::clock::{Timestamp, DAY, HOUR, MINUTE};
use crate::crypto::{self, Keys};
use crate::db::{self, codes, users, users::User};
use crate::error::{Error, Result};
use crate::services::mailbox;

pub const CODE_LIFETIME: i64 = 10 * MINUTE;
/// Wrong tries one code takes before it burns.
pub const TRIES_PER_CODE: i64 = 5;
/// Wrong tries one email takes in a day, whoever makes them and however many
/// codes they ask for (NIST 800-63B's ceiling). With 10^6 codes this keeps a
/// guesser's odds at 100 in a million a day.
pub const WRONG_TRIES_PER_DAY: i64 = 100;
/// Codes one client (an IPv4 address, an IPv6 /64) may ask for in an hour.
pub const CODES_PER_HOUR_PER_CLIENT: usize = 30;
/// Codes one mailbox is sent in an hour at the asking of one client.
pub const CODES_PER_HOUR: i64 = 5;
/// Codes one mailbox is sent in an hour, whoever asks (SPEC §8).
pub const CODES_PER_HOUR_PER_MAILBOX: i64 = 20;
/// A new code for a mailbox, asked by one client, at most this often; a
/// burnt or expired code does not count.
pub const CODE_INTERVAL: i64 = MINUTE;

fn code_message(email: &str, code: &str) -> String {
    format!("{email}\n{code}")
}

fn code_hash(keys: &Keys, email: &str, code: &str) -> [u8; 32] {
    crypto::mac(&keys.login_code, code_message(email, code).as_bytes())
}

/// What the database keeps of the client address that asked for a code
/// (its limit key: an IPv4 address, an IPv6 /64, `unknown`): a keyed tag,
/// enough to count by and no address in the file or its backups. The
/// message has no newline, so it never reads as a code's.
fn client_tag(keys: &Keys, client: &str) -> String {
    let tag = crypto::mac(&keys.login_code, format!("client:{client}").as_bytes());
    crypto::hex(&tag[..16])
}

/// A code ready to be emailed.
pub struct IssuedCode {
    pub code: String,
    pub expires_at: Timestamp,
}

/// Issues a new code for `email` (which must be normalised) to the pending
/// cookie with `nonce`, asked for by `client` (its limit key), replacing that
/// cookie's earlier code (never another browser's), unless this client has
/// asked for this mailbox too often, or everyone together has.
pub fn request_code(
    conn: &Connection,
    keys: &Keys,
    email: &str,
    nonce: &str,
    client: &str,
    now: Timestamp,
) -> Result<IssuedCode> {
    let mailbox = mailbox::mailbox(email);
    let client = client_tag(keys, client);
    db::write(conn, |tx| {
        if let Some((wait, message)) = wait_for_new_code(tx, &mailbox, &client, now)? {
            return Err(too_many(wait, &message));
        }
        let code = generate_code()?;
        let expires_at = now.plus(CODE_LIFETIME);
        let owner = codes::Owner {
            email,
            mailbox: &mailbox,
            nonce,
            client: &client,
        };
        codes::replace(tx, &owner, &code_hash(keys, email, &code), now, expires_at)?;
        Ok(IssuedCode { code, expires_at })
    })
}

/// How long this client must wait for a new code for this mailbox, and a
/// sentence saying so: once a minute and five an hour per mailbox and
/// client, twenty an hour per mailbox from everyone together.
fn wait_for_new_code(
    conn: &Connection,
    mailbox: &str,
    client: &str,
    now: Timestamp,
) -> Result<Option<(i64, String)>> {
    if let Some(newest) = codes::newest_unburnt_sent(conn, mailbox, client, TRIES_PER_CODE, now)? {
        let wait = newest.secs() + CODE_INTERVAL - now.secs();
        if wait > 0 {
            return Ok(Some((
                wait,
                format!("A code was sent a moment ago. Check your inbox, or ask again in {wait} seconds."),
            )));
        }
    }
    let hour_ago = now.plus(-HOUR);
    let until_hour_after =
        |oldest: Option<Timestamp>| oldest.map_or(HOUR, |t| t.secs() + HOUR - now.secs()).max(1);
    let (count, oldest) = codes::sent_since(conn, mailbox, Some(client), hour_ago)?;
    if count >= CODES_PER_HOUR {
        return Ok(Some((
            until_hour_after(oldest),
            "Too many codes were asked for this address. Try again later.".to_string(),
        )));
    }
    let (count, oldest) = codes::sent_since(conn, mailbox, None, hour_ago)?;
    if count >= CODES_PER_HOUR_PER_MAILBOX {
        return Ok(Some((
            until_hour_after(oldest),
            "This address was sent too many codes in the last hour. Try again later.".to_string(),
        )));
    }
    Ok(None)
}

/// What the verify page tells the person: when their code expires (if it
/// still works) and how long until they may ask for a new one.
#[derive(Debug, Default, PartialEq)]
pub struct CodeStatus {
    pub expires_at: Option<Timestamp>,
    pub wait_for_new: Option<i64>,
}

/// The status of the code `client` (its limit key) waits for.
pub fn code_status(
    conn: &Connection,
    keys: &Keys,
    email: &str,
    nonce: &str,
    client: &str,
    now: Timestamp,
) -> Result<CodeStatus> {
    let mailbox = mailbox::mailbox(email);
    let client = client_tag(keys, client);
    Ok(CodeStatus {
        expires_at: codes::live(conn, email, nonce, now)?.map(|c| c.expires_at),
        wait_for_new: wait_for_new_code(conn, &mailbox, &client, now)?.map(|(wait, _)| wait),
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
    /// No code is waiting for this browser (none sent, expired, used or burnt).
    NoCode,
    /// The entry is not six ASCII digits; no try was used.
    Malformed,
}

/// Checks a code submitted from the pending cookie with `nonce`: only that
/// cookie's own code can match or be burnt. An entry that is not six digits
/// uses no try. The check and the spending of the code happen in
/// one `BEGIN IMMEDIATE` transaction, so one code makes one session even when
/// it is sent twice at once. `on_new_user` runs inside the same transaction
/// when the account is created here (referral linking uses it).
pub fn verify_code(
    conn: &Connection,
    keys: &Keys,
    email: &str,
    nonce: &str,
    submitted: &str,
    now: Timestamp,
    on_new_user: impl FnOnce(&Transaction<'_>, &User) -> Result<()>,
) -> Result<Verified> {
    let submitted = submitted.trim();
    if !is_code_shaped(submitted) {
        return Ok(Verified::Malformed);
    }
    db::write(conn, |tx| {
        if codes::wrong_tries_since(tx, email, now.plus(-DAY))? >= WRONG_TRIES_PER_DAY {
            return Err(too_many(
                HOUR,
                "Too many wrong codes for this address today. Try again tomorrow.",
            ));
        }
        let Some(live) = codes::live(tx, email, nonce, now)? else {
            return Ok(Verified::NoCode);
        };
        let right = crypto::mac_verify(
            &keys.login_code,
            code_message(email, submitted).as_bytes(),
            &live.code_hash,
        );
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::test_db;
    use crate::services::auth::session_user;

    fn keys() -> Keys {
        Keys::derive(b"test-secret-test-secret-test-secret!")
    }

    const T0: Timestamp = Timestamp(1_800_000_000);

    fn no_hook(_: &Transaction<'_>, _: &User) -> Result<()> {
        Ok(())
    }

    const N1: &str = "nonce-of-the-owner";
    const N2: &str = "nonce-of-a-stranger";

    /// The client address most tests ask from.
    const HOME: &str = "198.51.100.1";

    fn ask(conn: &Connection, email: &str, nonce: &str, now: Timestamp) -> Result<IssuedCode> {
        ask_from(conn, email, nonce, HOME, now)
    }

    fn ask_from(
        conn: &Connection,
        email: &str,
        nonce: &str,
        client: &str,
        now: Timestamp,
    ) -> Result<IssuedCode> {
        request_code(conn, &keys(), email, nonce, client, now)
    }

    fn status(conn: &Connection, email: &str, nonce: &str, now: Timestamp) -> CodeStatus {
        code_status(conn, &keys(), email, nonce, HOME, now).unwrap()
    }

    fn verify_as(
        conn: &Connection,
        email: &str,
        nonce: &str,
        code: &str,
        now: Timestamp,
    ) -> Verified {
        verify_code(conn, &keys(), email, nonce, code, now, no_hook).unwrap()
    }

    fn verify(conn: &Connection, email: &str, code: &str, now: Timestamp) -> Verified {
        verify_as(conn, email, N1, code, now)
    }

    fn wrong_for(code: &str) -> &'static str {
        if code == "000000" {
            "111111"
        } else {
            "000000"
        }
    }

    #[test]
    fn right_code_signs_in_once_and_creates_the_account() {
        let conn = test_db();
        let issued = ask(&conn, "a@b.co", N1, T0).unwrap();
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
        let issued = ask(&conn, "a@b.co", N1, T0).unwrap();
        assert_eq!(
            verify(&conn, "a@b.co", &issued.code, T0.plus(600)),
            Verified::NoCode
        );
    }

    #[test]
    fn wrong_code_five_times_burns_it() {
        let conn = test_db();
        let issued = ask(&conn, "a@b.co", N1, T0).unwrap();
        let wrong = wrong_for(&issued.code);
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
    fn a_hundred_wrong_tries_a_day_whatever_the_codes() {
        let conn = test_db();
        let mut now = T0;
        for _ in 0..20 {
            let issued = ask(&conn, "a@b.co", N1, now).unwrap();
            for _ in 0..5 {
                verify(&conn, "a@b.co", wrong_for(&issued.code), now);
            }
            now = now.plus(15 * MINUTE);
        }
        let issued = ask(&conn, "a@b.co", N1, now).unwrap();
        let err =
            verify_code(&conn, &keys(), "a@b.co", N1, &issued.code, now, no_hook).unwrap_err();
        assert_eq!(err.status(), 429);
        // a day later the count has run out
        let later = now.plus(DAY + HOUR);
        let issued = ask(&conn, "a@b.co", N1, later).unwrap();
        assert!(matches!(
            verify(&conn, "a@b.co", &issued.code, later),
            Verified::SignedIn { .. }
        ));
    }

    #[test]
    fn entries_that_are_not_six_digits_use_no_try() {
        let conn = test_db();
        let issued = ask(&conn, "a@b.co", N1, T0).unwrap();
        for junk in ["12a", "", "1234567", "１２３４５６", "12 345"] {
            assert_eq!(verify(&conn, "a@b.co", junk, T0), Verified::Malformed);
        }
        assert_eq!(
            verify(&conn, "a@b.co", wrong_for(&issued.code), T0),
            Verified::Wrong { tries_left: 4 }
        );
    }

    #[test]
    fn a_strangers_wrong_tries_burn_only_the_strangers_code() {
        let conn = test_db();
        let owners = ask(&conn, "a@b.co", N1, T0).unwrap();
        // the stranger asks for the same email from another browser
        let strangers = ask(&conn, "a@b.co", N2, T0.plus(61)).unwrap();
        for _ in 0..5 {
            verify_as(&conn, "a@b.co", N2, wrong_for(&strangers.code), T0.plus(62));
        }
        // the stranger cannot spend the owner's code either
        if owners.code != strangers.code {
            assert_eq!(
                verify_as(&conn, "a@b.co", N2, &owners.code, T0.plus(63)),
                Verified::NoCode
            );
        }
        assert!(matches!(
            verify(&conn, "a@b.co", &owners.code, T0.plus(64)),
            Verified::SignedIn { .. }
        ));
    }

    #[test]
    fn a_burnt_code_does_not_hold_back_a_new_one() {
        let conn = test_db();
        let issued = ask(&conn, "a@b.co", N1, T0).unwrap();
        for _ in 0..5 {
            verify(&conn, "a@b.co", wrong_for(&issued.code), T0.plus(5));
        }
        let status = status(&conn, "a@b.co", N1, T0.plus(6));
        assert_eq!(status, CodeStatus::default(), "burnt: no expiry, no wait");
        let again = ask(&conn, "a@b.co", N1, T0.plus(10)).unwrap();
        assert!(matches!(
            verify(&conn, "a@b.co", &again.code, T0.plus(11)),
            Verified::SignedIn { .. }
        ));
    }

    #[test]
    fn code_limits_count_per_mailbox() {
        let conn = test_db();
        ask(&conn, "a+one@b.co", N1, T0).unwrap();
        let err = ask(&conn, "a+two@b.co", N2, T0.plus(5)).err().unwrap();
        assert_eq!(err.status(), 429, "a +tag is the same mailbox");
        let err = ask(&conn, "a@b.co", N2, T0.plus(5)).err().unwrap();
        assert_eq!(err.status(), 429);
        ask(&conn, "j.doe@gmail.com", N1, T0).unwrap();
        let err = ask(&conn, "jdoe+x@googlemail.com", N2, T0.plus(5))
            .err()
            .unwrap();
        assert_eq!(
            err.status(),
            429,
            "gmail dots and googlemail are one mailbox"
        );
        let status = status(&conn, "a+one@b.co", N1, T0.plus(20));
        assert_eq!(status.expires_at, Some(T0.plus(CODE_LIFETIME)));
        assert_eq!(status.wait_for_new, Some(40));
    }

    #[test]
    fn a_new_code_replaces_the_old_one_of_the_same_browser() {
        let conn = test_db();
        let first = ask(&conn, "a@b.co", N1, T0).unwrap();
        let second = ask(&conn, "a@b.co", N1, T0.plus(61)).unwrap();
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
        ask(&conn, "a@b.co", N1, T0).unwrap();
        let err = ask(&conn, "a@b.co", N1, T0.plus(30)).err().unwrap();
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
            ask(&conn, "a@b.co", N1, T0.plus(i * 61)).unwrap();
        }
        let err = ask(&conn, "a@b.co", N1, T0.plus(5 * 61)).err().unwrap();
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
        ask(&conn, "a@b.co", N1, T0.plus(HOUR + 1)).unwrap();
        ask(&conn, "other@b.co", N1, T0.plus(30)).unwrap();
    }

    #[test]
    fn a_strangers_requests_from_elsewhere_do_not_stop_the_owners() {
        let conn = test_db();
        let stranger = "203.0.113.66";
        for i in 0..5 {
            ask_from(&conn, "a@b.co", N2, stranger, T0.plus(i * 61)).unwrap();
        }
        let refused = ask_from(&conn, "a@b.co", N2, stranger, T0.plus(5 * 61));
        assert_eq!(refused.err().map(|e| e.status()), Some(429));
        // the owner, at home, is neither waiting a minute nor out of codes
        assert_eq!(
            status(&conn, "a@b.co", N1, T0.plus(5 * 61)).wait_for_new,
            None
        );
        let owners = ask(&conn, "a@b.co", N1, T0.plus(5 * 61)).unwrap();
        assert!(matches!(
            verify(&conn, "a@b.co", &owners.code, T0.plus(5 * 61 + 1)),
            Verified::SignedIn { .. }
        ));
    }

    #[test]
    fn a_mailbox_is_sent_at_most_twenty_codes_an_hour_whoever_asks() {
        let conn = test_db();
        for i in 0..20 {
            let client = format!("192.0.2.{i}");
            ask_from(&conn, "a+x@b.co", N2, &client, T0.plus(i)).unwrap();
        }
        let err = ask_from(&conn, "a@b.co", N1, "198.51.100.200", T0.plus(30))
            .err()
            .unwrap();
        assert!(
            matches!(
                err,
                Error::TooManyRequests {
                    retry_after: 3570,
                    ..
                }
            ),
            "{err:?}"
        );
        // an hour after the first code, one more may go, and no second
        let later = T0.plus(HOUR);
        ask_from(&conn, "a@b.co", N1, "198.51.100.200", later).unwrap();
        let err = ask_from(&conn, "a@b.co", N1, "198.51.100.201", later)
            .err()
            .unwrap();
        assert_eq!(err.status(), 429);
    }

    #[test]
    fn the_database_keeps_a_tag_of_the_client_not_its_address() {
        let conn = test_db();
        ask_from(&conn, "a@b.co", N1, "203.0.113.66", T0).unwrap();
        let stored: String = conn
            .query_row("SELECT client FROM login_codes", [], |r| r.get(0))
            .unwrap();
        assert!(!stored.contains("203.0.113"), "{stored}");
        assert_eq!(stored, client_tag(&keys(), "203.0.113.66"));
        assert_ne!(stored, client_tag(&keys(), "203.0.113.67"));
    }
}
