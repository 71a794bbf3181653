//! What a change writes to the outbox (webhooks.md §2–§3): the event bodies, rendered here once,
//! above the backends. A backend that changes files calls [`Outbox::rows`] with what it changed,
//! inside its transaction, and inserts the rows it gets (the SQL is the backend's), so an event
//! exists exactly when its change does.

use std::sync::Arc;

use serde::Serialize;
use serde_json::json;

use crate::http::RequestInfo;
use crate::media::details::{file_details, iso_millis, RenderContext};
use crate::store::{DeliveryKind, OutboxRow, StoredVersion};

/// The event types an endpoint can subscribe to (webhooks.md §2).
pub const EVENT_TYPES: &[&str] = &[
    FILE_CREATED,
    FILE_UPDATED,
    FILE_DELETED,
    FILE_VERSION_CREATED,
    FILE_VERSION_DELETED,
    PRE_TRANSFORM_SUCCESS,
    PRE_TRANSFORM_ERROR,
    POST_TRANSFORM_SUCCESS,
    POST_TRANSFORM_ERROR,
];

pub const FILE_CREATED: &str = "file.created";
pub const FILE_UPDATED: &str = "file.updated";
pub const FILE_DELETED: &str = "file.deleted";
pub const FILE_VERSION_CREATED: &str = "file-version.created";
pub const FILE_VERSION_DELETED: &str = "file-version.deleted";
pub const PRE_TRANSFORM_SUCCESS: &str = "upload.pre-transform.success";
pub const PRE_TRANSFORM_ERROR: &str = "upload.pre-transform.error";
pub const POST_TRANSFORM_SUCCESS: &str = "upload.post-transform.success";
pub const POST_TRANSFORM_ERROR: &str = "upload.post-transform.error";
/// The `event_type` of an extension runner job (not an account event).
pub const EXTENSION_JOB: &str = "extension";
/// The `event_type` of a per-upload `webhookUrl` callback.
pub const EXTENSION_CALLBACK: &str = "extension.callback";

/// What a write changed, as the backend tells it.
#[derive(Debug, Clone, Copy)]
pub enum Change<'a> {
    /// A new file (an upload or a copy to a free path): its current version.
    Created(&'a StoredVersion),
    /// A new version of an existing file (an overwrite, or a copy onto a file).
    VersionCreated(&'a StoredVersion),
    /// A file's details, name, path or current version changed: its current version after.
    Updated(&'a StoredVersion),
    Deleted {
        file_id: &'a str,
    },
    VersionDeleted {
        file_id: &'a str,
        version_id: &'a str,
    },
}

/// The extension job an upload (or a details update) leaves behind (spec §3.9): one row for
/// the extensions that have a runner, written with the commit.
#[derive(Debug, Clone)]
pub struct ExtensionJobs {
    pub extensions: Vec<folio_contract::Extension>,
    /// The request's `webhookUrl`: where each job's outcome is POSTed.
    pub webhook_url: Option<String>,
    /// The public key of the pair that authenticated the upload: its private key signs the
    /// callbacks.
    pub key_id: String,
}

/// The outbox side of one request's writes. [`Outbox::none`] writes nothing (tools and tests
/// that must not emit events).
#[derive(Debug, Clone, Default)]
pub struct Outbox {
    source: Option<Arc<Source>>,
}

#[derive(Debug, Clone)]
struct Source {
    account_id: String,
    render: Arc<RenderContext>,
    request: Option<RequestInfo>,
    extensions: Option<ExtensionJobs>,
    /// The upload being committed is the result of a pre-transformation.
    pre_transformed: bool,
}

/// An event body: `{"type", "id", "created_at", "data", "request"?}`.
#[derive(Serialize)]
struct EventBody<'a, D: Serialize> {
    #[serde(rename = "type")]
    kind: &'a str,
    id: &'a str,
    created_at: String,
    data: D,
    #[serde(skip_serializing_if = "Option::is_none")]
    request: Option<&'a RequestInfo>,
}

impl Outbox {
    pub fn none() -> Outbox {
        Outbox::default()
    }

    /// Events of `account_id`, rendered with `render` (its delivery base and live fields), on
    /// behalf of `request` when an HTTP request causes them.
    pub fn new(
        account_id: &str,
        render: Arc<RenderContext>,
        request: Option<RequestInfo>,
    ) -> Outbox {
        Outbox {
            source: Some(Arc::new(Source {
                account_id: account_id.to_owned(),
                render,
                request,
                extensions: None,
                pre_transformed: false,
            })),
        }
    }

    /// The same, and the extension jobs of the upload being committed.
    pub fn with_extensions(self, jobs: ExtensionJobs) -> Outbox {
        let Some(source) = self.source else {
            return self;
        };
        let mut source = Source::clone(&source);
        source.extensions = Some(jobs);
        Outbox {
            source: Some(Arc::new(source)),
        }
    }

    /// The same, for an upload whose stored file a pre-transformation made: its commit also
    /// writes `upload.pre-transform.success`.
    pub fn pre_transformed(self) -> Outbox {
        let Some(source) = self.source else {
            return self;
        };
        let mut source = Source::clone(&source);
        source.pre_transformed = true;
        Outbox {
            source: Some(Arc::new(source)),
        }
    }

    /// An event that reports no change of the catalog (a transformation's outcome): written on
    /// its own with [`crate::store::Catalog::enqueue`].
    pub fn event(&self, event_type: &str, data: impl Serialize) -> Option<OutboxRow> {
        let source = self.source.as_deref()?;
        Some(source.event(event_type, data, crate::ids::now_millis()))
    }

    /// The rows `change` writes: its event, and the extension jobs of the upload or edit that
    /// carries some (on the version it wrote).
    pub fn rows(&self, change: &Change<'_>) -> Vec<OutboxRow> {
        let Some(source) = self.source.as_deref() else {
            return Vec::new();
        };
        let now = crate::ids::now_millis();
        let mut rows = Vec::with_capacity(1);
        // The File object keeps the key order of the media API's answers.
        let file = |v: &StoredVersion| file_details(v, &source.render);
        rows.push(match *change {
            Change::Created(v) => source.event(FILE_CREATED, file(v), now),
            Change::VersionCreated(v) => source.event(FILE_VERSION_CREATED, file(v), now),
            Change::Updated(v) => source.event(FILE_UPDATED, file(v), now),
            Change::Deleted { file_id } => {
                source.event(FILE_DELETED, json!({ "fileId": file_id }), now)
            }
            Change::VersionDeleted {
                file_id,
                version_id,
            } => source.event(
                FILE_VERSION_DELETED,
                json!({ "fileId": file_id, "versionId": version_id }),
                now,
            ),
        });
        if let (true, Change::Created(v) | Change::VersionCreated(v)) =
            (source.pre_transformed, change)
        {
            rows.push(source.event(PRE_TRANSFORM_SUCCESS, file(v), now));
        }
        if let (Some(jobs), Change::Created(v) | Change::VersionCreated(v) | Change::Updated(v)) =
            (&source.extensions, change)
        {
            // One job for all of them: they run one after the other, so taggers never race on
            // the version's AITags.
            let extensions: Vec<_> = jobs
                .extensions
                .iter()
                .map(|e| json!({"name": e.name, "options": e.options}))
                .collect();
            let names: Vec<&str> = jobs.extensions.iter().map(|e| e.name.as_str()).collect();
            let body = json!({
                "extensions": extensions,
                "fileId": v.file_id,
                "versionId": v.version_id,
                "urlEndpoint": source.render.url_endpoint,
                "webhookUrl": jobs.webhook_url,
            });
            rows.push(OutboxRow {
                message_id: uuid::Uuid::new_v4().to_string(),
                account_id: source.account_id.clone(),
                kind: DeliveryKind::Extension,
                event_type: EXTENSION_JOB.to_owned(),
                target: Some(names.join(",")),
                key_id: Some(jobs.key_id.clone()),
                body: body.to_string(),
                created_at_ms: now,
            });
        }
        rows
    }
}

impl Source {
    /// An account event row with a fresh id.
    fn event(&self, event_type: &str, data: impl Serialize, now: i64) -> OutboxRow {
        let id = uuid::Uuid::new_v4().to_string();
        let body = EventBody {
            kind: event_type,
            id: &id,
            created_at: iso_millis(now),
            data,
            request: self.request.as_ref(),
        };
        OutboxRow {
            message_id: id.clone(),
            account_id: self.account_id.clone(),
            kind: DeliveryKind::Event,
            event_type: event_type.to_owned(),
            target: None,
            key_id: None,
            body: serde_json::to_string(&body).unwrap_or_default(),
            created_at_ms: now,
        }
    }
}

/// The stored form of an endpoint's event filter: `''` for every event, else `,a,b,` (one
/// `LIKE` in the fan-out statement decides a subscription).
pub fn events_column(events: &[String]) -> String {
    if events.is_empty() {
        String::new()
    } else {
        format!(",{},", events.join(","))
    }
}

/// The event list of a stored filter.
pub fn events_from_column(column: &str) -> Vec<String> {
    column
        .split(',')
        .filter(|e| !e.is_empty())
        .map(str::to_owned)
        .collect()
}
