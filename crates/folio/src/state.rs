//! What every handler shares.

use std::sync::Arc;

use crate::config::Config;
use crate::delivery::RenderPool;
use crate::store::blob::BlobStore;
use crate::store::DynCatalog;
use crate::upload::fetch::Fetcher;
use crate::upload::unproven::UnprovenFiles;

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub catalog: DynCatalog,
    pub blobs: BlobStore,
    /// Render slots and the render memory pool (`delivery.render_concurrency`,
    /// `delivery.max_render_memory_bytes`): renders in flight never hold more than the pool.
    pub renders: Arc<RenderPool>,
    pub clock: Clock,
    /// Demo mode (`folio serve --demo`): the browser page and its token endpoint; `None` (no
    /// such routes) unless asked for.
    pub demo: Option<Arc<crate::web::Demo>>,
    /// Downloads `file` URLs (one connection pool for the server).
    pub fetcher: Arc<Fetcher>,
    /// Extension runners (spec §3.9).
    pub extensions: Arc<crate::extensions::Extensions>,
    /// Wakes this instance's webhook worker after a change wrote to the outbox.
    pub webhook_bell: Arc<crate::webhooks::Bell>,
    /// File bytes held by uploads whose credentials are not proven yet, server-wide.
    pub unproven_files: Arc<UnprovenFiles>,
    /// This instance's background job runner (its lease owner id, and the bell that wakes it
    /// when a job is submitted here).
    pub jobs: Arc<crate::jobs::Jobs>,
    /// Counters and gauges for `/metrics`.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// The cap on uploads served at once.
    pub fairness: Arc<crate::fairness::Fairness>,
}

/// The time token checks run against. Tests pin it to replay the spec's test vectors, whose
/// timestamps are in the past.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    System,
    Fixed(i64),
}

impl Clock {
    pub fn now_secs(self) -> i64 {
        match self {
            Clock::System => crate::ids::now_secs(),
            Clock::Fixed(t) => t,
        }
    }
}

impl AppState {
    pub fn new(config: Config, catalog: DynCatalog, blobs: BlobStore) -> anyhow::Result<Self> {
        let fetcher = Arc::new(Fetcher::new(&config.fetch)?);
        let extensions = Arc::new(crate::extensions::Extensions::new(&config.extensions)?);
        let unproven_files = UnprovenFiles::new(config.limits.unauthenticated_file_bytes);
        let renders = Arc::new(RenderPool::new(
            config.delivery.render_concurrency,
            config.delivery.max_render_memory_bytes,
        ));
        let fairness = Arc::new(crate::fairness::Fairness::new(&config));
        Ok(AppState {
            config: Arc::new(config),
            catalog,
            blobs,
            renders,
            clock: Clock::System,
            demo: None,
            fetcher,
            extensions,
            webhook_bell: Arc::default(),
            unproven_files,
            jobs: Arc::default(),
            metrics: Arc::default(),
            fairness,
        })
    }

    /// `url_endpoint` of an account (spec §0.3): the delivery base (`delivery.public_url`, else
    /// `public_url`) plus the account's URL id. Every delivery URL the server builds starts
    /// with it.
    pub fn url_endpoint(&self, url_id: &str) -> String {
        format!("{}/{}", self.config.delivery_url(), url_id)
    }
}
