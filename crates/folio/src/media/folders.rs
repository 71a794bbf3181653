//! `POST`/`DELETE /v1/folder`, the folder bulk jobs (`/v1/bulkJobs/...`) and cache purge
//! (`/v1/files/purge`), media-api §2. The work itself is `crate::jobs`'.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use folio_contract::ParamError;
use serde_json::{json, Value};

use super::{json_body, optional_bool, required_string};
use crate::error::{AppError, AppResult};
use crate::ids;
use crate::jobs;
use crate::state::AppState;
use crate::store::{JobKind, KeyWithAccount};
use crate::upload::auth::Principal;

/// `POST /v1/folder` `{folderName, parentFolderPath}` → 201 `{}`.
pub async fn create(
    State(state): State<AppState>,
    Principal(principal): Principal,
    body: super::Body,
) -> AppResult<Response> {
    let obj = json_body(body)?;
    let name = required_string(&obj, "folderName")?;
    let parent = required_string(&obj, "parentFolderPath")?;
    jobs::create_folder(&state, &principal.account.id, &parent, &name).await?;
    Ok((StatusCode::CREATED, Json(json!({}))).into_response())
}

/// `DELETE /v1/folder` with the JSON body `{folderPath}` → 204, once everything under the
/// folder is gone.
pub async fn delete(
    State(state): State<AppState>,
    Principal(principal): Principal,
    request: crate::http::RequestInfo,
    body: super::Body,
) -> AppResult<Response> {
    let obj = json_body(body)?;
    let path = required_string(&obj, "folderPath")?;
    let outbox = super::service::deletion_outbox(&state, &principal.account, Some(request));
    jobs::delete_folder(&state, &principal.account.id, &path, outbox).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn job_id_reply(job_id: &str) -> Response {
    Json(json!({ "jobId": job_id })).into_response()
}

/// `POST /v1/bulkJobs/copyFolder` `{sourceFolderPath, destinationPath, includeVersions}`.
pub async fn copy(
    State(state): State<AppState>,
    Principal(principal): Principal,
    body: super::Body,
) -> AppResult<Response> {
    copy_or_move(state, principal, body, JobKind::CopyFolder).await
}

/// `POST /v1/bulkJobs/moveFolder` `{sourceFolderPath, destinationPath}`.
pub async fn move_folder(
    State(state): State<AppState>,
    Principal(principal): Principal,
    body: super::Body,
) -> AppResult<Response> {
    copy_or_move(state, principal, body, JobKind::MoveFolder).await
}

async fn copy_or_move(
    state: AppState,
    principal: KeyWithAccount,
    body: super::Body,
    kind: JobKind,
) -> AppResult<Response> {
    let obj = json_body(body)?;
    let source = required_string(&obj, "sourceFolderPath")?;
    let destination = required_string(&obj, "destinationPath")?;
    let include_versions = match kind {
        JobKind::CopyFolder => optional_bool(&obj, "includeVersions")?,
        _ => false,
    };
    let account = &principal.account;
    let plan = jobs::plan_copy_or_move(
        &state,
        &account.id,
        kind,
        &source,
        &destination,
        include_versions,
    )
    .await?;
    let job = jobs::submit_folder_job(&state, &account.id, &account.url_id, &plan, false).await?;
    Ok(job_id_reply(&job.job_id))
}

/// `POST /v1/bulkJobs/renameFolder` `{folderPath, newFolderName, purgeCache}`.
pub async fn rename(
    State(state): State<AppState>,
    Principal(principal): Principal,
    body: super::Body,
) -> AppResult<Response> {
    let obj = json_body(body)?;
    let path = required_string(&obj, "folderPath")?;
    let name = required_string(&obj, "newFolderName")?;
    let purge_cache = optional_bool(&obj, "purgeCache")?;
    let account = &principal.account;
    let plan = jobs::plan_rename(&state, &account.id, &path, &name).await?;
    let job =
        jobs::submit_folder_job(&state, &account.id, &account.url_id, &plan, purge_cache).await?;
    Ok(job_id_reply(&job.job_id))
}

/// `GET /v1/bulkJobs/{jobId}` → `{jobId, type, status, purgeRequestId?}`.
pub async fn job_status(
    State(state): State<AppState>,
    Principal(principal): Principal,
    Path(job_id): Path<String>,
) -> AppResult<Response> {
    let job = account_job(&state, &principal.account.id, &job_id, "jobId")
        .await?
        .filter(|j| j.kind != JobKind::Purge)
        .ok_or(AppError::JobNotFound)?;
    Ok(Json(jobs::job_status(&job)).into_response())
}

/// `POST /v1/files/purge` `{url}` → 201 `{requestId}`.
pub async fn purge(
    State(state): State<AppState>,
    Principal(principal): Principal,
    body: super::Body,
) -> AppResult<Response> {
    let obj = json_body(body)?;
    let url = required_string(&obj, "url")?;
    let account = &principal.account;
    let target = jobs::purge_target(&url, &state.url_endpoint(&account.url_id))?;
    let request_id = jobs::submit_purge(&state, &account.id, &url, &target).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "requestId": request_id })),
    )
        .into_response())
}

/// `GET /v1/files/purge/{requestId}` → `{status}`.
pub async fn purge_status(
    State(state): State<AppState>,
    Principal(principal): Principal,
    Path(request_id): Path<String>,
) -> AppResult<Response> {
    let job = account_job(&state, &principal.account.id, &request_id, "requestId")
        .await?
        .filter(|j| j.kind == JobKind::Purge)
        .ok_or(AppError::PurgeRequestNotFound)?;
    let status: Value = if job.completed {
        "Completed"
    } else {
        "Pending"
    }
    .into();
    Ok(Json(json!({ "status": status })).into_response())
}

/// A job of the account by the id in the path (`param` names it in the 400 for a malformed
/// one). Folder jobs and purge requests share the table; the caller picks its kind.
async fn account_job(
    state: &AppState,
    account_id: &str,
    id: &str,
    param: &'static str,
) -> AppResult<Option<crate::store::Job>> {
    if !ids::is_object_id(id) {
        return Err(AppError::Param(ParamError::Invalid(param)));
    }
    state
        .catalog
        .job(account_id, id)
        .await
        .map_err(AppError::internal)
}
