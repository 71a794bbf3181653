//! Fairness between clients: how many uploads one instance serves at once, how many a client
//! address or a public key may start per window, and what one account may store. Each refusal
//! is cheap and comes before the work it protects: the concurrency cap and the address's rate
//! before a byte of the body is read, the key's rate before a token is spent, the quota before
//! the commit.

use std::net::IpAddr;
use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::Config;
use crate::error::{AppError, Quota};
use crate::state::AppState;

/// This instance's share of the fairness rules (the counts themselves live in the catalog).
pub struct Fairness {
    /// `limits.max_concurrent_uploads` places; `None` without a cap.
    uploads: Option<Arc<Semaphore>>,
}

/// A place among the uploads served at once, held until dropped.
pub type UploadSlot = Option<OwnedSemaphorePermit>;

impl Fairness {
    pub fn new(config: &Config) -> Self {
        let cap = config.limits.max_concurrent_uploads;
        Fairness {
            uploads: (cap > 0).then(|| Arc::new(Semaphore::new(cap))),
        }
    }

    /// A place among the uploads this instance serves at once, or `TooManyUploads` at once:
    /// an upload never waits in a queue.
    pub fn upload_slot(&self) -> Result<UploadSlot, AppError> {
        match &self.uploads {
            None => Ok(None),
            Some(places) => Arc::clone(places)
                .try_acquire_owned()
                .map(Some)
                .map_err(|_| AppError::TooManyUploads),
        }
    }
}

/// Who a rate limit counts.
pub enum Scope<'a> {
    Address(IpAddr),
    Key(&'a str),
}

/// Counts one more upload request of `scope` in the current window; `RateLimited` past the
/// configured limit. Windows are fixed (multiples of `rate_limits.window_secs`, by the system
/// clock) and shared by every instance of the catalog.
pub async fn rate_limit(state: &AppState, scope: Scope<'_>) -> Result<(), AppError> {
    let config = &state.config.rate_limits;
    let (limit, name) = match scope {
        Scope::Address(ip) => (config.uploads_per_ip, format!("ip:{ip}")),
        Scope::Key(public_key) => (config.uploads_per_key, format!("key:{public_key}")),
    };
    if limit == 0 {
        return Ok(());
    }
    let window_ms = i64::try_from(config.window_secs)
        .unwrap_or(i64::MAX / 1000)
        .saturating_mul(1000);
    let (start_ms, reset_ms) = window(crate::ids::now_millis(), window_ms);
    let hits = state
        .catalog
        .hit(&name, start_ms / 1000)
        .await
        .map_err(AppError::internal)?;
    if hits <= limit {
        return Ok(());
    }
    Err(AppError::RateLimited {
        scope: name,
        limit,
        reset_ms: u64::try_from(reset_ms).unwrap_or_default(),
        window_ms: u64::try_from(window_ms).unwrap_or_default(),
    })
}

/// The start of the fixed window `now_ms` falls in, and the time left until it ends.
fn window(now_ms: i64, window_ms: i64) -> (i64, i64) {
    let start = now_ms - now_ms.rem_euclid(window_ms);
    (start, start + window_ms - now_ms)
}

/// Refuses an upload of `size` bytes that would take the account past its quotas: one more
/// file (an overwrite counts too: whether it overwrites is decided in the commit), and `size`
/// more bytes. Uploads committing at the same moment may together pass a quota by what they
/// carry.
pub async fn check_quota(state: &AppState, account_id: &str, size: u64) -> Result<(), AppError> {
    let quotas = &state.config.quotas;
    if quotas.max_bytes_per_account == 0 && quotas.max_files_per_account == 0 {
        return Ok(());
    }
    let usage = state
        .catalog
        .usage(account_id)
        .await
        .map_err(AppError::internal)?;
    let files = quotas.max_files_per_account;
    if files > 0 && usage.files >= files {
        return Err(AppError::QuotaExceeded(Quota::Files(files)));
    }
    let bytes = quotas.max_bytes_per_account;
    if bytes > 0 && usage.bytes.saturating_add(size) > bytes {
        return Err(AppError::QuotaExceeded(Quota::Bytes(bytes)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_fixed_and_say_when_they_end() {
        assert_eq!(window(60_000, 60_000), (60_000, 60_000));
        assert_eq!(window(119_999, 60_000), (60_000, 1));
        assert_eq!(window(125_500, 60_000), (120_000, 54_500));
    }
}
