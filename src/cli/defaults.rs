//! Every default of the command line, each written once: the flags' help
//! shows these (clap's `[default: …]`), and the resolved settings use them.
//! A profile or a flag replaces any of them.

/// Requests a second (`--rate`).
pub const RATE: u32 = 10;
/// With `--rate auto`, the highest rate it may reach (`--max-rate`).
pub const MAX_RATE: u32 = 100;
/// Requests in flight at once (`--concurrency`).
pub const CONCURRENCY: u16 = 8;
/// The whole exchange of one request (`--timeout`).
pub const TIMEOUT: &str = "30s";
/// Retries per row after the first attempt (`--max-retries`).
pub const MAX_RETRIES: u32 = 5;
/// The longest a server's `Retry-After` may pause the job (`--max-pause`).
pub const MAX_PAUSE: &str = "120s";
/// How far a call's time may be from a row's, to find it by caller number.
pub const MATCH_WINDOW: &str = "5m";
/// How long after a request its update is taken to have landed and to show
/// in the call's audit log (`--audit-lag`): a row in doubt whose update is
/// not there is judged not applied only once this long has passed.
pub const AUDIT_LAG: &str = "60s";
/// How far back the ledger finds an earlier run's add to refuse as a repeat.
pub const REPEAT_WINDOW: &str = "30d";
/// How old a signed plan `run --plan` still applies: a night's plan, signed
/// the same day. Older, the calls have had a day to change under it.
pub const PLAN_MAX_AGE: &str = "24h";
/// Calls asked for per page of a window read (`--page-size`).
pub const PAGE_SIZE: u32 = 100;
/// The first retry's backoff ceiling and the largest backoff, in ms.
pub const BACKOFF_BASE_MS: u64 = 500;
pub const BACKOFF_CAP_MS: u64 = 30_000;
/// A fixed rate's burst: this share of the rate, at least 1.
pub const BURST_DIVISOR: u32 = 5;
