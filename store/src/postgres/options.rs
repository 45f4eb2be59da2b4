//! Connection options from a `postgres://` URL, as every nudge pool takes them.

use std::{io, net::IpAddr, time::Duration};

use sqlx::{
    Connection,
    postgres::{PgConnectOptions, PgConnection, PgSslMode},
};

/// Longest [`reach`] waits for a server's answer.
const REACH_TIMEOUT: Duration = Duration::from_secs(10);

/// The options of `url`, which must name a database (or `PGDATABASE` must);
/// with no `sslmode` in it (nor `PGSSLMODE`), a server on this host is
/// reached without TLS.
///
/// Without a database PostgreSQL would take the one named after the user
/// (`postgres`, the maintenance database, for `postgres://postgres@host/`), and
/// nudge would make its tables there: a slip of the URL is refused instead.
///
/// The default mode, `prefer`, encrypts whenever the server offers TLS, and on
/// loopback that protects nothing: the bytes never leave the machine. It cost
/// both ends a TLS record per message of every statement (a tenth of the CPU
/// of one-event ingest against a local server). An explicit `sslmode` is kept.
pub fn connect_options(url: &str) -> Result<PgConnectOptions, sqlx::Error> {
    let options: PgConnectOptions = url.parse().map_err(|e| match e {
        sqlx::Error::Configuration(inner) => sqlx::Error::Configuration(plainly(inner.as_ref()).into()),
        other => other,
    })?;
    if options.get_database().is_none_or(str::is_empty) {
        return Err(sqlx::Error::Configuration(
            "the URL names no database: write it after the host (postgres://user@host/nudge), or set PGDATABASE".into(),
        ));
    }
    let explicit = url.contains("sslmode=") || url.contains("ssl-mode=") || std::env::var_os("PGSSLMODE").is_some();
    Ok(if !explicit && is_local(options.get_host()) { options.ssl_mode(PgSslMode::Disable) } else { options })
}

/// What sqlx found wrong in a URL, told once: its error nests another
/// configuration error, so the text said "error with configuration" twice;
/// an unknown `sslmode` is told with the values it takes.
fn plainly(error: &(dyn std::error::Error + 'static)) -> String {
    let mut innermost = error;
    while let Some(source) = innermost.source() {
        innermost = source;
    }
    let text = innermost.to_string();
    if text.contains("`ssl_mode`") {
        format!("{text}: sslmode takes disable, allow, prefer, require, verify-ca or verify-full")
    } else {
        text
    }
}

/// Connects once and closes, so that a server that cannot be reached is told
/// with its own reason (refused, unknown host, bad password) at start-up, where
/// a pool only says that it timed out.
pub async fn reach(options: &PgConnectOptions) -> Result<(), sqlx::Error> {
    let (host, port) = (options.get_host(), options.get_port());
    let silent =
        || io::Error::new(io::ErrorKind::TimedOut, format!("no answer from {host}:{port} within {REACH_TIMEOUT:?}"));
    let conn =
        tokio::time::timeout(REACH_TIMEOUT, PgConnection::connect_with(options)).await.map_err(|_| silent())??;
    conn.close().await
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
    fn a_url_without_a_database_is_refused() {
        if std::env::var_os("PGDATABASE").is_some() {
            eprintln!("skipped: PGDATABASE is set, and names the database");
            return;
        }
        for url in ["postgres://postgres@127.0.0.1:5432/", "postgres://postgres@127.0.0.1", "postgres://"] {
            let refused = connect_options(url).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(refused.contains("names no database"), "{url}: {refused}");
        }
        assert!(connect_options("postgres://postgres@127.0.0.1:5432/nudge").is_ok());
    }

    #[test]
    fn a_bad_sslmode_is_told_once_with_the_values_it_takes() {
        let refused = connect_options("postgres://u@127.0.0.1/db?sslmode=bogus").err().map(|e| e.to_string());
        let refused = refused.unwrap_or_default();
        assert_eq!(refused.matches("error with configuration").count(), 1, "{refused}");
        assert!(refused.contains(r#"unknown value "bogus""#), "{refused}");
        assert!(
            refused.contains("sslmode takes disable, allow, prefer, require, verify-ca or verify-full"),
            "{refused}"
        );
    }

    #[tokio::test]
    async fn a_server_that_cannot_be_reached_is_told_with_its_reason() {
        let options = connect_options("postgres://postgres@127.0.0.1:1/nudge").unwrap_or_else(|e| panic!("{e}"));
        let refused = reach(&options).await.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(refused.to_lowercase().contains("refused"), "{refused}");
    }

    #[test]
    fn a_remote_server_keeps_the_default() {
        assert!(!matches!(mode("postgres://u@db.example:5432/db"), PgSslMode::Disable));
        assert!(!matches!(mode("postgres://u@10.0.0.7/db"), PgSslMode::Disable));
    }
}
