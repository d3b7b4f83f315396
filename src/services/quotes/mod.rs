//! Quote providers: Stooq's CSV endpoint (no key) and Alpha Vantage's
//! `GLOBAL_QUOTE` (a key). Each answer is read into one [`Outcome`]; the
//! background job (`services::market`) decides what to keep and when to ask
//! again. A provider's price is taken to be in the holding's own currency.

use std::time::Duration;

use crate::clock::Timestamp;
use crate::db::holdings::PriceSource;
use crate::money::Decimal;

pub use crate::config::QuotesConfig;

pub mod alphavantage;
pub mod stooq;

/// Every outbound call gives up after this long.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// The most of an answer we read: a quote is a line or two.
const MAX_BYTES: u64 = 64 * 1024;

/// What one ask for one symbol came to.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Price {
        price: Decimal,
        at: Timestamp,
    },
    /// The provider does not know the symbol (Stooq's `N/D`, Alpha
    /// Vantage's empty quote): asked again later, with backoff.
    Unknown(String),
    /// The provider asks us to slow down (Alpha Vantage's `Note` or
    /// `Information`): every symbol waits.
    Throttled(String),
    /// A refusal that concerns every symbol (a bad key): every symbol waits.
    Refused(String),
    /// The network, a 5xx or an answer we cannot read.
    Failed(String),
}

impl Outcome {
    /// True when the whole provider should pause, not just this symbol.
    pub fn pauses_provider(&self) -> bool {
        matches!(self, Outcome::Throttled(_) | Outcome::Refused(_))
    }
}

/// Asks the configured provider for one symbol.
pub fn ask(agent: &ureq::Agent, config: &QuotesConfig, symbol: &str) -> Outcome {
    let url = match config.provider {
        PriceSource::AlphaVantage => alphavantage::url(config, symbol),
        _ => stooq::url(&config.base_url, symbol),
    };
    let text = match get(agent, &url) {
        Ok(text) => text,
        Err(outcome) => return outcome,
    };
    match config.provider {
        PriceSource::AlphaVantage => alphavantage::read(&text),
        _ => stooq::read(&text),
    }
}

fn get(agent: &ureq::Agent, url: &str) -> Result<String, Outcome> {
    let mut response = agent
        .get(url)
        .call()
        .map_err(|e| Outcome::Failed(format!("request failed: {e}")))?;
    let status = response.status().as_u16();
    let text = response
        .body_mut()
        .with_config()
        .limit(MAX_BYTES)
        .read_to_string()
        .map_err(|e| Outcome::Failed(format!("reading the answer failed: {e}")))?;
    match status {
        200 => Ok(text),
        429 => Err(Outcome::Throttled("the provider answered 429".into())),
        401 | 403 => Err(Outcome::Refused(format!("the provider answered {status}"))),
        _ => Err(Outcome::Failed(format!("the provider answered {status}"))),
    }
}

/// One ureq agent for the market data job: timeouts on every call, and
/// statuses read as answers rather than errors.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(TIMEOUT))
        .http_status_as_error(false)
        .user_agent("folio-app (self-hosted portfolio; one call per held symbol every 15 minutes)")
        .build()
        .into()
}

/// Percent-encodes a symbol for a query string (they are `A-Z 0-9 . -`
/// already, so this is belt and braces).
fn query_value(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
