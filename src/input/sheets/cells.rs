//! A spreadsheet cell as the text a CSV export would hold, and a cell's
//! name as the spreadsheet shows it (`D14`).

use std::fmt::Write;

use calamine::{Data, DataRef};

/// A cell as the text a CSV export would hold, under the same rules as CSV
/// text: a number is the shortest decimal that gives back its value exactly
/// (so `1234.5` is `1234.5`, and a formula's `1234.4999999999998` stays
/// that, for the validator to refuse: never rounded here); a whole number
/// too large to be exact (2^53 and up) is written with an exponent, which no
/// id or amount accepts; a date-time is ISO 8601. Appends to `out`.
pub fn cell_text(cell: &DataRef<'_>, out: &mut String) {
    match cell {
        DataRef::Empty => {}
        DataRef::String(s) | DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => out.push_str(s),
        DataRef::SharedString(s) => out.push_str(s),
        DataRef::Int(i) => {
            let _ = write!(out, "{i}");
        }
        DataRef::Float(f) => float_text(*f, out),
        DataRef::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        DataRef::DateTime(d) if d.is_datetime() => {
            let (y, mo, day, h, mi, s, _) = d.to_ymd_hms_milli();
            let _ = write!(out, "{y:04}-{mo:02}-{day:02}T{h:02}:{mi:02}:{s:02}");
        }
        DataRef::DateTime(d) => float_text(d.as_f64(), out),
        // As the spreadsheet shows it: `#DIV/0!`, `#N/A`.
        DataRef::Error(e) => {
            let _ = write!(out, "{e}");
        }
    }
}

/// `cell_text` of an owned cell (the formats read whole: `.xls`, `.ods`).
pub fn data_text(cell: &Data, out: &mut String) {
    let cell = match cell {
        Data::Empty => DataRef::Empty,
        Data::String(s) => DataRef::SharedString(s),
        Data::Int(i) => DataRef::Int(*i),
        Data::Float(f) => DataRef::Float(*f),
        Data::Bool(b) => DataRef::Bool(*b),
        Data::DateTime(d) => DataRef::DateTime(*d),
        Data::DateTimeIso(s) => DataRef::DateTimeIso(s.clone()),
        Data::DurationIso(s) => DataRef::DurationIso(s.clone()),
        Data::Error(e) => DataRef::Error(e.clone()),
    };
    cell_text(&cell, out);
}

fn float_text(f: f64, out: &mut String) {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    if f == 0.0 {
        // A negative zero shows as 0 in a spreadsheet: no sign to read.
        out.push('0');
    } else if f.is_finite() && f.fract() == 0.0 && f.abs() >= EXACT {
        let _ = write!(out, "{f:e}");
    } else {
        // Rust's `Display` for f64 is the shortest text that parses back
        // to the same value.
        let _ = write!(out, "{f}");
    }
}

/// A cell's name as the spreadsheet shows it: `(13, 3)` is `D14`.
pub fn a1(row: u32, col: u32) -> String {
    let mut letters = Vec::new();
    let mut n = col + 1;
    while n > 0 {
        let rem = (n - 1) % 26;
        letters.push(b'A' + rem as u8);
        n = (n - 1) / 26;
    }
    letters.reverse();
    format!("{}{}", String::from_utf8_lossy(&letters), u64::from(row) + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_read_as_a_csv_export_writes_them() {
        let cases = [
            (Data::Float(1234.5), "1234.5"),
            (Data::Float(1234.4999999999998), "1234.4999999999998"),
            (Data::Float(123895022.0), "123895022"),
            (Data::Float(9_007_199_254_740_993.0), "9.007199254740992e15"),
            (Data::Float(-25.0), "-25"),
            (Data::Float(-0.0), "0"),
            (Data::Error(calamine::CellErrorType::Div0), "#DIV/0!"),
            (Data::Error(calamine::CellErrorType::NA), "#N/A"),
            (Data::Int(42), "42"),
            (Data::Bool(true), "true"),
            (Data::String("=1+1".into()), "=1+1"),
            (Data::Empty, ""),
        ];
        for (cell, want) in cases {
            let mut got = String::new();
            data_text(&cell, &mut got);
            assert_eq!(got, want, "{cell:?}");
        }
    }

    #[test]
    fn cell_names() {
        let cases = [((0, 0), "A1"), ((13, 3), "D14"), ((0, 25), "Z1"), ((9, 26), "AA10"), ((0, 16383), "XFD1")];
        for ((row, col), want) in cases {
            assert_eq!(a1(row, col), want);
        }
    }
}
