//! `GET /healthz`: whether this instance can serve uploads, for load balancers and
//! orchestrators. 200 when the catalog and the blob store both answer within two seconds,
//! 503 otherwise; the body names which dependency failed, never why (the cause is logged).

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::state::AppState;

const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

pub async fn healthz(State(state): State<AppState>) -> Response {
    let (catalog, blobs) = tokio::join!(
        tokio::time::timeout(PROBE_TIMEOUT, state.catalog.ping()),
        tokio::time::timeout(PROBE_TIMEOUT, state.blobs.ping()),
    );
    let verdict = |name: &str, result: Result<anyhow::Result<()>, _>| match result {
        Ok(Ok(())) => "ok",
        Ok(Err(e)) => {
            tracing::warn!(dependency = name, error = %e, "health check failed");
            "unavailable"
        }
        Err(_) => {
            tracing::warn!(dependency = name, "health check timed out");
            "unavailable"
        }
    };
    let catalog = verdict("catalog", catalog);
    let blobs = verdict("blobs", blobs);
    let healthy = catalog == "ok" && blobs == "ok";
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if healthy { "ok" } else { "unavailable" },
        "catalog": catalog,
        "blobs": blobs,
    });
    (status, Json(body)).into_response()
}
