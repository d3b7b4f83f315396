//! Exchange rates: the European Central Bank's daily reference rates
//! (`eurofxref-daily.xml`, units of each currency per euro), kept in
//! `fx_rates` and crossed through the euro for every other pair.

use std::collections::HashMap;

use rusqlite::Connection;

use crate::clock::Timestamp;
use crate::db::{self, prices};
use crate::error::Result;
use crate::money::{Currency, Decimal};

/// The currencies the ECB publishes a reference rate for, and the euro:
/// what the settings page offers as a base currency.
pub const ECB_CURRENCIES: [&str; 30] = [
    "AUD", "BRL", "CAD", "CHF", "CNY", "CZK", "DKK", "EUR", "GBP", "HKD", "HUF", "IDR", "ILS",
    "INR", "ISK", "JPY", "KRW", "MXN", "MYR", "NOK", "NZD", "PHP", "PLN", "RON", "SEK", "SGD",
    "THB", "TRY", "USD", "ZAR",
];
/// The most of an answer we read: the real file is under 2 KiB.
const MAX_BYTES: u64 = 256 * 1024;

/// One day's rates as the ECB sent them.
#[derive(Clone, Debug, PartialEq)]
pub struct DailyRates {
    /// `YYYY-MM-DD`, the `<Cube time="…">` attribute.
    pub day: String,
    pub per_euro: Vec<(Currency, Decimal)>,
}

/// Reads the ECB's envelope: the `<Cube time='…'>` day and each
/// `<Cube currency='USD' rate='1.1435'/>`. Single or double quotes, any
/// whitespace; anything that is not a positive rate for a three-letter
/// code is skipped, and a file without a day or a single rate is an error.
pub fn parse_ecb(xml: &str) -> std::result::Result<DailyRates, String> {
    let mut day = None;
    let mut per_euro = Vec::new();
    for tag in xml.split('<').skip(1) {
        let Some(rest) = tag.strip_prefix("Cube") else {
            continue;
        };
        if !rest.starts_with(|c: char| c.is_whitespace() || c == '/' || c == '>') {
            continue;
        }
        let head = rest.split('>').next().unwrap_or("");
        if let Some(time) = attribute(head, "time") {
            if crate::clock::parse_date(time).is_some() && day.is_none() {
                day = Some(time.to_string());
            }
        }
        if let (Some(code), Some(rate)) = (attribute(head, "currency"), attribute(head, "rate")) {
            match (Currency::parse(code), Decimal::parse(rate)) {
                (Some(c), Some(r)) if r > Decimal::ZERO && c != Currency::EUR => {
                    per_euro.push((c, r))
                }
                _ => {}
            }
        }
    }
    let day = day.ok_or("no <Cube time=\"YYYY-MM-DD\"> in the rates")?;
    if per_euro.is_empty() {
        return Err("no <Cube currency rate> in the rates".into());
    }
    Ok(DailyRates { day, per_euro })
}

/// `name='value'` or `name="value"` inside a tag's head.
fn attribute<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    let mut from = 0;
    while let Some(at) = head[from..].find(name) {
        let start = from + at;
        from = start + name.len();
        let before_ok = start == 0 || head[..start].ends_with(char::is_whitespace);
        let after = head[from..].trim_start();
        if !before_ok || !after.starts_with('=') {
            continue;
        }
        let value = after[1..].trim_start();
        let quote = value.chars().next()?;
        if quote != '"' && quote != '\'' {
            return None;
        }
        let body = &value[1..];
        return body.find(quote).map(|end| &body[..end]);
    }
    None
}

/// The rates an account's values are converted at: units per euro.
#[derive(Clone, Debug, Default)]
pub struct Rates {
    per_euro: HashMap<Currency, Decimal>,
}

impl Rates {
    pub fn load(conn: &Connection) -> Result<Rates> {
        Ok(Rates::from_pairs(prices::rates(conn)?))
    }

    pub fn from_pairs(pairs: impl IntoIterator<Item = (Currency, Decimal)>) -> Rates {
        Rates {
            per_euro: pairs.into_iter().collect(),
        }
    }

    fn per_euro(&self, c: Currency) -> Option<Decimal> {
        if c == Currency::EUR {
            Some(Decimal::ONE)
        } else {
            self.per_euro.get(&c).copied()
        }
    }

    /// Whether a currency can be converted at all.
    pub fn knows(&self, c: Currency) -> bool {
        self.per_euro(c).is_some()
    }

    /// `amount` in `from`, expressed in `to`: × (to per euro) / (from per
    /// euro), exact to 8 places. `None` when either rate is unknown.
    pub fn convert(&self, amount: Decimal, from: Currency, to: Currency) -> Option<Decimal> {
        if from == to {
            return Some(amount);
        }
        amount.checked_mul_ratio(self.per_euro(to)?, self.per_euro(from)?)
    }

    /// Every currency with a rate, EUR included, in order.
    pub fn currencies(&self) -> Vec<Currency> {
        let mut all: Vec<Currency> = self.per_euro.keys().copied().collect();
        all.push(Currency::EUR);
        all.sort();
        all.dedup();
        all
    }
}

/// Asks the ECB (or `APP_FX_URL`) for the day's rates and keeps them.
pub fn refresh(
    conn: &Connection,
    agent: &ureq::Agent,
    url: &str,
    now: Timestamp,
) -> Result<String> {
    let rates = fetch(agent, url).map_err(crate::error::Error::Internal)?;
    db::write(conn, |tx| {
        prices::store_rates(tx, &rates.day, &rates.per_euro, now)
    })?;
    Ok(rates.day)
}

fn fetch(agent: &ureq::Agent, url: &str) -> std::result::Result<DailyRates, String> {
    let mut response = agent
        .get(url)
        .call()
        .map_err(|e| format!("request failed: {e}"))?;
    let status = response.status().as_u16();
    if status != 200 {
        return Err(format!("the rates URL answered {status}"));
    }
    let text = response
        .body_mut()
        .with_config()
        .limit(MAX_BYTES)
        .read_to_string()
        .map_err(|e| format!("reading the rates failed: {e}"))?;
    parse_ecb(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real `eurofxref-daily.xml` (2026-07-09), trimmed to five currencies.
    pub const ECB_FIXTURE: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>
<gesmes:Envelope xmlns:gesmes=\"http://www.gesmes.org/xml/2002-08-01\" xmlns=\"http://www.ecb.int/vocabulary/2002-08-01/eurofxref\">
\t<gesmes:subject>Reference rates</gesmes:subject>
\t<gesmes:Sender>
\t\t<gesmes:name>European Central Bank</gesmes:name>
\t</gesmes:Sender>
\t<Cube>
\t\t<Cube time='2026-07-09'>
\t\t\t<Cube currency='USD' rate='1.1435'/>
\t\t\t<Cube currency='JPY' rate='185.72'/>
\t\t\t<Cube currency='CZK' rate='24.254'/>
\t\t\t<Cube currency='GBP' rate='0.85363'/>
\t\t\t<Cube currency='CHF' rate='0.9227'/>
\t\t</Cube>
\t</Cube>
</gesmes:Envelope>";

    fn d(s: &str) -> Decimal {
        Decimal::parse(s).unwrap()
    }

    fn c(s: &str) -> Currency {
        Currency::parse(s).unwrap()
    }

    #[test]
    fn reads_the_ecb_envelope() {
        let rates = parse_ecb(ECB_FIXTURE).unwrap();
        assert_eq!(rates.day, "2026-07-09");
        assert_eq!(rates.per_euro.len(), 5);
        assert_eq!(rates.per_euro[0], (c("USD"), d("1.1435")));
        assert_eq!(rates.per_euro[3], (c("GBP"), d("0.85363")));
        let double = ECB_FIXTURE.replace('\'', "\"");
        assert_eq!(parse_ecb(&double).unwrap(), rates);
        assert!(parse_ecb("<html>Service unavailable</html>").is_err());
        assert!(parse_ecb("<Cube><Cube time='2026-07-09'></Cube></Cube>").is_err());
    }

    #[test]
    fn crosses_through_the_euro() {
        let rates = Rates::from_pairs(parse_ecb(ECB_FIXTURE).unwrap().per_euro);
        assert_eq!(
            rates.convert(d("100"), c("EUR"), c("USD")),
            Some(d("114.35"))
        );
        assert_eq!(
            rates.convert(d("114.35"), c("USD"), c("EUR")),
            Some(d("100"))
        );
        // 1000 JPY in USD = 1000 × 1.1435 / 185.72.
        assert_eq!(
            rates
                .convert(d("1000"), c("JPY"), c("USD"))
                .map(|x| x.to_string()),
            Some("6.15711824".into())
        );
        assert_eq!(rates.convert(d("5"), c("USD"), c("USD")), Some(d("5")));
        assert_eq!(rates.convert(d("5"), c("RUB"), c("USD")), None);
        assert!(rates.knows(c("EUR")) && !rates.knows(c("XYZ")));
    }
}
