//! `/v1/files/{fileId}/versions…` (upload-api §8.4–§8.6, §8.8).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::details::{file_details, RenderContext};
use super::service;
use super::{check_file_id, check_version_id};
use crate::error::{AppError, AppResult};
use crate::http::RequestInfo;
use crate::state::AppState;
use crate::store::{RestoreOutcome, VersionDelete};
use crate::upload::auth::Principal;

/// `GET /v1/files/{fileId}/versions`: every version, newest first (the current one is `file`).
pub async fn list(
    State(state): State<AppState>,
    Principal(principal): Principal,
    Path(file_id): Path<String>,
) -> AppResult<Response> {
    check_file_id(&file_id)?;
    let versions = state
        .catalog
        .file_versions(&principal.account.id, &file_id)
        .await
        .map_err(AppError::internal)?
        .ok_or(AppError::FileNotFound)?;
    let ctx = RenderContext::load(&state, &principal.account).await?;
    let body: Vec<_> = versions.iter().map(|v| file_details(v, &ctx)).collect();
    Ok(Json(body).into_response())
}

/// `GET /v1/files/{fileId}/versions/{versionId}`.
pub async fn get(
    State(state): State<AppState>,
    Principal(principal): Principal,
    Path((file_id, version_id)): Path<(String, String)>,
) -> AppResult<Response> {
    check_file_id(&file_id)?;
    check_version_id(&version_id)?;
    let version = state
        .catalog
        .version_by_id(&principal.account.id, &file_id, &version_id)
        .await
        .map_err(AppError::internal)?
        .ok_or(AppError::VersionNotFound)?;
    let ctx = RenderContext::load(&state, &principal.account).await?;
    Ok(Json(file_details(&version, &ctx)).into_response())
}

/// `DELETE /v1/files/{fileId}/versions/{versionId}`: a non-current version, rows then blobs.
pub async fn delete(
    State(state): State<AppState>,
    Principal(principal): Principal,
    request: RequestInfo,
    Path((file_id, version_id)): Path<(String, String)>,
) -> AppResult<Response> {
    check_file_id(&file_id)?;
    check_version_id(&version_id)?;
    let outbox = service::deletion_outbox(&state, &principal.account, Some(request));
    match state
        .catalog
        .delete_version(&principal.account.id, &file_id, &version_id, &outbox)
        .await
        .map_err(AppError::internal)?
    {
        VersionDelete::Deleted(removed) => {
            state.webhook_bell.ring();
            service::remove_blobs(&state, &[removed]).await;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        VersionDelete::Current => Err(AppError::CurrentVersionNotDeletable),
        // Upload-api §8.8's wording for both.
        VersionDelete::NoFile | VersionDelete::NoVersion => Err(AppError::AssetNotFound),
    }
}

/// `PUT /v1/files/{fileId}/versions/{versionId}/restore`: that version is current again.
pub async fn restore(
    State(state): State<AppState>,
    Principal(principal): Principal,
    request: RequestInfo,
    Path((file_id, version_id)): Path<(String, String)>,
) -> AppResult<Response> {
    check_file_id(&file_id)?;
    check_version_id(&version_id)?;
    let (ctx, outbox) = service::request_outbox(&state, &principal.account, request).await?;
    let restored = match state
        .catalog
        .restore_version(&principal.account.id, &file_id, &version_id, &outbox)
        .await
        .map_err(AppError::internal)?
    {
        RestoreOutcome::Restored(current) => current,
        RestoreOutcome::NoFile => return Err(AppError::FileNotFound),
        RestoreOutcome::NoVersion => return Err(AppError::VersionNotFound),
    };
    state.webhook_bell.ring();
    Ok(Json(file_details(&restored, &ctx)).into_response())
}
