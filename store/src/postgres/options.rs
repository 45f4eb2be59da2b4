//! Connection options from a `postgres://` URL, as every nudge pool takes them.

use std::net::IpAddr;

use sqlx::postgres::{PgConnectOptions, PgSslMode};

/// The options of `url`; with no `sslmode` in it (nor `PGSSLMODE`), a server
/// on this host is reached without TLS.
///
/// The default mode, `prefer`, encrypts whenever the server offers TLS, and on
/// loopback that protects nothing: the bytes never leave the machine. It cost
/// both ends a TLS record per message of every statement (a tenth of the CPU
/// of one-event ingest against a local server). An explicit `sslmode` is kept.
pub fn connect_options(url: &str) -> Result<PgConnectOptions, sqlx::Error> {
    let options: PgConnectOptions = url.parse()?;
    let explicit = url.contains("sslmode=") || url.contains("ssl-mode=") || std::env::var_os("PGSSLMODE").is_some();
    Ok(if !explicit && is_local(options.get_host()) { options.ssl_mode(PgSslMode::Disable) } else { options })
}

/// Whether `host` is this machine: a loopback name or address, or a socket folder.
fn is_local(host: &str) -> bool {
    host == "localhost"
        || host.starts_with('/')
        || host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(url: &str) -> PgSslMode {
        connect_options(url).map(|o| o.get_ssl_mode()).unwrap_or(PgSslMode::Require)
    }

    #[test]
    fn a_server_on_this_host_is_reached_without_tls() {
        for url in ["postgres://u@127.0.0.1/db", "postgres://u@localhost:5433/db", "postgres://u@[::1]/db"] {
            assert!(matches!(mode(url), PgSslMode::Disable), "{url}");
        }
    }

    #[test]
    fn an_explicit_sslmode_is_kept() {
        assert!(matches!(mode("postgres://u@127.0.0.1/db?sslmode=require"), PgSslMode::Require));
        assert!(matches!(mode("postgres://u@127.0.0.1/db?sslmode=prefer"), PgSslMode::Prefer));
    }

    #[test]
    fn a_remote_server_keeps_the_default() {
        assert!(!matches!(mode("postgres://u@db.example:5432/db"), PgSslMode::Disable));
        assert!(!matches!(mode("postgres://u@10.0.0.7/db"), PgSslMode::Disable));
    }
}
