//! Starting and stopping the server. The connections themselves (caps, timers, HTTP/1.1
//! and HTTP/2) are `accept`'s.

use std::future::Future;
use std::net::SocketAddr;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::state::AppState;
use crate::store::blob::BlobStore;
use crate::store::postgres::Migrate;
use crate::store::{open_catalog, ApiKey};

mod accept;
mod activity;
mod caps;

/// Opens the catalog and the blob store named by the configuration, creating the default
/// account on first start (its key pair is returned so the caller can show it once).
///
/// A shared (PostgreSQL) catalog is migrated first unless `postgres.migrate_on_start` is off;
/// then its schema must already be current (`folio migrate`).
pub async fn open_state(config: Config) -> anyhow::Result<(AppState, Option<ApiKey>)> {
    let migrate = if config.postgres.migrate_on_start {
        Migrate::Apply
    } else {
        Migrate::Verify
    };
    let catalog = open_catalog(&config, migrate).await?;
    let blobs = BlobStore::open(&config)?;
    let created = catalog.bootstrap().await?;
    Ok((AppState::new(config, catalog, blobs)?, created))
}

/// Opens the stores of an existing library, for the commands other than `serve`: nothing is
/// created, not an embedded catalog, not the default account, not a PostgreSQL schema (it must
/// be current).
pub async fn open_existing_state(config: Config) -> anyhow::Result<AppState> {
    let url = config.catalog_url();
    if let Some(file) = crate::store::sqlite::file_of(&url) {
        if !file.is_file() {
            let looked = std::path::absolute(&file).unwrap_or(file);
            let why = if config.catalog.is_empty() {
                format!("data_dir is {}", config.data_dir.display())
            } else {
                "catalog names it".to_owned()
            };
            anyhow::bail!(
                "no library at {} ({why}); `folio serve` creates one on its first start. \
                 Point this command at an existing one with --data-dir DIR (FOLIO_DATA_DIR), \
                 --catalog URL (FOLIO_CATALOG) or --config FILE.",
                looked.display()
            );
        }
    }
    let catalog = open_catalog(&config, Migrate::Verify).await?;
    let blobs = BlobStore::open(&config)?;
    AppState::new(config, catalog, blobs)
}

/// A server running in the background (used by tests and by `serve`).
pub struct RunningServer {
    pub addr: SocketAddr,
    /// Where `/metrics` is served, unless switched off.
    pub metrics_addr: Option<SocketAddr>,
    pub state: AppState,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl RunningServer {
    /// Stops accepting, lets requests in flight finish, closes idle connections, and waits.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        (&mut self.task).await.context("server task")
    }
}

/// The bound listeners: the API's, and the metrics endpoint's unless switched off.
pub struct Listeners {
    pub api: TcpListener,
    pub metrics: Option<TcpListener>,
}

/// Serves on `listeners` until `shutdown` resolves, then lets requests in flight finish.
pub async fn serve(
    state: AppState,
    listeners: Listeners,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let metrics = listeners.metrics.map(|listener| {
        let app = crate::metrics::router(state.clone());
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "the metrics listener failed");
            }
        })
    });
    // In maintenance nothing writes: the work waits for a server that may.
    let writes = !state.config.read_only;
    let sweeper = writes.then(|| crate::sweeper::spawn(state.clone()));
    let runner = writes.then(|| crate::jobs::spawn(state.clone()));
    let deliveries =
        (writes && state.config.webhooks.deliver).then(|| crate::webhooks::spawn(state.clone()));
    let config = std::sync::Arc::clone(&state.config);
    let catalog = std::sync::Arc::clone(&state.catalog);
    let jobs = std::sync::Arc::clone(&state.jobs);
    let app = crate::http::router(state);
    accept::serve_connections(
        listeners.api,
        app,
        &config.server,
        &config.help_text,
        shutdown,
    )
    .await;
    if let Some(metrics) = metrics {
        metrics.abort();
    }
    for task in [sweeper, runner].into_iter().flatten() {
        task.abort();
    }
    // Attempts in flight are dropped; their rows are due again when their leases end.
    if let Some(worker) = deliveries {
        worker.abort();
    }
    // A job cut short here is resumed from its last checkpoint, by this instance's successor
    // or another instance, at once rather than when the lease runs out.
    if writes {
        if let Err(e) = catalog.release_jobs(jobs.owner()).await {
            tracing::warn!(error = ?e, "could not release the leases of background jobs");
        }
    }
}

/// Binds `config.listen` and `metrics.listen`. With port 0 the system picks a port, and the
/// configuration is updated to the real address so that delivery URLs point at it.
pub async fn bind(mut state: AppState) -> anyhow::Result<(AppState, Listeners)> {
    let listener = TcpListener::bind(state.config.listen)
        .await
        .with_context(|| format!("binding {}", state.config.listen))?;
    let metrics = match state.config.metrics.addr()? {
        Some(addr) => Some(TcpListener::bind(addr).await.with_context(|| {
            format!(
                "binding metrics.listen {addr} (set FOLIO_METRICS__LISTEN to another address, \
                 or to nothing to switch the metrics endpoint off)"
            )
        })?),
        None => None,
    };
    let addr = listener.local_addr()?;
    let metrics_addr = metrics.as_ref().map(TcpListener::local_addr).transpose()?;
    let mut config = (*state.config).clone();
    config.listen = addr;
    if let Some(metrics_addr) = metrics_addr {
        config.metrics.listen = metrics_addr.to_string();
    }
    state.config = std::sync::Arc::new(config);
    Ok((
        state,
        Listeners {
            api: listener,
            metrics,
        },
    ))
}

/// Starts a server on `state.config.listen` (port 0 picks a free port) in the background.
pub async fn start(state: AppState) -> anyhow::Result<RunningServer> {
    let (state, listeners) = bind(state).await?;
    let addr = listeners.api.local_addr()?;
    let metrics_addr = state.config.metrics.addr()?;
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(serve(state.clone(), listeners, async {
        let _ = rx.await;
    }));
    Ok(RunningServer {
        addr,
        metrics_addr,
        state,
        shutdown: Some(tx),
        task,
    })
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
