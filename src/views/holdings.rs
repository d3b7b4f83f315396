//! The holdings table. On a wide screen it is a table; on a phone each row
//! becomes a compact card (CSS only, `data-label` names each value) that
//! still shows every value and its Delete button. Prices and costs show in
//! the holding's own currency; values, weights and P/L in the base one.

use maud::{html, Markup};

use super::layout::csrf_field;
use crate::format::percent;
use crate::money::{Currency, Decimal};
use crate::services::portfolio::Holding;
use crate::services::valuation::{Row, Valuation};

pub fn table(csrf: &str, v: &Valuation) -> Markup {
    let base = v.base;
    html! {
        table class="holdings" {
            thead {
                tr {
                    th scope="col" { "Symbol" }
                    th scope="col" { "Quantity" }
                    th scope="col" { "Price" }
                    th scope="col" { "Cost basis" }
                    th scope="col" { "Value (" (base) ")" }
                    th scope="col" { "Weight" }
                    th scope="col" { "Unrealised P/L (" (base) ")" }
                    th scope="col" { span class="visually-hidden" { "Actions" } }
                }
            }
            tbody {
                @for row in &v.rows {
                    @let h = &row.holding;
                    tr data-symbol=(h.symbol) data-currency=(h.currency) {
                        th scope="row" class="symbol" { (h.symbol) }
                        td data-label="Quantity" { (number(h.quantity)) }
                        td data-label="Price" {
                            (priced(h.price, h.currency))
                            (source(h))
                        }
                        td data-label="Cost basis" { @if let Some(c) = h.cost_basis { (priced(c, h.currency)) } @else { span class="muted" { "—" } } }
                        td data-label="Value" data-testid="value" { (value_cell(row, base)) }
                        td data-label="Weight" { @if row.base_value.is_some() { (percent(v.weight(row))) } @else { span class="muted" { "—" } } }
                        td data-label="P/L" { (pl(row.base_pl.filter(|_| row.base_value.is_some()))) }
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
                    td data-label="Value" data-testid="total-row" { span class="nowrap" { (v.total.money()) " " (base) } }
                    td data-label="Weight" { (percent(if v.total > Decimal::ZERO { 1.0 } else { 0.0 })) }
                    td data-label="P/L" { (pl(v.unrealized_pl())) }
                    td class="wide-only" {}
                }
            }
        }
    }
}

/// The value in the base currency, and in the holding's own below it when
/// they differ; without a rate, the own value and why it is not counted.
fn value_cell(row: &Row, base: Currency) -> Markup {
    let own = row.holding.currency;
    html! {
        @match (row.base_value, row.value) {
            (Some(b), Some(v)) if own != base => {
                (b.money())
                span class="muted small block" { (v.money()) " " (own) }
            },
            (Some(b), _) => (b.money()),
            (None, Some(v)) => {
                span class="muted" { (v.money()) " " (own) }
                span class="small block note" { "No " (own) " rate: not in the total" }
            },
            (None, None) => span class="muted" { "—" },
        }
    }
}

fn priced(x: Decimal, currency: Currency) -> Markup {
    html! { span class="nowrap" { (x.amount()) " " span class="currency" { (currency) } } }
}

/// Where a quoted price came from and when it was current.
fn source(h: &Holding) -> Markup {
    html! {
        @if h.price_source.is_quoted() {
            span class="muted small block" data-testid="price-source" {
                @match h.price_at {
                    Some(at) => { (h.price_source.label()) " · " (when(at)) },
                    None => { (h.price_source.label()) " · waiting for the first quote" },
                }
            }
        }
    }
}

/// `2026-10-02 20:00 UTC`, or the date alone for a day's closing price.
pub fn when(at: crate::clock::Timestamp) -> String {
    let s = at.to_string();
    if s.ends_with("T00:00:00Z") {
        s[..10].to_string()
    } else {
        format!("{} {} UTC", &s[..10], &s[11..16])
    }
}

fn pl(value: Option<Decimal>) -> Markup {
    html! {
        @match value {
            Some(v) if v > Decimal::ZERO => span class="gain" { "+" (v.money()) },
            Some(v) if v.is_negative() => span class="loss" { (v.money()) },
            Some(v) => span { (v.money()) },
            None => span class="muted" { "—" },
        }
    }
}

/// A count of units as typed: `10`, `2.5`, `0.125`.
pub fn number(x: Decimal) -> String {
    x.to_string()
}

/// A price as money (`1,234.50`), or with every decimal when it has more
/// than two, so people can check what they typed.
pub fn amount(x: Decimal) -> String {
    x.amount()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::parse(s).unwrap()
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(number(d("10")), "10");
        assert_eq!(number(d("0.125")), "0.125");
        assert_eq!(percent(0.4567), "45.7%");
        assert_eq!(amount(d("190.5")), "190.50");
        assert_eq!(amount(d("1234.5")), "1,234.50");
        assert_eq!(amount(d("0.1234")), "0.1234");
        let t = crate::clock::Timestamp::parse_rfc3339("2026-10-02T20:00:00Z").unwrap();
        assert_eq!(when(t), "2026-10-02 20:00 UTC");
        assert_eq!(
            when(crate::clock::Timestamp::from_date(2026, 9, 29)),
            "2026-09-29"
        );
    }
}
