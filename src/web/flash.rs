//! The one-line note after a change to the portfolio ("Saved AAPL: 10 ×
//! 190.50", "Deleted AAPL" with an Undo). It rides a signed cookie that
//! lives a minute and is cleared by the page that shows it, so the URL after
//! the redirect stays `/portfolio` and carries nothing.

use serde::{Deserialize, Serialize};

use crate::clock::{Timestamp, MINUTE};
use crate::crypto;
use crate::money::{Currency, Decimal};
use crate::services::portfolio::{Holding, PriceSource};

pub const FLASH: &str = "flash";
const LIFETIME: i64 = MINUTE;

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    Saved,
    Deleted,
}

/// What changed, with the holding's values as they were saved or deleted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Flash {
    pub change: Change,
    pub symbol: String,
    /// Amounts as exact decimal text.
    pub quantity: String,
    pub price: String,
    #[serde(default)]
    pub cost_basis: Option<String>,
    pub currency: String,
    /// `typed` or the provider's name, so an Undo restores a quoted holding.
    pub price_source: String,
    exp: i64,
}

impl Flash {
    pub fn new(change: Change, holding: &Holding, now: Timestamp) -> Flash {
        Flash {
            change,
            symbol: holding.symbol.clone(),
            quantity: holding.quantity.to_string(),
            price: holding.price.to_string(),
            cost_basis: holding.cost_basis.map(|c| c.to_string()),
            currency: holding.currency.to_string(),
            price_source: holding.price_source.as_str().to_string(),
            exp: now.plus(LIFETIME).secs(),
        }
    }

    /// The holding as it was; `None` if the (signed) values do not read,
    /// which only a change of format could cause.
    pub fn holding(&self) -> Option<Holding> {
        let mut h = Holding::typed(
            &self.symbol,
            Decimal::parse(&self.quantity)?,
            Decimal::parse(&self.price)?,
            match &self.cost_basis {
                Some(c) => Some(Decimal::parse(c)?),
                None => None,
            },
            Currency::parse(&self.currency)?,
        );
        h.price_source = PriceSource::parse(&self.price_source)?;
        Some(h)
    }

    pub fn seal(&self, key: &[u8]) -> String {
        // A struct of a string, numbers and an enum always serialises.
        crypto::sign(key, &serde_json::to_vec(self).unwrap_or_default())
    }

    /// The flash, if the cookie is ours, untampered and not a minute old.
    pub fn open(key: &[u8], value: &str, now: Timestamp) -> Option<Flash> {
        if value.len() > 1024 {
            return None;
        }
        let flash: Flash = serde_json::from_slice(&crypto::verify(key, value)?).ok()?;
        (flash.exp > now.secs()).then_some(flash)
    }

    pub fn lifetime() -> i64 {
        LIFETIME
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Timestamp = Timestamp(1_800_000_000);

    fn aapl() -> Holding {
        let d = |s: &str| Decimal::parse(s).unwrap();
        let mut h = Holding::typed("AAPL", d("10"), d("190.5"), Some(d("150")), Currency::EUR);
        h.price_source = PriceSource::Stooq;
        h
    }

    #[test]
    fn round_trips_for_a_minute_then_is_gone() {
        let flash = Flash::new(Change::Deleted, &aapl(), NOW);
        let sealed = flash.seal(b"key");
        assert_eq!(
            Flash::open(b"key", &sealed, NOW.plus(59)),
            Some(flash.clone())
        );
        assert_eq!(flash.holding(), Some(aapl()));
        assert_eq!(Flash::open(b"key", &sealed, NOW.plus(60)), None);
        assert_eq!(Flash::open(b"other", &sealed, NOW), None);
        assert_eq!(Flash::open(b"key", "junk.value", NOW), None);
    }
}
