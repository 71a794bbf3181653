//! The delivery worker of one instance: claims due outbox rows, attempts them concurrently,
//! and writes their outcomes back in batches.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rand::Rng;
use reqwest::Url;
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::state::AppState;
use crate::store::{
    ClaimedDelivery, DeliveryKind, DeliveryOutcome, DeliveryReport, WebhookEndpoint,
};

/// Rows due on other instances (or retries coming due) are noticed within this time.
const POLL: Duration = Duration::from_secs(1);
/// A ring (a commit here wrote to the outbox) waits until this long after the last claim that
/// did not fill its room: a busy upload path rings on every commit, and that must become one
/// claim per batch of events, not a claim per upload.
const GATHER: Duration = Duration::from_millis(10);
/// How long the endpoints read for one claim serve the next ones (a rotated secret or a
/// disabled endpoint is seen within this time; removed endpoints take their rows with them).
const ENDPOINTS_TTL: Duration = Duration::from_secs(1);

/// Starts the worker; it runs until the task is aborted (server shutdown).
pub fn spawn(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move { run(state).await }.instrument(tracing::info_span!("webhooks")))
}

async fn run(state: AppState) {
    let concurrency = state.config.webhooks.concurrency;
    // Claims (and write-backs) wait until half the slots are free, or none is busy: a steady
    // stream then costs one claim and one write-back per batch, not two transactions an event.
    let batch = (concurrency / 2).max(1);
    let mut inflight: JoinSet<DeliveryReport> = JoinSet::new();
    let mut reports = Vec::new();
    let mut endpoints = Endpoints::default();
    let mut last_partial_claim: Option<Instant> = None;
    loop {
        while let Some(done) = inflight.try_join_next() {
            collect(done, &mut reports);
        }
        let room = concurrency.saturating_sub(inflight.len());
        if room >= batch || inflight.is_empty() {
            flush(&state, &mut reports).await;
            let claimed = claim(&state, &mut inflight, &mut endpoints, room).await;
            if claimed == room && claimed > 0 {
                // There may be more due rows than there was room for.
                continue;
            }
            last_partial_claim = Some(Instant::now());
        }
        tokio::select! {
            Some(done) = inflight.join_next(), if !inflight.is_empty() => {
                collect(done, &mut reports);
            }
            _ = state.webhook_bell.wait() => {
                if let Some(at) = last_partial_claim {
                    tokio::time::sleep_until((at + GATHER).into()).await;
                }
            }
            _ = tokio::time::sleep(POLL) => flush(&state, &mut reports).await,
        }
    }
}

/// Claims at most `room` due rows and starts an attempt for each; how many.
async fn claim(
    state: &AppState,
    inflight: &mut JoinSet<DeliveryReport>,
    endpoints: &mut Endpoints,
    room: usize,
) -> usize {
    let now = crate::ids::now_millis();
    let limit = u32::try_from(room).unwrap_or(u32::MAX);
    let rows = match state
        .catalog
        .claim_deliveries(now, state.config.delivery_lease_ms(), limit)
        .await
    {
        Ok(rows) => rows,
        Err(e) => {
            tracing::warn!(error = %e, "claiming deliveries failed");
            return 0;
        }
    };
    let claimed = rows.len();
    // An endpoint not seen yet (added since the last read) is worth a read at once.
    let unknown = rows.iter().any(|r| {
        r.endpoint_id
            .as_ref()
            .is_some_and(|id| !endpoints.by_id.contains_key(id))
    });
    if rows.iter().any(|r| r.endpoint_id.is_some()) {
        endpoints.refresh(state, unknown).await;
    }
    for row in rows {
        let endpoint = row
            .endpoint_id
            .as_ref()
            .and_then(|id| endpoints.by_id.get(id))
            .cloned();
        let span = tracing::info_span!(
            "delivery",
            delivery.id = row.id,
            delivery.kind = row.row.kind.as_str(),
            delivery.attempt = row.attempts,
        );
        let state = state.clone();
        inflight.spawn(async move { attempt(&state, row, endpoint).await }.instrument(span));
    }
    claimed
}

/// The endpoints claimed events go to, read again when [`ENDPOINTS_TTL`] has passed or a
/// claimed event names one not known yet.
#[derive(Default)]
struct Endpoints {
    by_id: HashMap<String, WebhookEndpoint>,
    read_at: Option<Instant>,
}

impl Endpoints {
    async fn refresh(&mut self, state: &AppState, now: bool) {
        if !now && self.read_at.is_some_and(|at| at.elapsed() < ENDPOINTS_TTL) {
            return;
        }
        match state.catalog.webhook_endpoints().await {
            Ok(all) => {
                self.by_id = all.into_iter().map(|e| (e.id.clone(), e)).collect();
                self.read_at = Some(Instant::now());
            }
            // Those attempts find no endpoint, fail and are retried.
            Err(e) => tracing::warn!(error = %e, "reading webhook endpoints failed"),
        }
    }
}

fn collect(
    done: Result<DeliveryReport, tokio::task::JoinError>,
    reports: &mut Vec<DeliveryReport>,
) {
    match done {
        Ok(report) => reports.push(report),
        // The row stays claimed until its lease ends, then it is attempted again.
        Err(e) => tracing::error!(error = %e, "a delivery attempt panicked"),
    }
}

async fn flush(state: &AppState, reports: &mut Vec<DeliveryReport>) {
    if reports.is_empty() {
        return;
    }
    if let Err(e) = state.catalog.finish_deliveries(reports).await {
        // The rows come due again when their leases end: attempted twice, never lost.
        tracing::warn!(error = %e, count = reports.len(), "recording delivery outcomes failed");
    }
    reports.clear();
}

/// What one attempt ended with, before the retry policy.
enum Attempt {
    Delivered(u16),
    /// A status other than 2xx, or no answer (with the reason).
    NotAccepted(Option<u16>, String),
    /// Nothing to retry: a refused URL, a removed endpoint or key.
    Hopeless(String),
    Gone,
}

async fn attempt(
    state: &AppState,
    claimed: ClaimedDelivery,
    endpoint: Option<WebhookEndpoint>,
) -> DeliveryReport {
    let outcome = match claimed.row.kind {
        DeliveryKind::Event => deliver_event(state, &claimed, endpoint.as_ref()).await,
        DeliveryKind::Callback => deliver_callback(state, &claimed).await,
        DeliveryKind::Extension => match crate::extensions::run_job(state, &claimed.row).await {
            Ok(()) => Attempt::Delivered(200),
            Err(e) => Attempt::NotAccepted(None, format!("{e:#}")),
        },
    };
    let now = crate::ids::now_millis();
    let (outcome, status, error) = match outcome {
        Attempt::Delivered(status) => {
            tracing::debug!(status, "delivered");
            (DeliveryOutcome::Delivered, Some(status), None)
        }
        Attempt::Gone => {
            tracing::info!("the endpoint answered 410 Gone; it is disabled");
            (DeliveryOutcome::EndpointGone, Some(410), None)
        }
        Attempt::Hopeless(reason) => {
            tracing::info!(%reason, "delivery given up");
            (DeliveryOutcome::Failed, None, Some(reason))
        }
        Attempt::NotAccepted(status, reason) => {
            let config = &state.config.webhooks;
            let next = now.saturating_add(backoff_ms(
                claimed.attempts,
                config.retry_initial_ms,
                config.retry_max_ms,
                &mut rand::rng(),
            ));
            let deadline = claimed.row.created_at_ms.saturating_add(
                i64::try_from(config.max_age_secs.saturating_mul(1000)).unwrap_or(i64::MAX),
            );
            if next > deadline {
                tracing::warn!(?status, %reason, "delivery abandoned after its last attempt");
                (DeliveryOutcome::Failed, status, Some(reason))
            } else {
                tracing::info!(?status, %reason, "delivery not accepted; retrying later");
                (DeliveryOutcome::Retry(next), status, Some(reason))
            }
        }
    };
    DeliveryReport {
        id: claimed.id,
        outcome,
        status,
        error,
        at_ms: now,
    }
}

/// The wait before attempt `attempts + 1`: `initial × 2^(attempts − 1)`, at most `max`, of which
/// a random 50–100 % (jitter, so a receiver that comes back is not hit by every retry at once).
pub fn backoff_ms(attempts: i64, initial_ms: u64, max_ms: u64, rng: &mut impl Rng) -> i64 {
    let doublings = u32::try_from(attempts.saturating_sub(1).clamp(0, 40)).unwrap_or(40);
    let step = initial_ms
        .saturating_mul(1u64 << doublings.min(40))
        .min(max_ms.max(1));
    let jittered = rng.random_range(step / 2..=step);
    i64::try_from(jittered).unwrap_or(i64::MAX)
}

async fn deliver_event(
    state: &AppState,
    claimed: &ClaimedDelivery,
    endpoint: Option<&WebhookEndpoint>,
) -> Attempt {
    let Some(endpoint) = endpoint else {
        // Removed, or unreadable just now (then the next attempt finds it).
        return Attempt::NotAccepted(None, "the endpoint is not known".to_owned());
    };
    if endpoint.disabled_at_ms.is_some() {
        return Attempt::Hopeless("the endpoint is disabled".to_owned());
    }
    let now = crate::ids::now_millis();
    let mut secrets = vec![endpoint.secret.as_str()];
    if let (Some(previous), Some(until)) =
        (&endpoint.previous_secret, endpoint.previous_secret_until_ms)
    {
        if until > now {
            secrets.push(previous);
        }
    }
    post(state, &endpoint.url, claimed, &secrets).await
}

async fn deliver_callback(state: &AppState, claimed: &ClaimedDelivery) -> Attempt {
    let (Some(url), Some(key_id)) = (&claimed.row.target, &claimed.row.key_id) else {
        return Attempt::Hopeless("a callback without URL or key".to_owned());
    };
    // Signed with the private key of the pair that authenticated the upload: the app's backend
    // holds it, and it never leaves Folio.
    let key = match state.catalog.key_by_public(key_id).await {
        Ok(Some(found)) => found.key,
        Ok(None) => return Attempt::Hopeless("the upload's key pair is gone".to_owned()),
        Err(e) => return Attempt::NotAccepted(None, format!("reading the key failed: {e}")),
    };
    post(state, url, claimed, &[key.private_key.as_str()]).await
}

async fn post(state: &AppState, url: &str, claimed: &ClaimedDelivery, secrets: &[&str]) -> Attempt {
    let Ok(url) = Url::parse(url) else {
        return Attempt::Hopeless("not a URL".to_owned());
    };
    let client = match state.fetcher.guarded_client(&url) {
        Ok(client) => client,
        Err(_) => return Attempt::Hopeless("the URL's address is not allowed".to_owned()),
    };
    let body = claimed.row.body.as_bytes();
    let headers = match super::sign::headers(
        &claimed.row.message_id,
        crate::ids::now_millis(),
        body,
        secrets,
    ) {
        Ok(headers) => headers,
        Err(e) => return Attempt::Hopeless(format!("signing failed: {e}")),
    };
    let mut request = client
        .post(url)
        .header(http::header::CONTENT_TYPE, "application/json")
        .timeout(state.config.webhooks.timeout())
        .body(claimed.row.body.clone());
    for (name, value) in headers {
        request = request.header(name, value);
    }
    match request.send().await {
        Ok(response) => {
            let status = response.status();
            // The answer's body is not read: only the status counts. Events end on any 2xx
            // (webhooks.md §3); a `webhookUrl` callback only on a 200 (spec §3.9).
            let accepted = match claimed.row.kind {
                DeliveryKind::Callback => status == reqwest::StatusCode::OK,
                _ => status.is_success(),
            };
            if accepted {
                Attempt::Delivered(status.as_u16())
            } else if status == reqwest::StatusCode::GONE {
                if claimed.row.kind == DeliveryKind::Event {
                    Attempt::Gone
                } else {
                    Attempt::Hopeless("the receiver answered 410 Gone".to_owned())
                }
            } else {
                Attempt::NotAccepted(
                    Some(status.as_u16()),
                    format!("the receiver answered {}", status.as_u16()),
                )
            }
        }
        Err(e) => Attempt::NotAccepted(None, error_text(&e)),
    }
}

fn error_text(err: &reqwest::Error) -> String {
    if err.is_timeout() {
        "no answer within webhooks.timeout_secs".to_owned()
    } else if err.is_connect() {
        "the receiver could not be reached".to_owned()
    } else {
        "the request failed".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_up_to_the_cap() {
        let mut rng = rand::rng();
        for _ in 0..100 {
            let first = backoff_ms(1, 1000, 60_000, &mut rng);
            assert!((500..=1000).contains(&first), "{first}");
            let fourth = backoff_ms(4, 1000, 60_000, &mut rng);
            assert!((4000..=8000).contains(&fourth), "{fourth}");
            let late = backoff_ms(30, 1000, 60_000, &mut rng);
            assert!((30_000..=60_000).contains(&late), "{late}");
            let absurd = backoff_ms(i64::MAX, u64::MAX, u64::MAX, &mut rng);
            assert!(absurd > 0);
        }
    }
}
