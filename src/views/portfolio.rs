//! The portfolio page: holdings with totals, the allocation chart, the form
//! to add or update a holding, and the commentary panel.

use maud::{html, Markup};

use super::chart;
use super::layout::{csrf_field, field, page, Frame};
use super::settings::upgrade_hint;
use crate::format::{money, percent};
use crate::services::analyst::Metrics;
use crate::services::billing::checkout::Checkout;
use crate::services::portfolio::Holding;

/// What the add/update form shows after a refused submission.
#[derive(Default)]
pub struct HoldingForm<'a> {
    pub symbol: &'a str,
    pub quantity: &'a str,
    pub price: &'a str,
    pub cost_basis: &'a str,
    pub error: Option<&'a str>,
}

pub fn portfolio(
    frame: &Frame,
    holdings: &[Holding],
    metrics: &Metrics,
    form: &HoldingForm,
    checkout: Option<&Checkout>,
) -> Markup {
    page(
        frame,
        "Portfolio",
        html! {
            div class="page-head" {
                h1 { "Portfolio" }
                @if !holdings.is_empty() {
                    p class="muted" { "Total value " strong data-testid="total-value" { (money(metrics.total_value)) } }
                }
            }
            @if holdings.is_empty() {
                section class="card empty" {
                    h2 { "No holdings yet" }
                    p { "Add what you own below: a symbol (like AAPL or VWCE.DE), how many units, and today's price. "
                        "Add the average price you paid as the cost basis to see gains and losses. "
                        "Keep cash as a holding called CASH with price 1." }
                }
            } @else {
                section class="card" {
                    (table(frame, holdings, metrics))
                }
                section class="card" {
                    h2 { "Allocation" }
                    (chart::allocation(&metrics.positions.iter().map(|p| (p.symbol.clone(), p.weight)).collect::<Vec<_>>()))
                }
            }
            section class="card" id="add" {
                h2 { "Add or update a holding" }
                p class="muted small" { "Using a symbol you already hold replaces that holding." }
                form method="post" action="/portfolio/holdings" class="holding-form" novalidate {
                    (csrf_field(frame.csrf))
                    @if let Some(error) = form.error {
                        p class="field-error" role="alert" { (error) }
                    }
                    div class="row" {
                        (field("Symbol", html! { input type="text" name="symbol" value=(form.symbol) required maxlength="16" autocapitalize="characters" placeholder="AAPL"; }, None))
                        (field("Quantity", html! { input type="text" name="quantity" value=(form.quantity) required inputmode="decimal" placeholder="10"; }, None))
                        (field("Price", html! { input type="text" name="price" value=(form.price) required inputmode="decimal" placeholder="190.50"; }, None))
                        (field("Cost basis (optional)", html! { input type="text" name="cost_basis" value=(form.cost_basis) inputmode="decimal" placeholder="per unit"; }, None))
                        button type="submit" class="button" { "Save holding" }
                    }
                }
            }
            section class="card" id="commentary-card" {
                h2 { "Commentary" }
                p class="muted small" { "Plain-language notes on concentration, diversification, winners and losers. A paid feature." }
                button type="button" class="button" id="get-commentary" data-csrf=(frame.csrf) { "Get commentary" }
                p id="commentary-status" class="muted" role="status" aria-live="polite" {}
                div id="commentary" class="commentary" hidden {}
                div id="commentary-upgrade" hidden { (upgrade_hint(checkout)) }
            }
        },
    )
}

fn table(frame: &Frame, holdings: &[Holding], metrics: &Metrics) -> Markup {
    html! {
        div class="table-wrap" {
            table {
                thead {
                    tr {
                        th scope="col" { "Symbol" }
                        th scope="col" class="hide-narrow" { "Quantity" }
                        th scope="col" class="hide-narrow" { "Price" }
                        th scope="col" class="hide-narrow" { "Cost basis" }
                        th scope="col" { "Value" }
                        th scope="col" { "Weight" }
                        th scope="col" { span class="hide-narrow" { "Unrealised " } "P/L" }
                        th scope="col" { span class="visually-hidden" { "Actions" } }
                    }
                }
                tbody {
                    @for (h, p) in holdings.iter().zip(&metrics.positions) {
                        tr data-symbol=(h.symbol) {
                            td { strong { (h.symbol) } }
                            td class="hide-narrow" { (number(h.quantity)) }
                            td class="hide-narrow" { (money(h.price)) }
                            td class="hide-narrow" { @if let Some(c) = h.cost_basis { (money(c)) } @else { span class="muted" { "—" } } }
                            td { (money(p.value)) }
                            td { (percent(p.weight)) }
                            td { (pl(p.unrealized_pl)) }
                            td {
                                form method="post" action=(format!("/portfolio/holdings/{}/delete", h.symbol)) class="inline" {
                                    (csrf_field(frame.csrf))
                                    button type="submit" class="button danger" aria-label=(format!("Delete {}", h.symbol)) { span class="hide-narrow" { "Delete" } span class="show-narrow" aria-hidden="true" { "✕" } }
                                }
                            }
                        }
                    }
                }
                tfoot {
                    tr {
                        td { "Total" }
                        td class="hide-narrow" {} td class="hide-narrow" {} td class="hide-narrow" {}
                        td { (money(metrics.total_value)) }
                        td { (percent(if metrics.total_value > 0.0 { 1.0 } else { 0.0 })) }
                        td { (pl(metrics.unrealized_pl)) }
                        td {}
                    }
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

fn number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{x:.0}")
    } else {
        let s = format!("{x:.6}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
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
    }
}
