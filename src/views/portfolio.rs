//! The portfolio page: the note after a change, holdings with totals in
//! the base currency, the allocation and history charts, the form to add or
//! update a holding, import and export, and the commentary panel.

use maud::{html, Markup};

use super::chart;
use super::holdings::{self, amount, number};
use super::layout::{csrf_field, page, Frame};
use super::settings::upgrade_hint;
use crate::money::Currency;
use crate::services::analyst::PortfolioMetrics;
use crate::services::billing::checkout::Checkout;
use crate::services::history::{DayTotal, Span};
use crate::services::holding_form::{form_value, FieldErrors, NUMBER_RULE};
use crate::services::import::BadRow;
use crate::services::portfolio::{Holding, PriceSource};
use crate::services::valuation::Valuation;

/// Everything the page shows besides the forms.
pub struct Figures<'a> {
    pub valuation: &'a Valuation,
    /// Of the converted holdings, in the base currency.
    pub metrics: &'a PortfolioMetrics,
    pub history: &'a [DayTotal],
    pub span: Span,
    /// The quote provider, when `APP_QUOTES` is on.
    pub quotes: Option<PriceSource>,
    /// The ECB day of the rates in use.
    pub rates_day: Option<&'a str>,
}

/// What the add/update form shows: empty, or a refused submission with the
/// typed values and what is wrong with each field.
#[derive(Default)]
pub struct HoldingForm<'a> {
    pub symbol: &'a str,
    pub quantity: &'a str,
    pub price: &'a str,
    pub cost_basis: &'a str,
    pub currency: &'a str,
    pub quoted: bool,
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
    figures: &Figures,
    form: &HoldingForm,
    import_errors: &[BadRow],
    checkout: Option<&Checkout>,
    notice: Option<&Notice>,
) -> Markup {
    let v = figures.valuation;
    let metrics = figures.metrics;
    let base = v.base;
    page(
        frame,
        "Portfolio",
        html! {
            div class="page-head" {
                h1 { "Portfolio" }
                @if !v.rows.is_empty() {
                    p class="muted" { "Total value " strong data-testid="total-value" { (holdings::figure(&v.total.money(), Some(html! { (base) }))) } }
                }
            }
            @if let Some(notice) = notice {
                (flash(frame.csrf, notice))
            }
            @if v.rows.is_empty() {
                section class="card empty" {
                    h2 { "No holdings yet" }
                    p { "Add what you own below: a symbol (like AAPL or VWCE.DE), how many units, and today's price. "
                        "Add the average price you paid as the cost basis to see gains and losses. "
                        "Keep cash as a holding called CASH with price 1, or import a CSV file." }
                }
            } @else {
                section class="card" {
                    (holdings::table(frame.csrf, v))
                    (currency_note(figures))
                }
                section class="card" {
                    h2 { "Allocation" }
                    (chart::allocation(&metrics.positions.iter().map(|p| (p.symbol.clone(), p.weight)).collect::<Vec<_>>()))
                }
            }
            @if !v.rows.is_empty() || !figures.history.is_empty() {
                (super::history::card(figures.history, base, figures.span))
            }
            (holding_form(frame.csrf, form, base, figures.quotes))
            (import_card(frame.csrf, import_errors, !v.rows.is_empty()))
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
                        input type="hidden" name="currency" value=(h.currency);
                        @if h.price_source.is_quoted() {
                            input type="hidden" name="quoted" value="1";
                        }
                        button type="submit" class="link-button undo" aria-label=(format!("Undo: add {} back", h.symbol)) { "Undo" }
                    }
                },
            }
        }
    }
}

/// Which currencies the totals use, at which ECB day, and what was left out.
fn currency_note(f: &Figures) -> Markup {
    let v = f.valuation;
    let left_out = v.left_out();
    let foreign = v.rows.iter().any(|r| r.holding.currency != v.base);
    html! {
        @if !left_out.is_empty() {
            p class="note" role="note" data-testid="left-out" {
                "Not in the total: "
                (left_out.iter().map(|r| format!("{} ({})", r.holding.symbol, r.holding.currency)).collect::<Vec<_>>().join(", "))
                ", for want of an exchange rate to " (v.base) "."
                @if f.rates_day.is_none() { " No rates have been fetched yet." }
            }
        }
        @if foreign {
            p class="muted small" data-testid="rates-note" {
                "Values in " (v.base) " at the European Central Bank's reference rates"
                @if let Some(day) = f.rates_day { " of " (day) }
                ". Change the base currency in Settings."
            }
        }
    }
}

fn import_card(csrf: &str, errors: &[BadRow], has_holdings: bool) -> Markup {
    html! {
        section class="card" id="import" {
            h2 { "Import or export" }
            p class="muted small" {
                "A CSV file with the header " code { "symbol,quantity,price,cost_basis,currency" }
                " (cost basis and currency may be empty; a decimal comma needs quotes, like \"190,50\"). "
                "Every row is added, or a symbol you hold is updated; if any row is wrong, nothing changes."
            }
            @if !errors.is_empty() {
                div class="import-errors" role="alert" id="import-errors" tabindex="-1" data-canonical-url="/portfolio" {
                    p { strong { "Nothing was imported." } " Fix these rows and try again:" }
                    ul {
                        @for e in errors { li { (e.to_string()) } }
                    }
                }
            }
            form method="post" action="/portfolio/import" enctype="multipart/form-data" class="import-form" {
                (csrf_field(csrf))
                div class="field" {
                    label class="field-label" for="f-file" { "CSV file" }
                    input type="file" id="f-file" name="file" accept=".csv,text/csv" required
                        aria-invalid=[(!errors.is_empty()).then_some("true")]
                        aria-describedby=[(!errors.is_empty()).then_some("import-errors")];
                }
                button type="submit" class="button secondary" { "Import" }
            }
            @if has_holdings {
                p { a href="/portfolio/export.csv" download { "Download holdings as CSV" } }
            }
        }
    }
}

fn holding_form(
    csrf: &str,
    form: &HoldingForm,
    base: Currency,
    quotes: Option<PriceSource>,
) -> Markup {
    let e = &form.errors;
    // The first bad field takes the focus, which also scrolls the form into view.
    let first_bad = [
        ("symbol", &e.symbol),
        ("quantity", &e.quantity),
        ("price", &e.price),
        ("cost_basis", &e.cost_basis),
        ("currency", &e.currency),
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
                    maxlength=[(!numeric).then_some(if name == "currency" { "3" } else { "16" })]
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
                    (input("currency", "Currency", form.currency, &format!("Of the price, like USD or EUR. Empty: {base}."), &e.currency, false))
                }
                p class="field-hint" id="number-rule" { (NUMBER_RULE) }
                @if let Some(provider) = quotes {
                    div class="check" {
                        input type="checkbox" id="f-quoted" name="quoted" value="1" checked[form.quoted];
                        label for="f-quoted" { "Keep the price current from " (provider.label()) }
                        span class="field-hint block" { "Refreshed every 15 minutes; the price you type stands until the first quote. Untick to type your own again." }
                    }
                }
                button type="submit" class="button" { "Save holding" }
            }
        }
    }
}
