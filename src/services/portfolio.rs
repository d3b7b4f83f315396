//! Holdings: what a portfolio is made of, and the rules every holding obeys
//! whether it comes from a form, the JSON API or the analyst.

use rusqlite::Connection;
use serde_json::Value;

use crate::clock::Timestamp;
use crate::db::{self, holdings};
use crate::error::{Error, Result};

pub const MAX_HOLDINGS: usize = 500;
pub const MAX_AMOUNT: f64 = 1e12;
pub const MAX_SYMBOL_LEN: usize = 16;

pub use crate::db::holdings::Holding;

pub fn list(conn: &Connection, user_id: i64) -> Result<Vec<Holding>> {
    holdings::list(conn, user_id)
}

/// Adds a holding or updates the one with its symbol, keeping the 500 limit.
pub fn save(conn: &Connection, user_id: i64, holding: &Holding, now: Timestamp) -> Result<()> {
    db::write(conn, |tx| {
        if !holdings::exists(tx, user_id, &holding.symbol)?
            && holdings::count(tx, user_id)? >= MAX_HOLDINGS
        {
            return Err(Error::BadRequest(format!(
                "A portfolio holds at most {MAX_HOLDINGS} holdings; delete one first."
            )));
        }
        holdings::upsert(tx, user_id, holding, now)
    })
}

/// Deletes a holding and answers what it was (for the undo), or `None`
/// when there was none with that symbol.
pub fn remove(conn: &Connection, user_id: i64, symbol: &str) -> Result<Option<Holding>> {
    db::write(conn, |tx| holdings::take(tx, user_id, symbol))
}

/// Replaces the whole portfolio in one transaction.
pub fn replace(conn: &Connection, user_id: i64, list: &[Holding], now: Timestamp) -> Result<()> {
    db::write(conn, |tx| {
        holdings::delete_all(tx, user_id)?;
        for holding in list {
            holdings::upsert(tx, user_id, holding, now)?;
        }
        Ok(())
    })
}

/// Uppercases and checks a symbol: 1–16 of `A-Z 0-9 . -`.
pub fn normalise_symbol(raw: &str) -> std::result::Result<String, String> {
    let symbol = raw.trim().to_ascii_uppercase();
    if symbol.is_empty() {
        return Err("a symbol is required".into());
    }
    if symbol.len() > MAX_SYMBOL_LEN
        || !symbol
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
    {
        return Err("a symbol is 1 to 16 of the letters A-Z, digits, '.' and '-'".into());
    }
    Ok(symbol)
}

/// Checks an amount: finite, 0 ≤ x ≤ 1e12.
pub fn check_amount(name: &str, x: f64) -> std::result::Result<f64, String> {
    if x.is_finite() && (0.0..=MAX_AMOUNT).contains(&x) {
        Ok(x)
    } else {
        Err(format!("{name} must be a number from 0 to 1e12"))
    }
}

/// Parses and checks `{"holdings": [...]}`. A bad entry rejects the whole
/// list, with a message that names the entry.
pub fn from_json(body: &Value) -> std::result::Result<Vec<Holding>, String> {
    let list = body
        .get("holdings")
        .and_then(Value::as_array)
        .ok_or("the body must be {\"holdings\": [...]}")?;
    if list.len() > MAX_HOLDINGS {
        return Err(format!(
            "at most {MAX_HOLDINGS} holdings, not {}",
            list.len()
        ));
    }
    let mut holdings: Vec<Holding> = Vec::with_capacity(list.len());
    for (i, entry) in list.iter().enumerate() {
        let holding = entry_from_json(entry).map_err(|e| format!("holdings[{i}]: {e}"))?;
        if holdings.iter().any(|h| h.symbol == holding.symbol) {
            return Err(format!("holdings[{i}]: {} appears twice", holding.symbol));
        }
        holdings.push(holding);
    }
    Ok(holdings)
}

fn entry_from_json(entry: &Value) -> std::result::Result<Holding, String> {
    let obj = entry.as_object().ok_or("each holding is an object")?;
    if let Some(unknown) = obj
        .keys()
        .find(|k| !["symbol", "quantity", "price", "cost_basis"].contains(&k.as_str()))
    {
        return Err(format!("unknown field {unknown:?}"));
    }
    let symbol = obj
        .get("symbol")
        .and_then(Value::as_str)
        .ok_or("symbol must be a string")?;
    let number = |name: &str| -> std::result::Result<f64, String> {
        let x = obj
            .get(name)
            .and_then(Value::as_f64)
            .ok_or(format!("{name} must be a number from 0 to 1e12"))?;
        check_amount(name, x)
    };
    let cost_basis = match obj.get("cost_basis") {
        None | Some(Value::Null) => None,
        Some(_) => Some(number("cost_basis")?),
    };
    Ok(Holding {
        symbol: normalise_symbol(symbol)?,
        quantity: number("quantity")?,
        price: number("price")?,
        cost_basis,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn symbols() {
        assert_eq!(normalise_symbol(" brk.b ").as_deref(), Ok("BRK.B"));
        assert_eq!(normalise_symbol("rds-a").as_deref(), Ok("RDS-A"));
        assert_eq!(normalise_symbol("A").as_deref(), Ok("A"));
        assert_eq!(
            normalise_symbol(&"A".repeat(16)).as_deref(),
            Ok("AAAAAAAAAAAAAAAA")
        );
        for bad in [
            "",
            " ",
            &"A".repeat(17),
            "A B",
            "A/B",
            "AÄ",
            "<script>",
            "A\r\nB",
            "$AAPL",
        ] {
            assert!(normalise_symbol(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn json_list() {
        let ok = from_json(&json!({"holdings": [
            {"symbol": "aapl", "quantity": 10, "price": 190.5},
            {"symbol": "CASH", "quantity": 1000, "price": 1, "cost_basis": null},
            {"symbol": "MSFT", "quantity": 2, "price": 400, "cost_basis": 300}
        ]}))
        .unwrap();
        assert_eq!(ok.len(), 3);
        assert_eq!(ok[0].symbol, "AAPL");
        assert_eq!(ok[2].cost_basis, Some(300.0));
        assert_eq!(from_json(&json!({"holdings": []})), Ok(vec![]));
    }

    #[test]
    fn json_errors_name_the_entry() {
        let cases = [
            (
                json!({"holdings": [{"symbol": "A", "quantity": 1, "price": 1}, {"symbol": "B", "quantity": -1, "price": 1}]}),
                "holdings[1]: quantity",
            ),
            (
                json!({"holdings": [{"symbol": "A", "quantity": "1", "price": 1}]}),
                "holdings[0]: quantity",
            ),
            (
                json!({"holdings": [{"symbol": "A", "quantity": 1}]}),
                "holdings[0]: price",
            ),
            (
                json!({"holdings": [{"symbol": "A", "quantity": 1, "price": 1e13}]}),
                "holdings[0]: price",
            ),
            (
                json!({"holdings": [{"symbol": "A", "quantity": 1, "price": 1, "cost_basis": -2}]}),
                "holdings[0]: cost_basis",
            ),
            (
                json!({"holdings": [{"symbol": "a b", "quantity": 1, "price": 1}]}),
                "holdings[0]: a symbol",
            ),
            (
                json!({"holdings": [{"symbol": "A", "quantity": 1, "price": 1}, {"symbol": "a", "quantity": 1, "price": 1}]}),
                "holdings[1]: A appears twice",
            ),
            (
                json!({"holdings": [{"symbol": "A", "quantity": 1, "price": 1, "extra": 1}]}),
                "holdings[0]: unknown field",
            ),
            (json!({"holdings": [7]}), "holdings[0]: each holding"),
            (json!({"holdings": {}}), "the body must be"),
            (json!([]), "the body must be"),
        ];
        for (body, want) in cases {
            let err = from_json(&body).unwrap_err();
            assert!(err.starts_with(want), "{body}: {err}");
        }
        let many: Vec<Value> = (0..501)
            .map(|i| json!({"symbol": format!("S{i}"), "quantity": 1, "price": 1}))
            .collect();
        assert!(from_json(&json!({"holdings": many}))
            .unwrap_err()
            .contains("at most 500"));
    }
}
