//! What an operator watches, in the Prometheus text format, on a listener of its own
//! (`metrics.listen`, loopback by default): it answers anyone who can reach it, and says how
//! busy the server is, so it stays off the public address unless put there.
//!
//! Counters are bumped where the thing happens (the edge for every response, the upload
//! handlers for uploads); gauges that describe shared state (renders, the webhook backlog) are
//! read when scraped.

use std::sync::atomic::AtomicI64;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::state::AppState;

pub const PATH: &str = "/metrics";

/// How long a scrape waits for the webhook backlog count before leaving it out.
const BACKLOG_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct UploadLabels {
    /// `v1`, `v2` or `resumable`.
    pub endpoint: &'static str,
    /// `basic`, `v1_signature` or `v2_token`: how the request set out to authenticate.
    pub auth: &'static str,
    /// `ok`, or the error code of the refusal (`TOKEN_USED`, ..., `INTERNAL`).
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndpointLabels {
    endpoint: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DurationLabels {
    endpoint: &'static str,
    /// `ok` or `error`.
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResponseLabels {
    /// The route pattern (`/api/v2/files/upload`, `/{url_id}/{*path}`), never the raw path.
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabels {
    code: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StoreLabels {
    /// `catalog` or `blobs`.
    store: &'static str,
}

pub struct Metrics {
    registry: Registry,
    uploads: Family<UploadLabels, Counter>,
    upload_bytes: Family<EndpointLabels, Counter>,
    upload_seconds: Family<DurationLabels, Histogram>,
    in_flight: Gauge,
    responses: Family<ResponseLabels, Counter>,
    refusals: Family<CodeLabels, Counter>,
    store_errors: Family<StoreLabels, Counter>,
    renders_busy: Gauge,
    renders_waiting: Gauge,
    render_memory_free: Gauge,
    webhook_backlog: Gauge<i64, AtomicI64>,
    streamed_parts: Family<PartLabels, Counter>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PartLabels {
    /// `in` (S3 took it as it was streamed) or `resent` (its request failed; sent again from
    /// memory).
    outcome: &'static str,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("folio");
        let uploads = Family::<UploadLabels, Counter>::default();
        registry.register(
            "uploads",
            "Finished uploads by endpoint, auth mode and outcome (ok or the error code)",
            uploads.clone(),
        );
        let upload_bytes = Family::<EndpointLabels, Counter>::default();
        registry.register(
            "upload_bytes",
            "Bytes of files stored by uploads",
            upload_bytes.clone(),
        );
        let upload_seconds = Family::<DurationLabels, Histogram>::new_with_constructor(|| {
            // 5 ms to about 80 s.
            Histogram::new(exponential_buckets(0.005, 2.0, 15))
        });
        registry.register(
            "upload_duration_seconds",
            "Time from the request head to the upload's answer",
            upload_seconds.clone(),
        );
        let in_flight = Gauge::default();
        registry.register(
            "uploads_in_flight",
            "Upload requests being received or stored now",
            in_flight.clone(),
        );
        let responses = Family::<ResponseLabels, Counter>::default();
        registry.register(
            "http_responses",
            "Responses by route and status",
            responses.clone(),
        );
        let refusals = Family::<CodeLabels, Counter>::default();
        registry.register(
            "refusals",
            "Refused requests by error code (token rejections are the TOKEN_*, SIGNATURE_*, \
             EXPIRE_* and KEY_* codes)",
            refusals.clone(),
        );
        let store_errors = Family::<StoreLabels, Counter>::default();
        registry.register(
            "store_errors",
            "Requests failed by the catalog or the blob store",
            store_errors.clone(),
        );
        let renders_busy = Gauge::default();
        registry.register(
            "render_slots_busy",
            "Renders (thumbnails, transformations, upload checks) running now",
            renders_busy.clone(),
        );
        let renders_waiting = Gauge::default();
        registry.register(
            "render_queue",
            "Renders waiting for a render slot",
            renders_waiting.clone(),
        );
        let render_memory_free = Gauge::default();
        registry.register(
            "render_memory_free_bytes",
            "Bytes of the render memory pool not reserved now",
            render_memory_free.clone(),
        );
        let webhook_backlog = Gauge::<i64, AtomicI64>::default();
        registry.register(
            "webhook_backlog",
            "Outbound deliveries (events, callbacks, extension jobs) not done yet, all instances",
            webhook_backlog.clone(),
        );
        let streamed_parts = Family::<PartLabels, Counter>::default();
        registry.register(
            "s3_streamed_parts",
            "Parts of resumable uploads streamed to S3 while their bytes arrived, by outcome",
            streamed_parts.clone(),
        );
        Metrics {
            registry,
            uploads,
            upload_bytes,
            upload_seconds,
            in_flight,
            responses,
            refusals,
            store_errors,
            renders_busy,
            renders_waiting,
            render_memory_free,
            webhook_backlog,
            streamed_parts,
        }
    }
}

/// An upload being counted: in flight until [`Self::finish`] (or until dropped, for a request
/// whose client went away).
pub struct UploadTimer<'a> {
    metrics: &'a Metrics,
    endpoint: &'static str,
    started: std::time::Instant,
}

impl Drop for UploadTimer<'_> {
    fn drop(&mut self) {
        self.metrics.in_flight.dec();
    }
}

impl UploadTimer<'_> {
    /// Counts the upload's outcome: `Ok(bytes stored)` or the error code.
    pub fn finish(self, auth: &'static str, outcome: Result<u64, &'static str>) {
        let m = self.metrics;
        let endpoint = self.endpoint;
        let (label, result) = match outcome {
            Ok(bytes) => {
                m.upload_bytes
                    .get_or_create(&EndpointLabels { endpoint })
                    .inc_by(bytes);
                ("ok", "ok")
            }
            Err(code) => (code, "error"),
        };
        m.uploads
            .get_or_create(&UploadLabels {
                endpoint,
                auth,
                outcome: label,
            })
            .inc();
        m.upload_seconds
            .get_or_create(&DurationLabels { endpoint, result })
            .observe(self.started.elapsed().as_secs_f64());
    }
}

impl Metrics {
    /// Starts counting an upload to `endpoint`.
    pub fn upload(&self, endpoint: &'static str) -> UploadTimer<'_> {
        self.in_flight.inc();
        UploadTimer {
            metrics: self,
            endpoint,
            started: std::time::Instant::now(),
        }
    }

    /// Counts a response (the edge calls this for every one).
    pub fn response(&self, route: &str, status: u16, refusal: Option<&'static str>) {
        self.responses
            .get_or_create(&ResponseLabels {
                route: route.to_owned(),
                status,
            })
            .inc();
        if let Some(code) = refusal {
            self.refusals.get_or_create(&CodeLabels { code }).inc();
        }
    }

    /// Counts a request failed by a dependency, found by the type of its cause.
    pub fn internal_error(&self, cause: &anyhow::Error) {
        let store = cause.chain().find_map(|e| {
            if e.is::<sqlx::Error>() || e.is::<rusqlite::Error>() {
                Some("catalog")
            } else if e.is::<object_store::Error>() || e.is::<std::io::Error>() {
                Some("blobs")
            } else {
                None
            }
        });
        if let Some(store) = store {
            self.store_errors
                .get_or_create(&StoreLabels { store })
                .inc();
        }
    }

    /// The text exposition, with the gauges of shared state read now.
    async fn render(&self, state: &AppState) -> String {
        let renders = &state.renders;
        self.renders_busy.set(gauge_value(renders.busy()));
        self.renders_waiting.set(gauge_value(renders.waiting()));
        self.render_memory_free
            .set(gauge_value(renders.memory_free()));
        match tokio::time::timeout(BACKLOG_TIMEOUT, state.catalog.pending_deliveries()).await {
            Ok(Ok(pending)) => {
                self.webhook_backlog.set(gauge_value(pending));
            }
            Ok(Err(e)) => tracing::warn!(error = %e, "metrics: cannot count the webhook backlog"),
            Err(_) => tracing::warn!("metrics: counting the webhook backlog timed out"),
        }
        // Counted by the blob store; copied here as they are now.
        if let Some((taken, resent)) = state.blobs.streamed_parts() {
            for (outcome, n) in [("in", taken), ("resent", resent)] {
                self.streamed_parts
                    .get_or_create(&PartLabels { outcome })
                    .inner()
                    .store(n, std::sync::atomic::Ordering::Relaxed);
            }
        }
        let mut text = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut text, &self.registry) {
            tracing::warn!(error = %e, "metrics: encoding failed");
        }
        text
    }
}

fn gauge_value(n: impl TryInto<i64>) -> i64 {
    n.try_into().unwrap_or(i64::MAX)
}

/// The metrics listener's routes: `GET /metrics`, nothing else.
pub fn router(state: AppState) -> Router {
    Router::new().route(PATH, get(scrape)).with_state(state)
}

async fn scrape(State(state): State<AppState>) -> Response {
    let text = state.metrics.render(&state).await;
    let mut response = (StatusCode::OK, text).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    response
}
