//! `nudge keys create|bootstrap|list|revoke`.

use std::path::PathBuf;

use anyhow::{Context, anyhow, bail};
use chrono::Utc;
use clap::{Args, Subcommand};
use projections::ReadModel;

use crate::{
    app::{missing_sqlite_file, read_models_url},
    services::keys::{Bootstrap, Keys, Scope, key_name},
    tools::stdout,
};

/// Options of `nudge keys`.
#[derive(Debug, Args)]
pub struct KeysArgs {
    /// Event store URL: the keys live in its read-model database.
    #[arg(long, env = "NUDGE_STORE", default_value = "sqlite://data/nudge.db", hide_env_values = true, global = true)]
    pub store: String,
    /// Read-model database URL; defaults as for `nudge serve`.
    #[arg(long, env = "NUDGE_READ_MODELS", hide_env_values = true, global = true)]
    pub read_models: Option<String>,
    /// What to do.
    #[command(subcommand)]
    pub command: KeysCommand,
}

/// `nudge keys` commands.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Make a key and print it (only this once).
    Create {
        /// What the key is for: 1 to 100 characters, not all of them white space.
        #[arg(long, value_parser = key_name)]
        name: String,
        /// Its scopes: `events:write`, `read`, `admin` (admin implies the others).
        #[arg(long, value_parser = scopes)]
        scopes: ScopeList,
    },
    /// Store the operator's admin key from a file (hashed), unless an admin key
    /// is in force: the first start of a deployment (see README, "Deploying").
    Bootstrap {
        /// What the key is for: 1 to 100 characters, not all of them white space.
        #[arg(long, env = "NUDGE_BOOTSTRAP_ADMIN_KEY_NAME", default_value = "bootstrap-admin", value_parser = key_name)]
        name: String,
        /// The file holding the key (a Docker or Kubernetes secret): 32 to 256
        /// visible ASCII characters, a final newline ignored.
        #[arg(long, env = "NUDGE_BOOTSTRAP_ADMIN_KEY_FILE")]
        key_file: PathBuf,
    },
    /// List the keys (never the keys themselves).
    List,
    /// Revoke a key, at once.
    Revoke {
        /// The key's id, as listed (read after parsing, so that a key pasted
        /// here by mistake is never printed back).
        id: String,
    },
}

/// A key's id: the UUID `nudge keys list` shows.
fn key_id(raw: &str) -> anyhow::Result<uuid::Uuid> {
    raw.parse().map_err(|_| {
        if raw.starts_with("nudge_") {
            anyhow!("that is a key, not its id: revoke it by the id `nudge keys list` shows")
        } else {
            anyhow!("a key's id is the UUID `nudge keys list` shows")
        }
    })
}

/// Scopes written `events:write,read`.
#[derive(Debug, Clone)]
pub struct ScopeList(pub Vec<Scope>);

fn scopes(s: &str) -> Result<ScopeList, String> {
    Scope::parse_list(s).map(ScopeList)
}

/// The key a bootstrap file holds: its one line, long enough not to be guessed,
/// and fit for an `Authorization` header.
fn bootstrap_secret(raw: &str) -> Result<&str, String> {
    let secret = raw.strip_suffix('\n').map_or(raw, |s| s.strip_suffix('\r').unwrap_or(s));
    if secret.contains('\n') {
        return Err("the file holds more than one line: put the key alone on its one line".to_owned());
    }
    if !(32..=256).contains(&secret.len()) {
        return Err(format!("the key is {} characters long: use 32 to 256", secret.len()));
    }
    if !secret.chars().all(|c| c.is_ascii_graphic()) {
        return Err("the key may hold visible ASCII characters only (no spaces)".to_owned());
    }
    Ok(secret)
}

/// Keys read at a time by `nudge keys list`.
const PAGE: usize = 1_000;

/// Runs a `nudge keys` command.
pub async fn run(args: KeysArgs) -> anyhow::Result<()> {
    store::check_url(&args.store)?;
    let url = read_models_url(&args.store, args.read_models.as_deref())?;
    if matches!(args.command, KeysCommand::List) && missing_sqlite_file(&url).is_some() {
        eprintln!("no API keys in {url}");
        return Ok(());
    }
    let read_model = ReadModel::connect(&url).await.with_context(|| format!("cannot open the read models at {url}"))?;
    let keys = Keys::new(read_model.database().clone());
    match args.command {
        KeysCommand::Create { name, scopes } => {
            let made = keys.create(&name, &scopes.0, Utc::now()).await?;
            let written: Vec<&str> = made.key.scopes.iter().map(|s| s.as_str()).collect();
            if let Err(error) = stdout::required(&made.secret) {
                // Nobody has the key: it must not stay in force.
                keys.revoke(made.key.id, Utc::now()).await?;
                return Err(error.context(format!("key {} was made, then revoked: it could not be shown", made.key.id)));
            }
            eprintln!("key {} ({name}, scopes {}): keep it now, it is not shown again", made.key.id, written.join(","));
        }
        KeysCommand::Bootstrap { name, key_file } => {
            let raw = std::fs::read_to_string(&key_file)
                .with_context(|| format!("cannot read the bootstrap key from {}", key_file.display()))?;
            let secret = bootstrap_secret(&raw).map_err(|e| anyhow!("{}: {e}", key_file.display()))?;
            match keys.bootstrap(&name, secret, Utc::now()).await? {
                Bootstrap::Stored(key) => tracing::info!(id = %key.id, name, "bootstrap admin key stored"),
                Bootstrap::Known => tracing::info!("bootstrap admin key stored before: nothing to do"),
                Bootstrap::AdminInForce => {
                    tracing::info!("an admin key is in force: the bootstrap key is not stored");
                }
            }
        }
        KeysCommand::List => {
            let mut after = None;
            loop {
                let page = keys.list(after, PAGE).await?;
                for key in &page {
                    let scopes: Vec<&str> = key.scopes.iter().map(|s| s.as_str()).collect();
                    let state =
                        key.revoked_at.map_or("in force".to_owned(), |at| format!("revoked {}", at.to_rfc3339()));
                    crate::out!("{}  {:<20} {:<24} {}", key.id, key.name, scopes.join(","), state);
                }
                match page.last() {
                    Some(last) if page.len() == PAGE => after = Some(last.id),
                    None if after.is_none() => {
                        eprintln!("no API keys in {url}");
                        break;
                    }
                    _ => break,
                }
            }
        }
        KeysCommand::Revoke { id } => {
            let id = key_id(&id)?;
            if !keys.revoke(id, Utc::now()).await? {
                bail!("no key {id} in force");
            }
            crate::out!("revoked {id}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bootstrap_key_is_one_line_of_32_to_256_visible_characters() {
        let key = "k".repeat(32);
        assert_eq!(bootstrap_secret(&format!("{key}\n")), Ok(key.as_str()));
        assert_eq!(bootstrap_secret(&format!("{key}\r\n")), Ok(key.as_str()));
        assert!(bootstrap_secret(&"k".repeat(31)).is_err());
        assert!(bootstrap_secret(&"k".repeat(257)).is_err());
        assert!(bootstrap_secret(&format!("{key} x")).is_err());
        assert!(bootstrap_secret(&format!("{key}\n\n")).is_err_and(|e| e.contains("more than one line")));
        assert!(bootstrap_secret(&format!("{key}\n{key}\n")).is_err_and(|e| e.contains("more than one line")));
    }
}
