//! Bulk operations (media-api §2): delete by ids, add/remove tags, remove AI tags. All or
//! nothing: one unknown id → 404 with `missingFileIds`, and nothing changes.

use axum::extract::State;

use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::service::{self, AiTagRemoval};
use super::{json_body, string_list};
use crate::error::AppResult;
use crate::http::RequestInfo;
use crate::state::AppState;
use crate::store::{EditScope, KeyWithAccount, StoredVersion};
use crate::upload::auth::Principal;

/// Most ids in one bulk delete.
pub const MAX_DELETE_IDS: usize = 100;
/// Most ids in one bulk tag operation.
pub const MAX_TAG_IDS: usize = 50;
/// Most tags in one bulk tag operation (our bound).
const MAX_TAGS: usize = 500;

/// `POST /v1/files/batch/deleteByFileIds` `{fileIds}` → `{successfullyDeletedFileIds}`.
pub async fn delete(
    State(state): State<AppState>,
    Principal(principal): Principal,
    request: RequestInfo,
    body: super::Body,
) -> AppResult<Response> {
    let obj = json_body(body)?;
    let ids = string_list(&obj, "fileIds", MAX_DELETE_IDS)?;
    let outbox = service::deletion_outbox(&state, &principal.account, Some(request));
    let deleted = service::delete_files(&state, &principal.account.id, &ids, &outbox).await?;
    Ok(Json(json!({ "successfullyDeletedFileIds": deleted })).into_response())
}

/// `POST /v1/files/addTags` `{fileIds, tags}`.
pub async fn add_tags(
    State(state): State<AppState>,
    Principal(principal): Principal,
    request: RequestInfo,
    body: super::Body,
) -> AppResult<Response> {
    edit_current(&state, &principal, request, body, "tags", |v, tags| {
        v.tags = service::add_tags(v.tags.take(), tags);
    })
    .await
}

/// `POST /v1/files/removeTags` `{fileIds, tags}`.
pub async fn remove_tags(
    State(state): State<AppState>,
    Principal(principal): Principal,
    request: RequestInfo,
    body: super::Body,
) -> AppResult<Response> {
    edit_current(&state, &principal, request, body, "tags", |v, tags| {
        v.tags = service::remove_tags(v.tags.take(), tags);
    })
    .await
}

/// `POST /v1/files/removeAITags` `{fileIds, AITags}`.
pub async fn remove_ai_tags(
    State(state): State<AppState>,
    Principal(principal): Principal,
    request: RequestInfo,
    body: super::Body,
) -> AppResult<Response> {
    edit_current(&state, &principal, request, body, "AITags", |v, names| {
        let removal = AiTagRemoval::Names(names.to_vec());
        v.ai_tags = service::remove_ai_tags(v.ai_tags.take(), &removal);
    })
    .await
}

/// A bulk tag operation: `fileIds` and the list under `key` from the body, `apply` run with
/// that list on the current version of every file, all or nothing →
/// `{successfullyUpdatedFileIds}`.
async fn edit_current(
    state: &AppState,
    principal: &KeyWithAccount,
    request: RequestInfo,
    body: super::Body,
    key: &'static str,
    apply: fn(&mut StoredVersion, &[String]),
) -> AppResult<Response> {
    let obj = json_body(body)?;
    let ids = string_list(&obj, "fileIds", MAX_TAG_IDS)?;
    let values = string_list(&obj, key, MAX_TAGS)?;
    let (_, outbox) = service::request_outbox(state, &principal.account, request).await?;
    let edit = |v: &mut StoredVersion| {
        apply(v, &values);
        Ok(())
    };
    let account_id = &principal.account.id;
    let updated =
        service::edit(state, account_id, &ids, EditScope::Current, &edit, &outbox).await?;
    let ids: Vec<&str> = updated.iter().map(|v| v.file_id.as_str()).collect();
    Ok(Json(json!({ "successfullyUpdatedFileIds": ids })).into_response())
}
