//! Control totals: what TrackDrive holds for a run's window, read by tdrecon
//! itself before the first row (the window's pages) and again after the
//! last, in all and per buyer, checked against what the rows moved. No
//! endpoint of guessed shape is needed (`calls/stats` documents no response);
//! when the read after fails, the summary says so and the run goes on.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::input::fields::CallField;
use crate::text::count;
use crate::trackdrive::window::Window;

/// Revenue and payout over some calls.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Amounts {
    pub calls: u64,
    pub revenue: Decimal,
    pub payout: Decimal,
}

impl Amounts {
    pub fn add(&mut self, other: &Amounts) {
        self.calls += other.calls;
        self.revenue += other.revenue;
        self.payout += other.payout;
    }

    fn to_json(self) -> Value {
        json!({"calls": self.calls, "revenue": format!("{:.2}", self.revenue), "payout": format!("{:.2}", self.payout)})
    }
}

/// The window's totals before the run and after, in all and per buyer
/// (the calls' `buyer_id`).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Control {
    pub before: Amounts,
    pub after: Amounts,
    pub before_by_buyer: BTreeMap<String, Amounts>,
    pub after_by_buyer: BTreeMap<String, Amounts>,
}

impl Control {
    /// Whether the window's totals moved by exactly `(revenue, payout)`,
    /// what the rows moved.
    pub fn agrees(&self, moved: (Decimal, Decimal)) -> bool {
        self.after.revenue - self.before.revenue == moved.0 && self.after.payout - self.before.payout == moved.1
    }

    /// The summary's lines: the totals, the buyers whose totals moved, and
    /// a warning when they did not move as the rows did.
    pub fn render(&self, moved: (Decimal, Decimal)) -> String {
        let (b, a) = (self.before, self.after);
        let mut out = format!(
            "control totals (TrackDrive, the window's {} read before and after): revenue {:.2} -> {:.2} ({:+.2}), \
             payout {:.2} -> {:.2} ({:+.2})\n",
            count(a.calls.max(b.calls), "call", "calls"),
            b.revenue,
            a.revenue,
            a.revenue - b.revenue,
            b.payout,
            a.payout,
            a.payout - b.payout
        );
        for (buyer, before, after) in self.moved_buyers() {
            let name = if buyer.is_empty() { "none".into() } else { crate::text::visible(buyer) };
            out.push_str(&format!(
                "  buyer {name}: revenue {:.2} -> {:.2}, payout {:.2} -> {:.2}\n",
                before.revenue, after.revenue, before.payout, after.payout
            ));
        }
        if !self.agrees(moved) {
            out.push_str(
                "CONTROL TOTALS DIFFER: the window's totals did not move by what the rows moved (another \
                 writer changed calls in the window, or rows in doubt): check before signing off\n",
            );
        }
        out
    }

    /// Buyers whose totals are not the same after as before.
    fn moved_buyers(&self) -> Vec<(&str, Amounts, Amounts)> {
        let buyers: std::collections::BTreeSet<&String> =
            self.before_by_buyer.keys().chain(self.after_by_buyer.keys()).collect();
        buyers
            .into_iter()
            .filter_map(|buyer| {
                let before = self.before_by_buyer.get(buyer).copied().unwrap_or_default();
                let after = self.after_by_buyer.get(buyer).copied().unwrap_or_default();
                (before.revenue != after.revenue || before.payout != after.payout).then_some((
                    buyer.as_str(),
                    before,
                    after,
                ))
            })
            .collect()
    }

    pub fn to_json(&self, moved: (Decimal, Decimal)) -> Value {
        let by_buyer = |m: &BTreeMap<String, Amounts>| {
            m.iter().map(|(b, a)| (b.clone(), a.to_json())).collect::<serde_json::Map<_, _>>()
        };
        json!({
            "before": self.before.to_json(),
            "after": self.after.to_json(),
            "before_by_buyer": by_buyer(&self.before_by_buyer),
            "after_by_buyer": by_buyer(&self.after_by_buyer),
            "revenue_before": format!("{:.2}", self.before.revenue),
            "revenue_after": format!("{:.2}", self.after.revenue),
            "payout_before": format!("{:.2}", self.before.payout),
            "payout_after": format!("{:.2}", self.after.payout),
            "agrees": self.agrees(moved),
        })
    }
}

/// Revenue and payout over a window's calls, in all and per buyer (the
/// call's `buyer_id`; calls without one under `""`).
pub fn window_totals(window: &Window) -> (Amounts, BTreeMap<String, Amounts>) {
    let mut all = Amounts::default();
    let mut by_buyer: BTreeMap<String, Amounts> = BTreeMap::new();
    for (_, call, _) in window.calls() {
        let amounts = Amounts {
            calls: 1,
            revenue: call.revenue().unwrap_or_default(),
            payout: call.payout().unwrap_or_default(),
        };
        all.add(&amounts);
        by_buyer.entry(call.text(CallField::BuyerId).unwrap_or_default().to_string()).or_default().add(&amounts);
    }
    (all, by_buyer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_windows_totals_in_all_and_per_buyer() {
        let w = Window::of_calls(&[
            serde_json::json!({"id": 7, "revenue": "1.50", "buyer_id": 9}),
            serde_json::json!({"id": "8", "revenue": 2}),
        ]);
        let (all, by_buyer) = window_totals(&w);
        assert_eq!((all.calls, all.revenue.to_string()), (2, "3.50".into()));
        assert_eq!(by_buyer["9"].revenue.to_string(), "1.50");
        assert_eq!(by_buyer[""].revenue.to_string(), "2.00");
    }

    fn amounts(calls: u64, revenue: &str, payout: &str) -> Amounts {
        Amounts { calls, revenue: revenue.parse().unwrap(), payout: payout.parse().unwrap() }
    }

    #[test]
    fn totals_that_moved_otherwise_than_the_rows_are_flagged() {
        let d = |v: &str| v.parse::<Decimal>().unwrap();
        let c = Control {
            before: amounts(3, "100", "9"),
            after: amounts(3, "105", "9"),
            before_by_buyer: [("7".into(), amounts(2, "60", "5")), ("8".into(), amounts(1, "40", "4"))].into(),
            after_by_buyer: [("7".into(), amounts(2, "65", "5")), ("8".into(), amounts(1, "40", "4"))].into(),
        };
        let text = c.render((d("5"), d("0")));
        assert!(text.contains("revenue 100.00 -> 105.00 (+5.00)") && !text.contains("DIFFER"), "{text}");
        assert!(text.contains("buyer 7: revenue 60.00 -> 65.00") && !text.contains("buyer 8"), "{text}");
        assert_eq!(c.to_json((d("5"), d("0")))["agrees"], true);
        // Another writer added 2.00 in the window meanwhile.
        assert!(c.render((d("3"), d("0"))).contains("CONTROL TOTALS DIFFER"));
        assert_eq!(c.to_json((d("3"), d("0")))["after_by_buyer"]["7"]["revenue"], "65.00");
    }
}
