//! The LLM analyst: any OpenAI-compatible chat-completions API (OpenAI,
//! Ollama, llama.cpp's server). `APP_LLM_URL` is the API base with `/v1`
//! included; we post to `{base}/chat/completions`.

use std::time::Duration;

use serde_json::{json, Value};

use super::{Analyst, PortfolioMetrics};
use crate::config::LlmConfig;
use crate::db::holdings::Holding;

const TIMEOUT: Duration = Duration::from_secs(20);
/// The most of a reply we read; a larger one is junk to us.
const MAX_REPLY_BYTES: u64 = 256 * 1024;
/// The most commentary we pass on.
const MAX_COMMENTARY_CHARS: usize = 4000;

pub struct Llm {
    config: LlmConfig,
    agent: ureq::Agent,
}

impl Llm {
    pub fn new(config: LlmConfig) -> Llm {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(TIMEOUT))
            .http_status_as_error(false)
            .build()
            .into();
        Llm { config, agent }
    }

    fn endpoint(&self) -> String {
        format!("{}/chat/completions", self.config.url.trim_end_matches('/'))
    }
}

impl Analyst for Llm {
    fn name(&self) -> &'static str {
        "llm"
    }

    fn analyse(&self, holdings: &[Holding], metrics: &PortfolioMetrics) -> Result<String, String> {
        let body = request_body(&self.config.model, holdings, metrics);
        let mut request = self
            .agent
            .post(&self.endpoint())
            .header("Content-Type", "application/json");
        if let Some(key) = &self.config.api_key {
            request = request.header("Authorization", &format!("Bearer {key}"));
        }
        let mut response = request
            .send(body.to_string())
            .map_err(|e| format!("request failed: {e}"))?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .with_config()
            .limit(MAX_REPLY_BYTES)
            .read_to_string()
            .map_err(|e| format!("reading the reply failed: {e}"))?;
        if status != 200 {
            return Err(format!("the API answered {status}"));
        }
        commentary_from_reply(&text)
    }
}

/// The chat request: a system prompt that sets the tone and limits, and the
/// holdings with the metrics we computed, so the model need not do sums.
pub fn request_body(model: &str, holdings: &[Holding], metrics: &PortfolioMetrics) -> Value {
    let positions: Vec<Value> = holdings
        .iter()
        .zip(&metrics.positions)
        .map(|(h, p)| {
            json!({
                "symbol": h.symbol, "quantity": h.quantity, "price": h.price,
                "cost_basis_per_unit": h.cost_basis, "value": round2(p.value),
                "weight_percent": round2(p.weight * 100.0), "unrealized_pl": p.unrealized_pl.map(round2),
            })
        })
        .collect();
    let change_30d = metrics.change_30d.as_ref().map(|c| {
        json!({"since": c.since, "from": round2(c.from), "to": round2(c.to),
               "change": round2(c.change), "change_percent": c.fraction.map(|f| round2(f * 100.0))})
    });
    let data = json!({
        "currency": metrics.base_currency,
        "total_value": round2(metrics.total_value),
        "change_30d": change_30d,
        "top_weight_percent": round2(metrics.top_weight * 100.0),
        "effective_positions": round2(metrics.effective_positions),
        "unrealized_pl": metrics.unrealized_pl.map(round2),
        "positions": positions,
    });
    json!({
        "model": model,
        "temperature": 0.3,
        "max_tokens": 400,
        "stream": false,
        "messages": [
            {"role": "system", "content":
                "You are a careful portfolio analyst writing for a private investor. \
                 In 3 to 6 plain sentences and one paragraph, comment on concentration, \
                 diversification, winners and losers, and the cash share, using the numbers given; \
                 when change_30d is given, say how the total moved over those 30 days. \
                 Do not recommend buying or selling specific securities. No lists, no headings, no markdown."},
            {"role": "user", "content": format!("Here is my portfolio as JSON. Values, prices and costs are in {}, converted at the ECB's reference rates.\n{data}", metrics.base_currency)},
        ],
    })
}

/// `choices[0].message.content`, trimmed and capped; anything else is an error.
pub fn commentary_from_reply(text: &str) -> Result<String, String> {
    let reply: Value =
        serde_json::from_str(text).map_err(|_| "the reply is not JSON".to_string())?;
    let content = reply
        .pointer("/choices/0/message/content")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .ok_or_else(|| "the reply has no choices[0].message.content".to_string())?;
    Ok(content.chars().take(MAX_COMMENTARY_CHARS).collect())
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_openai_reply_shape() {
        let ok = r#"{"id":"x","choices":[{"index":0,"message":{"role":"assistant","content":"  Fine.  "}}]}"#;
        assert_eq!(commentary_from_reply(ok), Ok("Fine.".into()));
        for junk in [
            "",
            "not json",
            "{}",
            r#"{"choices":[]}"#,
            r#"{"choices":[{"message":{"content":""}}]}"#,
            r#"{"choices":[{"message":{"content":7}}]}"#,
        ] {
            assert!(commentary_from_reply(junk).is_err(), "{junk}");
        }
        let long = format!(
            r#"{{"choices":[{{"message":{{"content":"{}"}}}}]}}"#,
            "a".repeat(10_000)
        );
        assert_eq!(
            commentary_from_reply(&long).map(|c| c.len()),
            Ok(MAX_COMMENTARY_CHARS)
        );
    }

    #[test]
    fn request_carries_model_holdings_and_metrics() {
        use crate::money::{Currency, Decimal};
        let d = |s: &str| Decimal::parse(s).unwrap();
        let holdings = vec![Holding::typed(
            "AAPL",
            d("2"),
            d("100"),
            Some(d("50")),
            Currency::EUR,
        )];
        let mut metrics = crate::services::analyst::metrics(&holdings);
        metrics.change_30d = Some(crate::services::history::Change30d {
            since: "2026-11-01".into(),
            from: 100.0,
            to: 200.0,
            change: 100.0,
            fraction: Some(1.0),
        });
        let body = request_body("llama3", &holdings, &metrics);
        assert_eq!(body["model"], "llama3");
        let user = body["messages"][1]["content"].as_str().unwrap();
        assert!(user.contains("\"AAPL\"") && user.contains("\"total_value\":200.0"));
        assert!(
            user.contains("are in EUR") && user.contains("\"change_percent\":100.0"),
            "{user}"
        );
    }
}
