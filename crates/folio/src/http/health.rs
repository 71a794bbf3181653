//! `GET /healthz`: whether this instance can serve uploads, for load balancers and
//! orchestrators. 200 when the catalog and the blob store both answer within two seconds,
//! 503 otherwise; the body names which dependency failed, never why (the cause is logged).
//! `folio health` runs the same probes from the command line.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::state::AppState;

const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// What the probes found: per dependency, nothing or what went wrong.
pub struct Health {
    pub catalog: Result<(), String>,
    pub blobs: Result<(), String>,
}

impl Health {
    pub fn healthy(&self) -> bool {
        self.catalog.is_ok() && self.blobs.is_ok()
    }
}

/// Probes the catalog and the blob store at once, each bounded by [`PROBE_TIMEOUT`].
pub async fn probe(state: &AppState) -> Health {
    let (catalog, blobs) = tokio::join!(
        tokio::time::timeout(PROBE_TIMEOUT, state.catalog.ping()),
        tokio::time::timeout(PROBE_TIMEOUT, state.blobs.ping()),
    );
    let verdict = |result: Result<anyhow::Result<()>, _>| match result {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(format!("{e:#}")),
        Err(_) => Err(format!("no answer within {PROBE_TIMEOUT:?}")),
    };
    Health {
        catalog: verdict(catalog),
        blobs: verdict(blobs),
    }
}

pub async fn healthz(State(state): State<AppState>) -> Response {
    let health = probe(&state).await;
    let word = |name: &str, verdict: &Result<(), String>| match verdict {
        Ok(()) => "ok",
        Err(e) => {
            tracing::warn!(dependency = name, error = %e, "health check failed");
            "unavailable"
        }
    };
    let body = json!({
        "status": if health.healthy() { "ok" } else { "unavailable" },
        "catalog": word("catalog", &health.catalog),
        "blobs": word("blobs", &health.blobs),
    });
    let status = if health.healthy() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}
