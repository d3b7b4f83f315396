//! The market data job, on its own thread and connection (never a request
//! worker): the ECB's rates at start and daily, the held symbols' quotes at
//! start and every 15 minutes (a symbol switched to quoted is asked for at
//! the next turn, within seconds), and each account's daily total. A
//! failure waits longer each time; calls to the provider stay under its
//! per-minute budget; a provider that fails leaves the last good price.

use std::collections::VecDeque;

use rusqlite::Connection;

use crate::clock::{Timestamp, DAY, HOUR, MINUTE};
use crate::db::{self, holdings, prices};
use crate::error::Result;
use crate::log;
use crate::services::quotes::{self, Outcome, QuotesConfig};
use crate::services::{fx, history};

/// How often the job looks for work.
pub const TICK: std::time::Duration = std::time::Duration::from_secs(5);
/// A quoted symbol is asked for again after this long.
pub const QUOTE_EVERY: i64 = 15 * MINUTE;
/// A symbol's retries wait 1, 2, 4 … minutes, at most this long.
const QUOTE_BACKOFF_MAX: i64 = HOUR;
/// The rates' retries wait 5, 10, 20 … minutes, at most this long.
const FX_BACKOFF_MAX: i64 = 6 * HOUR;
/// The ECB publishes around 16:00 CET; we ask daily at 15:30 UTC (and at start).
const FX_DAILY_AT: i64 = 15 * HOUR + 30 * MINUTE;

/// Something that answers quotes: the real providers, or a test's script.
pub trait QuoteSource {
    fn ask(&mut self, symbol: &str) -> Outcome;
}

/// Something that answers the day's rates.
pub trait RateSource {
    fn refresh(&mut self, conn: &Connection, now: Timestamp) -> Result<String>;
}

/// Over HTTP with ureq, as `serve` runs it.
pub struct Http {
    agent: ureq::Agent,
    fx_url: String,
    quotes: Option<QuotesConfig>,
}

impl Http {
    pub fn new(fx_url: &str, quotes: Option<QuotesConfig>) -> Http {
        Http {
            agent: quotes::agent(),
            fx_url: fx_url.to_string(),
            quotes,
        }
    }
}

impl QuoteSource for Http {
    fn ask(&mut self, symbol: &str) -> Outcome {
        match &self.quotes {
            Some(config) => quotes::ask(&self.agent, config, symbol),
            None => Outcome::Refused("quotes are off".into()),
        }
    }
}

impl RateSource for Http {
    fn refresh(&mut self, conn: &Connection, now: Timestamp) -> Result<String> {
        fx::refresh(conn, &self.agent, &self.fx_url, now)
    }
}

/// What the job remembers between turns.
pub struct Job<S> {
    source: S,
    provider: Option<holdings::PriceSource>,
    calls_per_minute: usize,
    /// When each of the last minute's calls was made.
    calls: VecDeque<Timestamp>,
    /// Every symbol waits until then (the provider asked us to slow down).
    paused_until: Option<Timestamp>,
    pauses: u32,
    fx_next: Timestamp,
    fx_failures: u32,
    started: bool,
    history_day: Option<String>,
    /// The secret that must never reach a log line.
    api_key: Option<String>,
}

impl<S: QuoteSource + RateSource> Job<S> {
    pub fn new(source: S, quotes: Option<&QuotesConfig>) -> Job<S> {
        Job {
            source,
            provider: quotes.map(|q| q.provider),
            calls_per_minute: quotes.map_or(0, QuotesConfig::calls_per_minute),
            calls: VecDeque::new(),
            paused_until: None,
            pauses: 0,
            fx_next: Timestamp(0),
            fx_failures: 0,
            started: false,
            history_day: None,
            api_key: quotes.and_then(|q| q.api_key.clone()),
        }
    }

    /// One turn: whatever is due.
    pub fn run_once(&mut self, conn: &Connection, now: Timestamp) -> Result<()> {
        let fx_done = self.rates(conn, now);
        self.quotes(conn, now)?;
        // The day's totals once the day's first prices are in.
        let today = now.date_string();
        if self.history_day.as_deref() != Some(today.as_str()) && fx_done {
            let recorded = history::record_all(conn, now)?;
            if recorded > 0 {
                log::event("history.recorded", &[("accounts", &recorded)]);
            }
            self.history_day = Some(today);
        }
        self.started = true;
        Ok(())
    }

    /// Refreshes the rates when due; true once this turn's rates are settled
    /// (fresh, or failed and kept), so history can be recorded.
    fn rates(&mut self, conn: &Connection, now: Timestamp) -> bool {
        if now < self.fx_next {
            return true;
        }
        match self.source.refresh(conn, now) {
            Ok(day) => {
                log::event("fx.refreshed", &[("day", &day)]);
                self.fx_failures = 0;
                self.fx_next = next_daily(now);
            }
            Err(e) => {
                self.fx_failures += 1;
                let wait = backoff(5 * MINUTE, self.fx_failures, FX_BACKOFF_MAX);
                log::event(
                    "fx.failed",
                    &[
                        ("error", &e),
                        ("retry_in_s", &wait),
                        ("failures", &self.fx_failures),
                    ],
                );
                self.fx_next = now.plus(wait);
            }
        }
        true
    }

    fn quotes(&mut self, conn: &Connection, now: Timestamp) -> Result<()> {
        let Some(provider) = self.provider else {
            return Ok(());
        };
        let held = holdings::quoted_symbols(conn)?;
        if held.is_empty() {
            return Ok(());
        }
        db::write(conn, |tx| {
            prices::schedule_quotes(tx, &held, now, !self.started)
        })?;
        if self.paused_until.is_some_and(|until| now < until) {
            return Ok(());
        }
        while self
            .calls
            .front()
            .is_some_and(|t| t.secs() <= now.secs() - MINUTE)
        {
            self.calls.pop_front();
        }
        let budget = self.calls_per_minute.saturating_sub(self.calls.len());
        if budget == 0 {
            return Ok(());
        }
        for due in prices::due_quotes(conn, now, budget)? {
            self.calls.push_back(now);
            let outcome = self.source.ask(&due.symbol);
            let stop = outcome.pauses_provider();
            self.record(conn, provider, &due, outcome, now)?;
            if stop {
                break;
            }
        }
        Ok(())
    }

    fn record(
        &mut self,
        conn: &Connection,
        provider: holdings::PriceSource,
        due: &prices::DueQuote,
        outcome: Outcome,
        now: Timestamp,
    ) -> Result<()> {
        let symbol = due.symbol.as_str();
        let why = match outcome {
            Outcome::Price { price, at } => {
                let updated = db::write(conn, |tx| {
                    prices::quote_succeeded(
                        tx,
                        symbol,
                        provider,
                        price,
                        at,
                        now,
                        now.plus(QUOTE_EVERY),
                    )?;
                    holdings::set_quoted_price(tx, symbol, provider, price, at)
                })?;
                self.pauses = 0;
                log::event(
                    "quotes.refreshed",
                    &[
                        ("symbol", &symbol),
                        ("source", &provider.as_str()),
                        ("holdings", &updated),
                    ],
                );
                return Ok(());
            }
            Outcome::Throttled(why) | Outcome::Refused(why) => {
                self.pauses += 1;
                let wait = backoff(MINUTE, self.pauses, QUOTE_BACKOFF_MAX);
                self.paused_until = Some(now.plus(wait));
                why
            }
            Outcome::Unknown(why) | Outcome::Failed(why) => why,
        };
        let failures = u32::try_from(due.failures + 1).unwrap_or(u32::MAX);
        let wait = backoff(MINUTE, failures, QUOTE_BACKOFF_MAX)
            .max(self.paused_until.map_or(0, |u| u.secs() - now.secs()));
        let why = self.scrub(&why);
        db::write(conn, |tx| {
            prices::quote_failed(tx, symbol, &why, now.plus(wait))
        })?;
        log::event(
            "quotes.failed",
            &[
                ("symbol", &symbol),
                ("source", &provider.as_str()),
                ("error", &why),
                ("retry_in_s", &wait),
            ],
        );
        Ok(())
    }

    /// A provider's message, with the key taken out should it echo it.
    fn scrub(&self, text: &str) -> String {
        match &self.api_key {
            Some(key) if !key.is_empty() => text.replace(key.as_str(), "[key]"),
            _ => text.to_string(),
        }
    }

    pub fn source(&self) -> &S {
        &self.source
    }
}

/// `first × 2^(n−1)`, at most `max`.
fn backoff(first: i64, n: u32, max: i64) -> i64 {
    let doublings = n.saturating_sub(1).min(20);
    first.saturating_mul(1 << doublings).min(max)
}

/// The next 15:30 UTC after `now`.
fn next_daily(now: Timestamp) -> Timestamp {
    let midnight = now.secs().div_euclid(DAY) * DAY;
    let today = Timestamp(midnight + FX_DAILY_AT);
    if today > now {
        today
    } else {
        today.plus(DAY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::holdings::PriceSource;
    use crate::db::{test_db, users};
    use crate::money::{Currency, Decimal};
    use crate::services::portfolio::{self, Holding};

    struct Script {
        answers: VecDeque<Outcome>,
        asked: Vec<String>,
        rates_ok: bool,
    }

    impl QuoteSource for Script {
        fn ask(&mut self, symbol: &str) -> Outcome {
            self.asked.push(symbol.to_string());
            self.answers
                .pop_front()
                .unwrap_or(Outcome::Failed("no more answers".into()))
        }
    }

    impl RateSource for Script {
        fn refresh(&mut self, conn: &Connection, now: Timestamp) -> Result<String> {
            if !self.rates_ok {
                return Err(crate::error::Error::Internal("down".into()));
            }
            let usd = [(
                Currency::parse("USD").unwrap(),
                Decimal::parse("1.1").unwrap(),
            )];
            db::write(conn, |tx| prices::store_rates(tx, "2026-12-01", &usd, now))?;
            Ok("2026-12-01".into())
        }
    }

    fn d(s: &str) -> Decimal {
        Decimal::parse(s).unwrap()
    }

    fn config() -> QuotesConfig {
        QuotesConfig {
            provider: PriceSource::Stooq,
            api_key: None,
            base_url: "http://127.0.0.1:9".into(),
        }
    }

    fn price(s: &str, at: Timestamp) -> Outcome {
        Outcome::Price { price: d(s), at }
    }

    #[test]
    fn a_failing_provider_keeps_the_last_good_price_and_backs_off() {
        let conn = test_db();
        let now = Timestamp::parse_rfc3339("2026-12-02T08:00:00Z").unwrap();
        let user = users::create(&conn, "a@example.com", now).unwrap();
        let mut quoted = Holding::typed("AAPL", d("2"), d("1"), None, Currency::USD);
        quoted.price_source = PriceSource::Stooq;
        portfolio::save(&conn, user.id, &quoted, now).unwrap();
        let typed = Holding::typed("MSFT", d("1"), d("400"), None, Currency::USD);
        portfolio::save(&conn, user.id, &typed, now).unwrap();
        let at = now.plus(-3600);
        let script = Script {
            answers: VecDeque::from([price("227.5", at), Outcome::Failed("503".into())]),
            asked: vec![],
            rates_ok: true,
        };
        let mut job = Job::new(script, Some(&config()));
        job.run_once(&conn, now).unwrap();
        let list = portfolio::list(&conn, user.id).unwrap();
        assert_eq!((list[0].price, list[0].price_at), (d("227.5"), Some(at)));
        assert_eq!(list[1].price, d("400"), "a typed price is never touched");
        // Not due again for 15 minutes.
        job.run_once(&conn, now.plus(60)).unwrap();
        assert_eq!(job.source().asked.len(), 1);
        job.run_once(&conn, now.plus(QUOTE_EVERY)).unwrap();
        assert_eq!(job.source().asked.len(), 2);
        let list = portfolio::list(&conn, user.id).unwrap();
        assert_eq!((list[0].price, list[0].price_at), (d("227.5"), Some(at)));
        // After a failure it waits a minute, then two.
        job.run_once(&conn, now.plus(QUOTE_EVERY + 30)).unwrap();
        assert_eq!(job.source().asked.len(), 2);
        job.run_once(&conn, now.plus(QUOTE_EVERY + 60)).unwrap();
        assert_eq!(job.source().asked.len(), 3);
        job.run_once(&conn, now.plus(QUOTE_EVERY + 150)).unwrap();
        assert_eq!(job.source().asked.len(), 3);
        assert!(
            history::series(&conn, user.id, Currency::USD, history::Span::All, now)
                .unwrap()
                .len()
                == 1
        );
    }

    #[test]
    fn calls_stay_under_the_budget_and_a_throttle_pauses_every_symbol() {
        let conn = test_db();
        let now = Timestamp::parse_rfc3339("2026-12-02T08:00:00Z").unwrap();
        let user = users::create(&conn, "a@example.com", now).unwrap();
        for i in 0..30 {
            let mut h = Holding::typed(&format!("S{i}"), d("1"), d("1"), None, Currency::USD);
            h.price_source = PriceSource::Stooq;
            portfolio::save(&conn, user.id, &h, now).unwrap();
        }
        let answers = (0..40).map(|_| price("2", now)).collect();
        let script = Script {
            answers,
            asked: vec![],
            rates_ok: false,
        };
        let mut job = Job::new(script, Some(&config()));
        job.run_once(&conn, now).unwrap();
        job.run_once(&conn, now.plus(5)).unwrap();
        assert_eq!(job.source().asked.len(), 20, "20 calls a minute for Stooq");
        job.run_once(&conn, now.plus(61)).unwrap();
        assert_eq!(job.source().asked.len(), 30);

        let mut throttled = Job::new(
            Script {
                answers: VecDeque::from([Outcome::Throttled("Note".into())]),
                asked: vec![],
                rates_ok: true,
            },
            Some(&config()),
        );
        let later = now.plus(QUOTE_EVERY);
        throttled.run_once(&conn, later).unwrap();
        assert_eq!(
            throttled.source().asked.len(),
            1,
            "one throttle stops the turn"
        );
        throttled.run_once(&conn, later.plus(30)).unwrap();
        assert_eq!(throttled.source().asked.len(), 1, "and pauses the provider");
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(backoff(60, 1, 3600), 60);
        assert_eq!(backoff(60, 3, 3600), 240);
        assert_eq!(backoff(60, 30, 3600), 3600);
        let t = Timestamp::parse_rfc3339("2026-12-02T16:00:00Z").unwrap();
        assert_eq!(next_daily(t).to_string(), "2026-12-03T15:30:00Z");
    }
}
