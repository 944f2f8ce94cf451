//! `results.csv`: one line per row that reached the uploader, written as
//! outcomes arrive (so in completion order; `line` ties each to the input).

use std::io::Write;

use crate::report::neutralise;
use crate::upload::outcome::RowOutcome;

pub const HEADER: [&str; 10] = [
    "line",
    "id",
    "status",
    "http_status",
    "attempts",
    "latency_ms",
    "error",
    "revenue_after",
    "payout_after",
    "request_body",
];

/// One outcome as the cells of a results row. Numbers we format ourselves
/// are left alone; text from the input or a server response is neutralised
/// against formula injection.
pub fn fields(o: &RowOutcome) -> Vec<String> {
    let opt = |v: Option<String>| v.unwrap_or_default();
    vec![
        o.line.to_string(),
        o.call.to_string(),
        o.status.as_str().to_string(),
        opt(o.http_status.map(|s| s.to_string())),
        o.attempts.to_string(),
        opt(o.latency.map(|l| l.as_millis().to_string())),
        neutralise(&o.error).into_owned(),
        neutralise(o.revenue.as_deref().unwrap_or_default()).into_owned(),
        neutralise(o.payout.as_deref().unwrap_or_default()).into_owned(),
        neutralise(o.request_body.as_deref().unwrap_or_default()).into_owned(),
    ]
}

pub struct ResultsWriter<W: Write> {
    csv: csv::Writer<W>,
}

impl<W: Write> ResultsWriter<W> {
    pub fn new(out: W) -> csv::Result<ResultsWriter<W>> {
        let mut csv = csv::Writer::from_writer(out);
        csv.write_record(HEADER)?;
        Ok(ResultsWriter { csv })
    }

    pub fn write(&mut self, o: &RowOutcome) -> csv::Result<()> {
        self.csv.write_record(fields(o))
    }

    /// Writes a row already in results form (copied from the journal).
    pub fn write_fields(&mut self, fields: &[String]) -> csv::Result<()> {
        self.csv.write_record(fields)
    }

    pub fn flush(&mut self) -> std::io::Result<()> {
        self.csv.flush()
    }

    pub fn into_inner(self) -> std::io::Result<W> {
        self.csv.into_inner().map_err(|e| e.into_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upload::outcome::Status;
    use crate::values::CallRef;
    use std::time::Duration;

    #[test]
    fn rows() {
        let mut w = ResultsWriter::new(Vec::new()).unwrap();
        let mut o = RowOutcome::new(12, CallRef::Id(100000001), Status::Ok);
        o.http_status = Some(200);
        o.attempts = 2;
        o.latency = Some(Duration::from_millis(41));
        o.revenue = Some("12.50".into());
        o.payout = Some("-1.00".into());
        w.write(&o).unwrap();
        let mut r = RowOutcome::new(13, CallRef::Id(5), Status::Rejected);
        r.error = "=422: {\"errors\":{}}".into();
        w.write(&r).unwrap();
        let text = String::from_utf8(w.into_inner().unwrap()).unwrap();
        assert_eq!(
            text,
            "line,id,status,http_status,attempts,latency_ms,error,revenue_after,payout_after,request_body\n\
             12,100000001,ok,200,2,41,,12.50,'-1.00,\n\
             13,5,rejected,,0,,\"'=422: {\"\"errors\"\":{}}\",,,\n"
        );
    }
}
