//! The holdings table. On a wide screen it is a table; on a phone each row
//! becomes a compact card (CSS only, `data-label` names each value) that
//! still shows every value and its Delete button.

use maud::{html, Markup};

use super::layout::csrf_field;
use crate::format::{money, percent};
use crate::services::analyst::PortfolioMetrics;
use crate::services::portfolio::Holding;

pub fn table(csrf: &str, holdings: &[Holding], metrics: &PortfolioMetrics) -> Markup {
    html! {
        table class="holdings" {
            thead {
                tr {
                    th scope="col" { "Symbol" }
                    th scope="col" { "Quantity" }
                    th scope="col" { "Price" }
                    th scope="col" { "Cost basis" }
                    th scope="col" { "Value" }
                    th scope="col" { "Weight" }
                    th scope="col" { "Unrealised P/L" }
                    th scope="col" { span class="visually-hidden" { "Actions" } }
                }
            }
            tbody {
                @for (h, p) in holdings.iter().zip(&metrics.positions) {
                    tr data-symbol=(h.symbol) {
                        th scope="row" class="symbol" { (h.symbol) }
                        td data-label="Quantity" { (number(h.quantity)) }
                        td data-label="Price" { (amount(h.price)) }
                        td data-label="Cost basis" { @if let Some(c) = h.cost_basis { (amount(c)) } @else { span class="muted" { "—" } } }
                        td data-label="Value" { (money(p.value)) }
                        td data-label="Weight" { (percent(p.weight)) }
                        td data-label="P/L" { (pl(p.unrealized_pl)) }
                        td class="actions" {
                            form method="post" action=(format!("/portfolio/holdings/{}/delete", h.symbol)) class="inline" {
                                (csrf_field(csrf))
                                button type="submit" class="button danger" aria-label=(format!("Delete {}", h.symbol)) { "Delete" }
                            }
                        }
                    }
                }
            }
            tfoot {
                tr {
                    th scope="row" class="symbol" { "Total" }
                    td class="wide-only" {} td class="wide-only" {} td class="wide-only" {}
                    td data-label="Value" { (money(metrics.total_value)) }
                    td data-label="Weight" { (percent(if metrics.total_value > 0.0 { 1.0 } else { 0.0 })) }
                    td data-label="P/L" { (pl(metrics.unrealized_pl)) }
                    td class="wide-only" {}
                }
            }
        }
    }
}

fn pl(value: Option<f64>) -> Markup {
    html! {
        @match value {
            Some(v) if v > 0.0 => span class="gain" { "+" (money(v)) },
            Some(v) if v < 0.0 => span class="loss" { (money(v)) },
            Some(v) => span { (money(v)) },
            None => span class="muted" { "—" },
        }
    }
}

/// A count of units as typed: `10`, `2.5`, `0.125`.
pub fn number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{x:.0}")
    } else {
        let s = format!("{x:.6}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// A price as money (`1,234.50`), or with every decimal when it has more
/// than two, so people can check what they typed.
pub fn amount(x: f64) -> String {
    if ((x * 100.0).round() / 100.0 - x).abs() < 1e-9 {
        money(x)
    } else {
        number(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(money(999.999), "1,000.00");
        assert_eq!(number(10.0), "10");
        assert_eq!(number(0.125), "0.125");
        assert_eq!(percent(0.4567), "45.7%");
        assert_eq!(amount(190.5), "190.50");
        assert_eq!(amount(1234.5), "1,234.50");
        assert_eq!(amount(0.1234), "0.1234");
    }
}
