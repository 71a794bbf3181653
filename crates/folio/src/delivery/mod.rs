//! Delivery: `GET`/`HEAD` of the URLs the upload API hands out (spec §4.6).
//!
//! `{public_url}/{url_id}/{filePath}` serves the current version's exact bytes, with ETag,
//! Range and the sniffed Content-Type. A first path segment `tr:…` (or a `tr` query
//! parameter) selects a transformation: the named media-library thumbnail, or a chain of the
//! subset [`folio_media::Transformation`] parses, rendered on first request and cached in the
//! blob store under `d/<version id>/tr-<hex of the canonical string>`.
//! Unpublished files are not served, signed or not (404). A private file's original and its
//! unnamed transformations need a signed URL (`ik-s`, optionally `ik-t`; [`signed_url`]),
//! checked on the raw request target before any transformation is parsed; the thumbnail, a
//! named transformation, stays public as the spec says. A valid signature is accepted on any
//! file, and a request that carries one is judged by it (401 when it fails, on any file).
//! Responses to signed requests are `Cache-Control: private`, never longer than the URL lives.
//! No path ever serves an original in place of a rendition: an image that cannot be
//! thumbnailed has no thumbnail (404).
//!
//! Every response carries `nosniff`, script-capable types a CSP sandbox ([`headers`]).
//! Renders are bounded by the budget of `folio_media` ([`folio_media::RenderLimits`], from
//! `[delivery]`): judged from the catalog's facts before anything is read, then from the
//! header before anything is decoded; a render slot is taken before the original is read.

mod headers;
mod pool;
mod range;
pub mod signed_url;

pub use pool::RenderPool;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use percent_encoding::percent_decode_str;

use crate::error::{AppError, AppResult};
use crate::ids;
use crate::state::AppState;
use crate::store::{Account, StoredVersion};
use range::ByteRange;
use signed_url::{SignedTarget, SignedUrlError};

/// Longest side of the `ik_ml_thumbnail` rendition, in pixels.
const THUMBNAIL_MAX_SIDE: u32 = 300;

/// Named transformations that mean the media-library thumbnail (spec §11 Q5).
const THUMBNAIL_NAMES: &[&str] = &["n-ik_ml_thumbnail", "n-media_library_thumbnail"];

/// How long a client or cache may keep a delivered file before revalidating: a path can get a
/// new version at any time. Responses to signed URLs keep it no longer than the URL lives.
const MAX_AGE_SECS: u64 = 60;

enum Transformation {
    None,
    Thumbnail,
    Render(folio_media::Transformation),
}

/// A delivery request target as received: `[base path]/{url_id}/{relative}`.
#[derive(Debug, PartialEq, Eq)]
struct Target<'a> {
    /// The account's URL id, still percent-encoded.
    url_id: &'a str,
    /// Everything after `/{url_id}/`, raw, query included: what a URL signature covers.
    relative: &'a str,
}

impl<'a> Target<'a> {
    /// Splits a raw request target (path and query). `base_path` is the path of the delivery
    /// base URL: a proxy that forwards paths unchanged sends it first, one that strips it
    /// does not, and both work.
    fn split(path_and_query: &'a str, base_path: &str) -> Option<Self> {
        let target = (!base_path.is_empty())
            .then(|| path_and_query.strip_prefix(base_path))
            .flatten()
            .filter(|rest| rest.starts_with('/'))
            .unwrap_or(path_and_query);
        let (url_id, relative) = target.strip_prefix('/')?.split_once('/')?;
        if url_id.contains('?') {
            return None;
        }
        Some(Target { url_id, relative })
    }

    /// The relative path, without the query.
    fn path(&self) -> &'a str {
        self.relative
            .split_once('?')
            .map_or(self.relative, |(path, _)| path)
    }
}

fn percent_decode(segment: &str) -> AppResult<String> {
    percent_decode_str(segment)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| AppError::NotFound)
}

/// Splits a relative path `[tr:…/]{path}` into the path transformation and the file path
/// (`/`-prefixed), decoding each segment.
fn parse_path(relative_path: &str) -> AppResult<(Option<String>, String)> {
    let mut rest: Vec<&str> = relative_path.split('/').collect();
    let mut transformation = None;
    if rest.first().is_some_and(|s| s.starts_with("tr:")) {
        transformation = Some(percent_decode(&rest.remove(0)["tr:".len()..])?);
    }
    let mut file_path = String::new();
    for segment in rest {
        file_path.push('/');
        file_path.push_str(&percent_decode(segment)?);
    }
    Ok((transformation, file_path))
}

/// The value of the query parameter `name`, decoded.
fn query_param(uri: &Uri, name: &str) -> Option<String> {
    form_urlencoded::parse(uri.query()?.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn query_transformation(uri: &Uri) -> Option<String> {
    query_param(uri, "tr")
}

fn transformation_kind(spec: Option<String>) -> AppResult<Transformation> {
    match spec {
        None => Ok(Transformation::None),
        Some(t) if THUMBNAIL_NAMES.contains(&t.as_str()) => Ok(Transformation::Thumbnail),
        Some(t) => match folio_media::Transformation::parse(&t) {
            Ok(t) => Ok(Transformation::Render(t)),
            Err(folio_media::TransformError::UnsupportedFormat(_)) => {
                Err(AppError::UnsupportedTransformation)
            }
            // Named transformations other than the thumbnail are not implemented.
            Err(folio_media::TransformError::Unknown(name)) if name == "n" => {
                Err(AppError::UnsupportedTransformation)
            }
            Err(_) => Err(AppError::InvalidDeliveryTransformation),
        },
    }
}

/// Whether delivery would apply transformation `t` (`w-300,h-200`, a named thumbnail) rather
/// than refuse it as malformed or unsupported; for `folio files url`.
pub fn check_transformation(t: &str) -> AppResult<()> {
    transformation_kind(Some(t.to_owned())).map(|_| ())
}

/// The delivery handler: whatever the outcome (a file, a rendition, a 304, an error), the
/// response carries `nosniff`.
pub async fn serve(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let mut response = match serve_request(&state, &method, &uri, &headers).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    };
    headers::set_nosniff(response.headers_mut());
    response
}

async fn serve_request(
    state: &AppState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> AppResult<Response> {
    let raw = uri.path_and_query().map_or(uri.path(), |pq| pq.as_str());
    let target =
        Target::split(raw, &state.config.delivery_base_path()).ok_or(AppError::NotFound)?;
    let url_id = percent_decode(target.url_id)?;
    let (path_tr, file_path) = parse_path(target.path())?;
    let account = state
        .catalog
        .account_by_url_id(&url_id)
        .await
        .map_err(AppError::internal)?
        .filter(|a| !a.disabled)
        .ok_or(AppError::NotFound)?;
    // A request that carries a signature is judged by it, before the file is looked up and
    // before any transformation is parsed: what was signed is what is served.
    let now = state.clock.now_secs();
    let signed = match signed_url::parse(target.relative) {
        Ok(None) => None,
        Ok(Some(signed)) => {
            check_signature(state, &account, &signed, now).await?;
            Some(signed.remaining_secs(now))
        }
        Err(_) => return Err(AppError::SignedUrlInvalid),
    };
    let current = state
        .catalog
        .current_by_path(&account.id, &file_path)
        .await
        .map_err(AppError::internal)?
        .ok_or(AppError::NotFound)?;
    // `?ik-obj-version=<version id>`: an older version of the file at this path, as the
    // `url` of a `file-version` object names it (upload-api §8.1). Its own flags decide.
    let version = match query_param(uri, "ik-obj-version") {
        None => current,
        Some(version_id) if version_id == current.version_id => current,
        Some(version_id) if ids::is_object_id(&version_id) => state
            .catalog
            .version_by_id(&account.id, &current.file_id, &version_id)
            .await
            .map_err(AppError::internal)?
            .ok_or(AppError::NotFound)?,
        Some(_) => return Err(AppError::NotFound),
    };
    if !version.is_published {
        return Err(AppError::NotFound);
    }
    let spec = path_tr.or_else(|| query_transformation(uri));
    if !state.config.delivery.allow_unnamed_transformations
        && spec
            .as_deref()
            .is_some_and(|t| !THUMBNAIL_NAMES.contains(&t))
    {
        return Err(AppError::TransformationsDisabled);
    }
    let authorized = signed.is_some() || !version.is_private_file;
    let mut response = match transformation_kind(spec)? {
        Transformation::None => {
            if !authorized {
                return Err(AppError::Unauthorized);
            }
            serve_original(state, &version, method, headers).await?
        }
        Transformation::Thumbnail => serve_thumbnail(state, &version, method, headers).await?,
        Transformation::Render(t) => {
            // Checked before any cached rendition is looked at: a file that became private
            // keeps its cached renditions, and they are not served either.
            if !authorized {
                return Err(AppError::Unauthorized);
            }
            serve_rendition(state, &version, &t, method, headers).await?
        }
    };
    if let Some(remaining) = signed {
        // Only the holder of the URL may keep it, and not past its expiry.
        let value = format!("private, max-age={}", remaining.min(MAX_AGE_SECS));
        if let Ok(v) = HeaderValue::from_str(&value) {
            response
                .headers_mut()
                .insert(http::header::CACHE_CONTROL, v);
        }
    }
    Ok(response)
}

/// A signed request's `ik-t` and `ik-s`: not expired, and signed by a live key of the account
/// (any of them: keys rotate; a revoked or expired key signs nothing).
async fn check_signature(
    state: &AppState,
    account: &Account,
    signed: &SignedTarget<'_>,
    now: i64,
) -> AppResult<()> {
    signed
        .check_expiry(now)
        .map_err(|_| AppError::SignedUrlExpired)?;
    let keys = state
        .catalog
        .account_keys(&account.id)
        .await
        .map_err(AppError::internal)?;
    let live = keys
        .iter()
        .filter(|k| k.is_live(now))
        .map(|k| k.private_key.as_str());
    signed.verify(now, live).map_err(|e| match e {
        SignedUrlError::Expired => AppError::SignedUrlExpired,
        SignedUrlError::Malformed(_) | SignedUrlError::Mismatch => AppError::SignedUrlInvalid,
    })
}

fn etag(version: &StoredVersion, variant: &str) -> String {
    format!("\"{}{variant}\"", version.version_id)
}

fn not_modified(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get(http::header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
}

fn base_headers(response: &mut Response, mime: &str, etag: &str, created_at_ms: i64) {
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(mime) {
        h.insert(http::header::CONTENT_TYPE, v);
    }
    headers::set_content_policy(h, mime);
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(http::header::ETAG, v);
    }
    let modified = std::time::UNIX_EPOCH
        + std::time::Duration::from_millis(u64::try_from(created_at_ms).unwrap_or(0));
    if let Ok(v) = HeaderValue::from_str(&httpdate::fmt_http_date(modified)) {
        h.insert(http::header::LAST_MODIFIED, v);
    }
    // A path can get a new version at any time: let caches keep a copy briefly and then
    // revalidate with the ETag.
    if let Ok(v) = HeaderValue::from_str(&format!("public, max-age={MAX_AGE_SECS}")) {
        h.insert(http::header::CACHE_CONTROL, v);
    }
    h.insert(
        http::header::ACCEPT_RANGES,
        HeaderValue::from_static("bytes"),
    );
}

async fn serve_original(
    state: &AppState,
    version: &StoredVersion,
    method: &Method,
    headers: &HeaderMap,
) -> AppResult<Response> {
    let tag = etag(version, "");
    if not_modified(headers, &tag) {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        base_headers(
            &mut response,
            &version.media.mime,
            &tag,
            version.created_at_ms,
        );
        return Ok(response);
    }
    let size = version.size;
    let range = match headers
        .get(http::header::RANGE)
        .and_then(|v| v.to_str().ok())
    {
        // A Range that names another version (If-Range mismatch) gets the whole file.
        Some(spec) if if_range_matches(headers, &tag) => ByteRange::parse(spec, size)?,
        _ => None,
    };
    let (status, span) = match &range {
        Some(r) => (StatusCode::PARTIAL_CONTENT, r.start..r.end_exclusive),
        None => (StatusCode::OK, 0..size),
    };
    let body = if *method == Method::HEAD || span.is_empty() {
        Body::empty()
    } else {
        let object = state
            .blobs
            .get(&version.blob_key, range.as_ref().map(|_| span.clone()))
            .await
            .map_err(AppError::internal)?;
        Body::from_stream(object.stream)
    };
    let mut response = (status, body).into_response();
    base_headers(
        &mut response,
        &version.media.mime,
        &tag,
        version.created_at_ms,
    );
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&(span.end - span.start).to_string()) {
        h.insert(http::header::CONTENT_LENGTH, v);
    }
    if range.is_some() {
        let value = format!(
            "bytes {}-{}/{}",
            span.start,
            span.end.saturating_sub(1),
            size
        );
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(http::header::CONTENT_RANGE, v);
        }
    }
    Ok(response)
}

fn if_range_matches(headers: &HeaderMap, etag: &str) -> bool {
    match headers
        .get(http::header::IF_RANGE)
        .and_then(|v| v.to_str().ok())
    {
        None => true,
        Some(v) => v.trim() == etag,
    }
}

/// Key of a cached rendition of a version.
fn rendition_key(version: &StoredVersion, name: &str) -> String {
    format!("d/{}/{name}", version.version_id)
}

async fn serve_thumbnail(
    state: &AppState,
    version: &StoredVersion,
    method: &Method,
    headers: &HeaderMap,
) -> AppResult<Response> {
    if undecodable(version) {
        return Err(AppError::ImageUndecodable);
    }
    // Decided: an image we cannot rasterise (SVG, AVIF, HEIC) has no thumbnail. Serving its
    // original instead would hand out a private file through this public URL, and an SVG
    // as a script-capable document.
    if version.media.file_type != "image" || !renderable(&version.media.mime) {
        return Err(AppError::NotFound);
    }
    let tag = etag(version, "-thumb");
    if not_modified(headers, &tag) {
        return Ok(not_modified_response(&tag));
    }
    let key = rendition_key(version, "ik_ml_thumbnail");
    let (bytes, mime) = match state.blobs.read_all(&key).await {
        Ok(Some(cached)) => {
            let mime = folio_media::probe(&cached, cached.len() as u64, "").mime;
            (cached, mime)
        }
        _ => match render_original(state, version, RenderJob::Thumbnail).await? {
            Ok((bytes, mime)) => {
                if let Err(e) = state.blobs.put(&key, bytes.clone()).await {
                    tracing::warn!(error = %e, "could not cache a thumbnail");
                }
                (bytes, mime.to_owned())
            }
            // Stored before uploads were decoded to be sure.
            Err(folio_media::MediaError::Decode(e)) => {
                tracing::debug!(error = %e, "no thumbnail: the image cannot be decoded");
                return Err(AppError::ImageUndecodable);
            }
            // Beyond the decode limits or the render budget: no thumbnail.
            Err(e) => {
                tracing::debug!(error = %e, "no thumbnail");
                return Err(AppError::NotFound);
            }
        },
    };
    Ok(rendition_response(method, bytes, &mime, &tag, version))
}

/// A 304 for a rendition: its tag, nothing else to say.
fn not_modified_response(tag: &str) -> Response {
    let mut response = StatusCode::NOT_MODIFIED.into_response();
    if let Ok(v) = HeaderValue::from_str(tag) {
        response.headers_mut().insert(http::header::ETAG, v);
    }
    response
}

/// A 200 with a whole rendition (no Range: renditions are small and made on demand).
fn rendition_response(
    method: &Method,
    bytes: Bytes,
    mime: &str,
    tag: &str,
    version: &StoredVersion,
) -> Response {
    let len = bytes.len();
    let body = if *method == Method::HEAD {
        Body::empty()
    } else {
        Body::from(bytes)
    };
    let mut response = (StatusCode::OK, body).into_response();
    base_headers(&mut response, mime, tag, version.created_at_ms);
    if let Ok(v) = HeaderValue::from_str(&len.to_string()) {
        response
            .headers_mut()
            .insert(http::header::CONTENT_LENGTH, v);
    }
    response
}

/// Blob key of the cached rendition of `t` for a version: the canonical string, hex-encoded so
/// that no store sees `:` or `,` in a key.
pub(crate) fn transformation_key(version_id: &str, t: &folio_media::Transformation) -> String {
    let hex: String = t.to_string().bytes().map(|b| format!("{b:02x}")).collect();
    format!("d/{version_id}/{TRANSFORMATION_KEY_PREFIX}{hex}")
}

/// Name prefix of cached transformations under `d/<version id>/` (the thumbnail has its own).
const TRANSFORMATION_KEY_PREFIX: &str = "tr-";

/// A file whose bytes claim a raster format but whose pixels could not be decoded at upload
/// (stored as `non-image`).
fn undecodable(version: &StoredVersion) -> bool {
    version.media.file_type != "image" && renderable(&version.media.mime)
}

/// Image formats [`folio_media::render`] decodes.
pub(crate) fn renderable(mime: &str) -> bool {
    matches!(
        mime,
        "image/jpeg"
            | "image/png"
            | "image/gif"
            | "image/webp"
            | "image/bmp"
            | "image/tiff"
            | "image/x-icon"
    )
}

/// What a render makes.
pub(crate) enum RenderJob {
    Thumbnail,
    Transformation(folio_media::Transformation),
    /// A decode that makes nothing: the proof that an upload's pixels are a picture. Its
    /// rendition is empty.
    Verify,
}

impl RenderJob {
    fn estimate(
        &self,
        image: &folio_media::SourceImage,
        limits: &folio_media::RenderLimits,
    ) -> Result<folio_media::Estimate, folio_media::Refusal> {
        match self {
            RenderJob::Thumbnail => {
                folio_media::estimate_thumbnail(image, THUMBNAIL_MAX_SIDE, limits)
            }
            RenderJob::Transformation(t) => folio_media::estimate_render(image, t, limits),
            RenderJob::Verify => folio_media::estimate_decode(image, limits),
        }
    }
}

/// The picture a render starts from: its blob and what the catalog (or the upload's probe)
/// knows of it.
pub(crate) struct RenderSource<'a> {
    pub blob_key: &'a str,
    pub size: u64,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub orientation: Option<u16>,
}

impl<'a> From<&'a StoredVersion> for RenderSource<'a> {
    fn from(version: &'a StoredVersion) -> Self {
        RenderSource {
            blob_key: &version.blob_key,
            size: version.size,
            width: version.media.width,
            height: version.media.height,
            orientation: version.media.orientation,
        }
    }
}

/// Renders `job` from an original, in the order that keeps an unaffordable request cheap:
/// the budget from the known facts (no I/O), a render slot, the original read whole but
/// bounded by `limits.max_file_size`, then the render off the async threads (where the
/// budget is checked again from the real header before decoding). `Ok(Err(_))`: this
/// picture has no such rendition (refused by the budget, corrupt, not a raster image).
pub(crate) async fn render_original<'a>(
    state: &AppState,
    source: impl Into<RenderSource<'a>>,
    job: RenderJob,
) -> AppResult<Result<(Bytes, &'static str), folio_media::MediaError>> {
    let source = source.into();
    let limits = state.config.delivery.render_limits();
    if let (Some(w), Some(h)) = (source.width, source.height) {
        let known = folio_media::SourceImage::lower_bound(w, h, source.orientation);
        if let Err(refusal) = job.estimate(&known, &limits) {
            return Ok(Err(refusal.into()));
        }
    }
    let max_bytes = state.config.limits.max_file_size;
    if source.size > max_bytes {
        return Ok(Err(folio_media::MediaError::TooLarge(format!(
            "the original has {} bytes, more than limits.max_file_size",
            source.size
        ))));
    }
    let mut permit = state.renders.slot().await.map_err(AppError::internal)?;
    let original = state
        .blobs
        .read_bounded(source.blob_key, max_bytes)
        .await
        .map_err(AppError::internal)?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("the blob of a version is missing")))?;
    // The exact estimate, from the real header: that much of the render memory pool is
    // reserved before a pixel is decoded.
    let estimate = folio_media::source_image(&original, &limits).and_then(|image| {
        job.estimate(&image, &limits)
            .map_err(folio_media::MediaError::OverBudget)
    });
    let estimate = match estimate {
        Ok(estimate) => estimate,
        Err(refusal) => return Ok(Err(refusal)),
    };
    state
        .renders
        .reserve(&mut permit, estimate.peak_memory_bytes)
        .await
        .map_err(AppError::internal)?;
    // The blocking pool does not inherit the request's span.
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || {
        let _span = span.entered();
        let _permit = permit;
        match job {
            RenderJob::Thumbnail => folio_media::thumbnail(&original, THUMBNAIL_MAX_SIDE, &limits)
                .map(|(bytes, mime)| (Bytes::from(bytes), mime)),
            RenderJob::Transformation(t) => {
                folio_media::render(&original, &t, &limits).map(|r| (Bytes::from(r.bytes), r.mime))
            }
            RenderJob::Verify => {
                folio_media::verify_decodes(&original, &limits).map(|()| (Bytes::new(), ""))
            }
        }
    })
    .await
    .map_err(AppError::internal)
}

/// The rendition of `t` for a stored version: from the cache, else rendered from the version's
/// blob and cached (unless the version already has `delivery.max_renditions_per_file` cached
/// transformations: then it is served but not stored). `Ok(Err(_))` when the image cannot be
/// rendered (corrupt, beyond the decode limits or the render budget).
pub(crate) async fn rendition(
    state: &AppState,
    version: &StoredVersion,
    t: &folio_media::Transformation,
) -> AppResult<Result<(Bytes, String), folio_media::MediaError>> {
    let key = transformation_key(&version.version_id, t);
    if let Ok(Some(cached)) = state.blobs.read_all(&key).await {
        let mime = folio_media::probe(&cached, cached.len() as u64, "").mime;
        return Ok(Ok((cached, mime)));
    }
    let (bytes, mime) =
        match render_original(state, version, RenderJob::Transformation(t.clone())).await? {
            Ok(rendered) => rendered,
            Err(e) => {
                tracing::debug!(error = %e, transformation = %t, "no rendition");
                return Ok(Err(e));
            }
        };
    store_rendition(state, version, &key, t, bytes.clone()).await;
    Ok(Ok((bytes, mime.to_owned())))
}

/// Caches a rendition unless its version is at the cap. Counted by listing
/// `d/<version id>/` in the blob store, which every instance shares (local folder or bucket):
/// no catalog schema change, and only a render (already the expensive path) pays for the
/// listing. Instances racing at the cap may store a few more, never unboundedly many.
async fn store_rendition(
    state: &AppState,
    version: &StoredVersion,
    key: &str,
    t: &folio_media::Transformation,
    bytes: Bytes,
) {
    let cap = state.config.delivery.max_renditions_per_file;
    let dir = format!("d/{}", version.version_id);
    match state
        .blobs
        .count_named(&dir, TRANSFORMATION_KEY_PREFIX)
        .await
    {
        Ok(cached) if cached >= cap => {
            tracing::info!(
                version_id = %version.version_id, transformation = %t, cap,
                "rendition served but not cached: the file has reached max_renditions_per_file"
            );
            return;
        }
        Ok(_) => {}
        Err(e) => {
            tracing::warn!(error = %e, "could not count cached renditions; not caching");
            return;
        }
    }
    if let Err(e) = state.blobs.put(key, bytes).await {
        tracing::warn!(error = %e, "could not cache a rendition");
    }
}

async fn serve_rendition(
    state: &AppState,
    version: &StoredVersion,
    t: &folio_media::Transformation,
    method: &Method,
    headers: &HeaderMap,
) -> AppResult<Response> {
    if undecodable(version) {
        return Err(AppError::ImageUndecodable);
    }
    // Decided: a transformation of a file we cannot render (video, PDF, SVG, ...) is a bad
    // request, not a missing file.
    if !renderable(&version.media.mime) {
        return Err(AppError::UnsupportedTransformation);
    }
    // `,` would split the tag in If-None-Match lists.
    let tag = etag(version, &format!("-tr-{}", t.to_string().replace(',', ";")));
    if not_modified(headers, &tag) {
        return Ok(not_modified_response(&tag));
    }
    // Refused by the budget: the request, not the server, is at fault.
    let (bytes, mime) = rendition(state, version, t).await?.map_err(|e| match e {
        folio_media::MediaError::Decode(_) => AppError::ImageUndecodable,
        _ => AppError::InvalidDeliveryTransformation,
    })?;
    Ok(rendition_response(method, bytes, &mime, &tag, version))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_split_into_account_transformation_and_file() {
        let target =
            Target::split("/default/tr:n-ik_ml_thumbnail/a/my%20photo.jpg", "").expect("target");
        assert_eq!(target.url_id, "default");
        let (tr, path) = parse_path(target.path()).expect("parse");
        assert_eq!(tr.as_deref(), Some("n-ik_ml_thumbnail"));
        assert_eq!(path, "/a/my photo.jpg");

        let uri: Uri = "/default/x.png?tr=n-ik_ml_thumbnail".parse().expect("uri");
        let target = Target::split(uri.path_and_query().expect("pq").as_str(), "").expect("target");
        assert_eq!(target.relative, "x.png?tr=n-ik_ml_thumbnail");
        let (tr, path) = parse_path(target.path()).expect("parse");
        assert_eq!(tr, None);
        assert_eq!(path, "/x.png");
        assert_eq!(
            query_transformation(&uri).as_deref(),
            Some("n-ik_ml_thumbnail")
        );
        assert!(matches!(
            transformation_kind(Some("w-100,h-50:rt-90".into())),
            Ok(Transformation::Render(_))
        ));
        assert!(matches!(
            transformation_kind(Some("w-abc".into())),
            Err(AppError::InvalidDeliveryTransformation)
        ));
        assert!(matches!(
            transformation_kind(Some("f-avif".into())),
            Ok(Transformation::Render(_))
        ));
        assert!(matches!(
            transformation_kind(Some("f-auto".into())),
            Err(AppError::UnsupportedTransformation)
        ));
        assert!(matches!(
            transformation_kind(Some("n-other".into())),
            Err(AppError::UnsupportedTransformation)
        ));
    }

    #[test]
    fn the_signed_part_starts_after_the_url_id_and_any_base_path() {
        let split = |raw, base| Target::split(raw, base).map(|t| (t.url_id, t.relative));
        assert_eq!(
            split("/default/tr:w-1/a%20b.png?x=1&ik-s=ab", ""),
            Some(("default", "tr:w-1/a%20b.png?x=1&ik-s=ab"))
        );
        // Mounted under /media: a proxy may forward the prefix or strip it.
        assert_eq!(
            split("/media/default/a.png?ik-s=ab", "/media"),
            Some(("default", "a.png?ik-s=ab"))
        );
        assert_eq!(
            split("/default/a.png?ik-s=ab", "/media"),
            Some(("default", "a.png?ik-s=ab"))
        );
        // A prefix is a whole segment, not a string prefix.
        assert_eq!(split("/mediax/a.png", "/media"), Some(("mediax", "a.png")));
        assert_eq!(split("/default", ""), None);
        assert_eq!(split("/default?ik-s=1/x", ""), None);
        assert_eq!(split("/default/", ""), Some(("default", "")));
    }
}
