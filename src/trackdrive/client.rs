//! The HTTP side of one attempt: the URL and method for a call, the
//! authenticated client, and turning reqwest's result into an `Attempt`.
//! Building a request is pure; sending it is the only I/O here.

use std::time::{Duration, Instant};

use reqwest::Url;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue, RETRY_AFTER};

use super::attempt::Attempt;
use crate::input::values::CallRef;
use crate::trackdrive::credentials::Credentials;

/// The HTTP method updates are sent with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Put,
    Post,
    Patch,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Put => "PUT",
            Method::Post => "POST",
            Method::Patch => "PATCH",
        }
    }
}

/// Where and how to send.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// `https://NAME.trackdrive.com`, no trailing slash.
    pub base: String,
    pub method: Method,
    pub serializer: Option<String>,
    pub timeout: Duration,
    /// `{base}/api/v1/calls`, parsed once: a call's URL is this plus a path
    /// segment, where parsing a URL string per request (as reqwest does
    /// with a `&str`) cost more than building the request body.
    calls: Url,
}

impl Endpoint {
    pub fn new(
        base: String,
        method: Method,
        serializer: Option<String>,
        timeout: Duration,
    ) -> Result<Endpoint, String> {
        let calls = Url::parse(&format!("{base}/api/v1/calls")).map_err(|e| format!("--base-url {base:?}: {e}"))?;
        if calls.cannot_be_a_base() {
            return Err(format!("--base-url {base:?}: not an http(s) address"));
        }
        Ok(Endpoint { base, method, serializer, timeout, calls })
    }

    /// `{base}/api/v1/calls/{id}`, read in the default (`call`) format.
    pub fn read_url(&self, call: &CallRef) -> Url {
        let mut url = self.calls.clone();
        url.path_segments_mut().expect("checked in new: the URL has a path").push(&call.to_string());
        url
    }

    /// `{base}/api/v1/calls`: the calls list, for window reads.
    pub fn calls_list_url(&self) -> Url {
        self.calls.clone()
    }

    /// `{base}/api/v1/calls?per_page=1`: the cheapest authenticated read.
    pub fn first_call_url(&self) -> Url {
        let mut url = self.calls.clone();
        url.query_pairs_mut().append_pair("per_page", "1");
        url
    }

    /// The host requests go to, for messages.
    pub fn host(&self) -> String {
        self.calls.host_str().unwrap_or_default().to_string()
    }

    /// `{base}/api/v1/calls/{id}/events`: the call's event log.
    pub fn events_url(&self, call: &CallRef) -> Url {
        let mut url = self.read_url(call);
        url.path_segments_mut().expect("checked in new: the URL has a path").push("events");
        url
    }

    /// `{base}/api/v1/calls/{id}[?serializer=…]`.
    pub fn url(&self, call: &CallRef) -> Url {
        let mut url = self.read_url(call);
        if let Some(s) = &self.serializer {
            url.query_pairs_mut().append_pair("serializer", s);
        }
        url
    }
}

/// Checks a base URL: `https://` anywhere, plain `http://` only to loopback
/// (the simulator), so keys never cross a network in the clear.
pub fn check_base_url(text: &str) -> Result<String, String> {
    let url = reqwest::Url::parse(text.trim()).map_err(|_| {
        format!("--base-url {text:?} is not a web address: write it whole, like https://acme.trackdrive.com")
    })?;
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    };
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => {
            return Err(format!("--base-url {text:?}: plain http is only allowed to a loopback address; use https"));
        }
        other => {
            return Err(format!(
                "--base-url {text:?}: {other}:// is not a web address tdrecon can send to; use https://, \
                 like https://acme.trackdrive.com"
            ));
        }
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("--base-url must not carry credentials: use TRACKDRIVE_PUBLIC_KEY/TRACKDRIVE_PRIVATE_KEY".into());
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

/// `https://NAME.trackdrive.com` from a subdomain.
pub fn subdomain_url(name: &str) -> Result<String, String> {
    let name = name.trim();
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if ok {
        Ok(format!("https://{name}.trackdrive.com"))
    } else {
        Err(format!("--subdomain {name:?}: not a valid subdomain"))
    }
}

/// What one GET answered, whole.
#[derive(Debug, Clone)]
pub struct Probe {
    pub status: u16,
    /// Header names in lower case, with their values.
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub truncated: bool,
}

/// An authenticated client for one endpoint.
#[derive(Debug, Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    method: reqwest::Method,
}

impl ApiClient {
    pub fn new(endpoint: &Endpoint, credentials: &Credentials, pool: usize) -> reqwest::Result<ApiClient> {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, basic_auth(credentials));
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let http = crate::trackdrive::http::client_builder()
            .default_headers(headers)
            .timeout(endpoint.timeout)
            .connect_timeout(endpoint.timeout.min(Duration::from_secs(10)))
            .pool_max_idle_per_host(pool)
            // A redirect would resend the body somewhere we did not choose.
            .redirect(reqwest::redirect::Policy::none());
        // Plain http goes only to loopback (`check_base_url`): never through
        // a proxy, which would see the keys in the clear. https targets use
        // HTTPS_PROXY / ALL_PROXY / NO_PROXY from the environment.
        let http = if endpoint.base.starts_with("http://") { http.no_proxy() } else { http };
        let http = http.build()?;
        let method = match endpoint.method {
            Method::Put => reqwest::Method::PUT,
            Method::Post => reqwest::Method::POST,
            Method::Patch => reqwest::Method::PATCH,
        };
        Ok(ApiClient { http, method })
    }

    /// Sends one attempt and reads the whole response.
    pub async fn send(&self, url: &Url, body: Vec<u8>) -> (Attempt, Duration) {
        self.exchange(self.http.request(self.method.clone(), url.clone()).body(body)).await
    }

    /// GETs a URL (used to read a call back).
    pub async fn get(&self, url: &Url) -> (Attempt, Duration) {
        self.exchange(self.http.get(url.clone())).await
    }

    /// GETs a URL once, keeping its status, its headers and the start of
    /// its body (`tdrecon doctor`, which reports what it saw).
    pub async fn probe(&self, url: &Url) -> Result<Probe, String> {
        let response = self.http.get(url.clone()).send().await.map_err(|e| describe(&e))?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_ascii_lowercase(), v.to_str().unwrap_or_default().to_string()))
            .collect();
        let (bytes, truncated) = read_capped(response, MAX_RESPONSE_BYTES).await.map_err(|e| describe(&e))?;
        Ok(Probe { status, headers, body: String::from_utf8_lossy(&bytes).into_owned(), truncated })
    }

    async fn exchange(&self, request: reqwest::RequestBuilder) -> (Attempt, Duration) {
        let start = Instant::now();
        let attempt = match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let retry_after = response.headers().get(RETRY_AFTER).and_then(|v| v.to_str().ok()).map(String::from);
                let date = response
                    .headers()
                    .get(reqwest::header::DATE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| httpdate::parse_http_date(v).ok());
                match read_capped(response, MAX_RESPONSE_BYTES).await {
                    // A valid UTF-8 check is a fast pass; the lossy decode
                    // reqwest's `text()` does walks the bytes in chunks.
                    Ok((bytes, truncated)) => {
                        let body = match std::str::from_utf8(&bytes) {
                            Ok(text) => text.to_owned(),
                            Err(_) => String::from_utf8_lossy(&bytes).into_owned(),
                        };
                        Attempt::Response { status, retry_after, body, truncated, date }
                    }
                    Err(e) if e.is_timeout() => Attempt::TimedOut,
                    Err(e) => Attempt::Broken(describe(&e)),
                }
            }
            Err(e) if e.is_timeout() => Attempt::TimedOut,
            Err(e) if e.is_connect() => Attempt::ConnectFailed(describe(&e)),
            Err(e) => Attempt::Broken(describe(&e)),
        };
        (attempt, start.elapsed())
    }
}

/// The most of a response body that is read: a call is a few KiB, and
/// nothing a server sends may make the job hold more (the rest is never
/// read; the connection is dropped with it).
pub const MAX_RESPONSE_BYTES: usize = 1 << 20;

/// Reads a body up to `cap` bytes; `true` when there was more.
async fn read_capped(mut response: reqwest::Response, cap: usize) -> reqwest::Result<(Vec<u8>, bool)> {
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = cap - bytes.len();
        if chunk.len() > room {
            bytes.extend_from_slice(&chunk[..room]);
            return Ok((bytes, true));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok((bytes, false))
}

fn basic_auth(credentials: &Credentials) -> HeaderValue {
    use base64::Engine;
    let token =
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", credentials.public, credentials.private()));
    let mut value = HeaderValue::from_str(&format!("Basic {token}")).expect("base64 is a valid header value");
    // Keeps the header out of reqwest's and hyper's debug output.
    value.set_sensitive(true);
    value
}

/// An error and its causes on one line, without the URL.
fn describe(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls() {
        assert_eq!(check_base_url("https://acme.trackdrive.com/").unwrap(), "https://acme.trackdrive.com");
        assert_eq!(check_base_url("http://127.0.0.1:8080").unwrap(), "http://127.0.0.1:8080");
        assert_eq!(check_base_url("http://[::1]:9").unwrap(), "http://[::1]:9");
        assert!(check_base_url("http://localhost:9").is_ok());
        assert!(check_base_url("http://acme.trackdrive.com").unwrap_err().contains("loopback"));
        assert!(check_base_url("http://10.0.0.1").unwrap_err().contains("loopback"));
        assert!(check_base_url("ftp://x").is_err());
        assert!(check_base_url("https://user:pw@x.com").unwrap_err().contains("credentials"));
        assert!(check_base_url("not a url").is_err());
    }

    #[test]
    fn subdomains() {
        assert_eq!(subdomain_url("acme").unwrap(), "https://acme.trackdrive.com");
        assert!(subdomain_url("ac.me").is_err());
        assert!(subdomain_url("").is_err());
        assert!(subdomain_url("-x").is_err());
    }

    #[test]
    fn urls() {
        let base = || "https://a.trackdrive.com".to_string();
        let e = Endpoint::new(base(), Method::Put, None, Duration::from_secs(1)).unwrap();
        assert_eq!(e.url(&CallRef::Id(7)).as_str(), "https://a.trackdrive.com/api/v1/calls/7");
        let e = Endpoint::new(base(), Method::Put, Some("call_grid".into()), Duration::from_secs(1)).unwrap();
        assert_eq!(
            e.url(&CallRef::Uuid(1)).as_str(),
            "https://a.trackdrive.com/api/v1/calls/00000000-0000-0000-0000-000000000001?serializer=call_grid"
        );
        assert_eq!(
            e.read_url(&CallRef::Id(7)).as_str(),
            "https://a.trackdrive.com/api/v1/calls/7",
            "reads use the default format"
        );
        let local = Endpoint::new("http://127.0.0.1:8080".into(), Method::Put, None, Duration::from_secs(1)).unwrap();
        assert_eq!(local.url(&CallRef::Id(9)).as_str(), "http://127.0.0.1:8080/api/v1/calls/9");
    }

    #[test]
    fn auth_header_is_sensitive() {
        let v = basic_auth(&Credentials::new("pub", "priv"));
        assert!(v.is_sensitive());
        assert_eq!(v.to_str().unwrap(), "Basic cHViOnByaXY=");
        assert!(!format!("{v:?}").contains("cHVi"));
    }
}
