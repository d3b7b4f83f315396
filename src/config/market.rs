//! Where the market data comes from: the ECB's daily rates and the quote
//! provider `APP_QUOTES` names, with its key and base URL, checked at start.

use crate::db::holdings::PriceSource;
use crate::error::{Error, Result};

/// `APP_FX_URL` unset: the ECB's daily euro reference rates.
pub const ECB_DAILY_URL: &str = "https://www.ecb.europa.eu/stats/eurofxref/eurofxref-daily.xml";
/// `APP_QUOTES_URL` unset, by provider.
pub const STOOQ_BASE: &str = "https://stooq.com";
pub const ALPHAVANTAGE_BASE: &str = "https://www.alphavantage.co";

/// `APP_QUOTES` with its key and base URL, checked at start.
#[derive(Clone, PartialEq)]
pub struct QuotesConfig {
    pub provider: PriceSource,
    pub api_key: Option<String>,
    /// The base without a trailing slash (`https://stooq.com`).
    pub base_url: String,
}

/// Never prints the key.
impl std::fmt::Debug for QuotesConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuotesConfig")
            .field("provider", &self.provider)
            .field("api_key", &self.api_key.as_ref().map(|_| "…"))
            .field("base_url", &self.base_url)
            .finish()
    }
}

impl QuotesConfig {
    /// Calls a minute we allow ourselves: Stooq publishes no limit, so we
    /// stay polite; Alpha Vantage's free tier allows 5 a minute.
    pub fn calls_per_minute(&self) -> usize {
        match self.provider {
            PriceSource::AlphaVantage => 5,
            _ => 20,
        }
    }
}

/// `APP_QUOTES=off|stooq|alphavantage`, `APP_QUOTES_API_KEY` (Alpha Vantage
/// needs one) and `APP_QUOTES_URL` (another base, for tests and proxies).
pub fn quotes_from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<Option<QuotesConfig>> {
    let provider = match env("APP_QUOTES")
        .map(|v| v.trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("off") => return Ok(None),
        Some("stooq") => PriceSource::Stooq,
        Some("alphavantage") => PriceSource::AlphaVantage,
        Some(other) => {
            return Err(Error::Usage(format!(
                "APP_QUOTES takes off, stooq or alphavantage; {other:?} is not one"
            )))
        }
    };
    let api_key = env("APP_QUOTES_API_KEY");
    if provider == PriceSource::AlphaVantage && api_key.is_none() {
        return Err(Error::Usage(
            "APP_QUOTES=alphavantage needs APP_QUOTES_API_KEY (a free key from https://www.alphavantage.co/support/#api-key)".into(),
        ));
    }
    let default_base = match provider {
        PriceSource::AlphaVantage => ALPHAVANTAGE_BASE,
        _ => STOOQ_BASE,
    };
    let base_url = env("APP_QUOTES_URL")
        .unwrap_or_else(|| default_base.to_string())
        .trim_end_matches('/')
        .to_string();
    if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
        return Err(Error::Usage(format!(
            "APP_QUOTES_URL must start with http:// or https://; {base_url:?} does not"
        )));
    }
    Ok(Some(QuotesConfig {
        provider,
        api_key,
        base_url,
    }))
}
