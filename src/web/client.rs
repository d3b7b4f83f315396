//! Who is on the other end of a request, as far as we can know: the peer,
//! or behind a trusted proxy (`APP_TRUSTED_PROXY`) the address the proxy
//! forwarded. An unusable `X-Forwarded-For` from the proxy makes the client
//! unknown, never the proxy itself: it gets no loopback privileges, and all
//! unknown clients share one rate-limit bucket.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAddr {
    /// Connected to us directly (the peer is not a trusted proxy).
    Direct(IpAddr),
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
            return ClientAddr::Direct(peer);
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
    /// a token. Through a proxy nobody is this machine.
    pub fn is_this_machine(&self) -> bool {
        matches!(self, ClientAddr::Direct(ip) if ip.is_loopback())
    }

    /// The key per-client limits count by: IPv4 addresses one by one, IPv6
    /// by their /64 (one household or server gets a whole /64), and every
    /// unknown client in one shared bucket.
    pub fn limit_key(&self) -> String {
        match self {
            ClientAddr::Direct(ip) | ClientAddr::Forwarded(ip) => match ip {
                IpAddr::V4(v4) => v4.to_string(),
                IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                    Some(v4) => v4.to_string(),
                    None => {
                        let s = v6.segments();
                        let net = Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
                        format!("{net}/64")
                    }
                },
            },
            ClientAddr::Unknown => "unknown".to_string(),
        }
    }
}

impl fmt::Display for ClientAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientAddr::Direct(ip) | ClientAddr::Forwarded(ip) => write!(f, "{ip}"),
            ClientAddr::Unknown => f.write_str("unknown"),
        }
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
            ClientAddr::Direct(other)
        );
        assert_eq!(ClientAddr::of(&[], proxy, &fwd), ClientAddr::Direct(proxy));
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
