//! The allocation chart: horizontal bars drawn as inline SVG on the server,
//! each labelled with its symbol and share so it reads without colour.
//! Bars are drawn in percent of the card, so they scale to any width.

use maud::{html, Markup};

/// The largest positions get a bar each; the rest share one "Other" bar.
const MAX_BARS: usize = 10;
/// Each row: the label and share on one line, the bar under them.
const ROW: f64 = 44.0;

/// `(label, weight 0..1)` rows, largest first, with an "Other" row for the tail.
pub fn rows(weights: &[(String, f64)]) -> Vec<(String, f64)> {
    let mut sorted: Vec<(String, f64)> = weights.to_vec();
    sorted.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    if sorted.len() > MAX_BARS {
        let other: f64 = sorted[MAX_BARS - 1..].iter().map(|(_, w)| w).sum();
        sorted.truncate(MAX_BARS - 1);
        sorted.push(("Other".to_string(), other));
    }
    sorted
}

/// The chart as inline SVG that fills its card: positions and widths are
/// percentages of the card's width, text takes the page's font (CSS), and
/// every bar is one colour with its symbol and share written beside it.
pub fn allocation(weights: &[(String, f64)]) -> Markup {
    let rows = rows(weights);
    let height = ROW * rows.len() as f64;
    let summary: Vec<String> = rows
        .iter()
        .map(|(s, w)| format!("{s} {:.1}%", w * 100.0))
        .collect();
    let summary = format!("Allocation by value: {}.", summary.join(", "));
    html! {
        figure class="chart" {
            svg xmlns="http://www.w3.org/2000/svg" width="100%" height=(fmt(height))
                role="img" aria-labelledby="chart-title chart-desc" {
                title id="chart-title" { "Allocation by value" }
                desc id="chart-desc" { (summary) }
                g class="tracks" aria-hidden="true" {
                    @for i in 0..rows.len() {
                        rect class="track" x="0" y=(fmt(ROW * i as f64 + 24.0)) width="100%" height="12" rx="3" {}
                    }
                }
                @for (i, (label, weight)) in rows.iter().enumerate() {
                    @let y = ROW * i as f64;
                    @let share = (weight * 100.0).clamp(0.0, 100.0);
                    @let w = if share > 0.0 { share.max(0.5) } else { 0.0 };
                    g class="bar" {
                        text x="0" y=(fmt(y + 17.0)) { (label) }
                        text class="share" x="100%" y=(fmt(y + 17.0)) text-anchor="end" {
                            (format!("{:.1}%", weight * 100.0))
                        }
                        rect x="0" y=(fmt(y + 24.0)) width=(format!("{w:.2}%")) height="12" rx="3" {}
                    }
                }
            }
            figcaption class="muted small" { (summary) }
        }
    }
}

fn fmt(x: f64) -> String {
    format!("{x:.1}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_is_grouped_as_other() {
        let weights: Vec<(String, f64)> = (0..15)
            .map(|i| (format!("S{i:02}"), (i + 1) as f64 / 120.0))
            .collect();
        let rows = rows(&weights);
        assert_eq!(rows.len(), MAX_BARS);
        assert_eq!(rows[0].0, "S14");
        assert_eq!(rows.last().map(|r| r.0.as_str()), Some("Other"));
        let total: f64 = rows.iter().map(|r| r.1).sum();
        assert!((total - 1.0).abs() < 1e-9);
    }

    #[test]
    fn svg_is_labelled() {
        let svg = allocation(&[("AAPL".into(), 0.75), ("MSFT".into(), 0.25)]).into_string();
        assert!(svg.contains("<svg") && svg.contains("role=\"img\""));
        assert!(svg.contains("<title id=\"chart-title\">Allocation by value</title>"));
        assert!(svg.contains("AAPL 75.0%, MSFT 25.0%"));
        assert!(svg.contains(">AAPL</text>") && svg.contains(">75.0%</text>"));
        assert!(
            svg.contains("width=\"75.00%\""),
            "bars are a share of the card: {svg}"
        );
        assert!(!svg.contains("viewBox") && !svg.contains("font-family"));
    }
}
