//! `GET`/`PATCH /v1/files/{id}/details`, `DELETE /v1/files/{id}`, `POST /v1/files/copy`,
//! `POST /v1/files/move`, `PUT /v1/files/rename`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use folio_contract::ParamError;
use serde_json::{json, Map, Value};

use super::details::{file_details, RenderContext};
use super::service::{self, AiTagRemoval, DetailsUpdate};
use super::{check_file_id, json_body, optional_bool, required_string};
use crate::error::{AppError, AppResult};
use crate::http::RequestInfo;
use crate::state::AppState;
use crate::store::EditScope;
use crate::store::StoredVersion;
use crate::upload::auth::Principal;
use crate::webhooks::outbox::ExtensionJobs;

/// `GET /v1/files/{fileId}/details` (upload-api §8.2).
pub async fn details(
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
    let ctx = RenderContext::load(&state, &principal.account).await?;
    Ok(Json(file_details(&current, &ctx)).into_response())
}

/// `PATCH /v1/files/{fileId}/details` (upload-api §8.3): the attributes of the current version,
/// or `{"publish": {...}}`.
pub async fn update(
    State(state): State<AppState>,
    Principal(principal): Principal,
    request: RequestInfo,
    Path(file_id): Path<String>,
    body: super::Body,
) -> AppResult<Response> {
    check_file_id(&file_id)?;
    let obj = json_body(body)?;
    let account_id = &principal.account.id;
    let (ctx, outbox) = service::request_outbox(&state, &principal.account, request).await?;
    let ids = [file_id];

    if let Some(publish) = obj.get("publish") {
        let (is_published, scope) = parse_publish(publish, &obj)?;
        let publish = move |v: &mut StoredVersion| {
            v.is_published = is_published;
            Ok(())
        };
        let current = service::edit(&state, account_id, &ids, scope, &publish, &outbox)
            .await
            .map_err(not_found_for_one)?;
        let Some(current) = current.first() else {
            return Err(AppError::FileNotFound);
        };
        return Ok(Json(file_details(current, &ctx)).into_response());
    }

    let update = parse_update(&obj, &ctx)?;
    let extensions = match obj.get("extensions") {
        None | Some(Value::Null) => Vec::new(),
        Some(raw) => folio_contract::parse_extensions(&raw.to_string())?,
    };
    let webhook_url = match obj.get("webhookUrl") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(folio_contract::parse_webhook_url(s)?),
        Some(_) => return Err(AppError::Param(ParamError::Invalid("webhookUrl"))),
    };
    // Spec §3.9 as for uploads: only a non-empty `extensions` array yields `extensionStatus`;
    // the pending ones become jobs written with the edit.
    let asked_for_extensions = !extensions.is_empty();
    let (status, pending) = state.extensions.plan(extensions);
    let outbox = if pending.is_empty() {
        outbox
    } else {
        outbox.with_extensions(ExtensionJobs {
            extensions: pending,
            webhook_url,
            key_id: principal.key.public_key.clone(),
        })
    };
    let fields = &ctx.live_fields;
    let apply = |v: &mut StoredVersion| update.apply(v, fields);
    let current = service::edit(
        &state,
        account_id,
        &ids,
        EditScope::Current,
        &apply,
        &outbox,
    )
    .await
    .map_err(not_found_for_one)?;
    let Some(current) = current.into_iter().next() else {
        return Err(AppError::FileNotFound);
    };
    let mut body =
        serde_json::to_value(file_details(&current, &ctx)).map_err(AppError::internal)?;
    if asked_for_extensions {
        if let Value::Object(obj) = &mut body {
            obj.insert("extensionStatus".to_owned(), json!(status));
        }
    }
    Ok(Json(body).into_response())
}

/// One file asked for: its absence is the single-file message, not the bulk one.
fn not_found_for_one(e: AppError) -> AppError {
    match e {
        AppError::FilesNotFound(_) => AppError::FileNotFound,
        other => other,
    }
}

/// `{"isPublished": bool, "includeFileVersions": bool?}`, alone in the body.
fn parse_publish(publish: &Value, obj: &Map<String, Value>) -> AppResult<(bool, EditScope)> {
    let invalid = || AppError::Param(ParamError::Invalid("publish"));
    // Publishing is its own request (upload-api §8.3: "or alternatively").
    const OTHERS: [&str; 7] = [
        "tags",
        "customCoordinates",
        "customMetadata",
        "description",
        "removeAITags",
        "extensions",
        "webhookUrl",
    ];
    if OTHERS.iter().any(|k| obj.contains_key(*k)) {
        return Err(invalid());
    }
    let Value::Object(p) = publish else {
        return Err(invalid());
    };
    let Some(Value::Bool(is_published)) = p.get("isPublished") else {
        return Err(invalid());
    };
    let all = match p.get("includeFileVersions") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(invalid()),
    };
    let scope = if all {
        EditScope::AllVersions
    } else {
        EditScope::Current
    };
    Ok((*is_published, scope))
}

/// The attribute changes of an update body, validated (types, §9.3 steps 1–3).
fn parse_update(obj: &Map<String, Value>, ctx: &RenderContext) -> AppResult<DetailsUpdate> {
    let mut update = DetailsUpdate::default();
    if let Some(tags) = obj.get("tags") {
        update.tags = Some(match tags {
            Value::Null => None,
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    match item {
                        Value::String(s)
                            if !s.trim().is_empty()
                                && s.chars().count() <= folio_contract::MAX_TAG_CHARS =>
                        {
                            if !out.contains(&s.trim().to_owned()) {
                                out.push(s.trim().to_owned());
                            }
                        }
                        _ => return Err(AppError::Param(ParamError::Invalid("tags"))),
                    }
                }
                Some(out)
            }
            _ => return Err(AppError::Param(ParamError::Invalid("tags"))),
        });
    }
    if let Some(coordinates) = obj.get("customCoordinates") {
        update.custom_coordinates = Some(match coordinates {
            Value::Null => None,
            Value::String(s) if s.is_empty() => None,
            Value::String(s) => {
                folio_contract::CustomCoordinates::parse(s)?;
                Some(s.clone())
            }
            _ => return Err(AppError::Param(ParamError::Invalid("customCoordinates"))),
        });
    }
    if let Some(metadata) = obj.get("customMetadata") {
        let Value::Object(request) = metadata else {
            return Err(AppError::InvalidCustomMetadata(
                [(
                    "customMetadata".to_owned(),
                    "should be an object".to_owned(),
                )]
                .into(),
            ));
        };
        let set = ctx
            .live_fields
            .validate(request)
            .map_err(AppError::InvalidCustomMetadata)?;
        let unset = request
            .iter()
            .filter(|(_, v)| v.is_null())
            .map(|(k, _)| k.clone())
            .collect();
        update.custom_metadata = Some((set, unset));
    }
    if let Some(description) = obj.get("description") {
        update.description = Some(match description {
            Value::Null => None,
            Value::String(s) => Some(s.clone()),
            _ => return Err(AppError::Param(ParamError::Invalid("description"))),
        });
    }
    if let Some(remove) = obj.get("removeAITags") {
        let invalid = || AppError::Param(ParamError::Invalid("removeAITags"));
        update.remove_ai_tags = Some(match remove {
            Value::String(s) if s == "all" => AiTagRemoval::All,
            Value::Array(items) => AiTagRemoval::Names(
                items
                    .iter()
                    .map(|v| v.as_str().map(str::to_owned).ok_or_else(invalid))
                    .collect::<AppResult<_>>()?,
            ),
            _ => return Err(invalid()),
        });
    }
    Ok(update)
}

/// `DELETE /v1/files/{fileId}` (upload-api §8.7): the file and all its versions.
pub async fn delete(
    State(state): State<AppState>,
    Principal(principal): Principal,
    request: RequestInfo,
    Path(file_id): Path<String>,
) -> AppResult<Response> {
    check_file_id(&file_id)?;
    let outbox = service::deletion_outbox(&state, &principal.account, Some(request));
    service::delete_files(&state, &principal.account.id, &[file_id], &outbox)
        .await
        .map_err(not_found_for_one)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /v1/files/copy` `{sourceFilePath, destinationPath, includeFileVersions}`.
pub async fn copy(
    State(state): State<AppState>,
    Principal(principal): Principal,
    request: RequestInfo,
    body: super::Body,
) -> AppResult<Response> {
    let obj = json_body(body)?;
    let source = service::normalize_file_path(&required_string(&obj, "sourceFilePath")?);
    let destination = service::folder_target(
        &required_string(&obj, "destinationPath")?,
        "destinationPath",
    )?;
    let include_versions = optional_bool(&obj, "includeFileVersions")?;
    let (_, outbox) = service::request_outbox(&state, &principal.account, request).await?;
    service::copy_file(
        &state,
        &principal.account.id,
        &source,
        destination,
        include_versions,
        &outbox,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /v1/files/move` `{sourceFilePath, destinationPath}`.
pub async fn move_file(
    State(state): State<AppState>,
    Principal(principal): Principal,
    request: RequestInfo,
    body: super::Body,
) -> AppResult<Response> {
    let obj = json_body(body)?;
    let source = service::normalize_file_path(&required_string(&obj, "sourceFilePath")?);
    let destination = service::folder_target(
        &required_string(&obj, "destinationPath")?,
        "destinationPath",
    )?;
    let (_, outbox) = service::request_outbox(&state, &principal.account, request).await?;
    service::move_file(
        &state,
        &principal.account.id,
        &source,
        &destination,
        &outbox,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `PUT /v1/files/rename` `{filePath, newFileName, purgeCache}` → `{}`.
pub async fn rename(
    State(state): State<AppState>,
    Principal(principal): Principal,
    request: RequestInfo,
    body: super::Body,
) -> AppResult<Response> {
    let obj = json_body(body)?;
    let path = service::normalize_file_path(&required_string(&obj, "filePath")?);
    let new_name = service::rename_target(&required_string(&obj, "newFileName")?)?;
    let purge_cache = optional_bool(&obj, "purgeCache")?;
    let account = &principal.account;
    let (_, outbox) = service::request_outbox(&state, account, request).await?;
    service::rename_file(&state, &account.id, &path, &new_name, &outbox).await?;
    if !purge_cache {
        return Ok(Json(json!({})).into_response());
    }
    // Folio's own renditions are keyed by version, so the rename made none stale; what may
    // be is a cache in front of delivery holding the old URL, which the purge names (and
    // drops any rendition still found under it).
    let (old_url, _) =
        crate::upload::response::delivery_urls(&state.url_endpoint(&account.url_id), &path);
    let request_id = crate::jobs::submit_purge(
        &state,
        &account.id,
        &old_url,
        &crate::jobs::PurgeTarget::Path(path),
    )
    .await?;
    Ok(Json(json!({ "purgeRequestId": request_id })).into_response())
}
