//! Configuration: read once from the environment and flags, checked, then
//! passed down. A flag beats its variable.

use std::net::IpAddr;
use std::path::PathBuf;

use crate::error::{Error, Result};

pub mod paddle;
pub use paddle::PaddleConfig;

pub const DEFAULT_ADDR: &str = "127.0.0.1:8080";
pub const DEFAULT_WORKERS: usize = 8;

#[derive(Clone, Debug)]
pub struct Config {
    pub addr: String,
    /// Public URL without a trailing slash.
    pub base_url: String,
    pub workers: usize,
    /// `APP_SECRET`; when unset the secret is generated and kept in the database.
    pub secret: Option<Vec<u8>>,
    pub admin_token: Option<String>,
    pub smtp_url: Option<String>,
    pub mail_from: String,
    pub llm: Option<LlmConfig>,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpAddr>,
    /// Paddle Billing, when all of its keys are set (SPEC §7).
    pub paddle: Option<PaddleConfig>,
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
        let base_url = check_base_url(
            &flags
                .base_url
                .or_else(|| env("APP_BASE_URL"))
                .unwrap_or_else(|| format!("http://{addr}")),
        )?;

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

        let smtp_url = env("APP_SMTP_URL");
        if let Some(url) = &smtp_url {
            if !(url.starts_with("smtp://") || url.starts_with("smtps://")) {
                return Err(Error::Usage(
                    "APP_SMTP_URL must start with smtp:// or smtps://".into(),
                ));
            }
        }
        let mail_from = env("APP_MAIL_FROM")
            .unwrap_or_else(|| format!("no-reply@{}", mail_domain(host_of(&base_url))));

        let llm = env("APP_LLM_URL").map(|url| LlmConfig {
            url: url.trim_end_matches('/').to_string(),
            model: env("APP_LLM_MODEL").unwrap_or_else(|| "gpt-4o-mini".to_string()),
            api_key: env("APP_LLM_API_KEY"),
        });

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

        Ok(Config {
            addr,
            base_url,
            workers,
            secret,
            admin_token: env("APP_ADMIN_TOKEN"),
            smtp_url,
            mail_from,
            llm,
            trusted_proxies,
            paddle: paddle::from_env(env)?,
        })
    }

    /// With an https base URL, cookies get `Secure` and the `__Host-` prefix.
    pub fn https(&self) -> bool {
        self.base_url.starts_with("https://")
    }
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
        let flags = Flags {
            workers: Some(0),
            ..Flags::default()
        };
        assert!(Config::from_env(flags, &env_of(&[])).is_err());
    }
}
