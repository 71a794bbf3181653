//! Media facts (media-api §2): `GET /v1/files/{fileId}/metadata` from a stored version's bytes,
//! `GET /v1/metadata?url=…` from a URL fetched under the upload's SSRF rules. Both answer the
//! legacy `metadata` object (`height, width, size, format, hasColorProfile, quality?, density,
//! hasTransparency, exif`, video fields), computed by `folio-media` from the first
//! [`folio_media::SNIFF_LEN`] bytes.

use axum::extract::{Path, RawQuery, State};

use axum::response::{IntoResponse, Response};
use axum::Json;
use folio_contract::ParamError;
use futures_util::TryStreamExt;
use serde_json::Value;

use super::check_file_id;
use crate::error::{AppError, AppResult};
use crate::ids;
use crate::state::AppState;
use crate::store::blob::blob_key;
use crate::upload::auth::Principal;

/// The metadata object of `size` bytes whose head is `head`.
fn describe(head: &[u8], size: u64, name: &str) -> Value {
    let facts = folio_media::probe(head, size, name);
    folio_media::legacy_metadata(&facts, head, size)
}

/// `GET /v1/files/{fileId}/metadata`: the current version's facts, from its blob's head.
pub async fn of_file(
    State(state): State<AppState>,
    Principal(principal): Principal,
    Path(file_id): Path<String>,
) -> AppResult<Response> {
    check_file_id(&file_id)?;
    let current = state
        .catalog
        .file_by_id(&principal.account.id, &file_id)
        .await
        .map_err(AppError::internal)?
        .ok_or(AppError::FileNotFound)?;
    let head_len = current.size.min(folio_media::SNIFF_LEN as u64);
    let mut head = Vec::with_capacity(usize::try_from(head_len).unwrap_or(0));
    if head_len > 0 {
        let object = state
            .blobs
            .get(&current.blob_key, Some(0..head_len))
            .await
            .map_err(AppError::internal)?;
        let mut stream = object.stream;
        while let Some(chunk) = stream.try_next().await.map_err(AppError::internal)? {
            head.extend_from_slice(&chunk);
        }
    }
    Ok(Json(describe(&head, current.size, &current.name)).into_response())
}

/// The `url` of the query. New SDKs percent-encode it; the old Node SDK sends it as it is, so
/// its own `&` and `?` are part of the query string: everything after `url=` is the URL then.
pub fn url_from_query(raw: &str) -> Option<String> {
    let start = if raw.starts_with("url=") {
        0
    } else {
        raw.find("&url=")? + 1
    };
    let value = &raw[start + "url=".len()..];
    let lower = value.to_ascii_lowercase();
    if lower.starts_with("http%3a") || lower.starts_with("https%3a") {
        // Encoded: the value ends at the next parameter.
        let value = value.split('&').next().unwrap_or_default();
        let decoded = form_urlencoded::parse(format!("u={value}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())?;
        (!decoded.is_empty()).then_some(decoded)
    } else {
        (!value.is_empty()).then(|| value.to_owned())
    }
}

/// `GET /v1/metadata?url=…`: the URL is downloaded like an upload's `file` URL (public
/// addresses only unless `fetch.allow`, redirects followed and checked, size limits), into a
/// blob that is removed once the facts are read.
pub async fn of_url(
    State(state): State<AppState>,
    _: Principal,
    RawQuery(query): RawQuery,
) -> AppResult<Response> {
    let url = query
        .as_deref()
        .and_then(url_from_query)
        .ok_or(AppError::Param(ParamError::Missing("url")))?;
    // A version-shaped key: if this process dies before the guard removes it, the sweeper
    // does (no row will ever reference it).
    let key = blob_key(&ids::object_id());
    let name = url
        .split(['?', '#'])
        .next()
        .and_then(|p| p.rsplit('/').next())
        .unwrap_or_default()
        .to_owned();
    let received = state
        .fetcher
        .fetch(&url, &state.blobs, &key, &state.config.limits, &name)
        .await
        .map_err(|e| match e {
            AppError::Internal(_) => e,
            _ => AppError::Param(ParamError::Invalid("url")),
        })?;
    let body = describe(&received.head, received.size, &name);
    // Gone before the answer: the caller may look at the store next.
    received.guard.remove().await;
    Ok(Json(body).into_response())
}

#[cfg(test)]
mod tests {
    use super::url_from_query;

    #[test]
    fn the_url_is_read_encoded_or_not() {
        assert_eq!(
            url_from_query("url=https%3A%2F%2Fa.example%2Fx.jpg%3Fv%3D1%26w%3D2").as_deref(),
            Some("https://a.example/x.jpg?v=1&w=2")
        );
        assert_eq!(
            url_from_query("url=https://a.example/x.jpg?v=1&w=2").as_deref(),
            Some("https://a.example/x.jpg?v=1&w=2")
        );
        assert_eq!(
            url_from_query("x=1&url=http%3a%2f%2fa.example%2fy.png&z=2").as_deref(),
            Some("http://a.example/y.png")
        );
        assert_eq!(url_from_query("url="), None);
        assert_eq!(url_from_query("curl=http://x"), None);
    }
}
