//! `errors.csv`: one row per rejected input row, its cells as the input had
//! them (behind the formula guard, `text::neutralise`).

use std::io::Write;

use csv::ByteRecord;

use crate::input::rejection::{RejectKind, Rejection};
use crate::text::neutralise;

/// Writes `errors.csv`: `line, column, value, reason`, then the original cells.
pub struct ErrorReport<W: Write> {
    csv: csv::Writer<W>,
    row: Vec<String>,
}

impl<W: Write> ErrorReport<W> {
    pub fn new(out: W, headers: &[String]) -> csv::Result<ErrorReport<W>> {
        // Rejected records may be short or long: the writer must not insist on a width.
        let mut csv = csv::WriterBuilder::new().flexible(true).from_writer(out);
        let mut header: Vec<String> = crate::input::columns::ERRORS_OWN.map(String::from).to_vec();
        header.extend(headers.iter().map(|h| neutralise(h).into_owned()));
        csv.write_record(&header)?;
        Ok(ErrorReport { csv, row: Vec::new() })
    }

    pub fn write(&mut self, line: u64, rejection: &Rejection, raw: &ByteRecord) -> csv::Result<()> {
        self.row.clear();
        self.row.push(line.to_string());
        self.row.push(neutralise(&rejection.column).into_owned());
        self.row.push(neutralise(&rejection.value).into_owned());
        self.row.push(neutralise(&rejection.reason).into_owned());
        // A record over a size limit is not echoed: it is the size that is wrong.
        if rejection.kind != RejectKind::TooLarge {
            self.row.extend(raw.iter().map(|cell| neutralise(&String::from_utf8_lossy(cell)).into_owned()));
        }
        self.csv.write_record(&self.row)
    }

    pub fn flush(&mut self) -> std::io::Result<()> {
        self.csv.flush()
    }

    pub fn into_inner(self) -> Result<W, std::io::Error> {
        self.csv.into_inner().map_err(|e| e.into_error())
    }
}

/// Creates `errors.csv` with its header row.
pub fn create_error_report(
    path: &std::path::Path,
    headers: &[String],
) -> Result<ErrorReport<std::io::BufWriter<std::fs::File>>, crate::exit::Fatal> {
    use anyhow::Context;
    ErrorReport::new(crate::files::create(path)?, headers)
        .with_context(|| format!("cannot write {}", path.display()))
        .map_err(crate::exit::Fatal::usage)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neutralising() {
        let cases = [
            ("=HYPERLINK(\"x\")", "'=HYPERLINK(\"x\")"),
            ("+1", "'+1"),
            ("-5.00", "'-5.00"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("plain", "plain"),
            ("", ""),
            ("a=b", "a=b"),
        ];
        for (input, want) in cases {
            assert_eq!(neutralise(input), want, "{input:?}");
        }
    }

    #[test]
    fn error_rows() {
        let headers = vec!["id".to_string(), "=revenue".to_string()];
        let mut report = ErrorReport::new(Vec::new(), &headers).unwrap();
        let rejection = Rejection {
            kind: crate::input::rejection::RejectKind::InvalidValue,
            column: "revenue".into(),
            value: "=1+1".into(),
            reason: "expected an amount".into(),
        };
        report.write(7, &rejection, &ByteRecord::from(vec!["12", "=1+1"])).unwrap();
        let out = String::from_utf8(report.into_inner().unwrap()).unwrap();
        assert_eq!(out, "line,column,value,reason,id,'=revenue\n7,revenue,'=1+1,expected an amount,12,'=1+1\n");
    }
}
