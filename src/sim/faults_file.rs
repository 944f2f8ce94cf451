//! The simulator's faults and shape from a file (`tdrecon sim --faults
//! FILE.toml`), a key each: what a rehearsal or a test asks of it, instead
//! of a flag each. Times are whole milliseconds (`_ms`). Every key is
//! optional; an unknown key, or a value out of range, is refused naming it.
//!
//! ```toml
//! seed = 7
//! fail_5xx = 0.05            # probabilities, 0 to 1
//! reset_before_apply = 0.01
//! apply_then_stall = 0.01
//! stall_ms = 2500
//! apply_then_reset = 0.01
//! error_200 = 0.0
//! fail_first = 0             # the first N updates of each call get 503
//! latency_ms = 5
//! latency_jitter_ms = 10
//! ignore_param = "tdrecon_ref"
//! events_down = false        # every events read answers 503
//!
//! [rate_limit]
//! per_second = 20
//! burst = 0
//! window_ms = 1000           # 60000 models a per-minute limit
//! retry_after_date = false
//!
//! [shape]
//! omit_fields = ["disposition_notes"]
//! refuse_columns = false
//! clock_offset_ms = -300000  # the server's clock 5 minutes behind
//! events_per_page = 0
//! audit_params = "strings"   # or "as-sent", "ones"
//! audit_nested = false
//! audit_tokens_as_text = false
//! audit_known_only = false
//! refuse_unknown_params = false
//! ```

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use super::audit::{AuditStyle, Typed};
use super::{FaultConfig, RateLimit, Shape};

/// The longest a stall, a latency or a clock offset may be: an hour.
const MAX_MS: u64 = 3_600_000;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultsFile {
    seed: Option<u64>,
    fail_5xx: Option<f64>,
    reset_before_apply: Option<f64>,
    apply_then_stall: Option<f64>,
    stall_ms: Option<u64>,
    apply_then_reset: Option<f64>,
    error_200: Option<f64>,
    fail_first: Option<u64>,
    latency_ms: Option<u64>,
    latency_jitter_ms: Option<u64>,
    ignore_param: Option<String>,
    events_down: Option<bool>,
    rate_limit: Option<RateLimitKeys>,
    shape: Option<ShapeKeys>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RateLimitKeys {
    per_second: u32,
    burst: Option<u32>,
    window_ms: Option<u64>,
    retry_after_date: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ShapeKeys {
    omit_fields: Option<Vec<String>>,
    refuse_columns: Option<bool>,
    clock_offset_ms: Option<i64>,
    events_per_page: Option<usize>,
    audit_params: Option<String>,
    audit_nested: Option<bool>,
    audit_tokens_as_text: Option<bool>,
    audit_known_only: Option<bool>,
    refuse_unknown_params: Option<bool>,
}

/// What a faults file sets: the faults, the shape, the rate limit.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rehearsal {
    pub faults: FaultConfig,
    pub shape: Shape,
    pub rate_limit: Option<RateLimit>,
    pub retry_after_date: bool,
}

impl Rehearsal {
    /// The simulator with no fault, as documented.
    pub fn plain() -> Rehearsal {
        Rehearsal {
            faults: FaultConfig { stall: Duration::from_secs(120), ..FaultConfig::default() },
            ..Rehearsal::default()
        }
    }
}

impl FaultsFile {
    /// Reads and checks a faults file.
    pub fn load(path: &Path) -> Result<Rehearsal, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let file: FaultsFile = toml::from_str(&text).map_err(|e| format!("{}: {}", path.display(), e.message()))?;
        file.rehearsal().map_err(|e| format!("{}: {e}", path.display()))
    }

    fn rehearsal(self) -> Result<Rehearsal, String> {
        let mut r = Rehearsal::plain();
        let f = &mut r.faults;
        f.seed = self.seed.unwrap_or(0);
        for (key, value, slot) in [
            ("fail_5xx", self.fail_5xx, &mut f.fail_5xx),
            ("reset_before_apply", self.reset_before_apply, &mut f.reset_before_apply),
            ("apply_then_stall", self.apply_then_stall, &mut f.apply_then_stall),
            ("apply_then_reset", self.apply_then_reset, &mut f.apply_then_reset),
            ("error_200", self.error_200, &mut f.error_200),
        ] {
            *slot = probability(key, value)?;
        }
        f.stall = millis("stall_ms", self.stall_ms)?.unwrap_or(f.stall);
        f.latency = millis("latency_ms", self.latency_ms)?.unwrap_or_default();
        f.latency_jitter = millis("latency_jitter_ms", self.latency_jitter_ms)?.unwrap_or_default();
        f.fail_first = self.fail_first.unwrap_or(0);
        f.ignore_param = self.ignore_param;
        f.events_down = self.events_down.unwrap_or(false);
        if let Some(limit) = self.rate_limit {
            if limit.per_second == 0 {
                return Err("rate_limit.per_second: at least 1".into());
            }
            let period = millis("rate_limit.window_ms", limit.window_ms)?.unwrap_or(Duration::from_secs(1));
            if period < Duration::from_millis(100) {
                return Err("rate_limit.window_ms: at least 100".into());
            }
            r.rate_limit = Some(RateLimit { per_second: limit.per_second, burst: limit.burst.unwrap_or(0), period });
            r.retry_after_date = limit.retry_after_date.unwrap_or(false);
        }
        if let Some(shape) = self.shape {
            r.shape = shape.shape()?;
        }
        Ok(r)
    }
}

impl ShapeKeys {
    fn shape(self) -> Result<Shape, String> {
        let offset = self.clock_offset_ms.unwrap_or(0);
        if offset.unsigned_abs() > MAX_MS * 24 * 30 {
            return Err(format!("shape.clock_offset_ms: {offset} is more than 30 days"));
        }
        let typed = match self.audit_params.as_deref() {
            None | Some("strings") => Typed::Strings,
            Some("as-sent") => Typed::AsSent,
            Some("ones") => Typed::Ones,
            Some(other) => return Err(format!("shape.audit_params: {other:?} is not strings, as-sent or ones")),
        };
        Ok(Shape {
            omit: self.omit_fields.unwrap_or_default(),
            refuse_columns: self.refuse_columns.unwrap_or(false),
            clock_offset_ms: offset,
            events_per_page: self.events_per_page.unwrap_or(0),
            audit: AuditStyle {
                typed,
                nested: self.audit_nested.unwrap_or(false),
                tokens_as_text: self.audit_tokens_as_text.unwrap_or(false),
                known_only: self.audit_known_only.unwrap_or(false),
            },
            refuse_unknown: self.refuse_unknown_params.unwrap_or(false),
        })
    }
}

fn probability(key: &str, value: Option<f64>) -> Result<f64, String> {
    match value {
        None => Ok(0.0),
        Some(p) if (0.0..=1.0).contains(&p) => Ok(p),
        Some(p) => Err(format!("{key}: {p} is not a probability from 0 to 1")),
    }
}

fn millis(key: &str, value: Option<u64>) -> Result<Option<Duration>, String> {
    match value {
        Some(ms) if ms > MAX_MS => Err(format!("{key}: {ms} is more than an hour")),
        other => Ok(other.map(Duration::from_millis)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Rehearsal, String> {
        toml::from_str::<FaultsFile>(text).map_err(|e| e.message().to_string())?.rehearsal()
    }

    #[test]
    fn a_faults_file_sets_what_it_names_and_refuses_what_it_cannot() {
        let r = parse(
            "seed = 7\nfail_5xx = 0.05\nstall_ms = 2500\nevents_down = true\n\
             [rate_limit]\nper_second = 20\nwindow_ms = 60000\n[shape]\nclock_offset_ms = -300000\naudit_params = \"ones\"\n",
        )
        .unwrap();
        assert_eq!((r.faults.seed, r.faults.fail_5xx, r.faults.stall), (7, 0.05, Duration::from_millis(2500)));
        assert!(r.faults.events_down);
        assert_eq!(r.rate_limit.map(|l| (l.per_second, l.period)), Some((20, Duration::from_secs(60))));
        assert_eq!((r.shape.clock_offset_ms, r.shape.audit.typed), (-300_000, Typed::Ones));
        assert_eq!(parse("").unwrap(), Rehearsal::plain(), "an empty file is the plain simulator");
        for (bad, says) in [
            ("fail_5xx = 2", "fail_5xx"),
            ("stall_ms = 99999999999", "stall_ms"),
            ("latency = 5", "unknown field"),
            ("[shape]\naudit_params = \"x\"", "audit_params"),
            ("[rate_limit]\nper_second = 0", "per_second"),
        ] {
            let e = parse(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }
}
