//! Reads the company's dispositions, buyers and traffic sources from the
//! API's list endpoints, page by page, for the `names` columns.

use super::api::Api;
use crate::input::names::{Directory, Entry, List};

/// The most pages read from one list: a guard against an endless paginator.
const MAX_PAGES: usize = 1000;

/// Reads one list: `GET {base}/api/v1/{path}?page=N&per_page=100`.
pub async fn fetch_list(api: &Api, path: &str, alias_key: Option<&str>) -> Result<List, String> {
    let mut entries = Vec::new();
    for page in 1..=MAX_PAGES {
        let url = format!("{}/api/v1/{path}?page={page}&per_page=100", api.endpoint.base);
        let parsed = reqwest::Url::parse(&url).map_err(|e| format!("{url}: {e}"))?;
        let doc = api.get_json(&parsed).await?;
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
pub async fn fetch_directory(api: &Api) -> Result<Directory, String> {
    Ok(Directory {
        dispositions: fetch_list(api, "call_dispositions", None).await?,
        buyers: fetch_list(api, "buyers", Some("user_buyer_id")).await?,
        traffic_sources: fetch_list(api, "traffic_sources", Some("user_traffic_source_id")).await?,
    })
}
