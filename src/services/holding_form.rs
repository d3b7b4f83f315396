//! What a person types into the holding form, read without guessing: a
//! decimal point or a decimal comma (`190,50` = `190.50`), no thousands
//! separators, no exponents. Every field is checked, so the page can mark
//! all the bad ones at once. The JSON API keeps JSON numbers (`portfolio`).

use super::portfolio::{normalise_symbol, Holding, MAX_AMOUNT};
use crate::money::{Currency, Decimal};

/// The rule as the form states it under the number fields.
pub const NUMBER_RULE: &str =
    "Decimals with a point or a comma (190.50 or 190,50); no thousands separators.";

/// What is wrong with each field; `None` where the field is fine.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FieldErrors {
    pub symbol: Option<String>,
    pub quantity: Option<String>,
    pub price: Option<String>,
    pub cost_basis: Option<String>,
    pub currency: Option<String>,
}

impl FieldErrors {
    pub fn is_empty(&self) -> bool {
        self.symbol.is_none()
            && self.quantity.is_none()
            && self.price.is_none()
            && self.cost_basis.is_none()
            && self.currency.is_none()
    }
}

/// The form's fields as typed.
#[derive(Clone, Copy, Debug, Default)]
pub struct Fields<'a> {
    pub symbol: &'a str,
    pub quantity: &'a str,
    pub price: &'a str,
    pub cost_basis: &'a str,
    /// Empty means the account's base currency.
    pub currency: &'a str,
}

/// Builds a checked holding (a typed price) from the fields, or says what
/// is wrong with every one of them. `price_optional`: the holding is to be
/// quoted, so an empty price waits for the provider's (0 until then).
pub fn from_fields(
    f: Fields,
    base: Currency,
    price_optional: bool,
) -> Result<Holding, FieldErrors> {
    let symbol = normalise_symbol(f.symbol).map_err(|m| sentence(&m));
    let quantity = parse_amount("Quantity", "10 or 2.5", f.quantity);
    let price = if price_optional && f.price.trim().is_empty() {
        Ok(Decimal::ZERO)
    } else {
        parse_amount("Price", "190.50", f.price)
    };
    let cost_basis = if f.cost_basis.trim().is_empty() {
        Ok(None)
    } else {
        parse_amount("Cost basis", "150 or 98,10", f.cost_basis).map(Some)
    };
    let currency = if f.currency.trim().is_empty() {
        Ok(base)
    } else {
        Currency::parse(f.currency).ok_or_else(|| {
            "Currency is a three-letter ISO 4217 code, like USD, EUR or GBP.".to_string()
        })
    };
    match (symbol, quantity, price, cost_basis, currency) {
        (Ok(symbol), Ok(quantity), Ok(price), Ok(cost_basis), Ok(currency)) => Ok(Holding::typed(
            &symbol, quantity, price, cost_basis, currency,
        )),
        (s, q, p, c, cur) => Err(FieldErrors {
            symbol: s.err(),
            quantity: q.err(),
            price: p.err(),
            cost_basis: c.err(),
            currency: cur.err(),
        }),
    }
}

/// Reads one amount: digits with at most one decimal mark, `.` or `,`.
/// `1,234` or `1.234` (one to three digits, a mark, then exactly three)
/// could be a thousand or a decimal, so it is refused, never guessed.
pub fn parse_amount(name: &str, example: &str, raw: &str) -> Result<Decimal, String> {
    let s = raw.trim();
    let not_a_number = || format!("{name} must be a number, like {example}.");
    if s.is_empty() {
        return Err(format!("{name} is required, like {example}."));
    }
    if s.len() > 64 {
        return Err(not_a_number());
    }
    let unsigned = s.strip_prefix('-');
    let body = unsigned.unwrap_or(s);
    if !body
        .chars()
        .all(|c| c.is_ascii_digit() || c == '.' || c == ',')
    {
        let exponent = body.contains(['e', 'E'])
            && body.chars().any(|c| c.is_ascii_digit())
            && body
                .chars()
                .all(|c| c.is_ascii_digit() || ".,eE+-".contains(c));
        return Err(if exponent {
            format!("{name} must be written out in full, like 1000 rather than 1e3.")
        } else {
            not_a_number()
        });
    }
    let marks: Vec<(usize, char)> = body
        .char_indices()
        .filter(|(_, c)| !c.is_ascii_digit())
        .collect();
    let (whole, fraction) = match marks.as_slice() {
        [] => (body, ""),
        [(at, _)] => (&body[..*at], &body[at + 1..]),
        _ => {
            return Err(format!(
                "{name} has more than one separator: use one decimal mark and no thousands separators, like 1234.56."
            ))
        }
    };
    if whole.is_empty() && fraction.is_empty() {
        return Err(not_a_number());
    }
    if fraction.len() == 3 && (1..=3).contains(&whole.len()) && !whole.starts_with('0') {
        return Err(format!(
            "{name} \"{s}\" could mean {whole}{fraction} or {whole}.{fraction}: write {whole}{fraction}, or {whole}.{fraction}0 for the decimal."
        ));
    }
    if fraction.trim_end_matches('0').len() > crate::money::PLACES as usize {
        return Err(format!(
            "{name} has more than {} decimals; round it to 8 places.",
            crate::money::PLACES
        ));
    }
    if whole.trim_start_matches('0').len() > 13 {
        return Err(format!("{name} must be at most 1,000,000,000,000."));
    }
    let x = Decimal::parse(&format!("{whole}.{fraction}0")).ok_or_else(not_a_number)?;
    if unsigned.is_some() && !x.is_zero() {
        return Err(format!("{name} must be 0 or more."));
    }
    if x > Decimal::from_int(MAX_AMOUNT as i64) {
        return Err(format!("{name} must be at most 1,000,000,000,000."));
    }
    Ok(x)
}

/// A value as the form takes it back: plain digits with a point, never an
/// exponent and never the ambiguous three-decimal shape.
pub fn form_value(x: Decimal) -> String {
    let s = x.to_string();
    match s.split_once('.') {
        Some((whole, fraction)) if fraction.len() == 3 && whole != "0" => format!("{s}0"),
        _ => s,
    }
}

fn sentence(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => format!(
            "{}{}.",
            first.to_uppercase(),
            chars.as_str().trim_end_matches('.')
        ),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn amount(raw: &str) -> Result<f64, String> {
        parse_amount("Price", "190.50", raw).map(Decimal::to_f64)
    }

    fn fields<'a>(
        symbol: &'a str,
        quantity: &'a str,
        price: &'a str,
        cost_basis: &'a str,
    ) -> Fields<'a> {
        Fields {
            symbol,
            quantity,
            price,
            cost_basis,
            currency: "",
        }
    }

    #[test]
    fn a_decimal_comma_is_a_decimal_point() {
        assert_eq!(amount("190,50"), Ok(190.5));
        assert_eq!(amount("190.50"), Ok(190.5));
        assert_eq!(amount(" 2,5 "), Ok(2.5));
        assert_eq!(amount("0,125"), Ok(0.125));
        assert_eq!(amount("0.125"), Ok(0.125));
        assert_eq!(amount("1234,567"), Ok(1234.567));
        assert_eq!(amount("1000000000000"), Ok(1e12));
        assert_eq!(amount("0"), Ok(0.0));
        assert_eq!(amount("-0"), Ok(0.0));
        assert_eq!(amount(",5"), Ok(0.5));
        assert_eq!(amount("5."), Ok(5.0));
    }

    #[test]
    fn ambiguous_numbers_and_exponents_are_refused_in_words() {
        for raw in ["1,234,5", "1.234,56", "1,234.56", "1.2.3"] {
            let e = amount(raw).unwrap_err();
            assert!(e.contains("more than one separator"), "{raw}: {e}");
        }
        for raw in ["1,234", "1.234", "190.500"] {
            let e = amount(raw).unwrap_err();
            assert!(e.contains("could mean"), "{raw}: {e}");
        }
        for raw in ["1e3", "1E3", "2.5e-3", "1e+12"] {
            let e = amount(raw).unwrap_err();
            assert!(e.contains("in full"), "{raw}: {e}");
        }
        assert_eq!(amount("-1").unwrap_err(), "Price must be 0 or more.");
        assert_eq!(
            amount("1000000000001").unwrap_err(),
            "Price must be at most 1,000,000,000,000."
        );
        for raw in ["abc", "NaN", "inf", "1 234", "+5", ".", ",", "1,2a"] {
            let e = amount(raw).unwrap_err();
            assert_eq!(e, "Price must be a number, like 190.50.", "{raw}");
        }
        assert!(amount("").unwrap_err().contains("required"));
    }

    #[test]
    fn every_bad_field_is_named_at_once() {
        let errors =
            from_fields(fields("a b", "ten", "1e3", "-1"), Currency::USD, false).unwrap_err();
        assert!(errors.symbol.is_some_and(|m| m.starts_with("A symbol")));
        assert!(errors.quantity.is_some_and(|m| m.starts_with("Quantity")));
        assert!(errors.price.is_some_and(|m| m.starts_with("Price")));
        assert!(errors
            .cost_basis
            .is_some_and(|m| m.starts_with("Cost basis")));
        let ok = from_fields(fields(" aapl ", "10", "190,50", ""), Currency::USD, false).unwrap();
        assert_eq!(
            (
                ok.symbol.as_str(),
                ok.quantity.to_f64(),
                ok.price.to_f64(),
                ok.cost_basis,
                ok.currency
            ),
            ("AAPL", 10.0, 190.5, None, Currency::USD)
        );
        let bad_currency = Fields {
            currency: "euro",
            ..fields("A", "1", "1", "")
        };
        assert!(from_fields(bad_currency, Currency::USD, false)
            .unwrap_err()
            .currency
            .is_some());
        let eur = Fields {
            currency: " eur ",
            ..fields("A", "1", "", "")
        };
        let quoted = from_fields(eur, Currency::USD, true).unwrap();
        assert_eq!(
            (quoted.currency, quoted.price),
            (Currency::EUR, Decimal::ZERO)
        );
        assert!(amount("0.000000001")
            .unwrap_err()
            .contains("more than 8 decimals"));
    }

    #[test]
    fn form_values_read_back_as_the_same_number() {
        for x in [0.0, 1.0, 1.234, 0.125, 190.5, 1e12, 1234.567, 0.000001] {
            let shown = form_value(Decimal::from_f64(x).unwrap());
            assert!(!shown.contains('e'), "{shown}");
            assert_eq!(amount(&shown), Ok(x), "{shown}");
        }
    }
}
