//! Post-upload extensions (spec §3.9): Folio has no built-in AI. Each extension name may be
//! mapped by the operator to an HTTP runner (`extensions.runners`); the upload answers
//! `pending` for those and `failed` for the others, and a background task calls the runners
//! after the commit, stores auto-tagging results as `AITags`, and POSTs the final status of
//! each pending extension to the request's `webhookUrl`, signed and with retries.
//!
//! See docs/design.md, "Extensions and webhooks", for the wire formats.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use anyhow::Context;
use folio_contract::{Extension, ResponseFields};
use hmac::{Hmac, Mac};
use reqwest::Url;
use serde_json::{json, Value};
use sha2::Sha256;

use crate::config::ExtensionsConfig;
use crate::state::AppState;
use crate::store::StoredVersion;

/// The header that carries a webhook's signature.
pub const SIGNATURE_HEADER: &str = "x-folio-signature";

/// `extensionStatus` values.
pub const PENDING: &str = "pending";
pub const FAILED: &str = "failed";

/// The configured runners and the delivery settings; one per server.
pub struct Extensions {
    runners: HashMap<String, Url>,
    /// For runner URLs: they come from trusted configuration, so no address guard.
    client: reqwest::Client,
    config: ExtensionsConfig,
}

/// What a finished upload hands to the extension task.
pub struct Job {
    pub extensions: Vec<Extension>,
    pub version: StoredVersion,
    pub url_endpoint: String,
    /// The request's `webhookUrl` (already checked by P4).
    pub webhook_url: Option<String>,
    /// The private key of the key pair that authenticated the upload: it signs the webhooks.
    pub signing_key: String,
}

/// How one extension ended.
enum Outcome {
    Success,
    Failure(String),
}

impl Extensions {
    pub fn new(config: &ExtensionsConfig) -> anyhow::Result<Extensions> {
        let runners = config.runner_map().context("extensions.runners")?;
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(config.runner_timeout_secs))
            .user_agent(concat!("Folio/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("building the extension runner client")?;
        Ok(Extensions {
            runners,
            client,
            config: config.clone(),
        })
    }

    /// The `extensionStatus` of an upload, and the background work for its pending extensions
    /// (started here, after the commit). Extensions without a runner are `failed` at once and
    /// are not reported to the webhook.
    pub fn start(state: &AppState, job: Job) -> BTreeMap<String, String> {
        let this = &state.extensions;
        let mut status = BTreeMap::new();
        let mut pending = Vec::new();
        for extension in job.extensions {
            if let Some(runner) = this.runners.get(&extension.name) {
                status.insert(extension.name.clone(), PENDING.to_owned());
                pending.push((extension, runner.clone()));
            } else {
                status.insert(extension.name.clone(), FAILED.to_owned());
            }
        }
        if !pending.is_empty() {
            let state = state.clone();
            let job = Job {
                extensions: Vec::new(),
                ..job
            };
            tokio::spawn(async move { run_pending(state, job, pending).await });
        }
        status
    }
}

/// Runs the pending extensions one after the other (they may all write `AITags` of the same
/// version), and hands each final status to its own delivery task.
async fn run_pending(state: AppState, mut job: Job, pending: Vec<(Extension, Url)>) {
    for (extension, runner) in pending {
        let outcome = match call_runner(&state, &job, &extension, &runner).await {
            Ok(Some(tags)) => {
                match apply_tags(&state, &mut job.version, &extension.name, tags).await {
                    Ok(()) => Outcome::Success,
                    Err(e) => {
                        tracing::warn!(extension = %extension.name, error = %e, "storing AI tags failed");
                        Outcome::Failure("the result could not be stored".to_owned())
                    }
                }
            }
            Ok(None) => Outcome::Success,
            Err(reason) => {
                tracing::info!(extension = %extension.name, %reason, "extension failed");
                Outcome::Failure(reason)
            }
        };
        let Some(webhook) = &job.webhook_url else {
            continue;
        };
        let body = match outcome {
            Outcome::Success => json!({
                "service": extension.name,
                "status": "SUCCESS",
                "fileObject": file_object(&job),
            }),
            Outcome::Failure(reason) => json!({
                "service": extension.name,
                "status": "FAILURE",
                "fileId": job.version.file_id,
                "error": {"reason": reason},
            }),
        };
        let (state, webhook, key) = (state.clone(), webhook.clone(), job.signing_key.clone());
        tokio::spawn(async move { deliver(&state, &webhook, &key, &body).await });
    }
}

/// The file object of a success webhook: the upload file object (spec §4.2) of the version,
/// with its current `AITags`.
fn file_object(job: &Job) -> Value {
    let object = crate::upload::response::upload_response(
        &job.version,
        &job.url_endpoint,
        ResponseFields::default(),
    );
    serde_json::to_value(object).unwrap_or(Value::Null)
}

/// Calls a runner. `Ok(Some(tags))`: an auto-tagging result, already filtered by
/// `minConfidence` and cut to `maxTags`; `Ok(None)`: another extension that succeeded;
/// `Err`: the reason of the failure.
async fn call_runner(
    state: &AppState,
    job: &Job,
    extension: &Extension,
    runner: &Url,
) -> Result<Option<Vec<Value>>, String> {
    let version = &job.version;
    let (url, _) = crate::upload::response::delivery_urls(&job.url_endpoint, &version.file_path);
    let request = json!({
        "name": extension.name,
        "options": extension.options,
        "fileId": version.file_id,
        "versionId": version.version_id,
        "url": url,
        "filePath": version.file_path,
        "mime": version.media.mime,
    });
    let response = state
        .extensions
        .client
        .post(runner.clone())
        .json(&request)
        .send()
        .await
        .map_err(|e| {
            tracing::info!(extension = %extension.name, error = %e, "runner call failed");
            "the extension runner could not be reached in time".to_owned()
        })?;
    let status = response.status();
    if status != reqwest::StatusCode::OK {
        return Err(format!("the extension runner answered {}", status.as_u16()));
    }
    let answer: Value = response
        .json()
        .await
        .map_err(|_| "the extension runner's answer is not JSON".to_owned())?;
    if !is_auto_tagging(&extension.name) {
        return Ok(None);
    }
    let invalid = || "the extension runner's answer has no valid tags".to_owned();
    let tags = answer
        .get("tags")
        .and_then(Value::as_array)
        .ok_or_else(invalid)?;
    let min_confidence = option_number(extension, "minConfidence").unwrap_or(0.0);
    let max_tags = option_number(extension, "maxTags").map_or(usize::MAX, |m| m as usize);
    let mut found = Vec::with_capacity(tags.len());
    for tag in tags {
        let name = tag
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(invalid)?;
        let confidence = tag
            .get("confidence")
            .and_then(Value::as_f64)
            .ok_or_else(invalid)?;
        if !name.is_empty() && confidence >= min_confidence {
            found.push((name.to_owned(), confidence));
        }
    }
    found.sort_by(|a, b| b.1.total_cmp(&a.1));
    found.truncate(max_tags);
    Ok(Some(
        found
            .into_iter()
            .map(|(name, confidence)| {
                json!({"name": name, "confidence": confidence, "source": extension.name})
            })
            .collect(),
    ))
}

fn is_auto_tagging(name: &str) -> bool {
    matches!(name, "google-auto-tagging" | "aws-auto-tagging")
}

fn option_number(extension: &Extension, key: &str) -> Option<f64> {
    extension.options.get(key).and_then(Value::as_f64)
}

/// Replaces the tags of `source` in the version's `AITags` with `tags` and stores the result.
async fn apply_tags(
    state: &AppState,
    version: &mut StoredVersion,
    source: &str,
    tags: Vec<Value>,
) -> anyhow::Result<()> {
    let mut all: Vec<Value> = match version.ai_tags.take() {
        Some(Value::Array(items)) => items
            .into_iter()
            .filter(|t| t.get("source").and_then(Value::as_str) != Some(source))
            .collect(),
        _ => Vec::new(),
    };
    all.extend(tags);
    let value = if all.is_empty() {
        Value::Null
    } else {
        Value::Array(all)
    };
    state
        .catalog
        .set_ai_tags(&version.version_id, &value)
        .await?;
    version.ai_tags = (!value.is_null()).then_some(value);
    Ok(())
}

/// `t=<unix seconds>,v1=<hex HMAC-SHA256(key, "<t>.<body>")>`.
pub fn signature(key: &str, t: i64, body: &[u8]) -> String {
    // HMAC takes a key of any length.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"));
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// POSTs one event to a webhook until it answers `200` within the timeout, at most
/// `webhook_max_attempts` times, waiting `webhook_retry_initial_ms` doubled after every failure
/// (at most `webhook_retry_max_ms`). Each attempt is signed afresh.
async fn deliver(state: &AppState, webhook: &str, key: &str, event: &Value) {
    let config = &state.extensions.config;
    let Ok(url) = Url::parse(webhook) else {
        tracing::info!("webhookUrl is not a URL; nothing delivered");
        return;
    };
    let body = match serde_json::to_vec(event) {
        Ok(body) => body,
        Err(e) => {
            tracing::warn!(error = %e, "webhook body could not be serialised");
            return;
        }
    };
    let timeout = Duration::from_secs(config.webhook_timeout_secs);
    let mut wait = Duration::from_millis(config.webhook_retry_initial_ms);
    let max_wait = Duration::from_millis(config.webhook_retry_max_ms);
    for attempt in 1..=config.webhook_max_attempts {
        if attempt > 1 {
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(max_wait);
        }
        let client = match state.fetcher.guarded_client(&url) {
            Ok(client) => client,
            Err(_) => {
                tracing::info!(
                    webhook.host = url.host_str().unwrap_or_default(),
                    "webhookUrl refused"
                );
                return;
            }
        };
        let signed = signature(key, state.clock.now_secs(), &body);
        let sent = client
            .post(url.clone())
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, signed)
            .body(body.clone())
            .timeout(timeout)
            .send()
            .await;
        match sent {
            Ok(response) if response.status() == reqwest::StatusCode::OK => {
                tracing::info!(attempt, "webhook delivered");
                return;
            }
            Ok(response) => {
                tracing::info!(
                    attempt,
                    status = response.status().as_u16(),
                    "webhook not accepted"
                )
            }
            Err(e) => tracing::info!(attempt, error = %e, "webhook delivery failed"),
        }
    }
    tracing::warn!(
        webhook.host = url.host_str().unwrap_or_default(),
        "webhook abandoned after the last attempt"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_of_timestamp_dot_body() {
        // HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog") is a well-known
        // vector; here the message is "<t>.<body>".
        let s = signature("key", 1, b"x");
        assert!(s.starts_with("t=1,v1="));
        assert_eq!(s.len(), "t=1,v1=".len() + 64);
        assert_ne!(s, signature("key", 2, b"x"));
        assert_ne!(s, signature("other", 1, b"x"));
    }
}
