//! `folio fsck [--repair]`: whether every catalog row still has its blob, at its size, which
//! blobs no row refers to, and whether every file's versions are in sequence (a current version
//! that exists, numbers the next upload will not reuse). Runs online, in batches, against
//! either backend.
//!
//! Repair never deletes a row: a version whose blob is missing or has the wrong size may still
//! be restored from a backup, so its file is marked with the tag [`BROKEN_TAG`] (findable with
//! `searchQuery=tags IN ["folio-broken"]`). Orphan blobs older than the grace period are
//! deleted, as the sweeper would. A file's version counter below its highest version number is
//! raised to it; a file without versions, or whose current version is gone, is only reported
//! (deleting it is the operator's call: `folio files rm`).

use futures_util::StreamExt;
use serde::Serialize;

use crate::state::AppState;
use crate::store::{EditScope, FileSequence, Outbox, VersionBlob};

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
    /// Files looked at, and those whose versions are out of sequence.
    pub files: u64,
    pub out_of_sequence: Vec<OutOfSequence>,
    /// What `--repair` did: orphans deleted, files tagged broken, version counters raised.
    pub orphans_removed: u64,
    pub files_marked: u64,
    pub counters_raised: u64,
}

/// A file whose versions are out of sequence, and how.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutOfSequence {
    #[serde(flatten)]
    pub file: FileSequence,
    pub problems: Vec<SequenceProblem>,
    /// Set when `--repair` fixed every one of its problems.
    pub repaired: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum SequenceProblem {
    /// The file has no version: there is nothing to serve.
    NoVersions,
    /// Its current version is not one of its versions.
    CurrentMissing,
    /// A version is numbered above the file's counter: the next upload would take that number
    /// again (and fail on it).
    NumberAboveCounter,
}

/// What is wrong with how a file's versions are numbered (pure: the catalog's facts in).
pub fn sequence_problems(file: &FileSequence) -> Vec<SequenceProblem> {
    let mut problems = Vec::new();
    if file.versions == 0 {
        problems.push(SequenceProblem::NoVersions);
    } else if !file.current_found {
        problems.push(SequenceProblem::CurrentMissing);
    }
    if file.highest.is_some_and(|n| n > file.last_version_number) {
        problems.push(SequenceProblem::NumberAboveCounter);
    }
    problems
}

impl Report {
    /// Whether anything is still wrong (orphans removed by the repair excepted).
    pub fn clean(&self) -> bool {
        self.missing.is_empty()
            && self.wrong_size.is_empty()
            && self.orphans.len() as u64 == self.orphans_removed
            && self.out_of_sequence.iter().all(|f| f.repaired)
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
    let mut after = String::new();
    loop {
        let page = state.catalog.file_sequences_after(&after, BATCH).await?;
        let Some(last) = page.last() else { break };
        after = last.file_id.clone();
        for file in page {
            report.files += 1;
            let problems = sequence_problems(&file);
            if !problems.is_empty() {
                report.out_of_sequence.push(OutOfSequence {
                    file,
                    problems,
                    repaired: false,
                });
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
        for entry in &mut report.out_of_sequence {
            if let Some(highest) = entry.file.highest.filter(|_| {
                entry
                    .problems
                    .contains(&SequenceProblem::NumberAboveCounter)
            }) {
                if state
                    .catalog
                    .raise_last_version_number(&entry.file.file_id, highest)
                    .await?
                {
                    report.counters_raised += 1;
                }
                entry.repaired = entry.problems == [SequenceProblem::NumberAboveCounter];
            }
        }
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
    for entry in &report.out_of_sequence {
        let f = &entry.file;
        for problem in &entry.problems {
            let detail = match problem {
                SequenceProblem::NoVersions => "has no version".to_owned(),
                SequenceProblem::CurrentMissing => {
                    "its current version is not one of its versions".to_owned()
                }
                SequenceProblem::NumberAboveCounter => format!(
                    "a version is numbered {}, its counter says {}",
                    f.highest.unwrap_or_default(),
                    f.last_version_number
                ),
            };
            out += &format!(
                "{:<12} {:<26} {:<26} {detail}\n",
                "sequence", f.file_id, f.current_version_id
            );
        }
    }
    out += &format!(
        "{} version(s) checked: {} missing, {} wrong size, {} orphan blob(s); {} file(s) \
         checked: {} out of sequence",
        report.versions,
        report.missing.len(),
        report.wrong_size.len(),
        report.orphans.len(),
        report.files,
        report.out_of_sequence.len()
    );
    if report.orphans_removed > 0 || report.files_marked > 0 || report.counters_raised > 0 {
        out += &format!(
            "; repaired: {} orphan(s) removed, {} file(s) tagged {BROKEN_TAG}, {} version \
             counter(s) raised",
            report.orphans_removed, report.files_marked, report.counters_raised
        );
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(versions: u64, highest: Option<i64>, last: i64, current_found: bool) -> FileSequence {
        FileSequence {
            account_id: "a".into(),
            file_id: "f".into(),
            last_version_number: last,
            current_version_id: "v".into(),
            versions,
            highest,
            current_found,
        }
    }

    #[test]
    fn a_file_in_sequence_has_no_problem() {
        assert!(sequence_problems(&file(3, Some(5), 5, true)).is_empty());
        // Versions deleted at the top: the counter stays above them, numbers are not reused.
        assert!(sequence_problems(&file(1, Some(2), 7, true)).is_empty());
    }

    #[test]
    fn each_way_out_of_sequence_is_named() {
        use SequenceProblem::*;
        assert_eq!(sequence_problems(&file(0, None, 1, false)), [NoVersions]);
        assert_eq!(
            sequence_problems(&file(2, Some(2), 2, false)),
            [CurrentMissing]
        );
        assert_eq!(
            sequence_problems(&file(2, Some(4), 3, true)),
            [NumberAboveCounter]
        );
        assert_eq!(
            sequence_problems(&file(2, Some(4), 3, false)),
            [CurrentMissing, NumberAboveCounter]
        );
    }
}
