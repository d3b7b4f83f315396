//! `Paddle-Signature` verification (SPEC §7): HMAC-SHA256 under the webhook
//! secret over `ts + ":" + raw body`, any `h1` may match under any of the
//! configured secrets (two while one is rotated), compared in constant
//! time, and the `ts` within five minutes of now.

use crate::clock::Timestamp;
use crate::crypto;

/// How far `ts` may be from now, either way.
pub const TOLERANCE_SECS: i64 = 300;

/// Why a signature was refused (for the log; the caller sees one 401).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    Missing,
    Malformed,
    Stale,
    Mismatch,
}

impl Refusal {
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::Missing => "missing",
            Refusal::Malformed => "malformed",
            Refusal::Stale => "stale",
            Refusal::Mismatch => "mismatch",
        }
    }
}

/// Checks the header against the exact bytes received, under each secret.
pub fn verify(
    secrets: &[String],
    header: Option<&str>,
    body: &[u8],
    now: Timestamp,
) -> Result<(), Refusal> {
    let header = header
        .filter(|h| !h.trim().is_empty())
        .ok_or(Refusal::Missing)?;
    let (ts, tags) = parse(header).ok_or(Refusal::Malformed)?;
    if (now.secs() - ts).abs() > TOLERANCE_SECS {
        return Err(Refusal::Stale);
    }
    let mut message = format!("{ts}:").into_bytes();
    message.extend_from_slice(body);
    // Every tag is compared under every secret, so the time taken says
    // nothing about which matched.
    let matched = secrets.iter().fold(false, |any, secret| {
        let expected = crypto::mac(secret.as_bytes(), &message);
        tags.iter()
            .fold(any, |any, tag| crypto::secrets_equal(&expected, tag) | any)
    });
    if matched {
        Ok(())
    } else {
        Err(Refusal::Mismatch)
    }
}

/// The checks that need no body: the header is there, well-formed and its
/// `ts` fresh. The server refuses a request that fails them before reading
/// its body; `verify` then checks the tags against the body.
pub fn well_formed_and_fresh(header: Option<&str>, now: Timestamp) -> Result<(), Refusal> {
    let header = header
        .filter(|h| !h.trim().is_empty())
        .ok_or(Refusal::Missing)?;
    let (ts, _) = parse(header).ok_or(Refusal::Malformed)?;
    if (now.secs() - ts).abs() > TOLERANCE_SECS {
        return Err(Refusal::Stale);
    }
    Ok(())
}

/// `ts=UNIX;h1=HEX[;h1=HEX…]` → the timestamp and the decoded tags. Unknown
/// keys are skipped (Paddle may add schemes); one `ts` and at least one
/// 32-byte `h1` are required.
fn parse(header: &str) -> Option<(i64, Vec<[u8; 32]>)> {
    let mut ts = None;
    let mut tags = Vec::new();
    for part in header.split(';') {
        let (key, value) = part.trim().split_once('=')?;
        match key.trim() {
            "ts" if ts.is_none() => {
                let value = value.trim();
                if value.is_empty()
                    || value.len() > 12
                    || !value.bytes().all(|b| b.is_ascii_digit())
                {
                    return None;
                }
                ts = Some(value.parse().ok()?);
            }
            "ts" => return None,
            "h1" if tags.len() < 8 => tags.push(unhex32(value.trim())?),
            "h1" => return None,
            _ => {}
        }
    }
    Some((ts?, tags)).filter(|(_, tags)| !tags.is_empty())
}

fn unhex32(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in s.as_bytes().chunks(2).enumerate() {
        let hi = (pair[0] as char).to_digit(16)?;
        let lo = (pair[1] as char).to_digit(16)?;
        out[i] = (hi * 16 + lo) as u8;
    }
    Some(out)
}

/// The header Paddle would send for `body` at `ts` (tests, and the fixtures).
pub fn sign(secret: &str, ts: i64, body: &[u8]) -> String {
    let mut message = format!("{ts}:").into_bytes();
    message.extend_from_slice(body);
    format!(
        "ts={ts};h1={}",
        crypto::hex(&crypto::mac(secret.as_bytes(), &message))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "pdl_ntf_01hbpjmytsa32fhr36nqgc3kgb_WvRO0eL4Bj9rgYYIBZY6wZhG4EHy9jzh";
    const TS: i64 = 1696195954;
    const H1: &str = "d96299976a6eb066f484d7fde011ac56fc32b38fc9940bc419d6e537fdc6ef02";

    fn one(secret: &str) -> Vec<String> {
        vec![secret.to_string()]
    }

    #[test]
    fn a_signature_made_with_either_of_two_secrets_verifies() {
        let header = format!("ts={TS};h1={H1}");
        let now = Timestamp(TS);
        for secrets in [
            vec!["pdl_ntf_old".to_string(), SECRET.to_string()],
            vec![SECRET.to_string(), "pdl_ntf_new".to_string()],
        ] {
            assert_eq!(verify(&secrets, Some(&header), b"hello-world", now), Ok(()));
        }
        let neither = vec!["pdl_ntf_old".to_string(), "pdl_ntf_new".to_string()];
        assert_eq!(
            verify(&neither, Some(&header), b"hello-world", now),
            Err(Refusal::Mismatch)
        );
    }

    #[test]
    fn the_published_test_vector_verifies() {
        let header = format!("ts={TS};h1={H1}");
        assert_eq!(sign(SECRET, TS, b"hello-world"), header);
        assert_eq!(
            verify(&one(SECRET), Some(&header), b"hello-world", Timestamp(TS)),
            Ok(())
        );
    }

    #[test]
    fn any_h1_may_match_for_secret_rotation() {
        let old = "00".repeat(32);
        let header = format!("ts={TS};h1={old};h1={H1}");
        assert_eq!(
            verify(&one(SECRET), Some(&header), b"hello-world", Timestamp(TS)),
            Ok(())
        );
        let header = format!("ts={TS};h1={H1};h1={old}");
        assert_eq!(
            verify(&one(SECRET), Some(&header), b"hello-world", Timestamp(TS)),
            Ok(())
        );
    }

    #[test]
    fn wrong_body_secret_or_tag_is_a_mismatch() {
        let header = format!("ts={TS};h1={H1}");
        let now = Timestamp(TS);
        assert_eq!(
            verify(&one(SECRET), Some(&header), b"hello-world!", now),
            Err(Refusal::Mismatch)
        );
        assert_eq!(
            verify(&one("other"), Some(&header), b"hello-world", now),
            Err(Refusal::Mismatch)
        );
        let flipped = format!("ts={TS};h1={}0", &H1[..63]);
        assert_eq!(
            verify(&one(SECRET), Some(&flipped), b"hello-world", now),
            Err(Refusal::Mismatch)
        );
        let other_ts = format!("ts={};h1={H1}", TS + 1);
        assert_eq!(
            verify(&one(SECRET), Some(&other_ts), b"hello-world", now),
            Err(Refusal::Mismatch)
        );
    }

    #[test]
    fn stale_or_future_ts_is_refused_at_the_edge() {
        let header = format!("ts={TS};h1={H1}");
        for (offset, ok) in [(300, true), (-300, true), (301, false), (-301, false)] {
            let got = verify(
                &one(SECRET),
                Some(&header),
                b"hello-world",
                Timestamp(TS + offset),
            );
            assert_eq!(got.is_ok(), ok, "offset {offset}");
            if !ok {
                assert_eq!(got, Err(Refusal::Stale));
            }
        }
    }

    #[test]
    fn the_head_alone_is_checked_for_form_and_freshness() {
        let header = format!("ts={TS};h1={H1}");
        let now = Timestamp(TS);
        assert_eq!(well_formed_and_fresh(Some(&header), now), Ok(()));
        // a wrong tag passes here: only the body can tell
        let wrong = format!("ts={TS};h1={}", "00".repeat(32));
        assert_eq!(well_formed_and_fresh(Some(&wrong), now), Ok(()));
        assert_eq!(well_formed_and_fresh(None, now), Err(Refusal::Missing));
        assert_eq!(
            well_formed_and_fresh(Some("ts=1;h1=zz"), now),
            Err(Refusal::Malformed)
        );
        assert_eq!(
            well_formed_and_fresh(Some(&header), Timestamp(TS + 301)),
            Err(Refusal::Stale)
        );
    }

    #[test]
    fn missing_and_malformed_headers() {
        let now = Timestamp(TS);
        assert_eq!(verify(&one(SECRET), None, b"x", now), Err(Refusal::Missing));
        assert_eq!(
            verify(&one(SECRET), Some(" "), b"x", now),
            Err(Refusal::Missing)
        );
        for bad in [
            format!("h1={H1}"),
            format!("ts={TS}"),
            format!("ts=;h1={H1}"),
            format!("ts=-5;h1={H1}"),
            format!("ts=1e9;h1={H1}"),
            format!("ts={TS};h1={}", &H1[..62]),
            format!("ts={TS};h1={}zz", &H1[..62]),
            format!("ts={TS};ts={TS};h1={H1}"),
            format!("ts={TS},h1={H1}"),
            "garbage".to_string(),
        ] {
            assert_eq!(
                verify(&one(SECRET), Some(&bad), b"hello-world", now),
                Err(Refusal::Malformed),
                "{bad}"
            );
        }
    }
}
