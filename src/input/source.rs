//! Where the rows come from: a CSV or TSV file, standard input (`-`), a
//! gzip file, or a spreadsheet (`.xlsx`, `.xlsm`, `.xls`, `.ods`), and the
//! one place the input is opened. Anything but a plain file is first written
//! out as CSV to a temporary file (a spool), so the reader, the journal's
//! hash of the content and `--resume` all work on plain bytes, and memory
//! stays bounded whatever the source. A run also reads a plain file through
//! a private copy: what it sends is what it hashed, whatever happens to the
//! file meanwhile. Every spool is written in one pass that also hashes the
//! bytes, counts records and stops at a NUL byte (the `Survey`). A
//! spreadsheet's rows keep their sheet row numbers (the line map).

use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::mojibake::{Utf8Watch, misread};
pub use super::opener::open_file;
use super::record_count::RecordCount;
use super::sheets::{self, LineMap, SheetError};

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
    /// For a spreadsheet: the sheet read, and the sheet row of each data record.
    pub sheet: Option<String>,
    pub line_map: Option<Arc<LineMap>>,
    /// Keeps the spooled copy until the last clone is gone.
    pub spool: Option<Arc<tempfile::TempPath>>,
    /// What the pass that wrote the spool found (`None`: read in place).
    pub survey: Option<Survey>,
}

/// What one pass over the bytes the reader reads found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Survey {
    /// SHA-256 of the bytes, in hex: what a journal is bound to.
    pub sha256: String,
    /// Records seen, the header's included (`record_count`: the progress
    /// bar's count of rows, a quoted field's line endings not counted).
    pub records: u64,
    pub bytes: u64,
}

/// Why a source cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("cannot read {name}: {error}")]
    Io { name: PathBuf, error: io::Error },
    #[error("{name} expands past {} GiB: too large to be a buyer report", MAX_SPOOL >> 30)]
    TooLarge { name: PathBuf },
    #[error(transparent)]
    Sheet(#[from] SheetError),
    #[error(
        "{name} is to be read as {encoding} (--encoding), but it holds UTF-8 text: read as {encoding}, {right:?} would be \
         sent as {wrong:?}; drop --encoding (UTF-8 is the default; save a file of mixed encodings as \"CSV UTF-8\"), \
         or add --trust-encoding if it really is {encoding}"
    )]
    LooksUtf8 { name: PathBuf, encoding: &'static str, right: String, wrong: String },
    #[error(
        "{name} is not text: byte {offset} is a NUL byte (binary data, or a file of zeros); nothing was read past it"
    )]
    Binary { name: PathBuf, offset: u64 },
    #[error("{name}: a cell of the sheet read holds a NUL character (written _x0000_ in the file); remove it")]
    SheetNul { name: PathBuf },
}

/// What a file's name says it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Stdin,
    Gzip,
    Sheet,
    Plain,
}

fn kind(name: &Path) -> Format {
    let lower = name.to_string_lossy().to_ascii_lowercase();
    if lower == "-" {
        Format::Stdin
    } else if lower.ends_with(".gz") {
        Format::Gzip
    } else if [".xlsx", ".xlsm", ".xls", ".ods"].iter().any(|e| lower.ends_with(e)) {
        Format::Sheet
    } else {
        Format::Plain
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
    if kind(name) == Format::Stdin {
        return "stdin".into();
    }
    // A report fetched from a URL: its last segment's stem and a short hash
    // of the whole URL, so two URLs that end alike (`a/k.csv`, `b/k.csv`)
    // never share a kept copy, a journal or results.
    let text = name.to_string_lossy();
    let lower = text.to_ascii_lowercase();
    if lower.starts_with("https://") || lower.starts_with("http://") {
        let last = text.trim_end_matches('/').rsplit('/').next().unwrap_or_default();
        let own = if last.contains(':') || last.is_empty() { "report".to_string() } else { stem(Path::new(last)) };
        let hash = hex(&Sha256::digest(text.as_bytes()));
        return format!("{own}-{}", &hash[..8]);
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
    /// Opens `name`: standard input, a gzip file or a spreadsheet (the sheet
    /// it opens on, or `sheet`) is first written out as CSV; so is a plain file
    /// when `private` (a run: it must read the bytes it hashed), else it is
    /// read where it is.
    /// Text in another `encoding` than UTF-8 (or a plain file that starts
    /// with a UTF-16 byte-order mark) is decoded into the spool as UTF-8;
    /// text declared in another encoding whose bytes are UTF-8 is refused
    /// (`mojibake`), unless `trust_encoding`.
    pub fn open(
        name: &Path,
        sheet: Option<&str>,
        private: bool,
        encoding: Option<&'static encoding_rs::Encoding>,
        trust_encoding: bool,
    ) -> Result<Source, SourceError> {
        let io_err = |error| SourceError::Io { name: name.to_path_buf(), error };
        let plain = |path: PathBuf, spool: Option<Spooled>, line_map| {
            let (spool, survey) = spool.map_or((None, None), |s| (Some(Arc::new(s.path)), Some(s.survey)));
            Source {
                path,
                name: name.to_path_buf(),
                delimiter: delimiter_for(name),
                sheet: None,
                line_map,
                spool,
                survey,
            }
        };
        let decoding = encoding.filter(|e| *e != encoding_rs::UTF_8);
        // UTF-16 is never mistaken for UTF-8: its ASCII is NUL bytes.
        let watched =
            decoding.filter(|e| !trust_encoding && *e != encoding_rs::UTF_16LE && *e != encoding_rs::UTF_16BE);
        // A spool decodes on its way (and drops a UTF-8 byte-order mark).
        let spool = |from: &mut dyn Read| -> Result<Spooled, SourceError> {
            let mut watch = Utf8Watch::new(from);
            let spooled = {
                let mut decoded = encoding_rs_io::DecodeReaderBytesBuilder::new()
                    .encoding(decoding)
                    .bom_override(true)
                    .strip_bom(true)
                    .build(&mut watch);
                spool(name, &mut decoded)?
            };
            if let (Some(declared), Some(word)) = (watched, watch.utf8_word()) {
                let (wrong, right) = misread(word, declared);
                return Err(SourceError::LooksUtf8 {
                    name: name.to_path_buf(),
                    encoding: declared.name(),
                    right,
                    wrong,
                });
            }
            Ok(spooled)
        };
        match kind(name) {
            Format::Plain if !private && decoding.is_none() && !starts_utf16(name) => {
                Ok(plain(name.to_path_buf(), None, None))
            }
            Format::Plain => {
                if name.is_dir() {
                    // The reader says what a directory is, in its words.
                    return Ok(plain(name.to_path_buf(), None, None));
                }
                let spooled = spool(&mut open_file(name).map_err(io_err)?)?;
                Ok(plain(spooled.path.to_path_buf(), Some(spooled), None))
            }
            Format::Stdin => {
                let spooled = spool(&mut io::stdin().lock())?;
                Ok(plain(spooled.path.to_path_buf(), Some(spooled), None))
            }
            Format::Gzip => {
                let file = open_file(name).map_err(io_err)?;
                let spooled = spool(&mut flate2::read::MultiGzDecoder::new(io::BufReader::new(file)))?;
                Ok(plain(spooled.path.to_path_buf(), Some(spooled), None))
            }
            Format::Sheet => {
                let (spooled, map, read) = sheet_to_csv(name, sheet)?;
                let mut source = plain(spooled.path.to_path_buf(), Some(spooled), Some(Arc::new(map)));
                source.delimiter = b',';
                source.sheet = Some(read);
                Ok(source)
            }
        }
    }
}

/// A spool and what writing it found.
struct Spooled {
    path: tempfile::TempPath,
    survey: Survey,
}

/// A writer that hashes, counts records and refuses a NUL byte as bytes pass
/// through it to the spool, up to `MAX_SPOOL` bytes.
struct Surveying<W> {
    inner: W,
    hasher: Sha256,
    records: RecordCount,
    bytes: u64,
}

/// A NUL byte at this offset, or more than `MAX_SPOOL` bytes (an
/// `io::Error`'s inner error, told apart by `spool_error`).
#[derive(Debug, thiserror::Error)]
enum Refused {
    #[error("a NUL byte at offset {0}")]
    Nul(u64),
    #[error("more than the spool's limit")]
    TooLarge,
}

impl<W: Write> Write for Surveying<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(at) = memchr::memchr(0, buf) {
            return Err(io::Error::new(io::ErrorKind::InvalidData, Refused::Nul(self.bytes + at as u64)));
        }
        if self.bytes + buf.len() as u64 > MAX_SPOOL {
            return Err(io::Error::new(io::ErrorKind::InvalidData, Refused::TooLarge));
        }
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.records.feed(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<W: Write> Surveying<W> {
    fn new(inner: W) -> Self {
        Surveying { inner, hasher: Sha256::new(), records: RecordCount::default(), bytes: 0 }
    }

    fn finish(mut self) -> io::Result<Survey> {
        self.inner.flush()?;
        Ok(Survey { sha256: hex(&self.hasher.finalize()), records: self.records.records(), bytes: self.bytes })
    }
}

fn spool_error(name: &Path, error: io::Error) -> SourceError {
    match error.get_ref().and_then(|inner| inner.downcast_ref::<Refused>()) {
        Some(Refused::Nul(offset)) => SourceError::Binary { name: name.to_path_buf(), offset: *offset },
        Some(Refused::TooLarge) => SourceError::TooLarge { name: name.to_path_buf() },
        None => SourceError::Io { name: name.to_path_buf(), error },
    }
}

/// Whether a file starts with a UTF-16 byte-order mark (Excel's "Unicode
/// Text"): it is decoded as such without being asked.
fn starts_utf16(name: &Path) -> bool {
    let mut head = [0u8; 2];
    open_file(name).and_then(|mut f| f.read_exact(&mut head)).is_ok() && matches!(head, [0xFF, 0xFE] | [0xFE, 0xFF])
}

/// Copies `from` to a temporary file, surveying it on the way.
fn spool(name: &Path, mut from: impl Read) -> Result<Spooled, SourceError> {
    let err = |e| spool_error(name, e);
    let mut file = tempfile::NamedTempFile::new().map_err(err)?;
    let mut out = Surveying::new(BufWriter::with_capacity(1 << 16, file.as_file_mut()));
    io::copy(&mut from, &mut out).map_err(err)?;
    let survey = out.finish().map_err(err)?;
    Ok(Spooled { path: file.into_temp_path(), survey })
}

/// The SHA-256 of a file's bytes, in hex, read through the one opener
/// (for a summary of an input read in place); `None` for a file that is
/// not text (a NUL byte: a file of zeros is not read to its end).
pub fn sha256_of(path: &Path) -> Option<String> {
    let mut file = open_file(path).ok()?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match file.read(&mut buf).ok()? {
            0 => return Some(hex(&hasher.finalize())),
            n if memchr::memchr(0, &buf[..n]).is_some() => return None,
            n => hasher.update(&buf[..n]),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes the report's sheet as CSV (`sheets`), surveyed on the way.
fn sheet_to_csv(name: &Path, sheet: Option<&str>) -> Result<(Spooled, LineMap, String), SourceError> {
    let err = |e| spool_error(name, e);
    let mut file = tempfile::NamedTempFile::new().map_err(err)?;
    let (survey, map, sheet) = {
        let out = Surveying::new(BufWriter::new(file.as_file_mut()));
        let read = sheets::to_csv(name, sheet, out)?;
        let sheets::Read { out, map, sheet } = read.map_err(|e| match e.into_kind() {
            // The spool's offset means nothing in a workbook: say the cell.
            csv::ErrorKind::Io(e) => match spool_error(name, e) {
                SourceError::Binary { .. } => SourceError::SheetNul { name: name.to_path_buf() },
                other => other,
            },
            other => err(io::Error::other(format!("{other:?}"))),
        })?;
        (out.finish().map_err(err)?, map, sheet)
    };
    Ok((Spooled { path: file.into_temp_path(), survey }, map, sheet))
}

/// What a file looks like from outside: size, modification time, inode. A
/// run reads a private copy, and compares the original's stamp at its end
/// to say when the report changed under it.
pub fn stamp(path: &Path) -> Option<(u64, Option<std::time::SystemTime>, u64)> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).ok().filter(|m| m.is_file())?;
    Some((m.len(), m.modified().ok(), m.ino()))
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
    fn a_spool_is_surveyed_as_it_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.csv");
        std::fs::write(&path, "id,revenue\r\n1,2\n3,4").unwrap();
        let source = Source::open(&path, None, true, None, false).unwrap();
        let survey = source.survey.clone().unwrap();
        assert_eq!((survey.records, survey.bytes), (3, 19), "the last record has no line ending");
        assert_eq!(Some(survey.sha256), sha256_of(&path));
        assert_ne!(source.path, path, "a run reads its private copy");
        // The original changing afterwards changes nothing of what is read.
        std::fs::write(&path, "id,revenue\n9,9\n").unwrap();
        assert_eq!(std::fs::read_to_string(&source.path).unwrap(), "id,revenue\r\n1,2\n3,4");
        assert!(Source::open(&path, None, false, None, false).unwrap().survey.is_none(), "validate reads in place");
        std::fs::write(&path, b"id\n1\n\0\0").unwrap();
        let err = Source::open(&path, None, true, None, false).unwrap_err();
        assert!(matches!(err, SourceError::Binary { offset: 5, .. }), "{err}");
    }
}
