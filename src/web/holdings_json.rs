//! Holdings as the JSON API carries them: `{"holdings": [...]}` decoded by
//! serde, each entry on its own so an error can name it. The rules every
//! holding obeys live in `services::portfolio::check_list`.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::money::{Currency, Decimal};
use crate::services::portfolio::{self, Holding, PriceSource};

/// The body: only `holdings` is read; an entry may carry nothing else.
#[derive(Deserialize)]
struct Body {
    /// Kept as values so each entry is decoded, and named, by its index.
    holdings: Option<Vec<Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    symbol: String,
    #[serde(deserialize_with = "quantity")]
    quantity: f64,
    #[serde(deserialize_with = "price")]
    price: f64,
    #[serde(default, deserialize_with = "cost_basis")]
    cost_basis: Option<f64>,
    /// ISO 4217; absent or null means the account's base currency.
    #[serde(default)]
    currency: Option<String>,
    /// `typed` or a provider's name (as `GET` gives it back); absent means typed.
    #[serde(default)]
    price_source: Option<String>,
    /// Given back by `GET`; the provider's time is the app's to set, so it
    /// is read and ignored.
    #[serde(default)]
    #[allow(dead_code)]
    price_at: Option<Value>,
}

const MUST_BE_OBJECT: &str = "The body must be {\"holdings\": [...]}.";

/// `{"holdings": [...]}`, checked; anything else is a 400 naming what is
/// wrong.
pub fn holdings(body: &Value, base: Currency) -> Result<Vec<Holding>> {
    holdings_if_sent(body, base)?.ok_or_else(|| Error::BadRequest(MUST_BE_OBJECT.into()))
}

/// As [`holdings`], but an object without `holdings` is `None` (the
/// analyst then reads the saved portfolio).
pub fn holdings_if_sent(body: &Value, base: Currency) -> Result<Option<Vec<Holding>>> {
    let body = Body::deserialize(body).map_err(|_| Error::BadRequest(MUST_BE_OBJECT.into()))?;
    let Some(entries) = body.holdings else {
        return Ok(None);
    };
    portfolio::check_count(entries.len())?;
    let list = entries
        .iter()
        .enumerate()
        .map(|(i, entry)| {
            // serde would also read a struct from an array, ["X", 1, 1].
            if !entry.is_object() {
                return Err(portfolio::entry_error(i, "each holding is an object"));
            }
            let e =
                Entry::deserialize(entry).map_err(|e| portfolio::entry_error(i, &e.to_string()))?;
            let exact = |name: &str, x: f64| {
                Decimal::from_f64(x).ok_or_else(|| {
                    portfolio::entry_error(i, &format!("{name} has more than 8 decimals"))
                })
            };
            let currency = match e.currency.as_deref() {
                None => base,
                Some(c) => Currency::parse(c).ok_or_else(|| {
                    portfolio::entry_error(i, "currency is a three-letter ISO 4217 code like USD")
                })?,
            };
            let price_source = match e.price_source.as_deref() {
                None => PriceSource::Typed,
                Some(s) => PriceSource::parse(s).ok_or_else(|| {
                    portfolio::entry_error(i, "price_source is typed, stooq or alphavantage")
                })?,
            };
            let mut h = Holding::typed(
                &e.symbol,
                exact("quantity", e.quantity)?,
                exact("price", e.price)?,
                e.cost_basis.map(|c| exact("cost_basis", c)).transpose()?,
                currency,
            );
            h.price_source = price_source;
            Ok(h)
        })
        .collect::<Result<Vec<_>>>()?;
    portfolio::check_list(list).map(Some)
}

fn amount<'de, D: Deserializer<'de>>(d: D, name: &str) -> Result<f64, D::Error> {
    f64::deserialize(d).map_err(|_| D::Error::custom(format!("{name} must be a number")))
}

fn quantity<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    amount(d, "quantity")
}

fn price<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    amount(d, "price")
}

fn cost_basis<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    Option::<f64>::deserialize(d)
        .map_err(|_| D::Error::custom("cost_basis must be a number or null"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn message(body: Value) -> String {
        match holdings(&body, Currency::USD) {
            Err(e) => e.public_message(),
            Ok(list) => panic!("a body was taken: {} holdings", list.len()),
        }
    }

    #[test]
    fn a_list_is_read_and_checked() {
        let ok = holdings(
            &json!({"holdings": [
                {"symbol": "aapl", "quantity": 10, "price": 190.5},
                {"symbol": "CASH", "quantity": 1000, "price": 1, "cost_basis": null},
                {"symbol": "MSFT", "quantity": 2, "price": 400, "cost_basis": 300}
            ]}),
            Currency::USD,
        )
        .unwrap();
        assert_eq!(ok.len(), 3);
        assert_eq!(ok[0].symbol, "AAPL");
        assert_eq!(ok[2].cost_basis, Decimal::from_f64(300.0));
        assert_eq!(ok[2].currency, Currency::USD);
        assert_eq!(
            holdings(&json!({"holdings": []}), Currency::USD).unwrap(),
            vec![]
        );
        assert_eq!(holdings_if_sent(&json!({}), Currency::USD).unwrap(), None);
        let eur = holdings(
            &json!({"holdings": [{"symbol": "SAP.DE", "quantity": 1, "price": 120, "currency": "eur",
                                  "price_source": "typed", "price_at": null}]}),
            Currency::USD,
        )
        .unwrap();
        assert_eq!(eur[0].currency, Currency::EUR);
    }

    #[test]
    fn errors_name_the_entry() {
        let cases = [
            (
                json!({"holdings": [{"symbol": "A", "quantity": 1, "price": 1}, {"symbol": "B", "quantity": -1, "price": 1}]}),
                "Holdings[1]: quantity",
            ),
            (
                json!({"holdings": [{"symbol": "A", "quantity": "1", "price": 1}]}),
                "Holdings[0]: quantity",
            ),
            (
                json!({"holdings": [{"symbol": "A", "quantity": 1}]}),
                "Holdings[0]: missing field `price`",
            ),
            (
                json!({"holdings": [{"symbol": "A", "quantity": 1, "price": 1e13}]}),
                "Holdings[0]: price",
            ),
            (
                json!({"holdings": [{"symbol": "A", "quantity": 1, "price": 1, "cost_basis": -2}]}),
                "Holdings[0]: cost_basis",
            ),
            (
                json!({"holdings": [{"symbol": "a b", "quantity": 1, "price": 1}]}),
                "Holdings[0]: a symbol",
            ),
            (
                json!({"holdings": [{"symbol": "A", "quantity": 1, "price": 1}, {"symbol": "a", "quantity": 1, "price": 1}]}),
                "Holdings[1]: A appears twice",
            ),
            (
                json!({"holdings": [{"symbol": "A", "quantity": 1, "price": 1, "extra": 1}]}),
                "Holdings[0]: unknown field",
            ),
            (
                json!({"holdings": [7]}),
                "Holdings[0]: each holding is an object",
            ),
            (
                json!({"holdings": [["X", 1, 1]]}),
                "Holdings[0]: each holding is an object",
            ),
            (
                json!({"holdings": [{"symbol": "A", "quantity": 1, "price": 1, "currency": "EURO"}]}),
                "Holdings[0]: currency",
            ),
            (
                json!({"holdings": [{"symbol": "A", "quantity": 1, "price": 1, "price_source": "yahoo"}]}),
                "Holdings[0]: price_source",
            ),
            (json!({"holdings": {}}), "The body must be"),
            (json!([]), "The body must be"),
            (json!({}), "The body must be"),
        ];
        for (body, want) in cases {
            let got = message(body.clone());
            assert!(got.starts_with(want), "{want}: {got}");
        }
        let many: Vec<Value> = (0..501)
            .map(|i| json!({"symbol": format!("S{i}"), "quantity": 1, "price": 1}))
            .collect();
        assert!(message(json!({"holdings": many})).contains("At most 500"));
    }
}
