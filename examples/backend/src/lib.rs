//! A reference **app backend token endpoint** for secure client-side upload to Folio (or
//! ImageKit): the piece of *your* server that a browser asks for an upload token.
//!
//! ```text
//! browser ──POST /auth {uploadPayload, expire, publicKey}──▶ this backend   (holds the private key)
//! browser ◀──────────────── {"token": "<JWT>"} ─────────────
//! browser ──POST /api/v2/files/upload (fields + token + file)──▶ Folio      (verifies the token)
//! ```
//!
//! The request and response have exactly the shape ImageKit documents (spec §10.1). Before it
//! signs anything the endpoint checks, in this order:
//!
//! 1. **Who is asking.** Only users of the app may get tokens, otherwise anyone could fill the
//!    media library. A real app checks its own session here; this example accepts one bearer
//!    token from its configuration (`Authorization: Bearer …`) and answers `401` otherwise.
//! 2. **What they ask for** ([`folio_token::TokenRequest`]): every `uploadPayload` value is a
//!    string, no key is `file` or `token`, `expire` is a JSON number from 1 to 3600 seconds, and
//!    `publicKey` is this backend's public key. Anything else is a `400` whose `message` says
//!    what to fix.
//!
//! The token pins every parameter the browser will send: Folio refuses the upload if the
//! browser sends anything else, or leaves something out.
//!
//! Browsers call it cross-origin (the page is usually served from another origin than this
//! API), so it answers CORS preflights for the `Authorization` and `Content-Type` headers.
//!
//! Configuration, from the environment ([`Settings::from_env`]):
//!
//! | variable | meaning |
//! | --- | --- |
//! | `FOLIO_PUBLIC_KEY`, `FOLIO_PRIVATE_KEY` | the key pair tokens are signed with (`folio keys create`) |
//! | `BACKEND_BEARER_TOKEN` | the secret a caller must present (16 characters or more) |
//! | `BACKEND_LISTEN` | address to listen on; default `127.0.0.1:3001` |
//! | `BACKEND_ALLOW_ORIGIN` | the origin allowed to call it from a browser; default `*` |

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use folio_token::{TokenRequest, TokenRequestError};
use serde_json::json;
use subtle::ConstantTimeEq;
use tower_http::cors::{AllowOrigin, CorsLayer};

/// The default listen address: loopback, so that trying the example exposes nothing.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:3001";

/// The shortest bearer token accepted in the configuration.
pub const MIN_BEARER_LEN: usize = 16;

/// A token request is a few parameters; nothing legitimate comes near this.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// What the backend runs with. `Debug` redacts the secrets.
#[derive(Clone)]
pub struct Settings {
    /// The public key: the tokens' `kid`; requests must name it.
    pub public_key: String,
    /// The private key tokens are signed with. Never leaves this process.
    pub private_key: String,
    /// The secret callers present as `Authorization: Bearer <token>`.
    pub bearer_token: String,
    /// Where to listen.
    pub listen: SocketAddr,
    /// The origin browsers may call from (`None`: any, `*`).
    pub allow_origin: Option<HeaderValue>,
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("public_key", &self.public_key)
            .field("private_key", &"<redacted>")
            .field("bearer_token", &"<redacted>")
            .field("listen", &self.listen)
            .field("allow_origin", &self.allow_origin)
            .finish()
    }
}

impl Settings {
    /// Reads the settings from the process environment.
    ///
    /// # Errors
    ///
    /// A message naming the variable that is missing or invalid.
    pub fn from_env() -> Result<Settings, String> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `var` (the environment, or a map in tests).
    ///
    /// # Errors
    ///
    /// A message naming the variable that is missing or invalid.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Settings, String> {
        let required = |name: &str| match var(name) {
            Some(value) if !value.trim().is_empty() => Ok(value.trim().to_owned()),
            _ => Err(format!("{name} is not set")),
        };
        let public_key = required("FOLIO_PUBLIC_KEY")?;
        let private_key = required("FOLIO_PRIVATE_KEY")?;
        let bearer_token = required("BACKEND_BEARER_TOKEN")?;
        if bearer_token.len() < MIN_BEARER_LEN {
            return Err(format!(
                "BACKEND_BEARER_TOKEN is too short: use {MIN_BEARER_LEN} characters or more \
                 (e.g. `openssl rand -hex 16`)"
            ));
        }
        let listen_text = var("BACKEND_LISTEN").unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
        let listen = listen_text.trim().parse().map_err(|_| {
            format!("BACKEND_LISTEN={listen_text}: expected an address like {DEFAULT_LISTEN}")
        })?;
        let allow_origin = match var("BACKEND_ALLOW_ORIGIN") {
            None => None,
            Some(origin) if origin.trim() == "*" || origin.trim().is_empty() => None,
            Some(origin) => Some(HeaderValue::from_str(origin.trim()).map_err(|_| {
                format!("BACKEND_ALLOW_ORIGIN={origin}: expected an origin like https://app.example.com")
            })?),
        };
        Ok(Settings {
            public_key,
            private_key,
            bearer_token,
            listen,
            allow_origin,
        })
    }

    /// Whether `headers` carry `Authorization: Bearer <the configured token>`.
    ///
    /// This is where a real app checks its session or its own access token instead.
    fn is_authorized(&self, headers: &HeaderMap) -> bool {
        let Some(value) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        else {
            return false;
        };
        let Some((scheme, credentials)) = value.trim().split_once(' ') else {
            return false;
        };
        scheme.eq_ignore_ascii_case("bearer")
            && bool::from(
                credentials
                    .trim()
                    .as_bytes()
                    .ct_eq(self.bearer_token.as_bytes()),
            )
    }
}

/// The endpoint: `POST /auth`, with CORS.
pub fn router(settings: Settings) -> Router {
    let origin = match &settings.allow_origin {
        Some(origin) => AllowOrigin::exact(origin.clone()),
        None => AllowOrigin::any(),
    };
    let cors = CorsLayer::new()
        .allow_origin(origin)
        .allow_methods([Method::POST])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
        .max_age(Duration::from_secs(24 * 3600));
    Router::new()
        .route("/auth", post(auth))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(cors)
        .with_state(Arc::new(settings))
}

async fn auth(State(settings): State<Arc<Settings>>, headers: HeaderMap, body: Bytes) -> Response {
    if !settings.is_authorized(&headers) {
        let mut response = message(
            StatusCode::UNAUTHORIZED,
            "Sign in first: upload tokens are only for signed-in users \
             (send Authorization: Bearer <token>).",
        );
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return response;
    }
    // The body is read as JSON whatever its Content-Type: the documented jQuery example posts
    // JSON text with jQuery's default form Content-Type.
    let minted = TokenRequest::from_json(&body)
        .and_then(|request| request.sign(&settings.public_key, &settings.private_key));
    match minted {
        Ok(token) => {
            let mut response = Json(json!({ "token": token })).into_response();
            // A token is single use: no cache may keep or replay it.
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(TokenRequestError::Mint(_)) => message(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The backend cannot mint tokens: check its key configuration.",
        ),
        Err(e) => message(StatusCode::BAD_REQUEST, &e.to_string()),
    }
}

fn message(status: StatusCode, text: &str) -> Response {
    (status, Json(json!({ "message": text }))).into_response()
}
