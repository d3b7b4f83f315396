//! The analyst: portfolio metrics (weights, concentration, profit and
//! loss), the `Analyst` trait, the built-in analyst, which writes its
//! commentary from the metrics (`commentary`) and never fails, the LLM
//! analyst (`llm`), and running an analysis: the LLM when one is set up,
//! falling back to the built-in one.

use serde::Serialize;

use crate::db::holdings::Holding;
use crate::format::finite;
use crate::log;
use crate::money::{self, Currency, Decimal};
use crate::services::history::Change30d;

mod commentary;
pub mod llm;

pub use commentary::commentary;

/// The numbers behind a commentary, serialized as the `metrics` object of
/// `POST /api/analyze`. Nothing is rounded; nothing is NaN or infinite.
/// Values are in `base_currency`; the sums are exact (`money::Decimal`)
/// and only then made floats.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PortfolioMetrics {
    pub base_currency: Currency,
    pub total_value: f64,
    /// One per holding, in input order.
    pub positions: Vec<Position>,
    /// The largest weight, 0 when there is no value.
    pub top_weight: f64,
    /// 1 / Σ weight² (the inverse Herfindahl index), 0 when there is no value.
    pub effective_positions: f64,
    /// Sum over the holdings that have a cost basis; null when none has one.
    pub unrealized_pl: Option<f64>,
    /// The change over 30 days, from the account's history; null without one.
    pub change_30d: Option<Change30d>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Position {
    pub symbol: String,
    pub value: f64,
    /// Fraction 0..=1 of the total value.
    pub weight: f64,
    /// (price − cost basis) × quantity; null without a cost basis.
    pub unrealized_pl: Option<f64>,
}

/// Something that turns holdings and their metrics into commentary.
pub trait Analyst {
    fn analyse(&self, holdings: &[Holding], metrics: &PortfolioMetrics) -> Result<String, String>;
    /// The `provider` reported by `POST /api/analyze`.
    fn name(&self) -> &'static str;
}

/// The analyst that needs nothing but the numbers; it never fails, so it is
/// also the fallback when another analyst does.
#[derive(Clone, Copy, Debug, Default)]
pub struct Builtin;

impl Analyst for Builtin {
    fn analyse(&self, holdings: &[Holding], metrics: &PortfolioMetrics) -> Result<String, String> {
        Ok(commentary(holdings, metrics))
    }

    fn name(&self) -> &'static str {
        "builtin"
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Analysis {
    pub commentary: String,
    pub provider: &'static str,
    pub metrics: PortfolioMetrics,
    /// Said when the LLM failed and the built-in analyst answered instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// `holdings` in one currency and their `metrics` (`portfolio::weighed` or
/// `portfolio::figures` make both).
pub fn analyse(
    llm: Option<&dyn Analyst>,
    holdings: &[Holding],
    metrics: PortfolioMetrics,
) -> Analysis {
    let mut note = None;
    if let Some(llm) = llm {
        match llm.analyse(holdings, &metrics) {
            Ok(commentary) => {
                log::event(
                    "analysis.done",
                    &[("provider", &llm.name()), ("holdings", &holdings.len())],
                );
                return Analysis {
                    commentary,
                    provider: llm.name(),
                    metrics,
                    note,
                };
            }
            Err(why) => {
                log::event("analysis.llm_failed", &[("error", &why)]);
                note = Some(
                    "The AI analyst could not answer just now, so this is the built-in commentary."
                        .into(),
                );
            }
        }
    }
    log::event(
        "analysis.done",
        &[("provider", &Builtin.name()), ("holdings", &holdings.len())],
    );
    Analysis {
        commentary: commentary(holdings, &metrics),
        provider: Builtin.name(),
        metrics,
        note,
    }
}

/// Symbols counted as cash, besides any ending in `-CASH`.
const CASH_SYMBOLS: [&str; 6] = ["CASH", "USD", "EUR", "GBP", "CHF", "JPY"];

/// Above this share one holding makes the portfolio very concentrated.
pub(crate) const VERY_CONCENTRATED: f64 = 0.40;
/// Above this share one holding is a notable concentration.
pub(crate) const NOTABLE: f64 = 0.25;

/// Computes the metrics of a list of validated holdings, all in one
/// currency (`Valuation::in_base` restates them so).
pub fn metrics(holdings: &[Holding]) -> PortfolioMetrics {
    let exact: Vec<Decimal> = holdings
        .iter()
        .map(|h| h.value().unwrap_or_default())
        .collect();
    let values: Vec<f64> = exact.iter().map(|v| finite(v.to_f64())).collect();
    let total_value = finite(money::sum(&exact).unwrap_or_default().to_f64());
    let positions: Vec<Position> = holdings
        .iter()
        .zip(&values)
        .map(|(h, &value)| Position {
            symbol: h.symbol.clone(),
            value,
            // All-zero portfolios have no weights to speak of: 0, never NaN.
            weight: if total_value > 0.0 {
                finite(value / total_value)
            } else {
                0.0
            },
            unrealized_pl: pl_of(h).map(|pl| finite(pl.to_f64())),
        })
        .collect();
    let top_weight = positions.iter().map(|p| p.weight).fold(0.0, f64::max);
    let sum_of_squares: f64 = positions.iter().map(|p| p.weight * p.weight).sum();
    let effective_positions = if sum_of_squares > 0.0 {
        finite(1.0 / sum_of_squares)
    } else {
        0.0
    };
    let with_cost: Vec<Decimal> = holdings.iter().filter_map(pl_of).collect();
    let unrealized_pl = if with_cost.is_empty() {
        None
    } else {
        Some(finite(money::sum(&with_cost).unwrap_or_default().to_f64()))
    };
    PortfolioMetrics {
        base_currency: holdings.first().map_or(Currency::USD, |h| h.currency),
        total_value,
        positions,
        top_weight,
        effective_positions,
        unrealized_pl,
        change_30d: None,
    }
}

/// (price − cost basis) × quantity, exact; `None` without a cost basis.
fn pl_of(h: &Holding) -> Option<Decimal> {
    h.price.checked_sub(h.cost_basis?)?.checked_mul(h.quantity)
}

/// True for symbols that are cash rather than an investment.
pub(crate) fn is_cash(symbol: &str) -> bool {
    CASH_SYMBOLS.contains(&symbol) || symbol.ends_with("-CASH")
}

#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;

    pub fn holding(symbol: &str, quantity: f64, price: f64, cost_basis: Option<f64>) -> Holding {
        let d = |x: f64| Decimal::from_f64(x).unwrap();
        Holding::typed(
            symbol,
            d(quantity),
            d(price),
            cost_basis.map(d),
            Currency::USD,
        )
    }

    pub fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    pub fn sentence_count(text: &str) -> usize {
        assert!(text.ends_with('.'), "{text}");
        assert!(!text.contains("  ") && !text.contains('\n'), "{text}");
        text.matches(". ").count() + 1
    }

    /// Four holdings, one of them cash, three with a cost basis.
    pub fn mixed() -> Vec<Holding> {
        vec![
            holding("AAPL", 50.0, 190.0, Some(150.0)),
            holding("MSFT", 10.0, 400.0, Some(420.0)),
            holding("VWRL", 40.0, 110.0, Some(100.0)),
            holding("CASH", 2500.0, 1.0, None),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::*;
    use super::*;

    #[test]
    fn metrics_of_a_known_portfolio() {
        let m = metrics(&mixed());
        assert!(close(m.total_value, 9500.0 + 4000.0 + 4400.0 + 2500.0));
        assert!(close(m.positions.iter().map(|p| p.weight).sum(), 1.0));
        let symbols: Vec<&str> = m.positions.iter().map(|p| p.symbol.as_str()).collect();
        assert_eq!(symbols, ["AAPL", "MSFT", "VWRL", "CASH"]);
        assert!(close(m.positions[0].weight, 9500.0 / 20400.0));
        assert!(close(m.top_weight, 9500.0 / 20400.0));
        assert_eq!(m.positions[0].unrealized_pl, Some(2000.0));
        assert_eq!(m.positions[1].unrealized_pl, Some(-200.0));
        assert_eq!(m.positions[2].unrealized_pl, Some(400.0));
        assert_eq!(m.positions[3].unrealized_pl, None);
        assert_eq!(m.unrealized_pl, Some(2200.0));
        let squares: f64 = m.positions.iter().map(|p| p.weight * p.weight).sum();
        assert!(close(m.effective_positions, 1.0 / squares));
    }

    #[test]
    fn effective_positions_count_equal_holdings() {
        let four: Vec<Holding> = ["A", "B", "C", "D"]
            .iter()
            .map(|s| holding(s, 10.0, 25.0, None))
            .collect();
        let m = metrics(&four);
        assert!(close(m.effective_positions, 4.0));
        assert!(close(m.top_weight, 0.25));
        let one = metrics(&[holding("A", 3.0, 7.0, None)]);
        assert!(close(one.effective_positions, 1.0));
        assert!(close(one.top_weight, 1.0));
        assert!(close(one.total_value, 21.0));
    }

    #[test]
    fn no_cost_basis_means_null_profit_and_loss() {
        let m = metrics(&[holding("A", 1.0, 2.0, None), holding("B", 3.0, 4.0, None)]);
        assert_eq!(m.unrealized_pl, None);
        assert!(m.positions.iter().all(|p| p.unrealized_pl.is_none()));
        let json = serde_json::to_value(&m).unwrap();
        assert!(json["unrealized_pl"].is_null());
        assert!(json["positions"][0]["unrealized_pl"].is_null());
    }

    #[test]
    fn serializes_as_the_spec_metrics_object() {
        let json = serde_json::to_value(metrics(&mixed())).unwrap();
        let mut keys: Vec<&String> = json.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "base_currency",
                "change_30d",
                "effective_positions",
                "positions",
                "top_weight",
                "total_value",
                "unrealized_pl"
            ]
        );
        let mut position_keys: Vec<&String> =
            json["positions"][0].as_object().unwrap().keys().collect();
        position_keys.sort();
        assert_eq!(
            position_keys,
            ["symbol", "unrealized_pl", "value", "weight"]
        );
        assert_eq!(json["unrealized_pl"], 2200.0);
    }

    #[test]
    fn zero_value_portfolio_has_no_nan() {
        let holdings = [
            holding("A", 0.0, 10.0, Some(5.0)),
            holding("B", 10.0, 0.0, None),
        ];
        let m = metrics(&holdings);
        assert_eq!(m.total_value, 0.0);
        assert_eq!(m.top_weight, 0.0);
        assert_eq!(m.effective_positions, 0.0);
        assert!(m.positions.iter().all(|p| p.weight == 0.0));
        assert_eq!(m.unrealized_pl, Some(0.0));
        let json = serde_json::to_value(&m).unwrap();
        assert_eq!(json["effective_positions"], 0.0);
        assert_eq!(json["positions"][1]["weight"], 0.0);
        let text = commentary(&holdings, &m);
        assert!(text.contains("nothing to weigh yet"), "{text}");
        assert!((3..=6).contains(&sentence_count(&text)), "{text}");
        let empty = metrics(&[]);
        assert_eq!(empty.effective_positions, 0.0);
        assert!(serde_json::to_string(&empty).is_ok());
        assert!(commentary(&[], &empty).contains("nothing to weigh yet"));
    }

    #[test]
    fn builtin_never_fails() {
        let holdings = mixed();
        let analyst: Box<dyn Analyst> = Box::new(Builtin);
        assert_eq!(analyst.name(), "builtin");
        let m = metrics(&holdings);
        assert_eq!(
            analyst.analyse(&holdings, &m),
            Ok(commentary(&holdings, &m))
        );
    }
}
