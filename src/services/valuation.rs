//! A portfolio valued in its account's base currency: each holding's value
//! in its own currency, converted at the ECB's latest rate, summed exactly.
//! A holding whose currency has no rate is left out of the totals (and
//! named), never summed unconverted.

use crate::db::holdings::Holding;
use crate::money::{self, Currency, Decimal};
use crate::services::fx::Rates;

/// One holding with its values.
#[derive(Clone, Debug)]
pub struct Row {
    pub holding: Holding,
    /// Quantity × price in the holding's own currency.
    pub value: Option<Decimal>,
    /// The same in the base currency; `None` without a rate.
    pub base_value: Option<Decimal>,
    /// (price − cost basis) × quantity in the base currency; `None` without
    /// a cost basis or a rate.
    pub base_pl: Option<Decimal>,
}

#[derive(Clone, Debug)]
pub struct Valuation {
    pub base: Currency,
    pub rows: Vec<Row>,
    /// The sum of every converted value, exact.
    pub total: Decimal,
}

impl Valuation {
    pub fn of(holdings: &[Holding], base: Currency, rates: &Rates) -> Valuation {
        let rows: Vec<Row> = holdings
            .iter()
            .map(|h| {
                let value = h.value();
                let base_value = value.and_then(|v| rates.convert(v, h.currency, base));
                let base_pl = h
                    .cost_basis
                    .and_then(|c| h.price.checked_sub(c)?.checked_mul(h.quantity))
                    .and_then(|pl| rates.convert(pl, h.currency, base));
                Row {
                    holding: h.clone(),
                    value,
                    base_value,
                    base_pl,
                }
            })
            .collect();
        let total =
            money::sum(rows.iter().filter_map(|r| r.base_value.as_ref())).unwrap_or_default();
        Valuation { base, rows, total }
    }

    /// The holdings that could be converted, restated in the base currency
    /// (price and cost basis at the same rate): what the analyst weighs.
    pub fn in_base(&self, rates: &Rates) -> Vec<Holding> {
        self.rows
            .iter()
            .filter(|r| r.base_value.is_some())
            .filter_map(|r| {
                let h = &r.holding;
                let convert = |x: Decimal| rates.convert(x, h.currency, self.base);
                Some(Holding {
                    price: convert(h.price)?,
                    cost_basis: match h.cost_basis {
                        Some(c) => Some(convert(c)?),
                        None => None,
                    },
                    currency: self.base,
                    ..h.clone()
                })
            })
            .collect()
    }

    /// Holdings left out of the totals for want of a rate.
    pub fn left_out(&self) -> Vec<&Row> {
        self.rows
            .iter()
            .filter(|r| r.base_value.is_none())
            .collect()
    }

    /// A row's share of the total, 0 without a value.
    pub fn weight(&self, row: &Row) -> f64 {
        match row.base_value {
            Some(v) if self.total > Decimal::ZERO => v.to_f64() / self.total.to_f64(),
            _ => 0.0,
        }
    }

    /// Unrealised P/L in the base currency, over the converted holdings that
    /// have a cost basis; `None` when none has one.
    pub fn unrealized_pl(&self) -> Option<Decimal> {
        let pls: Vec<Decimal> = self
            .rows
            .iter()
            .filter(|r| r.base_value.is_some())
            .filter_map(|r| r.base_pl)
            .collect();
        if pls.is_empty() {
            None
        } else {
            money::sum(&pls)
        }
    }

    /// Currencies held, the base first, for the page's note.
    pub fn currencies(&self) -> Vec<Currency> {
        let mut all = vec![self.base];
        for r in &self.rows {
            if !all.contains(&r.holding.currency) {
                all.push(r.holding.currency);
            }
        }
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::parse(s).unwrap()
    }

    fn c(s: &str) -> Currency {
        Currency::parse(s).unwrap()
    }

    #[test]
    fn values_are_converted_and_unknown_rates_left_out() {
        let rates = Rates::from_pairs([(c("USD"), d("1.1435")), (c("GBP"), d("0.85363"))]);
        let holdings = [
            Holding::typed("AAPL", d("10"), d("190.5"), Some(d("150")), c("USD")),
            Holding::typed("SAP.DE", d("4"), d("100"), None, c("EUR")),
            Holding::typed("YNDX", d("3"), d("2500"), None, c("RUB")),
        ];
        let v = Valuation::of(&holdings, c("USD"), &rates);
        assert_eq!(v.rows[0].base_value, Some(d("1905")));
        assert_eq!(v.rows[1].value, Some(d("400")));
        assert_eq!(v.rows[1].base_value, Some(d("457.4")));
        assert_eq!(v.rows[2].base_value, None);
        assert_eq!(v.total, d("2362.4"));
        assert_eq!(v.left_out().len(), 1);
        let in_base = v.in_base(&rates);
        assert_eq!(in_base.len(), 2);
        assert_eq!(in_base[1].price, d("114.35"));
        assert_eq!(in_base[1].currency, c("USD"));
        assert_eq!(v.unrealized_pl(), Some(d("405")));
        assert!((v.weight(&v.rows[0]) - 1905.0 / 2362.4).abs() < 1e-12);
    }
}
