//! What renders may use at once on one instance: CPU slots and a shared memory pool.
//!
//! A render takes a slot (`delivery.render_concurrency`) before it reads its original, then,
//! once the original's header has given the exact estimate of its peak memory, that many
//! bytes of the pool (`delivery.max_render_memory_bytes`), and keeps both until it is done. So
//! however many render requests arrive, renders together never hold more than the pool, and
//! one render may use all of it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::{AcquireError, OwnedSemaphorePermit, Semaphore};

/// The pool is counted in whole MiB (a semaphore's permits), rounded up.
const UNIT: u64 = 1024 * 1024;

pub struct RenderPool {
    slots: Arc<Semaphore>,
    slot_count: usize,
    /// Renders waiting for a slot now (for `/metrics`).
    waiting: AtomicUsize,
    memory: Arc<Semaphore>,
    memory_units: u64,
}

/// A render's share of the pool; given back when dropped.
pub struct RenderPermit {
    _slot: OwnedSemaphorePermit,
    _memory: Option<OwnedSemaphorePermit>,
}

impl RenderPool {
    pub fn new(slots: usize, memory_bytes: u64) -> Self {
        let memory_units = memory_bytes.div_ceil(UNIT).max(1);
        RenderPool {
            slots: Arc::new(Semaphore::new(slots.max(1))),
            slot_count: slots.max(1),
            waiting: AtomicUsize::new(0),
            memory: Arc::new(Semaphore::new(
                usize::try_from(memory_units).unwrap_or(Semaphore::MAX_PERMITS),
            )),
            memory_units,
        }
    }

    /// Waits for a render slot.
    pub async fn slot(&self) -> Result<RenderPermit, AcquireError> {
        self.waiting.fetch_add(1, Ordering::Relaxed);
        let slot = Arc::clone(&self.slots).acquire_owned().await;
        self.waiting.fetch_sub(1, Ordering::Relaxed);
        Ok(RenderPermit {
            _slot: slot?,
            _memory: None,
        })
    }

    /// Renders holding a slot now.
    pub fn busy(&self) -> usize {
        self.slot_count
            .saturating_sub(self.slots.available_permits())
    }

    /// Renders waiting for a slot now.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// Waits until `bytes` of the pool are free and adds them to `permit`. More than the whole
    /// pool is taken as the whole pool (the budget refuses such renders before they get here).
    pub async fn reserve(&self, permit: &mut RenderPermit, bytes: u64) -> Result<(), AcquireError> {
        let units = bytes.div_ceil(UNIT).clamp(1, self.memory_units);
        let units = u32::try_from(units).unwrap_or(u32::MAX);
        permit._memory = Some(Arc::clone(&self.memory).acquire_many_owned(units).await?);
        Ok(())
    }

    /// Bytes of the pool not reserved right now.
    pub fn memory_free(&self) -> u64 {
        self.memory.available_permits() as u64 * UNIT
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn renders_share_the_memory_pool_and_give_it_back() {
        let pool = Arc::new(RenderPool::new(4, 100 * UNIT));
        let mut first = pool.slot().await.expect("slot");
        pool.reserve(&mut first, 70 * UNIT).await.expect("reserve");
        assert_eq!(pool.memory_free(), 30 * UNIT);
        // A second render that needs more than what is left waits for the first.
        let waiting = {
            let pool = Arc::clone(&pool);
            tokio::spawn(async move {
                let mut second = pool.slot().await.expect("slot");
                pool.reserve(&mut second, 50 * UNIT).await.expect("reserve");
                second
            })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished(), "50 MiB do not fit beside 70 of 100");
        drop(first);
        let second = tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("admitted once the first is done")
            .expect("task");
        assert_eq!(pool.memory_free(), 50 * UNIT);
        drop(second);
        assert_eq!(pool.memory_free(), 100 * UNIT);
    }

    #[tokio::test]
    async fn more_than_the_pool_is_taken_as_the_whole_pool() {
        let pool = RenderPool::new(1, 10 * UNIT);
        let mut permit = pool.slot().await.expect("slot");
        pool.reserve(&mut permit, 1000 * UNIT)
            .await
            .expect("reserve");
        assert_eq!(pool.memory_free(), 0);
    }
}
