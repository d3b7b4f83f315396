//! app patch: how a request's body is framed, decided once from its head and
//! strictly, so that this server and any proxy in front of it can never
//! disagree about where one request ends and the next begins (request
//! smuggling). Upstream takes the first of several `Content-Length`s, reads
//! `+5` as 5 and an invalid one as no body.

use crate::Header;

/// Why the server did not read a request's body. The request still reaches
/// the app (with an empty body) so that it can answer in its own words;
/// that answer carries `Connection: close` and the connection then closes,
/// since where the next request would start is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `Content-Length` is over the path's limit (413).
    TooLarge,
    /// `Transfer-Encoding` (chunked) instead of a `Content-Length` (411).
    LengthRequired,
    /// `Upgrade`, or `Connection: upgrade`: no protocol switches here.
    Upgrade,
    /// The body did not arrive within its deadline (408).
    TimedOut,
    /// The app's head hook declined it (`head::BodyPlan::Decline`), and says
    /// why in `Request::take_declined`.
    Declined,
}

/// What the head says about the body.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    /// Exactly this many bytes follow (0: no body).
    Length(usize),
    /// Answer without reading the body, then close.
    Refuse(Refusal),
}

/// A head that cannot be framed at all: answered by the server itself.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Malformed {
    /// Two `Content-Length`s (even equal ones) or an invalid one: 400.
    BadLength,
    /// An `Expect` other than `100-continue`: 417.
    Expectation,
}

/// The body's framing and whether the client waits for `100 Continue`.
pub(crate) fn decide(headers: &[Header], limit: usize) -> Result<(Framing, bool), Malformed> {
    let named = |name: &'static str| headers.iter().filter(move |h| h.field.equiv(name));
    let mut lengths = named("Content-Length");
    let length = match (lengths.next(), lengths.next()) {
        (None, _) => None,
        (Some(h), None) => Some(parse_length(h.value.as_str())?),
        (Some(_), Some(_)) => return Err(Malformed::BadLength),
    };
    let mut expects_continue = false;
    for h in named("Expect") {
        if h.value.as_str().eq_ignore_ascii_case("100-continue") {
            expects_continue = true;
        } else {
            return Err(Malformed::Expectation);
        }
    }
    let upgrade = named("Upgrade").next().is_some()
        || named("Connection").any(|h| {
            h.value
                .as_str()
                .split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
        });
    let framing = if upgrade {
        Framing::Refuse(Refusal::Upgrade)
    } else if named("Transfer-Encoding").next().is_some() {
        Framing::Refuse(Refusal::LengthRequired)
    } else {
        match length {
            Some(n) if n > limit => Framing::Refuse(Refusal::TooLarge),
            n => Framing::Length(n.unwrap_or(0)),
        }
    };
    Ok((framing, expects_continue))
}

/// 1*DIGIT and nothing else (no sign, no spaces, no list); a number too big
/// for `usize` is simply over every limit.
fn parse_length(value: &str) -> Result<usize, Malformed> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Malformed::BadLength);
    }
    Ok(value.parse().unwrap_or(usize::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(lines: &[&str]) -> Vec<Header> {
        lines.iter().map(|l| l.parse().unwrap()).collect()
    }

    fn framing(lines: &[&str]) -> Result<(Framing, bool), Malformed> {
        decide(&headers(lines), 100)
    }

    #[test]
    fn one_plain_length_frames_the_body() {
        assert_eq!(framing(&[]), Ok((Framing::Length(0), false)));
        assert_eq!(
            framing(&["Content-Length: 7"]),
            Ok((Framing::Length(7), false))
        );
        assert_eq!(
            framing(&["content-length: 100", "Expect: 100-Continue"]),
            Ok((Framing::Length(100), true))
        );
    }

    #[test]
    fn several_or_invalid_lengths_are_malformed() {
        for bad in ["+5", "-1", "5 5", "5,5", "0x5", "", "5.0"] {
            let line = format!("Content-Length: {bad}");
            assert_eq!(
                framing(&[line.as_str()]),
                Err(Malformed::BadLength),
                "{bad:?}"
            );
        }
        assert_eq!(
            framing(&["Content-Length: 5", "Content-Length: 5"]),
            Err(Malformed::BadLength)
        );
        assert_eq!(
            framing(&["Content-Length: 5", "Expect: 200-ok"]),
            Err(Malformed::Expectation)
        );
    }

    #[test]
    fn chunked_upgrades_and_long_bodies_are_refused_unread() {
        let refused = |r| Ok((Framing::Refuse(r), false));
        assert_eq!(
            framing(&["Transfer-Encoding: chunked", "Content-Length: 5"]),
            refused(Refusal::LengthRequired)
        );
        assert_eq!(
            framing(&["Connection: keep-alive, Upgrade"]),
            refused(Refusal::Upgrade)
        );
        assert_eq!(framing(&["Upgrade: h2c"]), refused(Refusal::Upgrade));
        assert_eq!(
            framing(&["Content-Length: 101"]),
            refused(Refusal::TooLarge)
        );
        assert_eq!(
            framing(&["Content-Length: 99999999999999999999999999"]),
            refused(Refusal::TooLarge)
        );
    }
}
