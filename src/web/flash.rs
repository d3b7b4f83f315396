//! The one-line note after a change to the portfolio ("Saved AAPL: 10 ×
//! 190.50", "Deleted AAPL" with an Undo). It rides a signed cookie that
//! lives a minute and is cleared by the page that shows it, so the URL after
//! the redirect stays `/portfolio` and carries nothing.

use serde::{Deserialize, Serialize};

use crate::clock::{Timestamp, MINUTE};
use crate::crypto;
use crate::services::portfolio::Holding;

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
    pub quantity: f64,
    pub price: f64,
    #[serde(default)]
    pub cost_basis: Option<f64>,
    exp: i64,
}

impl Flash {
    pub fn new(change: Change, holding: &Holding, now: Timestamp) -> Flash {
        Flash {
            change,
            symbol: holding.symbol.clone(),
            quantity: holding.quantity,
            price: holding.price,
            cost_basis: holding.cost_basis,
            exp: now.plus(LIFETIME).secs(),
        }
    }

    pub fn holding(&self) -> Holding {
        Holding {
            symbol: self.symbol.clone(),
            quantity: self.quantity,
            price: self.price,
            cost_basis: self.cost_basis,
        }
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
        Holding {
            symbol: "AAPL".into(),
            quantity: 10.0,
            price: 190.5,
            cost_basis: Some(150.0),
        }
    }

    #[test]
    fn round_trips_for_a_minute_then_is_gone() {
        let flash = Flash::new(Change::Deleted, &aapl(), NOW);
        let sealed = flash.seal(b"key");
        assert_eq!(
            Flash::open(b"key", &sealed, NOW.plus(59)),
            Some(flash.clone())
        );
        assert_eq!(flash.holding(), aapl());
        assert_eq!(Flash::open(b"key", &sealed, NOW.plus(60)), None);
        assert_eq!(Flash::open(b"other", &sealed, NOW), None);
        assert_eq!(Flash::open(b"key", "junk.value", NOW), None);
    }
}
