//! What a `checks` expression is evaluated against.

use serde_json::{Map, Value};

use crate::folder::Folder;
use crate::params::UploadParams;

/// What the server knows about the size (in bytes) of the file the checks will see.
///
/// **Soundness contract for [`SizeKnowledge::AtLeast`]**: `n` must be a lower bound of the
/// *final* `file.size`, i.e. of the bytes the checks are finally evaluated on (spec §7). That
/// holds for decoded bytes of a binary or base64 upload received so far **without** a `pre`
/// transformation. It does not hold for base64 *text* bytes (the decoded file is about 3/4 as
/// long) or when a `pre` transformation will replace the content (checks then see the
/// transformed output, spec §7): in those cases pass `AtLeast(0)` until the final size is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SizeKnowledge {
    /// The file is still arriving: `n` bytes so far, so its final size is `>= n`.
    AtLeast(u64),
    /// The final size.
    Exactly(u64),
}

impl Default for SizeKnowledge {
    /// Nothing received yet.
    fn default() -> Self {
        SizeKnowledge::AtLeast(0)
    }
}

/// The values a `checks` expression reads (spec §7.3), borrowed from the server's request
/// state.
///
/// Request values are the **effective** ones (after defaults and parsing, spec §7.3); build the
/// context with [`CheckContext::for_upload`] to get exactly those, then fill in what the
/// server learns about the file.
///
/// File facts (`file_size`, `file_mime`, the media fields) have two readings, chosen by the
/// evaluation method rather than stored here:
/// * [`super::Checks::evaluate_partial`]: `None` means *not known yet* (the file is still
///   streaming or not probed) and makes the conditions on it `Unknown`;
/// * [`super::Checks::final_verdict`]: `None` means *absent* (e.g. `duration` of an image), and
///   spec §7.4's missing-value rule applies: every comparison is false except `NOT =` and
///   `NOT IN`.
///
/// Request values are always known; their `None`s are absent values in both readings.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CheckContext<'a> {
    /// `request.fileName`: the final stored name, after sanitising and the unique suffix
    /// (spec Q22).
    pub file_name: &'a str,
    /// `request.useUniqueFileName`.
    pub use_unique_file_name: bool,
    /// `request.tags`; `None` (no `tags` parameter) and `Some(&[])` behave the same.
    pub tags: Option<&'a [String]>,
    /// `request.folder`, normalised by construction.
    pub folder: &'a Folder,
    /// `request.isPrivateFile`.
    pub is_private_file: bool,
    /// `request.isPublished`.
    pub is_published: bool,
    /// `request.customCoordinates`; `None` reads as the empty string (spec §7.3).
    pub custom_coordinates: Option<&'a str>,
    /// `request.webhookUrl`; `None` is a missing value.
    pub webhook_url: Option<&'a str>,
    /// `request.overwriteFile`.
    pub overwrite_file: bool,
    /// `request.overwriteAITags`.
    pub overwrite_ai_tags: bool,
    /// `request.overwriteTags`.
    pub overwrite_tags: bool,
    /// `request.overwriteCustomMetadata`.
    pub overwrite_custom_metadata: bool,
    /// `request.customMetadata.*`: the request's values after schema defaults (spec §7.3). A
    /// key that is absent or `null` is a missing value (spec §9.3 rule 2).
    pub custom_metadata: &'a Map<String, Value>,
    /// `file.size`.
    pub file_size: SizeKnowledge,
    /// `file.mime`, the detected type.
    pub file_mime: Option<&'a str>,
    /// `mediaMetadata.width`, pixels.
    pub width: Option<u64>,
    /// `mediaMetadata.height`, pixels.
    pub height: Option<u64>,
    /// `mediaMetadata.duration`, seconds.
    pub duration: Option<f64>,
    /// `mediaMetadata.videoCodec`.
    pub video_codec: Option<&'a str>,
    /// `mediaMetadata.audioCodec`.
    pub audio_codec: Option<&'a str>,
    /// `mediaMetadata.bitRate`, in the unit of the response's `bitRate`.
    pub bit_rate: Option<u64>,
}

impl<'a> CheckContext<'a> {
    /// A context with the request defaults of spec §3.2 (`useUniqueFileName`, `isPublished`
    /// and the `overwrite*` flags `true`, `isPrivateFile` `false`, no tags, coordinates or
    /// webhook) and nothing known about the file yet.
    pub fn new(
        file_name: &'a str,
        folder: &'a Folder,
        custom_metadata: &'a Map<String, Value>,
    ) -> Self {
        CheckContext {
            file_name,
            use_unique_file_name: true,
            tags: None,
            folder,
            is_private_file: false,
            is_published: true,
            custom_coordinates: None,
            webhook_url: None,
            overwrite_file: true,
            overwrite_ai_tags: true,
            overwrite_tags: true,
            overwrite_custom_metadata: true,
            custom_metadata,
            file_size: SizeKnowledge::default(),
            file_mime: None,
            width: None,
            height: None,
            duration: None,
            video_codec: None,
            audio_codec: None,
            bit_rate: None,
        }
    }

    /// The request part of the context from parsed parameters. `stored_name` is the final name
    /// (e.g. from [`UploadParams::stored_name`]); `custom_metadata` the values after schema
    /// defaults. `webhook_url` is left `None` until `UploadParams` carries it.
    pub fn for_upload(
        params: &'a UploadParams,
        stored_name: &'a str,
        custom_metadata: &'a Map<String, Value>,
    ) -> Self {
        CheckContext {
            use_unique_file_name: params.use_unique_file_name,
            tags: params.tags.as_deref(),
            is_private_file: params.is_private_file,
            is_published: params.is_published,
            custom_coordinates: params.custom_coordinates.as_deref(),
            overwrite_file: params.overwrite_file,
            overwrite_ai_tags: params.overwrite_ai_tags,
            overwrite_tags: params.overwrite_tags,
            overwrite_custom_metadata: params.overwrite_custom_metadata,
            ..CheckContext::new(stored_name, &params.folder, custom_metadata)
        }
    }
}
