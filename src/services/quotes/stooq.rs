//! Stooq's quote CSV: `GET /q/l/?s=aapl.us&f=sd2t2ohlcv&h&e=csv` answers
//! `Symbol,Date,Time,Open,High,Low,Close,Volume` and one row
//! (`AAPL.US,2026-10-02,22:00:00,226.1,228.0,225.3,227.5,41234567`), or
//! `N/D` in every field for a symbol it does not know. Its dates and
//! times are Warsaw time (CET/CEST).

use super::{query_value, Outcome};
use crate::clock::{parse_date, Timestamp, HOUR, MINUTE};
use crate::money::Decimal;

/// A symbol without an exchange suffix is asked as a US listing.
pub fn stooq_symbol(symbol: &str) -> String {
    let lower = symbol.to_ascii_lowercase();
    if lower.contains('.') {
        lower
    } else {
        format!("{lower}.us")
    }
}

pub fn url(base: &str, symbol: &str) -> String {
    format!(
        "{base}/q/l/?s={}&f=sd2t2ohlcv&h&e=csv",
        query_value(&stooq_symbol(symbol))
    )
}

pub fn read(text: &str) -> Outcome {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let header: Vec<&str> = match lines.next() {
        Some(h) => h.split(',').map(str::trim).collect(),
        None => return Outcome::Failed("an empty answer".into()),
    };
    let column = |name: &str| header.iter().position(|h| h.eq_ignore_ascii_case(name));
    let (Some(date_at), Some(time_at), Some(close_at)) =
        (column("Date"), column("Time"), column("Close"))
    else {
        return Outcome::Failed("not Stooq's quote CSV (no Date, Time and Close columns)".into());
    };
    let Some(row) = lines.next() else {
        return Outcome::Failed("a header without a row".into());
    };
    let fields: Vec<&str> = row.split(',').map(str::trim).collect();
    let field = |i: usize| fields.get(i).copied().unwrap_or("");
    if field(close_at) == "N/D" || field(date_at) == "N/D" {
        return Outcome::Unknown("Stooq has no quote for this symbol (N/D)".into());
    }
    let Some(price) = Decimal::parse(field(close_at)).filter(|p| *p > Decimal::ZERO) else {
        return Outcome::Failed(format!("a close we cannot read: {:?}", field(close_at)));
    };
    match warsaw_to_utc(field(date_at), field(time_at)) {
        Some(at) => Outcome::Price { price, at },
        None => Outcome::Failed(format!(
            "a date and time we cannot read: {:?} {:?}",
            field(date_at),
            field(time_at)
        )),
    }
}

/// `2026-10-02` `22:00:00` in Warsaw: CEST (UTC+2) from the last Sunday of
/// March 01:00 UTC to the last Sunday of October 01:00 UTC, else CET (UTC+1).
fn warsaw_to_utc(date: &str, time: &str) -> Option<Timestamp> {
    let day = parse_date(date)?;
    let parts: Vec<i64> = time
        .split(':')
        .map(|p| p.parse().ok().filter(|_| p.len() == 2))
        .collect::<Option<_>>()?;
    let [h, m, s] = parts[..] else { return None };
    if h > 23 || m > 59 || s > 59 {
        return None;
    }
    let local = day.plus(h * HOUR + m * MINUTE + s);
    let (year, _, _) = day.date();
    let summer_from = last_sunday(year, 3).plus(HOUR);
    let summer_to = last_sunday(year, 10).plus(HOUR);
    let as_summer = local.plus(-2 * HOUR);
    if as_summer >= summer_from && as_summer < summer_to {
        Some(as_summer)
    } else {
        Some(local.plus(-HOUR))
    }
}

/// Midnight UTC of the month's last Sunday.
fn last_sunday(year: i64, month: u32) -> Timestamp {
    let last = Timestamp::from_date(year, month, 31);
    // 1970-01-01 was a Thursday: day 0 → weekday 4 (Sunday = 0).
    let weekday = (last.secs().div_euclid(crate::clock::DAY) + 4).rem_euclid(7);
    last.plus(-weekday * crate::clock::DAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Stooq's answers as public projects' tests record them (CRLF lines).
    const KNOWN: &str = "Symbol,Date,Time,Open,High,Low,Close,Volume\r\nAAPL.US,2026-10-02,22:00:00,226.1,228.04,225.3,227.5,41234567\r\n";
    const UNKNOWN: &str =
        "Symbol,Date,Time,Open,High,Low,Close,Volume\r\nZZZZ.US,N/D,N/D,N/D,N/D,N/D,N/D,N/D\r\n";

    #[test]
    fn reads_a_quote_in_warsaw_time() {
        assert_eq!(
            read(KNOWN),
            Outcome::Price {
                price: Decimal::parse("227.5").unwrap(),
                // 22:00 CEST is 20:00 UTC.
                at: Timestamp::parse_rfc3339("2026-10-02T20:00:00Z").unwrap(),
            }
        );
        let winter = KNOWN.replace("2026-10-02", "2026-12-01");
        match read(&winter) {
            Outcome::Price { at, .. } => assert_eq!(at.to_string(), "2026-12-01T21:00:00Z"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unknown_and_broken_answers() {
        assert!(matches!(read(UNKNOWN), Outcome::Unknown(_)));
        assert!(matches!(read(""), Outcome::Failed(_)));
        assert!(matches!(read("<html>busy</html>"), Outcome::Failed(_)));
        assert!(matches!(
            read("Symbol,Date,Time,Open,High,Low,Close,Volume\r\n"),
            Outcome::Failed(_)
        ));
    }

    #[test]
    fn symbols_without_a_suffix_are_us_listings() {
        assert_eq!(stooq_symbol("AAPL"), "aapl.us");
        assert_eq!(stooq_symbol("VWCE.DE"), "vwce.de");
        assert_eq!(
            url("http://127.0.0.1:9", "AAPL"),
            "http://127.0.0.1:9/q/l/?s=aapl.us&f=sd2t2ohlcv&h&e=csv"
        );
    }
}
