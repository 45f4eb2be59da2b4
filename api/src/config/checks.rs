//! What no flag of `nudge serve` can check alone: flags that contradict each
//! other, refused before anything is made.

use std::net::SocketAddr;

use chrono::Utc;

use super::{ServeArgs, values};

impl ServeArgs {
    /// What no flag can check alone: flags that contradict each other.
    pub fn check(&self) -> Result<(), String> {
        let overlap = |a: SocketAddr, b: SocketAddr| {
            a.port() == b.port()
                && a.port() != 0
                && (a.ip() == b.ip() || a.ip().is_unspecified() || b.ip().is_unspecified())
        };
        if let Some(metrics) = self.metrics_listen.filter(|metrics| overlap(*metrics, self.listen)) {
            return Err(format!(
                "--metrics-listen ({metrics}) takes --listen's port on an address --listen ({}) serves too: give it \
                 another port, or leave it out (/metrics is served on --listen already)",
                self.listen
            ));
        }
        if let Some(token) = &self.dapr.dapr_app_token {
            values::dapr_token(token).map_err(|why| format!("--dapr-app-token (NUDGE_DAPR_APP_TOKEN): {why}"))?;
        }
        let (idle, request) = (self.http.idle_timeout, self.http.request_timeout);
        if idle <= request {
            return Err(crate::app::StartError::Timeouts { idle, request }.to_string());
        }
        let (connect, attempt) = (self.webhooks.webhook_connect_timeout, self.webhooks.webhook_timeout);
        if connect > attempt {
            return Err(format!(
                "--webhook-connect-timeout ({}) is longer than --webhook-timeout ({}), which bounds the whole attempt",
                crate::durations::written(connect),
                crate::durations::written(attempt)
            ));
        }
        if self.http.event_time_min > Utc::now() {
            return Err(format!(
                "--event-time-min ({}) is in the future: every event would be refused",
                self.http.event_time_min.to_rfc3339()
            ));
        }
        let origins = &self.http.cors_origins;
        if origins.len() > 1 && origins.iter().any(|origin| origin == "*") {
            return Err(
                "--cors-origins: `*` admits every origin; give it alone, or list the origins without it".to_owned()
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::cli::{Cli, Command};

    #[test]
    fn flags_that_contradict_each_other_are_refused() {
        let check = |args: &[&str]| match Cli::try_parse_from([&["nudge", "serve"], args].concat()) {
            Ok(Cli { command: Command::Serve(serve), .. }) => serve.check(),
            _ => panic!("{args:?} parses"),
        };
        assert!(check(&["--listen", "127.0.0.1:9000", "--metrics-listen", "127.0.0.1:9000"]).is_err());
        assert!(check(&["--listen", "127.0.0.1:9000", "--metrics-listen", "0.0.0.0:9000"]).is_err());
        assert!(check(&["--listen", "127.0.0.1:9000", "--metrics-listen", "127.0.0.1:9001"]).is_ok());
        assert!(check(&["--listen", "127.0.0.1:9000", "--metrics-listen", "10.0.0.1:9000"]).is_ok());
        assert!(check(&["--cors-origins", "*,https://ops.example.com"]).is_err());
        assert!(check(&["--cors-origins", "https://a.example.com,https://ops.example.com"]).is_ok());
        assert!(check(&["--cors-origins", "*"]).is_ok());
        assert!(check(&["--webhook-connect-timeout", "20s", "--webhook-timeout", "15s"]).is_err());
        assert!(check(&["--webhook-connect-timeout", "15s", "--webhook-timeout", "15s"]).is_ok());
        assert!(check(&["--event-time-min", "9999-01-01"]).is_err());
        assert!(check(&[]).is_ok());
        let secret = "abcdefghijklmno\n";
        let refused = check(&["--dapr-app-token", secret]).err().unwrap_or_default();
        assert!(refused.contains("--dapr-app-token") && !refused.contains("abcdefghijklmno"), "{refused}");
        assert!(check(&["--dapr-app-token", "abcdefghijklmnop"]).is_ok());
    }
}
