//! The portfolio's history: each account's total in its base currency,
//! recorded once a day (by the market data job, and at the first sign-in
//! of a day), and the change over 30 days the commentary speaks of.

use rusqlite::Connection;
use serde::Serialize;

use crate::clock::{Timestamp, DAY};
use crate::db::{self, history, holdings, prices};
use crate::error::Result;
use crate::money::{Currency, Decimal};
use crate::services::fx::Rates;
use crate::services::valuation::Valuation;

pub use crate::db::history::DayTotal;

/// The spans the chart offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Span {
    Days30,
    Year,
    All,
}

impl Span {
    pub const ALL: [Span; 3] = [Span::Days30, Span::Year, Span::All];

    /// `?range=30d|1y|all`; anything else is the 30 days.
    pub fn parse(s: Option<&str>) -> Span {
        match s {
            Some("1y") => Span::Year,
            Some("all") => Span::All,
            _ => Span::Days30,
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            Span::Days30 => "30d",
            Span::Year => "1y",
            Span::All => "all",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Span::Days30 => "30 days",
            Span::Year => "1 year",
            Span::All => "All",
        }
    }

    /// The first day shown.
    fn since(self, now: Timestamp) -> String {
        match self {
            Span::Days30 => now.plus(-30 * DAY).date_string(),
            Span::Year => now.plus(-365 * DAY).date_string(),
            Span::All => "0000-01-01".into(),
        }
    }
}

/// The change from the total recorded 30 days ago (or the last one before)
/// to the total now, in the base currency.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Change30d {
    /// The day the earlier total was recorded.
    pub since: String,
    pub from: f64,
    pub to: f64,
    pub change: f64,
    /// change / from; null when the earlier total was 0.
    pub fraction: Option<f64>,
}

/// The account's valuation now, at the latest rates.
pub fn value_now(conn: &Connection, user_id: i64) -> Result<(Valuation, Rates)> {
    let list = holdings::list(conn, user_id)?;
    let base = prices::base_currency(conn, user_id)?;
    let rates = Rates::load(conn)?;
    Ok((Valuation::of(&list, base, &rates), rates))
}

/// Records today's total for the account unless the day has one. An
/// account without holdings records nothing.
pub fn record_today(conn: &Connection, user_id: i64, now: Timestamp) -> Result<bool> {
    let day = now.date_string();
    db::write(conn, |tx| {
        if history::has_day(tx, user_id, &day)? {
            return Ok(false);
        }
        let (valuation, _) = value_now(tx, user_id)?;
        if valuation.rows.is_empty() {
            return Ok(false);
        }
        history::record(tx, user_id, &day, valuation.total, valuation.base)
    })
}

/// The daily turn: today's total for every account that holds something
/// and has none yet. Answers how many were recorded.
pub fn record_all(conn: &Connection, now: Timestamp) -> Result<usize> {
    let mut recorded = 0;
    for user_id in holdings::users_with_holdings(conn)? {
        if record_today(conn, user_id, now)? {
            recorded += 1;
        }
    }
    Ok(recorded)
}

/// The totals the chart draws for a span, oldest first.
pub fn series(
    conn: &Connection,
    user_id: i64,
    base: Currency,
    span: Span,
    now: Timestamp,
) -> Result<Vec<DayTotal>> {
    history::since(conn, user_id, base, &span.since(now))
}

/// The change over 30 days: from the last total recorded at least 30 days
/// ago (within the year) to `total` now. `None` without such a total.
pub fn change_30d(
    conn: &Connection,
    user_id: i64,
    base: Currency,
    total: Decimal,
    now: Timestamp,
) -> Result<Option<Change30d>> {
    let cutoff = now.plus(-30 * DAY).date_string();
    let year_ago = now.plus(-365 * DAY).date_string();
    Ok(
        history::last_between(conn, user_id, base, &year_ago, &cutoff)?
            .map(|then| change(&then, total)),
    )
}

fn change(then: &DayTotal, total: Decimal) -> Change30d {
    let delta = total.checked_sub(then.value).unwrap_or_default();
    Change30d {
        since: then.day.clone(),
        from: then.value.to_f64(),
        to: total.to_f64(),
        change: delta.to_f64(),
        fraction: (!then.value.is_zero()).then(|| delta.to_f64() / then.value.to_f64()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{test_db, users};
    use crate::services::portfolio::{self, Holding};

    fn d(s: &str) -> Decimal {
        Decimal::parse(s).unwrap()
    }

    #[test]
    fn a_day_is_recorded_once_and_the_change_reads_30_days_back() {
        let conn = test_db();
        let now = Timestamp::parse_rfc3339("2026-12-02T08:00:00Z").unwrap();
        let user = users::create(&conn, "a@example.com", now).unwrap();
        assert!(
            !record_today(&conn, user.id, now).unwrap(),
            "no holdings, no row"
        );
        let h = Holding::typed("AAPL", d("10"), d("100"), None, Currency::USD);
        portfolio::save(&conn, user.id, &h, now).unwrap();
        assert!(record_today(&conn, user.id, now).unwrap());
        assert!(!record_today(&conn, user.id, now.plus(3600)).unwrap());
        assert_eq!(
            change_30d(&conn, user.id, Currency::USD, d("1100"), now).unwrap(),
            None
        );
        history::record(&conn, user.id, "2026-11-01", d("800"), Currency::USD).unwrap();
        history::record(&conn, user.id, "2026-11-02", d("1000"), Currency::USD).unwrap();
        history::record(&conn, user.id, "2026-11-10", d("5"), Currency::USD).unwrap();
        let c = change_30d(&conn, user.id, Currency::USD, d("1100"), now)
            .unwrap()
            .unwrap();
        assert_eq!(
            (c.since.as_str(), c.from, c.change),
            ("2026-11-02", 1000.0, 100.0)
        );
        assert_eq!(c.fraction, Some(0.1));
        let all = series(&conn, user.id, Currency::USD, Span::All, now).unwrap();
        assert_eq!(all.len(), 4);
        assert!(series(&conn, user.id, Currency::EUR, Span::All, now)
            .unwrap()
            .is_empty());
        assert_eq!(record_all(&conn, now.plus(DAY)).unwrap(), 1);
    }
}
