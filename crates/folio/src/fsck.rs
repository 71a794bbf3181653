//! `folio fsck [--repair]`: whether every catalog row still has its blob, at its size, and
//! which blobs no row refers to. Runs online, in batches, against either backend.
//!
//! Repair never deletes a row: a version whose blob is missing or has the wrong size may still
//! be restored from a backup, so its file is marked with the tag [`BROKEN_TAG`] (findable with
//! `searchQuery=tags IN ["folio-broken"]`). Orphan blobs older than the grace period are
//! deleted, as the sweeper would.

use futures_util::StreamExt;
use serde::Serialize;

use crate::state::AppState;
use crate::store::{EditScope, Outbox, VersionBlob};

/// The tag `--repair` gives a file with a version whose blob is missing or the wrong size.
pub const BROKEN_TAG: &str = "folio-broken";

/// Versions looked at per catalog query.
const BATCH: u32 = 500;

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// Versions looked at.
    pub versions: u64,
    /// Versions whose blob is gone.
    pub missing: Vec<VersionBlob>,
    /// Versions whose blob has another size than the catalog's.
    pub wrong_size: Vec<WrongSize>,
    /// Version blobs no row refers to, older than `storage.orphan_grace_secs`.
    pub orphans: Vec<String>,
    /// What `--repair` did: orphans deleted, files tagged broken.
    pub orphans_removed: u64,
    pub files_marked: u64,
}

impl Report {
    /// Whether anything is still wrong (orphans removed by the repair excepted).
    pub fn clean(&self) -> bool {
        self.missing.is_empty()
            && self.wrong_size.is_empty()
            && self.orphans.len() as u64 == self.orphans_removed
    }
}

/// A version whose blob has `found` bytes where the catalog says `size`.
#[derive(Debug, Serialize)]
pub struct WrongSize {
    #[serde(flatten)]
    pub version: VersionBlob,
    pub found: u64,
}

/// Checks the library, and repairs what may be repaired when `repair` is set.
pub async fn run(state: &AppState, repair: bool) -> anyhow::Result<Report> {
    let mut report = Report::default();
    let mut after = String::new();
    loop {
        let page = state.catalog.versions_after(&after, BATCH).await?;
        let Some(last) = page.last() else { break };
        after = last.version_id.clone();
        for version in page {
            report.versions += 1;
            match state.blobs.size(&version.blob_key).await? {
                None => report.missing.push(version),
                Some(found) if found != version.size => {
                    report.wrong_size.push(WrongSize { version, found })
                }
                Some(_) => {}
            }
        }
    }
    let grace = i64::try_from(state.config.storage.orphan_grace_secs).unwrap_or(i64::MAX);
    let cutoff = crate::ids::now_secs().saturating_sub(grace);
    let mut blobs = state.blobs.list_version_blobs();
    while let Some(item) = blobs.next().await {
        let (key, modified) = item?;
        if modified <= cutoff && !state.catalog.blob_is_referenced(&key).await? {
            report.orphans.push(key);
        }
    }
    if repair {
        for key in &report.orphans {
            // Referenced since it was listed (a commit in flight): not an orphan after all.
            if !state.catalog.blob_is_referenced(key).await? {
                state.blobs.delete(key).await?;
                report.orphans_removed += 1;
            }
        }
        let mut broken: Vec<(&str, &str)> = report
            .missing
            .iter()
            .chain(report.wrong_size.iter().map(|w| &w.version))
            .map(|v| (v.account_id.as_str(), v.file_id.as_str()))
            .collect();
        broken.sort_unstable();
        broken.dedup();
        for (account_id, file_id) in broken {
            let mark = |version: &mut crate::store::StoredVersion| {
                version.tags =
                    crate::media::service::add_tags(version.tags.take(), &[BROKEN_TAG.to_owned()]);
                Ok(())
            };
            state
                .catalog
                .edit_versions(
                    account_id,
                    &[file_id.to_owned()],
                    EditScope::Current,
                    &mark,
                    &Outbox::none(),
                )
                .await?;
            report.files_marked += 1;
        }
    }
    Ok(report)
}

/// The report as a table for a terminal.
pub fn table(report: &Report) -> String {
    let mut out = format!(
        "{:<12} {:<26} {:<26} detail\n",
        "problem", "file", "version"
    );
    for v in &report.missing {
        out += &format!(
            "{:<12} {:<26} {:<26} {} ({} bytes) is gone\n",
            "missing", v.file_id, v.version_id, v.blob_key, v.size
        );
    }
    for WrongSize { version: v, found } in &report.wrong_size {
        out += &format!(
            "{:<12} {:<26} {:<26} {} has {found} bytes, the catalog says {}\n",
            "wrong size", v.file_id, v.version_id, v.blob_key, v.size
        );
    }
    for key in &report.orphans {
        out += &format!("{:<12} {:<26} {:<26} {key}\n", "orphan", "-", "-");
    }
    out += &format!(
        "{} version(s) checked: {} missing, {} wrong size, {} orphan blob(s)",
        report.versions,
        report.missing.len(),
        report.wrong_size.len(),
        report.orphans.len()
    );
    if report.orphans_removed > 0 || report.files_marked > 0 {
        out += &format!(
            "; repaired: {} orphan(s) removed, {} file(s) tagged {BROKEN_TAG}",
            report.orphans_removed, report.files_marked
        );
    }
    out.push('\n');
    out
}
