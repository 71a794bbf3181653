//! The request contract of Folio's ImageKit-compatible upload API: pure functions that turn the
//! upload request's multipart text fields into a typed, validated [`UploadParams`], plus the
//! naming rules the server needs to store the file (sanitised names, unique suffixes, folder
//! paths, URL encoding).
//!
//! The wire contract is `spec/upload-api.md`; section numbers in these docs refer to it.
//! Everything here is synchronous and does no I/O, so the server decides *when* to call it:
//! after authentication (phases T/M/A/S/J) and after checking that `file` is present (P1).
//!
//! Parse, don't validate: [`parse_upload_params`] either returns an [`UploadParams`] whose every
//! field already obeys spec §3, or the one [`ParamError`] the spec's ordering says to report.
//! [`ParamError::message`] is the exact wire text of the `400` response.
//!
//! The `checks` expression language (spec §7) lives in [`checks`]: [`parse_checks`] at step
//! P7, [`Checks::verify`] at E6, and [`Checks::evaluate_partial`] in between to reject an
//! upload while its file is still streaming.
//!
//! ```
//! use folio_contract::{parse_upload_params, url_path_encode};
//!
//! let params = parse_upload_params(&[("fileName", "Ünïcode photo.jpg"), ("folder", "a//b/")])?;
//! let name = params.stored_name(&mut rand::rng()); // e.g. "Ünïcode_photo_Kp3x9QzLm.jpg"
//! let file_path = params.folder.file_path(&name);
//! assert!(file_path.starts_with("/a/b/Ünïcode_photo_"));
//! let url = format!("https://media.example.com{}", url_path_encode(&file_path));
//! assert!(url.starts_with("https://media.example.com/a/b/%C3%9Cn%C3%AFcode_photo_"));
//! # Ok::<(), folio_contract::ParamError>(())
//! ```

pub mod checks;
mod coordinates;
mod error;
pub mod field;
mod file_name;
mod folder;
mod params;
mod response_fields;
pub mod search;
mod tags;
mod transformation;
mod url;

pub use checks::{
    parse_checks, parse_iso_instant, CheckContext, Checks, ChecksError, CustomFieldSchemas,
    CustomFieldType, NoCustomFields, SizeKnowledge, SyntaxError, Verdict, MAX_CHECKS_BYTES,
    MAX_CHECKS_DEPTH,
};
pub use coordinates::CustomCoordinates;
pub use error::ParamError;
pub use file_name::{
    parse_file_name, random_suffix, sanitize_file_name, unique_name, with_suffix,
    MAX_FILE_NAME_BYTES, SUFFIX_LEN,
};
pub use folder::Folder;
pub use params::{
    parse_extensions, parse_upload_params, parse_upload_params_with, parse_webhook_url, Extension,
    UploadParams, MAX_DESCRIPTION_CHARS,
};
pub use response_fields::{ResponseField, ResponseFields};
pub use tags::{parse_tags, MAX_TAG_CHARS};
pub use transformation::{
    parse_transformation, AbsProtocol, PostKind, PostTransformation, TransformationParam,
};
pub use url::url_path_encode;
