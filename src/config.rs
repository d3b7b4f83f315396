//! Configuration: read once from the environment and flags, checked, then
//! passed down. A flag beats its variable.

use std::net::IpAddr;
use std::path::PathBuf;

use crate::error::{Error, Result};

pub mod market;
pub mod paddle;
pub use market::{quotes_from_env, QuotesConfig};
pub use paddle::PaddleConfig;

pub const DEFAULT_ADDR: &str = "127.0.0.1:8080";
pub const DEFAULT_WORKERS: usize = 8;
pub const DEFAULT_LLM_CONCURRENCY: usize = 4;
/// `APP_ADMIN_TOKEN` shorter than this stops the app at start.
pub const MIN_ADMIN_TOKEN_BYTES: usize = 32;
/// What the pages and the emails call the product; the binary stays `app`.
pub const PRODUCT: &str = "Folio";
/// `APP_MAX_CONNECTIONS` unset (the open-file limit may lower it further).
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// The forms `APP_SMTP_URL` takes, for messages that must say so.
pub const SMTP_URL_FORMS: &str = "smtp://host:25 (plain, a local relay), \
     smtp://user:pass@host:587?tls=required (STARTTLS; tls=opportunistic also works) \
     or smtps://user:pass@host:465 (implicit TLS)";

#[derive(Clone, Debug)]
pub struct Config {
    pub addr: String,
    /// Public URL without a trailing slash.
    pub base_url: String,
    /// The origins that are this site for the Origin check: the base URL's,
    /// and with no base URL given and a loopback listen address, the same
    /// port on `localhost`, `127.0.0.1` and `[::1]` too (SPEC §4 "Origins").
    pub origins: Vec<String>,
    pub workers: usize,
    /// `APP_SECRET`; when unset the secret is generated and kept in `<db path>.key`.
    pub secret: Option<Vec<u8>>,
    pub admin_token: Option<String>,
    pub smtp_url: Option<String>,
    pub mail_from: String,
    /// `APP_SUPPORT_EMAIL`, else the sender: who a person without paid
    /// access writes to while billing is off.
    pub support_email: String,
    pub llm: Option<LlmConfig>,
    /// `APP_LLM_CONCURRENCY`: analyses that may wait on the LLM at once.
    pub llm_concurrency: usize,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpAddr>,
    /// `APP_MAX_CONNECTIONS`: open client connections at most, before the
    /// open-file limit is taken into account (`web::capacity`).
    pub max_connections: usize,
    /// Paddle Billing, when all of its keys are set (SPEC §7).
    pub paddle: Option<PaddleConfig>,
    /// `APP_QUOTES` and its key and base; `None` while prices are typed.
    pub quotes: Option<QuotesConfig>,
    /// `APP_FX_URL`: the full URL of the ECB's daily rates XML.
    pub fx_url: String,
}

#[derive(Clone, Debug)]
pub struct LlmConfig {
    pub url: String,
    pub model: String,
    pub api_key: Option<String>,
}

/// What `serve` may set by flag.
#[derive(Default)]
pub struct Flags {
    pub addr: Option<String>,
    pub base_url: Option<String>,
    pub workers: Option<usize>,
}

/// The database path: `--db`, else `$APP_DB`, else `./app.db`.
pub fn db_path(flag: Option<PathBuf>, env: &dyn Fn(&str) -> Option<String>) -> PathBuf {
    flag.or_else(|| env("APP_DB").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("app.db"))
}

/// The public URL as the CLI needs it for invite links: `$APP_BASE_URL`, else
/// `http://$APP_ADDR`, else the default, exactly as `serve` would use.
pub fn base_url_from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<String> {
    let addr = env("APP_ADDR").unwrap_or_else(|| DEFAULT_ADDR.to_string());
    check_base_url(&env("APP_BASE_URL").unwrap_or_else(|| format!("http://{addr}")))
}

/// The process environment, with empty variables counted as unset.
pub fn process_env(key: &str) -> Option<String> {
    std::env::var(key).ok().filter(|v| !v.trim().is_empty())
}

impl Config {
    pub fn from_process_env(flags: Flags) -> Result<Config> {
        Config::from_env(flags, &process_env)
    }

    pub fn from_env(flags: Flags, env: &dyn Fn(&str) -> Option<String>) -> Result<Config> {
        let addr = flags
            .addr
            .or_else(|| env("APP_ADDR"))
            .unwrap_or_else(|| DEFAULT_ADDR.to_string());
        if addr.parse::<std::net::SocketAddr>().is_err() && !addr.contains(':') {
            return Err(Error::Usage(format!(
                "listen address {addr:?} must be HOST:PORT, for example 127.0.0.1:8080"
            )));
        }
        let given_base_url = flags.base_url.or_else(|| env("APP_BASE_URL"));
        let base_url = check_base_url(
            given_base_url
                .as_deref()
                .unwrap_or(&format!("http://{addr}")),
        )?;
        let origins = match (&given_base_url, loopback_port(&addr)) {
            (None, Some(port)) => loopback_origins(&base_url, port),
            _ => vec![base_url.clone()],
        };

        let workers = flags.workers.unwrap_or(DEFAULT_WORKERS);
        if !(1..=256).contains(&workers) {
            return Err(Error::Usage(
                "--workers takes a number from 1 to 256".into(),
            ));
        }

        let secret = match env("APP_SECRET") {
            Some(s) if s.len() < 32 => {
                return Err(Error::Usage(
                    "APP_SECRET must be at least 32 bytes; unset it to have one generated".into(),
                ))
            }
            Some(s) => Some(s.into_bytes()),
            None => None,
        };

        let admin_token = env("APP_ADMIN_TOKEN");
        if admin_token
            .as_ref()
            .is_some_and(|t| t.len() < MIN_ADMIN_TOKEN_BYTES)
        {
            return Err(Error::Usage(
                "APP_ADMIN_TOKEN must be at least 32 bytes (try: openssl rand -hex 32); unset it for no admin token".into(),
            ));
        }

        let smtp_url = env("APP_SMTP_URL");
        if let Some(url) = &smtp_url {
            check_smtp_url(url)?;
        }
        let mail_from = env("APP_MAIL_FROM")
            .unwrap_or_else(|| format!("no-reply@{}", mail_domain(host_of(&base_url))));
        let support_email = env("APP_SUPPORT_EMAIL").unwrap_or_else(|| mail_from.clone());

        let llm = env("APP_LLM_URL").map(|url| LlmConfig {
            url: url.trim_end_matches('/').to_string(),
            model: env("APP_LLM_MODEL").unwrap_or_else(|| "gpt-4o-mini".to_string()),
            api_key: env("APP_LLM_API_KEY"),
        });
        let llm_concurrency = match env("APP_LLM_CONCURRENCY") {
            None => DEFAULT_LLM_CONCURRENCY,
            Some(v) => v
                .trim()
                .parse()
                .ok()
                .filter(|n| (1..=64).contains(n))
                .ok_or_else(|| {
                    Error::Usage(format!(
                        "APP_LLM_CONCURRENCY takes a number from 1 to 64 (analyses that may wait on the LLM at once); {v:?} is not one"
                    ))
                })?,
        };

        let trusted_proxies = match env("APP_TRUSTED_PROXY") {
            None => Vec::new(),
            Some(list) => list
                .split(',')
                .map(|s| {
                    s.trim().parse::<IpAddr>().map_err(|_| {
                        Error::Usage(format!(
                            "APP_TRUSTED_PROXY takes the proxy's IP address(es), comma-separated; {s:?} is not one"
                        ))
                    })
                })
                .collect::<Result<_>>()?,
        };

        let max_connections = match env("APP_MAX_CONNECTIONS") {
            None => DEFAULT_MAX_CONNECTIONS,
            Some(v) => v
                .trim()
                .parse()
                .ok()
                .filter(|n| (1..=1_000_000).contains(n))
                .ok_or_else(|| {
                    Error::Usage(format!(
                        "APP_MAX_CONNECTIONS takes a number from 1 to 1000000 (open client connections at most); {v:?} is not one"
                    ))
                })?,
        };

        Ok(Config {
            addr,
            base_url,
            origins,
            workers,
            secret,
            admin_token,
            smtp_url,
            mail_from,
            support_email,
            llm,
            llm_concurrency,
            trusted_proxies,
            max_connections,
            paddle: paddle::from_env(env)?,
            quotes: quotes_from_env(env)?,
            fx_url: env("APP_FX_URL").unwrap_or_else(|| market::ECB_DAILY_URL.to_string()),
        })
    }

    /// With an https base URL, cookies get `Secure` and the `__Host-` prefix.
    pub fn https(&self) -> bool {
        self.base_url.starts_with("https://")
    }
}

/// The scheme and the `tls` parameter, checked here so a mistake is told in
/// our words (the mail library's own message names its internals).
fn check_smtp_url(url: &str) -> Result<()> {
    if !(url.starts_with("smtp://") || url.starts_with("smtps://")) {
        return Err(Error::Usage(format!(
            "APP_SMTP_URL must be one of: {SMTP_URL_FORMS}"
        )));
    }
    let query = url.split_once('?').map_or("", |(_, q)| q);
    for value in query.split('&').filter_map(|p| p.strip_prefix("tls=")) {
        if !matches!(value, "required" | "opportunistic") {
            return Err(Error::Usage(format!(
                "APP_SMTP_URL has tls={value}, but tls= takes only required or opportunistic \
                 (for implicit TLS write smtps://). It must be one of: {SMTP_URL_FORMS}"
            )));
        }
    }
    Ok(())
}

fn check_base_url(url: &str) -> Result<String> {
    let url = url.trim().trim_end_matches('/');
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && !host.contains(['/', '?', '#', ' ', '@']) => {
            Ok(url.to_string())
        }
        _ => Err(Error::Usage(format!(
            "base URL {url:?} must look like https://example.com (scheme and host, no path)"
        ))),
    }
}

/// The port of a listen address on this machine only (`127.0.0.1:8080`,
/// `[::1]:8080`, `localhost:8080`); `None` for any other address.
fn loopback_port(addr: &str) -> Option<u16> {
    if let Ok(socket) = addr.parse::<std::net::SocketAddr>() {
        return socket.ip().is_loopback().then(|| socket.port());
    }
    let (host, port) = addr.rsplit_once(':')?;
    host.eq_ignore_ascii_case("localhost")
        .then(|| port.parse().ok())
        .flatten()
}

/// The base URL's origin first, then the loopback names of the same port
/// a newcomer may type instead.
fn loopback_origins(base_url: &str, port: u16) -> Vec<String> {
    let mut origins = vec![base_url.to_string()];
    for host in ["127.0.0.1", "localhost", "[::1]"] {
        let origin = format!("http://{host}:{port}");
        if !origins.iter().any(|o| o.eq_ignore_ascii_case(&origin)) {
            origins.push(origin);
        }
    }
    origins
}

/// The host (with port) of a checked base URL.
pub fn host_of(base_url: &str) -> &str {
    base_url
        .split_once("://")
        .map(|(_, h)| h)
        .unwrap_or(base_url)
}

/// The host without its port, for the default sender address.
fn mail_domain(host: &str) -> String {
    let host = if host.starts_with('[') {
        host.split(']')
            .next()
            .unwrap_or(host)
            .trim_start_matches('[')
    } else {
        host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host)
    };
    if host.parse::<IpAddr>().is_ok() {
        "localhost".to_string()
    } else {
        host.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn defaults_follow_the_spec() {
        let c = Config::from_env(Flags::default(), &env_of(&[])).unwrap();
        assert_eq!(c.addr, "127.0.0.1:8080");
        assert_eq!(c.base_url, "http://127.0.0.1:8080");
        assert_eq!(c.mail_from, "no-reply@localhost");
        assert!(!c.https());
        assert!(c.secret.is_none() && c.admin_token.is_none() && c.llm.is_none());
        assert_eq!(c.llm_concurrency, 4);
        let c =
            Config::from_env(Flags::default(), &env_of(&[("APP_LLM_CONCURRENCY", "2")])).unwrap();
        assert_eq!(c.llm_concurrency, 2);
    }

    #[test]
    fn with_no_base_url_the_loopback_names_of_the_port_are_one_site() {
        let c = Config::from_env(Flags::default(), &env_of(&[])).unwrap();
        assert_eq!(
            c.origins,
            [
                "http://127.0.0.1:8080",
                "http://localhost:8080",
                "http://[::1]:8080"
            ]
        );
        let c = Config::from_env(Flags::default(), &env_of(&[("APP_ADDR", "[::1]:9000")])).unwrap();
        assert_eq!(c.origins[0], "http://[::1]:9000");
        assert!(c.origins.contains(&"http://localhost:9000".to_string()));
        let c =
            Config::from_env(Flags::default(), &env_of(&[("APP_ADDR", "localhost:7000")])).unwrap();
        assert!(c.origins.contains(&"http://127.0.0.1:7000".to_string()));
        // A base URL given, or a public listen address: that origin only.
        let given = &[("APP_BASE_URL", "http://127.0.0.1:8080")];
        let c = Config::from_env(Flags::default(), &env_of(given)).unwrap();
        assert_eq!(c.origins, ["http://127.0.0.1:8080"]);
        let public = &[("APP_ADDR", "0.0.0.0:8080")];
        let c = Config::from_env(Flags::default(), &env_of(public)).unwrap();
        assert_eq!(c.origins, ["http://0.0.0.0:8080"]);
    }

    #[test]
    fn the_support_address_defaults_to_the_sender() {
        let c = Config::from_env(
            Flags::default(),
            &env_of(&[("APP_MAIL_FROM", "me@shop.example")]),
        )
        .unwrap();
        assert_eq!(c.support_email, "me@shop.example");
        let env = env_of(&[("APP_SUPPORT_EMAIL", "help@shop.example")]);
        let c = Config::from_env(Flags::default(), &env).unwrap();
        assert_eq!(c.support_email, "help@shop.example");
    }

    #[test]
    fn flags_beat_variables() {
        let env = env_of(&[
            ("APP_ADDR", "0.0.0.0:9000"),
            ("APP_BASE_URL", "https://a.example/"),
        ]);
        let c = Config::from_env(Flags::default(), &env).unwrap();
        assert_eq!(
            (c.addr.as_str(), c.base_url.as_str()),
            ("0.0.0.0:9000", "https://a.example")
        );
        assert_eq!(c.mail_from, "no-reply@a.example");
        assert!(c.https());
        let flags = Flags {
            addr: Some("127.0.0.1:1".into()),
            base_url: Some("http://b.example".into()),
            workers: Some(2),
        };
        let c = Config::from_env(flags, &env).unwrap();
        assert_eq!(
            (c.addr.as_str(), c.base_url.as_str(), c.workers),
            ("127.0.0.1:1", "http://b.example", 2)
        );
    }

    #[test]
    fn a_bad_smtp_url_says_which_forms_are_allowed() {
        let e = Config::from_env(
            Flags::default(),
            &env_of(&[("APP_SMTP_URL", "smtp://u:p@mail.example:587?tls=maybe")]),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("tls=maybe") && e.contains("required or opportunistic"),
            "{e}"
        );
        assert!(e.contains("smtps://user:pass@host:465"), "{e}");
        assert!(
            !e.contains("u:p@"),
            "the URL's password is not repeated: {e}"
        );
        for ok in [
            "smtp://localhost:25",
            "smtp://u:p@mail.example:587?tls=required",
            "smtp://mail.example?tls=opportunistic",
            "smtps://u:p@mail.example:465",
        ] {
            let env = move |k: &str| (k == "APP_SMTP_URL").then(|| ok.to_string());
            assert!(Config::from_env(Flags::default(), &env).is_ok(), "{ok}");
        }
    }

    #[test]
    fn rejects_bad_values() {
        assert!(Config::from_env(Flags::default(), &env_of(&[("APP_SECRET", "short")])).is_err());
        assert!(Config::from_env(
            Flags::default(),
            &env_of(&[("APP_BASE_URL", "example.com")])
        )
        .is_err());
        assert!(
            Config::from_env(Flags::default(), &env_of(&[("APP_SMTP_URL", "http://x")])).is_err()
        );
        assert!(
            Config::from_env(Flags::default(), &env_of(&[("APP_TRUSTED_PROXY", "nope")])).is_err()
        );
        for n in ["0", "65", "four", "-1"] {
            let env = move |k: &str| (k == "APP_LLM_CONCURRENCY").then(|| n.to_string());
            let e = Config::from_env(Flags::default(), &env).unwrap_err();
            assert!(
                e.to_string()
                    .contains("APP_LLM_CONCURRENCY takes a number from 1 to 64"),
                "{e}"
            );
        }
        let flags = Flags {
            workers: Some(0),
            ..Flags::default()
        };
        assert!(Config::from_env(flags, &env_of(&[])).is_err());
    }

    #[test]
    fn an_admin_token_under_32_bytes_stops_the_app() {
        let short = &[("APP_ADMIN_TOKEN", "metrics-admin-token-1234")];
        let err = Config::from_env(Flags::default(), &env_of(short)).unwrap_err();
        assert!(err.to_string().contains("at least 32 bytes"), "{err}");
        let long = &[("APP_ADMIN_TOKEN", "0123456789abcdef0123456789abcdef")];
        assert!(Config::from_env(Flags::default(), &env_of(long)).is_ok());
    }
}
