//! UTC time as the app stores it: whole seconds, written as RFC 3339 with `Z`.
//!
//! Rules take `now` as an argument; only the edges (server loop, CLI) read the
//! system clock, so tests can pin time.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};

pub const MINUTE: i64 = 60;
pub const HOUR: i64 = 60 * MINUTE;
pub const DAY: i64 = 24 * HOUR;

/// Seconds since the Unix epoch, UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn now() -> Timestamp {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        Timestamp(secs)
    }

    pub fn plus(self, seconds: i64) -> Timestamp {
        Timestamp(self.0.saturating_add(seconds))
    }

    pub fn secs(self) -> i64 {
        self.0
    }

    /// The first second of a UTC calendar day.
    pub fn from_date(year: i64, month: u32, day: u32) -> Timestamp {
        Timestamp(days_from_civil(year, month, day) * DAY)
    }

    /// `(year, month, day)` of this instant in UTC.
    pub fn date(self) -> (i64, u32, u32) {
        civil_from_days(self.0.div_euclid(DAY))
    }

    /// The same time of day `months` calendar months later (or earlier), the
    /// day clamped to the month's length (Jan 31 + 1 month = Feb 28/29).
    pub fn add_months(self, months: i64) -> Timestamp {
        let (y, m, d) = self.date();
        let index = y * 12 + (m as i64 - 1) + months;
        let (year, month) = (index.div_euclid(12), index.rem_euclid(12) as u32 + 1);
        let day = d.min(days_in_month(year, month));
        Timestamp::from_date(year, month, day).plus(self.0.rem_euclid(DAY))
    }

    /// `YYYY-MM-DD`.
    pub fn date_string(self) -> String {
        let (y, m, d) = self.date();
        format!("{y:04}-{m:02}-{d:02}")
    }

    /// Parses the one form we write: `YYYY-MM-DDTHH:MM:SSZ`.
    pub fn parse_rfc3339(s: &str) -> Option<Timestamp> {
        let b = s.as_bytes();
        if b.len() != 20 || b[10] != b'T' || b[13] != b':' || b[16] != b':' || b[19] != b'Z' {
            return None;
        }
        let day = parse_date(&s[..10])?;
        let hh = digits(&s[11..13])?;
        let mm = digits(&s[14..16])?;
        let ss = digits(&s[17..19])?;
        if hh > 23 || mm > 59 || ss > 59 {
            return None;
        }
        Some(day.plus(hh * HOUR + mm * MINUTE + ss))
    }
}

/// Parses a strict `YYYY-MM-DD` that names a real calendar day.
pub fn parse_date(s: &str) -> Option<Timestamp> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let year = digits(&s[..4])?;
    let month = u32::try_from(digits(&s[5..7])?).ok()?;
    let day = u32::try_from(digits(&s[8..10])?).ok()?;
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    Some(Timestamp::from_date(year, month, day))
}

fn digits(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        _ => 31,
    }
}

// Howard Hinnant's civil-date algorithms (public domain).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    (y, m, d)
}

impl Timestamp {
    /// `YYYY-MM-DDTHH:MM:SSZ` written digit by digit, for years 0 to 9999:
    /// every timestamp bound to SQL and every log line goes through here,
    /// and the `fmt` machinery cost more than the query it was bound to.
    fn rfc3339(self) -> Option<[u8; 20]> {
        let (y, mo, d) = self.date();
        let y = u32::try_from(y).ok().filter(|y| *y <= 9999)?;
        let s = self.0.rem_euclid(DAY) as u32;
        let mut out = *b"0000-00-00T00:00:00Z";
        let mut put = |at: usize, value: u32, width: usize| {
            let mut v = value;
            for i in (at..at + width).rev() {
                out[i] = b'0' + (v % 10) as u8;
                v /= 10;
            }
        };
        put(0, y, 4);
        put(5, mo, 2);
        put(8, d, 2);
        put(11, s / HOUR as u32, 2);
        put(14, s % HOUR as u32 / MINUTE as u32, 2);
        put(17, s % MINUTE as u32, 2);
        Some(out)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(text) = self.rfc3339() {
            // Digits, dashes, colons, T and Z: always UTF-8.
            return f.write_str(std::str::from_utf8(&text).map_err(|_| fmt::Error)?);
        }
        let (y, mo, d) = self.date();
        let s = self.0.rem_euclid(DAY);
        write!(
            f,
            "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}Z",
            s / HOUR,
            s % HOUR / MINUTE,
            s % MINUTE
        )
    }
}

impl ToSql for Timestamp {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.to_string()))
    }
}

impl FromSql for Timestamp {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let text = value.as_str()?;
        Timestamp::parse_rfc3339(text)
            .ok_or_else(|| FromSqlError::Other(format!("bad timestamp {text:?}").into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_round_trip() {
        let t = Timestamp(1_795_000_000);
        let s = t.to_string();
        assert_eq!(s, "2026-11-18T11:06:40Z");
        assert_eq!(Timestamp::parse_rfc3339(&s), Some(t));
    }

    #[test]
    fn the_digit_writer_agrees_with_fmt_in_and_out_of_its_range() {
        let by_fmt = |t: Timestamp| {
            let (y, mo, d) = t.date();
            let s = t.0.rem_euclid(DAY);
            format!(
                "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}Z",
                s / HOUR,
                s % HOUR / MINUTE,
                s % MINUTE
            )
        };
        for t in [
            0,
            59,
            86_399,
            951_782_400,
            1_795_000_000,
            253_402_300_799,
            253_402_300_800,
            -1,
            -62_167_219_200,
            -62_167_219_201,
        ] {
            let t = Timestamp(t);
            assert_eq!(t.to_string(), by_fmt(t), "{t:?}");
        }
        assert_eq!(
            Timestamp(253_402_300_799).to_string(),
            "9999-12-31T23:59:59Z"
        );
        assert_eq!(Timestamp(-1).to_string(), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn epoch_and_leap_days() {
        assert_eq!(Timestamp(0).to_string(), "1970-01-01T00:00:00Z");
        assert_eq!(
            parse_date("2028-02-29"),
            Some(Timestamp::from_date(2028, 2, 29))
        );
        assert_eq!(parse_date("2027-02-29"), None);
        assert_eq!(
            parse_date("2000-02-29").map(|t| t.date()),
            Some((2000, 2, 29))
        );
    }

    #[test]
    fn rejects_loose_forms() {
        for bad in [
            "2026-1-05",
            "2026-13-01",
            "2026-00-10",
            "26-01-01",
            "2026-01-01x",
            "",
            "２０２６-01-01",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
        assert_eq!(Timestamp::parse_rfc3339("2026-01-01T24:00:00Z"), None);
        assert_eq!(Timestamp::parse_rfc3339("2026-01-01 10:00:00Z"), None);
    }

    #[test]
    fn months_clamp_to_the_shorter_month() {
        let t = Timestamp::parse_rfc3339("2027-01-31T10:00:00Z").unwrap();
        assert_eq!(t.add_months(1).to_string(), "2027-02-28T10:00:00Z");
        assert_eq!(t.add_months(3).to_string(), "2027-04-30T10:00:00Z");
        assert_eq!(t.add_months(-2).to_string(), "2026-11-30T10:00:00Z");
        assert_eq!(t.add_months(12).to_string(), "2028-01-31T10:00:00Z");
    }

    #[test]
    fn every_day_of_four_centuries_round_trips() {
        let start = days_from_civil(1900, 1, 1);
        for z in start..start + 146_097 {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
    }
}
