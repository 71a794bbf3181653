//! The commit rules of an upload (upload-api §3.10), decided once above the catalog backends.
//!
//! A backend reads what the rules need inside its transaction — the file at the upload's path
//! (locked, on PostgreSQL) and, for an overwrite, the count and attributes of its current
//! version — and hands it here; what comes back is what it writes (the `files` row to insert or
//! update, the version row, which is also the [`StoredVersion`] the upload answers with) or a
//! refusal. The backends keep the SQL, the locking, the batching and the retries; nothing here
//! touches a database, so every rule is tested without one (below).
//!
//! Copies and moves (media API) append versions to a file with the same numbering and cap; the
//! rules they share with uploads are [`versions_fit`] and [`append`]; [`copied_file`] is a copy's
//! new file.

use serde_json::{Map, Value};

use super::{CommitOutcome, NewCopy, NewUpload, StoredVersion};

/// How many unique-suffixed names an upload tries before it gives up. A clash of 9 random
/// characters is unlikely; it is looked for rather than assumed away, but not forever.
pub(super) const UNIQUE_NAME_ATTEMPTS: usize = 16;

/// The names an upload with `useUniqueFileName` tries, in order: the proposed name (the one its
/// `checks` saw) first, then fresh suffixes of its base name. The backend takes the first one
/// no file holds.
pub(super) fn unique_names(up: &NewUpload) -> impl Iterator<Item = String> + '_ {
    (0..UNIQUE_NAME_ATTEMPTS).map(|attempt| up.unique_candidate(attempt))
}

/// The error when every name of [`unique_names`] was taken.
pub(super) fn no_unique_name() -> anyhow::Error {
    anyhow::anyhow!("no free unique name after {UNIQUE_NAME_ATTEMPTS} attempts")
}

/// The path an upload without `useUniqueFileName` writes to (a new file or a new version).
pub(super) fn fixed_path(up: &NewUpload) -> String {
    format!("{}{}", up.folder_path, up.base_name)
}

/// The `files` row of a new file, as inserted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct NewFile {
    pub file_id: String,
    pub file_path: String,
    pub name: String,
    pub current_version_id: String,
    pub last_version_number: i64,
    pub created_at_ms: i64,
}

/// The `files` row an upload creating a new file named `name` inserts: the file id is the
/// first version's id (spec §4.5).
pub(super) fn new_file(up: &NewUpload, name: &str, now: i64) -> NewFile {
    NewFile {
        file_id: up.version_id.clone(),
        file_path: format!("{}{}", up.folder_path, name),
        name: name.to_owned(),
        current_version_id: up.version_id.clone(),
        last_version_number: 1,
        created_at_ms: now,
    }
}

/// The `files` row found at an upload's path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct FoundFile {
    pub file_id: String,
    pub current_version_id: String,
    /// The highest number any version of the file ever had (numbers are never reused).
    pub last_version_number: u32,
    pub created_at_ms: i64,
}

/// What an overwrite reads of the file's current version, and how many versions it has.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct CurrentVersion {
    pub version_count: i64,
    pub tags: Option<Vec<String>>,
    pub ai_tags: Option<Value>,
    pub custom_metadata: Option<Map<String, Value>>,
}

/// Why an upload writes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refusal {
    /// A file holds the path and the request said `overwriteFile=false`.
    PathTaken,
    /// The file already has the maximum number of versions.
    TooManyVersions,
}

impl From<Refusal> for CommitOutcome {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::PathTaken => CommitOutcome::PathTaken,
            Refusal::TooManyVersions => CommitOutcome::TooManyVersions,
        }
    }
}

/// Whether the upload may become a new version of the file found at its path; decided before
/// the backend reads anything more of that file.
pub(super) fn may_overwrite(up: &NewUpload) -> Result<(), Refusal> {
    if up.overwrite_file {
        Ok(())
    } else {
        Err(Refusal::PathTaken)
    }
}

/// Whether a file with `existing` versions can take `adding` more under a cap of `max`.
pub(super) fn versions_fit(existing: i64, adding: i64, max: u32) -> bool {
    existing.saturating_add(adding) <= i64::from(max)
}

/// How an overwrite, a copy or a move changes the file's row: the newest version it wrote
/// becomes current.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct FileUpdate {
    pub file_id: String,
    pub current_version_id: String,
    pub last_version_number: i64,
    pub updated_at_ms: i64,
}

/// The first version of a new file: the file's row is [`new_file`]`(up, name, now)`.
pub(super) fn create(up: &NewUpload, name: &str, now: i64) -> StoredVersion {
    let file = new_file(up, name, now);
    version(
        up,
        Attributes {
            tags: requested_tags(up),
            ai_tags: None,
            custom_metadata: up.custom_metadata.clone(),
        },
        file.file_id,
        1,
        file.name,
        file.file_path,
        file.created_at_ms,
        now,
    )
}

/// A new version of `file`, the file found at the upload's fixed path: the row update and the
/// version, or a refusal (see [`may_overwrite`], which the backend asks first).
pub(super) fn overwrite(
    up: &NewUpload,
    file: &FoundFile,
    current: CurrentVersion,
    now: i64,
) -> Result<(FileUpdate, StoredVersion), Refusal> {
    may_overwrite(up)?;
    if !versions_fit(current.version_count, 1, up.max_versions) {
        return Err(Refusal::TooManyVersions);
    }
    // Spec §4.5: the highest number the file ever had, plus one. A file cannot reach
    // u32::MAX versions (the cap is far below); refusing is the honest answer if one did.
    let number = file
        .last_version_number
        .checked_add(1)
        .ok_or(Refusal::TooManyVersions)?;
    let attributes = Attributes {
        // A parameter the request has always wins; the flag only decides what happens
        // without it (removed, or copied from the version being replaced).
        tags: match &up.tags {
            None if !up.overwrite_tags => current.tags,
            _ => requested_tags(up),
        },
        // Not a request parameter: only the flag decides.
        ai_tags: if up.overwrite_ai_tags {
            None
        } else {
            current.ai_tags
        },
        custom_metadata: match &up.custom_metadata {
            None if !up.overwrite_custom_metadata => current.custom_metadata,
            requested => requested.clone(),
        },
    };
    let update = FileUpdate {
        file_id: file.file_id.clone(),
        current_version_id: up.version_id.clone(),
        last_version_number: i64::from(number),
        updated_at_ms: now,
    };
    let version = version(
        up,
        attributes,
        file.file_id.clone(),
        number,
        up.base_name.clone(),
        fixed_path(up),
        file.created_at_ms,
        now,
    );
    Ok((update, version))
}

/// The request's tags; an empty list is no tags.
fn requested_tags(up: &NewUpload) -> Option<Vec<String>> {
    up.tags.clone().filter(|t| !t.is_empty())
}

/// The attributes an overwrite may inherit.
struct Attributes {
    tags: Option<Vec<String>>,
    ai_tags: Option<Value>,
    custom_metadata: Option<Map<String, Value>>,
}

/// The version row an upload inserts, as the catalog then holds it. Custom metadata defaults
/// (spec §9.3) fill every key the merge left without a value.
#[allow(clippy::too_many_arguments)]
fn version(
    up: &NewUpload,
    attributes: Attributes,
    file_id: String,
    number: u32,
    name: String,
    file_path: String,
    file_created_at_ms: i64,
    now: i64,
) -> StoredVersion {
    let mut custom_metadata = attributes.custom_metadata.unwrap_or_default();
    for (key, value) in &up.custom_metadata_defaults {
        custom_metadata
            .entry(key.clone())
            .or_insert_with(|| value.clone());
    }
    StoredVersion {
        file_id,
        version_id: up.version_id.clone(),
        version_number: number,
        name,
        file_path,
        blob_key: up.blob_key.clone(),
        size: up.size,
        tags: attributes.tags,
        ai_tags: attributes.ai_tags,
        custom_metadata,
        custom_coordinates: up.custom_coordinates.clone(),
        is_private_file: up.is_private_file,
        is_published: up.is_published,
        description: up.description.clone(),
        media: up.media.clone(),
        created_at_ms: now,
        is_current: true,
        file_created_at_ms,
        file_updated_at_ms: now,
        updated_at_ms: now,
    }
}

/// A file that versions are appended to: a copy or a move onto a path a file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct AppendTarget {
    pub file_id: String,
    pub last_version_number: i64,
    pub version_count: i64,
}

/// Appending `adding` versions to `target`, the last of which (`current_version_id`) becomes
/// current: the numbers of the appended versions, oldest first (spec §4.5: the highest number
/// the file ever had, plus one, and so on), and the file's row update. `None` when they would
/// take the file past `max` versions.
pub(super) fn append(
    target: &AppendTarget,
    adding: i64,
    current_version_id: &str,
    max: u32,
    now: i64,
) -> Option<(std::ops::RangeFrom<i64>, FileUpdate)> {
    if !versions_fit(target.version_count, adding, max) {
        return None;
    }
    let update = FileUpdate {
        file_id: target.file_id.clone(),
        current_version_id: current_version_id.to_owned(),
        last_version_number: target.last_version_number + adding,
        updated_at_ms: now,
    };
    Some((target.last_version_number + 1.., update))
}

/// The `files` row of a copy that creates its destination file: the id of its first version
/// names the file, its last version is current, numbered from 1. `None` when the copy has more
/// than `max` versions.
pub(super) fn copied_file(copy: &NewCopy, now: i64) -> anyhow::Result<Option<NewFile>> {
    let (Some(first), Some(last)) = (copy.versions.first(), copy.versions.last()) else {
        anyhow::bail!("a copy without versions");
    };
    let n = i64::try_from(copy.versions.len())?;
    if !versions_fit(0, n, copy.max_versions) {
        return Ok(None);
    }
    Ok(Some(NewFile {
        file_id: first.version_id.clone(),
        file_path: format!("{}{}", copy.folder.path, copy.name),
        name: copy.name.clone(),
        current_version_id: last.version_id.clone(),
        last_version_number: n,
        created_at_ms: now,
    }))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::store::MediaInfo;

    const NOW: i64 = 2_000;

    fn upload() -> NewUpload {
        NewUpload {
            account_id: "acc".into(),
            version_id: "v-new".into(),
            blob_key: "v/00/v-new".into(),
            folder_path: "/a/b/".into(),
            folder_ancestors: vec!["/a/".into(), "/a/b/".into()],
            base_name: "photo.jpg".into(),
            proposed_name: None,
            use_unique_file_name: false,
            // The spec's defaults.
            overwrite_file: true,
            overwrite_tags: true,
            overwrite_ai_tags: true,
            overwrite_custom_metadata: true,
            tags: None,
            custom_metadata: None,
            custom_metadata_defaults: Map::new(),
            custom_coordinates: Some("1,2,3,4".into()),
            is_private_file: true,
            is_published: false,
            description: Some("d".into()),
            size: 42,
            media: MediaInfo {
                mime: "image/jpeg".into(),
                file_type: "image".into(),
                width: Some(3),
                ..MediaInfo::default()
            },
            max_versions: 5,
            outbox: crate::store::Outbox::none(),
        }
    }

    fn found() -> FoundFile {
        FoundFile {
            file_id: "f1".into(),
            current_version_id: "v-old".into(),
            last_version_number: 7,
            created_at_ms: 100,
        }
    }

    fn object(value: serde_json::Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            other => panic!("not an object: {other}"),
        }
    }

    fn previous() -> CurrentVersion {
        CurrentVersion {
            version_count: 2,
            tags: Some(vec!["old".into()]),
            ai_tags: Some(json!([{"name": "cat", "confidence": 90, "source": "x"}])),
            custom_metadata: Some(object(json!({"old": 1}))),
        }
    }

    fn overwritten(up: &NewUpload) -> StoredVersion {
        overwrite(up, &found(), previous(), NOW)
            .expect("overwrite")
            .1
    }

    #[test]
    fn a_new_file_is_version_one_and_takes_the_upload_id() {
        let mut up = upload();
        up.tags = Some(vec!["t".into()]);
        up.custom_metadata = Some(object(json!({"k": "v"})));
        let row = new_file(&up, "photo_x1.jpg", NOW);
        assert_eq!(
            row,
            NewFile {
                file_id: "v-new".into(),
                file_path: "/a/b/photo_x1.jpg".into(),
                name: "photo_x1.jpg".into(),
                current_version_id: "v-new".into(),
                last_version_number: 1,
                created_at_ms: NOW,
            }
        );
        let v = create(&up, "photo_x1.jpg", NOW);
        assert_eq!(
            (v.file_id.as_str(), v.version_id.as_str(), v.version_number),
            ("v-new", "v-new", 1)
        );
        assert_eq!(
            (v.name.as_str(), v.file_path.as_str()),
            ("photo_x1.jpg", "/a/b/photo_x1.jpg")
        );
        assert_eq!(v.tags, Some(vec!["t".to_owned()]));
        assert_eq!(v.ai_tags, None);
        assert_eq!(v.custom_metadata, object(json!({"k": "v"})));
        assert_eq!(v.custom_coordinates.as_deref(), Some("1,2,3,4"));
        assert!(v.is_private_file && !v.is_published && v.is_current);
        assert_eq!(v.description.as_deref(), Some("d"));
        assert_eq!((v.size, v.blob_key.as_str()), (42, "v/00/v-new"));
        assert_eq!(v.media, up.media);
        assert_eq!(
            (
                v.created_at_ms,
                v.file_created_at_ms,
                v.file_updated_at_ms,
                v.updated_at_ms
            ),
            (NOW, NOW, NOW, NOW)
        );
    }

    #[test]
    fn an_empty_tag_list_is_no_tags() {
        let mut up = upload();
        up.tags = Some(vec![]);
        assert_eq!(create(&up, "photo.jpg", NOW).tags, None);
        // Sending tags (even none) replaces them: nothing is inherited.
        up.overwrite_tags = false;
        assert_eq!(overwritten(&up).tags, None);
    }

    #[test]
    fn an_overwrite_is_the_next_number_of_the_same_file() {
        let up = upload();
        let (update, v) = overwrite(&up, &found(), previous(), NOW).expect("overwrite");
        assert_eq!(
            update,
            FileUpdate {
                file_id: "f1".into(),
                current_version_id: "v-new".into(),
                last_version_number: 8,
                updated_at_ms: NOW,
            }
        );
        // The highest number ever plus one, not the count plus one: numbers are not reused.
        assert_eq!(
            (v.file_id.as_str(), v.version_id.as_str(), v.version_number),
            ("f1", "v-new", 8)
        );
        assert_eq!(
            (v.name.as_str(), v.file_path.as_str()),
            ("photo.jpg", "/a/b/photo.jpg")
        );
        // The file keeps its creation time; everything else is now.
        assert_eq!(
            (v.file_created_at_ms, v.file_updated_at_ms, v.created_at_ms),
            (100, NOW, NOW)
        );
        // Attributes without a flag come from the request only (spec §3.10's table).
        assert_eq!(v.custom_coordinates.as_deref(), Some("1,2,3,4"));
        assert!(v.is_private_file && !v.is_published && v.is_current);
        assert_eq!(v.description.as_deref(), Some("d"));
    }

    #[test]
    fn every_overwrite_flag_combination_follows_the_table() {
        let requested_tags = vec!["new".to_owned()];
        let requested_meta = object(json!({"new": 2}));
        for bits in 0..32u8 {
            let mut up = upload();
            up.overwrite_tags = bits & 1 != 0;
            up.overwrite_ai_tags = bits & 2 != 0;
            up.overwrite_custom_metadata = bits & 4 != 0;
            let sends_tags = bits & 8 != 0;
            let sends_meta = bits & 16 != 0;
            up.tags = sends_tags.then(|| requested_tags.clone());
            up.custom_metadata = sends_meta.then(|| requested_meta.clone());
            let v = overwritten(&up);
            let case = format!(
                "overwriteTags={} overwriteAITags={} overwriteCustomMetadata={} tags sent={} \
                 customMetadata sent={}",
                up.overwrite_tags,
                up.overwrite_ai_tags,
                up.overwrite_custom_metadata,
                sends_tags,
                sends_meta
            );
            let tags = if sends_tags {
                Some(requested_tags.clone())
            } else if up.overwrite_tags {
                None
            } else {
                previous().tags
            };
            assert_eq!(v.tags, tags, "{case}");
            let ai_tags = if up.overwrite_ai_tags {
                None
            } else {
                previous().ai_tags
            };
            assert_eq!(v.ai_tags, ai_tags, "{case}");
            let meta = if sends_meta {
                requested_meta.clone()
            } else if up.overwrite_custom_metadata {
                Map::new()
            } else {
                previous().custom_metadata.unwrap_or_default()
            };
            assert_eq!(v.custom_metadata, meta, "{case}");
        }
    }

    #[test]
    fn custom_metadata_defaults_fill_what_the_merge_left_empty() {
        let mut up = upload();
        up.custom_metadata_defaults = object(json!({"old": 9, "size": "M", "new": 0}));
        // A new file: the request's values, then the defaults of the keys it lacks.
        up.custom_metadata = Some(object(json!({"new": 2})));
        assert_eq!(
            create(&up, "photo.jpg", NOW).custom_metadata,
            object(json!({"old": 9, "size": "M", "new": 2}))
        );
        // Inherited values are kept: the defaults apply after the merge.
        up.custom_metadata = None;
        up.overwrite_custom_metadata = false;
        assert_eq!(
            overwritten(&up).custom_metadata,
            object(json!({"old": 1, "size": "M", "new": 0}))
        );
        // Removed values (the default flag) leave every key to its default.
        up.overwrite_custom_metadata = true;
        assert_eq!(
            overwritten(&up).custom_metadata,
            object(json!({"old": 9, "size": "M", "new": 0}))
        );
        // A value the request sends wins over the default; inheritance is off when it sends any.
        up.overwrite_custom_metadata = false;
        up.custom_metadata = Some(object(json!({"size": "L"})));
        assert_eq!(
            overwritten(&up).custom_metadata,
            object(json!({"old": 9, "size": "L", "new": 0}))
        );
    }

    #[test]
    fn the_version_cap_refuses_the_version_past_it() {
        let up = upload(); // max_versions 5
        let mut current = previous();
        current.version_count = 4;
        assert!(overwrite(&up, &found(), current.clone(), NOW).is_ok());
        current.version_count = 5;
        assert_eq!(
            overwrite(&up, &found(), current, NOW).err(),
            Some(Refusal::TooManyVersions)
        );
        assert!(versions_fit(3, 2, 5));
        assert!(!versions_fit(4, 2, 5));
        assert!(versions_fit(0, 5, 5));
        assert!(!versions_fit(0, 6, 5));
        assert!(!versions_fit(i64::MAX, 1, 5));
        // A number past u32 is refused, not wrapped.
        let mut file = found();
        file.last_version_number = u32::MAX;
        assert_eq!(
            overwrite(&up, &file, previous(), NOW).err(),
            Some(Refusal::TooManyVersions)
        );
    }

    #[test]
    fn overwrite_file_false_refuses_before_anything_else() {
        let mut up = upload();
        up.overwrite_file = false;
        assert_eq!(may_overwrite(&up), Err(Refusal::PathTaken));
        let mut full = previous();
        full.version_count = 5;
        // Taken comes first, even for a file at its cap.
        assert_eq!(
            overwrite(&up, &found(), full, NOW).err(),
            Some(Refusal::PathTaken)
        );
        assert!(may_overwrite(&upload()).is_ok());
        assert!(matches!(
            CommitOutcome::from(Refusal::PathTaken),
            CommitOutcome::PathTaken
        ));
        assert!(matches!(
            CommitOutcome::from(Refusal::TooManyVersions),
            CommitOutcome::TooManyVersions
        ));
    }

    #[test]
    fn unique_names_try_the_proposed_name_then_fresh_suffixes() {
        let mut up = upload();
        up.use_unique_file_name = true;
        up.proposed_name = Some("photo_AbCdEfGhI.jpg".into());
        let names: Vec<String> = unique_names(&up).collect();
        assert_eq!(names.len(), UNIQUE_NAME_ATTEMPTS);
        assert_eq!(names[0], "photo_AbCdEfGhI.jpg");
        for name in &names[1..] {
            assert_ne!(name, "photo_AbCdEfGhI.jpg");
            assert!(
                name.starts_with("photo_") && name.ends_with(".jpg"),
                "{name}"
            );
        }
        let distinct: std::collections::HashSet<&String> = names.iter().collect();
        assert_eq!(distinct.len(), names.len());
        // Without a proposed name every attempt draws a suffix.
        up.proposed_name = None;
        assert!(unique_names(&up).all(|n| n != "photo.jpg" && n.ends_with(".jpg")));
        assert!(no_unique_name().to_string().contains("16 attempts"));
        assert_eq!(fixed_path(&up), "/a/b/photo.jpg");
    }

    #[test]
    fn appended_versions_continue_the_numbering_under_the_cap() {
        let target = AppendTarget {
            file_id: "f1".into(),
            last_version_number: 7,
            version_count: 2,
        };
        let (numbers, update) = append(&target, 3, "v-last", 5, NOW).expect("fits");
        assert_eq!(numbers.take(3).collect::<Vec<_>>(), vec![8, 9, 10]);
        assert_eq!(
            update,
            FileUpdate {
                file_id: "f1".into(),
                current_version_id: "v-last".into(),
                last_version_number: 10,
                updated_at_ms: NOW,
            }
        );
        assert!(append(&target, 4, "v-last", 5, NOW).is_none());
    }

    #[test]
    fn a_copy_creating_its_file_is_named_by_its_first_version() {
        use crate::store::{CopiedVersion, FolderTarget};
        let source = create(&upload(), "photo.jpg", NOW);
        let copied = |id: &str| CopiedVersion {
            version_id: id.into(),
            blob_key: format!("v/00/{id}"),
            source: source.clone(),
        };
        let mut copy = NewCopy {
            account_id: "acc".into(),
            folder: FolderTarget {
                path: "/c/".into(),
                ancestors: vec!["/c/".into()],
            },
            name: "photo.jpg".into(),
            versions: vec![copied("c1"), copied("c2"), copied("c3")],
            max_versions: 3,
        };
        assert_eq!(
            copied_file(&copy, NOW).expect("valid"),
            Some(NewFile {
                file_id: "c1".into(),
                file_path: "/c/photo.jpg".into(),
                name: "photo.jpg".into(),
                current_version_id: "c3".into(),
                last_version_number: 3,
                created_at_ms: NOW,
            })
        );
        copy.max_versions = 2;
        assert_eq!(copied_file(&copy, NOW).expect("valid"), None);
        copy.versions.clear();
        assert!(copied_file(&copy, NOW).is_err());
    }
}
