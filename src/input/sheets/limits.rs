//! What of a workbook tdrecon holds in memory, and the limits that keep
//! `validate` and `run` within 64 MiB whatever they are fed (GUIDE.md,
//! BENCHMARKS.md). An `.xlsx` sheet is streamed, but calamine holds its
//! shared strings (every distinct text of the workbook) and its styles
//! whole, and reads `.xls` and `.ods` files whole: each is measured before
//! it is read, and refused past its limit.

use std::io::{BufReader, Read, Seek};

use quick_xml::events::Event;

/// The most memory an `.xlsx`'s shared strings may take, as estimated by
/// `shared_strings_cost`.
pub const MAX_SHARED_STRINGS: u64 = 24 << 20;
/// The most bytes of an `.xlsx`'s styles, or of an `.xls` file.
pub const MAX_WHOLE_PART: u64 = 8 << 20;
/// The most bytes of an `.ods`'s `content.xml`, which is read whole.
pub const MAX_ODS_CONTENT: u64 = 16 << 20;

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

/// Checks an `.xlsx`'s parts held whole.
pub fn check_xlsx(zip: &mut zip::ZipArchive<impl Read + Seek>) -> Result<(), Over> {
    for i in 0..zip.len() {
        let name = match zip.by_index_raw(i) {
            Ok(entry) => entry.name().map(|n| n.to_ascii_lowercase()).unwrap_or_default(),
            Err(_) => continue,
        };
        if name.ends_with("sharedstrings.xml") {
            let Ok(entry) = zip.by_index(i) else { continue };
            let size = entry.size();
            let (count, declared) = count_strings(BufReader::new(entry));
            let bytes = shared_strings_cost(size, count.max(declared));
            if bytes > MAX_SHARED_STRINGS {
                let part = format!("shared strings (its {} distinct texts)", count.max(declared));
                return Err(Over { part, bytes, limit: MAX_SHARED_STRINGS });
            }
        } else if name.ends_with("/styles.xml") {
            let size = zip.by_index_raw(i).map(|e| e.size()).unwrap_or(0);
            if size > MAX_WHOLE_PART {
                return Err(Over { part: "styles".into(), bytes: size, limit: MAX_WHOLE_PART });
            }
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

/// The strings a shared-strings part holds (`<si>`), and how many it says it
/// holds (`uniqueCount`), in one pass that keeps nothing.
fn count_strings(part: impl std::io::BufRead) -> (u64, u64) {
    let mut xml = quick_xml::Reader::from_reader(part);
    let (mut count, mut declared) = (0u64, 0u64);
    let mut buf = Vec::new();
    loop {
        match xml.read_event_into(&mut buf) {
            Ok(Event::Start(e)) | Ok(Event::Empty(e)) => match e.local_name().as_ref() {
                "si" => count += 1,
                "sst" => {
                    declared = e
                        .attributes()
                        .flatten()
                        .find(|a| a.key.local_name().as_ref() == "uniqueCount")
                        .and_then(|a| a.value.trim().parse().ok())
                        .unwrap_or(0);
                }
                _ => {}
            },
            Ok(Event::Eof) | Err(_) => return (count, declared),
            _ => {}
        }
        buf.clear();
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

    #[test]
    fn the_parts_held_whole_are_measured_before_they_are_read() {
        let strings = |n: usize| {
            let mut xml = String::from("<sst>");
            for i in 0..n {
                xml.push_str(&format!("<si><t>{i:x}</t></si>"));
            }
            xml + "</sst>"
        };
        assert_eq!(count_strings(strings(3).as_bytes()), (3, 0));
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
    }
}
