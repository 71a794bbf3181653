//! The one error type of the HTTP API and its mapping to the wire.
//!
//! Every variant maps to exactly one (status, message) pair of `spec/upload-api.md` §5.2; all
//! wire strings of the error catalogue live in [`AppError::status_and_message`]. Beyond the
//! spec's `message` and `help`, every body carries a stable machine `code` ([`AppError::code`],
//! listed in the README), and some errors say more: which parameter, the server's clock.
//! Internal failures are never described to the client: their cause rides in a response
//! extension and is logged once by the request-log middleware.

use std::sync::Arc;

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    // Phase M: mode selection.
    #[error("basic auth together with a token")]
    BothTokenAndBasic,
    #[error("basic auth together with v1 signature fields")]
    BothSignatureAndBasic,
    #[error("no credentials (v1)")]
    NoPrivateKey,
    #[error("no token (v2)")]
    MissingToken,

    // Phase A / key lookup.
    #[error("unknown key")]
    CannotAuthenticate,
    #[error("expired private key")]
    ExpiredPrivateKey,
    #[error("disabled account")]
    AccountDisabled,

    // Phase S: v1 signature.
    #[error("v1 without publicKey")]
    MissingPublicKey,
    #[error("v1 without signature")]
    MissingSignature,
    #[error("v1 expire out of range")]
    InvalidExpire { server_time: i64 },
    #[error("v1 signature mismatch")]
    InvalidSignature,

    // Phase J: v2 JWT.
    /// The reason (the verifier's step that refused it) goes to the log only: telling it to
    /// the client would help probe the verifier.
    #[error("invalid token: {reason}")]
    InvalidToken { reason: String, server_time: i64 },
    #[error("expired token")]
    ExpiredToken { server_time: i64 },
    #[error("token replayed")]
    TokenReused,
    /// J11, with the first parameter that breaks it when it is known.
    #[error("payload mismatch{}", mismatch_detail(.0))]
    PayloadMismatch(Option<folio_token::PayloadMismatch>),

    // Phases T, P, F.
    #[error("missing file")]
    MissingFile,
    #[error("invalid file: {0}")]
    InvalidFile(&'static str),
    #[error("file too large")]
    FileTooLarge,
    #[error("{}", .0.message())]
    Param(#[from] folio_contract::ParamError),
    /// A field the contract does not name: repeated, too long, or not UTF-8.
    #[error("bad field {0}")]
    InvalidField(String),

    // Phase E.
    #[error("checks evaluated to false")]
    ChecksFailed,
    #[error("path exists and overwriteFile=false")]
    FileExists,
    #[error("version cap reached")]
    TooManyVersions,

    /// E2 (and the update API): `customMetadata` does not fit the account's fields.
    #[error("invalid custom metadata")]
    InvalidCustomMetadata(FieldErrors),

    // Custom metadata fields API (spec §9.2).
    #[error("invalid field object")]
    InvalidFieldObject(FieldErrors),
    #[error("invalid schema object")]
    InvalidSchemaObject(FieldErrors),
    #[error("field name taken")]
    FieldNameExists,
    #[error("field label taken")]
    FieldLabelExists,
    #[error("neither label nor schema")]
    LabelOrSchemaRequired,
    #[error("field deleted")]
    FieldDeleted,
    #[error("name in update")]
    NameNotUpdatable,
    #[error("missing id")]
    MissingIdParam,
    #[error("invalid id")]
    InvalidIdParam,
    #[error("no such field")]
    NoSuchField,

    // List and search (spec §8.9, media-api §3).
    #[error("skip below 0: {0}")]
    SkipBelowZero(String),
    #[error("limit below 1: {0}")]
    LimitBelowMinimum(String),
    #[error("limit above 1000: {0}")]
    LimitAboveMaximum(String),
    #[error("invalid sort")]
    InvalidSort,
    #[error("invalid list type")]
    InvalidListType,
    /// The reason says what is wrong with the query; it is part of the wire message.
    #[error("invalid search query: {0}")]
    InvalidSearchQuery(String),
    // Media management API (media-api §2, upload-api §8).
    /// A `fileId` path segment that is not 24 lowercase hex digits.
    #[error("invalid fileId")]
    InvalidFileId,
    #[error("invalid versionId")]
    InvalidVersionId,
    #[error("no such file")]
    FileNotFound,
    #[error("no such file version")]
    VersionNotFound,
    /// Deleting a version that does not exist (upload-api §8.8's wording).
    #[error("no such asset")]
    AssetNotFound,
    #[error("current version cannot be deleted")]
    CurrentVersionNotDeletable,
    /// Bulk operations: these ids name no file; nothing was changed.
    #[error("unknown file ids")]
    FilesNotFound(Vec<String>),
    #[error("no file at {0}")]
    NoFileAtPath(String),
    /// Rename onto a path another file holds.
    #[error("file name taken")]
    FileAlreadyExists,
    /// A JSON request body that does not parse, or is not an object.
    #[error("body is not a JSON object")]
    InvalidJsonBody,

    // Folders, bulk jobs and purge (media-api §2).
    /// `DELETE /v1/folder` of a path that is neither a folder nor holds a file.
    #[error("no folder at {0}")]
    FolderNotFound(String),
    /// A bulk job's source folder is neither a folder nor holds a file.
    #[error("no files or folder at {0}")]
    NoFilesAtSource(String),
    #[error("source and destination are the same")]
    SameSourceAndDestination,
    /// A copy or move into the source folder itself or one of its sub-folders.
    #[error("destination inside the source")]
    DestinationInsideSource,
    #[error("no such job")]
    JobNotFound,
    #[error("no such purge request")]
    PurgeRequestNotFound,
    /// A purge `url` that is not under the account's `url_endpoint` (which the message names).
    #[error("purge url outside {0}")]
    PurgeUrlOutsideEndpoint(String),

    // Delivery and routing.
    #[error("not found")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    /// A private file's original or unnamed transformation without `ik-s`.
    #[error("signature required")]
    Unauthorized,
    /// A delivery request whose `ik-s` / `ik-t` are malformed, or signed by no live key of the
    /// account (media-api §4).
    #[error("invalid URL signature")]
    SignedUrlInvalid,
    /// A signed delivery URL past its `ik-t`.
    #[error("signed URL expired")]
    SignedUrlExpired,
    #[error("transformation not supported")]
    UnsupportedTransformation,
    /// A thumbnail or transformation of a file whose bytes claim a raster format but whose
    /// pixels cannot be decoded.
    #[error("image data cannot be decoded")]
    ImageUndecodable,
    /// A delivery `tr:` outside the grammar of our subset, or beyond the render budget.
    #[error("invalid delivery transformation")]
    InvalidDeliveryTransformation,
    /// A delivery transformation other than the named thumbnail while
    /// `delivery.allow_unnamed_transformations` is off.
    #[error("unnamed transformations are disabled")]
    TransformationsDisabled,

    // Transformations at upload (spec §3.8, step E1).
    #[error("transformation on a file that is neither image nor video")]
    TransformationNotForType,
    #[error("post-transformation incompatible with the file type")]
    PostTransformationIncompatible,
    /// A transformation kind the contract allows but this server does not perform (video,
    /// gif-to-video, abs, vector images); `what` completes `The <what> transformation`.
    #[error("{0} transformation not implemented")]
    TransformationNotImplemented(String),
    #[error("unsatisfiable range")]
    RangeNotSatisfiable { size: u64 },

    /// The server-wide budget of file bytes from uploads whose credentials are not proven yet
    /// (`limits.unauthenticated_file_bytes`) is spent.
    #[error("budget of unauthenticated file bytes spent")]
    UnauthenticatedUploadsBusy,
    /// A connection over `server.max_connections(_per_ip)`, answered at accept.
    #[error("too many connections")]
    TooManyConnections,
    /// A change asked of a server in maintenance (`read_only`).
    #[error("read-only mode")]
    ReadOnly,
    /// A console call without a live session (none, expired, or its key revoked).
    #[error("no console session")]
    ConsoleSignIn,
    /// A console call whose `X-Folio-CSRF` header is missing or not its session's.
    #[error("console request without its CSRF token")]
    ConsoleCsrf,
    /// An upload over `limits.max_concurrent_uploads`.
    #[error("too many uploads at once")]
    TooManyUploads,
    /// A client address or a public key over its `rate_limits` in the current window (`scope`
    /// names which, for the log).
    #[error("rate limited: {scope}")]
    RateLimited {
        scope: String,
        limit: u64,
        /// Until the window ends.
        reset_ms: u64,
        window_ms: u64,
    },
    /// An upload that would take its account past a `quotas` limit.
    #[error("quota exceeded: {0:?}")]
    QuotaExceeded(Quota),

    // Resumable uploads (resumable.md §1): the tus statuses.
    /// `Tus-Resumable` names another protocol version.
    #[error("unsupported tus version")]
    TusVersion,
    /// A PATCH body that is not `application/offset+octet-stream`.
    #[error("PATCH without offset+octet-stream")]
    TusContentType,
    /// A tus header that is missing or not what the protocol allows (its name).
    #[error("invalid tus header {0}")]
    TusHeader(&'static str),
    /// `Upload-Offset` differs from the upload's offset.
    #[error("offset mismatch")]
    TusOffsetMismatch,
    /// Another request is writing to the upload.
    #[error("upload locked")]
    TusLocked,
    /// The chunk does not match its `Upload-Checksum`.
    #[error("checksum mismatch")]
    TusChecksumMismatch,
    /// An `Upload-Checksum` algorithm this server does not compute.
    #[error("unsupported checksum algorithm")]
    TusChecksumAlgorithm,
    /// `Upload-Length` above every size limit.
    #[error("upload length over the limit")]
    TusTooLarge,
    /// A chunk that goes past `Upload-Length`.
    #[error("bytes past Upload-Length")]
    TusPastLength,
    /// The upload expired and is not removed yet.
    #[error("upload expired")]
    TusExpired,
    /// The key pair has as many unfinished uploads (or bytes of them) as it may.
    #[error("too many incomplete uploads")]
    TusTooManyIncomplete,
    /// `GET` of an upload still receiving: there is no response yet.
    #[error("upload not complete")]
    TusIncomplete,

    /// A dependency (catalog, blob store) failed; the detail stays on the server.
    #[error(transparent)]
    Internal(Arc<anyhow::Error>),
}

/// Which quota an upload would pass, and its size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quota {
    Bytes(u64),
    Files(u64),
}

/// tus's status for a chunk that fails its checksum (checksum extension), which `http` does
/// not name.
fn tus_checksum_mismatch() -> StatusCode {
    StatusCode::from_u16(460).unwrap_or(StatusCode::BAD_REQUEST)
}

/// Per-key problems of a validation error: the `errors` object of spec §5.1.
pub type FieldErrors = std::collections::BTreeMap<String, String>;

/// An error as the client receives it, all but the `help` text, which is configured: the
/// edge renders it again when `help_text` is set (`IntoResponse` has no access to
/// configuration), so it rides in the response's extensions.
#[derive(Clone, Debug)]
pub struct WireError {
    pub status: StatusCode,
    pub message: String,
    /// Stable across releases, unlike `message`, which follows ImageKit's wording.
    pub code: &'static str,
    /// The `errors` object of spec §5.1: per-key problems of a validation error.
    pub errors: Option<FieldErrors>,
    /// Further keys: `param` and `problem`, `serverTime`, `missingFileIds`, `reason`, `header`.
    pub extra: ErrorExtra,
}

/// The JSON error body: spec §5.1 plus `code` and the extra keys.
#[derive(Serialize)]
struct ErrorBody<'a> {
    message: &'a str,
    help: &'a str,
    code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<&'a FieldErrors>,
    #[serde(flatten)]
    extra: &'a ErrorExtra,
}

/// Keys beyond `message`, `help`, `code` and `errors` that an error body carries.
pub type ErrorExtra = serde_json::Map<String, serde_json::Value>;

impl WireError {
    /// The JSON body.
    pub fn json(&self, help: &str) -> String {
        serde_json::to_string(&ErrorBody {
            message: &self.message,
            help,
            code: self.code,
            errors: self.errors.as_ref(),
            extra: &self.extra,
        })
        .unwrap_or_default()
    }

    /// The response: status, JSON body and its content type, and this error in the
    /// extensions.
    pub fn response(self, help: &str) -> Response {
        let mut response = (self.status, self.json(help)).into_response();
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        response.extensions_mut().insert(self);
        response
    }
}

/// The log's words for a payload mismatch's detail.
fn mismatch_detail(mismatch: &Option<folio_token::PayloadMismatch>) -> String {
    mismatch
        .as_ref()
        .map(|m| format!(": {} {}", m.param, m.problem.as_str()))
        .unwrap_or_default()
}

/// The cause of a 5xx, attached to the response for the request-log middleware.
#[derive(Clone)]
pub struct InternalCause(pub Arc<anyhow::Error>);

/// Why a request was refused as the server saw it (e.g. "payload mismatch: tags differs",
/// "invalid token: signature does not verify"), attached to the response for the request-log
/// middleware: the wire message stays the spec's, the log says what an operator needs. Never
/// holds a secret.
#[derive(Clone)]
pub struct RefusalReason(pub String);

/// The `help` text of error bodies unless configured otherwise (spec §0.3).
pub const DEFAULT_HELP: &str = "For support, contact the administrator of this server.";

impl AppError {
    pub fn internal(err: impl Into<anyhow::Error>) -> Self {
        AppError::Internal(Arc::new(err.into()))
    }

    pub fn status_and_message(&self) -> (StatusCode, String) {
        use AppError::*;
        let bad = StatusCode::BAD_REQUEST;
        let (status, message) = match self {
            BothTokenAndBasic => (bad, "Your request contains both token and basic auth parameter. Use only one method, you might be exposing your private API key."),
            BothSignatureAndBasic => (bad, "Your request contains both signature and basic auth parameter. Use only one method, you might be exposing your private API key."),
            NoPrivateKey => (StatusCode::UNAUTHORIZED, "Your request does not contain private API key."),
            MissingToken => (bad, "Your request is missing token parameter."),
            CannotAuthenticate => (StatusCode::FORBIDDEN, "Your account cannot be authenticated."),
            ExpiredPrivateKey => (StatusCode::FORBIDDEN, "Your request contains expired private API key."),
            AccountDisabled => (StatusCode::FORBIDDEN, "Your account is disabled."),
            MissingPublicKey => (bad, "Your request is missing publicKey parameter."),
            MissingSignature => (bad, "Your request is missing signature parameter."),
            InvalidExpire { .. } => (bad, "Your request contains invalid expire parameter. Expire parameter should be a Unix time in less than 1 hour into the future."),
            InvalidSignature => (bad, "Your request contains invalid signature parameter."),
            InvalidToken { .. } => (bad, "Your request has invalid token."),
            ExpiredToken { .. } => (bad, "Your request contains expired token."),
            TokenReused => (bad, "Your request contains a token that has already been used."),
            PayloadMismatch(_) => (bad, "Your request contains invalid payload. It does not match with the payload used to generate token."),
            MissingFile => (bad, "Your request is missing file parameter."),
            InvalidFile(_) => (bad, "Your request contains invalid file parameter."),
            FileTooLarge => (bad, "Your request contains invalid file parameter. The file size exceeds limits."),
            Param(e) => return (bad, e.message()),
            InvalidField(name) => return (bad, format!("Your request contains invalid {name} parameter.")),
            ChecksFailed => (bad, "Your request failed 'checks' validation."),
            FileExists => (bad, "A file with the same name already exists at the exact location. We could not overwrite it because both overwriteFile and useUniqueFileName are set to false."),
            TooManyVersions => (bad, "The file could not be uploaded because it has reached the maximum of 100 versions."),
            SkipBelowZero(n) => return (bad, format!("The value of skip parameter should be greater than or equal to 0. Value sent is {n}.")),
            LimitBelowMinimum(n) => return (bad, format!("Minimum value of limit parameter is 1. Value sent is {n}.")),
            LimitAboveMaximum(n) => return (bad, format!("Maximum value of limit parameter is 1000. Value sent is {n}.")),
            InvalidSort => (bad, "Your request contains invalid value for sort parameters."),
            InvalidListType => (bad, "Your request contains invalid value for type parameter. Please provide one of the following: file, file-version, folder, all."),
            // media-api §2: `Invalid search query - <what is wrong>`, no trailing period added.
            InvalidSearchQuery(reason) => return (bad, format!("Invalid search query - {reason}")),
            InvalidFileId => (bad, "Your request contains invalid fileId parameter."),
            InvalidVersionId => (bad, "Your request contains invalid versionId parameter."),
            FileNotFound => (StatusCode::NOT_FOUND, "The requested file does not exist."),
            VersionNotFound => (StatusCode::NOT_FOUND, "The requested file version does not exist."),
            AssetNotFound => (StatusCode::NOT_FOUND, "The requested asset does not exist."),
            CurrentVersionNotDeletable => (bad, "You cannot delete current version of a file."),
            FilesNotFound(_) => (StatusCode::NOT_FOUND, "The requested file(s) does not exist."),
            // media-api §2 quotes it without a final period.
            NoFileAtPath(path) => return (StatusCode::NOT_FOUND, format!("No file found with filePath {path}")),
            FileAlreadyExists => (StatusCode::CONFLICT, "File with the same name already exists at the destination."),
            InvalidJsonBody => (bad, "Your request contains an invalid JSON body."),
            // Our wording (ImageKit's own, as far as it is known; media-api §2 gives none).
            FolderNotFound(path) => return (StatusCode::NOT_FOUND, format!("No folder found with folderPath {path}")),
            // media-api §2, verbatim (no final period).
            NoFilesAtSource(path) => return (StatusCode::NOT_FOUND, format!("No files & folder found at sourceFolderPath {path}")),
            SameSourceAndDestination => (bad, "sourceFolderPath and destinationPath cannot be same."),
            DestinationInsideSource => (bad, "destinationPath cannot be inside sourceFolderPath."),
            JobNotFound => (StatusCode::NOT_FOUND, "The requested job does not exist."),
            PurgeRequestNotFound => (StatusCode::NOT_FOUND, "The requested purge request does not exist."),
            PurgeUrlOutsideEndpoint(endpoint) => return (bad, format!("Your request contains invalid url parameter. The url must start with your url endpoint {endpoint}/.")),
            NotFound => (StatusCode::NOT_FOUND, "Not found."),
            MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "Method not allowed."),
            Unauthorized => (StatusCode::UNAUTHORIZED, "Your request is not authorized to access this file."),
            SignedUrlInvalid => (StatusCode::UNAUTHORIZED, "The URL signature is invalid."),
            SignedUrlExpired => (StatusCode::UNAUTHORIZED, "The signed URL has expired."),
            UnsupportedTransformation => (bad, "The requested transformation is not supported by this server yet."),
            InvalidDeliveryTransformation => (bad, "The requested transformation is invalid."),
            ImageUndecodable => (bad, "The image could not be decoded: its data is corrupt or not an image."),
            TransformationsDisabled => (StatusCode::FORBIDDEN, "The requested transformation is not allowed on this server."),
            TransformationNotForType => (bad, "The file could not be uploaded because transformations are supported only for image and video files."),
            PostTransformationIncompatible => (bad, "The file could not be uploaded because the detected file type & post-transformation are incompatible."),
            TransformationNotImplemented(what) => return (bad, format!("The {what} transformation is not supported by this server yet.")),
            InvalidCustomMetadata(_) => (bad, "Invalid custom metadata."),
            // Spec §9.2: no trailing period on this one.
            InvalidFieldObject(_) => (bad, "Invalid field object"),
            InvalidSchemaObject(_) => (bad, "Invalid schema object."),
            FieldNameExists => (bad, "A custom metadata field with this name already exists."),
            FieldLabelExists => (bad, "A custom metadata field with this label already exists."),
            LabelOrSchemaRequired => (bad, "Either label or schema should be provided."),
            FieldDeleted => (bad, "Cannot update a deleted custom metadata fields."),
            NameNotUpdatable => (bad, "Name cannot be updated."),
            MissingIdParam => (bad, "Missing id parameter."),
            InvalidIdParam => (bad, "Your request contains invalid ID parameter."),
            NoSuchField => (StatusCode::NOT_FOUND, "No such custom metadata field exists."),
            RangeNotSatisfiable { .. } => (StatusCode::RANGE_NOT_SATISFIABLE, "The requested range is not satisfiable."),
            UnauthenticatedUploadsBusy => (StatusCode::SERVICE_UNAVAILABLE, "The server is busy receiving other uploads. Please retry later, or send the authentication fields before the file."),
            TooManyConnections => (StatusCode::SERVICE_UNAVAILABLE, "Too many connections. Please retry later."),
            ReadOnly => (StatusCode::SERVICE_UNAVAILABLE, "The library is in maintenance: it serves files but accepts no changes now. Please retry later."),
            ConsoleSignIn => (StatusCode::UNAUTHORIZED, "Your console session has ended. Sign in again."),
            ConsoleCsrf => (StatusCode::FORBIDDEN, "This request did not come from the console page."),
            TooManyUploads => (StatusCode::SERVICE_UNAVAILABLE, "The server is receiving as many uploads as it may at once. Please retry later."),
            RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "Too many upload requests. Please retry after the time the Retry-After header gives."),
            QuotaExceeded(Quota::Bytes(n)) => return (StatusCode::FORBIDDEN, format!("The file could not be uploaded because the account would exceed its storage quota of {n} bytes.")),
            QuotaExceeded(Quota::Files(n)) => return (StatusCode::FORBIDDEN, format!("The file could not be uploaded because the account would exceed its quota of {n} files.")),
            TusVersion => (StatusCode::PRECONDITION_FAILED, "This server speaks tus 1.0.0 only."),
            TusContentType => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "A PATCH body must have the content type application/offset+octet-stream."),
            TusHeader(name) => return (bad, format!("Your request contains an invalid {name} header.")),
            TusOffsetMismatch => (StatusCode::CONFLICT, "Upload-Offset does not match the offset of the upload."),
            TusLocked => (StatusCode::LOCKED, "Another request is writing to this upload. Please retry later."),
            TusChecksumMismatch => (tus_checksum_mismatch(), "The chunk does not match its Upload-Checksum; it was discarded."),
            TusChecksumAlgorithm => (bad, "The Upload-Checksum algorithm is not supported (use sha1, md5 or crc32)."),
            TusTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "Your request contains invalid file parameter. The file size exceeds limits."),
            TusPastLength => (StatusCode::PAYLOAD_TOO_LARGE, "The chunk goes past the Upload-Length of the upload."),
            TusExpired => (StatusCode::GONE, "The upload has expired."),
            TusTooManyIncomplete => (StatusCode::TOO_MANY_REQUESTS, "Too many unfinished resumable uploads for this key. Finish or delete some, or wait until they expire."),
            TusIncomplete => (StatusCode::CONFLICT, "The upload is not complete yet."),
            Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "Internal server error."),
        };
        (status, message.to_owned())
    }

    /// The stable machine code of the error body. Codes never change meaning; a new error gets
    /// a new code. The README's table lists them.
    pub fn code(&self) -> &'static str {
        use folio_contract::ParamError as P;
        use AppError::*;
        match self {
            BothTokenAndBasic => "TOKEN_AND_BASIC_AUTH",
            BothSignatureAndBasic => "SIGNATURE_AND_BASIC_AUTH",
            NoPrivateKey => "PRIVATE_KEY_MISSING",
            MissingToken => "TOKEN_MISSING",
            CannotAuthenticate => "KEY_UNKNOWN",
            ExpiredPrivateKey => "PRIVATE_KEY_EXPIRED",
            AccountDisabled => "ACCOUNT_DISABLED",
            MissingPublicKey => "PUBLIC_KEY_MISSING",
            MissingSignature => "SIGNATURE_MISSING",
            InvalidExpire { .. } => "EXPIRE_INVALID",
            InvalidSignature => "SIGNATURE_INVALID",
            InvalidToken { .. } => "TOKEN_INVALID",
            ExpiredToken { .. } => "TOKEN_EXPIRED",
            TokenReused => "TOKEN_USED",
            PayloadMismatch(_) => "TOKEN_PAYLOAD_MISMATCH",
            MissingFile => "FILE_MISSING",
            InvalidFile(_) => "FILE_INVALID",
            FileTooLarge | TusTooLarge => "FILE_TOO_LARGE",
            Param(P::Missing(_)) => "PARAM_MISSING",
            Param(P::Invalid(_)) | InvalidField(_) => "PARAM_INVALID",
            Param(P::Unsupported(_)) => "PARAM_UNSUPPORTED",
            Param(P::ChecksSyntax) => "CHECKS_INVALID",
            Param(P::TransformationInvalid) => "TRANSFORMATION_INVALID",
            // A parameter error the contract adds later, until it gets a code of its own.
            Param(_) => "PARAM_INVALID",
            ChecksFailed => "CHECKS_FAILED",
            FileExists => "FILE_EXISTS",
            TooManyVersions => "VERSION_LIMIT_REACHED",
            InvalidCustomMetadata(_) => "CUSTOM_METADATA_INVALID",
            InvalidFieldObject(_) => "FIELD_INVALID",
            InvalidSchemaObject(_) => "FIELD_SCHEMA_INVALID",
            FieldNameExists => "FIELD_NAME_TAKEN",
            FieldLabelExists => "FIELD_LABEL_TAKEN",
            LabelOrSchemaRequired => "FIELD_LABEL_OR_SCHEMA_REQUIRED",
            FieldDeleted => "FIELD_DELETED",
            NameNotUpdatable => "FIELD_NAME_NOT_UPDATABLE",
            MissingIdParam => "ID_MISSING",
            InvalidIdParam => "ID_INVALID",
            NoSuchField => "FIELD_NOT_FOUND",
            SkipBelowZero(_) => "SKIP_INVALID",
            LimitBelowMinimum(_) | LimitAboveMaximum(_) => "LIMIT_INVALID",
            InvalidSort => "SORT_INVALID",
            InvalidListType => "TYPE_INVALID",
            InvalidSearchQuery(_) => "SEARCH_QUERY_INVALID",
            InvalidFileId => "FILE_ID_INVALID",
            InvalidVersionId => "VERSION_ID_INVALID",
            FileNotFound | NoFileAtPath(_) => "FILE_NOT_FOUND",
            VersionNotFound => "VERSION_NOT_FOUND",
            AssetNotFound => "ASSET_NOT_FOUND",
            CurrentVersionNotDeletable => "CURRENT_VERSION_NOT_DELETABLE",
            FilesNotFound(_) => "FILES_NOT_FOUND",
            FileAlreadyExists => "FILE_ALREADY_EXISTS",
            InvalidJsonBody => "JSON_BODY_INVALID",
            FolderNotFound(_) => "FOLDER_NOT_FOUND",
            NoFilesAtSource(_) => "SOURCE_NOT_FOUND",
            SameSourceAndDestination => "SAME_SOURCE_AND_DESTINATION",
            DestinationInsideSource => "DESTINATION_INSIDE_SOURCE",
            JobNotFound => "JOB_NOT_FOUND",
            PurgeRequestNotFound => "PURGE_REQUEST_NOT_FOUND",
            PurgeUrlOutsideEndpoint(_) => "PURGE_URL_INVALID",
            NotFound => "NOT_FOUND",
            MethodNotAllowed => "METHOD_NOT_ALLOWED",
            Unauthorized => "URL_SIGNATURE_REQUIRED",
            SignedUrlInvalid => "URL_SIGNATURE_INVALID",
            SignedUrlExpired => "URL_SIGNATURE_EXPIRED",
            UnsupportedTransformation | TransformationNotImplemented(_) => {
                "TRANSFORMATION_UNSUPPORTED"
            }
            InvalidDeliveryTransformation => "TRANSFORMATION_INVALID",
            ImageUndecodable => "IMAGE_UNDECODABLE",
            TransformationsDisabled => "TRANSFORMATION_NOT_ALLOWED",
            TransformationNotForType => "TRANSFORMATION_NOT_FOR_FILE_TYPE",
            PostTransformationIncompatible => "POST_TRANSFORMATION_INCOMPATIBLE",
            RangeNotSatisfiable { .. } => "RANGE_NOT_SATISFIABLE",
            UnauthenticatedUploadsBusy => "SERVER_BUSY",
            TooManyConnections => "TOO_MANY_CONNECTIONS",
            TooManyUploads => "TOO_MANY_UPLOADS",
            ReadOnly => "READ_ONLY",
            ConsoleSignIn => "CONSOLE_SIGN_IN_REQUIRED",
            ConsoleCsrf => "CONSOLE_CSRF",
            RateLimited { .. } => "RATE_LIMITED",
            QuotaExceeded(_) => "QUOTA_EXCEEDED",
            TusVersion => "TUS_VERSION_UNSUPPORTED",
            TusContentType => "TUS_CONTENT_TYPE_INVALID",
            TusHeader(_) => "TUS_HEADER_INVALID",
            TusOffsetMismatch => "TUS_OFFSET_MISMATCH",
            TusLocked => "TUS_UPLOAD_LOCKED",
            TusChecksumMismatch => "TUS_CHECKSUM_MISMATCH",
            TusChecksumAlgorithm => "TUS_CHECKSUM_ALGORITHM_UNSUPPORTED",
            TusPastLength => "TUS_PAST_UPLOAD_LENGTH",
            TusExpired => "TUS_UPLOAD_EXPIRED",
            TusTooManyIncomplete => "TUS_TOO_MANY_INCOMPLETE",
            TusIncomplete => "TUS_UPLOAD_INCOMPLETE",
            Internal(_) => "INTERNAL",
        }
    }

    /// The error as the client receives it.
    pub fn wire(&self) -> WireError {
        use serde_json::json;
        use AppError::*;
        let (status, message) = self.status_and_message();
        let errors = match self {
            InvalidCustomMetadata(e) | InvalidFieldObject(e) | InvalidSchemaObject(e) => {
                Some(e.clone())
            }
            _ => None,
        };
        let mut extra = ErrorExtra::new();
        let mut add = |key: &str, value: serde_json::Value| {
            extra.insert(key.to_owned(), value);
        };
        match self {
            FilesNotFound(ids) => add("missingFileIds", json!(ids)),
            FileAlreadyExists => add("reason", json!("FILE_ALREADY_EXISTS")),
            // Names only, never values: the caller holds the token and its payload anyway.
            PayloadMismatch(Some(mismatch)) => {
                add("param", json!(mismatch.param));
                add("problem", json!(mismatch.problem.as_str()));
            }
            Param(e) => add("param", json!(e.param())),
            InvalidField(name) => add("param", json!(name)),
            TusHeader(name) => add("header", json!(name)),
            // Token lifetimes are checked against this clock; a client can tell its own skew.
            InvalidExpire { server_time }
            | InvalidToken { server_time, .. }
            | ExpiredToken { server_time } => add("serverTime", json!(server_time)),
            _ => {}
        }
        WireError {
            status,
            message,
            code: self.code(),
            errors,
            extra,
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let mut response = self.wire().response(DEFAULT_HELP);
        if let AppError::RangeNotSatisfiable { size } = &self {
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
                response
                    .headers_mut()
                    .insert(http::header::CONTENT_RANGE, v);
            }
        }
        let headers = response.headers_mut();
        match &self {
            // Other uploads end within seconds to minutes. The edge adds `retry-after-ms`.
            AppError::UnauthenticatedUploadsBusy => {
                headers.insert(
                    http::header::RETRY_AFTER,
                    HeaderValue::from_static(RETRY_BUSY_SECS),
                );
            }
            AppError::TooManyUploads => {
                headers.insert(http::header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            // Maintenance takes minutes.
            AppError::ReadOnly => {
                headers.insert(http::header::RETRY_AFTER, HeaderValue::from_static("60"));
            }
            // ImageKit's headers (Reset and Interval in milliseconds), and Remaining.
            AppError::RateLimited {
                limit,
                reset_ms,
                window_ms,
                ..
            } => {
                let retry_secs = reset_ms.div_ceil(1000).max(1);
                for (name, value) in [
                    ("retry-after", retry_secs),
                    ("x-ratelimit-limit", *limit),
                    ("x-ratelimit-remaining", 0),
                    ("x-ratelimit-reset", *reset_ms),
                    ("x-ratelimit-interval", *window_ms),
                ] {
                    headers.insert(name, HeaderValue::from(value));
                }
            }
            _ => {}
        }
        match self {
            AppError::Internal(cause) => {
                response.extensions_mut().insert(InternalCause(cause));
            }
            refused => {
                response
                    .extensions_mut()
                    .insert(RefusalReason(refused.to_string()));
            }
        }
        response
    }
}

/// When a client refused by [`AppError::UnauthenticatedUploadsBusy`] should try again.
const RETRY_BUSY_SECS: &str = "5";

pub type AppResult<T> = Result<T, AppError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_has_its_status() {
        use AppError::*;
        let cases: Vec<(AppError, u16)> = vec![
            (BothTokenAndBasic, 400),
            (BothSignatureAndBasic, 400),
            (NoPrivateKey, 401),
            (MissingToken, 400),
            (CannotAuthenticate, 403),
            (ExpiredPrivateKey, 403),
            (AccountDisabled, 403),
            (MissingPublicKey, 400),
            (MissingSignature, 400),
            (InvalidExpire { server_time: 1 }, 400),
            (InvalidSignature, 400),
            (
                InvalidToken {
                    reason: "x".into(),
                    server_time: 1,
                },
                400,
            ),
            (ExpiredToken { server_time: 1 }, 400),
            (TokenReused, 400),
            (PayloadMismatch(None), 400),
            (MissingFile, 400),
            (InvalidFile("x"), 400),
            (FileTooLarge, 400),
            (InvalidField("x".into()), 400),
            (ChecksFailed, 400),
            (FileExists, 400),
            (TooManyVersions, 400),
            (NotFound, 404),
            (MethodNotAllowed, 405),
            (Unauthorized, 401),
            (SignedUrlInvalid, 401),
            (SignedUrlExpired, 401),
            (RangeNotSatisfiable { size: 1 }, 416),
            (UnsupportedTransformation, 400),
            (InvalidCustomMetadata(FieldErrors::new()), 400),
            (InvalidFieldObject(FieldErrors::new()), 400),
            (InvalidSchemaObject(FieldErrors::new()), 400),
            (FieldNameExists, 400),
            (FieldLabelExists, 400),
            (LabelOrSchemaRequired, 400),
            (FieldDeleted, 400),
            (NameNotUpdatable, 400),
            (MissingIdParam, 400),
            (InvalidIdParam, 400),
            (NoSuchField, 404),
            (SkipBelowZero("-1".into()), 400),
            (LimitBelowMinimum("0".into()), 400),
            (LimitAboveMaximum("1001".into()), 400),
            (InvalidSort, 400),
            (InvalidListType, 400),
            (InvalidFileId, 400),
            (InvalidVersionId, 400),
            (FileNotFound, 404),
            (VersionNotFound, 404),
            (AssetNotFound, 404),
            (CurrentVersionNotDeletable, 400),
            (FilesNotFound(vec!["x".into()]), 404),
            (NoFileAtPath("/a.jpg".into()), 404),
            (FileAlreadyExists, 409),
            (InvalidJsonBody, 400),
            (FolderNotFound("/a/".into()), 404),
            (NoFilesAtSource("/a/".into()), 404),
            (SameSourceAndDestination, 400),
            (DestinationInsideSource, 400),
            (JobNotFound, 404),
            (PurgeRequestNotFound, 404),
            (PurgeUrlOutsideEndpoint("http://x/default".into()), 400),
            (InvalidDeliveryTransformation, 400),
            (ImageUndecodable, 400),
            (TransformationsDisabled, 403),
            (TransformationNotForType, 400),
            (PostTransformationIncompatible, 400),
            (TransformationNotImplemented("video pre".into()), 400),
            (UnauthenticatedUploadsBusy, 503),
            (TooManyConnections, 503),
            (TooManyUploads, 503),
            (ReadOnly, 503),
            (ConsoleSignIn, 401),
            (ConsoleCsrf, 403),
            (
                RateLimited {
                    scope: "ip 127.0.0.1".into(),
                    limit: 1,
                    reset_ms: 1,
                    window_ms: 1,
                },
                429,
            ),
            (QuotaExceeded(Quota::Files(3)), 403),
            (QuotaExceeded(Quota::Bytes(3)), 403),
            (TusVersion, 412),
            (TusContentType, 415),
            (TusHeader("Upload-Length"), 400),
            (TusOffsetMismatch, 409),
            (TusLocked, 423),
            (TusChecksumMismatch, 460),
            (TusChecksumAlgorithm, 400),
            (TusTooLarge, 413),
            (TusPastLength, 413),
            (TusExpired, 410),
            (TusTooManyIncomplete, 429),
            (TusIncomplete, 409),
            (AppError::internal(anyhow::anyhow!("disk on fire")), 500),
        ];
        for (err, status) in cases {
            let (s, message) = err.status_and_message();
            assert_eq!(s.as_u16(), status, "{err:?}");
            assert!(
                message.ends_with('.')
                    || message == "Invalid field object"
                    // The path-naming messages of media-api §2 end with the path.
                    || message.starts_with("No file found with filePath ")
                    || message.starts_with("No folder found with folderPath ")
                    || message.starts_with("No files & folder found at sourceFolderPath "),
                "{message}"
            );
            assert!(!message.contains("fire"));
            let code = err.code();
            assert!(
                !code.is_empty() && code.chars().all(|c| c.is_ascii_uppercase() || c == '_'),
                "{code}"
            );
            assert!(
                readme_code_table().contains(&format!("`{code}`")),
                "the README's error code table lacks {code}"
            );
        }
    }

    /// The rows of the README's table of error codes.
    fn readme_code_table() -> &'static str {
        let readme = include_str!("../../../README.md");
        let start = readme
            .find("| code | status | meaning |")
            .expect("the README has the error code table");
        let table = &readme[start..];
        &table[..table.find("\n\n").unwrap_or(table.len())]
    }

    #[test]
    fn a_body_carries_the_code_and_what_the_error_knows() {
        let mismatch = AppError::PayloadMismatch(Some(folio_token::PayloadMismatch {
            param: "tags".into(),
            problem: folio_token::MismatchProblem::Differs,
        }));
        assert_eq!(
            mismatch.wire().json("Ask."),
            r#"{"message":"Your request contains invalid payload. It does not match with the payload used to generate token.","help":"Ask.","code":"TOKEN_PAYLOAD_MISMATCH","param":"tags","problem":"differs"}"#
        );
        assert_eq!(mismatch.to_string(), "payload mismatch: tags differs");
        assert_eq!(
            AppError::ExpiredToken {
                server_time: 1767225600
            }
            .wire()
            .json("h"),
            r#"{"message":"Your request contains expired token.","help":"h","code":"TOKEN_EXPIRED","serverTime":1767225600}"#
        );
        let mut errors = FieldErrors::new();
        errors.insert("price".into(), "must be a number".into());
        assert_eq!(
            AppError::InvalidCustomMetadata(errors).wire().json("h"),
            r#"{"message":"Invalid custom metadata.","help":"h","code":"CUSTOM_METADATA_INVALID","errors":{"price":"must be a number"}}"#
        );
        let missing = AppError::Param(folio_contract::ParamError::Missing("fileName")).wire();
        assert_eq!(
            (missing.code, &missing.extra["param"]),
            ("PARAM_MISSING", &serde_json::json!("fileName"))
        );
    }
}
