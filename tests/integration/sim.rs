//! The simulator over real HTTP: endpoints, semantics, faults, state.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tdrecon::sim::{FaultConfig, Sim, SimConfig, Store};

use crate::util::Workdir;

fn config() -> SimConfig {
    SimConfig::new(Store::seeded(100000001, 5))
}

fn client() -> reqwest::Client {
    tdrecon::trackdrive::http::client_builder().timeout(Duration::from_secs(10)).build().unwrap()
}

async fn put(sim: &Sim, id: &str, body: Value) -> (u16, Value) {
    let resp = client().put(format!("{}/api/v1/calls/{id}", sim.base_url())).json(&body).send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn call(sim: &Sim, id: u64) -> Value {
    let state = sim.state.state_json();
    state["calls"].as_array().unwrap().iter().find(|c| c["id"] == id).cloned().unwrap()
}

#[tokio::test]
async fn set_add_flags_tokens_by_id_and_uuid() {
    let sim = Sim::start(config()).await.unwrap();
    let uuid = call(&sim, 100000002)["uuid"].as_str().unwrap().to_string();
    let (status, body) = put(
        &sim,
        "100000002",
        json!({"revenue": "10.50", "payout": 4, "buyer_converted": "Yes", "post_call_tokens": {"zip": "90210"}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["call"]["revenue"], "10.50");
    let (status, _) = put(&sim, &uuid.to_uppercase(), json!({"add_revenue": "2.25", "add_payout": -1.5, "offer_converted": "on", "post_call_tokens": {"first_name": "Jo"}})).await;
    assert_eq!(status, 200);
    for method in [reqwest::Method::PATCH, reqwest::Method::POST] {
        let resp = client()
            .request(method.clone(), format!("{}/api/v1/calls/{uuid}", sim.base_url()))
            .json(&json!({"fire_outgoing_webhook_ids": [1, 2], "manual_transcribe": true, "trackdrive_buyer_id": "77", "trackdrive_traffic_source_id": 88, "call_disposition_id": "5", "agent_call_disposition_notes": "note"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{method}");
    }
    let c = call(&sim, 100000002);
    assert_eq!(c["revenue"], "12.75");
    assert_eq!(c["payout"], "2.50");
    assert_eq!((c["buyer_converted"].clone(), c["traffic_source_converted"].clone()), (json!(true), json!(true)));
    assert_eq!(c["token_values"], json!({"zip": "90210", "first_name": "Jo"}));
    assert_eq!((c["webhooks_fired"].clone(), c["transcriptions"].clone()), (json!(4), json!(2)));
    assert_eq!((c["buyer_id"].clone(), c["traffic_source_id"].clone()), (json!("77"), json!("88")));
    assert_eq!(c["updates_applied"], 4);
    // Blank clears a disposition and its notes.
    put(&sim, "100000002", json!({"call_disposition_id": "", "agent_call_disposition_notes": ""})).await;
    let c = call(&sim, 100000002);
    assert_eq!((c["disposition_id"].clone(), c["disposition_notes"].clone()), (Value::Null, Value::Null));
    // GET in both formats.
    let grid: Value = client()
        .get(format!("{}/api/v1/calls/100000002?serializer=call_grid", sim.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(grid["call"]["buyer_id"], "77");
    assert!(grid["call"].get("token_values").is_none(), "call_grid leaves out the contact fields");
    let plain: Value =
        client().get(format!("{}/api/v1/calls/{uuid}", sim.base_url())).send().await.unwrap().json().await.unwrap();
    assert_eq!(plain["call"]["id"], 100000002);
}

#[tokio::test]
async fn errors_404_422_400_401() {
    let mut cfg = config();
    cfg.keys = Some(("pub".into(), "priv".into()));
    let sim = Sim::start(cfg).await.unwrap();
    let url = |id: &str| format!("{}/api/v1/calls/{id}", sim.base_url());
    let send = |id: &str, body: &'static str, auth: Option<(&str, &str)>| {
        let mut req = client().put(url(id)).header("content-type", "application/json").body(body);
        if let Some((u, p)) = auth {
            req = req.basic_auth(u, Some(p));
        }
        req.send()
    };
    let good = Some(("pub", "priv"));
    assert_eq!(send("100000001", "{}", None).await.unwrap().status(), 401);
    assert_eq!(send("100000001", "{}", Some(("pub", "wrong"))).await.unwrap().status(), 401);
    assert_eq!(send("999", "{}", good).await.unwrap().status(), 404);
    assert_eq!(send("not-an-id", "{}", good).await.unwrap().status(), 404);
    assert_eq!(send("100000001", "not json", good).await.unwrap().status(), 400);
    let resp = send("100000001", r#"{"revenue":"abc","payout":"1"}"#, good).await.unwrap();
    assert_eq!(resp.status(), 422);
    let body: Value = resp.json().await.unwrap();
    assert!(body["errors"]["revenue"].is_string(), "{body}");
    assert_eq!(call(&sim, 100000001)["payout"], "0.00", "a 422 applies nothing");
    assert_eq!(send("100000001", r#"{"revenue":"1"}"#, good).await.unwrap().status(), 200);
}

#[tokio::test]
async fn state_json_shape() {
    let sim = Sim::start(config()).await.unwrap();
    let state: Value =
        client().get(format!("{}/__sim/state", sim.base_url())).send().await.unwrap().json().await.unwrap();
    let first = &state["calls"][0];
    // The call resource's names (TRACKDRIVE-API.md), never the update's.
    let want = json!({"id":100000001,"uuid":first["uuid"],"revenue":"0.00","buyer_revenue":"0.00","payout":"0.00",
        "traffic_source_payout":"0.00","buyer_converted":false,"traffic_source_converted":false,"disposition_id":null,
        "disposition_notes":null,"buyer_id":null,"traffic_source_id":null,"token_values":{},"contact_field_type":null,
        "webhooks_fired":0,"transcriptions":0,"updates_applied":0});
    for (key, value) in want.as_object().unwrap() {
        assert_eq!(&first[key], value, "{key}");
    }
    for update_name in [
        "offer_converted",
        "call_disposition_id",
        "agent_call_disposition_notes",
        "trackdrive_buyer_id",
        "trackdrive_traffic_source_id",
        "post_call_tokens",
    ] {
        assert!(first.get(update_name).is_none(), "{update_name} is an update parameter, not a field of the call");
    }
    assert_eq!(state["calls"].as_array().unwrap().len(), 5);
    assert_eq!(state["stats"], json!({"requests": 0, "throttled": 0, "faults": 0, "event_reads": 0}));
    let uuid = first["uuid"].as_str().unwrap();
    assert!(uuid.len() == 36 && uuid.as_bytes()[14] == b'4', "{uuid}");
}

#[tokio::test]
async fn server_errors_and_fail_first() {
    let mut cfg = config();
    cfg.faults = FaultConfig { fail_first: 2, ..FaultConfig::default() };
    let sim = Sim::start(cfg).await.unwrap();
    let statuses: Vec<u16> = futures::future::join_all(
        (0..3).map(|_| async { put(&sim, "100000001", json!({"add_revenue": "1"})).await.0 }),
    )
    .await;
    let mut sorted = statuses.clone();
    sorted.sort();
    assert_eq!(sorted, [200, 503, 503]);
    assert_eq!(call(&sim, 100000001)["revenue"], "1.00");
    assert_eq!(sim.state.state_json()["stats"]["faults"], 2);

    let mut cfg = config();
    cfg.faults = FaultConfig { fail_5xx: 1.0, ..FaultConfig::default() };
    let sim = Sim::start(cfg).await.unwrap();
    let (status, _) = put(&sim, "100000001", json!({"add_revenue": "1"})).await;
    assert!((500..600).contains(&status), "{status}");
    assert_eq!(call(&sim, 100000001)["updates_applied"], 0);
}

#[tokio::test]
async fn resets_and_stalls_seen_from_the_client() {
    for (faults, applied) in [
        (FaultConfig { reset_before_apply: 1.0, ..FaultConfig::default() }, 0),
        (FaultConfig { apply_then_reset: 1.0, ..FaultConfig::default() }, 1),
        (FaultConfig { apply_then_stall: 1.0, stall: Duration::from_secs(30), ..FaultConfig::default() }, 1),
    ] {
        let mut cfg = config();
        cfg.faults = faults.clone();
        let sim = Sim::start(cfg).await.unwrap();
        let client = tdrecon::trackdrive::http::client_builder().timeout(Duration::from_millis(500)).build().unwrap();
        let result = client
            .put(format!("{}/api/v1/calls/100000001", sim.base_url()))
            .json(&json!({"add_revenue": "5"}))
            .send()
            .await;
        let err = result.expect_err("the client sees no response");
        if faults.apply_then_stall > 0.0 {
            assert!(err.is_timeout(), "{err:?}");
        } else {
            assert!(!err.is_timeout(), "{err:?}");
        }
        assert_eq!(call(&sim, 100000001)["updates_applied"], applied, "{faults:?}");
        assert_eq!(call(&sim, 100000001)["revenue"], if applied == 1 { "5.00" } else { "0.00" });
    }
}

#[tokio::test]
async fn latency_is_added() {
    let mut cfg = config();
    cfg.faults = FaultConfig { latency: Duration::from_millis(150), ..FaultConfig::default() };
    let sim = Sim::start(cfg).await.unwrap();
    let start = Instant::now();
    put(&sim, "100000001", json!({"revenue": "1"})).await;
    assert!(start.elapsed() >= Duration::from_millis(150));
}

#[tokio::test]
async fn same_seed_same_faults() {
    async fn statuses(seed: u64) -> Vec<u16> {
        let mut cfg = config();
        cfg.faults = FaultConfig { seed, fail_5xx: 0.4, ..FaultConfig::default() };
        let sim = Sim::start(cfg).await.unwrap();
        let mut out = Vec::new();
        for _ in 0..40 {
            out.push(put(&sim, "100000003", json!({"revenue": "1"})).await.0);
        }
        out
    }
    let a = statuses(42).await;
    assert_eq!(a, statuses(42).await);
    assert_ne!(a, statuses(43).await);
    assert!(a.contains(&200) && a.iter().any(|s| *s >= 500));
}

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after() {
    for date in [false, true] {
        let mut cfg = config();
        cfg.rate_limit = Some(tdrecon::sim::RateLimit::per_second(3));
        cfg.retry_after_date = date;
        let sim = Sim::start(cfg).await.unwrap();
        let mut retry_after = None;
        for _ in 0..10 {
            let resp = client()
                .put(format!("{}/api/v1/calls/100000001", sim.base_url()))
                .json(&json!({"revenue": "1"}))
                .send()
                .await
                .unwrap();
            if resp.status() == 429 {
                retry_after = resp.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string());
            }
        }
        let value = retry_after.expect("some requests were throttled");
        if date {
            assert!(httpdate::parse_http_date(&value).is_ok(), "{value}");
        } else {
            assert_eq!(value, "1");
        }
        let throttled = sim.state.state_json()["stats"]["throttled"].as_u64().unwrap();
        assert!(throttled >= 4, "{throttled}");
    }
}

#[test]
fn binary_prints_url_first_and_dumps_state_on_sigterm() {
    use std::io::{BufRead, BufReader};
    let wd = Workdir::new();
    wd.write("calls.csv", "id,uuid,revenue,payout\n555,,5.00,1.00\n,c3b20b12-3b3b-4322-b15d-0f1c5f653479,,\n");
    let mut child = wd
        .command(&["sim", "--calls-file", "calls.csv", "--dump-state", "state.json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    let base = first.trim().to_string();
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let status = runtime.block_on(async {
        client()
            .put(format!("{base}/api/v1/calls/c3b20b12-3b3b-4322-b15d-0f1c5f653479"))
            .json(&json!({"revenue": "3"}))
            .send()
            .await
            .unwrap()
            .status()
    });
    assert_eq!(status, 200);
    std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    let exit = child.wait().unwrap();
    assert!(exit.success(), "{exit}");
    let state: Value = serde_json::from_str(&wd.read("state.json")).unwrap();
    assert_eq!(state["calls"][0]["id"], 555);
    assert_eq!(state["calls"][0]["revenue"], "5.00");
    assert_eq!(state["calls"][1]["uuid"], "c3b20b12-3b3b-4322-b15d-0f1c5f653479");
    assert_eq!(state["calls"][1]["revenue"], "3.00");
    assert_eq!(state["stats"]["requests"], 1);
}

#[tokio::test]
async fn list_endpoints_page_through_seeded_records() {
    let sim = Sim::start(config()).await.unwrap();
    let get = |path: String| async move { client().get(path).send().await.unwrap().json::<Value>().await.unwrap() };
    let first = get(format!("{}/api/v1/call_dispositions?page=1&per_page=8", sim.base_url())).await;
    assert_eq!(first["call_dispositions"].as_array().unwrap().len(), 8);
    assert_eq!(first["metadata"]["total_pages"], 3);
    assert_eq!(first["call_dispositions"][3], json!({"id": 4, "name": "Callback", "notes_required": true}));
    let last = get(format!("{}/api/v1/call_dispositions?page=3&per_page=8", sim.base_url())).await;
    assert_eq!(last["call_dispositions"].as_array().unwrap().len(), 4);
    let buyers = get(format!("{}/api/v1/buyers", sim.base_url())).await;
    assert_eq!(buyers["buyers"][0], json!({"id": 7, "name": "Acme Insurance", "user_buyer_id": "B-7"}));
    // Traffic sources: pages of 25 whatever per_page asks, no total_pages,
    // and no single name field (TrackDrive shows `{afid} - {full name}`).
    let sources = get(format!("{}/api/v1/traffic_sources?per_page=100", sim.base_url())).await;
    assert_eq!(sources["traffic_sources"].as_array().unwrap().len(), 25);
    assert!(sources["metadata"].get("total_pages").is_none(), "{}", sources["metadata"]);
    assert_eq!(
        sources["traffic_sources"][0],
        json!({"id": 101, "first_name": "Ava", "last_name": "Reed", "company_name": "Google Ads", "user_traffic_source_id": "TS-101"})
    );
    let second = get(format!("{}/api/v1/traffic_sources?page=2", sim.base_url())).await;
    assert_eq!(second["traffic_sources"].as_array().unwrap().len(), 5);
    let missing = client().get(format!("{}/api/v1/nothing", sim.base_url())).send().await.unwrap();
    assert_eq!(missing.status(), 404);
}
