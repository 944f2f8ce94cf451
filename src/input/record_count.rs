//! Counts a CSV's records as its bytes pass, in pieces, without parsing
//! them: a line ending inside a quoted field (a CRM's multi-line notes)
//! does not end a record. What the progress bar counts to.
//!
//! The delimiter is not known yet when a spool is surveyed, so a quote
//! opens a field when it follows the start, a line ending or any usual
//! delimiter (`,` tab `;` `|`), as csv readers open one only at a field's
//! start: `5" screen` stays unquoted. It is an estimate for a bar, never a
//! row's identity: the reader's count is the one that matters.

/// Where the count is in the bytes seen so far.
#[derive(Debug, Clone, Default)]
pub struct RecordCount {
    records: u64,
    quoted: bool,
    /// A quote inside a quoted field ended the last piece: the next byte
    /// says whether it closed the field or was doubled.
    quote_pending: bool,
    /// The last byte seen (`None`: nothing yet).
    last: Option<u8>,
}

/// Bytes after which a quote opens a quoted field.
fn opens_field(before: Option<u8>) -> bool {
    matches!(before, None | Some(b'\n' | b'\r' | b',' | b'\t' | b';' | b'|'))
}

impl RecordCount {
    /// Takes the next piece of the bytes.
    pub fn feed(&mut self, piece: &[u8]) {
        let mut at = 0;
        if self.quote_pending
            && let Some(&next) = piece.first()
        {
            self.quote_pending = false;
            if next == b'"' {
                at = 1; // doubled: still inside
            } else {
                self.quoted = false;
            }
        }
        while at < piece.len() {
            if self.quoted {
                let Some(q) = memchr::memchr(b'"', &piece[at..]) else { break };
                let q = at + q;
                match piece.get(q + 1) {
                    Some(b'"') => at = q + 2,
                    Some(_) => {
                        self.quoted = false;
                        at = q + 1;
                    }
                    None => {
                        self.quote_pending = true;
                        at = q + 1;
                    }
                }
                continue;
            }
            let Some(i) = memchr::memchr2(b'\n', b'"', &piece[at..]) else { break };
            let i = at + i;
            if piece[i] == b'\n' {
                self.records += 1;
            } else {
                let before = if i == 0 { self.last } else { Some(piece[i - 1]) };
                self.quoted = opens_field(before);
            }
            at = i + 1;
        }
        if let Some(&b) = piece.last() {
            self.last = Some(b);
        }
    }

    /// The records in everything fed: a last record without a line ending
    /// counts.
    pub fn records(&self) -> u64 {
        self.records + u64::from(self.last.is_some_and(|b| b != b'\n'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(text: &str) -> u64 {
        let mut c = RecordCount::default();
        c.feed(text.as_bytes());
        c.records()
    }

    #[test]
    fn records_are_counted_not_lines() {
        let table = [
            ("", 0),
            ("id,notes\n", 1),
            ("id,notes\n1,a\n2,b", 3),
            ("id,notes\n1,\"line one\nline two\"\n2,b\n", 3),
            ("id,notes\n1,\"he said \"\"hi\"\"\nthen left\"\n", 2),
            ("id\tnotes\n1\t\"two\nlines\"\n", 2),
            ("id;notes\r\n1;\"x\r\ny\"\r\n", 2),
            ("id,size\n1,5\" screen\n2,7\" screen\n", 3),
            ("\"quoted,header\",x\n1,2\n", 2),
            ("id,notes\n1,\"ends quoted\"\n2,x\n", 3),
        ];
        for (text, want) in table {
            assert_eq!(count(text), want, "{text:?}");
        }
    }

    #[test]
    fn any_split_into_pieces_counts_the_same() {
        let text = "id,notes\n1,\"a \"\"b\"\"\nc\"\n2,5\" d\n3,\"\"\n4,\"x\ny\nz\"";
        let whole = count(text);
        assert_eq!(whole, 5);
        for cut in 0..=text.len() {
            for cut2 in cut..=text.len() {
                let mut c = RecordCount::default();
                for piece in [&text[..cut], &text[cut..cut2], &text[cut2..]] {
                    c.feed(piece.as_bytes());
                }
                assert_eq!(c.records(), whole, "cut at {cut} and {cut2}");
            }
        }
    }
}
