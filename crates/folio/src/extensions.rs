//! Post-upload extensions (spec §3.9): Folio has no built-in AI. Each extension name may be
//! mapped by the operator to an HTTP runner (`extensions.runners`); the upload answers
//! `pending` for those and `failed` for the others. A pending extension is a durable job in the
//! outbox, written with the upload's commit ([`crate::webhooks`]): a worker of any instance
//! calls the runner, stores auto-tagging results as `AITags`, and leaves the final status for
//! the request's `webhookUrl` as a signed callback in the same outbox.
//!
//! See docs/design.md, "Extensions and webhooks", for the wire formats.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use anyhow::Context;
use folio_contract::{Extension, ResponseFields};
use reqwest::Url;
use serde_json::{json, Value};

use crate::config::ExtensionsConfig;
use crate::state::AppState;
use crate::store::{DeliveryKind, OutboxRow, StoredVersion};
use crate::webhooks::outbox::EXTENSION_CALLBACK;

/// `extensionStatus` values.
pub const PENDING: &str = "pending";
pub const FAILED: &str = "failed";

/// The configured runners; one per server.
pub struct Extensions {
    runners: HashMap<String, Url>,
    /// For runner URLs: they come from trusted configuration, so no address guard.
    client: reqwest::Client,
}

/// How one extension ended.
enum Outcome {
    /// With the version as it is now (its new `AITags`).
    Success(Box<StoredVersion>),
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
        Ok(Extensions { runners, client })
    }

    /// The `extensionStatus` of an upload, and the extensions that become jobs: those with a
    /// runner are `pending`; the others are `failed` at once and are not reported to the
    /// webhook.
    pub fn plan(&self, extensions: Vec<Extension>) -> (BTreeMap<String, String>, Vec<Extension>) {
        let mut status = BTreeMap::new();
        let mut pending = Vec::new();
        for extension in extensions {
            if self.runners.contains_key(&extension.name) {
                status.insert(extension.name.clone(), PENDING.to_owned());
                pending.push(extension);
            } else {
                status.insert(extension.name.clone(), FAILED.to_owned());
            }
        }
        (status, pending)
    }
}

/// An extension job as the upload's commit wrote it ([`crate::webhooks::outbox`]).
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct JobBody {
    extensions: Vec<JobExtension>,
    file_id: String,
    version_id: String,
    url_endpoint: String,
    webhook_url: Option<String>,
}

#[derive(serde::Deserialize)]
struct JobExtension {
    name: String,
    #[serde(default)]
    options: serde_json::Map<String, Value>,
}

/// Runs one upload's extensions in request order: calls each runner, stores the tags, and
/// queues one callback per extension. An `Err` is a failure of Folio's own (the catalog): the
/// whole job is attempted again later. A runner that fails is that extension's outcome,
/// reported to the webhook.
pub async fn run_job(state: &AppState, row: &OutboxRow) -> anyhow::Result<()> {
    let job: JobBody = serde_json::from_str(&row.body).context("an unreadable extension job")?;
    let mut version = state
        .catalog
        .version_by_id(&row.account_id, &job.file_id, &job.version_id)
        .await?;
    let mut callbacks = Vec::with_capacity(job.extensions.len());
    for element in job.extensions {
        let extension = Extension {
            name: element.name,
            options: element.options,
        };
        let outcome = match (&mut version, state.extensions.runners.get(&extension.name)) {
            (None, _) => {
                Outcome::Failure("the file was deleted before the extension ran".to_owned())
            }
            (Some(_), None) => {
                Outcome::Failure("no runner is configured for the extension".to_owned())
            }
            (Some(version), Some(runner)) => {
                match call_runner(state, version, &job.url_endpoint, &extension, runner).await {
                    Ok(Some(tags)) => {
                        apply_tags(state, version, &extension.name, tags).await?;
                        Outcome::Success(Box::new(version.clone()))
                    }
                    Ok(None) => Outcome::Success(Box::new(version.clone())),
                    Err(reason) => {
                        tracing::info!(extension = %extension.name, %reason, "extension failed");
                        Outcome::Failure(reason)
                    }
                }
            }
        };
        let Some(webhook) = &job.webhook_url else {
            continue;
        };
        let body = match outcome {
            Outcome::Success(version) => json!({
                "service": extension.name,
                "status": "SUCCESS",
                "fileObject": file_object(&version, &job.url_endpoint),
            }),
            Outcome::Failure(reason) => json!({
                "service": extension.name,
                "status": "FAILURE",
                "fileId": job.file_id,
                "error": {"reason": reason},
            }),
        };
        callbacks.push(OutboxRow {
            message_id: uuid::Uuid::new_v4().to_string(),
            account_id: row.account_id.clone(),
            kind: DeliveryKind::Callback,
            event_type: EXTENSION_CALLBACK.to_owned(),
            target: Some(webhook.clone()),
            key_id: row.key_id.clone(),
            body: body.to_string(),
            created_at_ms: crate::ids::now_millis(),
        });
    }
    if !callbacks.is_empty() {
        state.catalog.enqueue(&callbacks).await?;
        state.webhook_bell.ring();
    }
    Ok(())
}

/// The file object of a success callback: the upload file object (spec §4.2) of the version,
/// with its current `AITags`.
fn file_object(version: &StoredVersion, url_endpoint: &str) -> Value {
    let object =
        crate::upload::response::upload_response(version, url_endpoint, ResponseFields::default());
    serde_json::to_value(object).unwrap_or(Value::Null)
}

/// Calls a runner. `Ok(Some(tags))`: an auto-tagging result, already filtered by
/// `minConfidence` and cut to `maxTags`; `Ok(None)`: another extension that succeeded;
/// `Err`: the reason of the failure.
async fn call_runner(
    state: &AppState,
    version: &StoredVersion,
    url_endpoint: &str,
    extension: &Extension,
    runner: &Url,
) -> Result<Option<Vec<Value>>, String> {
    let (url, _) = crate::upload::response::delivery_urls(url_endpoint, &version.file_path);
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
