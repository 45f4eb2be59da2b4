//! The instances a cluster benchmark runs: real `nudge serve` processes of
//! this binary on one PostgreSQL schema of their own, started, signalled and
//! replaced as a deploy or a crash would.

use std::{
    io::{BufRead, BufReader, Read},
    process::{Child, Command, Stdio},
    sync::mpsc::RecvTimeoutError,
    time::Duration,
};

use anyhow::{Context, bail};
use serde_json::Value;
use sqlx::Connection;

use crate::tools::bench::leftovers;

/// A schema made for one run in the database at a URL, dropped by [`Schema::drop_now`].
pub struct Schema {
    base: String,
    name: String,
}

impl Schema {
    /// Makes a fresh schema in the database at `base`.
    pub async fn create(base: &str) -> anyhow::Result<Self> {
        let name = format!("nudge_bench_{}", uuid::Uuid::new_v4().simple());
        let mut conn = sqlx::PgConnection::connect(base).await.context("cannot connect to --database")?;
        sqlx::query(&format!("CREATE SCHEMA {name}")).execute(&mut conn).await?;
        leftovers::made_schema(base, &name);
        Ok(Self { base: base.to_owned(), name })
    }

    /// The URL that puts everything nudge writes into this schema.
    pub fn url(&self) -> String {
        let separator = if self.base.contains('?') { '&' } else { '?' };
        format!("{}{separator}options=-c%20search_path%3D{}", self.base, self.name)
    }

    /// Drops the schema and everything in it.
    pub async fn drop_now(self) -> anyhow::Result<()> {
        drop_schema(&self.base, &self.name).await?;
        leftovers::dropped_schema(&self.name);
        Ok(())
    }
}

/// Drops the schema `name` and everything in it, in the database at `base`.
pub async fn drop_schema(base: &str, name: &str) -> anyhow::Result<()> {
    let mut conn = sqlx::PgConnection::connect(base).await?;
    sqlx::query(&format!("DROP SCHEMA IF EXISTS {name} CASCADE")).execute(&mut conn).await?;
    Ok(())
}

/// One `nudge serve` process, killed when dropped.
pub struct Instance {
    child: Child,
    /// Its base URL.
    pub address: String,
}

impl Instance {
    /// Starts `nudge serve` on `url` with `extra` arguments and waits until it is ready.
    pub async fn start(client: &reqwest::Client, url: &str, extra: &[String]) -> anyhow::Result<Self> {
        let mut child = Command::new(std::env::current_exe()?)
            .args(["--log-format", "json", "serve", "--listen", "127.0.0.1:0", "--store", url])
            .args(extra)
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            // Only a refusal to start is written there: read below, closed once started.
            .stderr(Stdio::piped())
            .spawn()
            .context("cannot start nudge serve")?;
        leftovers::started(child.id());
        let stdout = child.stdout.take().context("no stdout")?;
        let mut stderr = child.stderr.take().context("no stderr")?;
        // From here, a failure drops it: killed and waited for.
        let mut instance = Self { child, address: String::new() };
        let (address_tx, address_rx) = std::sync::mpsc::channel();
        // Reads the log to its end, so the process never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let log: Value = serde_json::from_str(&line).unwrap_or_default();
                if let Some(address) = log["fields"]["address"].as_str() {
                    let _ = address_tx.send(format!("http://{address}"));
                }
            }
        });
        let address = tokio::task::spawn_blocking(move || address_rx.recv_timeout(Duration::from_secs(60))).await?;
        instance.address = match address {
            Ok(address) => address,
            Err(RecvTimeoutError::Timeout) => bail!("nudge serve did not report its address within a minute"),
            Err(RecvTimeoutError::Disconnected) => {
                let mut refusal = String::new();
                stderr.read_to_string(&mut refusal)?;
                bail!("nudge serve exited ({}): {}", instance.child.wait()?, refusal.trim())
            }
        };
        for _ in 0..600 {
            let ready = client.get(format!("{}/readyz", instance.address)).send().await;
            if ready.is_ok_and(|r| r.status().is_success()) {
                return Ok(instance);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!("nudge at {} did not become ready within half a minute", instance.address)
    }

    /// Sends a signal (`KILL`, `TERM`, `STOP`, `CONT`).
    pub fn signal(&self, name: &str) -> anyhow::Result<()> {
        let status = Command::new("kill").args([&format!("-{name}"), &self.child.id().to_string()]).status()?;
        if !status.success() {
            bail!("kill -{name} {} failed", self.child.id());
        }
        Ok(())
    }

    /// Waits until the process has exited; whether it exited cleanly.
    pub async fn exited(&mut self) -> anyhow::Result<bool> {
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status.success());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// The sum of a metric's samples in its `/metrics`.
    pub async fn metric(&self, client: &reqwest::Client, name: &str) -> anyhow::Result<f64> {
        super::checks::metric(client, &self.address, name).await
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        leftovers::ended(self.child.id());
    }
}
