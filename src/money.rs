//! Exact amounts: quantities, prices, values and rates as a whole number of
//! hundred-millionths (`i128`), stored as decimal text (`"190.5"`) and summed
//! as integers, so a total is never off by float drift. Floats appear only
//! where a ratio is wanted (weights) or where JSON carries a number.

use std::fmt;

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use serde::{Serialize, Serializer};

/// Decimal places kept: 8 (a satoshi; more than any price list shows).
pub const PLACES: u32 = 8;
const SCALE: i128 = 10i128.pow(PLACES);

/// A signed decimal with 8 places.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Decimal(i128);

impl Decimal {
    pub const ZERO: Decimal = Decimal(0);
    pub const ONE: Decimal = Decimal(SCALE);

    pub fn from_int(n: i64) -> Decimal {
        Decimal(n as i128 * SCALE)
    }

    /// Reads `123`, `123.45`, `-0.5`, `.5`, `5.` (a point only): what the
    /// database, the providers and the already-checked form text hold.
    /// More than 8 decimals, an exponent or anything else is `None`.
    pub fn parse(s: &str) -> Option<Decimal> {
        let s = s.trim();
        let (negative, body) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s.strip_prefix('+').unwrap_or(s)),
        };
        let (whole, fraction) = body.split_once('.').unwrap_or((body, ""));
        if (whole.is_empty() && fraction.is_empty())
            || !whole.bytes().all(|b| b.is_ascii_digit())
            || !fraction.bytes().all(|b| b.is_ascii_digit())
            || whole.len() > 24
        {
            return None;
        }
        // Trailing zeros past the 8th place change nothing.
        let fraction = fraction.trim_end_matches('0');
        if fraction.len() > PLACES as usize {
            return None;
        }
        // At most 8 digits, checked above.
        let frac = digits(fraction)? * 10i128.pow(PLACES - fraction.len() as u32);
        let units = if whole.len() <= 10 {
            // Below 10^18 units: no overflow to check.
            digits(whole)? * SCALE + frac
        } else {
            digits(whole)?.checked_mul(SCALE)?.checked_add(frac)?
        };
        Some(Decimal(if negative { -units } else { units }))
    }

    /// A JSON number (or a legacy REAL column) as the shortest decimal that
    /// reads back as the same float: `190.5`, never `190.499999…`.
    pub fn from_f64(x: f64) -> Option<Decimal> {
        if !x.is_finite() {
            return None;
        }
        Decimal::parse(&format!("{x}"))
    }

    pub fn to_f64(self) -> f64 {
        // Whole and fraction apart, so large values keep their cents.
        (self.0 / SCALE) as f64 + (self.0 % SCALE) as f64 / SCALE as f64
    }

    pub fn is_zero(self) -> bool {
        self.0 == 0
    }

    pub fn is_negative(self) -> bool {
        self.0 < 0
    }

    pub fn checked_add(self, other: Decimal) -> Option<Decimal> {
        self.0.checked_add(other.0).map(Decimal)
    }

    pub fn checked_sub(self, other: Decimal) -> Option<Decimal> {
        self.0.checked_sub(other.0).map(Decimal)
    }

    /// `self × other`, rounded half away from zero to 8 places.
    pub fn checked_mul(self, other: Decimal) -> Option<Decimal> {
        mul_div(self.0, other.0, SCALE).map(Decimal)
    }

    /// `self × numerator / denominator` (an exchange rate crossed through
    /// the euro), rounded half away from zero to 8 places.
    pub fn checked_mul_ratio(self, numerator: Decimal, denominator: Decimal) -> Option<Decimal> {
        mul_div(self.0, numerator.0, denominator.0).map(Decimal)
    }

    /// Rounded to `places` decimals (half away from zero).
    pub fn round_to(self, places: u32) -> Decimal {
        let step = 10i128.pow(PLACES - places.min(PLACES));
        let half = step / 2;
        let q = if self.0 >= 0 {
            (self.0 + half) / step
        } else {
            (self.0 - half) / step
        };
        Decimal(q * step)
    }

    /// Money as people read it: thousands separators and two decimals
    /// (`-1,234.50`), never `-0.00`.
    pub fn money(self) -> String {
        let cents = self.cents();
        let (whole, part) = (
            cents.unsigned_abs() / 100,
            (cents.unsigned_abs() % 100) as u8,
        );
        let mut out = String::with_capacity(24);
        if cents < 0 {
            out.push('-');
        }
        push_grouped(&mut out, whole);
        out.push('.');
        out.push(char::from(b'0' + part / 10));
        out.push(char::from(b'0' + part % 10));
        out
    }

    /// Every decimal the amount has (`190.5`, `0.125`), as money when it has
    /// at most two (`190.50`) so people can check what they typed.
    pub fn amount(self) -> String {
        if self.0 % (SCALE / 100) == 0 {
            self.money()
        } else {
            self.to_string()
        }
    }

    /// Whole cents, rounded half away from zero. The page formats dozens of
    /// amounts a request, so what fits an `i64` (any amount below 92
    /// billion) skips the slower `i128` division.
    fn cents(self) -> i128 {
        const STEP: u64 = (SCALE / 100) as u64;
        match i64::try_from(self.0) {
            Ok(units) => {
                let q = ((units.unsigned_abs() + STEP / 2) / STEP) as i128;
                if units < 0 {
                    -q
                } else {
                    q
                }
            }
            Err(_) => self.round_to(2).0 / (SCALE / 100),
        }
    }
}

/// The value of a run of ASCII digits (already checked by the caller);
/// `None` past `i128`. Up to 18 digits in a `u64`, which is what every
/// amount read from the database takes.
fn digits(s: &str) -> Option<i128> {
    let b = s.as_bytes();
    if b.len() <= 18 {
        let mut n: u64 = 0;
        for &c in b {
            n = n * 10 + u64::from(c.checked_sub(b'0').filter(|d| *d <= 9)?);
        }
        return Some(i128::from(n));
    }
    let mut n: i128 = 0;
    for &c in b {
        let d = c.checked_sub(b'0').filter(|d| *d <= 9)?;
        n = n.checked_mul(10)?.checked_add(i128::from(d))?;
    }
    Some(n)
}

/// `n` with a comma between each group of three digits: `1,234,567`.
fn push_grouped(out: &mut String, mut n: u128) {
    // 39 digits and 12 commas at most.
    let mut buf = [0u8; 52];
    let mut at = buf.len();
    let mut count = 0;
    loop {
        let digit = match u64::try_from(n) {
            Ok(small) => {
                n = u128::from(small / 10);
                (small % 10) as u8
            }
            Err(_) => {
                let d = (n % 10) as u8;
                n /= 10;
                d
            }
        };
        if count > 0 && count % 3 == 0 {
            at -= 1;
            buf[at] = b',';
        }
        at -= 1;
        buf[at] = b'0' + digit;
        count += 1;
        if n == 0 {
            break;
        }
    }
    out.extend(buf[at..].iter().map(|&b| char::from(b)));
}

/// `a × b / c` without overflow for anything a portfolio holds: `a` is split
/// at `c` so each product stays far inside `i128`; rounded half away from
/// zero. `None` for a zero divisor or an answer past `i128`.
fn mul_div(a: i128, b: i128, c: i128) -> Option<i128> {
    if c == 0 {
        return None;
    }
    let negative = ((a < 0) != (b < 0)) != (c < 0);
    let (a, b, c) = (a.unsigned_abs(), b.unsigned_abs(), c.unsigned_abs());
    let (high, low) = (a / c, a % c);
    let whole = high.checked_mul(b)?;
    let rest = low.checked_mul(b)?;
    let (extra, remainder) = (rest / c, rest % c);
    let mut q = whole.checked_add(extra)?;
    if remainder.checked_mul(2)? >= c {
        q = q.checked_add(1)?;
    }
    let q = i128::try_from(q).ok()?;
    Some(if negative { -q } else { q })
}

/// The shortest exact text: `190.5`, `10`, `-0.00000001`.
impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SCALE_U64: u64 = SCALE as u64;
        if self.0 < 0 {
            f.write_str("-")?;
        }
        let units = self.0.unsigned_abs();
        let fraction = match u64::try_from(units) {
            Ok(small) => {
                fmt::Display::fmt(&(small / SCALE_U64), f)?;
                small % SCALE_U64
            }
            Err(_) => {
                fmt::Display::fmt(&(units / SCALE as u128), f)?;
                (units % SCALE as u128) as u64
            }
        };
        if fraction == 0 {
            return Ok(());
        }
        let mut digits = [b'0'; 9];
        digits[0] = b'.';
        let mut rest = fraction;
        for d in digits[1..].iter_mut().rev() {
            *d = b'0' + (rest % 10) as u8;
            rest /= 10;
        }
        let len = digits.iter().rposition(|&b| b != b'0').map_or(1, |i| i + 1);
        // ASCII digits and a point.
        f.write_str(std::str::from_utf8(&digits[..len]).unwrap_or_default())
    }
}

/// Stored as decimal text.
impl ToSql for Decimal {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.to_string()))
    }
}

impl FromSql for Decimal {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        match value {
            ValueRef::Text(_) => {
                let text = value.as_str()?;
                Decimal::parse(text)
                    .ok_or_else(|| FromSqlError::Other(format!("bad amount {text:?}").into()))
            }
            ValueRef::Integer(n) => Ok(Decimal::from_int(n)),
            ValueRef::Real(x) => Decimal::from_f64(x).ok_or(FromSqlError::InvalidType),
            _ => Err(FromSqlError::InvalidType),
        }
    }
}

/// JSON carries numbers, as the API always has.
impl Serialize for Decimal {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.to_f64())
    }
}

/// An ISO 4217 code: three ASCII capitals (`USD`, `EUR`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Currency([u8; 3]);

impl Currency {
    pub const USD: Currency = Currency(*b"USD");
    pub const EUR: Currency = Currency(*b"EUR");

    /// Trims and uppercases; anything but three letters A–Z is `None`.
    pub fn parse(raw: &str) -> Option<Currency> {
        let b = raw.trim().as_bytes();
        if b.len() != 3 || !b.iter().all(u8::is_ascii_alphabetic) {
            return None;
        }
        Some(Currency([
            b[0].to_ascii_uppercase(),
            b[1].to_ascii_uppercase(),
            b[2].to_ascii_uppercase(),
        ]))
    }

    pub fn as_str(&self) -> &str {
        // Three ASCII letters, checked at construction.
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl ToSql for Currency {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for Currency {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let text = value.as_str()?;
        Currency::parse(text)
            .ok_or_else(|| FromSqlError::Other(format!("bad currency {text:?}").into()))
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Sums exactly; `None` only past `i128`, which no 500 holdings reach.
pub fn sum<'a>(amounts: impl IntoIterator<Item = &'a Decimal>) -> Option<Decimal> {
    amounts
        .into_iter()
        .try_fold(Decimal::ZERO, |acc, x| acc.checked_add(*x))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::parse(s).unwrap()
    }

    #[test]
    fn parses_and_prints_the_shortest_exact_text() {
        for (raw, shown) in [
            ("190.50", "190.5"),
            ("10", "10"),
            ("0.125", "0.125"),
            (".5", "0.5"),
            ("5.", "5"),
            ("-0.00000001", "-0.00000001"),
            ("1000000000000", "1000000000000"),
            ("190.50000000000", "190.5"),
        ] {
            assert_eq!(d(raw).to_string(), shown, "{raw}");
        }
        for bad in ["", ".", "1e3", "1,5", "0.000000001", "abc", "1.2.3", "--1"] {
            assert_eq!(Decimal::parse(bad), None, "{bad}");
        }
        assert_eq!(Decimal::from_f64(0.1), Some(d("0.1")));
        assert_eq!(Decimal::from_f64(190.5), Some(d("190.5")));
        assert_eq!(Decimal::from_f64(1e12), Some(d("1000000000000")));
    }

    #[test]
    fn sums_have_no_float_drift() {
        // 0.1 + 0.2 is 0.30000000000000004 in floats.
        assert_eq!(sum(&[d("0.1"), d("0.2")]), Some(d("0.3")));
        let many = vec![d("0.01"); 10_000];
        assert_eq!(sum(&many), Some(d("100")));
        assert_eq!(d("3").checked_mul(d("0.1")), Some(d("0.3")));
        assert_eq!(
            d("1000000000000")
                .checked_mul(d("1000000000000"))
                .map(|x| x.to_string()),
            Some("1000000000000000000000000".to_string())
        );
    }

    #[test]
    fn crossed_rates_round_half_away_from_zero() {
        // 100 EUR in USD at 1.0876 per euro.
        assert_eq!(
            d("100").checked_mul_ratio(d("1.0876"), d("1")),
            Some(d("108.76"))
        );
        // 100 GBP in USD through the euro: 100 × 1.0876 / 0.8571.
        let usd = d("100")
            .checked_mul_ratio(d("1.0876"), d("0.8571"))
            .unwrap();
        assert_eq!(usd.to_string(), "126.89301132");
        assert_eq!(
            d("1").checked_mul_ratio(d("2"), d("3")),
            Some(d("0.66666667"))
        );
        assert_eq!(
            d("-1").checked_mul_ratio(d("2"), d("3")),
            Some(d("-0.66666667"))
        );
        assert_eq!(d("1").checked_mul_ratio(d("1"), Decimal::ZERO), None);
    }

    #[test]
    fn money_reads_well() {
        assert_eq!(d("1234567.891").money(), "1,234,567.89");
        assert_eq!(d("999.999").money(), "1,000.00");
        assert_eq!(d("-0.001").money(), "0.00");
        assert_eq!(d("-1234").money(), "-1,234.00");
        assert_eq!(d("190.5").amount(), "190.50");
        assert_eq!(d("0.1234").amount(), "0.1234");
        assert_eq!(d("0.125").round_to(2), d("0.13"));
        assert_eq!(d("-0.005").money(), "-0.01");
        assert_eq!(d("0.004999").money(), "0.00");
        assert_eq!(d("12").money(), "12.00");
        assert_eq!(d("123456").money(), "123,456.00");
        // Past an i64 of units (92 billion): the i128 path.
        assert_eq!(d("123456789012.345").money(), "123,456,789,012.35");
        assert_eq!(d("-123456789012.344").money(), "-123,456,789,012.34");
        assert_eq!(
            d("100000000000000000000000").money(),
            "100,000,000,000,000,000,000,000.00"
        );
        assert_eq!(d("123456789012.5").amount(), "123,456,789,012.50");
        assert_eq!(d("123456789012.125").amount(), "123456789012.125");
    }

    #[test]
    fn large_amounts_print_and_parse_exactly() {
        for raw in [
            "123456789012.12345678",
            "-123456789012.00000001",
            "999999999999999999999999",
            "0.10000001",
        ] {
            assert_eq!(d(raw).to_string(), raw);
        }
        assert_eq!(Decimal::parse("9999999999999999999999999"), None);
    }
}
