//! A file declared in a legacy encoding (`--encoding windows-1252`) whose
//! bytes are UTF-8: read as declared, `José` becomes `JosÃ©` on every call
//! it touches. Text in a single-byte encoding with letters beyond ASCII is
//! almost never valid UTF-8 by chance, so bytes that are valid UTF-8 and
//! hold multi-byte characters say the declaration is wrong.
//!
//! `Utf8Watch` watches the bytes on their way to the decoder, in one pass
//! and constant memory, and keeps the first word with such a character, to
//! show the user what the declaration would send. It looks on past bytes
//! that are not UTF-8: a file of mixed encodings (a UTF-8 row pasted into a
//! windows-1252 export) would misread its UTF-8 rows just the same.

use std::io::{self, Read};

/// The most bytes of a word kept to show.
const WORD: usize = 40;

/// A reader that passes bytes through and keeps the first word that holds a
/// well-formed multi-byte UTF-8 character: in the whole file, or in a file
/// of mixed encodings (some lines UTF-8, some not), where the UTF-8 lines
/// would be misread all the same.
pub struct Utf8Watch<R> {
    inner: R,
    /// Bytes of a character cut by the end of the last read.
    pending: Vec<u8>,
    /// The file starts with a UTF-8 byte-order mark: it says UTF-8 itself
    /// (the decoder follows it), so there is nothing to watch for.
    bom: bool,
    /// Bytes looked at so far (those of `pending` not yet).
    seen: u64,
    /// The first word with a multi-byte character, as bytes.
    example: Option<Vec<u8>>,
    /// The last ASCII bytes before this read, for the start of a word a read cut.
    tail: Vec<u8>,
}

impl<R: Read> Utf8Watch<R> {
    pub fn new(inner: R) -> Self {
        Utf8Watch { inner, pending: Vec::new(), bom: false, seen: 0, example: None, tail: Vec::new() }
    }

    /// The first word with a multi-byte UTF-8 character, if any.
    pub fn utf8_word(&self) -> Option<&[u8]> {
        self.example.as_deref().filter(|_| !self.bom)
    }

    fn watch(&mut self, buf: &[u8]) {
        if self.bom || self.example.is_some() {
            return;
        }
        let mut joined;
        let mut bytes = if self.pending.is_empty() {
            buf
        } else {
            joined = std::mem::take(&mut self.pending);
            joined.extend_from_slice(buf);
            &joined[..]
        };
        if self.seen == 0 && bytes.len() < 3 && [0xEF, 0xBB, 0xBF].starts_with(bytes) {
            // Too short to tell a byte-order mark yet.
            self.pending = bytes.to_vec();
            return;
        }
        if self.seen == 0 && bytes.starts_with(&[0xEF, 0xBB, 0xBF]) {
            self.bom = true;
            return;
        }
        while !bytes.is_empty() && self.example.is_none() {
            let (good, skip) = match std::str::from_utf8(bytes) {
                Ok(_) => (bytes.len(), 0),
                // Cut at the end of this read: the rest comes with the next.
                Err(e) => match e.error_len() {
                    None => {
                        self.pending = bytes[e.valid_up_to()..].to_vec();
                        (e.valid_up_to(), 0)
                    }
                    Some(bad) => (e.valid_up_to(), bad),
                },
            };
            self.look(&bytes[..good]);
            if skip > 0 {
                // Not UTF-8 here: no word runs across it.
                self.tail.clear();
            }
            self.seen += (good + skip) as u64;
            bytes = &bytes[(good + skip).min(bytes.len())..];
            if skip == 0 {
                break;
            }
        }
    }

    /// Looks for a multi-byte character in text that is valid UTF-8.
    fn look(&mut self, text: &[u8]) {
        if let Some(at) = text.iter().position(|b| *b >= 0x80) {
            let context = [&self.tail[..], text].concat();
            self.example = Some(word_around(&context, self.tail.len() + at).to_vec());
        } else {
            // ASCII only so far: keep its end, where a word may start.
            self.tail.extend_from_slice(text);
            let cut = self.tail.len().saturating_sub(WORD / 2);
            self.tail.drain(..cut);
        }
    }
}

impl<R: Read> Read for Utf8Watch<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.watch(&buf[..n]);
        Ok(n)
    }
}

/// The word (between delimiters, spaces and quotes) around byte `at`.
fn word_around(bytes: &[u8], at: usize) -> &[u8] {
    let stop = |b: &u8| b.is_ascii_whitespace() || b",;\t\"|".contains(b);
    let start = bytes[..at].iter().rposition(stop).map_or(0, |i| i + 1).max(at.saturating_sub(WORD / 2));
    let end = bytes[at..].iter().position(stop).map_or(bytes.len(), |i| at + i).min(start + WORD);
    // Never cut a character: back off to a boundary.
    let mut end = end;
    while end > at && std::str::from_utf8(&bytes[start..end]).is_err() {
        end -= 1;
    }
    &bytes[start..end]
}

/// What the declaration would make of `word`, and what it says: (`JosÃ©`, `José`).
pub fn misread(word: &[u8], declared: &'static encoding_rs::Encoding) -> (String, String) {
    let (wrong, _) = declared.decode_without_bom_handling(word);
    (wrong.into_owned(), String::from_utf8_lossy(word).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn watched(bytes: &[u8], chunk: usize) -> Option<String> {
        let mut watch = Utf8Watch::new(bytes);
        let mut buf = vec![0u8; chunk];
        while watch.read(&mut buf).unwrap() > 0 {}
        watch.utf8_word().map(|w| String::from_utf8(w.to_vec()).unwrap())
    }

    #[test]
    fn utf8_bytes_are_seen_whatever_the_reads_cut() {
        let utf8 = "id,notes\n1,\"José called back — said “ok”\"\n2,Renée\n".as_bytes();
        let cp1252 = b"id,notes\n1,Jos\xe9 called back\n";
        let mixed = [&b"id,notes\n1,Ren\xe9e\n"[..], "2,José\n".as_bytes()].concat();
        for chunk in [1, 2, 3, 7, 64, 4096] {
            assert_eq!(watched(utf8, chunk).as_deref(), Some("José"), "chunk {chunk}");
            assert_eq!(watched(&mixed, chunk).as_deref(), Some("José"), "mixed, chunk {chunk}");
            assert_eq!(watched(cp1252, chunk), None, "a real windows-1252 file, chunk {chunk}");
            assert_eq!(watched(b"id,notes\n1,plain ascii\n", chunk), None, "nothing beyond ASCII: nothing to say");
            let bom = [&[0xEF, 0xBB, 0xBF][..], utf8].concat();
            assert_eq!(watched(&bom, chunk), None, "a byte-order mark says UTF-8 itself");
        }
        // A character cut by the end of the file is not a character.
        assert_eq!(watched("José".as_bytes().split_last().unwrap().1, 3), None);
    }

    #[test]
    fn the_example_is_what_the_declaration_would_send() {
        let (wrong, right) = misread("José".as_bytes(), encoding_rs::WINDOWS_1252);
        assert_eq!((wrong.as_str(), right.as_str()), ("JosÃ©", "José"));
        let long = format!("{}é{}", "a".repeat(60), "b".repeat(60));
        let word = word_around(long.as_bytes(), 60);
        assert!(word.len() <= WORD && std::str::from_utf8(word).unwrap().contains('é'), "{word:?}");
    }
}
