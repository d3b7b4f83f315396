//! Holdings as the JSON API carries them: `{"holdings": [...]}` decoded by
//! serde, each entry on its own so an error can name it. The rules every
//! holding obeys live in `services::portfolio::check_list`.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::services::portfolio::{self, Holding};

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
}

const MUST_BE_OBJECT: &str = "The body must be {\"holdings\": [...]}.";

/// `{"holdings": [...]}`, checked; anything else is a 400 naming what is
/// wrong.
pub fn holdings(body: &Value) -> Result<Vec<Holding>> {
    holdings_if_sent(body)?.ok_or_else(|| Error::BadRequest(MUST_BE_OBJECT.into()))
}

/// As [`holdings`], but an object without `holdings` is `None` (the
/// analyst then reads the saved portfolio).
pub fn holdings_if_sent(body: &Value) -> Result<Option<Vec<Holding>>> {
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
            Ok(Holding {
                symbol: e.symbol,
                quantity: e.quantity,
                price: e.price,
                cost_basis: e.cost_basis,
            })
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
        match holdings(&body) {
            Err(e) => e.public_message(),
            Ok(list) => panic!("a body was taken: {} holdings", list.len()),
        }
    }

    #[test]
    fn a_list_is_read_and_checked() {
        let ok = holdings(&json!({"holdings": [
            {"symbol": "aapl", "quantity": 10, "price": 190.5},
            {"symbol": "CASH", "quantity": 1000, "price": 1, "cost_basis": null},
            {"symbol": "MSFT", "quantity": 2, "price": 400, "cost_basis": 300}
        ]}))
        .unwrap();
        assert_eq!(ok.len(), 3);
        assert_eq!(ok[0].symbol, "AAPL");
        assert_eq!(ok[2].cost_basis, Some(300.0));
        assert_eq!(holdings(&json!({"holdings": []})).unwrap(), vec![]);
        assert_eq!(holdings_if_sent(&json!({})).unwrap(), None);
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
