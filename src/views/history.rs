//! The history chart: the account's daily totals as an inline SVG line,
//! for 30 days, a year or all of it, with the same story in words beside it
//! (first and last total, lowest and highest) for anyone who cannot see it.

use maud::{html, Markup};

use crate::money::Currency;
use crate::services::history::{DayTotal, Span};

/// The drawing's own units; the SVG scales to its card.
const W: f64 = 600.0;
const H: f64 = 160.0;
const PAD: f64 = 8.0;

pub fn card(totals: &[DayTotal], base: Currency, span: Span) -> Markup {
    html! {
        section class="card" id="history" {
            div class="card-head" {
                h2 { "History" }
                nav class="spans" aria-label="History span" {
                    @for s in Span::ALL {
                        a href=(format!("/portfolio?range={}#history", s.key()))
                            aria-current=[(s == span).then_some("page")] { (s.label()) }
                    }
                }
            }
            @if totals.is_empty() {
                p class="muted" data-testid="history-empty" {
                    "Your total is recorded once a day; the line starts with the first day."
                }
            } @else {
                (chart(totals, base, span))
            }
        }
    }
}

/// The words the chart says: `From 1,000.00 USD on 2026-11-02 to …`.
pub fn summary(totals: &[DayTotal], base: Currency) -> String {
    let (Some(first), Some(last)) = (totals.first(), totals.last()) else {
        return String::new();
    };
    if totals.len() == 1 {
        return format!(
            "One day recorded so far: {} {base} on {}.",
            first.value.money(),
            first.day
        );
    }
    let low = totals.iter().min_by_key(|t| t.value).unwrap_or(first);
    let high = totals.iter().max_by_key(|t| t.value).unwrap_or(first);
    format!(
        "From {} {base} on {} to {} {base} on {} ({} days recorded); lowest {} on {}, highest {} on {}.",
        first.value.money(),
        first.day,
        last.value.money(),
        last.day,
        totals.len(),
        low.value.money(),
        low.day,
        high.value.money(),
        high.day
    )
}

fn chart(totals: &[DayTotal], base: Currency, span: Span) -> Markup {
    let text = summary(totals, base);
    let points = points(totals);
    html! {
        figure class="chart history-chart" {
            svg xmlns="http://www.w3.org/2000/svg" viewBox=(format!("0 0 {W} {H}"))
                preserveAspectRatio="none" width="100%" height="160"
                role="img" aria-labelledby="history-title history-desc" data-testid="history-chart" {
                title id="history-title" { "Total value, " (span.label()) }
                desc id="history-desc" { (text) }
                line class="axis" x1="0" y1=(H - PAD) x2=(W) y2=(H - PAD) vector-effect="non-scaling-stroke" {}
                @if let [(x, y)] = points.as_slice() {
                    circle class="dot" cx=(fmt(*x)) cy=(fmt(*y)) r="4" {}
                } @else {
                    polyline class="line" fill="none" vector-effect="non-scaling-stroke"
                        points=(points.iter().map(|(x, y)| format!("{},{}", fmt(*x), fmt(*y))).collect::<Vec<_>>().join(" ")) {}
                }
            }
            figcaption class="muted small" data-testid="history-summary" { (text) }
        }
    }
}

/// Each day at its place in time (gaps stay gaps), scaled between the
/// lowest and highest totals.
fn points(totals: &[DayTotal]) -> Vec<(f64, f64)> {
    let days: Vec<f64> = totals
        .iter()
        .map(|t| crate::clock::parse_date(&t.day).map_or(0.0, |d| d.secs() as f64))
        .collect();
    let (first, last) = (days[0], days[days.len() - 1]);
    let values: Vec<f64> = totals.iter().map(|t| t.value.to_f64()).collect();
    let low = values.iter().copied().fold(f64::INFINITY, f64::min);
    let high = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let x = |d: f64| {
        if last > first {
            (d - first) / (last - first) * W
        } else {
            W / 2.0
        }
    };
    let y = |v: f64| {
        if high > low {
            H - PAD - (v - low) / (high - low) * (H - 2.0 * PAD)
        } else {
            H / 2.0
        }
    };
    days.iter()
        .zip(&values)
        .map(|(d, v)| (x(*d), y(*v)))
        .collect()
}

fn fmt(x: f64) -> String {
    format!("{x:.1}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Decimal;

    fn t(day: &str, v: &str) -> DayTotal {
        DayTotal {
            day: day.into(),
            value: Decimal::parse(v).unwrap(),
        }
    }

    #[test]
    fn the_line_has_words_too() {
        let totals = [
            t("2026-11-01", "1000"),
            t("2026-11-02", "900"),
            t("2026-11-04", "1200.5"),
        ];
        let svg = card(&totals, Currency::USD, Span::Days30).into_string();
        assert!(svg.contains("<polyline") && svg.contains("role=\"img\""));
        assert!(svg.contains("From 1,000.00 USD on 2026-11-01 to 1,200.50 USD on 2026-11-04 (3 days recorded); lowest 900.00 on 2026-11-02, highest 1,200.50 on 2026-11-04."), "{svg}");
        assert!(svg.contains("points=\"0.0,"), "{svg}");
        assert!(svg.contains("aria-current=\"page\">30 days"));
        let one = card(&totals[..1], Currency::USD, Span::All).into_string();
        assert!(one.contains("<circle") && one.contains("One day recorded so far"));
        let none = card(&[], Currency::USD, Span::Year).into_string();
        assert!(none.contains("history-empty"));
    }
}
