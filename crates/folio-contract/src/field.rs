//! Wire names of the upload request's text fields (spec §3.2 and §2).
//!
//! Kept in one place so that error payloads, the server's payload comparison and tests all
//! spell them identically; multipart field names are case-sensitive.

/// `fileName` — required; the name to store the file under.
pub const FILE_NAME: &str = "fileName";
/// `useUniqueFileName` — boolean, default `true`.
pub const USE_UNIQUE_FILE_NAME: &str = "useUniqueFileName";
/// `tags` — comma-separated list.
pub const TAGS: &str = "tags";
/// `folder` — destination folder path.
pub const FOLDER: &str = "folder";
/// `isPrivateFile` — boolean, default `false`.
pub const IS_PRIVATE_FILE: &str = "isPrivateFile";
/// `isPublished` — boolean, default `true`.
pub const IS_PUBLISHED: &str = "isPublished";
/// `customCoordinates` — `x,y,width,height`.
pub const CUSTOM_COORDINATES: &str = "customCoordinates";
/// `responseFields` — comma-separated list of extra response keys.
pub const RESPONSE_FIELDS: &str = "responseFields";
/// `extensions` — JSON array (not implemented yet).
pub const EXTENSIONS: &str = "extensions";
/// `webhookUrl` — URL for extension results (not implemented yet).
pub const WEBHOOK_URL: &str = "webhookUrl";
/// `overwriteFile` — boolean, default `true`.
pub const OVERWRITE_FILE: &str = "overwriteFile";
/// `overwriteAITags` — boolean, default `true`.
pub const OVERWRITE_AI_TAGS: &str = "overwriteAITags";
/// `overwriteTags` — boolean, default `true`.
pub const OVERWRITE_TAGS: &str = "overwriteTags";
/// `overwriteCustomMetadata` — boolean, default `true`.
pub const OVERWRITE_CUSTOM_METADATA: &str = "overwriteCustomMetadata";
/// `customMetadata` — JSON object (not implemented yet).
pub const CUSTOM_METADATA: &str = "customMetadata";
/// `transformation` — JSON object (not implemented yet).
pub const TRANSFORMATION: &str = "transformation";
/// `checks` — expression, spec §7 (not implemented yet).
pub const CHECKS: &str = "checks";
/// `description` — free text.
pub const DESCRIPTION: &str = "description";

/// `file` — the content; checked by the server (P1), never by this crate.
pub const FILE: &str = "file";
/// `token` — v1 nonce or v2 JWT (authentication; ignored here).
pub const TOKEN: &str = "token";
/// `signature` — v1 HMAC (authentication; ignored here).
pub const SIGNATURE: &str = "signature";
/// `expire` — v1 expiry (authentication; ignored here).
pub const EXPIRE: &str = "expire";
/// `publicKey` — v1 key id (authentication; ignored here).
pub const PUBLIC_KEY: &str = "publicKey";
