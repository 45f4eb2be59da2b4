//! `nudge keys create|list|revoke`.

use crate::services::keys::Scope;
use anyhow::{Context, bail};
use chrono::Utc;
use clap::{Args, Subcommand};
use projections::ReadModel;

use crate::{app::read_models_beside, services::keys::Keys};

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
        /// What the key is for.
        #[arg(long)]
        name: String,
        /// Its scopes: `events:write`, `read`, `admin` (admin implies the others).
        #[arg(long, value_parser = scopes)]
        scopes: ScopeList,
    },
    /// List the keys (never the keys themselves).
    List,
    /// Revoke a key, at once.
    Revoke {
        /// The key's id, as listed.
        id: uuid::Uuid,
    },
}

/// Scopes written `events:write,read`.
#[derive(Debug, Clone)]
pub struct ScopeList(pub Vec<Scope>);

fn scopes(s: &str) -> Result<ScopeList, String> {
    Scope::parse_list(s).map(ScopeList)
}

/// Keys read at a time by `nudge keys list`.
const PAGE: usize = 1_000;

/// Runs a `nudge keys` command.
pub async fn run(args: KeysArgs) -> anyhow::Result<()> {
    let url = args.read_models.clone().unwrap_or_else(|| read_models_beside(&args.store));
    let read_model = ReadModel::connect(&url).await.with_context(|| format!("cannot open the read models at {url}"))?;
    let keys = Keys::new(read_model.database().clone());
    match args.command {
        KeysCommand::Create { name, scopes } => {
            let made = keys.create(&name, &scopes.0, Utc::now()).await?;
            let written: Vec<&str> = made.key.scopes.iter().map(|s| s.as_str()).collect();
            eprintln!("key {} ({name}, scopes {}): keep it now, it is not shown again", made.key.id, written.join(","));
            println!("{}", made.secret);
        }
        KeysCommand::List => {
            let mut after = None;
            loop {
                let page = keys.list(after, PAGE).await?;
                for key in &page {
                    let scopes: Vec<&str> = key.scopes.iter().map(|s| s.as_str()).collect();
                    let state =
                        key.revoked_at.map_or("in force".to_owned(), |at| format!("revoked {}", at.to_rfc3339()));
                    println!("{}  {:<20} {:<24} {}", key.id, key.name, scopes.join(","), state);
                }
                match page.last() {
                    Some(last) if page.len() == PAGE => after = Some(last.id),
                    _ => break,
                }
            }
        }
        KeysCommand::Revoke { id } => {
            if !keys.revoke(id, Utc::now()).await? {
                bail!("no key {id} in force");
            }
            println!("revoked {id}");
        }
    }
    Ok(())
}
