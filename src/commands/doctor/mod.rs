//! `tdrecon doctor`: the first thing to run against a new account. It reads
//! (never writes: it sends no update, ever) a few pages of calls, one call's
//! events and the three name lists, and checks each assumption of
//! ../shared/TRACKDRIVE-API.md against what the account answers: the keys,
//! the list's envelope and the names its calls carry each field by, cursor
//! and page paging, whether `columns=` is honoured, the largest page served,
//! the events' AuditLog shape, the name lists, any rate-limit headers. It
//! prints each as OK or WARN with what it saw (`--json` too); exit 0 when
//! every assumption holds, 1 when one does not.

mod checks;

use std::time::Duration;

use anyhow::Context;
use reqwest::Url;
use serde_json::{Value, json};

use crate::exit::{Exit, Fatal};
use crate::input::values::CallRef;
use crate::resolve::names::ListKind;
use crate::trackdrive::client::{ApiClient, Endpoint, Method, Probe};
use crate::trackdrive::credentials::Credentials;
use checks::{Check, Verdict};

#[derive(Debug, Clone)]
pub struct DoctorOptions {
    /// The checked base URL.
    pub base_url: String,
    pub credentials: Credentials,
    pub json: bool,
    pub timeout: Duration,
}

/// A pause between reads: doctor is a guest on the account.
const BETWEEN_READS: Duration = Duration::from_millis(100);
/// The page asked for to find the largest served.
const LARGEST_ASKED: usize = 1000;

pub fn run(opts: DoctorOptions) -> Result<Exit, Fatal> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
        .map_err(Fatal::usage)?;
    let checks = runtime.block_on(examine(&opts))?;
    let all_ok = checks.iter().all(|c| c.verdict == Verdict::Ok);
    if opts.json {
        let list: Vec<Value> =
            checks.iter().map(|c| json!({"check": c.name, "ok": c.verdict == Verdict::Ok, "saw": c.saw})).collect();
        let doc = json!({"version": env!("CARGO_PKG_VERSION"), "target": opts.base_url, "ok": all_ok, "checks": list});
        let mut bytes = serde_json::to_vec_pretty(&doc).expect("plain JSON");
        bytes.push(b'\n');
        crate::console::out_bytes(&bytes).context("cannot write the report").map_err(Fatal::aborted)?;
    } else {
        crate::console::out(&render(&opts.base_url, &checks));
    }
    Ok(if all_ok { Exit::Ok } else { Exit::SomeRowsFailed })
}

fn render(target: &str, checks: &[Check]) -> String {
    let mut out = format!("tdrecon doctor: {target} (read-only: nothing was written)\n");
    for c in checks {
        let verdict = match c.verdict {
            Verdict::Ok => "OK  ",
            Verdict::Warn => "WARN",
        };
        out.push_str(&format!("{verdict}  {:<34} {}\n", c.name, c.saw));
    }
    let warned = checks.iter().filter(|c| c.verdict == Verdict::Warn).count();
    out.push_str(&match warned {
        0 => "every assumption holds\n".to_string(),
        n => format!("{n} of {} assumptions do not hold: read each WARN before a night's run\n", checks.len()),
    });
    out
}

/// The reads, one at a time, and what each says.
async fn examine(opts: &DoctorOptions) -> Result<Vec<Check>, Fatal> {
    let endpoint = Endpoint::new(opts.base_url.clone(), Method::Put, None, opts.timeout)
        .map_err(|e| Fatal::usage(anyhow::anyhow!(e)))?;
    let client = ApiClient::new(&endpoint, &opts.credentials, 1)
        .map_err(|e| Fatal::usage(anyhow::anyhow!("cannot build the HTTP client: {e}")))?;
    let mut reader = Reader { client, endpoint, headers: Vec::new() };
    let mut checks = Vec::new();
    let first = reader.get(&[("per_page", "1")], None).await;
    let keys = match &first {
        Ok(p) => checks::keys(p.status, &p.body),
        Err(e) => Check { name: "keys".into(), verdict: Verdict::Warn, saw: e.clone() },
    };
    let refused = keys.verdict == Verdict::Warn;
    checks.push(keys);
    if refused {
        return Ok(checks);
    }
    let page = reader.json(&[("per_page", "25")], None).await;
    checks.push(checks::envelope(&page));
    let calls = crate::trackdrive::pages::items(&page, "calls").unwrap_or_default().to_vec();
    checks.extend(checks::fields(&calls));
    // Paging, two calls a page.
    let small = reader.json(&[("per_page", "2")], None).await;
    let next = small.pointer("/metadata/next_cursor").map(|c| c.to_string().trim_matches('"').to_string());
    let (by_cursor, by_page) = match next.filter(|c| c != "0") {
        Some(cursor) => (
            Some(reader.json(&[("per_page", "2"), ("cursor", &cursor)], None).await),
            Some(reader.json(&[("per_page", "2"), ("page", "2")], None).await),
        ),
        None => (None, None),
    };
    checks.push(checks::paging(&small, by_cursor.as_ref(), by_page.as_ref()));
    let asked = ["id", "revenue"];
    match reader.get(&[("per_page", "5"), ("columns", &asked.join(","))], None).await {
        Ok(p) => checks.push(checks::columns(p.status, serde_json::from_str(&p.body).ok().as_ref(), &asked)),
        Err(e) => checks.push(Check { name: "columns=".into(), verdict: Verdict::Warn, saw: e }),
    }
    let largest = reader.json(&[("per_page", &LARGEST_ASKED.to_string())], None).await;
    checks.push(checks::largest_page(&largest, LARGEST_ASKED));
    let call = calls.first().and_then(|c| c.get("id")).and_then(|id| match id {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    });
    match call {
        Some(id) => {
            let events = reader.json(&[], Some(&reader.endpoint.events_url(&CallRef::Id(id)))).await;
            checks.push(checks::events(&events));
        }
        None => checks.push(Check {
            name: "events and audit log".into(),
            verdict: Verdict::Warn,
            saw: "no call to read the events of".into(),
        }),
    }
    for (path, kind) in [
        ("buyers", ListKind::Buyers),
        ("traffic_sources", ListKind::TrafficSources),
        ("call_dispositions", ListKind::Dispositions),
    ] {
        let url = Url::parse(&format!("{}/api/v1/{path}?page=1&per_page=100", reader.endpoint.base))
            .map_err(|e| Fatal::usage(anyhow::anyhow!("{e}")))?;
        let doc = reader.json(&[], Some(&url)).await;
        checks.push(checks::name_list(path, &doc, kind));
    }
    checks.push(checks::rate_headers(&reader.headers));
    Ok(checks)
}

/// Reads for the doctor, with the headers every answer carried.
struct Reader {
    client: ApiClient,
    endpoint: Endpoint,
    headers: Vec<(String, String)>,
}

impl Reader {
    /// GETs `url` (default: the calls list) with `query`.
    async fn get(&mut self, query: &[(&str, &str)], url: Option<&Url>) -> Result<Probe, String> {
        let mut url = url.cloned().unwrap_or_else(|| self.endpoint.calls_list_url());
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        tokio::time::sleep(BETWEEN_READS).await;
        let probe = self.client.probe(&url).await?;
        self.headers.extend(probe.headers.iter().cloned());
        Ok(probe)
    }

    /// `get`, as JSON; what went wrong as a JSON string, for the checks to show.
    async fn json(&mut self, query: &[(&str, &str)], url: Option<&Url>) -> Value {
        match self.get(query, url).await {
            Ok(p) if (200..300).contains(&p.status) => {
                serde_json::from_str(&p.body).unwrap_or_else(|e| Value::String(format!("not JSON ({e})")))
            }
            Ok(p) => Value::String(format!("HTTP {}: {}", p.status, p.body.chars().take(120).collect::<String>())),
            Err(e) => Value::String(e),
        }
    }
}
