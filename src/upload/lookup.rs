//! Reads the company's dispositions, buyers and traffic sources from the
//! API's list endpoints, page by page, for the `names` columns.

use super::row::Sender;
use crate::input::names::{Directory, Entry, List};

/// The most pages read from one list: a guard against an endless paginator.
const MAX_PAGES: usize = 1000;

/// Reads one list: `GET {base}/api/v1/{path}?page=N&per_page=100`.
pub async fn fetch_list(sender: &Sender, path: &str, alias_key: Option<&str>) -> Result<List, String> {
    let mut entries = Vec::new();
    for page in 1..=MAX_PAGES {
        let url = format!("{}/api/v1/{path}?page={page}&per_page=100", sender.endpoint.base);
        let doc = sender.get_json(&url).await?;
        let items =
            doc.get(path).and_then(|v| v.as_array()).ok_or_else(|| format!("{url}: no {path} list in the response"))?;
        entries.extend(items.iter().filter_map(|item| Entry::from_json(item, alias_key)));
        let total_pages = doc.pointer("/metadata/total_pages").and_then(|v| v.as_u64()).unwrap_or(1) as usize;
        if items.is_empty() || page >= total_pages {
            return Ok(List::new(entries));
        }
    }
    Err(format!("{path}: more than {MAX_PAGES} pages"))
}

/// Reads the lists a file's name columns need (all three: they are small).
pub async fn fetch_directory(sender: &Sender) -> Result<Directory, String> {
    Ok(Directory {
        dispositions: fetch_list(sender, "call_dispositions", None).await?,
        buyers: fetch_list(sender, "buyers", Some("user_buyer_id")).await?,
        traffic_sources: fetch_list(sender, "traffic_sources", Some("user_traffic_source_id")).await?,
    })
}
