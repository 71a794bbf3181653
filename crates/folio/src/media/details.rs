//! The objects the media API returns: `FileDetails` (upload-api §8.1) for a version, and the
//! folder object (media-api §2). Pure renderers from catalog rows, shared by every endpoint
//! that returns files or folders (details, versions, restore, update, list and search).

use serde::Serialize;
use serde_json::{Map, Value};

use crate::custom_fields::LiveFields;
use crate::error::AppError;
use crate::state::AppState;
use crate::store::{StoredFolder, StoredVersion};
use crate::upload::response::{delivery_urls, VersionInfo};

/// What rendering needs besides the rows: where the account's files are delivered, and which
/// custom metadata fields are live (values of deleted fields stay stored but are not shown).
#[derive(Debug)]
pub struct RenderContext {
    pub url_endpoint: String,
    pub live_fields: LiveFields,
}

impl RenderContext {
    /// The context of an account: one query for its live custom metadata fields.
    pub async fn load(
        state: &AppState,
        account: &crate::store::Account,
    ) -> Result<RenderContext, AppError> {
        let fields = state
            .catalog
            .custom_fields(&account.id, false)
            .await
            .map_err(AppError::internal)?;
        Ok(RenderContext {
            url_endpoint: state.url_endpoint(&account.url_id),
            live_fields: LiveFields::new(&fields),
        })
    }
}

/// The `FileDetails` object of upload-api §8.1, keys in the order ImageKit sends them.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FileDetails {
    /// `file` for the current version, `file-version` for any other.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub name: String,
    pub created_at: String,
    pub updated_at: String,
    pub file_id: String,
    pub tags: Option<Vec<String>>,
    #[serde(rename = "AITags")]
    pub ai_tags: Option<Value>,
    pub version_info: VersionInfo,
    pub embedded_metadata: Map<String, Value>,
    pub custom_coordinates: Option<String>,
    pub custom_metadata: Map<String, Value>,
    pub is_private_file: bool,
    pub is_published: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub url: String,
    /// Images only (our choice).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thumbnail: Option<String>,
    pub file_type: String,
    pub file_path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    pub size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub has_alpha: Option<bool>,
    pub mime: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bit_rate: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audio_codec: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub video_codec: Option<String>,
}

/// The folder object of media-api §2.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FolderDetails {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub folder_id: String,
    pub name: String,
    /// `/a/b` (no trailing slash).
    pub folder_path: String,
    pub custom_metadata: Map<String, Value>,
    pub created_at: String,
    pub updated_at: String,
}

/// One entry of a listing that mixes files and folders (`GET /v1/files`).
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Listed {
    File(Box<FileDetails>),
    Folder(FolderDetails),
}

/// `YYYY-MM-DDTHH:mm:ss.sssZ` (UTC, milliseconds) of Unix milliseconds.
pub fn iso_millis(ms: i64) -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00.000Z".to_owned())
}

/// A version as `FileDetails`.
pub fn file_details(v: &StoredVersion, ctx: &RenderContext) -> FileDetails {
    let media = &v.media;
    let (mut url, mut thumbnail) = delivery_urls(&ctx.url_endpoint, &v.file_path);
    if !v.is_current {
        // A non-current version is named by its id (upload-api §8.1).
        let query = format!("?ik-obj-version={}", v.version_id);
        url.push_str(&query);
        thumbnail.push_str(&query);
    }
    let (created_at, updated_at) = if v.is_current {
        (
            v.file_created_at_ms,
            v.file_updated_at_ms.max(v.updated_at_ms),
        )
    } else {
        (v.created_at_ms, v.updated_at_ms)
    };
    FileDetails {
        kind: if v.is_current { "file" } else { "file-version" },
        name: v.name.clone(),
        created_at: iso_millis(created_at),
        updated_at: iso_millis(updated_at),
        file_id: v.file_id.clone(),
        tags: v.tags.clone().filter(|t| !t.is_empty()),
        ai_tags: v
            .ai_tags
            .clone()
            .filter(|t| !t.is_null() && t.as_array().is_none_or(|a| !a.is_empty())),
        version_info: VersionInfo {
            id: v.version_id.clone(),
            name: format!("Version {}", v.version_number),
        },
        embedded_metadata: media.embedded.clone(),
        custom_coordinates: v.custom_coordinates.clone(),
        custom_metadata: v
            .custom_metadata
            .iter()
            .filter(|(k, _)| ctx.live_fields.contains(k))
            .map(|(k, val)| (k.clone(), val.clone()))
            .collect(),
        is_private_file: v.is_private_file,
        is_published: v.is_published,
        description: v.description.clone(),
        url,
        thumbnail: (media.file_type == "image").then_some(thumbnail),
        file_type: media.file_type.clone(),
        file_path: v.file_path.clone(),
        height: media.height,
        width: media.width,
        size: v.size,
        has_alpha: media.has_alpha,
        mime: media.mime.clone(),
        bit_rate: media.bit_rate,
        duration: media.duration,
        audio_codec: media.audio_codec.clone(),
        video_codec: media.video_codec.clone(),
    }
}

/// A folder as media-api §2's folder object. Folders have no attributes that change, so
/// `updatedAt` is their creation time.
pub fn folder_details(f: &StoredFolder) -> FolderDetails {
    let trimmed = f.path.trim_end_matches('/');
    let name = trimmed.rsplit('/').next().unwrap_or_default().to_owned();
    FolderDetails {
        kind: "folder",
        folder_id: f.folder_id.clone(),
        name,
        folder_path: if trimmed.is_empty() {
            "/".to_owned()
        } else {
            trimmed.to_owned()
        },
        custom_metadata: Map::new(),
        created_at: iso_millis(f.created_at_ms),
        updated_at: iso_millis(f.created_at_ms),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{CustomField, MediaInfo};
    use serde_json::json;

    fn ctx() -> RenderContext {
        let field = CustomField {
            id: "598821f949c0a938d57563dd".into(),
            account_id: "acc".into(),
            name: "brand".into(),
            label: "Brand".into(),
            description: None,
            schema: json!({"type": "Text"}),
            deleted: false,
            created_at_ms: 0,
        };
        RenderContext {
            url_endpoint: "https://media.example.net/default".into(),
            live_fields: LiveFields::new(&[field]),
        }
    }

    fn version(current: bool) -> StoredVersion {
        StoredVersion {
            file_id: "65a000000000000000000001".into(),
            version_id: if current {
                "65a000000000000000000002".into()
            } else {
                "65a000000000000000000001".into()
            },
            version_number: if current { 2 } else { 1 },
            name: "red dress.jpg".into(),
            file_path: "/sale/red dress.jpg".into(),
            blob_key: "v/02/65a000000000000000000002".into(),
            size: 1234,
            tags: Some(vec!["summer".into()]),
            ai_tags: None,
            custom_metadata: serde_json::from_value(json!({"brand": "Nike", "gone": 1}))
                .expect("map"),
            custom_coordinates: Some("10,10,20,20".into()),
            is_private_file: false,
            is_published: true,
            description: None,
            media: MediaInfo {
                mime: "image/jpeg".into(),
                file_type: "image".into(),
                width: Some(640),
                height: Some(480),
                has_alpha: Some(false),
                embedded: serde_json::from_value(json!({"Make": "Canon"})).expect("map"),
                ..MediaInfo::default()
            },
            created_at_ms: 1_700_000_100_123,
            is_current: current,
            file_created_at_ms: 1_700_000_000_000,
            file_updated_at_ms: 1_700_000_200_456,
            updated_at_ms: 1_700_000_100_123,
        }
    }

    #[test]
    fn a_current_version_is_a_file() {
        insta::assert_json_snapshot!(file_details(&version(true), &ctx()));
    }

    #[test]
    fn an_older_version_is_named_by_its_id() {
        let mut v = version(false);
        v.tags = Some(vec![]);
        v.description = Some("first".into());
        v.ai_tags =
            Some(json!([{"name": "Dress", "confidence": 91.5, "source": "google-auto-tagging"}]));
        insta::assert_json_snapshot!(file_details(&v, &ctx()));
    }

    #[test]
    fn non_images_have_no_thumbnail() {
        let mut v = version(true);
        v.media = MediaInfo {
            mime: "video/mp4".into(),
            file_type: "non-image".into(),
            width: Some(320),
            height: Some(240),
            duration: Some(3),
            bit_rate: Some(12000),
            video_codec: Some("h264".into()),
            audio_codec: Some("aac".into()),
            ..MediaInfo::default()
        };
        let details = serde_json::to_value(file_details(&v, &ctx())).expect("json");
        assert!(details.get("thumbnail").is_none());
        assert_eq!(details["duration"], 3);
        assert_eq!(details["videoCodec"], "h264");
    }

    #[test]
    fn folders() {
        insta::assert_json_snapshot!(folder_details(&StoredFolder {
            folder_id: "65a0000000000000000000ff".into(),
            path: "/sale/summer/".into(),
            name: "summer".into(),
            created_at_ms: 1_700_000_000_000,
        }));
    }

    #[test]
    fn timestamps_are_utc_with_milliseconds() {
        assert_eq!(iso_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso_millis(1_700_000_000_007), "2023-11-14T22:13:20.007Z");
    }
}
