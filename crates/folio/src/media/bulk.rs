//! Bulk operations (media-api §2): delete by ids, add/remove tags, remove AI tags. All or
//! nothing: one unknown id → 404 with `missingFileIds`, and nothing changes.

use axum::extract::State;

use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::service::{self, AiTagRemoval};
use super::{json_body, string_list};
use crate::error::AppResult;
use crate::state::AppState;
use crate::store::EditScope;
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
    body: super::Body,
) -> AppResult<Response> {
    let obj = json_body(body)?;
    let ids = string_list(&obj, "fileIds", MAX_DELETE_IDS)?;
    let deleted = service::delete_files(&state, &principal.account.id, &ids).await?;
    Ok(Json(json!({ "successfullyDeletedFileIds": deleted })).into_response())
}

/// `POST /v1/files/addTags` `{fileIds, tags}`.
pub async fn add_tags(
    State(state): State<AppState>,
    Principal(principal): Principal,
    body: super::Body,
) -> AppResult<Response> {
    let obj = json_body(body)?;
    let ids = string_list(&obj, "fileIds", MAX_TAG_IDS)?;
    let tags = string_list(&obj, "tags", MAX_TAGS)?;
    let updated = service::edit(
        &state,
        &principal.account.id,
        &ids,
        EditScope::Current,
        &|v| {
            v.tags = service::add_tags(v.tags.take(), &tags);
            Ok(())
        },
    )
    .await?;
    Ok(updated_ids(&updated))
}

/// `POST /v1/files/removeTags` `{fileIds, tags}`.
pub async fn remove_tags(
    State(state): State<AppState>,
    Principal(principal): Principal,
    body: super::Body,
) -> AppResult<Response> {
    let obj = json_body(body)?;
    let ids = string_list(&obj, "fileIds", MAX_TAG_IDS)?;
    let tags = string_list(&obj, "tags", MAX_TAGS)?;
    let updated = service::edit(
        &state,
        &principal.account.id,
        &ids,
        EditScope::Current,
        &|v| {
            v.tags = service::remove_tags(v.tags.take(), &tags);
            Ok(())
        },
    )
    .await?;
    Ok(updated_ids(&updated))
}

/// `POST /v1/files/removeAITags` `{fileIds, AITags}`.
pub async fn remove_ai_tags(
    State(state): State<AppState>,
    Principal(principal): Principal,
    body: super::Body,
) -> AppResult<Response> {
    let obj = json_body(body)?;
    let ids = string_list(&obj, "fileIds", MAX_TAG_IDS)?;
    let removal = AiTagRemoval::Names(string_list(&obj, "AITags", MAX_TAGS)?);
    let updated = service::edit(
        &state,
        &principal.account.id,
        &ids,
        EditScope::Current,
        &|v| {
            v.ai_tags = service::remove_ai_tags(v.ai_tags.take(), &removal);
            Ok(())
        },
    )
    .await?;
    Ok(updated_ids(&updated))
}

fn updated_ids(updated: &[crate::store::StoredVersion]) -> Response {
    let ids: Vec<&str> = updated.iter().map(|v| v.file_id.as_str()).collect();
    Json(json!({ "successfullyUpdatedFileIds": ids })).into_response()
}
