//! The HTTP surface: routes, and the edge every request passes (request id, CORS, JSON errors
//! for routing failures and panics, retry advice for the SDKs, one log line per request).

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;
use tracing::Instrument;

use crate::custom_fields;
use crate::delivery;
use crate::error::{AppError, InternalCause, RefusalReason, WireError, DEFAULT_HELP};
use crate::state::AppState;
use crate::upload;
use crate::web::SameOriginOnly;

pub mod health;
mod limits;
pub mod linger;

pub use limits::PATH as LIMITS_PATH;

/// What browsers may read of a response: the request id and rate limit headers, and the tus
/// headers of resumable uploads (without them tus clients fail on "missing offset").
const EXPOSED_HEADERS: &str = concat!(
    "x-ik-requestId, x-request-id, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, ",
    "X-RateLimit-Interval, ",
    "Location, Upload-Offset, Upload-Length, Upload-Expires, Upload-Metadata, Tus-Resumable, ",
    "Tus-Version, Tus-Extension, Tus-Max-Size, Tus-Checksum-Algorithm, X-Folio-File-Id, Link"
);

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/v1/files/upload", post(upload::upload_v1))
        .route("/api/v2/files/upload", post(upload::upload_v2))
        .route(limits::PATH, get(limits::limits))
        // Resumable uploads (tus 1.0 bound to the token); no routes when switched off.
        .merge(crate::resumable::routes(&state))
        .merge(management_routes())
        .route("/healthz", get(health::healthz))
        // Delivery: `{url_endpoint}/{filePath}` with url_endpoint = public URL + account id.
        // `get` answers HEAD too.
        .route("/{url_id}/{*path}", get(delivery::serve))
        // Demo mode's page and token endpoint (`folio serve --demo`); no routes otherwise.
        .merge(crate::web::routes(&state))
        // The console (`console.enabled`), which also serves the routes below under
        // `/console/api` for its signed-in sessions.
        .merge(crate::console::routes(&state, management_routes()))
        .fallback(|| async { AppError::NotFound })
        .method_not_allowed_fallback(|| async { AppError::MethodNotAllowed })
        .layer(CatchPanicLayer::custom(|_| {
            AppError::internal(anyhow::anyhow!("a handler panicked")).into_response()
        }))
        .layer(middleware::from_fn_with_state(state.clone(), edge))
        .with_state(state)
}

/// The management API (spec §8, §9.2, media-api §2), authenticated by [`Principal`]:
/// at the root with the private key, and under `/console/api` with a console session.
///
/// [`Principal`]: crate::upload::auth::Principal
fn management_routes() -> Router<AppState> {
    Router::new()
        // Custom metadata fields API (spec §9.2).
        .route(
            "/v1/customMetadataFields",
            get(custom_fields::list).post(custom_fields::create),
        )
        .route(
            "/v1/customMetadataFields/",
            patch(custom_fields::missing_id).delete(custom_fields::missing_id),
        )
        .route(
            "/v1/customMetadataFields/{id}",
            patch(custom_fields::update).delete(custom_fields::delete),
        )
        // List and search (spec §8.9); old clients add a trailing slash (media-api §1).
        .route("/v1/files", get(crate::media::list::list))
        .route("/v1/files/", get(crate::media::list::list))
        // The media management API (media-api §2).
        .merge(crate::media::routes())
}

/// The request behind a change, as its events name it (webhooks.md §2 `request`): the id the
/// response carries in `x-ik-requestId`, and the client's `User-Agent` (at most 512 chars).
#[derive(Debug, Clone, serde::Serialize)]
pub struct RequestInfo {
    pub x_request_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// The TCP peer (for rate limits; never in an event).
    #[serde(skip)]
    pub client_ip: Option<std::net::IpAddr>,
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for RequestInfo {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        // The edge puts it on every request; a router without the edge (unit tests) gets a
        // fresh id.
        Ok(parts
            .extensions
            .get::<RequestInfo>()
            .cloned()
            .unwrap_or_else(|| RequestInfo {
                x_request_id: uuid::Uuid::new_v4().to_string(),
                user_agent: None,
                client_ip: None,
            }))
    }
}

/// Spec §5.3 and §5.4: every response carries the request id and CORS headers; `OPTIONS`
/// is answered here for every route.
async fn edge(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let user_agent = request
        .headers()
        .get(http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.chars().take(512).collect());
    let client_ip = request
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|info| info.0.ip());
    request.extensions_mut().insert(RequestInfo {
        x_request_id: request_id.clone(),
        user_agent,
        client_ip,
    });
    let started = Instant::now();
    let method = request.method().clone();
    let matched = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned());
    let route = matched
        .clone()
        .unwrap_or_else(|| request.uri().path().to_owned());
    // Every log line of the request, and of the tasks it spawns, carries its id.
    let span = tracing::info_span!("request", request_id = %request_id);

    // The console is same-origin only, whatever answers under its path: its routes, a refusal
    // here, a 404. This is the one place its responses are hardened.
    let console = is_console_path(request.uri().path());
    let mut response = if method == Method::OPTIONS && console {
        // A preflight from elsewhere is not granted.
        StatusCode::NO_CONTENT.into_response()
    } else if method == Method::OPTIONS {
        let mut response = preflight();
        // tus discovery is an OPTIONS of the creation URL.
        if state.config.resumable.enabled
            && request.uri().path().starts_with(crate::resumable::PATH)
        {
            crate::resumable::discovery(&state, response.headers_mut());
        }
        response
    } else if state.config.read_only && !matches!(method, Method::GET | Method::HEAD) {
        // Maintenance: nothing changes. The body is read first (bounded), so that a client
        // still sending sees the answer.
        let limits = &state.config.limits;
        linger::SharedBody::new(request.into_body())
            .discard_rest(limits.hard_cap(), limits.idle_body_timeout())
            .await;
        AppError::ReadOnly.into_response()
    } else {
        next.run(request).instrument(span).await
    };

    if state.config.help_text != DEFAULT_HELP {
        if let Some(wire) = response.extensions_mut().remove::<WireError>() {
            let extensions = std::mem::take(response.extensions_mut());
            let headers = std::mem::take(response.headers_mut());
            response = wire.response(&state.config.help_text);
            response.extensions_mut().extend(extensions);
            for (name, value) in headers.iter() {
                if name != http::header::CONTENT_LENGTH {
                    response.headers_mut().insert(name.clone(), value.clone());
                }
            }
        }
    }

    if console {
        crate::web::harden_page(&mut response, "same-origin");
    }
    let status = response.status();
    advise_retry(status, response.headers_mut());
    let headers = response.headers_mut();
    if let Ok(id) = HeaderValue::from_str(&request_id) {
        headers.insert("x-ik-requestId", id.clone());
        headers.insert("x-request-id", id);
    }
    // The demo page holds a secret and must stay unreadable from other origins.
    if response.extensions().get::<SameOriginOnly>().is_none() {
        let headers = response.headers_mut();
        headers.insert(
            http::header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
        headers.insert(
            http::header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSED_HEADERS),
        );
    }

    let status = response.status().as_u16();
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    let refused = response
        .extensions()
        .get::<RefusalReason>()
        .and(response.extensions().get::<WireError>())
        .map(|w| w.code);
    // Unmatched paths are counted together: a client must not be able to add series.
    let metrics_route = matched.as_deref().unwrap_or("unmatched");
    state.metrics.response(metrics_route, status, refused);
    if let Some(InternalCause(cause)) = response.extensions().get::<InternalCause>() {
        state.metrics.internal_error(cause);
        tracing::error!(
            http.method = %method, http.route = %route, http.status = status,
            duration_ms = elapsed_ms, request_id = %request_id, error = ?cause,
            "request failed"
        );
    } else if let Some(RefusalReason(reason)) = response.extensions().get::<RefusalReason>() {
        // A refusal leaves a trace at the default level, with what the client was not told.
        tracing::info!(
            http.method = %method, http.route = %route, http.status = status,
            duration_ms = elapsed_ms, request_id = %request_id, code = %refused.unwrap_or_default(),
            reason = %reason, "request refused"
        );
    } else {
        tracing::debug!(
            http.method = %method, http.route = %route, http.status = status,
            duration_ms = elapsed_ms, request_id = %request_id,
            "request"
        );
    }
    response
}

/// `retry-after` of a 429 or 503 whose handler named no delay, in seconds.
const DEFAULT_RETRY_AFTER_SECS: u64 = 1;

/// Retry advice for clients that retry on their own (media-api §1: the new SDKs retry 408,
/// 409, 429 and 5xx twice unless told not to, waiting `retry-after-ms` / `retry-after`):
///
/// * every 4xx but 408 and 429 is deterministic (the same request gets the same answer):
///   `x-should-retry: false`;
/// * 429 and 503 say when to come back: `retry-after` (the handler's, else
///   [`DEFAULT_RETRY_AFTER_SECS`]) and the same in `retry-after-ms`;
/// * other 5xx are left as the handler made them (a retry may well succeed; a client-token
///   upload marks its own 5xx `x-should-retry: false`, since its token is spent).
///
/// A value a handler set is never overwritten.
fn advise_retry(status: StatusCode, headers: &mut HeaderMap) {
    match status.as_u16() {
        429 | 503 => {
            let secs = headers
                .get(http::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or(DEFAULT_RETRY_AFTER_SECS);
            headers
                .entry(http::header::RETRY_AFTER)
                .or_insert_with(|| HeaderValue::from(secs));
            headers
                .entry(RETRY_AFTER_MS)
                .or_insert_with(|| HeaderValue::from(secs.saturating_mul(1000)));
        }
        408 => {}
        400..=499 => {
            headers
                .entry(SHOULD_RETRY)
                .or_insert_with(|| HeaderValue::from_static("false"));
        }
        _ => {}
    }
}

const SHOULD_RETRY: &str = "x-should-retry";
const RETRY_AFTER_MS: &str = "retry-after-ms";

fn is_console_path(path: &str) -> bool {
    path == "/console" || path.starts_with("/console/")
}

fn preflight() -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let h = response.headers_mut();
    h.insert(
        http::header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"),
    );
    h.insert(
        http::header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(concat!(
            "Authorization, Content-Type, X-Requested-With, Tus-Resumable, Upload-Length, ",
            "Upload-Offset, Upload-Metadata, Upload-Checksum, Upload-Defer-Length, ",
            "Upload-Concat, X-HTTP-Method-Override"
        )),
    );
    h.insert(
        http::header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn advised(status: u16, preset: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in preset {
            headers.insert(*name, HeaderValue::from_static(value));
        }
        advise_retry(StatusCode::from_u16(status).expect("status"), &mut headers);
        headers
    }

    #[test]
    fn deterministic_failures_say_do_not_retry() {
        for status in [400, 401, 403, 404, 405, 409, 413, 416, 422, 431] {
            let h = advised(status, &[]);
            assert_eq!(h[SHOULD_RETRY], "false", "{status}");
            assert!(!h.contains_key(http::header::RETRY_AFTER), "{status}");
        }
    }

    #[test]
    fn transient_failures_say_when() {
        for status in [429, 503] {
            let h = advised(status, &[]);
            assert_eq!(h[http::header::RETRY_AFTER], "1", "{status}");
            assert_eq!(h[RETRY_AFTER_MS], "1000", "{status}");
            assert!(!h.contains_key(SHOULD_RETRY), "{status}");
        }
        // The handler's delay is kept, and given in milliseconds too.
        let h = advised(503, &[("retry-after", "5")]);
        assert_eq!(h[http::header::RETRY_AFTER], "5");
        assert_eq!(h[RETRY_AFTER_MS], "5000");
        let h = advised(429, &[("retry-after", "2"), ("retry-after-ms", "1500")]);
        assert_eq!(h[RETRY_AFTER_MS], "1500");
    }

    #[test]
    fn success_timeouts_and_other_server_errors_are_left_alone() {
        for status in [200, 201, 204, 206, 304, 408, 500, 502, 504] {
            assert!(advised(status, &[]).is_empty(), "{status}");
        }
        // A client-token upload's own verdict on its 5xx stands.
        let h = advised(500, &[("x-should-retry", "false")]);
        assert_eq!(h[SHOULD_RETRY], "false");
        // As does a handler that knows a 4xx is worth retrying.
        let h = advised(409, &[("x-should-retry", "true")]);
        assert_eq!(h[SHOULD_RETRY], "true");
    }
}
