//! Delivery: `GET`/`HEAD` of the URLs the upload API hands out (spec §4.6).
//!
//! `{public_url}/{url_id}/{filePath}` serves the current version's exact bytes, with ETag,
//! Range and the sniffed Content-Type. A first path segment `tr:…` (or a `tr` query
//! parameter) selects a transformation: the named media-library thumbnail, or a chain of the
//! subset [`folio_media::Transformation`] parses, rendered on first request and cached in the
//! blob store under `d/<version id>/tr-<hex of the canonical string>`.
//! Unpublished files are not served; private files need a signed URL, which is not
//! implemented yet, so their originals and unnamed transformations answer 401 (the thumbnail,
//! a named transformation, stays public as the spec says).

mod range;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::TryStreamExt;
use percent_encoding::percent_decode_str;

use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::store::StoredVersion;
use range::ByteRange;

/// Longest side of the `ik_ml_thumbnail` rendition, in pixels.
const THUMBNAIL_MAX_SIDE: u32 = 300;

/// Named transformations that mean the media-library thumbnail (spec §11 Q5).
const THUMBNAIL_NAMES: &[&str] = &["n-ik_ml_thumbnail", "n-media_library_thumbnail"];

enum Transformation {
    None,
    Thumbnail,
    Render(folio_media::Transformation),
}

/// Splits `/{url_id}/[tr:…/]{path}` and decodes each segment.
fn parse_path(uri: &Uri) -> AppResult<(String, Option<String>, String)> {
    let mut segments = uri.path().trim_start_matches('/').split('/');
    let decode = |s: &str| {
        percent_decode_str(s)
            .decode_utf8()
            .map(|c| c.into_owned())
            .map_err(|_| AppError::NotFound)
    };
    let url_id = decode(segments.next().unwrap_or_default())?;
    let mut rest: Vec<&str> = segments.collect();
    let mut transformation = None;
    if rest.first().is_some_and(|s| s.starts_with("tr:")) {
        transformation = Some(decode(&rest.remove(0)["tr:".len()..])?);
    }
    let mut file_path = String::new();
    for segment in rest {
        file_path.push('/');
        file_path.push_str(&decode(segment)?);
    }
    Ok((url_id, transformation, file_path))
}

fn query_transformation(uri: &Uri) -> Option<String> {
    form_urlencoded::parse(uri.query()?.as_bytes())
        .find(|(k, _)| k == "tr")
        .map(|(_, v)| v.into_owned())
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

pub async fn serve(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> AppResult<Response> {
    let (url_id, path_tr, file_path) = parse_path(&uri)?;
    let account = state
        .catalog
        .account_by_url_id(&url_id)
        .await
        .map_err(AppError::internal)?
        .filter(|a| !a.disabled)
        .ok_or(AppError::NotFound)?;
    let version = state
        .catalog
        .current_by_path(&account.id, &file_path)
        .await
        .map_err(AppError::internal)?
        .filter(|v| v.is_published)
        .ok_or(AppError::NotFound)?;
    match transformation_kind(path_tr.or_else(|| query_transformation(&uri)))? {
        Transformation::None => {
            if version.is_private_file {
                return Err(AppError::Unauthorized);
            }
            serve_original(&state, &version, &method, &headers).await
        }
        Transformation::Thumbnail => serve_thumbnail(&state, &version, &method, &headers).await,
        Transformation::Render(t) => {
            if version.is_private_file {
                return Err(AppError::Unauthorized);
            }
            serve_rendition(&state, &version, &t, &method, &headers).await
        }
    }
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
    h.insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=60"),
    );
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
    if version.media.file_type != "image" {
        return Err(AppError::NotFound);
    }
    let tag = etag(version, "-thumb");
    if not_modified(headers, &tag) {
        return Ok(StatusCode::NOT_MODIFIED.into_response());
    }
    let key = rendition_key(version, "ik_ml_thumbnail");
    let (bytes, mime) = match state.blobs.read_all(&key).await {
        Ok(Some(cached)) => {
            let mime = folio_media::probe(&cached, cached.len() as u64, "").mime;
            (cached, mime)
        }
        _ => render_thumbnail(state, version, &key).await?,
    };
    Ok(rendition_response(method, bytes, &mime, &tag, version))
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

async fn render_thumbnail(
    state: &AppState,
    version: &StoredVersion,
    key: &str,
) -> AppResult<(Bytes, String)> {
    let original = state
        .blobs
        .get(&version.blob_key, None)
        .await
        .map_err(AppError::internal)?;
    let chunks: Vec<Bytes> = original
        .stream
        .try_collect()
        .await
        .map_err(AppError::internal)?;
    let original = Bytes::from(chunks.concat());
    let permit = state
        .renders
        .clone()
        .acquire_owned()
        .await
        .map_err(AppError::internal)?;
    let source = original.clone();
    let rendered = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        folio_media::thumbnail(&source, THUMBNAIL_MAX_SIDE)
    })
    .await
    .map_err(AppError::internal)?;
    match rendered {
        Ok((bytes, mime)) => {
            let bytes = Bytes::from(bytes);
            if let Err(e) = state.blobs.put(key, bytes.clone()).await {
                tracing::warn!(error = %e, "could not cache a thumbnail");
            }
            Ok((bytes, mime.to_owned()))
        }
        // Formats without a raster decoder (SVG, AVIF) are small or scalable: the original
        // serves as its own thumbnail. A corrupt or oversized image has none.
        Err(folio_media::MediaError::Unsupported { .. }) => {
            Ok((original, version.media.mime.clone()))
        }
        Err(e) => {
            tracing::debug!(error = %e, "no thumbnail");
            Err(AppError::NotFound)
        }
    }
}

/// Blob key of the cached rendition of `t` for a version: the canonical string, hex-encoded so
/// that no store sees `:` or `,` in a key.
pub(crate) fn transformation_key(version_id: &str, t: &folio_media::Transformation) -> String {
    let hex: String = t.to_string().bytes().map(|b| format!("{b:02x}")).collect();
    format!("d/{version_id}/tr-{hex}")
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

/// Renders `t` from bytes under the render semaphore, off the async threads.
pub(crate) async fn render_bytes(
    state: &AppState,
    source: Bytes,
    t: folio_media::Transformation,
) -> AppResult<Result<folio_media::Rendered, folio_media::MediaError>> {
    let permit = state
        .renders
        .clone()
        .acquire_owned()
        .await
        .map_err(AppError::internal)?;
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        folio_media::render(&source, &t)
    })
    .await
    .map_err(AppError::internal)
}

/// The rendition of `t` for a stored version: from the cache, else rendered from the version's
/// blob and cached. `Ok(None)` when the image cannot be rendered (corrupt, beyond the decode or
/// output limits).
pub(crate) async fn rendition(
    state: &AppState,
    version_id: &str,
    blob_key: &str,
    t: &folio_media::Transformation,
) -> AppResult<Option<(Bytes, String)>> {
    let key = transformation_key(version_id, t);
    if let Ok(Some(cached)) = state.blobs.read_all(&key).await {
        let mime = folio_media::probe(&cached, cached.len() as u64, "").mime;
        return Ok(Some((cached, mime)));
    }
    // Bounded: the stored version passed the upload size limit.
    let original = state
        .blobs
        .read_all(blob_key)
        .await
        .map_err(AppError::internal)?
        .ok_or(AppError::NotFound)?;
    match render_bytes(state, original, t.clone()).await? {
        Ok(rendered) => {
            let bytes = Bytes::from(rendered.bytes);
            if let Err(e) = state.blobs.put(&key, bytes.clone()).await {
                tracing::warn!(error = %e, "could not cache a rendition");
            }
            Ok(Some((bytes, rendered.mime.to_owned())))
        }
        Err(e) => {
            tracing::debug!(error = %e, "no rendition");
            Ok(None)
        }
    }
}

async fn serve_rendition(
    state: &AppState,
    version: &StoredVersion,
    t: &folio_media::Transformation,
    method: &Method,
    headers: &HeaderMap,
) -> AppResult<Response> {
    // Decided: a transformation of a file we cannot render (video, PDF, SVG, ...) is a bad
    // request, not a missing file.
    if !renderable(&version.media.mime) {
        return Err(AppError::UnsupportedTransformation);
    }
    // `,` would split the tag in If-None-Match lists.
    let tag = etag(version, &format!("-tr-{}", t.to_string().replace(',', ";")));
    if not_modified(headers, &tag) {
        return Ok(StatusCode::NOT_MODIFIED.into_response());
    }
    let (bytes, mime) = rendition(state, &version.version_id, &version.blob_key, t)
        .await?
        .ok_or(AppError::InvalidDeliveryTransformation)?;
    Ok(rendition_response(method, bytes, &mime, &tag, version))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_split_into_account_transformation_and_file() {
        let uri: Uri = "/default/tr:n-ik_ml_thumbnail/a/my%20photo.jpg"
            .parse()
            .expect("uri");
        let (id, tr, path) = parse_path(&uri).expect("parse");
        assert_eq!(id, "default");
        assert_eq!(tr.as_deref(), Some("n-ik_ml_thumbnail"));
        assert_eq!(path, "/a/my photo.jpg");

        let uri: Uri = "/default/x.png?tr=n-ik_ml_thumbnail".parse().expect("uri");
        let (_, tr, path) = parse_path(&uri).expect("parse");
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
            Err(AppError::UnsupportedTransformation)
        ));
        assert!(matches!(
            transformation_kind(Some("n-other".into())),
            Err(AppError::UnsupportedTransformation)
        ));
    }
}
