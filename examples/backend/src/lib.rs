//! A reference **app backend** for secure client-side upload to Folio (or ImageKit): the piece
//! of *your* server that a browser asks for an upload token, and that Folio then tells when the
//! upload has landed.
//!
//! ```text
//! browser ──POST /auth {uploadPayload, expire, publicKey}──▶ this backend   (holds the private key)
//! browser ◀──────────────── {"token": "<JWT>"} ─────────────
//! browser ──POST /api/v2/files/upload (fields + token + file)──▶ Folio      (verifies the token)
//! Folio ──POST /webhooks {"type": "file.created", ...} (signed)──▶ this backend (holds the webhook secret)
//! browser ──GET /files──▶ this backend: the files it learned about
//! ```
//!
//! ## `POST /auth`: the token endpoint
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
//! ## `POST /webhooks`: the event receiver
//!
//! The browser uploads straight to Folio, so the backend never sees the upload happen; Folio
//! posts an account webhook event (`folio webhooks add URL --events file.created`) instead. The
//! receiver:
//!
//! 1. **Verifies the delivery** with the `standardwebhooks` crate, the scheme the official SDKs'
//!    `client.webhooks.unwrap` use: an HMAC-SHA256 over `webhook-id`, `webhook-timestamp` and
//!    the raw body, keyed with the secret `folio webhooks add` printed. A bad or missing
//!    signature, or a timestamp more than 5 minutes off (a replayed delivery), is a `401`;
//!    nothing in the body is trusted before that.
//! 2. **Reads the event** (`{"type", "id", "created_at", "data", "request"?}`); a signed body
//!    that is not one is a `400`.
//! 3. **Records `file.created`** (here in memory; a real app writes its database) once per
//!    `webhook-id`: delivery is at-least-once, so a retry of an event already recorded is
//!    acknowledged and not recorded twice. Other event types are acknowledged and ignored.
//! 4. **Answers `200` at once.** Anything that is not a 2xx (or takes longer than Folio's
//!    timeout) is retried, so slow work belongs in a queue, after the answer.
//!
//! `GET /files` (same bearer token as `/auth`) lists the files recorded from `file.created`, in
//! arrival order: the app's own view of what its users uploaded.
//!
//! Browsers call `/auth` and `/files` cross-origin (the page is usually served from another
//! origin than this API), so those answer CORS preflights for the `Authorization` and
//! `Content-Type` headers. `/webhooks` is server to server and has no CORS.
//!
//! Configuration, from the environment ([`Settings::from_env`]):
//!
//! | variable | meaning |
//! | --- | --- |
//! | `FOLIO_PUBLIC_KEY`, `FOLIO_PRIVATE_KEY` | the key pair tokens are signed with (`folio keys create`) |
//! | `BACKEND_BEARER_TOKEN` | the secret a caller must present (16 characters or more) |
//! | `FOLIO_WEBHOOK_SECRET` | the endpoint's secret, whole, as `folio webhooks add` printed it (`whsec_…`) or Folio's config declares it; unset: `POST /webhooks` answers `503` |
//! | `BACKEND_LISTEN` | address to listen on; default `127.0.0.1:3001` |
//! | `BACKEND_ALLOW_ORIGIN` | the origin allowed to call it from a browser; default `*` |

use std::collections::VecDeque;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use folio_token::{TokenRequest, TokenRequestError};
use serde::Deserialize;
use serde_json::{json, Value};
use standardwebhooks::{Webhook, WebhookError};
use subtle::ConstantTimeEq;
use tower_http::cors::{AllowOrigin, CorsLayer};

/// The default listen address: loopback, so that trying the example exposes nothing.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:3001";

/// The shortest bearer token accepted in the configuration.
pub const MIN_BEARER_LEN: usize = 16;

/// The shortest webhook secret accepted (Folio's own minimum; the secrets `folio webhooks add`
/// prints are 38 characters).
pub const MIN_WEBHOOK_SECRET_LEN: usize = 24;

/// Files kept by the in-memory record; the oldest go first. A real app has a database.
pub const MAX_RECORDED_FILES: usize = 1000;

/// A token request is a few parameters; nothing legitimate comes near this.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// An event carries one File object (custom and embedded metadata included): far below this.
const MAX_EVENT_BYTES: usize = 1024 * 1024;

/// What the backend runs with. `Debug` redacts the secrets.
#[derive(Clone)]
pub struct Settings {
    /// The public key: the tokens' `kid`; requests must name it.
    pub public_key: String,
    /// The private key tokens are signed with. Never leaves this process.
    pub private_key: String,
    /// The secret callers present as `Authorization: Bearer <token>`.
    pub bearer_token: String,
    /// The webhook endpoint's secret, exactly as `folio webhooks add` printed it (`whsec_…`)
    /// or Folio's config declares it; `None`: no webhook receiver.
    pub webhook_secret: Option<String>,
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
            .field(
                "webhook_secret",
                &self.webhook_secret.as_ref().map(|_| "<redacted>"),
            )
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
        let webhook_secret = match var("FOLIO_WEBHOOK_SECRET") {
            None => None,
            Some(secret) if secret.trim().is_empty() => None,
            Some(secret) => {
                let secret = secret.trim().to_owned();
                // The same rule as Folio's for a secret declared in its config; it catches a
                // half-pasted value.
                if secret.chars().count() < MIN_WEBHOOK_SECRET_LEN
                    || secret.chars().any(char::is_whitespace)
                {
                    return Err(format!(
                        "FOLIO_WEBHOOK_SECRET must be the whole secret `folio webhooks add` \
                         printed for this endpoint (whsec_…, {MIN_WEBHOOK_SECRET_LEN} characters \
                         or more, no spaces)"
                    ));
                }
                // Separate credentials: whoever can verify events must not be able to mint
                // upload tokens (spec webhooks §1).
                if secret == private_key {
                    return Err("FOLIO_WEBHOOK_SECRET must not be the private key: use the \
                                endpoint's own secret from `folio webhooks add`"
                        .to_owned());
                }
                Some(secret)
            }
        };
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
            webhook_secret,
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

/// The shared state of the routes.
struct App {
    settings: Settings,
    /// `file.created` events recorded, oldest first. A std mutex: it is held for a push or a
    /// clone, never across an await.
    files: Mutex<VecDeque<Recorded>>,
}

/// One recorded `file.created` event.
struct Recorded {
    /// The delivery's `webhook-id` (the event's `id`): the same on every retry of the event.
    event_id: String,
    /// The event's `data`: the File object, as Folio sent it.
    file: Value,
}

/// The routes: `POST /auth` and `GET /files` with CORS, `POST /webhooks`.
pub fn router(settings: Settings) -> Router {
    let origin = match &settings.allow_origin {
        Some(origin) => AllowOrigin::exact(origin.clone()),
        None => AllowOrigin::any(),
    };
    let cors = CorsLayer::new()
        .allow_origin(origin)
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
        .max_age(Duration::from_secs(24 * 3600));
    let app = Arc::new(App {
        settings,
        files: Mutex::new(VecDeque::new()),
    });
    let browser = Router::new()
        .route("/auth", post(auth))
        .route("/files", get(files))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(cors);
    let webhooks = Router::new()
        .route("/webhooks", post(webhook))
        .layer(DefaultBodyLimit::max(MAX_EVENT_BYTES));
    browser.merge(webhooks).with_state(app)
}

async fn auth(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    let settings = &app.settings;
    if !settings.is_authorized(&headers) {
        return sign_in_first(
            "Sign in first: upload tokens are only for signed-in users \
             (send Authorization: Bearer <token>).",
        );
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

/// The parts of an event this receiver reads (spec webhooks §2); others (`request`) are
/// allowed and ignored.
#[derive(Deserialize)]
struct Event {
    #[serde(rename = "type")]
    kind: String,
    id: String,
    /// Not used here, but required: a body without it is not an event.
    #[serde(rename = "created_at")]
    _created_at: String,
    data: Value,
}

async fn webhook(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(secret) = &app.settings.webhook_secret else {
        return message(
            StatusCode::SERVICE_UNAVAILABLE,
            "This backend has no webhook secret: set FOLIO_WEBHOOK_SECRET to the secret \
             `folio webhooks add` printed.",
        );
    };
    // The key is the secret's text itself, `whsec_` prefix included, as the official SDKs use
    // it. Not `Webhook::new(secret)`: that strips `whsec_` and base64-decodes the rest, a
    // different key, and every delivery would fail to verify.
    let verified = Webhook::from_bytes(secret.as_bytes().to_vec())
        .and_then(|webhook| webhook.verify(&body, &headers));
    if let Err(e) = verified {
        return refused(&e);
    }

    // Signed by Folio from here on.
    let event: Event = match serde_json::from_slice(&body) {
        Ok(event) => event,
        Err(e) => {
            return message(
                StatusCode::BAD_REQUEST,
                &format!("The body is not a webhook event: {e}"),
            )
        }
    };
    if event.kind != "file.created" {
        // Acknowledged, or Folio would retry it for a day.
        return StatusCode::OK.into_response();
    }
    if !event.data.get("fileId").is_some_and(Value::is_string) {
        return message(
            StatusCode::BAD_REQUEST,
            "The file.created event's data is not a File object (no fileId).",
        );
    }
    // The verified header, not the body, names the delivery; Folio sends the same value in both.
    let event_id = headers
        .get(standardwebhooks::HEADER_WEBHOOK_ID)
        .and_then(|v| v.to_str().ok())
        .map_or(event.id, str::to_owned);

    // A poisoned lock only means another request panicked mid-push; the list is still whole.
    // (The duplicate check only sees the files still kept, which is enough for retries: they
    // come within a day, long before 1000 newer uploads push an event out, in this example.)
    let mut files = app.files.lock().unwrap_or_else(PoisonError::into_inner);
    if !files.iter().any(|r| r.event_id == event_id) {
        if files.len() == MAX_RECORDED_FILES {
            files.pop_front();
        }
        files.push_back(Recorded {
            event_id,
            file: event.data,
        });
    }
    StatusCode::OK.into_response()
}

/// The answer to a delivery that does not verify: 401, with the reason for the sender's log.
fn refused(error: &WebhookError) -> Response {
    let reason = match error {
        WebhookError::TimestampTooOldError | WebhookError::FutureTimestampError => {
            "webhook-timestamp is more than 5 minutes off: a stale or replayed delivery"
        }
        WebhookError::MissingHeader(_)
        | WebhookError::InvalidHeader(_)
        | WebhookError::InvalidTimestamp => {
            "webhook-id, webhook-timestamp and webhook-signature must be present and well-formed"
        }
        _ => "webhook-signature does not match this endpoint's secret",
    };
    message(
        StatusCode::UNAUTHORIZED,
        &format!("Refused: {reason} ({error})."),
    )
}

async fn files(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    if !app.settings.is_authorized(&headers) {
        return sign_in_first("Sign in first (send Authorization: Bearer <token>).");
    }
    let files: Vec<Value> = app
        .files
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .map(|r| r.file.clone())
        .collect();
    let mut response = Json(json!({ "files": files })).into_response();
    // The list changes with every upload.
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn sign_in_first(text: &str) -> Response {
    let mut response = message(StatusCode::UNAUTHORIZED, text);
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

fn message(status: StatusCode, text: &str) -> Response {
    (status, Json(json!({ "message": text }))).into_response()
}
