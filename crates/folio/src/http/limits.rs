//! `GET /api/v2/limits?publicKey=…`: what an upload of this account must fit, for a client to
//! check a file before it sends a byte, and the server's clock, for it to tell a skewed clock
//! from a stale token. Public (a public key is no secret), cacheable for a minute, and cheap:
//! one key lookup.

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use crate::config::Config;
use crate::error::AppError;
use crate::state::AppState;
use crate::upload::auth::key_for_public;

pub const PATH: &str = "/api/v2/limits";

/// How long a client or a shared cache may reuse an answer. `serverTime` is as old as the
/// answer (the `Age` header says by how much): a client measuring its clock skew fetches with
/// `cache: "no-store"`.
const MAX_AGE: &str = "public, max-age=60";

#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Limits {
    /// One entry per size class, the first that matches a file's sniffed MIME type applies.
    pub size_limits: Vec<SizeClass>,
    pub max_versions_per_file: u32,
    pub token: TokenLimits,
    /// `null` when resumable uploads are switched off.
    pub resumable: Option<ResumableLimits>,
    /// Unix seconds, by the clock tokens are checked against.
    pub server_time: i64,
}

#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SizeClass {
    /// `video` or `other`.
    pub class: &'static str,
    /// The MIME types of the class, as a pattern (`video/*`, `*/*`).
    pub mime_types: &'static str,
    pub max_bytes: u64,
}

#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TokenLimits {
    /// The largest `exp - iat` of a v2 token.
    pub max_lifetime_secs: i64,
    /// How far a v2 token's `iat` may be ahead of `serverTime`.
    pub clock_leeway_secs: i64,
    /// The latest v1 `expire`, from now.
    pub max_v1_expire_secs: i64,
}

#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ResumableLimits {
    pub path: &'static str,
    /// An upload lives this long from its creation.
    pub ttl_secs: u64,
    pub max_incomplete_per_key: u64,
    pub max_incomplete_bytes_per_key: u64,
}

impl Limits {
    /// The limits `config` sets, at `now`.
    pub fn of(config: &Config, now: i64) -> Self {
        let limits = &config.limits;
        let resumable = &config.resumable;
        Limits {
            size_limits: vec![
                SizeClass {
                    class: "video",
                    mime_types: "video/*",
                    max_bytes: limits.max_video_size,
                },
                SizeClass {
                    class: "other",
                    mime_types: "*/*",
                    max_bytes: limits.max_file_size,
                },
            ],
            max_versions_per_file: limits.max_versions_per_file,
            token: TokenLimits {
                max_lifetime_secs: folio_token::MAX_TOKEN_LIFETIME_SECS,
                clock_leeway_secs: config.auth.clock_leeway_secs,
                max_v1_expire_secs: folio_token::MAX_V1_EXPIRE_WINDOW_SECS,
            },
            resumable: resumable.enabled.then_some(ResumableLimits {
                path: crate::resumable::PATH,
                ttl_secs: resumable.ttl_secs,
                max_incomplete_per_key: resumable.max_incomplete_per_key,
                max_incomplete_bytes_per_key: resumable.max_incomplete_bytes_per_key,
            }),
            server_time: now,
        }
    }
}

pub async fn limits(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Response, AppError> {
    let public_key = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(name, _)| name == "publicKey")
        .map(|(_, value)| value.into_owned())
        .filter(|value| !value.is_empty())
        .ok_or(folio_contract::ParamError::Missing("publicKey"))?;
    // Every account has the server's limits today; the key still has to name a live one, so
    // that the answer is the one its uploads will meet.
    key_for_public(&state, &public_key).await?;
    let mut response = Json(Limits::of(&state.config, state.clock.now_secs())).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(MAX_AGE));
    Ok(response)
}
