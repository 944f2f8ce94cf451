//! The page's chart, as inline SVG: revenue per buyer before and after, a
//! pair of bars each, on one scale. The buyers with the most revenue come
//! first; past `MOST_BARS` the table below holds the rest.

use std::fmt::Write;

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use super::escape;

/// The most buyers charted.
const MOST_BARS: usize = 20;
const WIDTH: f64 = 760.0;
const LABEL: f64 = 200.0;
const BAR: f64 = 11.0;
const GROUP: f64 = 34.0;

/// `(buyer, before, after)` as paired horizontal bars.
pub fn bars(buyers: &[(String, Decimal, Decimal)]) -> String {
    let mut shown: Vec<&(String, Decimal, Decimal)> = buyers.iter().collect();
    shown.sort_by(|a, b| b.1.max(b.2).cmp(&a.1.max(a.2)).then_with(|| a.0.cmp(&b.0)));
    shown.truncate(MOST_BARS);
    let most = shown.iter().map(|(_, a, b)| a.abs().max(b.abs())).max().unwrap_or_default().to_f64().unwrap_or(0.0);
    let scale = if most > 0.0 { (WIDTH - LABEL - 90.0) / most } else { 0.0 };
    let height = GROUP * shown.len() as f64 + 8.0;
    let mut out = format!(
        "<svg class=\"chart\" role=\"img\" aria-label=\"revenue per buyer, before and after\" \
         width=\"{WIDTH}\" height=\"{height}\" viewBox=\"0 0 {WIDTH} {height}\">"
    );
    for (i, (buyer, before, after)) in shown.iter().enumerate() {
        let y = i as f64 * GROUP + 4.0;
        let shown = crate::text::visible(buyer);
        let mut name = shown.chars().take(28).collect::<String>();
        if shown.chars().count() > 28 {
            name.push('…');
        }
        let _ = write!(
            out,
            "<text x=\"{:.0}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            LABEL - 8.0,
            y + BAR + 4.0,
            escape(&name)
        );
        for (j, (value, color)) in [(before, "var(--before)"), (after, "var(--after)")].into_iter().enumerate() {
            let w = (value.abs().to_f64().unwrap_or(0.0) * scale).max(1.0);
            let top = y + j as f64 * (BAR + 2.0);
            let _ = write!(
                out,
                "<rect x=\"{LABEL}\" y=\"{top:.1}\" width=\"{w:.1}\" height=\"{BAR}\" fill=\"{color}\"></rect>\
                 <text x=\"{:.1}\" y=\"{:.1}\">{value:.2}</text>",
                LABEL + w + 6.0,
                top + BAR - 1.5
            );
        }
    }
    out.push_str("</svg>");
    let _ = write!(
        out,
        "<div class=\"legend\"><i style=\"background:var(--before)\"></i>before<i style=\"background:var(--after)\"></i>after{}</div>",
        if buyers.len() > MOST_BARS {
            format!(" &middot; the {MOST_BARS} buyers with the most revenue")
        } else {
            String::new()
        }
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_largest_buyers_are_charted_on_one_scale() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        let many: Vec<(String, Decimal, Decimal)> =
            (0..30).map(|i| (format!("buyer <{i}>"), d(&i.to_string()), d(&(i * 2).to_string()))).collect();
        let svg = bars(&many);
        assert_eq!(svg.matches("<rect").count(), 2 * MOST_BARS);
        assert!(svg.contains("buyer &lt;29&gt;") && !svg.contains("buyer &lt;9&gt;"), "{svg}");
        assert!(svg.contains("the 20 buyers with the most revenue"));
        assert!(bars(&[]).starts_with("<svg"), "no buyers: an empty chart, no panic");
    }
}
