//! The HTTP client's TLS set-up, shared by the job and the tests.

/// A reqwest client builder with rustls on the `ring` provider (chosen to
/// keep the build free of a C toolchain step; see Cargo.toml).
pub fn client_builder() -> reqwest::ClientBuilder {
    // Installing twice is harmless: the second call returns Err and is ignored.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
}
