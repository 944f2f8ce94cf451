//! Following one of TrackDrive's lists through its pages, whichever way a
//! response carries them: a `metadata.next_cursor` (`0` on the last page),
//! a `metadata.total_pages`, or neither (then a page shorter than the
//! largest one, or an empty one, is the last). Items come under the list's
//! key (`{"calls": […], "metadata": …}`) or as a bare array. Pure: the reads
//! are the callers'.

use serde_json::Value;

/// Where the next page is, if there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Ask with `cursor` this value.
    Cursor(String),
    /// Ask with `page` this number (1 is the first).
    Page(u64),
    /// That was the last page.
    Done,
}

/// A list document's items: under `key`, or the document itself when it is
/// an array; `None` when it holds neither.
pub fn items<'a>(doc: &'a Value, key: &str) -> Option<&'a [Value]> {
    match doc {
        Value::Array(items) => Some(items),
        other => other.get(key).and_then(Value::as_array).map(Vec::as_slice),
    }
}

/// What `doc`, page number `page` (from 1), holding `count` items, says of
/// the next page; `largest` is the most items a page of this list has held.
pub fn next(doc: &Value, page: u64, count: usize, largest: usize) -> Next {
    if count == 0 {
        return Next::Done;
    }
    match doc.pointer("/metadata/next_cursor") {
        Some(Value::Number(n)) if n.as_i64() == Some(0) => return Next::Done,
        Some(Value::Number(n)) => return Next::Cursor(n.to_string()),
        Some(Value::String(s)) if s.trim() == "0" || s.trim().is_empty() => return Next::Done,
        Some(Value::String(s)) => return Next::Cursor(s.trim().to_string()),
        Some(Value::Null) => return Next::Done,
        _ => {}
    }
    let total = doc.pointer("/metadata/total_pages").and_then(|t| match t {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    });
    match total {
        Some(total) if page >= total => Next::Done,
        Some(_) => Next::Page(page + 1),
        // Neither: a page as full as the fullest may have more after it.
        None if count < largest => Next::Done,
        None => Next::Page(page + 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_next_page_whichever_way_a_list_says_it() {
        let cases = [
            (json!({"calls": [1], "metadata": {"next_cursor": 26}}), 1, 1, 1, Next::Cursor("26".into())),
            (json!({"calls": [1], "metadata": {"next_cursor": "abc"}}), 1, 1, 1, Next::Cursor("abc".into())),
            (json!({"calls": [1], "metadata": {"next_cursor": 0}}), 1, 1, 1, Next::Done),
            (json!({"calls": [1], "metadata": {"next_cursor": "0"}}), 1, 1, 1, Next::Done),
            (json!({"calls": [1], "metadata": {"total_pages": 3}}), 2, 1, 1, Next::Page(3)),
            (json!({"calls": [1], "metadata": {"total_pages": "3"}}), 3, 1, 1, Next::Done),
            (json!({"calls": [1, 2]}), 1, 2, 2, Next::Page(2)),
            (json!({"calls": [1]}), 2, 1, 2, Next::Done),
            (json!([1, 2]), 4, 2, 2, Next::Page(5)),
            (json!({"calls": []}), 1, 0, 0, Next::Done),
        ];
        for (doc, page, count, largest, want) in cases {
            assert_eq!(next(&doc, page, count, largest), want, "{doc}");
        }
        assert_eq!(items(&json!([1]), "calls").map(<[Value]>::len), Some(1));
        assert_eq!(items(&json!({"calls": [1, 2]}), "calls").map(<[Value]>::len), Some(2));
        assert_eq!(items(&json!({"other": []}), "calls"), None);
    }
}
