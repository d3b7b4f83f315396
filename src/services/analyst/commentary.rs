//! The built-in analyst's words: 3 to 6 plain sentences on concentration,
//! diversification, cash, and winners and losers, following the numbers.

use super::{is_cash, PortfolioMetrics, Position, NOTABLE, VERY_CONCENTRATED};
use crate::db::holdings::Holding;
use crate::format::{money, percent};

/// Writes 3 to 6 plain sentences about the portfolio, as one paragraph.
/// `m` must be `metrics(holdings)`.
pub fn commentary(holdings: &[Holding], m: &PortfolioMetrics) -> String {
    if m.total_value <= 0.0 {
        return nothing_to_weigh(holdings.len());
    }
    let valued: Vec<&Position> = m.positions.iter().filter(|p| p.value > 0.0).collect();
    let mut sentences = vec![overview(&valued, holdings.len(), m)];
    if let [only] = valued.as_slice() {
        sentences.push(single_holding(only));
    } else {
        sentences.push(concentration(&valued, m.top_weight));
        sentences.push(diversification(
            valued.len(),
            m.effective_positions,
            m.top_weight,
        ));
        sentences.extend(cash(&valued, m.total_value));
    }
    sentences.extend(profit_and_loss(holdings, m));
    sentences.join(" ")
}

fn nothing_to_weigh(count: usize) -> String {
    let first = if count == 0 {
        "There are no holdings yet, so there is nothing to weigh yet. \
         Add a holding with a quantity and a price to see how the value is spread."
            .to_string()
    } else {
        format!(
            "The portfolio lists {} but they are worth 0.00 in total, so there is nothing to weigh yet. \
             Every holding has a quantity or a price of zero.",
            plural(count, "holding")
        )
    };
    format!(
        "{first} Once holdings have a value, this note covers concentration, diversification, cash and profit or loss."
    )
}

fn overview(valued: &[&Position], count: usize, m: &PortfolioMetrics) -> String {
    let worth = format!("{}{}", money(m.total_value), change_clause(m));
    match valued {
        [only] if count == 1 => format!(
            "The portfolio is worth {worth}, all of it in {}.",
            only.symbol
        ),
        [only] => format!(
            "The portfolio is worth {worth}, all of it in {}; the other {} no value yet.",
            only.symbol,
            if count == 2 {
                "holding has".to_string()
            } else {
                format!("{} holdings have", count - 1)
            }
        ),
        _ if valued.len() < count => format!(
            "The portfolio is worth {worth} across {} with a value ({} more at zero).",
            plural(valued.len(), "holding"),
            count - valued.len()
        ),
        _ => format!(
            "The portfolio is worth {worth} across {}.",
            plural(valued.len(), "holding")
        ),
    }
}

/// ` (up 4.2% since 2026-11-02, +1,000.00)` when there is a 30-day change.
fn change_clause(m: &PortfolioMetrics) -> String {
    let Some(c) = &m.change_30d else {
        return String::new();
    };
    let base = m.base_currency;
    let moved = match c.fraction {
        _ if is_flat(c.change) => format!("unchanged since {}", c.since),
        Some(f) if c.change > 0.0 => format!("up {} since {}", percent(f), c.since),
        Some(f) => format!("down {} since {}", percent(-f), c.since),
        None => format!("{} since {}", signed_money(c.change), c.since),
    };
    if is_flat(c.change) {
        format!(" {base}, {moved} 30 days ago")
    } else {
        format!(
            " {base}, {moved}, {} {base} over 30 days",
            signed_money(c.change)
        )
    }
}

fn single_holding(only: &Position) -> String {
    if is_cash(&only.symbol) {
        "Everything is in cash, so nothing is invested in the markets yet.".to_string()
    } else {
        format!(
            "With a single holding, the value rises and falls entirely with {}, so there is no diversification at all.",
            only.symbol
        )
    }
}

/// Names the largest holding (or the joint largest) and says how much it weighs.
/// When cash is the largest, it names the largest investment instead and
/// leaves cash to its own sentence.
fn concentration(valued: &[&Position], top_weight: f64) -> String {
    let top: Vec<&str> = valued
        .iter()
        .filter(|p| (p.weight - top_weight).abs() <= 1e-9)
        .map(|p| p.symbol.as_str())
        .collect();
    let share = percent(top_weight);
    if top.len() == valued.len() {
        let all = if top.len() == 2 {
            "Both".to_string()
        } else {
            format!("All {}", top.len())
        };
        return format!(
            "{all} holdings carry the same weight, {share} each, so no single name dominates."
        );
    }
    match top.as_slice() {
        [one] if is_cash(one) => {
            let invested = valued
                .iter()
                .filter(|p| !is_cash(&p.symbol))
                .max_by(|a, b| a.weight.total_cmp(&b.weight));
            match invested {
                Some(p) => format!(
                    "Cash is the largest holding; of the investments, {} is the largest at {} of the value{}.",
                    p.symbol,
                    percent(p.weight),
                    // Beside a large cash pile, "no single name dominates" would mislead.
                    if p.weight > NOTABLE { weight_comment(p.weight, "it") } else { String::new() }
                ),
                None => format!("The largest holding is {one} at {share} of the value."),
            }
        }
        [one] => format!(
            "The largest holding, {one}, is {share} of the value{}.",
            weight_comment(top_weight, "it")
        ),
        several => format!(
            "{} are the joint largest holdings at {share} of the value each{}.",
            names(several),
            weight_comment(top_weight, "each")
        ),
    }
}

/// How much one holding's weight matters, as the end of a sentence.
fn weight_comment(weight: f64, pronoun: &str) -> String {
    if weight > VERY_CONCENTRATED {
        format!(
            ", which makes the portfolio very concentrated: a 10% fall in {pronoun} alone would cut the total by {}",
            percent(weight * 0.1)
        )
    } else if weight > NOTABLE {
        ", a notable concentration".to_string()
    } else {
        ", so no single name dominates".to_string()
    }
}

fn diversification(count: usize, effective: f64, top_weight: f64) -> String {
    let ratio = effective / count as f64;
    if ratio >= 0.9995 {
        return format!("In effect that is {count} equally weighted positions, as spread out as {count} holdings can be.");
    }
    // A portfolio whose largest holding is very concentrated is never called
    // evenly spread, however few holdings it has.
    let spread = if ratio >= 0.8 && top_weight <= VERY_CONCENTRATED {
        "so the value is spread fairly evenly"
    } else if ratio >= 0.5 {
        "so the weights are noticeably uneven"
    } else {
        "so most of the value sits in a few of them"
    };
    format!("Its {count} holdings behave like about {effective:.1} equally weighted positions, {spread}.")
}

fn cash(valued: &[&Position], total: f64) -> Option<String> {
    let held: Vec<&Position> = valued
        .iter()
        .copied()
        .filter(|p| is_cash(&p.symbol))
        .collect();
    if held.is_empty() {
        return None;
    }
    let share = held.iter().map(|p| p.value).sum::<f64>() / total;
    let symbols: Vec<&str> = held.iter().map(|p| p.symbol.as_str()).collect();
    let comment = if held.len() == valued.len() {
        "so nothing is invested in the markets yet"
    } else if share > 0.5 {
        "so more than half the portfolio is not invested"
    } else if share > 0.2 {
        "a sizeable cushion"
    } else {
        "a small cushion"
    };
    Some(format!(
        "Cash ({}) makes up {} of the value, {comment}.",
        names(&symbols),
        percent(share)
    ))
}

/// One holding's unrealised profit or loss, with its percentage on cost when
/// the cost is not zero.
struct Gain<'a> {
    symbol: &'a str,
    pl: f64,
    on_cost: Option<f64>,
}

impl Gain<'_> {
    fn describe(&self) -> String {
        match self.on_cost {
            Some(pct) => format!(
                "{} at {} ({})",
                self.symbol,
                signed_money(self.pl),
                signed_percent(pct)
            ),
            None => format!("{} at {}", self.symbol, signed_money(self.pl)),
        }
    }
}

fn profit_and_loss(holdings: &[Holding], m: &PortfolioMetrics) -> Vec<String> {
    let gains: Vec<Gain> = holdings
        .iter()
        .zip(&m.positions)
        .filter_map(|(h, p)| {
            let (cost, pl) = (h.cost_basis?.to_f64(), p.unrealized_pl?);
            Some(Gain {
                symbol: &h.symbol,
                pl,
                on_cost: (cost > 0.0).then(|| (h.price.to_f64() - cost) / cost),
            })
        })
        .collect();
    let total = m.unrealized_pl.unwrap_or(0.0);
    match gains.as_slice() {
        [] => {
            vec!["Add a cost basis to a holding to see its unrealised profit or loss.".to_string()]
        }
        [one] => {
            let lead = if holdings.len() == 1 {
                String::new()
            } else {
                format!("Only {} has a cost basis; ", one.symbol)
            };
            let body = format!(
                "{} shows {}.",
                if lead.is_empty() { one.symbol } else { "it" },
                gain_or_loss(one.pl, one.on_cost)
            );
            vec![format!("{lead}{body}")]
        }
        several => {
            let cost: f64 = holdings
                .iter()
                .filter_map(|h| h.cost_basis.map(|c| c.to_f64() * h.quantity.to_f64()))
                .sum();
            let on_cost = (cost > 0.0).then(|| total / cost);
            let of_count = if several.len() < holdings.len() {
                format!(" of {}", holdings.len())
            } else {
                String::new()
            };
            let mut out = vec![format!(
                "The {}{of_count} holdings with a cost basis show {} in total.",
                several.len(),
                gain_or_loss(total, on_cost)
            )];
            out.extend(winners_and_losers(several));
            out
        }
    }
}

fn gain_or_loss(pl: f64, on_cost: Option<f64>) -> String {
    let pct = on_cost
        .map(|p| format!(" ({} on cost)", signed_percent(p)))
        .unwrap_or_default();
    if is_flat(pl) {
        "no unrealised gain or loss".to_string()
    } else if pl > 0.0 {
        format!("an unrealised gain of {}{pct}", signed_money(pl))
    } else {
        format!("an unrealised loss of {}{pct}", signed_money(pl))
    }
}

fn winners_and_losers(gains: &[Gain]) -> Option<String> {
    let best = gains
        .iter()
        .filter(|g| !is_flat(g.pl) && g.pl > 0.0)
        .max_by(|a, b| a.pl.total_cmp(&b.pl));
    let worst = gains
        .iter()
        .filter(|g| !is_flat(g.pl) && g.pl < 0.0)
        .min_by(|a, b| a.pl.total_cmp(&b.pl));
    match (best, worst) {
        (Some(b), Some(w)) => Some(format!(
            "The biggest gainer is {}, and the biggest loser is {}.",
            b.describe(),
            w.describe()
        )),
        (Some(b), None) => Some(format!(
            "The biggest gainer is {}, and none of them is at a loss.",
            b.describe()
        )),
        (None, Some(w)) => Some(format!(
            "The biggest loser is {}, and none of them shows a gain.",
            w.describe()
        )),
        (None, None) => None,
    }
}

/// Less than half a cent either way reads as zero.
fn is_flat(x: f64) -> bool {
    x.abs() < 0.005
}

fn signed_money(x: f64) -> String {
    if x > 0.0 && !is_flat(x) {
        format!("+{}", money(x))
    } else {
        money(x)
    }
}

fn signed_percent(fraction: f64) -> String {
    let text = percent(fraction);
    if fraction > 0.0 && text != "0.0%" {
        format!("+{text}")
    } else {
        text
    }
}

fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// "A", "A and B", "A, B and C", or "A, B, C and 2 others".
fn names(symbols: &[&str]) -> String {
    match symbols {
        [] => String::new(),
        [one] => one.to_string(),
        [first @ .., last] if symbols.len() <= 3 => format!("{} and {last}", first.join(", ")),
        _ => format!(
            "{} and {} others",
            symbols[..3].join(", "),
            symbols.len() - 3
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::super::metrics;
    use super::*;

    #[test]
    fn commentary_follows_concentration() {
        let concentrated = vec![
            holding("NVDA", 100.0, 120.0, None),
            holding("KO", 10.0, 60.0, None),
            holding("PG", 5.0, 160.0, None),
        ];
        let diversified: Vec<Holding> = ["A", "B", "C", "D", "E"]
            .iter()
            .zip(1..)
            .map(|(s, i)| holding(s, 10.0 + i as f64, 100.0, None))
            .collect();
        let c = commentary(&concentrated, &metrics(&concentrated));
        let d = commentary(&diversified, &metrics(&diversified));
        assert_ne!(c, d);
        assert!(c.contains("NVDA") && c.contains("very concentrated"), "{c}");
        assert!(c.contains("NVDA, is 89.6%"), "{c}");
        assert!(
            d.contains("largest holding, E") && d.contains("no single name dominates"),
            "{d}"
        );
        assert!(d.contains("behave like about 4.9"), "{d}");
        for text in [&c, &d] {
            assert!((3..=6).contains(&sentence_count(text)), "{text}");
        }
    }

    #[test]
    fn commentary_names_cash_winner_and_loser() {
        let holdings = mixed();
        let text = commentary(&holdings, &metrics(&holdings));
        assert!(text.contains("Cash (CASH) makes up 12.3%"), "{text}");
        assert!(
            text.contains("biggest gainer is AAPL at +2,000.00 (+26.7%)"),
            "{text}"
        );
        assert!(
            text.contains("biggest loser is MSFT at -200.00 (-4.8%)"),
            "{text}"
        );
        assert!(text.contains("+2,200.00"), "{text}");
        assert!(text.contains("AAPL, is 46.6%"), "{text}");
        assert!((3..=6).contains(&sentence_count(&text)), "{text}");
    }

    #[test]
    fn commentary_for_a_single_holding() {
        let holdings = [holding("TSLA", 10.0, 200.0, Some(250.0))];
        let text = commentary(&holdings, &metrics(&holdings));
        assert!(
            text.contains("all of it in TSLA") && text.contains("single holding"),
            "{text}"
        );
        assert!(
            text.contains("unrealised loss of -500.00 (-20.0% on cost)"),
            "{text}"
        );
        assert!((3..=6).contains(&sentence_count(&text)), "{text}");
        let cash = [holding("USD", 1000.0, 1.0, None)];
        let text = commentary(&cash, &metrics(&cash));
        assert!(text.contains("in cash"), "{text}");
        assert!((3..=6).contains(&sentence_count(&text)), "{text}");
    }

    #[test]
    fn commentary_stays_between_three_and_six_sentences() {
        let cases: Vec<Vec<Holding>> = vec![
            vec![holding("A", 1.0, 1.0, None), holding("B", 1.0, 1.0, None)],
            vec![
                holding("A", 1.0, 10.0, Some(10.0)),
                holding("B", 0.0, 5.0, Some(1.0)),
            ],
            vec![
                holding("A", 1.0, 10.0, Some(5.0)),
                holding("B", 1.0, 30.0, Some(20.0)),
                holding("EUR-CASH", 9.0, 1.0, None),
            ],
            vec![
                holding("A", 1.0, 10.0, Some(0.0)),
                holding("B", 2.0, 10.0, Some(0.0)),
                holding("C", 3.0, 10.0, None),
            ],
            vec![
                holding("A", 1e12, 1e12, Some(1e12)),
                holding("B", 1e12, 1e12, Some(0.0)),
            ],
            vec![
                holding("A", 2.0, 10.0, None),
                holding("B", 2.0, 10.0, None),
                holding("C", 1.0, 10.0, None),
            ],
        ];
        for holdings in cases {
            let m = metrics(&holdings);
            let text = commentary(&holdings, &m);
            assert!((3..=6).contains(&sentence_count(&text)), "{text}");
            assert!(!text.contains("NaN") && !text.contains("inf"), "{text}");
            assert!(serde_json::to_string(&m).is_ok());
        }
    }

    #[test]
    fn a_very_concentrated_pair_is_not_called_evenly_spread() {
        let h = vec![holding("A", 1.0, 10.0, None), holding("B", 3.0, 10.0, None)];
        let text = commentary(&h, &metrics(&h));
        assert!(text.contains("very concentrated"), "{text}");
        assert!(!text.contains("fairly evenly"), "{text}");
    }
}
