//! Background housekeeping: blobs that no catalog row points at, staging files of interrupted
//! writes, and ledger entries of expired tokens.
//!
//! Unreferenced blobs come from a crash between the blob write and the catalog commit of an
//! upload or a copy, and from a crash between the removal of rows (delete file, delete version,
//! bulk delete) and the removal of their blobs: the media API deletes rows first, so a row never
//! points at a missing blob, and what a crash leaves is swept here. Version blobs (`v/…`) are
//! kept while a version row names them; renditions (`d/<version id>/…`) while their version
//! exists.

use std::time::Duration;

use futures_util::StreamExt;
use tracing::Instrument;

use crate::ids;
use crate::state::AppState;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct SweepReport {
    pub orphan_blobs: usize,
    pub orphan_renditions: usize,
    pub staging_files: usize,
    pub expired_tokens: u64,
    /// Finished rows of the delivery log past `webhooks.log_retention_secs`.
    pub old_deliveries: u64,
    /// Resumable uploads past their `Upload-Expires`, with their partial data.
    pub expired_uploads: u64,
    /// Rate limit counts of windows that have ended.
    pub old_rate_counts: u64,
    /// Console sessions and login links past their expiry.
    pub expired_console_sessions: u64,
}

/// One pass. Blobs younger than the grace period are left alone: they may belong to an
/// upload that has not committed yet (here or on another instance).
pub async fn sweep_once(state: &AppState) -> anyhow::Result<SweepReport> {
    let grace = i64::try_from(state.config.storage.orphan_grace_secs).unwrap_or(i64::MAX);
    let cutoff = ids::now_secs().saturating_sub(grace);
    let mut report = SweepReport::default();
    let mut blobs = state.blobs.list_version_blobs();
    while let Some(item) = blobs.next().await {
        let (key, modified) = item?;
        if modified > cutoff {
            continue;
        }
        if !state.catalog.blob_is_referenced(&key).await? {
            state.blobs.delete(&key).await?;
            report.orphan_blobs += 1;
        }
    }
    // Renditions: also what a render that finished after its version was deleted wrote.
    let mut renditions = state.blobs.list_rendition_blobs();
    while let Some(item) = renditions.next().await {
        let (key, modified) = item?;
        if modified > cutoff {
            continue;
        }
        let referenced = match crate::store::blob::rendition_version(&key) {
            Some(version_id) => state.catalog.version_exists(version_id).await?,
            // Not a key Folio writes: left alone.
            None => true,
        };
        if !referenced {
            state.blobs.delete(&key).await?;
            report.orphan_renditions += 1;
        }
    }
    report.staging_files = state.blobs.sweep_local_staging(grace).await?;
    // The same clock the token checks use: an entry may go only once its token would fail them.
    report.expired_tokens = state
        .catalog
        .purge_burned_tokens(state.clock.now_secs())
        .await?;
    let retention = state
        .config
        .webhooks
        .log_retention_secs
        .saturating_mul(1000);
    report.old_deliveries = state
        .catalog
        .purge_deliveries(
            crate::ids::now_millis().saturating_sub(i64::try_from(retention).unwrap_or(i64::MAX)),
        )
        .await?;
    report.expired_uploads = crate::resumable::sweep(state).await?;
    let window = i64::try_from(state.config.rate_limits.window_secs).unwrap_or(i64::MAX);
    report.old_rate_counts = state
        .catalog
        .purge_hits(ids::now_secs().saturating_sub(window))
        .await?;
    report.expired_console_sessions = state
        .catalog
        .purge_console_sessions(state.clock.now_secs())
        .await?;
    Ok(report)
}

/// Runs [`sweep_once`] now and then every `storage.sweep_interval_secs`.
pub fn spawn(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(
        async move {
            let period = Duration::from_secs(state.config.storage.sweep_interval_secs.max(1));
            let mut ticker = tokio::time::interval(period);
            loop {
                ticker.tick().await;
                match sweep_once(&state).await {
                    Ok(report) if report != SweepReport::default() => {
                        tracing::info!(
                            sweep.orphan_blobs = report.orphan_blobs,
                            sweep.orphan_renditions = report.orphan_renditions,
                            sweep.staging_files = report.staging_files,
                            sweep.expired_tokens = report.expired_tokens,
                            sweep.old_deliveries = report.old_deliveries,
                            sweep.expired_uploads = report.expired_uploads,
                            sweep.old_rate_counts = report.old_rate_counts,
                            "swept"
                        );
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = ?e, "sweep failed; will retry"),
                }
            }
        }
        // Not a request's work: the sweeper's own span names its log lines.
        .instrument(tracing::info_span!("sweeper")),
    )
}
