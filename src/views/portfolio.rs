//! The portfolio page: the note after a change, holdings with totals, the
//! allocation chart, the form to add or update a holding, and the
//! commentary panel.

use maud::{html, Markup};

use super::chart;
use super::holdings::{self, amount, number};
use super::layout::{csrf_field, page, Frame};
use super::settings::upgrade_hint;
use crate::format::money;
use crate::services::analyst::Metrics;
use crate::services::billing::checkout::Checkout;
use crate::services::holding_form::{form_value, FieldErrors, NUMBER_RULE};
use crate::services::portfolio::Holding;

/// What the add/update form shows: empty, or a refused submission with the
/// typed values and what is wrong with each field.
#[derive(Default)]
pub struct HoldingForm<'a> {
    pub symbol: &'a str,
    pub quantity: &'a str,
    pub price: &'a str,
    pub cost_basis: &'a str,
    pub errors: FieldErrors,
}

/// The one-line note after a change.
pub enum Notice {
    Saved(Holding),
    /// With an Undo that saves the holding again.
    Deleted(Holding),
}

pub fn portfolio(
    frame: &Frame,
    holdings: &[Holding],
    metrics: &Metrics,
    form: &HoldingForm,
    checkout: Option<&Checkout>,
    notice: Option<&Notice>,
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
            @if let Some(notice) = notice {
                (flash(frame.csrf, notice))
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
                    (holdings::table(frame.csrf, holdings, metrics))
                }
                section class="card" {
                    h2 { "Allocation" }
                    (chart::allocation(&metrics.positions.iter().map(|p| (p.symbol.clone(), p.weight)).collect::<Vec<_>>()))
                }
            }
            (holding_form(frame.csrf, form))
            section class="card" id="commentary-card" {
                h2 { "Commentary" }
                p class="muted small" { "Plain-language notes on concentration, diversification, winners and losers. A paid feature." }
                button type="button" class="button" id="get-commentary" data-csrf=(frame.csrf) { "Get commentary" }
                p id="commentary-status" class="muted" role="status" aria-live="polite" {}
                div id="commentary" class="commentary" hidden {}
                div id="commentary-upgrade" hidden { (upgrade_hint(frame, checkout)) }
            }
        },
    )
}

fn flash(csrf: &str, notice: &Notice) -> Markup {
    html! {
        div class="flash" role="status" data-testid="flash" {
            @match notice {
                Notice::Saved(h) => span { "Saved " (h.symbol) ": " (number(h.quantity)) " × " (amount(h.price)) },
                Notice::Deleted(h) => {
                    span { "Deleted " (h.symbol) " (" (number(h.quantity)) " × " (amount(h.price)) ")." }
                    " "
                    form method="post" action="/portfolio/holdings" class="inline" {
                        (csrf_field(csrf))
                        input type="hidden" name="symbol" value=(h.symbol);
                        input type="hidden" name="quantity" value=(form_value(h.quantity));
                        input type="hidden" name="price" value=(form_value(h.price));
                        input type="hidden" name="cost_basis" value=(h.cost_basis.map(form_value).unwrap_or_default());
                        button type="submit" class="link-button undo" aria-label=(format!("Undo: add {} back", h.symbol)) { "Undo" }
                    }
                },
            }
        }
    }
}

fn holding_form(csrf: &str, form: &HoldingForm) -> Markup {
    let e = &form.errors;
    // The first bad field takes the focus, which also scrolls the form into view.
    let first_bad = [
        ("symbol", &e.symbol),
        ("quantity", &e.quantity),
        ("price", &e.price),
        ("cost_basis", &e.cost_basis),
    ]
    .into_iter()
    .find(|(_, error)| error.is_some())
    .map(|(name, _)| name);
    let input = |name: &'static str,
                 label: &str,
                 value: &str,
                 hint: &str,
                 error: &Option<String>,
                 numeric: bool| {
        let invalid = error.is_some();
        let mut described = format!("{name}-hint");
        if numeric {
            described.push_str(" number-rule");
        }
        if invalid {
            described.push_str(&format!(" {name}-error"));
        }
        html! {
            div class="field" {
                label class="field-label" for=(format!("f-{name}")) { (label) }
                input type="text" id=(format!("f-{name}")) name=(name) value=(value)
                    inputmode=[numeric.then_some("decimal")]
                    maxlength=[(!numeric).then_some("16")]
                    autocapitalize=[(!numeric).then_some("characters")]
                    autocomplete="off"
                    aria-invalid=[invalid.then_some("true")]
                    aria-describedby=(described)
                    autofocus[first_bad == Some(name)];
                span class="field-hint" id=(format!("{name}-hint")) { (hint) }
                @if let Some(error) = error {
                    span class="field-error" id=(format!("{name}-error")) { (error) }
                }
            }
        }
    };
    html! {
        section class="card" id="add" data-canonical-url=[first_bad.map(|_| "/portfolio")] {
            h2 { "Add or update a holding" }
            form method="post" action="/portfolio/holdings" class="holding-form" novalidate {
                (csrf_field(csrf))
                div class="row" {
                    (input("symbol", "Symbol", form.symbol, "Like AAPL or VWCE.DE. A symbol you already hold is replaced.", &e.symbol, false))
                    (input("quantity", "Quantity", form.quantity, "How many units, like 10 or 2.5.", &e.quantity, true))
                    (input("price", "Price", form.price, "Today's price per unit, like 190.50.", &e.price, true))
                    (input("cost_basis", "Cost basis (optional)", form.cost_basis, "The average price you paid per unit.", &e.cost_basis, true))
                }
                p class="field-hint" id="number-rule" { (NUMBER_RULE) }
                button type="submit" class="button" { "Save holding" }
            }
        }
    }
}
