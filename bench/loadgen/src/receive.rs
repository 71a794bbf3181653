//! `folio-loadgen receive`: the far end of the webhook benchmark (bench/webhooks.sh).
//!
//! An HTTP/1.1 server that answers every request `204 No Content` as soon as its body has
//! arrived, counts the requests, and stops when `expect` of them have arrived or `timeout` has
//! passed. It does nothing else (no parsing, no signature check), so that what is measured is
//! the sender: one thread of it takes tens of thousands of small requests a second on loopback.

use std::convert::Infallible;
use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::sync::Notify;

/// What `receive` prints as one JSON line.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
pub struct Received {
    /// Requests counted: `expect` when it was reached, else every one that arrived.
    pub received: u64,
    /// Seconds from the arrival of the first counted request to that of the last one.
    pub secs: f64,
    /// Arrivals per second over that span: `(received - 1) / secs` (the first request starts
    /// the clock, so the span holds `received - 1` intervals); 0 with fewer than two requests.
    pub per_sec: f64,
    /// Whether `expect` was reached (the exit status, not part of the JSON line).
    #[serde(skip)]
    pub reached: bool,
    /// Connections accepted (not part of the JSON line): a sender that keeps its connections
    /// alive opens few.
    #[serde(skip)]
    pub connections: u64,
}

/// No arrival yet (an offset in ns can never be this).
const UNSET: u64 = u64::MAX;

/// The count, shared by every connection. Arrival times are ns since `origin`, kept in atomics
/// so that counting takes no lock.
struct Counter {
    origin: Instant,
    expect: u64,
    count: AtomicU64,
    connections: AtomicU64,
    first_ns: AtomicU64,
    last_ns: AtomicU64,
    /// The arrival of request number `expect`.
    nth_ns: AtomicU64,
    reached: Notify,
}

impl Counter {
    fn new(expect: u64) -> Counter {
        Counter {
            origin: Instant::now(),
            expect,
            count: AtomicU64::new(0),
            connections: AtomicU64::new(0),
            first_ns: AtomicU64::new(UNSET),
            last_ns: AtomicU64::new(0),
            nth_ns: AtomicU64::new(UNSET),
            reached: Notify::new(),
        }
    }

    fn arrived(&self) {
        let now = u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(UNSET - 1);
        // Only the first arrival finds UNSET; later ones leave the value alone.
        let _ = self
            .first_ns
            .compare_exchange(UNSET, now, Ordering::Relaxed, Ordering::Relaxed);
        self.last_ns.fetch_max(now, Ordering::Relaxed);
        let n = self.count.fetch_add(1, Ordering::Relaxed) + 1;
        if n == self.expect {
            self.nth_ns.store(now, Ordering::Relaxed);
            // notify_one keeps a permit if the accept loop is not waiting at this instant.
            self.reached.notify_one();
        }
    }

    fn result(&self) -> Received {
        let first = self.first_ns.load(Ordering::Relaxed);
        let nth = self.nth_ns.load(Ordering::Relaxed);
        let reached = nth != UNSET;
        let (received, last) = if reached {
            (self.expect, nth)
        } else {
            (
                self.count.load(Ordering::Relaxed),
                self.last_ns.load(Ordering::Relaxed),
            )
        };
        let secs = if first == UNSET {
            0.0
        } else {
            last.saturating_sub(first) as f64 / 1e9
        };
        let per_sec = if received >= 2 && secs > 0.0 {
            (received - 1) as f64 / secs
        } else {
            0.0
        };
        Received {
            received,
            secs,
            per_sec,
            reached,
            connections: self.connections.load(Ordering::Relaxed),
        }
    }
}

/// Answers the requests arriving on `listener` until `expect` (at least 1) have arrived or
/// `timeout` has passed since the call, then lets the answers in flight go out (at most 2 s)
/// and returns the count.
pub async fn receive(listener: TcpListener, expect: u64, timeout: Duration) -> Received {
    let counter = Arc::new(Counter::new(expect.max(1)));
    let graceful = GracefulShutdown::new();
    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        // E.g. out of file descriptors: the connections in flight go on.
                        // Not eprintln!: a closed stderr must not end the receiver.
                        let _ = writeln!(std::io::stderr(), "accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                };
                counter.connections.fetch_add(1, Ordering::Relaxed);
                // The answers are tiny: do not let Nagle hold them back.
                let _ = stream.set_nodelay(true);
                let counter = counter.clone();
                let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                    answer(counter.clone(), request)
                });
                let connection = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service);
                let connection = graceful.watch(connection);
                tokio::spawn(async move {
                    // A sender that closes its connection is not our concern.
                    let _ = connection.await;
                });
            }
            () = counter.reached.notified() => break,
            () = &mut deadline => break,
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(Duration::from_secs(2), graceful.shutdown()).await;
    counter.result()
}

async fn answer(
    counter: Arc<Counter>,
    request: Request<Incoming>,
) -> Result<Response<Empty<Bytes>>, Infallible> {
    // A request counts once its body has arrived whole (read, not kept); one the sender broke
    // off does not.
    let mut body = request.into_body();
    let mut whole = true;
    while let Some(frame) = body.frame().await {
        if frame.is_err() {
            whole = false;
            break;
        }
    }
    if whole {
        counter.arrived();
    }
    let mut response = Response::new(Empty::new());
    *response.status_mut() = StatusCode::NO_CONTENT;
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Auth, Config};

    async fn listener() -> (TcpListener, String) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        (listener, format!("http://{addr}/hook"))
    }

    fn load(url: &str, requests: u64, concurrency: usize) -> Config {
        let mut c = Config::new(url);
        c.auth = Auth::None;
        c.size = 1024;
        c.concurrency = concurrency;
        c.duration = None;
        c.requests = Some(requests);
        c.timeout = Duration::from_secs(30);
        c
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn stops_at_the_expected_count_and_answers_every_request_204() {
        let (listener, url) = listener().await;
        let server = tokio::spawn(receive(listener, 200, Duration::from_secs(60)));
        // One worker: every request after the first reuses its connection (the load generator
        // would open another if the receiver closed it).
        let report = crate::run(&load(&url, 200, 1))
            .await
            .expect("the run starts");
        assert_eq!((report.ok, report.non_2xx, report.errors), (200, 0, 0));
        assert_eq!(report.status.get("204"), Some(&200), "{report:?}");
        let got = server.await.expect("receiver");
        assert!(got.reached, "{got:?}");
        assert_eq!((got.received, got.connections), (200, 1));
        assert!(got.secs > 0.0, "{got:?}");
        let rate = 199.0 / got.secs;
        assert!((got.per_sec - rate).abs() <= rate * 1e-9, "{got:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn many_connections_at_once_are_all_counted() {
        let (listener, url) = listener().await;
        let server = tokio::spawn(receive(listener, 500, Duration::from_secs(60)));
        let report = crate::run(&load(&url, 500, 32))
            .await
            .expect("the run starts");
        assert_eq!((report.ok, report.errors), (500, 0), "{report:?}");
        let got = server.await.expect("receiver");
        assert!(got.reached && got.received == 500, "{got:?}");
    }

    #[tokio::test]
    async fn reports_what_arrived_when_the_timeout_passes_first() {
        let (listener, url) = listener().await;
        // Long enough for three requests on a busy machine; the count is what is checked.
        let server = tokio::spawn(receive(listener, 10, Duration::from_secs(2)));
        let report = crate::run(&load(&url, 3, 1)).await.expect("the run starts");
        assert_eq!(report.ok, 3, "{report:?}");
        let got = server.await.expect("receiver");
        assert!(!got.reached, "{got:?}");
        assert_eq!(got.received, 3);
    }

    #[tokio::test]
    async fn nothing_arrived_is_zero_not_nan() {
        let (listener, _) = listener().await;
        let got = receive(listener, 1, Duration::from_millis(50)).await;
        assert_eq!(got, Received::default());
        let json = serde_json::to_string(&got).expect("json");
        assert_eq!(json, r#"{"received":0,"secs":0.0,"per_sec":0.0}"#);
    }
}
