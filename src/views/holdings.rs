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
                    @let quantity = number(h.quantity);
                    tr data-symbol=(h.symbol) data-currency=(h.currency) {
                        th scope="row" class="symbol" { (h.symbol) }
                        td data-label="Quantity" class=[long(&quantity)] { (quantity) }
                        td data-label="Price" class=[long(&h.price.amount())] {
                            (priced(h.price, h.currency))
                            (source(h))
                        }
                        td data-label="Cost basis" class=[h.cost_basis.and_then(|c| long(&c.amount()))] { @if let Some(c) = h.cost_basis { (priced(c, h.currency)) } @else { span class="muted" { "—" } } }
                        td data-label="Value" data-testid="value" class=[row.base_value.or(row.value).and_then(|x| long(&x.money()))] { (value_cell(row, base)) }
                        td data-label="Weight" { @if row.base_value.is_some() { (percent(v.weight(row))) } @else { span class="muted" { "—" } } }
                        td data-label="P/L" class=[row.base_pl.and_then(|x| long(&x.money()))] { (pl(row.base_pl.filter(|_| row.base_value.is_some()))) }
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
                    td data-label="Value" data-testid="total-row" class=[long(&v.total.money())] { (figure(&v.total.money(), Some(html! { (base) }))) }
                    td data-label="Weight" { (percent(if v.total > Decimal::ZERO { 1.0 } else { 0.0 })) }
                    td data-label="P/L" class=[v.unrealized_pl().and_then(|x| long(&x.money()))] { (pl(v.unrealized_pl())) }
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
                (figure(&b.money(), None))
                span class="muted small block" { (figure(&v.money(), Some(html! { (own) }))) }
            },
            (Some(b), _) => (figure(&b.money(), None)),
            (None, Some(v)) => {
                span class="muted" { (figure(&v.money(), Some(html! { (own) }))) }
                span class="small block note" { "No " (own) " rate: not in the total" }
            },
            (None, None) => span class="muted" { "—" },
        }
    }
}

fn priced(x: Decimal, currency: Currency) -> Markup {
    figure(
        &x.amount(),
        Some(html! { span class="currency" { (currency) } }),
    )
}

/// `long` for a figure too wide to share a phone's card row with two others
/// (more than 12 characters): there it takes the row to itself.
fn long(text: &str) -> Option<&'static str> {
    (text.chars().count() > 12).then_some("long")
}

/// A number as it reads (`1,234,567.89`), never split from its `unit` (a
/// currency). A long one (see `long`) may wrap after a thousands separator,
/// never inside a group of digits: holdings at the limits (1e12 × 1e12)
/// still fit a phone's card.
pub fn figure(text: &str, unit: Option<Markup>) -> Markup {
    let (head, last) = match long(text) {
        Some(_) => text.rfind(',').map_or(("", text), |i| text.split_at(i + 1)),
        None => ("", text),
    };
    html! {
        @for group in head.split_inclusive(',') { (group) wbr; }
        @match unit {
            Some(unit) => span class="nowrap" { (last) " " (unit) },
            None => (last),
        }
    }
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
            Some(v) if v > Decimal::ZERO => span class="gain" { "+" (figure(&v.money(), None)) },
            Some(v) if v.is_negative() => span class="loss" { (figure(&v.money(), None)) },
            Some(v) => span { (figure(&v.money(), None)) },
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

    #[test]
    fn a_figure_wraps_only_after_a_thousands_separator() {
        assert_eq!(
            figure("1,234,567,890.12", Some(html! { "USD" })).into_string(),
            r#"1,<wbr>234,<wbr>567,<wbr><span class="nowrap">890.12 USD</span>"#
        );
        assert_eq!(
            figure("-12,345,678,901", None).into_string(),
            "-12,<wbr>345,<wbr>678,<wbr>901"
        );
        // Short ones read as they always did.
        assert_eq!(
            figure("1,234.50", Some(html! { "USD" })).into_string(),
            r#"<span class="nowrap">1,234.50 USD</span>"#
        );
        assert_eq!(figure("1,234,567.89", None).into_string(), "1,234,567.89");
        assert_eq!(long("1,234,567.89"), None);
        assert_eq!(long("1000000000000"), Some("long"));
    }
}
