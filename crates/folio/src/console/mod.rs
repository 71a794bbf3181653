//! The media console at `/console/`: a page (plain HTML, CSS and JS modules embedded in the
//! binary) that browses, searches, previews, edits and uploads through the public API.
//!
//! * **Sign-in.** `POST /console/session` with the account's private key, or a one-time link
//!   from `folio console link` (`GET /console/login?token=…`), gives a session: a random
//!   secret in a cookie (`HttpOnly`, `SameSite=Strict`, `Secure` over https, scoped to the
//!   console's path), whose SHA-256 the catalog keeps with the public key signed in with, a
//!   CSRF token and an expiry. The private key never reaches the page's storage: the page
//!   forgets it once the session exists.
//! * **The API.** `/console/api/<path>` is the management API itself (the same router), for
//!   requests that carry the session cookie and its CSRF token in `X-Folio-CSRF`. The session's
//!   key is checked as every API call checks it (revoked, expired, account disabled), and the
//!   request goes on with that key's Basic credentials, set here: the handlers cannot tell a
//!   console call from any other client's, so the console can do nothing the API cannot.
//!   Two helpers the SDKs do on the client with the private key are here on the server:
//!   upload tokens (`/console/api/token`) and signed URLs (`/console/api/sign`).
//! * **Same origin only.** Console responses carry no CORS headers and preflights of console
//!   paths are not granted (`http::edge`), and every call needs the CSRF token, which only the
//!   console's own page can read.

pub mod session;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use folio_token::TokenRequest;
use serde::Deserialize;
use serde_json::json;

use crate::error::AppError;
use crate::state::AppState;
use crate::store::{ConsoleSession, ConsoleSessionKind, KeyWithAccount};
use crate::upload::auth::{key_for_private, key_for_public, Principal};

const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = include_str!("assets/app.css");

/// A sign-in or helper request is a few fields.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// The console's routes, `api` (the management API) nested under `/console/api`; none when
/// `console.enabled` is off.
pub fn routes(state: &AppState, api: Router<AppState>) -> Router<AppState> {
    if !state.config.console.enabled {
        return Router::new();
    }
    let api = api
        .route("/token", post(upload_token))
        .route("/sign", post(sign_url))
        .layer(middleware::from_fn_with_state(state.clone(), signed_in));
    Router::new()
        .route(
            "/console",
            get(|| async { Redirect::permanent("console/") }),
        )
        .route("/console/", get(page))
        .route("/console/app.js", get(app_js))
        .route("/console/app.css", get(app_css))
        .route("/console/tus-client.js", get(crate::web::tus_client_js))
        .route(
            "/console/session",
            get(current).post(sign_in).delete(sign_out),
        )
        .route("/console/login", get(login_link))
        .nest("/console/api", api)
        // Every response under /console is hardened at the edge (`http::edge`): unreadable
        // from other origins, out of caches and frames.
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}

/// The page's policy: its own scripts and styles only; images, media, frames (PDF previews:
/// served without a CSP sandbox, which Chromium's viewer refuses) and reads also from the
/// delivery origin (thumbnails, previews, the transformation playground); the page itself in
/// no frame; no forms posting elsewhere.
fn content_security_policy(delivery_url: &str) -> HeaderValue {
    let delivery = crate::web::origin_of(delivery_url)
        .map(|origin| format!(" {origin}"))
        .unwrap_or_default();
    let policy = format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; \
         img-src 'self' blob: data:{delivery}; media-src 'self' blob:{delivery}; \
         connect-src 'self'{delivery}; frame-src 'self'{delivery}; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'"
    );
    HeaderValue::from_str(&policy).unwrap_or_else(|_| {
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
             connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        )
    })
}

async fn page(State(state): State<AppState>) -> Response {
    let mut response = (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        INDEX_HTML,
    )
        .into_response();
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        content_security_policy(&state.config.delivery_url()),
    );
    response
}

async fn app_js() -> Response {
    crate::web::asset("text/javascript; charset=utf-8", APP_JS)
}

async fn app_css() -> Response {
    crate::web::asset("text/css; charset=utf-8", APP_CSS)
}

/// The path the session cookie is scoped to: the console's, under the public URL's path.
fn cookie_path(state: &AppState) -> String {
    let public = state.config.public_url();
    let after_scheme = public.split_once("://").map_or(public.as_str(), |(_, r)| r);
    let base = after_scheme
        .find('/')
        .map_or("", |slash| &after_scheme[slash..])
        .trim_end_matches('/');
    format!("{base}/console/")
}

fn cookie_header(state: &AppState, value: &str, max_age: u64) -> HeaderValue {
    let secure = state.config.public_url().starts_with("https://");
    let cookie = session::set_cookie(value, &cookie_path(state), max_age, secure);
    HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// What the page learns of its session.
fn session_json(state: &AppState, key: &KeyWithAccount, session: &ConsoleSession) -> Response {
    Json(json!({
        "publicKey": key.key.public_key,
        "account": key.account.url_id,
        "urlEndpoint": format!("{}/{}", state.config.delivery_url(), key.account.url_id),
        "csrfToken": session.csrf,
        "expiresAt": session.expires_at,
    }))
    .into_response()
}

/// Starts a session for `key`, answering with its JSON and cookie.
async fn start_session(state: &AppState, key: &KeyWithAccount) -> Result<Response, AppError> {
    let now = state.clock.now_secs();
    let ttl = state.config.console.session_ttl_secs;
    let secret = session::new_secret();
    let session = ConsoleSession {
        id_hash: session::hash(&secret),
        kind: ConsoleSessionKind::Session,
        public_key: key.key.public_key.clone(),
        csrf: session::new_secret(),
        created_at: now,
        expires_at: now.saturating_add(i64::try_from(ttl).unwrap_or(i64::MAX)),
    };
    state
        .catalog
        .create_console_session(&session)
        .await
        .map_err(AppError::internal)?;
    let mut response = session_json(state, key, &session);
    response
        .headers_mut()
        .insert(header::SET_COOKIE, cookie_header(state, &secret, ttl));
    Ok(response)
}

/// The live session the request's cookie names, with its key (still live too).
async fn session_of(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<(ConsoleSession, KeyWithAccount), AppError> {
    let secret = session::cookie(headers, session::COOKIE).ok_or(AppError::ConsoleSignIn)?;
    let found = state
        .catalog
        .console_session(&session::hash(secret))
        .await
        .map_err(AppError::internal)?
        .filter(|s| s.kind == ConsoleSessionKind::Session)
        .filter(|s| s.expires_at > state.clock.now_secs())
        .ok_or(AppError::ConsoleSignIn)?;
    let key = key_for_public(state, &found.public_key)
        .await
        .map_err(|_| AppError::ConsoleSignIn)?;
    Ok((found, key))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SignIn {
    private_key: String,
}

/// `POST /console/session {"privateKey": …}`: the API's own key checks and messages.
async fn sign_in(State(state): State<AppState>, body: Bytes) -> Response {
    let result = async {
        let form: SignIn = serde_json::from_slice(&body).map_err(|_| AppError::NoPrivateKey)?;
        let key = key_for_private(&state, Some(form.private_key.trim())).await?;
        start_session(&state, &key).await
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

/// `GET /console/session`: who is signed in, and the CSRF token (the page reads it after a
/// reload); 401 when nobody is.
async fn current(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match session_of(&state, &headers).await {
        Ok((session, key)) => session_json(&state, &key, &session),
        Err(e) => e.into_response(),
    }
}

/// `DELETE /console/session`: signs out (the CSRF token is required: another site cannot).
async fn sign_out(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let result = async {
        let (found, _) = session_of(&state, &headers).await?;
        if !session::csrf_matches(&headers, &found.csrf) {
            return Err(AppError::ConsoleCsrf);
        }
        state
            .catalog
            .take_console_session(&found.id_hash)
            .await
            .map_err(AppError::internal)?;
        let mut response = StatusCode::NO_CONTENT.into_response();
        response
            .headers_mut()
            .insert(header::SET_COOKIE, cookie_header(&state, "", 0));
        Ok(response)
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

#[derive(Deserialize)]
struct LinkQuery {
    token: Option<String>,
}

/// `GET /console/login?token=…`: a link from `folio console link`, used once, becomes a
/// session; then on to the console (with `?signin=expired` when the link was no good).
async fn login_link(State(state): State<AppState>, Query(query): Query<LinkQuery>) -> Response {
    let result = async {
        let token = query.token.ok_or(AppError::ConsoleSignIn)?;
        let link = state
            .catalog
            .take_console_session(&session::hash(&token))
            .await
            .map_err(AppError::internal)?
            .filter(|s| s.kind == ConsoleSessionKind::Link)
            .filter(|s| s.expires_at > state.clock.now_secs())
            .ok_or(AppError::ConsoleSignIn)?;
        let key = key_for_public(&state, &link.public_key)
            .await
            .map_err(|_| AppError::ConsoleSignIn)?;
        let session = start_session(&state, &key).await?;
        let mut response = Redirect::to("./").into_response();
        if let Some(cookie) = session.headers().get(header::SET_COOKIE) {
            response
                .headers_mut()
                .insert(header::SET_COOKIE, cookie.clone());
        }
        Ok::<_, AppError>(response)
    }
    .await;
    result.unwrap_or_else(|e| match e {
        AppError::ConsoleSignIn => Redirect::to("./?signin=expired").into_response(),
        other => other.into_response(),
    })
}

/// A one-time login link for the account's key `public_key`, valid for `console.link_ttl_secs`
/// (`folio console link`): the URL to open.
pub async fn create_link(state: &AppState, public_key: &str) -> anyhow::Result<String> {
    let now = state.clock.now_secs();
    let token = session::new_secret();
    let ttl = i64::try_from(state.config.console.link_ttl_secs).unwrap_or(i64::MAX);
    state
        .catalog
        .create_console_session(&ConsoleSession {
            id_hash: session::hash(&token),
            kind: ConsoleSessionKind::Link,
            public_key: public_key.to_owned(),
            csrf: session::new_secret(),
            created_at: now,
            expires_at: now.saturating_add(ttl),
        })
        .await?;
    Ok(format!(
        "{}/console/login?token={token}",
        state.config.public_url()
    ))
}

/// Console API calls: a live session and its CSRF token, then the session key's Basic
/// credentials in place of whatever the request carried (the handlers, the console's own
/// helpers included, authenticate with them like any API call).
async fn signed_in(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let (found, key) = match session_of(&state, request.headers()).await {
        Ok(found) => found,
        Err(e) => return e.into_response(),
    };
    if !session::csrf_matches(request.headers(), &found.csrf) {
        return AppError::ConsoleCsrf.into_response();
    }
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("{}:", key.key.private_key));
    match HeaderValue::from_str(&format!("Basic {basic}")) {
        Ok(value) => {
            request.headers_mut().insert(header::AUTHORIZATION, value);
        }
        Err(_) => return AppError::ConsoleSignIn.into_response(),
    }
    next.run(request).await
}

/// `POST /console/api/token`: an upload token for the page's upload, the same request and
/// answer as `/demo/auth` (spec §10.1), signed with the session's key pair.
async fn upload_token(Principal(key): Principal, body: Bytes) -> Response {
    match TokenRequest::from_json(&body)
        .and_then(|request| request.sign(&key.key.public_key, &key.key.private_key))
    {
        Ok(token) => Json(json!({ "token": token })).into_response(),
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Json(json!({ "message": e.to_string() })),
        )
            .into_response(),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SignRequest {
    /// The URL after the URL endpoint and its `/`: a file path, with `tr:` if any.
    path: String,
    /// Seconds from now; none: a URL that does not expire.
    expire_seconds: Option<u64>,
}

/// `POST /console/api/sign`: a signed delivery URL, as the SDKs build one with the private key
/// (media-api §4).
async fn sign_url(
    State(state): State<AppState>,
    Principal(key): Principal,
    body: Bytes,
) -> Response {
    let Ok(request) = serde_json::from_slice::<SignRequest>(&body) else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({ "message": "Expected {\"path\": …, \"expireSeconds\": …}." })),
        )
            .into_response();
    };
    let relative = request.path.trim_start_matches('/');
    let expiry = request.expire_seconds.map(|secs| {
        u64::try_from(state.clock.now_secs())
            .unwrap_or_default()
            .saturating_add(secs)
    });
    let endpoint = format!("{}/{}", state.config.delivery_url(), key.account.url_id);
    let url =
        crate::delivery::signed_url::signed_url(&key.key.private_key, &endpoint, relative, expiry);
    Json(json!({ "url": url })).into_response()
}
