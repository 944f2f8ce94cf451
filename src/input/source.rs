//! Where the rows come from: a CSV or TSV file, standard input (`-`), a
//! gzip file, or a spreadsheet (`.xlsx`, `.xlsm`, `.xls`, `.ods`). Anything
//! but a plain file is first written out as CSV to a temporary file, so the
//! reader, the journal's hash of the content and `--resume` all work on
//! plain bytes, and memory stays bounded whatever the source. A spreadsheet's
//! rows keep their sheet row numbers (the line map).

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use calamine::{Data, Reader};

/// The most bytes a stream or an archive may expand to: a 1 KB gzip can
/// hold gigabytes of zeros, and the spool is on disk.
const MAX_SPOOL: u64 = 4 << 30;

/// What the reader reads, and what the user called it.
#[derive(Debug, Clone)]
pub struct Source {
    /// A plain CSV file: the input itself, or its spooled copy.
    pub path: PathBuf,
    /// The name the user gave (`-` for standard input), for messages.
    pub name: PathBuf,
    /// The field delimiter the file's name implies, when the user gave none.
    pub delimiter: u8,
    /// For a spreadsheet: the sheet row of each data record, in order.
    pub line_map: Option<Arc<[u32]>>,
    /// Keeps the spooled copy until the last clone is gone.
    pub spool: Option<Arc<tempfile::TempPath>>,
}

/// Why a source cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("cannot read {name}: {error}")]
    Io { name: PathBuf, error: io::Error },
    #[error("{name} expands past {} GiB: too large to be a buyer report", MAX_SPOOL >> 30)]
    TooLarge { name: PathBuf },
    #[error("cannot read the spreadsheet {name}: {error}")]
    Sheet { name: PathBuf, error: String },
    #[error("{name} has no sheet named {sheet:?}; its sheets are: {}", sheets.join(", "))]
    NoSuchSheet { name: PathBuf, sheet: String, sheets: Vec<String> },
}

/// What a file's name says it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Stdin,
    Gzip,
    Sheet,
    Plain,
}

fn kind(name: &Path) -> Kind {
    let lower = name.to_string_lossy().to_ascii_lowercase();
    if lower == "-" {
        Kind::Stdin
    } else if lower.ends_with(".gz") {
        Kind::Gzip
    } else if [".xlsx", ".xlsm", ".xls", ".ods"].iter().any(|e| lower.ends_with(e)) {
        Kind::Sheet
    } else {
        Kind::Plain
    }
}

/// `.tsv` and `.tab` files (also gzipped) are tab-separated; the rest commas.
pub fn delimiter_for(name: &Path) -> u8 {
    let lower = name.to_string_lossy().to_ascii_lowercase();
    let lower = lower.strip_suffix(".gz").unwrap_or(&lower);
    if lower.ends_with(".tsv") || lower.ends_with(".tab") { b'\t' } else { b',' }
}

/// The name outputs are named after: `nightly` for `nightly.csv.gz`, `stdin` for `-`.
pub fn stem(name: &Path) -> String {
    if kind(name) == Kind::Stdin {
        return "stdin".into();
    }
    let file = name.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_else(|| "tdrecon".into());
    let mut stem = file.as_str();
    for ext in [".gz", ".csv", ".tsv", ".tab", ".txt", ".xlsx", ".xlsm", ".xls", ".ods"] {
        if stem.len() > ext.len() && stem.to_ascii_lowercase().ends_with(ext) {
            stem = &stem[..stem.len() - ext.len()];
        }
    }
    stem.to_string()
}

impl Source {
    /// Opens `name`: a plain file is read where it is; standard input, a
    /// gzip file or a spreadsheet (its first sheet, or `sheet`) is first
    /// written out as CSV.
    pub fn open(name: &Path, sheet: Option<&str>) -> Result<Source, SourceError> {
        let io_err = |error| SourceError::Io { name: name.to_path_buf(), error };
        let plain = |path: PathBuf, spool, line_map| Source {
            path,
            name: name.to_path_buf(),
            delimiter: delimiter_for(name),
            line_map,
            spool,
        };
        match kind(name) {
            Kind::Plain => Ok(plain(name.to_path_buf(), None, None)),
            Kind::Stdin => {
                let spool = spool(name, io::stdin().lock())?;
                Ok(plain(spool.to_path_buf(), Some(Arc::new(spool)), None))
            }
            Kind::Gzip => {
                let file = File::open(name).map_err(io_err)?;
                let spool = spool(name, flate2::read::MultiGzDecoder::new(io::BufReader::new(file)))?;
                Ok(plain(spool.to_path_buf(), Some(Arc::new(spool)), None))
            }
            Kind::Sheet => {
                let (spool, map) = sheet_to_csv(name, sheet)?;
                let mut source = plain(spool.to_path_buf(), Some(Arc::new(spool)), Some(map));
                source.delimiter = b',';
                Ok(source)
            }
        }
    }
}

/// Copies `from` to a temporary file, up to `MAX_SPOOL` bytes.
fn spool(name: &Path, from: impl Read) -> Result<tempfile::TempPath, SourceError> {
    let io_err = |error| SourceError::Io { name: name.to_path_buf(), error };
    let mut file = tempfile::NamedTempFile::new().map_err(io_err)?;
    let copied = io::copy(&mut from.take(MAX_SPOOL + 1), file.as_file_mut()).map_err(io_err)?;
    if copied > MAX_SPOOL {
        return Err(SourceError::TooLarge { name: name.to_path_buf() });
    }
    file.as_file_mut().flush().map_err(io_err)?;
    Ok(file.into_temp_path())
}

/// Writes a sheet as CSV, one record per non-empty row, and the sheet row
/// number of each data record (the header is the first non-empty row).
fn sheet_to_csv(name: &Path, sheet: Option<&str>) -> Result<(tempfile::TempPath, Arc<[u32]>), SourceError> {
    let sheet_err = |error: String| SourceError::Sheet { name: name.to_path_buf(), error };
    let io_err = |error| SourceError::Io { name: name.to_path_buf(), error };
    let mut workbook = calamine::open_workbook_auto(name).map_err(|e| sheet_err(e.to_string()))?;
    let names = workbook.sheet_names();
    let chosen = match sheet {
        Some(wanted) => names.iter().find(|n| n.as_str() == wanted).cloned().ok_or_else(|| {
            SourceError::NoSuchSheet { name: name.to_path_buf(), sheet: wanted.to_string(), sheets: names.clone() }
        })?,
        None => names.first().cloned().ok_or_else(|| sheet_err("it has no sheet".into()))?,
    };
    let range = workbook.worksheet_range(&chosen).map_err(|e| sheet_err(e.to_string()))?;
    let first_row = range.start().map_or(0, |(row, _)| row);
    let mut file = tempfile::NamedTempFile::new().map_err(io_err)?;
    let mut map = Vec::new();
    {
        let mut csv = csv::Writer::from_writer(BufWriter::new(file.as_file_mut()));
        let mut header_written = false;
        for (i, row) in range.rows().enumerate() {
            if row.iter().all(|c| matches!(c, Data::Empty)) {
                continue;
            }
            let cells: Vec<String> = row.iter().map(cell_text).collect();
            csv.write_record(&cells).map_err(|e| io_err(io::Error::other(e)))?;
            // Sheet rows count from 1.
            let sheet_row = first_row + i as u32 + 1;
            if header_written {
                map.push(sheet_row);
            }
            header_written = true;
        }
        csv.flush().map_err(io_err)?;
    }
    Ok((file.into_temp_path(), map.into()))
}

/// A cell as the text a CSV export would hold, under the same rules as CSV
/// text: a number is the shortest decimal that gives back its value exactly
/// (so `1234.5` is `1234.5`, and a formula's `1234.4999999999998` stays
/// that, for the validator to refuse: never rounded here); a whole number
/// too large to be exact (2^53 and up) is written with an exponent, which no
/// id or amount accepts; a date-time is ISO 8601.
pub fn cell_text(cell: &Data) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::String(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) => float_text(*f),
        Data::Bool(b) => b.to_string(),
        Data::DateTime(d) if d.is_datetime() => {
            let (y, mo, day, h, mi, s, _) = d.to_ymd_hms_milli();
            format!("{y:04}-{mo:02}-{day:02}T{h:02}:{mi:02}:{s:02}")
        }
        Data::DateTime(d) => float_text(d.as_f64()),
        Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Error(e) => format!("#{e:?}"),
    }
}

fn float_text(f: f64) -> String {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    if f.is_finite() && f.fract() == 0.0 && f.abs() >= EXACT {
        format!("{f:e}")
    } else {
        // Rust's `Display` for f64 is the shortest text that parses back
        // to the same value.
        f.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let cases = [
            ("nightly.csv", ',', "nightly"),
            ("nightly.tsv", '\t', "nightly"),
            ("report.TAB", '\t', "report"),
            ("nightly.csv.gz", ',', "nightly"),
            ("nightly.tsv.gz", '\t', "nightly"),
            ("buyers.xlsx", ',', "buyers"),
            ("-", ',', "stdin"),
            ("plain", ',', "plain"),
        ];
        for (name, delimiter, want) in cases {
            assert_eq!(delimiter_for(Path::new(name)) as char, delimiter, "{name}");
            assert_eq!(stem(Path::new(name)), want, "{name}");
        }
    }

    #[test]
    fn spreadsheet_cells() {
        let cases = [
            (Data::Float(1234.5), "1234.5"),
            (Data::Float(1234.4999999999998), "1234.4999999999998"),
            (Data::Float(123895022.0), "123895022"),
            (Data::Float(9_007_199_254_740_993.0), "9.007199254740992e15"),
            (Data::Int(42), "42"),
            (Data::Bool(true), "true"),
            (Data::String("=1+1".into()), "=1+1"),
            (Data::Empty, ""),
        ];
        for (cell, want) in cases {
            assert_eq!(cell_text(&cell), want, "{cell:?}");
        }
    }
}
