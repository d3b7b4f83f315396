//! Alpha Vantage's `GLOBAL_QUOTE`: `GET /query?function=GLOBAL_QUOTE&symbol=IBM
//! &apikey=KEY` answers `{"Global Quote": {"01. symbol": "IBM", "05. price":
//! "219.9900", "07. latest trading day": "2026-09-29", …}}`. Its refusals
//! come back as 200 too: `{"Note": …}` or `{"Information": …}` when over the
//! rate limit, `{"Error Message": …}` for a bad key or call, and an empty
//! `"Global Quote": {}` for a symbol it does not know.

use serde_json::Value;

use super::{query_value, Outcome, QuotesConfig};
use crate::clock::parse_date;
use crate::money::Decimal;

pub fn url(config: &QuotesConfig, symbol: &str) -> String {
    format!(
        "{}/query?function=GLOBAL_QUOTE&symbol={}&apikey={}",
        config.base_url,
        query_value(symbol),
        query_value(config.api_key.as_deref().unwrap_or(""))
    )
}

pub fn read(text: &str) -> Outcome {
    let Ok(body) = serde_json::from_str::<Value>(text) else {
        return Outcome::Failed("an answer that is not JSON".into());
    };
    let said = |key: &str| body.get(key).and_then(Value::as_str).map(short);
    if let Some(note) = said("Note").or_else(|| said("Information")) {
        return Outcome::Throttled(note);
    }
    if let Some(message) = said("Error Message") {
        return Outcome::Refused(message);
    }
    let Some(quote) = body.get("Global Quote").and_then(Value::as_object) else {
        return Outcome::Failed("no \"Global Quote\" in the answer".into());
    };
    if quote.is_empty() {
        return Outcome::Unknown("Alpha Vantage has no quote for this symbol".into());
    }
    let text_of = |key: &str| quote.get(key).and_then(Value::as_str).unwrap_or("");
    let Some(price) = Decimal::parse(text_of("05. price")).filter(|p| *p > Decimal::ZERO) else {
        return Outcome::Failed(format!(
            "a price we cannot read: {:?}",
            text_of("05. price")
        ));
    };
    // A trading day, not a time: kept as that day's midnight UTC and shown
    // as the date.
    match parse_date(text_of("07. latest trading day")) {
        Some(at) => Outcome::Price { price, at },
        None => Outcome::Failed("no latest trading day in the quote".into()),
    }
}

/// What a refusal said, short enough for a log line.
fn short(s: &str) -> String {
    s.chars().take(160).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Timestamp;

    /// The shape Alpha Vantage documents and public projects' tests record.
    const QUOTE: &str = r#"{
    "Global Quote": {
        "01. symbol": "IBM",
        "02. open": "220.6700",
        "03. high": "221.5000",
        "04. low": "218.9100",
        "05. price": "219.9900",
        "06. volume": "3766484",
        "07. latest trading day": "2026-09-29",
        "08. previous close": "220.6700",
        "09. change": "-0.6800",
        "10. change percent": "-0.3082%"
    }
}"#;

    #[test]
    fn reads_a_global_quote() {
        assert_eq!(
            read(QUOTE),
            Outcome::Price {
                price: Decimal::parse("219.99").unwrap(),
                at: Timestamp::parse_rfc3339("2026-09-29T00:00:00Z").unwrap(),
            }
        );
    }

    #[test]
    fn refusals_come_back_as_200() {
        let note = r#"{"Note": "Thank you for using Alpha Vantage! Our standard API call frequency is 5 calls per minute and 500 calls per day."}"#;
        let info = r#"{"Information": "Thank you for using Alpha Vantage! Our standard API rate limit is 25 requests per day."}"#;
        let bad_key = r#"{"Error Message": "the parameter apikey is invalid or missing. Please claim your free API key on (https://www.alphavantage.co/support/#api-key)."}"#;
        assert!(matches!(read(note), Outcome::Throttled(_)));
        assert!(matches!(read(info), Outcome::Throttled(_)));
        assert!(matches!(read(bad_key), Outcome::Refused(_)));
        assert!(matches!(
            read(r#"{"Global Quote": {}}"#),
            Outcome::Unknown(_)
        ));
        assert!(matches!(read("<html>"), Outcome::Failed(_)));
    }

    #[test]
    fn the_key_travels_in_the_query() {
        let config = QuotesConfig {
            provider: crate::db::holdings::PriceSource::AlphaVantage,
            api_key: Some("demo".into()),
            base_url: "http://127.0.0.1:9".into(),
        };
        assert_eq!(
            url(&config, "IBM"),
            "http://127.0.0.1:9/query?function=GLOBAL_QUOTE&symbol=IBM&apikey=demo"
        );
    }
}
