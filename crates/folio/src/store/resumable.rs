//! Rows of resumable (tus) uploads: what the catalog keeps of an upload between its requests,
//! and the statements both dialects share. The protocol and its rules live in
//! `crate::resumable`; this is only storage.

use super::rows::Columns;

/// Where a resumable upload is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResumableState {
    /// Bytes are still expected.
    Receiving,
    /// The last byte arrived and the upload was committed as a file.
    Done,
    /// The upload ended without a file (its bytes broke a limit or `checks`, or the commit
    /// refused it); `result_*` says why.
    Failed,
}

impl ResumableState {
    pub fn as_str(self) -> &'static str {
        match self {
            ResumableState::Receiving => "receiving",
            ResumableState::Done => "done",
            ResumableState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "receiving" => ResumableState::Receiving,
            "done" => ResumableState::Done,
            "failed" => ResumableState::Failed,
            _ => return None,
        })
    }
}

/// One resumable upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResumableUpload {
    /// SHA-256 of the capability in the upload URL.
    pub id_hash: Vec<u8>,
    /// The ledger key of the token that created it (random for Basic callers).
    pub ledger_key: Vec<u8>,
    pub account_id: String,
    /// Public key of the key pair that authorised it.
    pub key_id: String,
    /// The upload parameters, as text fields in their order (JSON array of pairs).
    pub fields: String,
    /// The client's `Upload-Metadata` header without the token.
    pub metadata: String,
    pub length: u64,
    pub offset: u64,
    pub version_id: String,
    /// The partial store's state (JSON, opaque to the catalog).
    pub storage: String,
    pub state: ResumableState,
    /// Once ended: the status and JSON body of the v2 upload response.
    pub result: Option<(u16, String)>,
    /// Unix seconds.
    pub created_at: i64,
    pub expires_at: i64,
}

/// The caps of [`super::Catalog::create_resumable`]: per key pair, over its uploads that are
/// still receiving and not expired.
#[derive(Debug, Clone, Copy)]
pub struct IncompleteCaps {
    pub uploads: u64,
    pub bytes: u64,
}

/// A PATCH's hold on an upload: only the holder may move its offset.
#[derive(Debug, Clone)]
pub struct Lease {
    pub token: String,
    /// Unix ms.
    pub until_ms: i64,
}

pub(super) const COLUMNS: &str = "id_hash, ledger_key, account_id, key_id, fields, metadata, \
    length, upload_offset, version_id, storage, state, result_status, result_body, created_at, \
    expires_at";

/// A new upload (`$1`..`$11`: id hash, ledger key, account, key, fields, metadata, length,
/// version id, storage, created at, expires at), written only while the key's incomplete
/// uploads stay within `$12` uploads and `$13` bytes (at `$10`, now). One statement, so two
/// creations at once cannot both pass a cap they share.
pub(super) const INSERT: &str = "INSERT INTO resumable_uploads (id_hash, ledger_key, \
    account_id, key_id, fields, metadata, length, version_id, storage, created_at, expires_at) \
    SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11 \
    WHERE (SELECT COUNT(*) FROM resumable_uploads \
           WHERE key_id = $4 AND state = 'receiving' AND expires_at > $10) < $12 \
      AND (SELECT COALESCE(SUM(length), 0) FROM resumable_uploads \
           WHERE key_id = $4 AND state = 'receiving' AND expires_at > $10) + $7 <= $13";

pub(super) fn by_id_hash() -> String {
    format!("SELECT {COLUMNS} FROM resumable_uploads WHERE id_hash = $1")
}

pub(super) fn by_ledger_key() -> String {
    format!("SELECT {COLUMNS} FROM resumable_uploads WHERE ledger_key = $1")
}

/// Takes the upload `$1` for lease `$2` until `$3` (ms) unless another lease runs past `$4`
/// (now, ms).
pub(super) const LEASE: &str = "UPDATE resumable_uploads SET lease_token = $2, lease_until = $3 \
    WHERE id_hash = $1 AND state = 'receiving' AND (lease_until IS NULL OR lease_until < $4)";

/// Moves the offset of `$1` to `$3` with storage `$4` and extends the lease to `$5`, if lease
/// `$2` still holds it.
pub(super) const ADVANCE: &str = "UPDATE resumable_uploads SET upload_offset = $3, \
    storage = $4, lease_until = $5 WHERE id_hash = $1 AND lease_token = $2 \
    AND state = 'receiving'";

pub(super) const RELEASE: &str = "UPDATE resumable_uploads SET lease_token = NULL, \
    lease_until = NULL WHERE id_hash = $1 AND lease_token = $2";

/// Ends upload `$1` (state `$2`, result `$3` `$4`, final offset `$5`).
pub(super) const END: &str = "UPDATE resumable_uploads SET state = $2, result_status = $3, \
    result_body = $4, upload_offset = $5, lease_token = NULL, lease_until = NULL \
    WHERE id_hash = $1";

pub(super) const DELETE: &str = "DELETE FROM resumable_uploads WHERE id_hash = $1";

/// Uploads past their expiry at `$1`, oldest first, at most `$2`.
pub(super) fn expired() -> String {
    format!(
        "SELECT {COLUMNS} FROM resumable_uploads WHERE expires_at <= $1 \
         ORDER BY expires_at LIMIT $2"
    )
}

pub(super) fn from_row<R: Columns>(row: &R) -> anyhow::Result<ResumableUpload> {
    let state: String = row.column("state")?;
    let status: Option<i64> = row.column("result_status")?;
    let body: Option<String> = row.column("result_body")?;
    let length: i64 = row.column("length")?;
    let offset: i64 = row.column("upload_offset")?;
    Ok(ResumableUpload {
        id_hash: row.column("id_hash")?,
        ledger_key: row.column("ledger_key")?,
        account_id: row.column("account_id")?,
        key_id: row.column("key_id")?,
        fields: row.column("fields")?,
        metadata: row.column("metadata")?,
        length: u64::try_from(length)?,
        offset: u64::try_from(offset)?,
        version_id: row.column("version_id")?,
        storage: row.column("storage")?,
        state: ResumableState::parse(&state)
            .ok_or_else(|| anyhow::anyhow!("unknown resumable upload state {state:?}"))?,
        result: match (status, body) {
            (Some(s), Some(b)) => Some((u16::try_from(s)?, b)),
            _ => None,
        },
        created_at: row.column("created_at")?,
        expires_at: row.column("expires_at")?,
    })
}

/// Binds [`INSERT`] (sqlx).
macro_rules! bind_resumable {
    ($q:expr, $u:expr, $caps:expr) => {{
        let u: &$crate::store::resumable::ResumableUpload = $u;
        let caps: $crate::store::resumable::IncompleteCaps = $caps;
        $q.bind(&u.id_hash)
            .bind(&u.ledger_key)
            .bind(&u.account_id)
            .bind(&u.key_id)
            .bind(&u.fields)
            .bind(&u.metadata)
            .bind(u.length as i64)
            .bind(&u.version_id)
            .bind(&u.storage)
            .bind(u.created_at)
            .bind(u.expires_at)
            .bind(i64::try_from(caps.uploads).unwrap_or(i64::MAX))
            .bind(i64::try_from(caps.bytes).unwrap_or(i64::MAX))
    }};
}
pub(super) use bind_resumable;
