//! Mint and verify the credentials of ImageKit-compatible client-side uploads.
//!
//! A browser or mobile app must never hold the private key, so an app backend signs a
//! short-lived, single-use credential and the client sends it with the upload. Two schemes exist
//! (wire contract `upload-api.md`, §2.2, §2.3, §10):
//!
//! * **V2** (`/api/v2/files/upload`): an HS256 JWT in the form field `token`, whose payload lists
//!   every upload parameter the client will send. Mint with [`UploadToken`]; verify with
//!   [`decode`] → [`UnverifiedToken::verify`] → [`VerifiedToken::payload_matches`].
//! * **V1** (`/api/v1/files/upload`): fields `token` (nonce), `expire` and `signature`
//!   (HMAC-SHA1). Mint with [`authentication_parameters`]; verify with [`parse_v1_expire`] and
//!   [`verify_v1_signature`].
//!
//! Both kinds are single use. The crate has no storage: the server burns a credential by
//! inserting its [`ledger_key`] into its own ledger.
//!
//! The crate is pure: no I/O, no async. Functions that need the time take `now` (Unix seconds)
//! from the caller, except the minting helpers, which default to the system clock.
//!
//! # A backend mints a V2 token
//!
//! ```
//! use folio_token::UploadToken;
//!
//! let token = UploadToken::new("public_test_key", "private_test_key")
//!     .param("fileName", "dress.jpg")
//!     .param_bool("useUniqueFileName", false)
//!     .param_list("tags", &["summer", "dress"])
//!     .expires_in(400)
//!     .sign()?;
//! // Respond {"token": token}; the client posts fileName, useUniqueFileName, tags, token, file.
//! # Ok::<(), folio_token::MintError>(())
//! ```
//!
//! # A backend's token endpoint
//!
//! ImageKit's documentation has the browser POST `{"uploadPayload": {…}, "expire": 400,
//! "publicKey": "…"}` to the app's backend and get `{"token": "…"}` back. [`TokenRequest`]
//! checks such a body (string values only, no `file`/`token`, `expire` from 1 to 3600, the
//! backend's own public key) and mints the token; the endpoint itself only has to authenticate
//! its user first. `examples/backend` in the Folio repository is a complete one (axum).
//!
//! ```
//! use folio_token::{TokenRequest, TokenRequestError};
//!
//! fn token_endpoint(user_is_signed_in: bool, body: &[u8]) -> (u16, serde_json::Value) {
//!     if !user_is_signed_in {
//!         return (401, serde_json::json!({"message": "Sign in first."}));
//!     }
//!     match TokenRequest::from_json(body).and_then(|r| r.sign("public_test_key", "private_test_key")) {
//!         Ok(token) => (200, serde_json::json!({ "token": token })),
//!         Err(TokenRequestError::Mint(e)) => (500, serde_json::json!({"message": e.to_string()})),
//!         Err(e) => (400, serde_json::json!({"message": e.to_string()})),
//!     }
//! }
//!
//! let body = br#"{"uploadPayload":{"fileName":"abc.jpg"},"expire":3600,"publicKey":"public_test_key"}"#;
//! assert_eq!(token_endpoint(true, body).0, 200);
//! assert_eq!(token_endpoint(false, body).0, 401);
//! let (status, reply) = token_endpoint(true, br#"{"uploadPayload":{"file":"x"},"expire":60,"publicKey":"public_test_key"}"#);
//! assert_eq!((status, reply["message"].as_str().is_some()), (400, true));
//! ```
//!
//! # The server verifies it
//!
//! ```
//! use folio_token::{decode, TokenError, DEFAULT_CLOCK_LEEWAY_SECS};
//! # let now = 1_735_689_600;
//! # let token = folio_token::UploadToken::new("public_test_key", "private_test_key")
//! #     .param("fileName", "dress.jpg").param("tags", "summer,dress").issued_at(now).sign().unwrap();
//!
//! let unverified = decode(&token)?; // J1–J3
//! assert_eq!(unverified.kid(), "public_test_key"); // J4: look up the key pair (async, elsewhere)
//! match unverified.verify("private_test_key", now, DEFAULT_CLOCK_LEEWAY_SECS) {
//!     Ok(verified) => {
//!         // J10: insert verified.ledger_key() until verified.exp(); refuse if already there.
//!         // J11: compare every form field except `file` and `token`.
//!         assert!(verified.payload_matches([("fileName", "dress.jpg"), ("tags", "summer,dress")]));
//!     }
//!     Err(TokenError::Expired) => { /* 400 "Your request contains expired token." */ }
//!     Err(TokenError::Invalid(_reason)) => { /* 400 "Your request has invalid token." */ }
//! }
//! # Ok::<(), TokenError>(())
//! ```
//!
//! # V1 authentication parameters
//!
//! ```
//! use folio_token::{authentication_parameters, parse_v1_expire, verify_v1_signature};
//!
//! // Backend: hand these to the browser SDK.
//! let auth = authentication_parameters("private_test_key", None, None);
//!
//! // Server, with the fields as received:
//! let expire_field = auth.expire.to_string();
//! let now = auth.expire - 1800;
//! assert!(parse_v1_expire(&expire_field, now).is_ok()); // S5
//! assert!(verify_v1_signature("private_test_key", &auth.token, &expire_field, &auth.signature)); // S6
//! ```
//!
//! Types that hold a private key redact it from their `Debug` output.

#![deny(missing_docs)]

mod jws;
mod mint;
mod request;
mod v1;
mod verify;

pub use jws::sign_claims;
pub use mint::{MintError, UploadToken, DEFAULT_TOKEN_LIFETIME_SECS};
pub use request::{TokenRequest, TokenRequestError};
pub use v1::{
    authentication_parameters, parse_v1_expire, v1_ledger_key, v1_signature, verify_v1_signature,
    AuthenticationParameters, ExpireError, DEFAULT_V1_EXPIRE_SECS, MAX_V1_EXPIRE_WINDOW_SECS,
};
pub use verify::{
    decode, ledger_key, InvalidReason, MismatchProblem, PayloadMismatch, Segment, TokenError,
    UnverifiedToken, VerifiedToken, VerifyOptions,
};

/// The largest `exp - iat` of a V2 token, per the wire contract (server setting
/// `jwt_max_lifetime`).
pub const MAX_TOKEN_LIFETIME_SECS: i64 = 3600;

/// The contract's default tolerance for an `iat` in the future (server setting `clock_leeway`).
pub const DEFAULT_CLOCK_LEEWAY_SECS: i64 = 60;

/// Claim names the verifier interprets or ignores itself. They are never upload parameters:
/// [`UploadToken`] refuses them as parameter names and [`VerifiedToken::payload_matches`]
/// leaves them out of the comparison.
pub const RESERVED_CLAIMS: [&str; 7] = ["iat", "exp", "nbf", "jti", "iss", "sub", "aud"];

/// The system clock in Unix seconds; negative before 1970 rather than an error, since callers
/// only ever compare or add to it.
pub(crate) fn unix_now() -> i64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_secs()).map_or(i64::MIN, |s| -s),
    }
}
