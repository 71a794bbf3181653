//! The upload file object of spec §4.2: keys that are always there, keys that depend on the
//! file, and keys added by `responseFields` (absent, never `null`, unless asked for).

use folio_contract::{ResponseField, ResponseFields};
use serde::Serialize;
use serde_json::Value;

use crate::store::StoredVersion;

#[derive(Debug, Clone, Serialize)]
pub struct VersionInfo {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadResponse {
    pub file_id: String,
    pub name: String,
    pub size: u64,
    pub version_info: VersionInfo,
    pub file_path: String,
    pub url: String,
    pub file_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub orientation: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thumbnail_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bit_rate: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audio_codec: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub video_codec: Option<String>,
    #[serde(rename = "AITags")]
    pub ai_tags: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    // Requested through `responseFields`: `Some(Value::Null)` is a present `null`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_coordinates: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_private_file: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_published: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_metadata: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embedded_metadata: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    /// Set by the pipeline when the request had a non-empty `extensions` array (spec §3.9).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extension_status: Option<std::collections::BTreeMap<String, String>>,
}

/// `url` and `thumbnailUrl` of a file (spec §4.6).
pub fn delivery_urls(url_endpoint: &str, file_path: &str) -> (String, String) {
    let encoded = folio_contract::url_path_encode(file_path);
    (
        format!("{url_endpoint}{encoded}"),
        format!("{url_endpoint}/tr:n-ik_ml_thumbnail{encoded}"),
    )
}

pub fn upload_response(
    version: &StoredVersion,
    url_endpoint: &str,
    fields: ResponseFields,
) -> UploadResponse {
    let media = &version.media;
    let is_image = media.file_type == "image";
    let (url, thumbnail_url) = delivery_urls(url_endpoint, &version.file_path);
    let asked = |f: ResponseField| fields.contains(f);
    UploadResponse {
        file_id: version.file_id.clone(),
        name: version.name.clone(),
        size: version.size,
        version_info: VersionInfo {
            id: version.version_id.clone(),
            name: format!("Version {}", version.version_number),
        },
        file_path: version.file_path.clone(),
        url,
        file_type: media.file_type.clone(),
        height: media.height,
        width: media.width,
        orientation: media.orientation,
        thumbnail_url: is_image.then_some(thumbnail_url),
        bit_rate: media.bit_rate,
        duration: media.duration,
        audio_codec: media.audio_codec.clone(),
        video_codec: media.video_codec.clone(),
        ai_tags: version.ai_tags.clone().filter(|v| !v.is_null()),
        description: version.description.clone(),
        tags: asked(ResponseField::Tags).then(|| match &version.tags {
            Some(tags) if !tags.is_empty() => Value::from(tags.clone()),
            _ => Value::Null,
        }),
        custom_coordinates: asked(ResponseField::CustomCoordinates)
            .then(|| Value::from(version.custom_coordinates.clone())),
        is_private_file: asked(ResponseField::IsPrivateFile).then_some(version.is_private_file),
        is_published: asked(ResponseField::IsPublished).then_some(version.is_published),
        custom_metadata: asked(ResponseField::CustomMetadata)
            .then(|| Value::Object(version.custom_metadata.clone())),
        embedded_metadata: asked(ResponseField::EmbeddedMetadata)
            .then(|| Value::Object(media.embedded.clone())),
        metadata: asked(ResponseField::Metadata).then(|| match &media.legacy {
            Value::Null => Value::Object(serde_json::Map::new()),
            other => other.clone(),
        }),
        extension_status: None,
    }
}
