//! Referral codes and invite links: who invited whom, and the counts the
//! settings page shows. Rewards themselves are applied by billing.

use std::cell::Cell;

use rusqlite::{Connection, Transaction};

use crate::clock::Timestamp;
use crate::crypto::{self, Keys};
use crate::db::{self, referrals, users::User};
use crate::error::{Error, Result};
use crate::log;
use crate::services::mailbox;

/// No 0/O/1/I/L: codes are read aloud and typed from screenshots.
pub const ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
pub const CODE_LEN: usize = 8;
/// How long a referral reward runs once credited.
pub const REWARD_MONTHS: i64 = 3;
const ASSIGN_ATTEMPTS: usize = 16;

/// Eight characters of the alphabet from the OS random source.
pub fn generate_code() -> Result<String> {
    (0..CODE_LEN)
        .map(|_| Ok(ALPHABET[crypto::random_below(ALPHABET.len() as u32)? as usize] as char))
        .collect()
}

/// Uppercases, drops every character outside the alphabet, and keeps the
/// result only if exactly eight characters are left.
pub fn normalise_code(raw: &str) -> Option<String> {
    if raw.len() > 256 {
        return None;
    }
    let code: String = raw
        .chars()
        .map(|c| c.to_ascii_uppercase())
        .filter(|c| c.is_ascii() && ALPHABET.contains(&(*c as u8)))
        .collect();
    (code.len() == CODE_LEN).then_some(code)
}

/// The user's code, assigning one if they have none yet: at sign-up and
/// sign-in (POST /verify), never on a GET, so every GET is read-only (the
/// step a read replica needs, SPEC §11). An account from before referrals
/// gets its code at its next sign-in.
pub fn assign_code_if_missing(conn: &Connection, user_id: i64) -> Result<String> {
    assign_code_with(conn, user_id, generate_code)
}

/// As [`assign_code_if_missing`], with the generator injected so tests can
/// force collisions. A taken code is retried with a fresh one.
pub fn assign_code_with(
    conn: &Connection,
    user_id: i64,
    generate: impl FnMut() -> Result<String>,
) -> Result<String> {
    if let Some(code) = referrals::code_of(conn, user_id)? {
        return Ok(code);
    }
    db::write(conn, |tx| give_code_with(tx, user_id, generate))
}

/// The user's code, assigned inside the caller's transaction if missing
/// (the one that creates the account, at sign-up).
pub fn give_code(tx: &Transaction<'_>, user_id: i64) -> Result<String> {
    give_code_with(tx, user_id, generate_code)
}

fn give_code_with(
    tx: &Transaction<'_>,
    user_id: i64,
    mut generate: impl FnMut() -> Result<String>,
) -> Result<String> {
    if let Some(existing) = referrals::code_of(tx, user_id)? {
        return Ok(existing); // another request got there first
    }
    for _ in 0..ASSIGN_ATTEMPTS {
        let candidate = generate()?;
        // A taken code fails only its statement; the transaction goes on.
        if referrals::try_set_code(tx, user_id, &candidate)? {
            log::event("referral.code_assigned", &[("user_id", &user_id)]);
            return Ok(candidate);
        }
    }
    Err(Error::Internal(
        "no free referral code after many tries".into(),
    ))
}

/// The user who owns an inbound code (normalised first), if any.
pub fn lookup_referrer(conn: &Connection, raw_code: &str) -> Result<Option<(i64, String)>> {
    match normalise_code(raw_code) {
        Some(code) => referrals::owner_of(conn, &code),
        None => Ok(None),
    }
}

/// The normalised form of an inbound code, if it belongs to someone: what
/// the invited banner shows and the pending cookie carries.
pub fn invite_code(conn: &Connection, raw_code: &str) -> Result<Option<String>> {
    match normalise_code(raw_code) {
        Some(code) if referrals::owner_of(conn, &code)?.is_some() => Ok(Some(code)),
        _ => Ok(None),
    }
}

/// Whether two emails reach the same person: case, `+tags`, and for Gmail
/// the dots in the local part and the googlemail.com alias do not matter.
pub fn same_person(a: &str, b: &str) -> bool {
    canonical_mailbox(a) == canonical_mailbox(b)
}

fn canonical_mailbox(email: &str) -> String {
    let email = email.trim().to_ascii_lowercase();
    let (local, domain) = email.rsplit_once('@').unwrap_or((&email, ""));
    let local = local.split('+').next().unwrap_or(local);
    match domain {
        "gmail.com" | "googlemail.com" => format!("{}@gmail.com", local.replace('.', "")),
        _ => format!("{local}@{domain}"),
    }
}

/// The keyed hash of an email's mailbox (as the sign-in limits normalise
/// it): what a referral keeps so the mailbox is referred once, ever.
pub fn mailbox_hash(keys: &Keys, email: &str) -> String {
    let mailbox = mailbox::mailbox(&email.trim().to_ascii_lowercase());
    crypto::hex(&crypto::mac(&keys.referred_mailbox, mailbox.as_bytes()))
}

/// Links a just-created account to the owner of `code`, inside the
/// transaction that creates the account. Unknown codes, self-referral and a
/// mailbox referred before (an account deleted and made again) are ignored
/// silently. Returns the referrer's id when a link was made.
pub fn link_new_user(
    tx: &Transaction<'_>,
    keys: &Keys,
    new_user: &User,
    code: &str,
    now: Timestamp,
) -> Result<Option<i64>> {
    let Some((referrer_id, referrer_email)) = lookup_referrer(tx, code)? else {
        return Ok(None);
    };
    if referrer_id == new_user.id || same_person(&referrer_email, &new_user.email) {
        return Ok(None);
    }
    let hash = mailbox_hash(keys, &new_user.email);
    if referrals::mailbox_referred(tx, &hash)? {
        log::event(
            "referral.mailbox_referred_before",
            &[("user_id", &new_user.id)],
        );
        return Ok(None);
    }
    if !referrals::insert(tx, referrer_id, new_user.id, now)? {
        return Ok(None);
    }
    referrals::set_mailbox_hash(tx, new_user.id, &hash)?;
    Ok(Some(referrer_id))
}

/// A hook for `auth::verify_code` that gives the new account its referral
/// code and links it when it came with an inviter's code, remembering the referrer so the caller can log it after the
/// transaction commits.
pub fn linker<'a>(
    code: Option<&'a str>,
    keys: &'a Keys,
    linked: &'a Cell<Option<i64>>,
    now: Timestamp,
) -> impl FnOnce(&Transaction<'_>, &User) -> Result<()> + 'a {
    move |tx, user| {
        // Every account has its code from sign-up on (SPEC §11).
        give_code(tx, user.id)?;
        if let Some(code) = code {
            linked.set(link_new_user(tx, keys, user, code, now)?);
        }
        Ok(())
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReferralCounts {
    pub pending: i64,
    pub converted: i64,
    pub active_credits: i64,
}

/// Pending = referrals not converted; Converted = `converted_at` set; Active
/// credits = rewards of this user's, as referrer or referred, banked or
/// applied and still running (SPEC §7).
pub fn stats(conn: &Connection, user_id: i64, now: Timestamp) -> Result<ReferralCounts> {
    Ok(overview(conn, user_id, now)?.1)
}

/// The user's code, if one was assigned yet, and their [`ReferralCounts`], read in
/// one statement (the settings page and `/api/me` ask on every view).
pub fn overview(
    conn: &Connection,
    user_id: i64,
    now: Timestamp,
) -> Result<(Option<String>, ReferralCounts)> {
    let o = referrals::overview(conn, user_id, now)?.unwrap_or_default();
    Ok((
        o.code,
        ReferralCounts {
            pending: o.pending,
            converted: o.converted,
            active_credits: o.active_credits,
        },
    ))
}

/// The invite link for a code.
pub fn invite_url(base_url: &str, code: &str) -> String {
    format!("{base_url}/login?ref={code}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{test_db, users};

    const NOW: Timestamp = Timestamp(1_800_000_000);

    fn user(conn: &Connection, email: &str) -> User {
        users::create(conn, email, NOW).unwrap()
    }

    #[test]
    fn generated_codes_use_the_alphabet_and_length() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..5000 {
            let code = generate_code().unwrap();
            assert_eq!(code.len(), CODE_LEN);
            assert!(code.bytes().all(|b| ALPHABET.contains(&b)), "{code}");
            seen.extend(code.bytes());
        }
        assert_eq!(
            seen.len(),
            ALPHABET.len(),
            "every character of the alphabet turns up"
        );
        for banned in b"0O1IL" {
            assert!(!seen.contains(banned));
        }
    }

    #[test]
    fn normalisation_table() {
        let cases: &[(&str, Option<&str>)] = &[
            ("ABCDEFGH", Some("ABCDEFGH")),
            ("abcdefgh", Some("ABCDEFGH")),
            ("  abcd efgh ", Some("ABCDEFGH")),
            ("ABCD-EFGH", Some("ABCDEFGH")),
            ("abcd_efgh\n", Some("ABCDEFGH")),
            ("ABC0DEFGH", Some("ABCDEFGH")), // zero is not in the alphabet: dropped
            ("ABCO1ILDEFGH", Some("ABCDEFGH")), // look-alikes dropped
            ("ABCDEFG", None),               // too short
            ("ABCDEFGHJ", None),             // too long
            ("", None),
            ("ÄBCDEFGHJ", Some("BCDEFGHJ")),  // non-ASCII dropped
            ("ＡBCDEFGHJ", Some("BCDEFGHJ")), // full-width look-alike dropped
        ];
        for (raw, want) in cases {
            assert_eq!(normalise_code(raw).as_deref(), *want, "{raw:?}");
        }
        assert_eq!(normalise_code(&"A".repeat(10_000)), None);
    }

    #[test]
    fn code_is_assigned_lazily_and_stays() {
        let conn = test_db();
        let u = user(&conn, "a@b.co");
        assert_eq!(referrals::code_of(&conn, u.id).unwrap(), None);
        let code = assign_code_if_missing(&conn, u.id).unwrap();
        assert_eq!(normalise_code(&code).as_deref(), Some(code.as_str()));
        assert_eq!(assign_code_if_missing(&conn, u.id).unwrap(), code);
    }

    #[test]
    fn collisions_are_retried() {
        let conn = test_db();
        let a = user(&conn, "a@b.co");
        let b = user(&conn, "b@b.co");
        assign_code_with(&conn, a.id, || Ok("AAAAAAAA".into())).unwrap();
        let mut offered = vec!["BBBBBBBB", "AAAAAAAA", "AAAAAAAA"];
        let code =
            assign_code_with(&conn, b.id, || Ok(offered.pop().unwrap().to_string())).unwrap();
        assert_eq!(code, "BBBBBBBB");
        assert!(offered.is_empty(), "two collisions, then success");
        let c = user(&conn, "c@b.co");
        assert!(
            assign_code_with(&conn, c.id, || Ok("AAAAAAAA".into())).is_err(),
            "gives up eventually"
        );
    }

    #[test]
    fn same_person_rules() {
        assert!(same_person("Alice@Example.com", "alice@example.com"));
        assert!(same_person("alice+x@example.com", "alice@example.com"));
        assert!(same_person(
            "a.l.i.c.e@gmail.com",
            "alice+ref@googlemail.com"
        ));
        assert!(!same_person("a.lice@example.com", "alice@example.com"));
        assert!(!same_person("alice@example.com", "bob@example.com"));
    }

    #[test]
    fn a_mailbox_is_referred_once_even_after_its_account_is_deleted() {
        let conn = test_db();
        let keys = Keys::derive(&[3u8; 32]);
        let alice = user(&conn, "alice@b.co");
        let code = assign_code_if_missing(&conn, alice.id).unwrap();
        let link = |email: &str| {
            let tx = Transaction::new_unchecked(&conn, rusqlite::TransactionBehavior::Immediate)
                .unwrap();
            let new = users::create(&tx, email, NOW).unwrap();
            let linked = link_new_user(&tx, &keys, &new, &code, NOW).unwrap();
            tx.commit().unwrap();
            (new, linked)
        };
        let (bob, linked) = link("j.bob+x@gmail.com");
        assert_eq!(linked, Some(alice.id));
        crate::db::leaving::erase(&conn, bob.id, &bob.email).unwrap();
        let hashes: i64 = conn
            .query_row(
                "SELECT count(*) FROM referrals WHERE mailbox_hash IS NOT NULL
                 AND mailbox_hash NOT LIKE '%bob%'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(hashes, 1, "a keyed hash, never the address");
        assert_eq!(link("jbob@gmail.com").1, None, "deleted, same mailbox");
        assert_eq!(link("carol@b.co").1, Some(alice.id));
        let other = Keys::derive(&[4u8; 32]);
        assert_ne!(
            mailbox_hash(&keys, "jbob@gmail.com"),
            mailbox_hash(&other, "jbob@gmail.com"),
            "keyed by the secret"
        );
    }

    #[test]
    fn linking_once_and_never_to_yourself() {
        let conn = test_db();
        let keys = Keys::derive(&[3u8; 32]);
        let alice = user(&conn, "alice@gmail.com");
        let code = assign_code_if_missing(&conn, alice.id).unwrap();
        let bob = user(&conn, "bob@b.co");
        let tx =
            Transaction::new_unchecked(&conn, rusqlite::TransactionBehavior::Immediate).unwrap();
        assert_eq!(
            link_new_user(&tx, &keys, &bob, &code.to_lowercase(), NOW).unwrap(),
            Some(alice.id)
        );
        assert_eq!(
            link_new_user(&tx, &keys, &bob, &code, NOW).unwrap(),
            None,
            "referred once"
        );
        assert_eq!(
            link_new_user(&tx, &keys, &alice, &code, NOW).unwrap(),
            None,
            "self"
        );
        let alias = user(&tx, "a.lice+2@googlemail.com");
        assert_eq!(
            link_new_user(&tx, &keys, &alias, &code, NOW).unwrap(),
            None,
            "same person"
        );
        let carol = user(&tx, "carol@b.co");
        assert_eq!(
            link_new_user(&tx, &keys, &carol, "ZZZZZZZZ", NOW).unwrap(),
            None,
            "unknown"
        );
        tx.commit().unwrap();
        assert_eq!(
            stats(&conn, alice.id, NOW).unwrap(),
            ReferralCounts {
                pending: 1,
                converted: 0,
                active_credits: 0
            }
        );
        assert_eq!(
            stats(&conn, bob.id, NOW).unwrap(),
            ReferralCounts::default()
        );
    }

    #[test]
    fn stats_follow_conversion_and_rewards() {
        let conn = test_db();
        let alice = user(&conn, "alice@b.co");
        for i in 0..3 {
            let u = user(&conn, &format!("u{i}@b.co"));
            referrals::insert(&conn, alice.id, u.id, NOW).unwrap();
        }
        // What billing does when u0 (user 2) first pays: converted, two rewards.
        conn.execute("UPDATE referrals SET converted_at = ?1 WHERE id = 1", [NOW])
            .unwrap();
        let reward =
            "INSERT INTO referral_rewards (referral_id, user_id, role, state, created_at, ends_at)
                      VALUES (1, ?1, ?2, ?3, ?4, ?5)";
        let ends = NOW.add_months(REWARD_MONTHS);
        conn.execute(
            reward,
            rusqlite::params![alice.id, "referrer", "banked", NOW, None::<Timestamp>],
        )
        .unwrap();
        conn.execute(
            reward,
            rusqlite::params![2, "referred", "running", NOW, ends],
        )
        .unwrap();
        let s = stats(&conn, alice.id, NOW.plus(10)).unwrap();
        assert_eq!(
            s,
            ReferralCounts {
                pending: 2,
                converted: 1,
                active_credits: 1
            },
            "a banked reward counts"
        );
        assert_eq!(
            stats(&conn, 2, NOW.plus(10)).unwrap().active_credits,
            1,
            "the referred side's running reward counts too"
        );
        assert_eq!(
            stats(&conn, 2, ends.plus(1)).unwrap().active_credits,
            0,
            "three months have run"
        );
        conn.execute(
            "UPDATE referral_rewards SET state = 'ended' WHERE user_id = ?1",
            [alice.id],
        )
        .unwrap();
        assert_eq!(
            stats(&conn, alice.id, NOW).unwrap().active_credits,
            0,
            "an ended one does not"
        );
    }
}
