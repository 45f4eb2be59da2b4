//! The wiring: [`Settings`] in, a running nudge out. [`Application::build`]
//! opens the event store and the read models, starts the projection and the
//! webhook dispatcher, and binds the HTTP server; `serve`, `demo`, the
//! benchmarks and the tests all start nudge through it.

use std::{future::Future, net::SocketAddr, sync::Arc};

use crate::server::{
    AppState, HttpConfig, Services, Webhooks, owner_reads::OwnerReads, rate_limit::RateLimiter, routes, serve,
};
use crate::services::{keys, models::Models, training_jobs::TrainingJobs};
use projections::{FeatureProjection, ProjectionConfig, ProjectionError, ReadModel};
use store::EventStore;
use store::StoreError;
use tokio::net::TcpListener;
use tokio_util::sync::{CancellationToken, DropGuard};
use webhooks::{Dispatcher, DispatcherConfig};

/// Everything a running nudge is built from: where its data lives and how it
/// serves, projects and delivers. `nudge serve` reads it from the command line
/// ([`crate::config::ServeArgs::settings`]); `demo`, the benchmarks and the tests make their own.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Address to listen on (port 0 picks a free port).
    pub listen: SocketAddr,
    /// Event store URL.
    pub store: String,
    /// Read-model database URL.
    pub read_models: String,
    /// How the projection batches and holds its work, and the policy it decides with.
    pub projection: ProjectionConfig,
    /// How the HTTP server treats requests.
    pub http: HttpConfig,
    /// Webhook delivery.
    pub webhooks: DispatcherConfig,
}

impl Settings {
    /// nudge on the store at `store` with its read models beside it, on a free
    /// loopback port, everything else at its defaults.
    pub fn new(store: &str) -> Self {
        Self {
            listen: ([127, 0, 0, 1], 0).into(),
            store: store.to_owned(),
            read_models: read_models_beside(store),
            projection: ProjectionConfig::default(),
            http: HttpConfig::default(),
            webhooks: DispatcherConfig::default(),
        }
    }
}

/// The read models a command other than `serve` uses: `given`, or their home
/// beside `store` (chosen before the store is opened, which would make its
/// file, as `serve` chooses), refused before anything is made when
/// [`database::Database::connect`] would refuse it.
pub fn read_models_url(store: &str, given: Option<&str>) -> Result<String, database::DatabaseError> {
    let url = given.map_or_else(|| read_models_beside(store), str::to_owned);
    database::Database::check_url(&url)?;
    Ok(url)
}

/// The read models' default home for a store.
///
/// A SQLite store keeps them in a file of its own beside it, named after it
/// (`data/nudge.db`: `data/nudge-read-models.db`, see
/// [`separate_read_models`]), so that appends and the projection's commits
/// take two write locks and fill two WALs instead of queueing behind each
/// other. A store file made before that layout holds its read models itself:
/// one that exists while the file beside it does not keeps them there. A
/// PostgreSQL store keeps them in its own database; any other store in
/// `sqlite://data/read-models.db`.
pub fn read_models_beside(store: &str) -> String {
    match store.split_once("://").map(|(scheme, _)| scheme) {
        Some("sqlite") => match (sqlite_file(store), separate_read_models(store)) {
            (Some(file), Some(separate)) => {
                let beside = sqlite_file(&separate).is_some_and(|f| f.exists());
                if file.exists() && !beside { store.to_owned() } else { separate }
            }
            _ => store.to_owned(),
        },
        Some("postgres" | "postgresql") => store.to_owned(),
        _ => "sqlite://data/read-models.db".to_owned(),
    }
}

/// The file of its own beside a SQLite store that its read models live in
/// (`sqlite://data/nudge.db`: `sqlite://data/nudge-read-models.db`, the
/// store's URL options kept); `None` for another store or an in-memory one.
pub fn separate_read_models(store: &str) -> Option<String> {
    let file = sqlite_file(store)?;
    let name = match (file.file_stem(), file.extension()) {
        (Some(stem), Some(extension)) => {
            format!("{}-read-models.{}", stem.to_string_lossy(), extension.to_string_lossy())
        }
        (Some(stem), None) => format!("{}-read-models", stem.to_string_lossy()),
        _ => return None,
    };
    let options = store.split_once('?').map(|(_, options)| format!("?{options}")).unwrap_or_default();
    Some(format!("sqlite://{}{options}", file.with_file_name(name).display()))
}

/// The file a `sqlite://` URL names, when it does not exist yet: a command
/// that only reads it would make an empty one and find nothing.
pub fn missing_sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    sqlite_file(url).filter(|file| !file.exists())
}

/// The database file a `sqlite://` URL names, unless it is in memory.
fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    let options = <sqlx::sqlite::SqliteConnectOptions as std::str::FromStr>::from_str(url).ok()?;
    let file = options.get_filename();
    let in_memory = url.contains(":memory:") || url.contains("mode=memory") || file.as_os_str().is_empty();
    (!in_memory).then(|| file.to_path_buf())
}

/// A database URL without its password, for logs and errors.
pub fn redact(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The event store could not be opened.
    #[error("cannot open the event store {url}: {source}")]
    Store {
        /// Its URL, password hidden.
        url: String,
        /// Why.
        source: StoreError,
    },
    /// The read-model database could not be opened.
    #[error("cannot open the read models {url}: {source}")]
    ReadModels {
        /// Its URL, password hidden.
        url: String,
        /// Why.
        source: ProjectionError,
    },
    /// The address could not be bound.
    #[error("cannot listen on {address} (--listen): {source}")]
    Bind {
        /// The address.
        address: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The bound listener's address could not be read.
    #[error("cannot listen: {0}")]
    Listen(#[from] std::io::Error),
    /// The projection could not start.
    #[error("cannot start the feature projection: {0}")]
    Projection(#[from] ProjectionError),
    /// The model registry could not be read.
    #[error("cannot load the active model: {0}")]
    Models(#[from] ml::MlError),
    /// Bound to a reachable address with no API key in force.
    #[error(
        "nudge refuses to serve on {0} without an API key; create one with \
         `nudge keys create --name ops --scopes admin`, or listen on 127.0.0.1"
    )]
    NoKeys(SocketAddr),
    /// The API keys could not be read.
    #[error("cannot read the API keys: {0}")]
    Keys(#[from] keys::KeyError),
    /// The connection timeouts do not fit the request timeout.
    #[error(
        "--idle-timeout ({}) must be longer than --request-timeout ({}): a request waiting on its body \
         would be cut off as idle before it timed out",
        crate::durations::written(*idle),
        crate::durations::written(*request)
    )]
    Timeouts {
        /// The idle timeout.
        idle: std::time::Duration,
        /// The request timeout.
        request: std::time::Duration,
    },
    /// The client that forwards reads to other instances could not be made.
    #[error("cannot make the client that forwards reads to other instances: {0}")]
    Forwarding(reqwest::Error),
    /// The webhook dispatcher could not start.
    #[error("cannot start the webhook dispatcher: {0}")]
    Webhooks(#[from] webhooks::WebhookError),
}

/// Where other instances reach this one's API when `--advertise-url` does
/// not say: the address bound, unless it is every interface (`0.0.0.0`,
/// `[::]`), which names no host to reach; then none, and other instances
/// answer reads of this one's players from the stored rows.
fn advertised(bound: SocketAddr) -> String {
    if bound.ip().is_unspecified() {
        tracing::info!(%bound, "no --advertise-url: other instances will not forward reads of this one's players here");
        return String::new();
    }
    format!("http://{bound}")
}

/// The server, bound and ready to run.
pub struct Application {
    listener: TcpListener,
    state: AppState,
    cors_origins: Vec<axum::http::HeaderValue>,
    timeouts: serve::Timeouts,
    /// Stops the projection and the dispatcher when the server stops (or is dropped unstarted).
    stop_projection: DropGuard,
}

impl Application {
    /// Opens the event store and the read models, binds the listener, starts
    /// projecting the store and delivering the webhooks.
    pub async fn build(settings: Settings) -> Result<Self, StartError> {
        let Settings { listen, store, read_models, mut projection, http, webhooks: dispatch } = settings;
        let (idle, request) = (http.timeouts.idle, http.limits.request_timeout);
        if idle <= request {
            return Err(StartError::Timeouts { idle, request });
        }
        let store = store::connect_partitioned(&store, projection.logical_partitions)
            .await
            .map_err(|source| StartError::Store { url: redact(&store), source })?;
        // A store that records partitions fixes their number for the read models too.
        projection.logical_partitions = projection.logical_partitions.or(store.partitions());
        let read_model = ReadModel::connect(&read_models)
            .await
            .map_err(|source| StartError::ReadModels { url: redact(&read_models), source })?;
        let keys = keys::Keys::remembering(read_model.database().clone());
        let loopback_only = listen.ip().is_loopback();
        if !loopback_only && !keys.any().await? {
            return Err(StartError::NoKeys(listen));
        }
        let listener =
            TcpListener::bind(listen).await.map_err(|source| StartError::Bind { address: listen, source })?;
        if projection.address.is_empty() {
            projection.address = advertised(listener.local_addr()?);
        }
        let jobs = TrainingJobs::new(read_model.database().clone(), projection.instance.clone());
        let models = Models::load(read_model.registry(), Arc::clone(&store), jobs).await?;
        let stop_projection = CancellationToken::new();
        tokio::spawn(models.clone().follow_activations(stop_projection.clone()));
        let database = read_model.webhooks();
        let webhooks = Webhooks {
            targets: dispatch.client.targets.clone(),
            dispatcher: Dispatcher::start(database.clone(), dispatch, stop_projection.clone())?,
            database,
        };
        // Before the projection starts: the handles it takes must reach the recorder.
        let metrics = crate::telemetry::metrics();
        let peer_secret = read_model.peer_secret().await?;
        let projection = FeatureProjection::start(
            store.clone(),
            read_model,
            projection,
            models.active().clone(),
            stop_projection.clone(),
        )
        .await?;
        let state = AppState::new(Services {
            store,
            rate_limiter: http.limits.rate_per_key.map(|rate| Arc::new(RateLimiter::new(rate))),
            limits: http.limits,
            metrics,
            projection,
            models,
            webhooks,
            keys,
            loopback_only,
            dapr: http.dapr,
            writes: Default::default(),
            requests: Default::default(),
            owner_reads: OwnerReads::new(&http.peer_roots, &peer_secret).map_err(StartError::Forwarding)?,
        });
        Ok(Self {
            listener,
            state,
            cors_origins: http.cors_origins,
            timeouts: http.timeouts,
            stop_projection: stop_projection.drop_guard(),
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The event store it serves.
    pub fn store(&self) -> Arc<dyn EventStore> {
        Arc::clone(&self.state.store)
    }

    /// The API keys it checks requests against (with what it remembers of them).
    pub fn keys(&self) -> &keys::Keys {
        &self.state.keys
    }

    /// The read model it projects into.
    pub fn read_model(&self) -> &ReadModel {
        self.state.projection.read_model()
    }

    /// Serves until `shutdown` completes, then stops accepting and lets the
    /// requests in flight (and so their appends) finish; then stops the
    /// projection, which lands its commits in flight and releases its
    /// partition leases, so that other instances take over at once.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        let projection = self.state.projection.clone();
        let app = routes::router(self.state, self.cors_origins);
        let served = serve::serve(self.listener, app, self.timeouts, shutdown).await;
        drop(self.stop_projection);
        projection.stopped().await;
        served
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sqlite_store_keeps_its_read_models_in_a_file_of_its_own_named_after_it() {
        assert_eq!(
            separate_read_models("sqlite://data/nudge.db").as_deref(),
            Some("sqlite://data/nudge-read-models.db")
        );
        assert_eq!(
            separate_read_models("sqlite:///var/lib/nudge/events?mode=rwc").as_deref(),
            Some("sqlite:///var/lib/nudge/events-read-models?mode=rwc")
        );
        assert_eq!(separate_read_models("sqlite::memory:"), None);
        assert_eq!(read_models_beside("postgres://db/nudge"), "postgres://db/nudge");
        assert_eq!(read_models_beside("kurrentdb://localhost:2113"), "sqlite://data/read-models.db");
    }

    #[test]
    fn a_store_file_made_before_the_separate_file_keeps_its_read_models() -> std::io::Result<()> {
        let folder = std::env::temp_dir().join(format!("nudge-app-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&folder)?;
        let store = format!("sqlite://{}/nudge.db", folder.display());
        let separate = format!("sqlite://{}/nudge-read-models.db", folder.display());
        let fresh = read_models_beside(&store);
        std::fs::write(folder.join("nudge.db"), b"")?;
        let older = read_models_beside(&store);
        std::fs::write(folder.join("nudge-read-models.db"), b"")?;
        let both = read_models_beside(&store);
        std::fs::remove_dir_all(&folder)?;
        assert_eq!(fresh, separate, "a new store gets the file of its own");
        assert_eq!(older, store, "an older store keeps its read models");
        assert_eq!(both, separate);
        Ok(())
    }
}
