//! The sign-off page (`--report FILE.html`) in a real browser: the sample
//! night's page is rendered by headless Chromium (Debian's `chromium`,
//! installed by `.ci/run`), screenshotted, printed to PDF, and read back as
//! the browser built it. Every request the browser makes goes to a proxy on
//! loopback that records it and answers nothing (so nothing leaves the
//! machine). Chromium asks for a few things of its own whatever it shows
//! (Google's sign-in and search hosts, with every switch below that turns
//! such asks off): those are recorded first, on `about:blank`, and a request
//! the page's runs make beyond them fails the test, as does anything in the
//! page that names a place to load from.
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

/// A proxy on loopback that records each request's first line and refuses it.
fn recording_proxy() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut line = String::new();
            let _ = BufReader::new(&stream).read_line(&mut line);
            log.lock().unwrap().push(line.trim().to_string());
            let _ = (&stream).write_all(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    (addr, seen)
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
    let store = tdrecon::commands::sim::load_calls(std::path::Path::new(CALLS)).unwrap();
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
    let (proxy, seen) = recording_proxy();
    // What the browser asks for by itself, on a blank page.
    browser(&chromium, &wd, &proxy, &["--dump-dom".into(), "about:blank".into()]);
    let own: std::collections::BTreeSet<String> = seen.lock().unwrap().drain(..).collect();

    // What the browser built, after the page's script ran.
    let dom = browser(&chromium, &wd, &proxy, &["--dump-dom".into(), page.clone()]);
    let dom = String::from_utf8_lossy(&dom.stdout).into_owned();
    for text in [
        "The night at a glance",
        "Totals per buyer, before and after",
        "What TrackDrive and the report disagree on",
        "Converted in TrackDrive, not on the report (the buyer may owe for these) (3)",
        "On the report, not the buyer's in TrackDrive (1)",
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
        &[format!("--print-to-pdf={}", pdf.display()), "--no-pdf-header-footer".into(), page],
    );
    let pdf = std::fs::read(&pdf).expect("printed to PDF");
    assert!(pdf.starts_with(b"%PDF") && pdf.len() > 10_000, "{} bytes", pdf.len());

    // Nothing was asked of the network for the page.
    let seen = seen.lock().unwrap();
    let for_the_page: Vec<&String> = seen.iter().filter(|r| !own.contains(*r)).collect();
    assert!(for_the_page.is_empty(), "the page made requests: {for_the_page:?} (the browser's own: {own:?})");
}
