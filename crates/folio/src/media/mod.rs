//! The media management API (media-api §2, upload-api §8): details, update, delete, copy, move
//! and rename of files, their versions, bulk operations and media metadata. Basic auth with the
//! private key only (`upload::auth::authenticate_basic`), JSON in and out.
//!
//! * `details`  — the `FileDetails` and folder objects (pure renderers, reused by listings);
//! * `service`  — the operations above the catalog backends (domain rules, deletion order);
//! * `files`, `versions`, `bulk`, `metadata` — the handlers;
//! * `list` — `GET /v1/files`, list and search (spec §8.9);
//! * `folders` — folders, folder bulk jobs and purge (the work is `crate::jobs`').
//!
//! Every route also answers with a trailing slash (old SDKs add one, media-api §1).

pub mod details;
pub mod list;
pub mod service;

mod bulk;
mod files;
mod folders;
mod metadata;
mod versions;

use axum::routing::{delete, get, post, put, MethodRouter};
use axum::Router;
use serde_json::{Map, Value};

use crate::error::AppError;
use crate::ids;
use crate::state::AppState;
use folio_contract::ParamError;

pub use details::{
    file_details, folder_details, FileDetails, FolderDetails, Listed, RenderContext,
};

/// The routes of the media API, each with and without a trailing slash.
pub fn routes() -> Router<AppState> {
    let table: Vec<(&str, MethodRouter<AppState>)> = vec![
        (
            "/v1/files/{file_id}/details",
            get(files::details).patch(files::update),
        ),
        ("/v1/files/{file_id}", delete(files::delete)),
        ("/v1/files/copy", post(files::copy)),
        ("/v1/files/move", post(files::move_file)),
        ("/v1/files/rename", put(files::rename)),
        ("/v1/files/{file_id}/versions", get(versions::list)),
        (
            "/v1/files/{file_id}/versions/{version_id}",
            get(versions::get).delete(versions::delete),
        ),
        (
            "/v1/files/{file_id}/versions/{version_id}/restore",
            put(versions::restore),
        ),
        ("/v1/files/batch/deleteByFileIds", post(bulk::delete)),
        ("/v1/files/addTags", post(bulk::add_tags)),
        ("/v1/files/removeTags", post(bulk::remove_tags)),
        ("/v1/files/removeAITags", post(bulk::remove_ai_tags)),
        ("/v1/files/{file_id}/metadata", get(metadata::of_file)),
        ("/v1/metadata", get(metadata::of_url)),
        // Folders, bulk jobs and purge (`crate::jobs`).
        ("/v1/folder", post(folders::create).delete(folders::delete)),
        ("/v1/bulkJobs/copyFolder", post(folders::copy)),
        ("/v1/bulkJobs/moveFolder", post(folders::move_folder)),
        ("/v1/bulkJobs/renameFolder", post(folders::rename)),
        ("/v1/bulkJobs/{job_id}", get(folders::job_status)),
        ("/v1/files/purge", post(folders::purge)),
        ("/v1/files/purge/{request_id}", get(folders::purge_status)),
    ];
    let mut router = Router::new();
    for (path, method) in table {
        router = router
            .route(path, method.clone())
            .route(&format!("{path}/"), method);
    }
    router
}

/// A `fileId` path segment (upload-api §8.2: our choice, 24 lowercase hex digits).
fn check_file_id(id: &str) -> Result<(), AppError> {
    if ids::is_object_id(id) {
        Ok(())
    } else {
        Err(AppError::InvalidFileId)
    }
}

fn check_version_id(id: &str) -> Result<(), AppError> {
    if ids::is_object_id(id) {
        Ok(())
    } else {
        Err(AppError::InvalidVersionId)
    }
}

/// The body of a JSON request: a body that could not be read (over axum's limit, a broken
/// stream) is a 400 like any other bad body.
type Body = Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>;

/// A request body that must be a JSON object; anything else is a 400, never a 500.
fn json_body(body: Body) -> Result<Map<String, Value>, AppError> {
    json_object(&body.map_err(|_| AppError::InvalidJsonBody)?)
}

/// A request body that must be a JSON object; anything else is a 400, never a 500.
fn json_object(body: &[u8]) -> Result<Map<String, Value>, AppError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(obj)) => Ok(obj),
        _ => Err(AppError::InvalidJsonBody),
    }
}

/// A required non-empty string.
fn required_string(obj: &Map<String, Value>, key: &'static str) -> Result<String, AppError> {
    match obj.get(key) {
        None | Some(Value::Null) => Err(AppError::Param(ParamError::Missing(key))),
        Some(Value::String(s)) if s.trim().is_empty() => {
            Err(AppError::Param(ParamError::Missing(key)))
        }
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(AppError::Param(ParamError::Invalid(key))),
    }
}

/// An optional boolean (absent or `null`: `false`).
fn optional_bool(obj: &Map<String, Value>, key: &'static str) -> Result<bool, AppError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(AppError::Param(ParamError::Invalid(key))),
    }
}

/// A required array of 1 to `max` strings.
fn string_list(
    obj: &Map<String, Value>,
    key: &'static str,
    max: usize,
) -> Result<Vec<String>, AppError> {
    let items = match obj.get(key) {
        None | Some(Value::Null) => return Err(AppError::Param(ParamError::Missing(key))),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(AppError::Param(ParamError::Invalid(key))),
    };
    if items.is_empty() || items.len() > max {
        return Err(AppError::Param(ParamError::Invalid(key)));
    }
    items
        .iter()
        .map(|v| match v {
            Value::String(s) if !s.trim().is_empty() => Ok(s.trim().to_owned()),
            _ => Err(AppError::Param(ParamError::Invalid(key))),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().expect("object")
    }

    #[test]
    fn bodies_that_are_not_objects_are_refused() {
        for body in [&b""[..], b"[]", b"{", b"null", b"\"x\"", b"\xff"] {
            assert!(matches!(json_object(body), Err(AppError::InvalidJsonBody)));
        }
        assert!(json_object(b"{}").is_ok());
    }

    #[test]
    fn lists_are_bounded_and_typed() {
        let o = obj(json!({"ids": ["a", " b "], "bad": [1], "empty": [], "s": "x"}));
        assert_eq!(string_list(&o, "ids", 2).expect("ok"), ["a", "b"]);
        assert!(string_list(&o, "ids", 1).is_err());
        assert!(string_list(&o, "bad", 5).is_err());
        assert!(string_list(&o, "empty", 5).is_err());
        assert!(string_list(&o, "s", 5).is_err());
        assert!(matches!(
            string_list(&o, "none", 5),
            Err(AppError::Param(ParamError::Missing("none")))
        ));
    }
}
