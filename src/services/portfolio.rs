//! Holdings: what a portfolio is made of, and the rules every holding obeys
//! whether it comes from a form, the JSON API or the analyst.

use rusqlite::Connection;

use crate::clock::Timestamp;
use crate::db::{self, holdings, prices};
use crate::error::{Error, Result};
use crate::money::{Currency, Decimal};
use crate::services::analyst::{self, PortfolioMetrics};
use crate::services::fx::Rates;
use crate::services::history::{self, DayTotal, Span};
use crate::services::valuation::Valuation;

pub const MAX_HOLDINGS: usize = 500;
pub const MAX_AMOUNT: f64 = 1e12;
pub const MAX_SYMBOL_LEN: usize = 16;

pub use crate::db::holdings::{Holding, PriceSource};

pub fn list(conn: &Connection, user_id: i64) -> Result<Vec<Holding>> {
    holdings::list(conn, user_id)
}

/// Sets the account's base currency; values and history are read in it
/// from now on.
pub fn set_base_currency(conn: &Connection, user_id: i64, currency: Currency) -> Result<()> {
    db::write(conn, |tx| prices::set_base_currency(tx, user_id, currency))
}

/// Everything the portfolio page and the analyst read, in one snapshot.
pub struct Figures {
    pub valuation: Valuation,
    /// The converted holdings restated in the base currency.
    pub in_base: Vec<Holding>,
    pub metrics: PortfolioMetrics,
    pub history: Vec<DayTotal>,
    pub rates_day: Option<String>,
}

pub fn figures(conn: &Connection, user_id: i64, span: Span, now: Timestamp) -> Result<Figures> {
    db::read(conn, |conn| {
        let list = holdings::list(conn, user_id)?;
        let base = prices::base_currency(conn, user_id)?;
        let rates = Rates::load(conn)?;
        let valuation = Valuation::of(&list, base, &rates);
        let in_base = valuation.in_base(&rates);
        let mut metrics = analyst::metrics(&in_base);
        metrics.base_currency = base;
        metrics.change_30d = history::change_30d(conn, user_id, base, valuation.total, now)?;
        Ok(Figures {
            history: history::series(conn, user_id, base, span, now)?,
            rates_day: prices::rates_day(conn)?,
            valuation,
            in_base,
            metrics,
        })
    })
}

/// A posted list (the analyst's body) weighed in `base`: the holdings that
/// convert, restated, and their metrics.
pub fn weighed(
    conn: &Connection,
    list: &[Holding],
    base: Currency,
) -> Result<(Vec<Holding>, PortfolioMetrics)> {
    let rates = Rates::load(conn)?;
    let in_base = Valuation::of(list, base, &rates).in_base(&rates);
    let mut metrics = analyst::metrics(&in_base);
    metrics.base_currency = base;
    Ok((in_base, metrics))
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

/// Checks an amount: 0 ≤ x ≤ 1e12.
pub fn check_amount(name: &str, x: Decimal) -> std::result::Result<Decimal, String> {
    if x >= Decimal::ZERO && x <= Decimal::from_int(MAX_AMOUNT as i64) {
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
        currency: h.currency,
        price_source: h.price_source,
        price_at: h.price_at,
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
