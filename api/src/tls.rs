//! The one TLS crypto provider: ring, for every TLS client nudge opens (webhook
//! deliveries, PostgreSQL, the OTLP exporter, the KurrentDB client).
//!
//! The KurrentDB client also compiles aws-lc-rs in and installs it as the
//! process-wide provider on its first connection; reqwest clients built after
//! that would use it, those built before ring. Installing ring first, before any
//! TLS client exists, makes every connection use the same provider.

/// Installs ring as the process-wide rustls provider; false when one was
/// already installed (it is then left in place).
pub fn install_crypto_provider() -> bool {
    rustls::crypto::ring::default_provider().install_default().is_ok()
}
