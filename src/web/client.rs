//! Who is on the other end of a request, as far as we can know: the peer,
//! or behind a trusted proxy (`APP_TRUSTED_PROXY`) the address the proxy
//! forwarded. An unusable `X-Forwarded-For` from the proxy makes the client
//! unknown, never the proxy itself: it gets no loopback privileges, and all
//! unknown clients share one rate-limit bucket. A peer we do not trust that
//! sends `X-Forwarded-For` is likely a proxy someone forgot to name in
//! `APP_TRUSTED_PROXY`: it is counted as itself, never as this machine, and
//! the log says so once an hour (SPEC §8).

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use crate::clock::{Timestamp, HOUR};
use crate::log;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAddr {
    /// Connected to us directly (the peer is not a trusted proxy).
    Direct(IpAddr),
    /// Connected to us directly from a peer we do not trust that sent
    /// `X-Forwarded-For` anyway: an untrusted proxy, or someone pretending.
    /// Limits count the peer; it is never this machine.
    Relayed(IpAddr),
    /// Behind a trusted proxy, which named this address.
    Forwarded(IpAddr),
    /// Behind a trusted proxy whose `X-Forwarded-For` was missing or unusable.
    Unknown,
}

impl ClientAddr {
    /// The client of a connection from `peer`, given every `X-Forwarded-For`
    /// header of the request in order. Only the last header counts, and in it
    /// the rightmost address that is not itself a trusted proxy; anything
    /// other than a bare IP address there (`ip:port`, `[v6]`, junk, empty)
    /// makes the client unknown.
    pub fn of(trusted: &[IpAddr], peer: IpAddr, forwarded: &[&str]) -> ClientAddr {
        if !trusted.contains(&peer) {
            return match forwarded.is_empty() {
                true => ClientAddr::Direct(peer),
                false => ClientAddr::Relayed(peer),
            };
        }
        let Some(last) = forwarded.last() else {
            return ClientAddr::Unknown;
        };
        for hop in last.rsplit(',') {
            match hop.trim().parse::<IpAddr>() {
                Ok(ip) if trusted.contains(&ip) => continue,
                Ok(ip) => return ClientAddr::Forwarded(ip),
                Err(_) => return ClientAddr::Unknown,
            }
        }
        ClientAddr::Unknown
    }

    /// This machine, talking to us directly: what `/metrics` serves without
    /// a token. Through a proxy, trusted or not (a loopback peer that sends
    /// `X-Forwarded-For`), nobody is this machine.
    pub fn is_this_machine(&self) -> bool {
        matches!(self, ClientAddr::Direct(ip) if ip.is_loopback())
    }

    /// The key per-client limits count by: IPv4 addresses one by one, IPv6
    /// by their /64 (one household or server gets a whole /64), and every
    /// unknown client in one shared bucket.
    pub fn limit_key(&self) -> String {
        match self {
            ClientAddr::Direct(ip) | ClientAddr::Relayed(ip) | ClientAddr::Forwarded(ip) => {
                match ip {
                    IpAddr::V4(v4) => v4.to_string(),
                    IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                        Some(v4) => v4.to_string(),
                        None => {
                            let s = v6.segments();
                            let net = Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
                            format!("{net}/64")
                        }
                    },
                }
            }
            ClientAddr::Unknown => "unknown".to_string(),
        }
    }
}

impl fmt::Display for ClientAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientAddr::Direct(ip) | ClientAddr::Relayed(ip) | ClientAddr::Forwarded(ip) => {
                write!(f, "{ip}")
            }
            ClientAddr::Unknown => f.write_str("unknown"),
        }
    }
}

/// The warning that requests carry `X-Forwarded-For` while no proxy is
/// trusted: without `APP_TRUSTED_PROXY` every visitor behind the proxy
/// shares the proxy's rate limits. Logged at most once an hour, with how
/// many such requests came since the last line.
#[derive(Default)]
pub struct UntrustedProxyWarning {
    /// When the last line was written (0: never).
    last: AtomicI64,
    unlogged: AtomicU64,
}

/// At most one warning line per this many seconds.
pub const WARN_EVERY: i64 = HOUR;

impl UntrustedProxyWarning {
    /// Notes a request from `peer` that carried `X-Forwarded-For` while no
    /// proxy is trusted; true when this call wrote the line.
    pub fn note(&self, peer: IpAddr, now: Timestamp) -> bool {
        let seen = self.last.load(Ordering::Relaxed);
        let due = seen == 0 || now.secs() - seen >= WARN_EVERY;
        if !due
            || self
                .last
                .compare_exchange(seen, now.secs(), Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            self.unlogged.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        let requests = self.unlogged.swap(0, Ordering::Relaxed) + 1;
        log::event(
            "proxy.untrusted",
            &[
                ("peer", &peer),
                ("requests_since_last_line", &requests),
                ("message", &"Requests carry X-Forwarded-For but APP_TRUSTED_PROXY is unset: the forwarded address is ignored, every visitor behind the proxy shares its rate limits, and /metrics wants the admin token. Set APP_TRUSTED_PROXY to the proxy's address."),
            ],
        );
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_for_is_believed_only_from_a_trusted_proxy() {
        let proxy = ip("127.0.0.1");
        let other = ip("10.0.0.2");
        let fwd = ["1.2.3.4, 5.6.7.8"];
        assert_eq!(
            ClientAddr::of(&[proxy], proxy, &fwd),
            ClientAddr::Forwarded(ip("5.6.7.8"))
        );
        assert_eq!(
            ClientAddr::of(&[proxy], other, &fwd),
            ClientAddr::Relayed(other)
        );
        assert_eq!(ClientAddr::of(&[], proxy, &fwd), ClientAddr::Relayed(proxy));
        assert_eq!(ClientAddr::of(&[], proxy, &[]), ClientAddr::Direct(proxy));
    }

    #[test]
    fn a_loopback_peer_that_forwards_is_not_this_machine() {
        let lo = ip("127.0.0.1");
        let relayed = ClientAddr::of(&[], lo, &["203.0.113.9"]);
        assert!(!relayed.is_this_machine());
        assert_eq!(relayed.limit_key(), "127.0.0.1", "counted as the peer");
        assert!(ClientAddr::of(&[], lo, &[]).is_this_machine());
    }

    #[test]
    fn the_untrusted_proxy_warning_is_written_at_most_hourly() {
        let warning = UntrustedProxyWarning::default();
        let (peer, t) = (ip("127.0.0.1"), Timestamp(1_800_000_000));
        assert!(warning.note(peer, t));
        assert!(!warning.note(peer, t.plus(1)));
        assert!(!warning.note(peer, t.plus(HOUR - 1)));
        assert!(warning.note(peer, t.plus(HOUR)));
        assert_eq!(warning.unlogged.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn an_unusable_header_from_the_proxy_is_an_unknown_client() {
        let proxy = ip("127.0.0.1");
        for junk in [
            "junk",
            "",
            " ",
            "1.2.3.4:80",
            "[::1]",
            "[2001:db8::1]:443",
            "1.2.3.4,",
        ] {
            let client = ClientAddr::of(&[proxy], proxy, &[junk]);
            assert_eq!(client, ClientAddr::Unknown, "{junk:?}");
            assert!(!client.is_this_machine(), "{junk:?}");
        }
        let absent = ClientAddr::of(&[proxy], proxy, &[]);
        assert_eq!(absent, ClientAddr::Unknown);
        assert!(!absent.is_this_machine());
        assert_eq!(absent.limit_key(), "unknown");
    }

    #[test]
    fn the_last_header_and_its_last_untrusted_hop_count() {
        let proxies = [ip("127.0.0.1"), ip("10.0.0.9")];
        assert_eq!(
            ClientAddr::of(&proxies, proxies[0], &["9.9.9.9", "1.2.3.4"]),
            ClientAddr::Forwarded(ip("1.2.3.4"))
        );
        assert_eq!(
            ClientAddr::of(&proxies, proxies[0], &["1.2.3.4, 10.0.0.9"]),
            ClientAddr::Forwarded(ip("1.2.3.4"))
        );
        // a forwarded loopback address is not this machine
        let spoofed = ClientAddr::of(&proxies, proxies[0], &["::1"]);
        assert!(!spoofed.is_this_machine());
        assert!(ClientAddr::Direct(ip("::1")).is_this_machine());
    }

    #[test]
    fn ipv6_clients_share_a_limit_per_64() {
        let a = ClientAddr::Direct(ip("2001:db8:1:2:aaaa::1"));
        let b = ClientAddr::Direct(ip("2001:db8:1:2:bbbb::2"));
        let c = ClientAddr::Direct(ip("2001:db8:1:3::1"));
        assert_eq!(a.limit_key(), b.limit_key());
        assert_ne!(a.limit_key(), c.limit_key());
        assert_eq!(a.limit_key(), "2001:db8:1:2::/64");
        assert_eq!(ClientAddr::Direct(ip("1.2.3.4")).limit_key(), "1.2.3.4");
        assert_eq!(
            ClientAddr::Direct(ip("::ffff:1.2.3.4")).limit_key(),
            "1.2.3.4"
        );
    }
}
