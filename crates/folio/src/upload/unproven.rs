//! The server-wide budget of file bytes held by uploads whose credentials are not proven yet.
//!
//! Clients may send the `file` before the fields that authenticate it (the official browser
//! SDK does, in the documented call style), so such a file streams into its blob before
//! anything is known about the sender. Each of those requests holds a [`Hold`] that grows with
//! its file; the sum of all holds stays within `limits.unauthenticated_file_bytes`, and the
//! request that would pass it is refused. A hold ends when the credentials are proven
//! ([`Hold::release`]) or when it is dropped (the request failed, ended, was abandoned by its
//! client, or panicked), so nothing can leak.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The budget, shared by every request of the server.
#[derive(Debug)]
pub struct UnprovenFiles {
    limit: u64,
    held: AtomicU64,
}

/// The budget is spent: the request has to be refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetExhausted;

impl UnprovenFiles {
    pub fn new(limit: u64) -> Arc<Self> {
        Arc::new(UnprovenFiles {
            limit,
            held: AtomicU64::new(0),
        })
    }

    /// Bytes held right now, by all requests together.
    pub fn held(&self) -> u64 {
        self.held.load(Ordering::Acquire)
    }

    /// An empty hold for one request.
    pub fn hold(self: &Arc<Self>) -> Hold {
        Hold(Arc::new(HoldInner {
            budget: Arc::clone(self),
            bytes: AtomicU64::new(0),
        }))
    }
}

/// The bytes one request holds. Clones share the hold (the file sink grows it, the pipeline
/// releases it); it ends when the last clone is dropped.
#[derive(Debug, Clone)]
pub struct Hold(Arc<HoldInner>);

#[derive(Debug)]
struct HoldInner {
    budget: Arc<UnprovenFiles>,
    bytes: AtomicU64,
}

impl Hold {
    /// Takes `bytes` more, unless that would pass the budget (then nothing is taken).
    pub fn grow(&self, bytes: u64) -> Result<(), BudgetExhausted> {
        let budget = &self.0.budget;
        budget
            .held
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                held.checked_add(bytes)
                    .filter(|total| *total <= budget.limit)
            })
            .map_err(|_| BudgetExhausted)?;
        self.0.bytes.fetch_add(bytes, Ordering::AcqRel);
        Ok(())
    }

    /// The credentials are proven: the bytes no longer count.
    pub fn release(&self) {
        self.0.release();
    }
}

impl HoldInner {
    fn release(&self) {
        let bytes = self.bytes.swap(0, Ordering::AcqRel);
        self.budget.held.fetch_sub(bytes, Ordering::AcqRel);
    }
}

impl Drop for HoldInner {
    fn drop(&mut self) {
        self.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_share_the_budget_and_give_it_back() {
        let budget = UnprovenFiles::new(100);
        let a = budget.hold();
        let b = budget.hold();
        assert_eq!(a.grow(60), Ok(()));
        assert_eq!(b.grow(41), Err(BudgetExhausted));
        assert_eq!(budget.held(), 60, "a refused growth takes nothing");
        assert_eq!(b.grow(40), Ok(()));
        assert_eq!(budget.held(), 100);
        a.release();
        assert_eq!(budget.held(), 40);
        assert_eq!(a.grow(60), Ok(()));
        let shared = a.clone();
        drop(a);
        assert_eq!(budget.held(), 100, "a clone keeps the hold");
        drop(shared);
        drop(b);
        assert_eq!(budget.held(), 0);
    }

    #[test]
    fn a_panicking_request_gives_its_bytes_back() {
        let budget = UnprovenFiles::new(10);
        let shared = Arc::clone(&budget);
        let outcome = std::thread::spawn(move || {
            let hold = shared.hold();
            hold.grow(10).expect("fits");
            panic!("the request failed");
        })
        .join();
        assert!(outcome.is_err());
        assert_eq!(budget.held(), 0);
    }
}
