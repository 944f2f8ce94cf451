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
    parse_signed(text, sign).map(|(amount, _)| amount)
}

/// `parse_money`, and whether the amount was written negative: `(0.00)` and
/// `-$0` are zero, but a chargeback column's zero (`--negative-as-add`).
pub fn parse_signed(text: &str, sign: Sign) -> Result<(Decimal, bool), String> {
    // ASCII trim: fast, and a non-ASCII space left in is rejected, not guessed at.
    let s = text.trim_ascii().as_bytes();
    // Accounting negatives, as spreadsheets export chargebacks: `(15.00)`,
    // `($15.00)`, `-$15.00`, `$-15.00`. One sign, one `$`, in those places.
    let (parenthesised, s) = match s.strip_prefix(b"(").and_then(|r| r.strip_suffix(b")")) {
        Some(inner) => (true, inner),
        None => (false, s),
    };
    let (minus, s) = match s.strip_prefix(b"-") {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (dollar, s) = match s.strip_prefix(b"$") {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (minus_after_dollar, s) = match s.strip_prefix(b"-") {
        Some(rest) if dollar && !minus && !parenthesised => (true, rest),
        _ => (false, s),
    };
    if parenthesised && minus {
        return Err(format!("not an amount: a negative is written (15.00) or -15.00, not both; {MALFORMED}"));
    }
    let negative = parenthesised || minus || minus_after_dollar;
    if s.is_empty() {
        return Err("expected an amount like 12.50".into());
    }
    let cents = cents(s).map_err(|e| {
        // Text that is not a number (`pending`, `see notes`) is not an
        // amount; only digits around an `e` (`1e3`, `1.5E+03`) are an exponent.
        let digits_and_e = s.iter().all(|b| b.is_ascii_digit() || b".,+-eE".contains(b));
        if !s.iter().any(u8::is_ascii_digit) || !digits_and_e {
            format!("not an amount: {MALFORMED}")
        } else if s.iter().any(|b| b.eq_ignore_ascii_case(&b'e')) {
            "exponents are not accepted: write the amount in full, like 1000.00".to_string()
        } else {
            e.to_string()
        }
    })?;
    if negative && cents != 0 && sign == Sign::NonNegative {
        return Err("must be 0 or more (use add_revenue/add_payout for a chargeback)".into());
    }
    // `-0` is 0, so it never prints as `-0.00`.
    Ok((Decimal::new(if negative { -cents } else { cents }, 2), negative))
}

const MALFORMED: &str = "expected an amount like 1234.50 or $1,234.50";

/// An unsigned amount (`1,234.5`) in cents.
fn cents(s: &[u8]) -> Result<i64, &'static str> {
    let (int_part, frac_part) = match s.iter().position(|&b| b == b'.') {
        Some(dot) => (&s[..dot], Some(&s[dot + 1..])),
        None => (s, None),
    };
    let (units, digits) = integer_with_thousands(int_part).ok_or(MALFORMED)?;
    if digits > MAX_DIGITS {
        return Err("amount is too large");
    }
    let cents = match frac_part {
        None => 0,
        Some(f) if f.is_empty() || !f.iter().all(u8::is_ascii_digit) => return Err(MALFORMED),
        Some(f) if f.len() > 2 => return Err("more than 2 decimal places: amounts are never rounded"),
        Some(f) => f.iter().fold(0i64, |n, b| n * 10 + i64::from(b - b'0')) * if f.len() == 1 { 10 } else { 1 },
    };
    Ok(units * 100 + cents)
}

/// Reads an integer part with optional well-formed thousands separators
/// (`1,234,567`; not `12,34` or `1,,234`). Returns its value and how many
/// significant digits it has, or `None` when it is not digits in that form.
/// One pass over the bytes: this runs for every amount of every row.
fn integer_with_thousands(int_part: &[u8]) -> Option<(i64, usize)> {
    let mut value: i64 = 0;
    let mut significant = 0usize;
    // Digits in the current group, and whether a `,` came before it.
    let mut group = 0usize;
    let mut grouped = false;
    for &b in int_part {
        if b == b',' {
            // The first group has 1-3 digits, every later one exactly 3.
            let width_ok = if grouped { group == 3 } else { (1..=3).contains(&group) };
            if !width_ok {
                return None;
            }
            (group, grouped) = (0, true);
            continue;
        }
        if !b.is_ascii_digit() {
            return None;
        }
        group += 1;
        if value > 0 || b != b'0' {
            significant += 1;
        }
        // Past MAX_DIGITS the caller rejects it; stop growing before overflow.
        if significant <= MAX_DIGITS {
            value = value * 10 + i64::from(b - b'0');
        }
    }
    let last_ok = if grouped { group == 3 } else { group > 0 };
    last_ok.then_some((value, significant))
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
            // Chargebacks as spreadsheets export them.
            ("(15.00)", Sign::Any, "-15.00"),
            ("($15.00)", Sign::Any, "-15.00"),
            ("$-15.00", Sign::Any, "-15.00"),
            ("-$15.00", Sign::Any, "-15.00"),
            ("($1,234.5)", Sign::Any, "-1234.50"),
        ];
        for (input, sign, want) in cases {
            let got = parse_money(input, sign).unwrap_or_else(|e| panic!("{input:?}: {e}"));
            assert_eq!(got.to_string(), want, "input {input:?}");
        }
    }

    #[test]
    fn accounting_negatives_are_refused_where_amounts_must_be_positive() {
        for input in ["(15.00)", "($15.00)", "$-15.00", "-$15.00"] {
            let e = parse_money(input, Sign::NonNegative).unwrap_err();
            assert!(e.contains("must be 0 or more"), "{input}: {e}");
        }
    }

    #[test]
    fn rejected_amounts() {
        let cases = [
            ("", "expected an amount"),
            ("$", "expected an amount"),
            ("abc", "not an amount"),
            ("pending", "not an amount"),
            ("see notes", "not an amount"),
            ("free", "not an amount"),
            ("e", "not an amount"),
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
            ("(-5)", "not both"),
            ("(5", "not an amount"),
            ("$$5", "not an amount"),
            ("-$-5", "expected an amount"),
            ("+5", "expected an amount"),
            ("5$", "expected an amount"),
            ("1 234", "expected an amount"),
            ("12.5a", "expected an amount"),
            ("9999999999999999", "too large"),
            ("99999999999999999999999", "too large"),
            ("1,000,000,000,000,000", "too large"),
            ("NaN", "not an amount"),
            ("1,234,", "expected an amount"),
            ("1,23", "expected an amount"),
            ("1,2345", "expected an amount"),
            ("-", "expected an amount"),
            ("-$", "expected an amount"),
            ("$1,000.5e1", "exponents"),
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
