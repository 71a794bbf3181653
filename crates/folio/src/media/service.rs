//! The media API's operations on files, above the catalog backends: the domain rules (what a
//! request may change, how tags merge, what a copy is) live here once, and the backends keep
//! SQL and locking. Handlers call these; so can later features (folders, bulk jobs).
//!
//! Deletion order (must hold): catalog rows first, in one transaction, then the blobs. A crash
//! in between leaves blobs that no row references, which the sweeper removes after its grace
//! period; the opposite order could leave a row pointing at a missing blob.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::details::RenderContext;
use crate::custom_fields::LiveFields;
use crate::error::AppError;
use crate::http::RequestInfo;
use crate::ids;
use crate::state::AppState;
use crate::store::blob::{blob_key, renditions_dir};
use crate::store::{
    Account, CopiedVersion, CopyOutcome, DeleteOutcome, EditErrors, EditOutcome, EditScope,
    FolderTarget, MoveOutcome, NewCopy, Outbox, RemovedVersion, RenameOutcome, StoredVersion,
};
use crate::upload::sink::BlobGuard;

/// Most versions a file may have (the upload's cap, spec §3.10).
pub const MAX_VERSIONS: u32 = 100;

/// A destination folder from a request's path (`/a/b`, `a/b/`, `/`): the upload's folder rules.
pub fn folder_target(raw: &str, field: &'static str) -> Result<FolderTarget, AppError> {
    let folder = folio_contract::Folder::parse(raw)
        .map_err(|_| AppError::Param(folio_contract::ParamError::Invalid(field)))?;
    Ok(FolderTarget {
        path: folder.path(),
        ancestors: folder.ancestors().map(|f| f.path()).collect(),
    })
}

/// A `filePath` as the catalog holds it: one leading `/`, no trailing one.
pub fn normalize_file_path(raw: &str) -> String {
    let trimmed = raw.trim();
    if trimmed.starts_with('/') {
        trimmed.to_owned()
    } else {
        format!("/{trimmed}")
    }
}

/// The outbox of a request's writes to `account`: its events are rendered with the account's
/// context (also returned, for the response).
pub async fn request_outbox(
    state: &AppState,
    account: &Account,
    request: RequestInfo,
) -> Result<(Arc<RenderContext>, Outbox), AppError> {
    let ctx = Arc::new(RenderContext::load(state, account).await?);
    let outbox = Outbox::new(&account.id, Arc::clone(&ctx), Some(request));
    Ok((ctx, outbox))
}

/// The outbox of a request that only deletes (files, versions, a folder): its events carry ids,
/// no File object, so the account's fields are not read.
pub fn deletion_outbox(
    state: &AppState,
    account: &Account,
    request: Option<RequestInfo>,
) -> Outbox {
    let ctx = RenderContext {
        url_endpoint: state.url_endpoint(&account.url_id),
        live_fields: LiveFields::default(),
    };
    Outbox::new(&account.id, Arc::new(ctx), request)
}

/// Removes the blobs of versions whose rows are gone: the version blob and its renditions.
/// Failures are logged and left to the sweeper (the rows are gone already, so nothing points
/// at what remains).
pub async fn remove_blobs(state: &AppState, removed: &[RemovedVersion]) {
    for version in removed {
        if let Err(e) = state.blobs.delete(&version.blob_key).await {
            tracing::warn!(blob.key = %version.blob_key, error = %e, "deleting a version blob failed; the sweeper will retry");
        }
        if let Err(e) = state
            .blobs
            .delete_dir(&renditions_dir(&version.version_id))
            .await
        {
            tracing::warn!(version = %version.version_id, error = %e, "deleting renditions failed; the sweeper will retry");
        }
    }
}

/// Deletes files with all their versions, all or nothing: unknown ids →
/// [`AppError::FilesNotFound`] and nothing is deleted.
pub async fn delete_files(
    state: &AppState,
    account_id: &str,
    file_ids: &[String],
    outbox: &Outbox,
) -> Result<Vec<String>, AppError> {
    let outcome = state
        .catalog
        .delete_files(account_id, file_ids, outbox)
        .await
        .map_err(AppError::internal)?;
    match outcome {
        DeleteOutcome::Missing(missing) => Err(AppError::FilesNotFound(missing)),
        DeleteOutcome::Deleted(removed) => {
            state.webhook_bell.ring();
            remove_blobs(state, &removed).await;
            let mut seen = std::collections::HashSet::new();
            Ok(file_ids
                .iter()
                .filter(|id| seen.insert(id.as_str()))
                .cloned()
                .collect())
        }
    }
}

/// Runs an edit on the current versions (or all versions) of files, all or nothing.
pub async fn edit(
    state: &AppState,
    account_id: &str,
    file_ids: &[String],
    scope: EditScope,
    edit: &(dyn Fn(&mut StoredVersion) -> Result<(), EditErrors> + Send + Sync),
    outbox: &Outbox,
) -> Result<Vec<StoredVersion>, AppError> {
    match state
        .catalog
        .edit_versions(account_id, file_ids, scope, edit, outbox)
        .await
        .map_err(AppError::internal)?
    {
        EditOutcome::Done(current) => {
            state.webhook_bell.ring();
            Ok(current)
        }
        EditOutcome::Missing(missing) => Err(AppError::FilesNotFound(missing)),
        EditOutcome::Invalid(errors) => Err(AppError::InvalidCustomMetadata(errors)),
    }
}

/// `tags` after adding `add` (kept in order, no repeats); `None` when empty.
pub fn add_tags(tags: Option<Vec<String>>, add: &[String]) -> Option<Vec<String>> {
    let mut tags = tags.unwrap_or_default();
    for tag in add {
        if !tags.contains(tag) {
            tags.push(tag.clone());
        }
    }
    (!tags.is_empty()).then_some(tags)
}

/// `tags` without `remove`; `None` when nothing is left.
pub fn remove_tags(tags: Option<Vec<String>>, remove: &[String]) -> Option<Vec<String>> {
    let tags: Vec<String> = tags
        .unwrap_or_default()
        .into_iter()
        .filter(|t| !remove.contains(t))
        .collect();
    (!tags.is_empty()).then_some(tags)
}

/// Which AI tags to remove: by name, or all of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AiTagRemoval {
    All,
    Names(Vec<String>),
}

/// `AITags` (`[{name, confidence, source}]`) without the named ones; `None` when none is left.
pub fn remove_ai_tags(ai_tags: Option<Value>, removal: &AiTagRemoval) -> Option<Value> {
    let names = match removal {
        AiTagRemoval::All => return None,
        AiTagRemoval::Names(names) => names,
    };
    let Some(Value::Array(items)) = ai_tags else {
        return None;
    };
    let kept: Vec<Value> = items
        .into_iter()
        .filter(|t| {
            t.get("name")
                .and_then(Value::as_str)
                .is_none_or(|n| !names.iter().any(|r| r == n))
        })
        .collect();
    (!kept.is_empty()).then_some(Value::Array(kept))
}

/// What `PATCH /v1/files/{id}/details` changes (upload-api §8.3), already validated.
#[derive(Debug, Default, Clone)]
pub struct DetailsUpdate {
    /// `Some(None)`: clear.
    pub tags: Option<Option<Vec<String>>>,
    pub custom_coordinates: Option<Option<String>>,
    /// Validated values to set, and keys whose `null` unsets them.
    pub custom_metadata: Option<(Map<String, Value>, Vec<String>)>,
    pub description: Option<Option<String>>,
    pub remove_ai_tags: Option<AiTagRemoval>,
}

impl DetailsUpdate {
    /// Applies the update to a version. With `customMetadata`, the merged values then get the
    /// account's defaults and are checked for required fields (§9.3 steps 4–5).
    pub fn apply(&self, v: &mut StoredVersion, fields: &LiveFields) -> Result<(), EditErrors> {
        if let Some(tags) = &self.tags {
            v.tags = tags.clone().filter(|t| !t.is_empty());
        }
        if let Some(coordinates) = &self.custom_coordinates {
            v.custom_coordinates = coordinates.clone();
        }
        if let Some((set, unset)) = &self.custom_metadata {
            for key in unset {
                v.custom_metadata.remove(key);
            }
            for (key, value) in set {
                v.custom_metadata.insert(key.clone(), value.clone());
            }
            fields.complete(&mut v.custom_metadata)?;
        }
        if let Some(description) = &self.description {
            v.description = description.clone();
        }
        // Before extensions (they run after this commit).
        if let Some(removal) = &self.remove_ai_tags {
            v.ai_tags = remove_ai_tags(v.ai_tags.take(), removal);
        }
        Ok(())
    }
}

/// Copies the file at `source_path` into `folder` (media-api §2): the current version, or every
/// version (oldest first, the current one last) with `include_versions`. Blobs are copied inside
/// the store first, under fresh version ids; a failure before the catalog commit removes them.
pub async fn copy_file(
    state: &AppState,
    account_id: &str,
    source_path: &str,
    folder: FolderTarget,
    include_versions: bool,
    outbox: &Outbox,
) -> Result<StoredVersion, AppError> {
    let source = state
        .catalog
        .current_by_path(account_id, source_path)
        .await
        .map_err(AppError::internal)?
        .ok_or_else(|| AppError::NoFileAtPath(source_path.to_owned()))?;
    let mut sources = if include_versions {
        let mut all = state
            .catalog
            .file_versions(account_id, &source.file_id)
            .await
            .map_err(AppError::internal)?
            .unwrap_or_default();
        all.retain(|v| !v.is_current);
        all.sort_by_key(|v| v.version_number);
        all
    } else {
        Vec::new()
    };
    let name = source.name.clone();
    sources.push(source);

    let mut guards = Vec::with_capacity(sources.len());
    let mut versions = Vec::with_capacity(sources.len());
    for v in sources {
        let version_id = ids::object_id();
        let key = blob_key(&version_id);
        state
            .blobs
            .copy(&v.blob_key, &key)
            .await
            .map_err(AppError::internal)?;
        guards.push(BlobGuard::new(&state.blobs, &key));
        versions.push(CopiedVersion {
            version_id,
            blob_key: key,
            source: v,
        });
    }
    let copy = NewCopy {
        account_id: account_id.to_owned(),
        folder,
        name,
        versions,
        max_versions: MAX_VERSIONS,
    };
    match state
        .catalog
        .insert_copy(&copy, outbox)
        .await
        .map_err(AppError::internal)?
    {
        CopyOutcome::Copied(current) => {
            guards.into_iter().for_each(BlobGuard::disarm);
            state.webhook_bell.ring();
            Ok(*current)
        }
        // The guards remove the copied blobs.
        CopyOutcome::TooManyVersions => Err(AppError::TooManyVersions),
    }
}

/// Moves the file at `source_path` into `folder` (media-api §2). Blobs stay where they are:
/// they are named by version id, not by path.
pub async fn move_file(
    state: &AppState,
    account_id: &str,
    source_path: &str,
    folder: &FolderTarget,
    outbox: &Outbox,
) -> Result<(), AppError> {
    match state
        .catalog
        .move_file(account_id, source_path, folder, MAX_VERSIONS, outbox)
        .await
        .map_err(AppError::internal)?
    {
        MoveOutcome::Moved => {
            state.webhook_bell.ring();
            Ok(())
        }
        MoveOutcome::NotFound => Err(AppError::NoFileAtPath(source_path.to_owned())),
        MoveOutcome::TooManyVersions => Err(AppError::TooManyVersions),
    }
}

/// The name a rename gives: characters other than letters, digits, `.`, `_` and `-` become `_`
/// (the upload's `fileName` rule, media-api §2).
pub fn rename_target(raw: &str) -> Result<String, AppError> {
    folio_contract::parse_file_name(raw.trim()).map_err(|e| match e {
        folio_contract::ParamError::Missing(_) => {
            AppError::Param(folio_contract::ParamError::Missing("newFileName"))
        }
        _ => AppError::Param(folio_contract::ParamError::Invalid("newFileName")),
    })
}

/// Renames the file at `file_path` in its folder.
pub async fn rename_file(
    state: &AppState,
    account_id: &str,
    file_path: &str,
    new_name: &str,
    outbox: &Outbox,
) -> Result<StoredVersion, AppError> {
    match state
        .catalog
        .rename_file(account_id, file_path, new_name, outbox)
        .await
        .map_err(AppError::internal)?
    {
        RenameOutcome::Renamed(current) => {
            state.webhook_bell.ring();
            Ok(*current)
        }
        RenameOutcome::NotFound => Err(AppError::NoFileAtPath(file_path.to_owned())),
        RenameOutcome::Exists => Err(AppError::FileAlreadyExists),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|t| (*t).to_owned()).collect()
    }

    #[test]
    fn tags_merge_without_repeats_and_empty_is_none() {
        assert_eq!(
            add_tags(Some(s(&["a", "b"])), &s(&["b", "c", "c"])),
            Some(s(&["a", "b", "c"]))
        );
        assert_eq!(add_tags(None, &[]), None);
        assert_eq!(remove_tags(Some(s(&["a", "b"])), &s(&["a", "b"])), None);
        assert_eq!(
            remove_tags(Some(s(&["a", "b"])), &s(&["x"])),
            Some(s(&["a", "b"]))
        );
    }

    #[test]
    fn ai_tags_are_removed_by_name_or_all() {
        let tags = json!([{"name": "Dress", "confidence": 90, "source": "x"},
                          {"name": "Red", "confidence": 80, "source": "x"}]);
        assert_eq!(
            remove_ai_tags(Some(tags.clone()), &AiTagRemoval::Names(s(&["Dress"]))),
            Some(json!([{"name": "Red", "confidence": 80, "source": "x"}]))
        );
        assert_eq!(
            remove_ai_tags(
                Some(tags.clone()),
                &AiTagRemoval::Names(s(&["Dress", "Red"]))
            ),
            None
        );
        assert_eq!(remove_ai_tags(Some(tags), &AiTagRemoval::All), None);
    }

    #[test]
    fn rename_targets_are_sanitised() {
        assert_eq!(
            rename_target("new name (1).jpg").expect("ok"),
            "new_name__1_.jpg"
        );
        assert!(matches!(
            rename_target(""),
            Err(AppError::Param(folio_contract::ParamError::Missing(
                "newFileName"
            )))
        ));
        assert!(rename_target("..").is_err());
    }

    #[test]
    fn folder_targets_and_paths_are_normalised() {
        let t = folder_target("a//b", "destinationPath").expect("ok");
        assert_eq!(t.path, "/a/b/");
        assert_eq!(t.ancestors, ["/a/", "/a/b/"]);
        assert_eq!(folder_target("/", "destinationPath").expect("ok").path, "/");
        assert_eq!(normalize_file_path("a/b.jpg"), "/a/b.jpg");
        assert_eq!(normalize_file_path("/a/b.jpg"), "/a/b.jpg");
    }
}
