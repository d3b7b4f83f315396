//! Holdings in and out as CSV: the header `symbol,quantity,price,cost_basis,currency`,
//! numbers as the form takes them (a decimal point or comma), cost basis and
//! currency may be empty. An import is all rows or none: every bad row is
//! named with its line and reason, and nothing is saved until all are good.

use rusqlite::Connection;

use crate::clock::Timestamp;
use crate::db::{self, holdings, prices};
use crate::error::{Error, Result};
use crate::money::Currency;
use crate::services::holding_form::{form_value, parse_amount};
use crate::services::portfolio::{normalise_symbol, Holding, MAX_HOLDINGS};

pub const HEADER: &str = "symbol,quantity,price,cost_basis,currency";
/// The most an import may be (SPEC §10): the form's body limit.
pub const MAX_BYTES: usize = 64 * 1024;

/// One refused line, 1-based as an editor counts.
#[derive(Clone, Debug, PartialEq)]
pub struct BadRow {
    pub line: usize,
    pub reason: String,
}

impl std::fmt::Display for BadRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

/// Reads the whole file, or says what is wrong with every bad line.
/// `base` is the currency of a row that leaves its currency empty.
pub fn parse(text: &str, base: Currency) -> std::result::Result<Vec<Holding>, Vec<BadRow>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l));
    let bad = |line, reason: String| vec![BadRow { line, reason }];
    let Some((_, header)) = lines.by_ref().find(|(_, l)| !l.trim().is_empty()) else {
        return Err(bad(
            1,
            format!("the file is empty; the first line must be {HEADER}"),
        ));
    };
    // A spreadsheet set to a decimal comma writes `;` between fields.
    let delimiter = if header.contains(';') && !header.contains(',') {
        ';'
    } else {
        ','
    };
    let names: Vec<String> = split(header, delimiter)
        .map_err(|e| bad(1, e))?
        .iter()
        .map(|n| n.trim().to_ascii_lowercase())
        .collect();
    if names != HEADER.split(',').collect::<Vec<_>>() {
        return Err(bad(
            1,
            format!("the first line must be {HEADER}, not {:?}", header.trim()),
        ));
    }
    let mut rows: Vec<Holding> = Vec::new();
    let mut errors = Vec::new();
    for (line, raw) in lines {
        if raw.trim().is_empty() {
            continue;
        }
        match row(raw, delimiter, base) {
            Ok(h) if rows.iter().any(|r| r.symbol == h.symbol) => errors.push(BadRow {
                line,
                reason: format!("{} appears on an earlier line too", h.symbol),
            }),
            Ok(h) => rows.push(h),
            Err(reason) => errors.push(BadRow { line, reason }),
        }
    }
    if rows.len() > MAX_HOLDINGS {
        errors.push(BadRow {
            line: 1,
            reason: format!(
                "{} holdings; a portfolio holds at most {MAX_HOLDINGS}",
                rows.len()
            ),
        });
    }
    if errors.is_empty() {
        Ok(rows)
    } else {
        Err(errors)
    }
}

fn row(raw: &str, delimiter: char, base: Currency) -> std::result::Result<Holding, String> {
    let fields = split(raw, delimiter)?;
    if fields.len() != 5 {
        return Err(format!(
            "{} fields where {HEADER} needs 5 (a decimal comma needs quotes: \"190,50\")",
            fields.len()
        ));
    }
    let symbol = normalise_symbol(&fields[0])?;
    let quantity = parse_amount("quantity", "10 or 2.5", &fields[1])?;
    let price = parse_amount("price", "190.50", &fields[2])?;
    let cost_basis = match fields[3].trim() {
        "" => None,
        c => Some(parse_amount("cost_basis", "150 or 98,10", c)?),
    };
    let currency = match fields[4].trim() {
        "" => base,
        c => Currency::parse(c).ok_or_else(|| {
            format!("currency {c:?} is not a three-letter ISO 4217 code like USD or EUR")
        })?,
    };
    Ok(Holding::typed(
        &symbol, quantity, price, cost_basis, currency,
    ))
}

/// Splits one CSV line: fields may be quoted (`"190,50"`, `""` for a quote).
fn split(line: &str, delimiter: char) -> std::result::Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = line.trim_end_matches('\r').chars().peekable();
    let mut quoted = false;
    let mut at_start = true;
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            '"' if quoted => {
                quoted = false;
                // Only spaces may follow a closing quote before the delimiter.
                while chars.peek().is_some_and(|c| *c == ' ') {
                    chars.next();
                }
                if chars.peek().is_some_and(|c| *c != delimiter) {
                    return Err("text after a closing quote".into());
                }
            }
            '"' if at_start && field.trim().is_empty() => {
                field.clear();
                quoted = true;
            }
            c if c == delimiter && !quoted => {
                fields.push(std::mem::take(&mut field));
                at_start = true;
                continue;
            }
            c => field.push(c),
        }
        at_start = false;
    }
    if quoted {
        return Err("a quote that is never closed".into());
    }
    fields.push(field);
    Ok(fields)
}

/// What an import did.
#[derive(Clone, Debug, PartialEq)]
pub struct Imported {
    pub added: usize,
    pub updated: usize,
    pub total: usize,
}

/// Adds the file's holdings (a symbol already held is replaced, with a typed
/// price), all in one transaction, or refuses every one of them.
pub fn import(
    conn: &Connection,
    user_id: i64,
    text: &str,
    now: Timestamp,
) -> Result<std::result::Result<Imported, Vec<BadRow>>> {
    if text.len() > MAX_BYTES {
        return Ok(Err(vec![BadRow {
            line: 1,
            reason: "the file is over 64 KiB".into(),
        }]));
    }
    let base = prices::base_currency(conn, user_id)?;
    let rows = match parse(text, base) {
        Ok(rows) => rows,
        Err(errors) => return Ok(Err(errors)),
    };
    db::write(conn, |tx| {
        let mut added = 0;
        for h in &rows {
            if !holdings::exists(tx, user_id, &h.symbol)? {
                added += 1;
            }
            holdings::upsert(tx, user_id, h, now)?;
        }
        let total = holdings::count(tx, user_id)?;
        if total > MAX_HOLDINGS {
            // Rolled back: the file and what is held already are too many.
            return Err(Error::BadRequest(format!(
                "This import would make {total} holdings; a portfolio holds at most {MAX_HOLDINGS}."
            )));
        }
        Ok(Ok(Imported {
            added,
            updated: rows.len() - added,
            total,
        }))
    })
}

/// The holdings as the same CSV: decimal points, every digit kept, and
/// never the ambiguous `1.234` shape (written `1.2340`), so it reads back.
pub fn export(holdings: &[Holding]) -> String {
    let mut out = String::with_capacity(64 + holdings.len() * 48);
    out.push_str(HEADER);
    out.push_str("\r\n");
    for h in holdings {
        let cost = h.cost_basis.map(form_value).unwrap_or_default();
        out.push_str(&format!(
            "{},{},{},{},{}\r\n",
            h.symbol,
            form_value(h.quantity),
            form_value(h.price),
            cost,
            h.currency
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Decimal;

    fn d(s: &str) -> Decimal {
        Decimal::parse(s).unwrap()
    }

    #[test]
    fn reads_points_commas_quotes_and_empty_fields() {
        let text = "\u{feff}symbol,quantity,price,cost_basis,currency\r\n\
                    aapl,10,190.50,150,usd\r\n\
                    SAP.DE,4,\"120,25\",,EUR\r\n\
                    \r\n\
                    CASH,1000,1,,\r\n";
        let rows = parse(text, Currency::USD).unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].symbol, "AAPL");
        assert_eq!(rows[1].price, d("120.25"));
        assert_eq!(rows[1].currency, Currency::EUR);
        assert_eq!(rows[2].cost_basis, None);
        assert_eq!(rows[2].currency, Currency::USD);
        let semicolons = "symbol;quantity;price;cost_basis;currency\nVWCE.DE;2,5;110,10;;EUR\n";
        assert_eq!(
            parse(semicolons, Currency::USD).unwrap()[0].quantity,
            d("2.5")
        );
    }

    #[test]
    fn every_bad_row_is_named_with_its_line() {
        let text = "symbol,quantity,price,cost_basis,currency\n\
                    AAPL,10,190.50,,USD\n\
                    a b,1,1,,\n\
                    MSFT,ten,400,,\n\
                    AAPL,1,1,,\n\
                    X,1,1e3,,\n\
                    Y,1,1,,EURO\n\
                    Z,1,190,50,,\n";
        let errors = parse(text, Currency::USD).unwrap_err();
        let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [3, 4, 5, 6, 7, 8]);
        assert!(errors[0].reason.starts_with("a symbol"), "{}", errors[0]);
        assert!(errors[1].reason.contains("quantity"), "{}", errors[1]);
        assert!(errors[2].reason.contains("earlier line"), "{}", errors[2]);
        assert!(errors[3].reason.contains("in full"), "{}", errors[3]);
        assert!(errors[4].reason.contains("ISO 4217"), "{}", errors[4]);
        assert!(errors[5].reason.contains("6 fields"), "{}", errors[5]);
        assert_eq!(
            errors[0].to_string(),
            format!("line 3: {}", errors[0].reason)
        );
        let wrong_header = parse("sym,qty\nA,1\n", Currency::USD).unwrap_err();
        assert_eq!(wrong_header[0].line, 1);
        assert!(parse("", Currency::USD).is_err());
        assert!(parse(
            "symbol,quantity,price,cost_basis,currency\n\"A,1,1,,\n",
            Currency::USD
        )
        .unwrap_err()[0]
            .reason
            .contains("never closed"));
    }

    #[test]
    fn an_export_reads_back_as_the_same_holdings() {
        let list = vec![
            Holding::typed(
                "AAPL",
                d("10"),
                d("190.5"),
                Some(d("150.125")),
                Currency::USD,
            ),
            Holding::typed("SAP.DE", d("0.00000001"), d("120"), None, Currency::EUR),
        ];
        let csv = export(&list);
        assert!(csv.starts_with(
            "symbol,quantity,price,cost_basis,currency\r\nAAPL,10,190.5,150.1250,USD\r\n"
        ));
        assert_eq!(parse(&csv, Currency::USD).unwrap(), list);
    }
}
