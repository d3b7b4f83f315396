//! Holdings: what a portfolio is made of, and the rules every holding obeys
//! whether it comes from a form, the JSON API or the analyst.

use rusqlite::Connection;

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

/// Checks a whole list as the JSON API and the analyst take it: at most
/// 500, each symbol normalised and each amount in range, no symbol twice. A
/// bad entry rejects the whole list with a message that names the entry.
pub fn check_list(list: Vec<Holding>) -> Result<Vec<Holding>> {
    check_count(list.len())?;
    let mut checked: Vec<Holding> = Vec::with_capacity(list.len());
    for (i, entry) in list.into_iter().enumerate() {
        let holding = check_one(entry).map_err(|e| entry_error(i, &e))?;
        if checked.iter().any(|h| h.symbol == holding.symbol) {
            return Err(entry_error(i, &format!("{} appears twice", holding.symbol)));
        }
        checked.push(holding);
    }
    Ok(checked)
}

/// At most 500 holdings in a list.
pub fn check_count(n: usize) -> Result<()> {
    if n > MAX_HOLDINGS {
        return Err(Error::BadRequest(format!(
            "At most {MAX_HOLDINGS} holdings, not {n}."
        )));
    }
    Ok(())
}

/// `holdings[3]: quantity must be …`, as the JSON API words entry errors.
pub fn entry_error(index: usize, message: &str) -> Error {
    Error::BadRequest(format!("Holdings[{index}]: {message}"))
}

fn check_one(h: Holding) -> std::result::Result<Holding, String> {
    Ok(Holding {
        symbol: normalise_symbol(&h.symbol)?,
        quantity: check_amount("quantity", h.quantity)?,
        price: check_amount("price", h.price)?,
        cost_basis: h
            .cost_basis
            .map(|c| check_amount("cost_basis", c))
            .transpose()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
