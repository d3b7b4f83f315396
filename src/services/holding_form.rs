//! What a person types into the holding form, read without guessing: a
//! decimal point or a decimal comma (`190,50` = `190.50`), no thousands
//! separators, no exponents. Every field is checked, so the page can mark
//! all the bad ones at once. The JSON API keeps JSON numbers (`portfolio`).

use super::portfolio::{normalise_symbol, Holding, MAX_AMOUNT};

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
}

impl FieldErrors {
    pub fn is_empty(&self) -> bool {
        self.symbol.is_none()
            && self.quantity.is_none()
            && self.price.is_none()
            && self.cost_basis.is_none()
    }
}

/// Builds a checked holding from the four fields, or says what is wrong
/// with every one of them.
pub fn from_fields(
    symbol: &str,
    quantity: &str,
    price: &str,
    cost_basis: &str,
) -> Result<Holding, FieldErrors> {
    let symbol = normalise_symbol(symbol).map_err(|m| sentence(&m));
    let quantity = parse_amount("Quantity", "10 or 2.5", quantity);
    let price = parse_amount("Price", "190.50", price);
    let cost_basis = if cost_basis.trim().is_empty() {
        Ok(None)
    } else {
        parse_amount("Cost basis", "150 or 98,10", cost_basis).map(Some)
    };
    match (symbol, quantity, price, cost_basis) {
        (Ok(symbol), Ok(quantity), Ok(price), Ok(cost_basis)) => Ok(Holding {
            symbol,
            quantity,
            price,
            cost_basis,
        }),
        (s, q, p, c) => Err(FieldErrors {
            symbol: s.err(),
            quantity: q.err(),
            price: p.err(),
            cost_basis: c.err(),
        }),
    }
}

/// Reads one amount: digits with at most one decimal mark, `.` or `,`.
/// `1,234` or `1.234` (one to three digits, a mark, then exactly three)
/// could be a thousand or a decimal, so it is refused, never guessed.
pub fn parse_amount(name: &str, example: &str, raw: &str) -> Result<f64, String> {
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
    let x: f64 = format!("{whole}.{fraction}0")
        .parse()
        .map_err(|_| not_a_number())?;
    if unsigned.is_some() && x != 0.0 {
        return Err(format!("{name} must be 0 or more."));
    }
    if !(x.is_finite() && x <= MAX_AMOUNT) {
        return Err(format!("{name} must be at most 1,000,000,000,000."));
    }
    Ok(x.abs())
}

/// A value as the form takes it back: plain digits with a point, never an
/// exponent and never the ambiguous three-decimal shape.
pub fn form_value(x: f64) -> String {
    let s = format!("{x}");
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
        parse_amount("Price", "190.50", raw)
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
        let errors = from_fields("a b", "ten", "1e3", "-1").unwrap_err();
        assert!(errors.symbol.is_some_and(|m| m.starts_with("A symbol")));
        assert!(errors.quantity.is_some_and(|m| m.starts_with("Quantity")));
        assert!(errors.price.is_some_and(|m| m.starts_with("Price")));
        assert!(errors
            .cost_basis
            .is_some_and(|m| m.starts_with("Cost basis")));
        let ok = from_fields(" aapl ", "10", "190,50", "").unwrap();
        assert_eq!(
            (ok.symbol.as_str(), ok.quantity, ok.price, ok.cost_basis),
            ("AAPL", 10.0, 190.5, None)
        );
    }

    #[test]
    fn form_values_read_back_as_the_same_number() {
        for x in [0.0, 1.0, 1.234, 0.125, 190.5, 1e12, 1234.567, 0.000001] {
            let shown = form_value(x);
            assert!(!shown.contains('e'), "{shown}");
            assert_eq!(amount(&shown), Ok(x), "{shown}");
        }
    }
}
