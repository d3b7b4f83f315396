//! Numbers as people read them: money with thousands separators, shares as
//! percentages. Never NaN, never `-0.00`.

/// Replaces NaN and infinities by 0 so the JSON never carries them.
pub fn finite(x: f64) -> f64 {
    if x.is_finite() {
        x
    } else {
        0.0
    }
}

/// Money with thousands separators and two decimals: `-1,234.00`.
pub fn money(x: f64) -> String {
    let digits = format!("{:.2}", finite(x).abs());
    let (whole, cents) = digits.split_once('.').unwrap_or((&digits, "00"));
    let mut grouped = String::with_capacity(whole.len() + whole.len() / 3);
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    // No "-0.00": the sign only shows when something survives the rounding.
    let sign = if x < 0.0 && digits != "0.00" { "-" } else { "" };
    format!("{sign}{grouped}.{cents}")
}

/// A fraction as a percentage with one decimal: 0.1234 → `12.3%`.
pub fn percent(fraction: f64) -> String {
    let text = format!("{:.1}", finite(fraction) * 100.0);
    if text == "-0.0" {
        "0.0%".to_string()
    } else {
        format!("{text}%")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_formatting() {
        assert_eq!(money(0.0), "0.00");
        assert_eq!(money(1234567.891), "1,234,567.89");
        assert_eq!(money(-5.0), "-5.00");
        assert_eq!(money(-1234.0), "-1,234.00");
        assert_eq!(money(12345.678), "12,345.68");
        assert_eq!(money(999.999), "1,000.00");
        assert_eq!(money(100.0), "100.00");
        assert_eq!(money(-0.001), "0.00");
        assert_eq!(money(1e12), "1,000,000,000,000.00");
        assert_eq!(percent(0.1234), "12.3%");
        assert_eq!(percent(-0.0001), "0.0%");
    }
}
