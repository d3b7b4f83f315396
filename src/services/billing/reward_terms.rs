//! What the referral discount is worth (SPEC §7): three months at half
//! price, whatever the price's billing cycle. Paddle's
//! `maximum_recurring_intervals` counts billing periods, so a yearly price
//! with "50% for 3 intervals" would give three years: the value is set
//! from the cycle instead. A pure function, shared by the worker that
//! creates the discount and by `billing-check` that verifies it.

use serde_json::Value;

/// A price's `billing_cycle` as Paddle writes it:
/// `{"interval": "day"|"week"|"month"|"year", "frequency": N}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BillingCycle {
    pub interval: Interval,
    pub frequency: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interval {
    Day,
    Week,
    Month,
    Year,
}

impl Interval {
    /// As Paddle writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Interval::Day => "day",
            Interval::Week => "week",
            Interval::Month => "month",
            Interval::Year => "year",
        }
    }
}

impl BillingCycle {
    /// The `billing_cycle` object of a price entity; `None` for a one-off
    /// price (no cycle) or a shape Paddle does not send.
    pub fn of_price(price: &Value) -> Option<BillingCycle> {
        let cycle = price.get("billing_cycle")?;
        let interval = match cycle.get("interval")?.as_str()? {
            "day" => Interval::Day,
            "week" => Interval::Week,
            "month" => Interval::Month,
            "year" => Interval::Year,
            _ => return None,
        };
        let frequency = u32::try_from(cycle.get("frequency")?.as_u64()?).ok()?;
        (frequency >= 1).then_some(BillingCycle {
            interval,
            frequency,
        })
    }

    /// Months per billing period, or `None` for a cycle counted in days or
    /// weeks (which no whole number of periods makes three months).
    pub fn months(self) -> Option<u32> {
        match self.interval {
            Interval::Month => Some(self.frequency),
            Interval::Year => self.frequency.checked_mul(12),
            Interval::Day | Interval::Week => None,
        }
    }
}

/// The discount's `amount` (a percentage, as Paddle takes it: a string)
/// and `maximum_recurring_intervals`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RewardTerms {
    pub amount: String,
    pub maximum_recurring_intervals: u32,
}

/// Why a cycle gets no reward terms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unsupported(pub String);

impl std::fmt::Display for Unsupported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Three months at 50%: monthly ⇒ `"50"` for 3 periods; every M months ⇒
/// 150/M percent (two decimals, rounded half up) for one period, so the
/// reward is never worth more than three months at half price. A price
/// billed by the day or week is refused.
pub fn reward_terms(cycle: BillingCycle) -> Result<RewardTerms, Unsupported> {
    let months = cycle.months().ok_or_else(|| {
        Unsupported(format!(
            "is billed every {} {}(s); only monthly or yearly cycles are supported",
            cycle.frequency,
            cycle.interval.as_str()
        ))
    })?;
    if months == 1 {
        return Ok(RewardTerms {
            amount: "50".into(),
            maximum_recurring_intervals: 3,
        });
    }
    // Hundredths of a percent: 15000 / M, rounded half up, in integers.
    let hundredths = (2 * 15_000 + months) / (2 * months);
    let amount = if hundredths % 100 == 0 {
        format!("{}", hundredths / 100)
    } else {
        format!("{}.{:02}", hundredths / 100, hundredths % 100)
    };
    Ok(RewardTerms {
        amount,
        maximum_recurring_intervals: 1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn terms(interval: &str, frequency: u32) -> Result<RewardTerms, Unsupported> {
        let price = json!({"billing_cycle": {"interval": interval, "frequency": frequency}});
        reward_terms(BillingCycle::of_price(&price).expect("a cycle"))
    }

    fn ok(amount: &str, intervals: u32) -> Result<RewardTerms, Unsupported> {
        Ok(RewardTerms {
            amount: amount.into(),
            maximum_recurring_intervals: intervals,
        })
    }

    #[test]
    fn monthly_is_half_off_for_three_periods() {
        assert_eq!(terms("month", 1), ok("50", 3));
    }

    #[test]
    fn longer_cycles_are_worth_three_months_at_half_price_in_one_period() {
        assert_eq!(terms("month", 3), ok("50", 1), "a quarter: half of it");
        assert_eq!(terms("month", 6), ok("25", 1));
        assert_eq!(terms("year", 1), ok("12.50", 1), "SPEC's yearly example");
        assert_eq!(terms("month", 12), ok("12.50", 1));
        assert_eq!(terms("month", 7), ok("21.43", 1), "150/7 = 21.428…");
        assert_eq!(terms("month", 9), ok("16.67", 1), "150/9 = 16.666…");
        assert_eq!(terms("year", 2), ok("6.25", 1));
        assert_eq!(terms("month", 2), ok("75", 1));
    }

    #[test]
    fn day_and_week_cycles_and_odd_shapes_are_refused() {
        assert!(terms("day", 30).is_err());
        assert!(terms("week", 4).is_err());
        for price in [
            json!({"billing_cycle": null}),
            json!({}),
            json!({"billing_cycle": {"interval": "fortnight", "frequency": 1}}),
            json!({"billing_cycle": {"interval": "month", "frequency": 0}}),
            json!({"billing_cycle": {"interval": "month", "frequency": "1"}}),
        ] {
            assert_eq!(BillingCycle::of_price(&price), None, "{price}");
        }
    }
}
