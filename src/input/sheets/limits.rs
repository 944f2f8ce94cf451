//! What of a workbook tdrecon holds in memory, and the limits that keep
//! `validate` and `run` within 64 MiB whatever they are fed (GUIDE.md,
//! BENCHMARKS.md). An `.xlsx` sheet is streamed, but calamine holds its
//! shared strings (every distinct text of the workbook) and its styles
//! whole, and reads `.xls` and `.ods` files whole: each is measured before
//! it is read, and refused past its limit.

use std::io::{Read, Seek};

/// The most memory an `.xlsx`'s shared strings may take, as estimated by
/// `shared_strings_cost`.
pub const MAX_SHARED_STRINGS: u64 = 24 << 20;
/// The most bytes of an `.xlsx`'s styles, or of an `.xls` file.
pub const MAX_WHOLE_PART: u64 = 8 << 20;
/// The most bytes of an `.ods`'s `content.xml`, which is read whole.
pub const MAX_ODS_CONTENT: u64 = 16 << 20;
/// The most cells an `.xls` sheet may span (rows × columns, as calamine
/// holds them: a rectangle), and what one costs held.
pub const MAX_XLS_CELLS: u64 = 1 << 20;
const PER_CELL: u64 = 40;

/// What one shared string costs besides its text: its `String` (24 bytes)
/// and the allocator's rounding of its text.
const PER_STRING: u64 = 40;

/// A part over its limit: what it is, what it would take, the limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Over {
    pub part: String,
    pub bytes: u64,
    pub limit: u64,
}

/// The most bytes of one run between tag marks in an `.xlsx` part: a
/// cell's text, a formula, a tag and its attributes. calamine holds a run
/// whole; no cell tdrecon reads is near it (a cell is refused past 64 KiB).
pub const MAX_RUN: u64 = 1 << 20;

/// Checks an `.xlsx`'s (or an `.ods`'s) parts held whole (shared strings,
/// styles) and every run of its XML parts (sheets, the workbook, their
/// relationships), each in a pass over its bytes that keeps nothing.
pub fn check_xlsx(zip: &mut zip::ZipArchive<impl Read + Seek>) -> Result<(), Over> {
    for i in 0..zip.len() {
        let name = match zip.by_index_raw(i) {
            Ok(entry) => entry.name().map(|n| n.to_ascii_lowercase()).unwrap_or_default(),
            Err(_) => continue,
        };
        let shared = name.ends_with("sharedstrings.xml");
        if name.ends_with("/styles.xml") {
            let size = zip.by_index_raw(i).map(|e| e.size()).unwrap_or(0);
            if size > MAX_WHOLE_PART {
                return Err(Over { part: "styles".into(), bytes: size, limit: MAX_WHOLE_PART });
            }
        }
        if !name.ends_with(".xml") && !name.ends_with(".rels") {
            continue;
        }
        let Ok(entry) = zip.by_index(i) else { continue };
        let Ok(found) = scan(entry) else { continue };
        if found.longest > MAX_RUN {
            let part = if shared { "shared strings".to_string() } else { format!("part {name}") };
            let part = format!("longest text or tag in its {part}");
            return Err(Over { part, bytes: found.longest, limit: MAX_RUN });
        }
        let count = found.si.max(found.declared);
        let bytes = shared_strings_cost(found.bytes, count);
        if shared && bytes > MAX_SHARED_STRINGS {
            let part = format!("shared strings (its {count} distinct texts)");
            return Err(Over { part, bytes, limit: MAX_SHARED_STRINGS });
        }
    }
    Ok(())
}

/// The memory `count` shared strings in `xml_bytes` of XML take: at most
/// their text, and their `String`s. calamine reserves room for as many as
/// the part says it holds (`uniqueCount`), so a count the part claims but
/// does not hold costs as much.
pub fn shared_strings_cost(xml_bytes: u64, count: u64) -> u64 {
    xml_bytes.saturating_add(count.saturating_mul(PER_STRING))
}

/// What one pass over a part's bytes found.
#[derive(Debug, Default, PartialEq, Eq)]
struct Scan {
    bytes: u64,
    /// The longest run between `<` and `>` marks (a text, or a tag).
    longest: u64,
    /// `<si>` tags (shared strings), and the count `<sst>` claims.
    si: u64,
    declared: u64,
}

/// Reads a part through, holding at most one buffer of it: no XML parser,
/// which would hold a run whole before it could be measured.
fn scan(mut part: impl Read) -> std::io::Result<Scan> {
    let mut found = Scan::default();
    let mut buf = vec![0u8; 1 << 16];
    // The last bytes of the previous read, so a `<si>` across two is seen once.
    let mut carry: Vec<u8> = Vec::new();
    let (mut mark, mut head) = (0u64, Vec::new());
    loop {
        let n = part.read(&mut buf)?;
        if n == 0 {
            break;
        }
        let chunk = &buf[..n];
        for at in memchr::memchr2_iter(b'<', b'>', chunk) {
            let at = found.bytes + at as u64;
            found.longest = found.longest.max(at - mark);
            mark = at;
        }
        let joined = [&carry[..], chunk].concat();
        found.si += (memchr::memmem::find_iter(&joined, b"<si>").count()
            + memchr::memmem::find_iter(&joined, b"<si ").count()) as u64;
        carry = joined[joined.len().saturating_sub(3)..].to_vec();
        if head.len() < 4096 {
            head.extend_from_slice(&chunk[..chunk.len().min(4096 - head.len())]);
        }
        found.bytes += n as u64;
    }
    found.longest = found.longest.max(found.bytes - mark);
    found.declared = declared_count(&head);
    Ok(found)
}

/// `uniqueCount="N"` in a shared-strings part's start.
fn declared_count(head: &[u8]) -> u64 {
    let Some(at) = memchr::memmem::find(head, b"uniqueCount=") else { return 0 };
    let rest = &head[at + 12..];
    let digits: String = rest.iter().skip(1).take_while(|b| b.is_ascii_digit()).map(|b| *b as char).collect();
    digits.parse().unwrap_or(u64::MAX)
}

/// Checks the cells of an `.xls`'s sheets (`biff::XlsFacts::extents`):
/// calamine reads every sheet when it opens the file.
pub fn check_xls(extents: &[u64]) -> Result<(), Over> {
    match extents.iter().enumerate().find(|(_, cells)| **cells > MAX_XLS_CELLS) {
        Some((i, cells)) => Err(Over {
            part: format!("sheet {}'s cells ({cells} in the rows and columns it spans)", i + 1),
            bytes: cells.saturating_mul(PER_CELL),
            limit: MAX_XLS_CELLS * PER_CELL,
        }),
        None => Ok(()),
    }
}

/// Checks a format read whole: an `.ods`'s content, or an `.xls` file.
pub fn check_whole(ods_content: Option<u64>, file: u64) -> Result<(), Over> {
    match ods_content {
        Some(bytes) if bytes > MAX_ODS_CONTENT => Err(Over { part: "content".into(), bytes, limit: MAX_ODS_CONTENT }),
        Some(_) => Ok(()),
        None if file > MAX_WHOLE_PART => Err(Over { part: "file".into(), bytes: file, limit: MAX_WHOLE_PART }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xlsx_with(shared: &str, styles: usize) -> zip::ZipArchive<std::io::Cursor<Vec<u8>>> {
        use std::io::Write;
        let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default();
        out.start_file("xl/sharedStrings.xml", options).unwrap();
        out.write_all(shared.as_bytes()).unwrap();
        out.start_file("xl/styles.xml", options).unwrap();
        out.write_all(&vec![b' '; styles]).unwrap();
        zip::ZipArchive::new(std::io::Cursor::new(out.finish().unwrap().into_inner())).unwrap()
    }

    /// A reader that gives at most `.1` bytes a read.
    struct Pieces<'a>(&'a [u8], usize);

    impl Read for Pieces<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.0.len().min(self.1).min(buf.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn the_parts_held_whole_are_measured_before_they_are_read() {
        let strings = |n: usize| {
            let mut xml = String::from("<sst>");
            for i in 0..n {
                xml.push_str(&format!("<si><t>{i:x}</t></si>"));
            }
            xml + "</sst>"
        };
        let found = scan(strings(3).as_bytes()).unwrap();
        assert_eq!((found.si, found.declared), (3, 0));
        // Read in pieces of any size, a part is counted the same.
        let xml = format!(r#"<sst uniqueCount="12">{}"#, &strings(12)[5..]);
        for size in [1, 2, 3, 5, 64] {
            let found = scan(Pieces(xml.as_bytes(), size)).unwrap();
            assert_eq!((found.si, found.declared, found.bytes), (12, 12, xml.len() as u64), "{size}");
        }
        // One long text is measured, not held.
        let long = format!("<si><t>{}</t></si>", "x".repeat(3 << 20));
        assert_eq!(scan(long.as_bytes()).unwrap().longest, (3 << 20) + 1);
        let over = check_xlsx(&mut xlsx_with(&long, 100)).unwrap_err();
        assert!(over.part.contains("longest text or tag in its shared strings"), "{over:?}");
        assert_eq!(check_xlsx(&mut xlsx_with(&strings(1000), 100)), Ok(()));
        // Short distinct texts cost their Strings more than their XML.
        let many = 450_000;
        let over = check_xlsx(&mut xlsx_with(&strings(many), 100)).unwrap_err();
        assert_eq!(over.part, format!("shared strings (its {many} distinct texts)"));
        assert!(over.bytes > MAX_SHARED_STRINGS, "{over:?}");
        // A part that says it holds a billion strings is reserved a billion.
        let claims = r#"<sst uniqueCount="1000000000"><si><t>a</t></si></sst>"#;
        assert!(check_xlsx(&mut xlsx_with(claims, 100)).is_err());
        let styles = check_xlsx(&mut xlsx_with(&strings(1), 9 << 20)).unwrap_err();
        assert_eq!((styles.part.as_str(), styles.limit), ("styles", MAX_WHOLE_PART));
        assert!(check_whole(Some(17 << 20), 0).is_err() && check_whole(Some(1 << 20), 1 << 30).is_ok());
        assert!(check_whole(None, 9 << 20).is_err() && check_whole(None, 1 << 20).is_ok());
        assert!(check_xls(&[10, MAX_XLS_CELLS]).is_ok());
        assert_eq!(
            check_xls(&[10, 1 << 40]).unwrap_err().part,
            "sheet 2's cells (1099511627776 in the rows and columns it spans)"
        );
    }
}
