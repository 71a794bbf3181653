//! Resumable uploads: tus 1.0.0 bound to the single-use upload token (spec resumable.md).
//!
//! ```text
//! POST  (creation) ─► credentials (token or Basic) ─► parameters checked ─► token burned
//!                  ─► row + partial data ─► 201 Location   [+ first chunk, as PATCH]
//! PATCH (chunk)    ─► lease ─► offset check ─► bytes: limits, class, checks, checksum
//!                  ─► durable ─► offset recorded ─► [last byte: the upload pipeline's commit]
//! HEAD / GET / DELETE ─► offset / the v2 response / removal
//! ```
//!
//! The upload URL is a capability: `capability()` derives it from the key pair's private key
//! and the token's ledger key, so a creation retried with the same token gets the same URL,
//! and the catalog keeps only its SHA-256. Only a lease holder moves the offset, and only
//! after the bytes below it are durable (`store::blob::PartialWriter::checkpoint`), so a crash
//! loses at most what arrived since the last checkpoint.

pub mod tus;

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use axum::Router;
use base64::Engine;
use futures_util::StreamExt;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tracing::Instrument;

use crate::custom_fields::LiveFields;
use crate::error::AppError;
use crate::http::linger::SharedBody;
use crate::http::RequestInfo;
use crate::ids;
use crate::state::AppState;
use crate::store::blob::{blob_key, PartialState, PartialWriter};
use crate::store::{IncompleteCaps, Lease, ResumableState, ResumableUpload};
use crate::upload::auth::{ApiVersion, Authenticated, Authenticator, Mode};
use crate::upload::intake::FilePart;
use crate::upload::sink::{BlobGuard, ReceivedFile, StreamingChecks};

/// Where uploads are created; each lives at `PATH/<capability>`.
pub const PATH: &str = "/api/v2/files/upload/resumable";

/// Bytes after which a file's class (video or not) is decided, as in a multipart upload.
const CLASSIFY_AFTER: usize = 8 * 1024;

pub fn routes(state: &AppState) -> Router<AppState> {
    if !state.config.resumable.enabled {
        return Router::new();
    }
    Router::new()
        .route(PATH, post(create))
        .route(&format!("{PATH}/{{id}}"), any(upload))
}

/// The headers of tus discovery (`OPTIONS`), added by the edge to its preflight answer.
pub fn discovery(state: &AppState, headers: &mut HeaderMap) {
    let limits = &state.config.limits;
    headers.insert("tus-version", HeaderValue::from_static(tus::VERSION));
    headers.insert("tus-extension", HeaderValue::from_static(tus::EXTENSIONS));
    headers.insert(
        "tus-checksum-algorithm",
        HeaderValue::from_static(tus::CHECKSUM_ALGORITHMS),
    );
    headers.insert(
        "tus-max-size",
        HeaderValue::from(limits.max_file_size.max(limits.max_video_size)),
    );
}

/// What the catalog's `storage` column holds for an upload: the partial data's state and
/// what the bytes so far told.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Progress {
    #[serde(flatten)]
    blob: PartialState,
    /// The first bytes were classified (and passed the class's size limit).
    #[serde(default)]
    classified: bool,
    /// The MIME type the magic bytes gave, once known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mime: Option<String>,
    /// Created with Basic credentials rather than a token.
    #[serde(default)]
    basic: bool,
}

/// The upload URL's secret part: 192 bits of HMAC-SHA256 under the key pair's private key
/// of the credential that created the upload, base64url.
fn capability(private_key: &str, ledger_key: &[u8]) -> String {
    let mut mac = <Hmac<Sha256>>::new_from_slice(private_key.as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(b"folio resumable upload\0");
    mac.update(ledger_key);
    let tag = mac.finalize().into_bytes();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&tag[..24])
}

fn id_hash(capability: &str) -> Vec<u8> {
    Sha256::digest(capability.as_bytes()).to_vec()
}

/// The name of an upload's partial data: its id hash in hex (server-made, never user text).
fn partial_name(upload: &ResumableUpload) -> String {
    hex::encode(&upload.id_hash)
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Every request but `OPTIONS` (and a plain `GET` of the result) names the protocol version.
fn require_version(headers: &HeaderMap) -> Result<(), AppError> {
    match header(headers, tus::TUS_RESUMABLE) {
        Some(tus::VERSION) => Ok(()),
        _ => Err(AppError::TusVersion),
    }
}

fn http_date(secs: i64) -> HeaderValue {
    let time = std::time::UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).unwrap_or(0));
    HeaderValue::from_str(&httpdate::fmt_http_date(time))
        .unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Every tus answer, error or not, says its protocol version and is never cached.
fn tus_response(result: Result<Response, AppError>) -> Response {
    let mut response = match result {
        Ok(r) => r,
        Err(e) => {
            let version = matches!(e, AppError::TusVersion);
            let mut r = e.into_response();
            if version {
                r.headers_mut()
                    .insert("tus-version", HeaderValue::from_static(tus::VERSION));
            }
            r
        }
    };
    let h = response.headers_mut();
    h.insert(tus::TUS_RESUMABLE, HeaderValue::from_static(tus::VERSION));
    h.insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    response
}

fn location(state: &AppState, capability: &str) -> String {
    // Relative unless the public URL is configured: a relative Location resolves against the
    // address the client used, which behind a proxy may be the only right one.
    if state.config.public_url.is_empty() {
        format!("{PATH}/{capability}")
    } else {
        format!("{}{PATH}/{capability}", state.config.public_url())
    }
}

async fn create(
    State(state): State<AppState>,
    request: RequestInfo,
    headers: HeaderMap,
    body: Body,
) -> Response {
    // A creation with an upload refused before its body was read (bad credentials or
    // parameters) reads the rest first, as a multipart upload does (see `http::linger`).
    let body = SharedBody::new(body);
    let result = creation(&state, request, &headers, body.body()).await;
    let limits = &state.config.limits;
    body.discard_rest(limits.hard_cap(), limits.idle_body_timeout())
        .await;
    tus_response(result)
}

/// The bearer token of `Authorization: Bearer …`.
fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = header(headers, http::header::AUTHORIZATION.as_str())?.trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
        .filter(|t| !t.is_empty())
}

async fn creation(
    state: &AppState,
    request: RequestInfo,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    require_version(headers)?;
    // As a multipart upload: a place among the uploads served at once, and the client
    // address's rate (the key's is counted when the credentials are proven).
    let _slot = state.fairness.upload_slot()?;
    if let Some(ip) = request.client_ip {
        crate::fairness::rate_limit(state, crate::fairness::Scope::Address(ip)).await?;
    }
    if headers.contains_key(tus::UPLOAD_DEFER_LENGTH) {
        return Err(AppError::TusHeader("Upload-Defer-Length"));
    }
    let length = header(headers, tus::UPLOAD_LENGTH)
        .and_then(tus::parse_size)
        .ok_or(AppError::TusHeader("Upload-Length"))?;
    let limits = &state.config.limits;
    if length > limits.max_file_size.max(limits.max_video_size) {
        return Err(AppError::TusTooLarge);
    }
    if length == 0 {
        return Err(AppError::MissingFile);
    }
    let mut metadata = match header(headers, tus::UPLOAD_METADATA) {
        Some(h) => tus::parse_metadata(h).ok_or(AppError::TusHeader("Upload-Metadata"))?,
        None if headers.contains_key(tus::UPLOAD_METADATA) => {
            return Err(AppError::TusHeader("Upload-Metadata"))
        }
        None => Vec::new(),
    };
    // A token given as metadata is a credential: taken out, never stored or echoed.
    let metadata_token = metadata
        .iter()
        .position(|(k, _)| k == "token")
        .map(|i| metadata.remove(i).1.unwrap_or_default());
    let metadata_token = metadata_token
        .map(|t| String::from_utf8(t).map_err(|_| AppError::TusHeader("Upload-Metadata")))
        .transpose()?;
    let token = bearer(headers).or(metadata_token);
    let fields: Vec<(String, String)> = match &token {
        Some(t) => vec![("token".to_owned(), t.clone())],
        // Basic callers give the parameters as metadata.
        None => metadata
            .iter()
            .map(|(k, v)| {
                let v = String::from_utf8(v.clone().unwrap_or_default())
                    .map_err(|_| AppError::TusHeader("Upload-Metadata"))?;
                Ok((k.clone(), v))
            })
            .collect::<Result<_, AppError>>()?,
    };

    let authenticator = Authenticator::new(state, ApiVersion::V2, headers);
    let (principal, params) = match authenticator.creation(&fields).await {
        Err(AppError::TokenReused) => {
            return retried_creation(state, token.as_deref().unwrap_or_default()).await
        }
        other => other?,
    };
    let fields: Vec<(String, String)> = params
        .into_iter()
        .filter(|(n, _)| n != "token" && n != "file")
        .collect();

    // The parameters are checked now, before any byte is kept.
    let live = LiveFields::new(
        &state
            .catalog
            .custom_fields(&principal.account.id, false)
            .await
            .map_err(AppError::internal)?,
    );
    let params = folio_contract::parse_upload_params_with(&fields, &live)?;
    if let Some(values) = &params.custom_metadata {
        live.validate(values)
            .map_err(AppError::InvalidCustomMetadata)?;
    }
    if let Some(checks) = StreamingChecks::before_file(&fields, Some(fields.clone())) {
        if checks.certainly_fails(folio_contract::SizeKnowledge::Exactly(length), None) {
            return Err(AppError::ChecksFailed);
        }
    }

    let basic = principal.mode == Mode::Basic;
    let ledger_key = principal
        .ledger_key()
        .unwrap_or_else(rand::random::<[u8; 32]>);
    let capability = capability(&principal.key.private_key, &ledger_key);
    let now = state.clock.now_secs();
    let ttl = i64::try_from(state.config.resumable.ttl_secs).unwrap_or(i64::MAX);
    let mut upload = ResumableUpload {
        id_hash: id_hash(&capability),
        ledger_key: ledger_key.to_vec(),
        account_id: principal.account.id.clone(),
        key_id: principal.key.public_key.clone(),
        fields: serde_json::to_string(&fields).map_err(AppError::internal)?,
        metadata: tus::render_metadata(&metadata),
        length,
        offset: 0,
        version_id: ids::object_id(),
        storage: String::new(),
        state: ResumableState::Receiving,
        result: None,
        created_at: now,
        expires_at: now.saturating_add(ttl),
    };
    let key = blob_key(&upload.version_id);
    let partial = state
        .blobs
        .begin_partial(&partial_name(&upload), &key)
        .await
        .map_err(AppError::internal)?;
    upload.storage = serde_json::to_string(&Progress {
        blob: partial.clone(),
        basic,
        ..Progress::default()
    })
    .map_err(AppError::internal)?;
    let caps = IncompleteCaps {
        uploads: state.config.resumable.max_incomplete_per_key,
        bytes: state.config.resumable.max_incomplete_bytes_per_key,
    };
    let created = state.catalog.create_resumable(&upload, caps).await;
    if !matches!(created, Ok(true)) {
        discard(state, &upload, &partial).await;
        return Err(created
            .map_err(AppError::internal)
            .err()
            .unwrap_or(AppError::TusTooManyIncomplete));
    }
    tracing::info!(
        resumable.length = length,
        resumable.basic = basic,
        "resumable upload created"
    );

    let location = location(state, &capability);
    let with_upload = header(headers, http::header::CONTENT_TYPE.as_str())
        .is_some_and(|c| c.eq_ignore_ascii_case(tus::OFFSET_OCTET_STREAM));
    let mut response = if with_upload {
        // creation-with-upload: the body is the first chunk.
        patch_leased(state, request, upload.clone(), headers, body, &location).await?
    } else {
        StatusCode::CREATED.into_response()
    };
    if response.status().is_success() {
        *response.status_mut() = StatusCode::CREATED;
    }
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&location) {
        h.insert(http::header::LOCATION, v);
    }
    h.insert(tus::UPLOAD_EXPIRES, http_date(upload.expires_at));
    Ok(response)
}

/// A creation retried with a token that already created an upload: the same URL while that
/// upload still receives, the used-token error otherwise.
async fn retried_creation(state: &AppState, token: &str) -> Result<Response, AppError> {
    let ledger_key = folio_token::ledger_key(token);
    let upload = state
        .catalog
        .resumable_by_ledger(&ledger_key)
        .await
        .map_err(AppError::internal)?
        .filter(|u| u.state == ResumableState::Receiving && u.expires_at > state.clock.now_secs())
        .ok_or(AppError::TokenReused)?;
    let key = state
        .catalog
        .key_by_public(&upload.key_id)
        .await
        .map_err(AppError::internal)?
        .ok_or(AppError::TokenReused)?;
    let capability = capability(&key.key.private_key, &ledger_key);
    let mut response = StatusCode::CREATED.into_response();
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&location(state, &capability)) {
        h.insert(http::header::LOCATION, v);
    }
    h.insert(tus::UPLOAD_EXPIRES, http_date(upload.expires_at));
    h.insert(tus::UPLOAD_OFFSET, HeaderValue::from(upload.offset));
    Ok(response)
}

/// `HEAD`, `PATCH`, `DELETE` and `GET` of an upload URL (`X-HTTP-Method-Override` wins).
async fn upload(
    State(state): State<AppState>,
    Path(id): Path<String>,
    method: Method,
    request: RequestInfo,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let method = header(&headers, tus::METHOD_OVERRIDE)
        .and_then(|m| Method::from_bytes(m.trim().to_ascii_uppercase().as_bytes()).ok())
        .unwrap_or(method);
    // A plain GET (a client that lost the last response) need not speak tus.
    if method != Method::GET {
        if let Err(e) = require_version(&headers) {
            return tus_response(Err(e));
        }
    }
    // What a refused PATCH left unread is read before the answer (see `http::linger`); a
    // request without a valid upload URL is not waited for.
    let body = SharedBody::new(body);
    let mut found = false;
    let result = async {
        let mut upload = find(&state, &id).await?;
        found = true;
        let stranded = upload.state == ResumableState::Receiving && upload.offset == upload.length;
        if stranded && method != Method::DELETE {
            upload = finish_stranded(&state, request.clone(), upload).await?;
        }
        match method {
            Method::HEAD => Ok(head(&upload)),
            Method::GET => result_of(&upload),
            Method::PATCH => {
                let location = location(&state, &id);
                patch(&state, request, upload, &headers, body.body(), &location).await
            }
            Method::DELETE => terminate(&state, &upload).await,
            _ => Err(AppError::MethodNotAllowed),
        }
    }
    .await;
    if found && method == Method::PATCH {
        let limits = &state.config.limits;
        body.discard_rest(limits.hard_cap(), limits.idle_body_timeout())
            .await;
    }
    tus_response(result)
}

/// The upload an URL names: 404 for a capability nobody holds, 410 once expired.
async fn find(state: &AppState, capability: &str) -> Result<ResumableUpload, AppError> {
    // 24 bytes in base64url: anything else was never handed out.
    if capability.len() != 32
        || !capability
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(AppError::NotFound);
    }
    let upload = state
        .catalog
        .resumable(&id_hash(capability))
        .await
        .map_err(AppError::internal)?
        .ok_or(AppError::NotFound)?;
    if upload.expires_at <= state.clock.now_secs() {
        return Err(AppError::TusExpired);
    }
    Ok(upload)
}

fn head(upload: &ResumableUpload) -> Response {
    let mut response = StatusCode::OK.into_response();
    let h = response.headers_mut();
    let offset = match upload.state {
        ResumableState::Done => upload.length,
        _ => upload.offset,
    };
    h.insert(tus::UPLOAD_OFFSET, HeaderValue::from(offset));
    h.insert(tus::UPLOAD_LENGTH, HeaderValue::from(upload.length));
    h.insert(tus::UPLOAD_EXPIRES, http_date(upload.expires_at));
    if !upload.metadata.is_empty() {
        if let Ok(v) = HeaderValue::from_str(&upload.metadata) {
            h.insert(tus::UPLOAD_METADATA, v);
        }
    }
    response
}

/// `GET`: the v2 upload response (or error) the last byte got.
fn result_of(upload: &ResumableUpload) -> Result<Response, AppError> {
    let (status, body) = upload.result.clone().ok_or(AppError::TusIncomplete)?;
    Ok(json_response(status, body))
}

fn json_response(status: u16, body: String) -> Response {
    let mut response = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        body,
    )
        .into_response();
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

/// `DELETE` (termination): the partial data and the row go; a committed file stays.
async fn terminate(state: &AppState, upload: &ResumableUpload) -> Result<Response, AppError> {
    // A receiving upload is held until its row is gone.
    let _held = match upload.state {
        ResumableState::Receiving => {
            let guard = take_lease(state, upload).await?;
            let progress: Progress = serde_json::from_str(&upload.storage).unwrap_or_default();
            discard(state, upload, &progress.blob).await;
            Some(guard)
        }
        _ => None,
    };
    state
        .catalog
        .delete_resumable(&upload.id_hash)
        .await
        .map_err(AppError::internal)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Removes an upload's partial data; a failure is left to the sweeper.
async fn discard(state: &AppState, upload: &ResumableUpload, partial: &PartialState) {
    let key = blob_key(&upload.version_id);
    if let Err(e) = state
        .blobs
        .discard_partial(&partial_name(upload), &key, partial)
        .await
    {
        tracing::warn!(error = ?e, "could not remove a resumable upload's partial data");
    }
}

/// A lease outlives the longest a live PATCH goes without renewing it: a chunk arrives at
/// least every idle-body timeout (or the request is dropped), and each renews it once half
/// its time has passed.
fn lease_duration(state: &AppState) -> Duration {
    state.config.limits.idle_body_timeout() * 2 + Duration::from_secs(10)
}

fn new_lease(state: &AppState) -> Lease {
    Lease {
        token: uuid::Uuid::new_v4().to_string(),
        until_ms: ids::now_millis()
            + i64::try_from(lease_duration(state).as_millis()).unwrap_or(i64::MAX),
    }
}

/// The upload for this request alone, or `423` while another request holds it. The lease is
/// given back when the guard is released or dropped.
async fn take_lease(state: &AppState, upload: &ResumableUpload) -> Result<LeaseGuard, AppError> {
    let lease = new_lease(state);
    let taken = state
        .catalog
        .lease_resumable(&upload.id_hash, &lease, ids::now_millis())
        .await
        .map_err(AppError::internal)?;
    if !taken {
        return Err(AppError::TusLocked);
    }
    Ok(LeaseGuard {
        state: state.clone(),
        id_hash: upload.id_hash.clone(),
        lease,
        released: false,
    })
}

/// Gives a lease back when the request ends, however it ends (a dropped request included).
struct LeaseGuard {
    state: AppState,
    id_hash: Vec<u8>,
    lease: Lease,
    released: bool,
}

impl LeaseGuard {
    /// Gives the lease back before the answer goes out: a client sends its next chunk as soon
    /// as it has the 204, and must not find the upload still locked (423) by this one.
    async fn release(mut self) {
        if let Err(e) = self
            .state
            .catalog
            .release_resumable(&self.id_hash, &self.lease)
            .await
        {
            tracing::debug!(error = ?e, "releasing a resumable upload's lease");
        }
        self.released = true;
    }
}

impl Drop for LeaseGuard {
    fn drop(&mut self) {
        // A request dropped mid-way (the client went away) cannot await: release in the
        // background.
        if self.released {
            return;
        }
        let catalog = self.state.catalog.clone();
        let (id_hash, lease) = (std::mem::take(&mut self.id_hash), self.lease.clone());
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(
                async move {
                    if let Err(e) = catalog.release_resumable(&id_hash, &lease).await {
                        tracing::debug!(error = ?e, "releasing a resumable upload's lease");
                    }
                }
                .in_current_span(),
            );
        }
    }
}

async fn patch(
    state: &AppState,
    request: RequestInfo,
    upload: ResumableUpload,
    headers: &HeaderMap,
    body: Body,
    location: &str,
) -> Result<Response, AppError> {
    let content_type = header(headers, http::header::CONTENT_TYPE.as_str()).unwrap_or("");
    if !content_type.eq_ignore_ascii_case(tus::OFFSET_OCTET_STREAM) {
        return Err(AppError::TusContentType);
    }
    let offset = header(headers, tus::UPLOAD_OFFSET)
        .and_then(tus::parse_size)
        .ok_or(AppError::TusHeader("Upload-Offset"))?;
    match upload.state {
        // The last chunk again (its answer was lost): the same answer.
        ResumableState::Done if offset == upload.length => return Ok(finished(&upload, location)),
        ResumableState::Done => return Err(AppError::TusOffsetMismatch),
        ResumableState::Failed => return result_of(&upload),
        ResumableState::Receiving => {}
    }
    if offset != upload.offset {
        return Err(AppError::TusOffsetMismatch);
    }
    // A chunk is an upload in flight: it needs a place among those served at once.
    let _slot = state.fairness.upload_slot()?;
    patch_leased(state, request, upload, headers, body, location).await
}

/// The 204 of the chunk that completed an upload.
fn finished(upload: &ResumableUpload, location: &str) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let h = response.headers_mut();
    h.insert(tus::UPLOAD_OFFSET, HeaderValue::from(upload.length));
    h.insert(tus::UPLOAD_EXPIRES, http_date(upload.expires_at));
    let file_id = upload
        .result
        .as_ref()
        .and_then(|(_, body)| serde_json::from_str::<serde_json::Value>(body).ok())
        .and_then(|v| {
            v.get("fileId")
                .and_then(|id| id.as_str())
                .map(str::to_owned)
        });
    if let Some(Ok(v)) = file_id.map(|id| HeaderValue::from_str(&id)) {
        h.insert("x-folio-file-id", v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("<{location}>; rel=\"result\"")) {
        h.insert(http::header::LINK, v);
    }
    response
}

/// A chunk at the upload's current offset (checked by the caller): takes the lease, then
/// [`Chunk::receive`].
async fn patch_leased(
    state: &AppState,
    request: RequestInfo,
    upload: ResumableUpload,
    headers: &HeaderMap,
    body: Body,
    location: &str,
) -> Result<Response, AppError> {
    let checksum = header(headers, tus::UPLOAD_CHECKSUM)
        .map(tus::Checksum::parse)
        .transpose()?;
    let declared = header(headers, http::header::CONTENT_LENGTH.as_str()).and_then(tus::parse_size);
    if declared.is_some_and(|declared| upload.offset.saturating_add(declared) > upload.length) {
        return Err(AppError::TusPastLength);
    }
    let guard = take_lease(state, &upload).await?;
    let lease = guard.lease.clone();
    let body = ChunkBody { body, declared };
    let result = leased_chunk(state, request, upload, lease, checksum, body, location).await;
    guard.release().await;
    result
}

/// A PATCH's body, and its length when the request said it (`Content-Length`, checked to stay
/// within the upload).
struct ChunkBody {
    body: Body,
    declared: Option<u64>,
}

/// The chunk's bytes into the upload, `lease` held.
async fn leased_chunk(
    state: &AppState,
    request: RequestInfo,
    upload: ResumableUpload,
    lease: Lease,
    checksum: Option<tus::Checksum>,
    body: ChunkBody,
    location: &str,
) -> Result<Response, AppError> {
    let progress: Progress = serde_json::from_str(&upload.storage).map_err(AppError::internal)?;
    let fields: Vec<(String, String)> =
        serde_json::from_str(&upload.fields).map_err(AppError::internal)?;
    let mut writer = state
        .blobs
        .open_partial(
            &partial_name(&upload),
            &blob_key(&upload.version_id),
            progress.blob.clone(),
            upload.offset,
        )
        .await
        .map_err(AppError::internal)?;
    if let Some(declared) = body.declared {
        writer.expect(declared, upload.offset + declared == upload.length);
    }
    let head = if progress.classified {
        Vec::new()
    } else {
        state
            .blobs
            .partial_head(
                &partial_name(&upload),
                upload.offset.min(CLASSIFY_AFTER as u64),
            )
            .await
            .map_err(AppError::internal)?
    };
    let mut chunk = Chunk {
        state,
        checks: StreamingChecks::before_file(&fields, Some(fields.clone())),
        upload,
        lease,
        progress,
        writer,
        head,
        checksum,
        unrecorded: 0,
    };
    match chunk.receive(body.body).await {
        Ok(true) => chunk.complete(request, fields, location).await,
        Ok(false) => {
            let mut response = StatusCode::NO_CONTENT.into_response();
            let h = response.headers_mut();
            h.insert(tus::UPLOAD_OFFSET, HeaderValue::from(chunk.writer.offset()));
            h.insert(tus::UPLOAD_EXPIRES, http_date(chunk.upload.expires_at));
            Ok(response)
        }
        // The bytes broke a limit or `checks`: the upload ends with the v2 error.
        Err(ChunkError::Ends(e)) => Err(chunk.fail(e).await),
        Err(ChunkError::Refused(e)) => Err(e),
    }
}

enum ChunkError {
    /// The chunk is refused; the upload goes on from its last recorded offset.
    Refused(AppError),
    /// The upload cannot succeed any more.
    Ends(AppError),
}

impl From<AppError> for ChunkError {
    fn from(e: AppError) -> Self {
        ChunkError::Refused(e)
    }
}

/// One PATCH's bytes on their way into an upload.
struct Chunk<'a> {
    state: &'a AppState,
    upload: ResumableUpload,
    lease: Lease,
    progress: Progress,
    writer: PartialWriter,
    checks: Option<StreamingChecks>,
    /// The first bytes of the upload while it is not classified.
    head: Vec<u8>,
    checksum: Option<tus::Checksum>,
    /// Bytes accepted since the offset was last recorded.
    unrecorded: u64,
}

impl Chunk<'_> {
    /// Reads the body into the upload; `Ok(true)` when its last byte arrived.
    async fn receive(&mut self, body: Body) -> Result<bool, ChunkError> {
        let idle = self.state.config.limits.idle_body_timeout();
        let checkpoint_every = self.state.config.resumable.checkpoint_bytes;
        let mut stream = body.into_data_stream();
        let mut renewed = tokio::time::Instant::now();
        loop {
            let bytes = match tokio::time::timeout(idle, stream.next()).await {
                Ok(Some(Ok(bytes))) => bytes,
                Ok(None) => break,
                // The client went away or stalled: what arrived is kept (tus allows it) unless
                // a checksum must vouch for the whole chunk.
                Ok(Some(Err(_))) | Err(_) => {
                    if self.checksum.is_none() && self.unrecorded > 0 {
                        self.record().await?;
                    }
                    return Err(ChunkError::Refused(AppError::InvalidFile(
                        "the chunk ended early",
                    )));
                }
            };
            let received = self.writer.offset() + bytes.len() as u64;
            if received > self.upload.length {
                return Err(AppError::TusPastLength.into());
            }
            if !self.progress.classified {
                let take = bytes
                    .len()
                    .min(CLASSIFY_AFTER.saturating_sub(self.head.len()));
                self.head.extend_from_slice(&bytes[..take]);
                if self.head.len() >= CLASSIFY_AFTER || received == self.upload.length {
                    self.classify()?;
                }
            }
            if let Some(checks) = &self.checks {
                let size = folio_contract::SizeKnowledge::AtLeast(received);
                if checks.certainly_fails(size, self.progress.mime.as_deref()) {
                    return Err(ChunkError::Ends(AppError::ChecksFailed));
                }
            }
            if let Some(checksum) = &mut self.checksum {
                checksum.update(&bytes);
            }
            self.unrecorded += bytes.len() as u64;
            self.writer.write(bytes).await.map_err(AppError::internal)?;
            let renew = renewed.elapsed() >= lease_duration(self.state) / 4;
            if self.checksum.is_none() && (self.unrecorded >= checkpoint_every || renew) {
                self.record().await?;
                renewed = tokio::time::Instant::now();
            }
        }
        if let Some(checksum) = self.checksum.take() {
            if !checksum.matches() {
                return Err(AppError::TusChecksumMismatch.into());
            }
        }
        if self.unrecorded > 0 || self.writer.offset() == self.upload.length {
            self.record().await?;
        }
        Ok(self.writer.offset() == self.upload.length)
    }

    /// The class (video or not) from the first bytes, and its size limit.
    fn classify(&mut self) -> Result<(), ChunkError> {
        let facts = folio_media::probe(&self.head, 0, "");
        let limits = &self.state.config.limits;
        let limit = if facts.is_video() {
            limits.max_video_size
        } else {
            limits.max_file_size
        };
        if self.upload.length > limit {
            return Err(ChunkError::Ends(AppError::FileTooLarge));
        }
        self.progress.classified = true;
        self.progress.mime = (facts.mime != "application/octet-stream").then_some(facts.mime);
        self.head = Vec::new();
        Ok(())
    }

    /// Makes the bytes so far durable, then records the offset (renewing the lease).
    async fn record(&mut self) -> Result<(), AppError> {
        self.progress.blob = self.writer.checkpoint().await.map_err(AppError::internal)?;
        self.lease.until_ms = ids::now_millis()
            + i64::try_from(lease_duration(self.state).as_millis()).unwrap_or(i64::MAX);
        let storage = serde_json::to_string(&self.progress).map_err(AppError::internal)?;
        let held = self
            .state
            .catalog
            .advance_resumable(
                &self.upload.id_hash,
                &self.lease,
                self.writer.offset(),
                &storage,
            )
            .await
            .map_err(AppError::internal)?;
        if !held {
            return Err(AppError::TusLocked);
        }
        self.writer.recorded().await;
        self.upload.offset = self.writer.offset();
        self.upload.storage = storage;
        self.unrecorded = 0;
        Ok(())
    }

    /// The last byte is in: the bytes become the version's blob, are committed
    /// ([`commit_blob`]), and the upload ends with its response.
    async fn complete(
        self,
        request: RequestInfo,
        fields: Vec<(String, String)>,
        location: &str,
    ) -> Result<Response, AppError> {
        // Until the partial data has become the blob, a failure (the store unreachable) leaves
        // the upload receiving: the client retries the last chunk (an empty one will do).
        self.writer
            .complete(&blob_key(&self.upload.version_id))
            .await
            .map_err(AppError::internal)?;
        let upload = commit_blob(
            self.state,
            request,
            self.upload,
            self.progress.basic,
            &fields,
        )
        .await?;
        match upload.state {
            ResumableState::Done => Ok(finished(&upload, location)),
            _ => result_of(&upload),
        }
    }

    /// Ends the upload with `error` (its bytes broke a limit or `checks`): the partial data
    /// goes, and `GET` answers the error from now on.
    async fn fail(self, error: AppError) -> AppError {
        let state = self.state;
        let result = error_result(state, &error);
        let partial = self.progress.blob.clone();
        let upload = self.upload;
        drop(self.writer);
        discard(state, &upload, &partial).await;
        if let Err(e) = state
            .catalog
            .end_resumable(
                &upload.id_hash,
                ResumableState::Failed,
                (result.0, &result.1),
                upload.offset,
            )
            .await
        {
            return AppError::internal(e);
        }
        error
    }
}

/// The upload's bytes are its version's blob: they go through the upload pipeline after the
/// body (`upload::store_received`: media facts, checks, commit, events), and the upload ends
/// with the response, which is recorded and returned in the upload.
async fn commit_blob(
    state: &AppState,
    request: RequestInfo,
    mut upload: ResumableUpload,
    basic: bool,
    fields: &[(String, String)],
) -> Result<ResumableUpload, AppError> {
    let key = blob_key(&upload.version_id);
    let timer = state.metrics.upload("resumable");
    let outcome = async {
        let guard = BlobGuard::new(&state.blobs, &key);
        let head = state
            .blobs
            .read_range(&key, 0..upload.length.min(folio_media::SNIFF_LEN as u64))
            .await
            .map_err(AppError::internal)?;
        let file = ReceivedFile {
            facts: folio_media::probe(&head, upload.length, ""),
            guard,
            size: upload.length,
            head,
        };
        let key_pair = state
            .catalog
            .key_by_public(&upload.key_id)
            .await
            .map_err(AppError::internal)?
            .ok_or(AppError::CannotAuthenticate)?;
        let mode = if basic { Mode::Basic } else { Mode::V2Token };
        let principal = Authenticated::resumed(key_pair, mode);
        crate::upload::store_received(
            state,
            request,
            principal,
            fields,
            FilePart::Received(Box::new(file)),
            upload.version_id.clone(),
        )
        .await
    }
    .await;
    timer.finish(
        if basic { "basic" } else { "v2_token" },
        outcome.as_ref().map(|r| r.size).map_err(AppError::code),
    );
    let (ended, result) = match outcome {
        Ok(response) => (
            ResumableState::Done,
            (
                200,
                serde_json::to_string(&response).map_err(AppError::internal)?,
            ),
        ),
        Err(e) => (ResumableState::Failed, error_result(state, &e)),
    };
    state
        .catalog
        .end_resumable(&upload.id_hash, ended, (result.0, &result.1), upload.length)
        .await
        .map_err(AppError::internal)?;
    upload.state = ended;
    upload.offset = upload.length;
    upload.result = Some(result);
    Ok(upload)
}

/// An upload whose last byte was recorded but whose commit did not end (the process died in
/// between, or the store or catalog failed): the first request that finds it finishes it, so
/// a client that asks where it stands (HEAD, as tus clients do after an error) finds the file
/// committed. Under another request's lease (that request is finishing it) it is left alone.
async fn finish_stranded(
    state: &AppState,
    request: RequestInfo,
    upload: ResumableUpload,
) -> Result<ResumableUpload, AppError> {
    let guard = match take_lease(state, &upload).await {
        Ok(guard) => guard,
        Err(AppError::TusLocked) => return Ok(upload),
        Err(e) => return Err(e),
    };
    let finished = async {
        let progress: Progress =
            serde_json::from_str(&upload.storage).map_err(AppError::internal)?;
        let fields: Vec<(String, String)> =
            serde_json::from_str(&upload.fields).map_err(AppError::internal)?;
        let key = blob_key(&upload.version_id);
        // The partial data may have become the blob already (the rename or the multipart
        // completion is the step before the commit).
        let in_store = state.blobs.size(&key).await.map_err(AppError::internal)?;
        if in_store != Some(upload.length) {
            state
                .blobs
                .open_partial(
                    &partial_name(&upload),
                    &key,
                    progress.blob.clone(),
                    upload.offset,
                )
                .await
                .map_err(AppError::internal)?
                .complete(&key)
                .await
                .map_err(AppError::internal)?;
        }
        commit_blob(state, request, upload, progress.basic, &fields).await
    }
    .await;
    guard.release().await;
    finished
}

/// The status and JSON body an error gets on the upload API (with the configured help text).
fn error_result(state: &AppState, error: &AppError) -> (u16, String) {
    let wire = error.wire();
    (wire.status.as_u16(), wire.json(&state.config.help_text))
}

/// Removes the expired uploads (and their partial data) in batches, then partial data no
/// upload can own any more; how many uploads went.
pub async fn sweep(state: &AppState) -> anyhow::Result<u64> {
    let mut removed = 0;
    loop {
        let expired = state
            .catalog
            .expired_resumables(state.clock.now_secs(), 100)
            .await?;
        if expired.is_empty() {
            break;
        }
        for upload in &expired {
            if upload.state == ResumableState::Receiving {
                let progress: Progress = serde_json::from_str(&upload.storage).unwrap_or_default();
                state
                    .blobs
                    .discard_partial(
                        &partial_name(upload),
                        &blob_key(&upload.version_id),
                        &progress.blob,
                    )
                    .await?;
            }
            if state.catalog.delete_resumable(&upload.id_hash).await? {
                removed += 1;
            }
        }
    }
    // An upload lives `ttl` from its creation, and its data is written after that: data
    // untouched for longer (plus the grace every sweep gives) belongs to no live upload.
    let config = &state.config;
    let stale_after = config
        .resumable
        .ttl_secs
        .saturating_add(config.storage.orphan_grace_secs);
    let cutoff = ids::now_secs().saturating_sub(i64::try_from(stale_after).unwrap_or(i64::MAX));
    state.blobs.sweep_stale_partials(cutoff).await?;
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_are_192_bits_bound_to_key_and_token() {
        let a = capability("private_a", &[1; 32]);
        assert_eq!(a.len(), 32);
        assert_eq!(a, capability("private_a", &[1; 32]));
        assert_ne!(a, capability("private_b", &[1; 32]));
        assert_ne!(a, capability("private_a", &[2; 32]));
        assert_eq!(id_hash(&a).len(), 32);
    }

    #[test]
    fn progress_reads_what_it_wrote() {
        let p = Progress {
            blob: PartialState {
                multipart: Some("m".into()),
                parts: vec!["e1".into()],
                parts_bytes: 5 << 20,
            },
            classified: true,
            mime: Some("image/png".into()),
            basic: false,
        };
        let text = serde_json::to_string(&p).expect("json");
        let back: Progress = serde_json::from_str(&text).expect("json");
        assert_eq!(back.blob, p.blob);
        assert_eq!(back.mime, p.mime);
        assert!(back.classified);
    }
}
