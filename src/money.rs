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

/// The most integer digits an amount may have (a trillion, less a cent).
const MAX_DIGITS: usize = 15;

/// Parses a money cell. The result always has exactly two decimal places, so
/// `Decimal::to_string` gives the normalised form the API receives (`1234.50`).
/// Reads the digits straight into an integer count of cents: no float, no
/// rounding, and no allocation on this per-row path.
pub fn parse_money(text: &str, sign: Sign) -> Result<Decimal, String> {
    // ASCII trim: fast, and a non-ASCII space left in is rejected, not guessed at.
    let s = text.trim_ascii();
    let (negative, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    // `$` may stand before the digits (`$5`, `-$5`); accept it once.
    let s = s.strip_prefix('$').unwrap_or(s);
    if s.is_empty() {
        return Err("expected an amount like 12.50".into());
    }
    if s.bytes().any(|b| b == b'e' || b == b'E') {
        return Err("exponents are not accepted: write the amount in full, like 1000.00".into());
    }
    let malformed = || "expected an amount like 1234.50 or $1,234.50".to_string();
    let (int_part, frac_part) = match s.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (s, None),
    };
    let (units, digits) = integer_with_thousands(int_part).ok_or_else(malformed)?;
    if digits > MAX_DIGITS {
        return Err("amount is too large".into());
    }
    let cents = match frac_part {
        None => 0,
        Some(f) if f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()) => return Err(malformed()),
        Some(f) if f.len() > 2 => return Err("more than 2 decimal places: amounts are never rounded".into()),
        Some(f) => f.bytes().fold(0i64, |n, b| n * 10 + i64::from(b - b'0')) * if f.len() == 1 { 10 } else { 1 },
    };
    let total = units * 100 + cents;
    if negative && total != 0 && sign == Sign::NonNegative {
        return Err("must be 0 or more (use add_revenue/add_payout for a chargeback)".into());
    }
    // `-0` is 0, so it never prints as `-0.00`.
    Ok(Decimal::new(if negative { -total } else { total }, 2))
}

/// Reads an integer part with optional well-formed thousands separators
/// (`1,234,567`; not `12,34` or `1,,234`). Returns its value and how many
/// significant digits it has, or `None` when it is not digits in that form.
fn integer_with_thousands(int_part: &str) -> Option<(i64, usize)> {
    let grouped = int_part.contains(',');
    let mut value: i64 = 0;
    let mut significant = 0usize;
    for (i, group) in int_part.split(',').enumerate() {
        let width_ok = if i == 0 { !grouped || group.len() <= 3 } else { group.len() == 3 };
        if group.is_empty() || !width_ok || !group.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        for b in group.bytes() {
            if value > 0 || b != b'0' {
                significant += 1;
            }
            // Past MAX_DIGITS the caller rejects it; stop growing before overflow.
            if significant <= MAX_DIGITS {
                value = value * 10 + i64::from(b - b'0');
            }
        }
    }
    Some((value, significant))
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
            ("99999999999999999999999", "too large"),
            ("1,000,000,000,000,000", "too large"),
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
