//! The sign-off page (`--report FILE.html`) in a real browser: the sample
//! night's page is rendered by headless Chromium (Debian's `chromium`,
//! installed by `.ci/browser`), screenshotted, printed to PDF, and read back
//! as the browser built it. Every request the browser makes goes to a proxy
//! on loopback that records it and answers nothing (so nothing leaves the
//! machine).
//!
//! Requests are told apart by what they are, not by their text: Chromium
//! asks its own services for updates and sign-in whatever it shows, with a
//! fresh random key each time, so no list of exact request lines can hold
//! them. A request is the page's when the page could have caused it: it goes
//! to a loopback address or a `file:` URL, to a host the page names, or it
//! carries a `Referer` or `Origin` that ties it to a page; and any request to
//! a host outside the browser's own services (`BROWSER_SERVICES`) counts as
//! the page's too. The test fails on any of them, and a mutated copy of the
//! page (its policy taken out, one `<img>` from loopback put in) proves the
//! check catches a page that loads something.
//!
//! Without a Chromium on the machine the test says so and passes, unless
//! `TDRECON_REQUIRE_BROWSER` is set (as `.ci/run` sets it): then it fails.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};

use tdrecon::sim::SimConfig;

use crate::harness::{SimHarness, plan_job};
use crate::util::Workdir;

const CALLS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/samples/night/calls.csv");
const REPORT: &str = include_str!("../../samples/night/acme-report.csv");

/// The browser: `TDRECON_CHROMIUM`, else the first of the usual names on PATH.
fn chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("TDRECON_CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|p| p.is_file())
}

/// Chromium's own services, by the host suffixes it asks of whatever page it
/// shows, each request with a fresh random key (so never twice the same text):
const BROWSER_SERVICES: &[&str] = &[
    "google.com",     // accounts (sign-in), clients2 (extension updates)
    "googleapis.com", // update (component updates), safebrowsing, optimizationguide
    "gstatic.com",    // network time, connectivity checks
    "gvt1.com",       // component downloads
];

/// One request the browser sent to the proxy: its first line and the headers
/// that could tie it to a page.
#[derive(Debug, Clone)]
struct Request {
    line: String,
    host: Option<String>,
    referer: Option<String>,
    origin: Option<String>,
}

impl Request {
    /// Reads the request line and headers of one proxied request.
    fn read(stream: &std::net::TcpStream) -> Request {
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        let _ = reader.read_line(&mut line);
        let line = line.trim().to_string();
        let (mut referer, mut origin, mut host_header) = (None, None, None);
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 || header.trim().is_empty() {
                break;
            }
            let Some((name, value)) = header.split_once(':') else { continue };
            let value = Some(value.trim().to_string());
            match name.trim().to_ascii_lowercase().as_str() {
                "referer" => referer = value,
                "origin" => origin = value,
                "host" => host_header = value,
                _ => {}
            }
        }
        let target = line.split_whitespace().nth(1).unwrap_or("");
        let host = target_host(target).or_else(|| host_header.as_deref().map(strip_port));
        Request { line, host, referer, origin }
    }

    /// Whether the page could have caused this request, or it goes somewhere
    /// that is not one of the browser's own services.
    fn is_the_pages(&self, named_hosts: &[String]) -> bool {
        let tied = |h: &Option<String>| h.as_deref().is_some_and(|v| !v.is_empty());
        if tied(&self.referer) || tied(&self.origin) {
            return true;
        }
        let Some(host) = self.host.as_deref() else { return true };
        let host = host.to_ascii_lowercase();
        let loopback = host == "localhost"
            || host.ends_with(".localhost")
            || host.starts_with("127.")
            || host == "[::1]"
            || host == "::1";
        let named = named_hosts.iter().any(|n| n.eq_ignore_ascii_case(&host));
        let browsers = BROWSER_SERVICES.iter().any(|s| host == *s || host.ends_with(&format!(".{s}")));
        loopback || named || !browsers
    }
}

/// The host a request line's target names: `host:port` (CONNECT) or
/// `scheme://host[:port]/…` (a proxied request); `None` for a bare path.
fn target_host(target: &str) -> Option<String> {
    if target.starts_with('/') || target.is_empty() {
        return None;
    }
    if target.starts_with("file:") {
        return Some("localhost".into());
    }
    let rest = target.split_once("://").map_or(target, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    Some(strip_port(authority))
}

fn strip_port(authority: &str) -> String {
    if authority.starts_with('[') {
        return authority.split_inclusive(']').next().unwrap_or(authority).to_string();
    }
    authority.rsplit_once(':').map_or(authority, |(host, _)| host).to_string()
}

/// Every host the page's text names after a `://`.
fn hosts_named_in(source: &str) -> Vec<String> {
    source
        .match_indices("://")
        .filter_map(|(at, _)| target_host(&format!("x{}", &source[at..])))
        .map(|h| h.trim_end_matches(['"', '\'', '>', ')', ' ']).to_string())
        .collect()
}

/// A proxy on loopback that records each request and refuses it.
fn recording_proxy() -> (String, Arc<Mutex<Vec<Request>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let request = Request::read(&stream);
            // A connection opened and closed without a request line (Chromium
            // opens spare sockets to its proxy, and drops them as it exits)
            // asked for nothing.
            if !request.line.is_empty() {
                log.lock().unwrap().push(request);
            }
            let _ = (&stream).write_all(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    (addr, seen)
}

/// The requests in `seen` that the page caused (see `Request::is_the_pages`),
/// taken out of `seen`, with the browser's own ones for a failure message.
fn page_requests(seen: &Mutex<Vec<Request>>, named: &[String]) -> (Vec<String>, Vec<String>) {
    let all: Vec<Request> = seen.lock().unwrap().drain(..).collect();
    let (pages, own): (Vec<Request>, Vec<Request>) = all.into_iter().partition(|r| r.is_the_pages(named));
    (pages.into_iter().map(|r| r.line).collect(), own.into_iter().map(|r| r.line).collect())
}

/// Chromium, headless, with nothing of its own to fetch, every request sent
/// to `proxy` (loopback included), plus `args`.
fn browser(chromium: &PathBuf, wd: &Workdir, proxy: &str, args: &[String]) -> std::process::Output {
    Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-default-apps",
            "--disable-sync",
            "--disable-extensions",
            "--disable-domain-reliability",
            "--no-pings",
            "--bwsi",
            "--disable-client-side-phishing-detection",
            "--dns-over-https-mode=off",
            "--disable-features=NetworkTimeServiceQuerying,OptimizationHints,Translate,MediaRouter,PreconnectToSearch",
            "--window-size=1280,1800",
        ])
        .arg(format!("--user-data-dir={}", wd.path("profile").display()))
        .arg(format!("--proxy-server=http://{proxy}"))
        .arg("--proxy-bypass-list=<-loopback>")
        .args(args)
        .output()
        .expect("start chromium")
}

#[test]
fn the_sign_off_page_renders_in_a_real_browser_and_loads_nothing() {
    let Some(chromium) = chromium() else {
        assert!(
            std::env::var_os("TDRECON_REQUIRE_BROWSER").is_none(),
            "TDRECON_REQUIRE_BROWSER is set but no Chromium was found (apt-get install chromium)"
        );
        eprintln!("SKIPPED: no Chromium on this machine (apt-get install chromium, or set TDRECON_CHROMIUM)");
        return;
    };
    let store = tdrecon::sim::calls_file::load_calls(std::path::Path::new(CALLS)).unwrap();
    let sim = SimHarness::start(0, |c: &mut SimConfig| c.store = store);
    let wd = Workdir::new();
    wd.write("acme.csv", REPORT);
    wd.run(&mut plan_job(&wd, &sim, "acme.csv", &["--report", "night.html"]), 0);
    let page = format!("file://{}", wd.path("night.html").display());
    let source = wd.read("night.html");
    // Nothing in it names a place to load from (a protocol-relative `"//`, too).
    for outside in ["http:", "https:", "\"//", "'//", "src=", "href=", "url(", "@import", "<link", "<iframe"] {
        assert!(!source.contains(outside), "the page names {outside:?}");
    }
    assert!(source.contains("Content-Security-Policy\" content=\"default-src 'none'"));
    let named = hosts_named_in(&source);
    let (proxy, seen) = recording_proxy();

    // What the browser built, after the page's script ran.
    let dom = browser(&chromium, &wd, &proxy, &["--dump-dom".into(), page.clone()]);
    let dom = String::from_utf8_lossy(&dom.stdout).into_owned();
    for text in [
        "The night at a glance",
        "Totals per buyer, before and after",
        "What TrackDrive and the report disagree on",
        "Converted in TrackDrive, not on the report (the buyer may owe for these) (3)",
        "Paid on the report, another buyer's call in TrackDrive (1)",
        "Paid on the report, not converted in TrackDrive (0)",
        "Amounts that differ (2)",
        "300000103",
        "300000109",
        "300000114",
        "Bolt Auto Warranty (8)",
        "the report says 30.00, TrackDrive held 45.00",
        "3 · 115.00",
        "Rows that need a look",
    ] {
        assert!(dom.contains(text), "the page as the browser built it lacks {text:?}:\n{dom}");
    }
    assert!(dom.contains("aria-label=\"revenue per buyer, before and after\""), "the chart is drawn");
    assert!(dom.contains("class=\"sortable\""), "the script marked the sortable headers");

    // On screen, and on paper.
    let shot = wd.path("night.png");
    let out = browser(&chromium, &wd, &proxy, &[format!("--screenshot={}", shot.display()), page.clone()]);
    let png =
        std::fs::read(&shot).unwrap_or_else(|_| panic!("no screenshot: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    assert_eq!(width, 1280);
    assert!(png.len() > 30_000, "a screenshot of a page with tables, not a blank one ({} bytes)", png.len());
    let pdf = wd.path("night.pdf");
    browser(
        &chromium,
        &wd,
        &proxy,
        &[format!("--print-to-pdf={}", pdf.display()), "--no-pdf-header-footer".into(), page.clone()],
    );
    let pdf = std::fs::read(&pdf).expect("printed to PDF");
    assert!(pdf.starts_with(b"%PDF") && pdf.len() > 10_000, "{} bytes", pdf.len());

    // Nothing was asked of the network for the page.
    let (for_the_page, own) = page_requests(&seen, &named);
    assert!(for_the_page.is_empty(), "the page made requests: {for_the_page:?} (the browser's own: {own:?})");

    // The check bites: the same page with one image from loopback is caught
    // once its policy is taken out, and loads nothing while the policy stands.
    let img = format!("<img src=\"http://127.0.0.1:{}/x.png\">", proxy.rsplit(':').next().unwrap_or("9"));
    let with_img = source.replacen("<body>", &format!("<body>{img}"), 1);
    assert_ne!(with_img, source, "the page has a <body> to put the image in");
    let start = with_img.find("<meta http-equiv=\"Content-Security-Policy\"").expect("the page states its policy");
    let end = start + with_img[start..].find('>').expect("the meta tag ends") + 1;
    let without_policy = format!("{}{}", &with_img[..start], &with_img[end..]);
    for (name, html, caught) in [("img-with-policy.html", &with_img, false), ("img.html", &without_policy, true)] {
        wd.write(name, html);
        let url = format!("file://{}", wd.path(name).display());
        browser(&chromium, &wd, &proxy, &["--dump-dom".into(), url]);
        let (for_the_page, own) = page_requests(&seen, &named);
        let x_png = for_the_page.iter().any(|line| line.contains("/x.png"));
        assert_eq!(x_png, caught, "{name}: the page's requests {for_the_page:?} (the browser's own: {own:?})");
        if caught {
            assert_eq!(for_the_page.len(), 1, "{name}: only the image: {for_the_page:?}");
        } else {
            assert!(for_the_page.is_empty(), "{name}: {for_the_page:?}");
        }
    }
}

/// A page whose buyer names are hostile: one of 5,000 letters without a
/// space, one carrying a right-to-left override. At 1280 px the page
/// scrolls not at all sideways, and the override turns its own name only,
/// not the buyer's id after it. Measured by a script put into a copy of the
/// page (its policy taken out), read back from the DOM Chromium built; the
/// same copy without the page's wrapping rules and with `<span>` for
/// `<bdi>` fails both ways, so the measure bites.
#[test]
fn hostile_names_wrap_and_keep_their_direction_to_themselves() {
    use rust_decimal::Decimal;
    use tdrecon::compare::discrepancy::{CallFacts, Discrepancy, Finding};
    use tdrecon::input::values::CallRef;
    let Some(chromium) = chromium() else {
        assert!(std::env::var_os("TDRECON_REQUIRE_BROWSER").is_none(), "TDRECON_REQUIRE_BROWSER is set");
        eprintln!("SKIPPED: no Chromium on this machine");
        return;
    };
    let long = "W".repeat(5_000);
    let turned = "Acme \u{202E}Insurance";
    let mut s = tdrecon::reports::summary::RunSummary { input: format!("{long}.csv").into(), ..Default::default() };
    for name in [long.as_str(), turned] {
        let t = tdrecon::reports::summary::Totals { rows: 1, ..Default::default() };
        s.by_buyer.insert(name.to_string(), t);
    }
    let mut said = tdrecon::compare::discrepancies::Said { judged: true, ..Default::default() };
    for (line, side) in [(2, long.as_str()), (3, turned)] {
        let facts = CallFacts {
            id: 300_000_100 + line,
            buyer: Some(turned.into()),
            buyer_id: Some("7".into()),
            caller: Some("+13035550114".into()),
            at_ms: Some(1_795_802_100_000),
            revenue: Some(Decimal::new(4500, 2)),
            ..CallFacts::default()
        };
        said.found.items.push(Discrepancy {
            kind: Finding::NotTheirs,
            side: side.into(),
            line: Some(line),
            call: CallRef::Id(300_000_100 + line),
            facts: Some(facts),
            report_amount: Some(Decimal::new(2500, 2)),
            dollars: Decimal::new(2500, 2),
            why: format!("the report pays {long}"),
        });
    }
    s.discrepancies = Some(said);
    let page = tdrecon::reports::page::render(&s, "plan");
    assert!(page.contains("(holds U+202E)"), "a name that may read as another's is marked");
    let measure = r#"<script>
      const de = document.documentElement, out = {scroll: de.scrollWidth, client: de.clientWidth, checked: 0, confined: 0};
      for (const b of document.querySelectorAll('bdi, span.name')) {
        const next = b.nextSibling;
        if (!b.textContent.includes('\u202E') || !next || next.nodeType !== 3 || !next.textContent.trim()) continue;
        const r = document.createRange(); r.selectNodeContents(next);
        out.checked++;
        // After its name: to its right, or on a line below (a narrow cell wraps).
        const t = r.getBoundingClientRect(), n = b.getBoundingClientRect();
        if (t.left >= n.right - 1 || t.top >= n.bottom - 1) out.confined++;
      }
      const boxes = [...document.querySelectorAll('.fit')];
      out.boxes = boxes.length;
      out.scrolling = boxes.filter(b => b.scrollWidth > b.clientWidth + 1).map(b => b.scrollWidth);
      const pre = document.createElement('pre'); pre.id = 'measured'; pre.textContent = JSON.stringify(out);
      document.body.appendChild(pre);
    </script></body>"#;
    let start = page.find("<meta http-equiv=\"Content-Security-Policy\"").expect("the page states its policy");
    let end = start + page[start..].find('>').unwrap() + 1;
    let measured = format!("{}{}", &page[..start], &page[end..]).replacen("</body>", measure, 1);
    let unguarded = measured
        .replace("main { overflow-wrap: break-word; }", "")
        .replace("<wbr>", "")
        .replace("<bdi>", "<span class=\"name\">")
        .replace("</bdi>", "</span>");
    assert_ne!(unguarded.len(), measured.len(), "the copy without the guards differs");
    let wd = Workdir::new();
    let (proxy, _seen) = recording_proxy();
    let read = |name: &str, html: &str| -> serde_json::Value {
        wd.write(name, html);
        let url = format!("file://{}", wd.path(name).display());
        let out = browser(&chromium, &wd, &proxy, &["--dump-dom".into(), url]);
        let dom = String::from_utf8_lossy(&out.stdout).into_owned();
        let at = dom.find("<pre id=\"measured\">").unwrap_or_else(|| panic!("no measure in {name}: {dom:.2000}"));
        let json = &dom[at + 19..];
        serde_json::from_str(&json[..json.find("</pre>").unwrap()]).unwrap()
    };
    let guarded = read("guarded.html", &measured);
    assert_eq!(guarded["scroll"], guarded["client"], "no horizontal scroll at 1280 px: {guarded}");
    assert!(guarded["client"].as_u64().unwrap() > 1200, "{guarded}");
    assert!(guarded["checked"].as_u64().unwrap() >= 2, "the TrackDrive buyer cells were measured: {guarded}");
    assert_eq!(guarded["confined"], guarded["checked"], "the id follows its turned name: {guarded}");
    assert!(guarded["boxes"].as_u64().unwrap() >= 3, "{guarded}");
    assert_eq!(guarded["scrolling"], serde_json::json!([]), "every table fits its box: {guarded}");
    let bare = read("unguarded.html", &unguarded);
    assert!(bare["scroll"].as_u64().unwrap() > 10_000, "without the rules the page is wide: {bare}");
    assert_eq!(bare["confined"], 0, "without isolation the override takes the id: {bare}");
}

/// The classifier on the requests Chromium makes by itself (seen with
/// Chromium 156) and on those a page could make: pure, so it runs whether
/// or not a browser is installed.
#[test]
fn a_request_is_the_pages_by_what_it_is_not_by_its_text() {
    let request = |line: &str, referer: Option<&str>| {
        let target = line.split_whitespace().nth(1).unwrap_or("");
        Request { line: line.into(), host: target_host(target), referer: referer.map(Into::into), origin: None }
    };
    let named = hosts_named_in("<p>see https://reports.example.net/x and http://[::1]:8080/</p>");
    assert_eq!(named, ["reports.example.net", "[::1]"]);
    for (line, referer, the_pages) in [
        ("CONNECT accounts.google.com:443 HTTP/1.1", None, false),
        ("CONNECT update.googleapis.com:443 HTTP/1.1", None, false),
        ("POST http://update.googleapis.com/service/update2/json?cup2key=ML-DSA-44-16:E_sY HTTP/1.1", None, false),
        ("GET http://www.gstatic.com/generate_204 HTTP/1.1", None, false),
        ("GET http://redirector.gvt1.com/edgedl/x.crx HTTP/1.1", None, false),
        // Loopback, whatever the spelling, is always the page's.
        ("GET http://127.0.0.1:4000/x.png HTTP/1.1", None, true),
        ("GET http://localhost/x.png HTTP/1.1", None, true),
        ("GET http://[::1]:9/x HTTP/1.1", None, true),
        ("GET file:///etc/passwd HTTP/1.1", None, true),
        // A host the page names, or one that is no browser service.
        ("CONNECT reports.example.net:443 HTTP/1.1", None, true),
        ("CONNECT fonts.example.com:443 HTTP/1.1", None, true),
        ("CONNECT notgoogle.com:443 HTTP/1.1", None, true),
        // A request a page sent, even to a browser service.
        ("GET http://www.gstatic.com/x.js HTTP/1.1", Some("file:///tmp/night.html"), true),
        // No target to judge by.
        ("GET /x HTTP/1.1", None, true),
    ] {
        assert_eq!(request(line, referer).is_the_pages(&named), the_pages, "{line} (referer {referer:?})");
    }
}
