//! Money amounts as operators type them, parsed exactly.
//!
//! Amounts come from spreadsheets: `$1,234.50`, `12`, `-3.5`. They are parsed
//! from the raw text with `rust_decimal` (never through `f64`, which would turn
//! `0.1` into `0.1000000000000000055…`), and anything we cannot read without
//! guessing — exponents, three or more decimals, misplaced separators — is
//! rejected rather than rounded: a wrong amount on a call is worse than a
//! rejected row the operator can fix.

use rust_decimal::Decimal;

/// Whether a column may hold a negative amount (`add_*` columns carry
/// chargebacks; `revenue`/`payout` set an absolute amount and may not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sign {
    NonNegative,
    Any,
}

/// Parses a money cell. The result always has exactly two decimal places, so
/// `Decimal::to_string` gives the normalised form the API receives (`1234.50`).
pub fn parse_money(text: &str, sign: Sign) -> Result<Decimal, String> {
    let s = text.trim();
    let (negative, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    // `$` may stand before the digits (`$5`, `-$5`); accept it once.
    let s = s.strip_prefix('$').unwrap_or(s);
    if s.is_empty() {
        return Err("expected an amount like 12.50".into());
    }
    if s.contains(['e', 'E']) {
        return Err("exponents are not accepted: write the amount in full, like 1000.00".into());
    }
    let (int_part, frac_part) = match s.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (s, None),
    };
    let digits = strip_thousands(int_part).ok_or_else(|| "expected an amount like 1234.50 or $1,234.50".to_string())?;
    if let Some(frac) = frac_part {
        if frac.is_empty() || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return Err("expected an amount like 1234.50 or $1,234.50".into());
        }
        if frac.len() > 2 {
            return Err("more than 2 decimal places: amounts are never rounded".into());
        }
    }
    if digits.len() > 15 {
        return Err("amount is too large".into());
    }
    let mut normal = String::with_capacity(digits.len() + 4);
    if negative {
        normal.push('-');
    }
    normal.push_str(&digits);
    if let Some(frac) = frac_part {
        normal.push('.');
        normal.push_str(frac);
    }
    let mut amount =
        Decimal::from_str_exact(&normal).map_err(|_| "expected an amount like 1234.50 or $1,234.50".to_string())?;
    if sign == Sign::NonNegative && amount.is_sign_negative() && !amount.is_zero() {
        return Err("must be 0 or more (use add_revenue/add_payout for a chargeback)".into());
    }
    if amount.is_zero() {
        // `-0` would print as `-0.00`.
        amount.set_sign_positive(true);
    }
    amount.rescale(2);
    Ok(amount)
}

/// Removes well-formed thousands separators from the integer part: `1,234,567`
/// becomes `1234567`; `12,34` or `1,,234` are malformed. Returns `None` when
/// the text is not digits in that form.
fn strip_thousands(int_part: &str) -> Option<String> {
    if int_part.is_empty() {
        return None;
    }
    let groups: Vec<&str> = int_part.split(',').collect();
    let first = groups[0];
    let well_formed = !first.is_empty()
        && first.bytes().all(|b| b.is_ascii_digit())
        && (groups.len() == 1 || first.len() <= 3)
        && groups[1..].iter().all(|g| g.len() == 3 && g.bytes().all(|b| b.is_ascii_digit()));
    well_formed.then(|| groups.concat())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_amounts() {
        let cases = [
            ("0", Sign::NonNegative, "0.00"),
            ("12", Sign::NonNegative, "12.00"),
            ("12.5", Sign::NonNegative, "12.50"),
            ("12.05", Sign::NonNegative, "12.05"),
            ("  7.10 ", Sign::NonNegative, "7.10"),
            ("$1,234.50", Sign::NonNegative, "1234.50"),
            ("1,234,567.89", Sign::NonNegative, "1234567.89"),
            ("$0.99", Sign::NonNegative, "0.99"),
            ("-5", Sign::Any, "-5.00"),
            ("-$1,000", Sign::Any, "-1000.00"),
            ("-0", Sign::NonNegative, "0.00"),
            ("0007", Sign::NonNegative, "7.00"),
        ];
        for (input, sign, want) in cases {
            let got = parse_money(input, sign).unwrap_or_else(|e| panic!("{input:?}: {e}"));
            assert_eq!(got.to_string(), want, "input {input:?}");
        }
    }

    #[test]
    fn rejected_amounts() {
        let cases = [
            ("", "expected an amount"),
            ("$", "expected an amount"),
            ("abc", "expected an amount"),
            ("1e3", "exponents"),
            ("1.5E2", "exponents"),
            ("1.234", "more than 2 decimal places"),
            ("0.001", "more than 2 decimal places"),
            ("12,34", "expected an amount"),
            ("1,,234", "expected an amount"),
            ("1234,567", "expected an amount"),
            (",123", "expected an amount"),
            ("1.", "expected an amount"),
            (".5", "expected an amount"),
            ("1.2.3", "expected an amount"),
            ("--5", "expected an amount"),
            ("+5", "expected an amount"),
            ("5$", "expected an amount"),
            ("1 234", "expected an amount"),
            ("12.5a", "expected an amount"),
            ("9999999999999999", "too large"),
            ("NaN", "expected an amount"),
        ];
        for (input, want) in cases {
            match parse_money(input, Sign::Any) {
                Ok(v) => panic!("{input:?} was accepted as {v}"),
                Err(e) => assert!(e.contains(want), "{input:?}: {e:?} lacks {want:?}"),
            }
        }
    }

    #[test]
    fn negative_only_where_allowed() {
        let err = parse_money("-1.00", Sign::NonNegative).unwrap_err();
        assert!(err.contains("0 or more"), "{err}");
        assert_eq!(parse_money("-1.00", Sign::Any).unwrap().to_string(), "-1.00");
    }
}
