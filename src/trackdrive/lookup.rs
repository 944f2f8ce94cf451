//! Reads the company's dispositions, buyers and traffic sources from the
//! API's list endpoints, page by page (whichever way a list pages: see
//! `pages`), for the `names` columns.

use super::api::Api;
use super::pages::{self, Next};
use crate::resolve::names::{Directory, Entry, List, ListKind};

/// The most pages read from one list: a guard against an endless paginator.
const MAX_PAGES: u64 = 1000;

/// Reads one list: `GET {base}/api/v1/{path}?page=N&per_page=100`.
pub async fn fetch_list(api: &Api, path: &str, kind: ListKind) -> Result<List, String> {
    let mut entries: Vec<Entry> = Vec::new();
    let (mut page, mut largest) = (1u64, 0usize);
    while page <= MAX_PAGES {
        let url = format!("{}/api/v1/{path}?page={page}&per_page=100", api.endpoint.base);
        let parsed = reqwest::Url::parse(&url).map_err(|e| format!("{url}: {e}"))?;
        let doc = api.get_json(&parsed).await.map_err(|e| e.to_string())?;
        let items = pages::items(&doc, path).ok_or_else(|| format!("{url}: no {path} list in the response"))?;
        let before = entries.len();
        for entry in items.iter().filter_map(|item| Entry::from_json(item, kind)) {
            if !entries.iter().any(|e| e.id == entry.id) {
                entries.push(entry);
            }
        }
        largest = largest.max(items.len());
        // A page that adds nothing new ends the list (a server that ignores
        // `page` sends the first again).
        if entries.len() == before || pages::next(&doc, page, items.len(), largest) == Next::Done {
            return Ok(List::new(entries));
        }
        page += 1;
    }
    Err(format!("{path}: more than {MAX_PAGES} pages"))
}

/// Reads the lists a file's name columns need (all three: they are small).
pub async fn fetch_directory(api: &Api) -> Result<Directory, String> {
    Ok(Directory {
        dispositions: fetch_list(api, "call_dispositions", ListKind::Dispositions).await?,
        buyers: fetch_list(api, "buyers", ListKind::Buyers).await?,
        traffic_sources: fetch_list(api, "traffic_sources", ListKind::TrafficSources).await?,
    })
}
