//! Per-connection timers that hyper does not provide: a connection that never completes its
//! first request head (hyper's HTTP/1 header timer only starts once the HTTP version has been
//! read, and HTTP/2 has none), and a connection that sits idle (no request in progress, no
//! byte read or written).
//!
//! The connection's socket is wrapped in [`Tracked`], which stamps the time of every byte
//! read or written, and its service in [`CountRequests`], which counts requests from the
//! moment their head is complete until their response head is ready (so a handler that
//! thinks for a while, or reads a slow upload body, is never idle). [`expiry`] resolves when
//! the connection has to go.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

/// What one connection has done, shared by its socket, its requests and its watchdog.
pub struct Activity {
    accepted: Instant,
    /// Milliseconds after `accepted` of the last byte read or written, or the last request
    /// that ended.
    last_ms: AtomicU64,
    in_flight: AtomicUsize,
    /// A first request head was complete.
    served: AtomicBool,
}

/// Why a connection was closed by [`expiry`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expired {
    /// No complete request head within the header timeout of the accept.
    NoRequest,
    /// Nothing in progress and nothing read or written for the idle timeout.
    Idle,
}

impl Activity {
    pub fn new() -> Arc<Activity> {
        Arc::new(Activity::accepted_at(Instant::now()))
    }

    fn accepted_at(accepted: Instant) -> Activity {
        Activity {
            accepted,
            last_ms: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            served: AtomicBool::new(false),
        }
    }

    fn touch(&self) {
        self.touch_at(Instant::now());
    }

    fn touch_at(&self, now: Instant) {
        let ms = now.saturating_duration_since(self.accepted).as_millis();
        self.last_ms
            .fetch_max(u64::try_from(ms).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// When the connection expires if nothing happens before, and why: `header` after the
    /// accept while no request head has been complete, later `idle` after the last activity
    /// whenever no request is in progress (with one in progress: not before `now + idle`).
    fn deadline(&self, now: Instant, header: Duration, idle: Duration) -> (Instant, Expired) {
        if !self.served.load(Ordering::Relaxed) {
            (self.accepted + header, Expired::NoRequest)
        } else if self.in_flight.load(Ordering::Relaxed) > 0 {
            // Looked at again then; the end of the request counts as activity.
            (now + idle, Expired::Idle)
        } else {
            let last = self.accepted + Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
            (last + idle, Expired::Idle)
        }
    }
}

/// Resolves when the connection must be closed (see [`Activity::deadline`]). Requests after
/// the first are hyper's to time (`header_read_timeout` on HTTP/1.1); HTTP/2 streams fall
/// under the idle rule.
pub async fn expiry(activity: &Activity, header: Duration, idle: Duration) -> Expired {
    loop {
        let now = Instant::now();
        let (deadline, reason) = activity.deadline(now, header, idle);
        if deadline <= now {
            return reason;
        }
        tokio::time::sleep_until(deadline).await;
    }
}

/// A socket that reports its traffic to an [`Activity`].
pub struct Tracked<T> {
    inner: T,
    activity: Arc<Activity>,
}

impl<T> Tracked<T> {
    pub fn new(inner: T, activity: Arc<Activity>) -> Tracked<T> {
        Tracked { inner, activity }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Tracked<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        result
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Tracked<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        result
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A service that keeps its connection's [`Activity`] informed of the requests in progress.
#[derive(Clone)]
pub struct CountRequests<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S> CountRequests<S> {
    pub fn new(inner: S, activity: Arc<Activity>) -> CountRequests<S> {
        CountRequests { inner, activity }
    }
}

impl<S, R> tower::Service<R> for CountRequests<S>
where
    S: tower::Service<R>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        let in_progress = InProgress::start(Arc::clone(&self.activity));
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await;
            drop(in_progress);
            response
        })
    }
}

/// One request in progress; also ends when the request is dropped unfinished.
struct InProgress(Arc<Activity>);

impl InProgress {
    fn start(activity: Arc<Activity>) -> InProgress {
        activity.in_flight.fetch_add(1, Ordering::Relaxed);
        activity.served.store(true, Ordering::Relaxed);
        InProgress(activity)
    }
}

impl Drop for InProgress {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: Duration = Duration::from_secs(10);
    const IDLE: Duration = Duration::from_secs(60);

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn until_a_first_request_only_the_header_timeout_counts_bytes_or_not() {
        let t0 = Instant::now();
        let activity = Activity::accepted_at(t0);
        assert_eq!(
            activity.deadline(t0, HEADER, IDLE),
            (t0 + HEADER, Expired::NoRequest)
        );
        // A partial head trickling in does not move the deadline.
        for n in 1..10 {
            activity.touch_at(t0 + secs(n));
        }
        assert_eq!(
            activity.deadline(t0 + secs(9), HEADER, IDLE),
            (t0 + HEADER, Expired::NoRequest)
        );
    }

    #[test]
    fn a_request_in_progress_is_never_idle_and_its_end_starts_the_idle_timer() {
        let t0 = Instant::now();
        let activity = Arc::new(Activity::accepted_at(t0));
        let request = InProgress::start(Arc::clone(&activity));
        let late = t0 + IDLE * 5;
        assert_eq!(
            activity.deadline(late, HEADER, IDLE),
            (late + IDLE, Expired::Idle)
        );
        drop(request);
        let (deadline, reason) = activity.deadline(Instant::now(), HEADER, IDLE);
        assert_eq!(reason, Expired::Idle);
        assert!(
            deadline >= t0 + IDLE,
            "the end of the request counts as activity"
        );
    }

    #[test]
    fn after_a_request_the_last_byte_read_or_written_starts_the_idle_timer() {
        let t0 = Instant::now();
        let activity = Arc::new(Activity::accepted_at(t0));
        drop(InProgress::start(Arc::clone(&activity)));
        activity.touch_at(t0 + secs(100));
        activity.touch_at(t0 + secs(50)); // a stamp never goes back
        assert_eq!(
            activity.deadline(t0 + secs(120), HEADER, IDLE),
            (t0 + secs(100) + IDLE, Expired::Idle)
        );
    }

    #[tokio::test]
    async fn expiry_resolves_once_the_deadline_has_passed() {
        let activity = Activity::accepted_at(Instant::now());
        let expired = expiry(&activity, Duration::ZERO, IDLE).await;
        assert_eq!(expired, Expired::NoRequest);
    }
}
