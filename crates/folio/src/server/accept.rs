//! The accept loop: admits connections under the caps, serves each on its own task with
//! HTTP/1.1 and HTTP/2 (hyper), closes the ones that never send a request or sit idle, and
//! on shutdown stops accepting, lets requests in flight finish and closes idle connections.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use tracing::Instrument;

use super::activity::{expiry, Activity, CountRequests, Tracked};
use super::caps::{ConnectionCaps, Refused, Slot};
use crate::config::ServerConfig;
use crate::error::AppError;

/// Pause after an accept error that is not about one connection (out of file descriptors,
/// out of memory): retrying at once would only spin and fill the log.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_secs(1);

/// Refused connections are logged at most once per interval, as a count.
const REFUSAL_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// Serves `app` on `listener` until `shutdown` resolves, then waits for the connections to
/// finish their requests in flight.
pub async fn serve_connections(
    listener: TcpListener,
    app: Router,
    server: &ServerConfig,
    help_text: &str,
    shutdown: impl Future<Output = ()>,
) {
    let http = Arc::new(http_builder(server));
    let timers = Timers {
        header: server.header_read_timeout(),
        idle: server.idle_timeout(),
    };
    let caps = ConnectionCaps::new(server.max_connections, server.max_connections_per_ip);
    let refusal = refusal_response(help_text);
    let mut refusals = RefusalLog::default();
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = tokio::time::sleep_until(refusals.next_line()), if refusals.pending() => {
                refusals.log(caps.open());
                continue;
            }
            () = &mut shutdown => break,
        };
        match accepted {
            Ok((stream, peer)) => match caps.admit(peer.ip()) {
                Ok(slot) => {
                    // Without it, the last short segment of a response waits for the client's
                    // delayed ACK of the previous one (Nagle): about 40 ms on every response
                    // after the first on a kept-alive connection.
                    if let Err(e) = stream.set_nodelay(true) {
                        tracing::debug!(error = %e, "TCP_NODELAY not set");
                    }
                    spawn_connection(Connection {
                        stream,
                        peer,
                        slot,
                        app: app.clone(),
                        http: Arc::clone(&http),
                        graceful: graceful.watcher(),
                        timers,
                    })
                }
                Err(cap) => {
                    // Best effort, never waiting: a client that cannot take these few bytes
                    // right away just sees the connection close.
                    let _ = stream.try_write(&refusal);
                    drop(stream);
                    refusals.record(cap, peer, caps.open());
                }
            },
            // The client gave up between its connect and our accept.
            Err(e) if is_connection_error(&e) => {}
            Err(e) => {
                tracing::error!(error = %e, "accepting a connection failed; pausing");
                tokio::select! {
                    () = tokio::time::sleep(ACCEPT_ERROR_PAUSE) => {}
                    () = &mut shutdown => break,
                }
            }
        }
    }
    refusals.log(caps.open());
    // Connect attempts from now on are refused by the system.
    drop(listener);
    graceful.shutdown().await;
}

fn http_builder(server: &ServerConfig) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(server.header_read_timeout());
    builder.http2().timer(TokioTimer::new());
    builder
}

#[derive(Clone, Copy)]
struct Timers {
    header: Duration,
    idle: Duration,
}

struct Connection {
    stream: TcpStream,
    peer: SocketAddr,
    slot: Slot,
    app: Router,
    http: Arc<auto::Builder<TokioExecutor>>,
    graceful: Watcher,
    timers: Timers,
}

fn spawn_connection(conn: Connection) {
    let span = tracing::info_span!("connection", peer = %conn.peer);
    tokio::spawn(
        async move {
            // Held until the task ends, however it ends: the caps count open connections.
            let _slot = conn.slot;
            let activity = Activity::new();
            let io = TokioIo::new(Tracked::new(conn.stream, Arc::clone(&activity)));
            // Handlers learn the client's address as axum's `ConnectInfo`.
            let peer = conn.peer;
            let app =
                tower::ServiceExt::map_request(conn.app, move |mut request: http::Request<_>| {
                    request
                        .extensions_mut()
                        .insert(axum::extract::ConnectInfo(peer));
                    request
                });
            let service = TowerToHyperService::new(CountRequests::new(app, Arc::clone(&activity)));
            let served = conn.graceful.watch(conn.http.serve_connection(io, service));
            tokio::select! {
                result = served => {
                    if let Err(e) = result {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                }
                expired = expiry(&activity, conn.timers.header, conn.timers.idle) => {
                    tracing::debug!(reason = ?expired, "connection closed by its timer");
                }
            }
        }
        .instrument(span),
    );
}

/// A connection's failure, not the listener's.
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// What a refused connection is sent before it is closed: a `503` in the error format of the
/// API, readable from browsers, that says the connection will not be reused.
fn refusal_response(help_text: &str) -> Vec<u8> {
    let error = AppError::TooManyConnections.wire();
    let status = error.status;
    let body = error.json(help_text);
    let mut response = format!(
        "HTTP/1.1 {} {}\r\n\
         content-type: application/json; charset=utf-8\r\n\
         content-length: {}\r\n\
         access-control-allow-origin: *\r\n\
         retry-after: 1\r\n\
         retry-after-ms: 1000\r\n\
         connection: close\r\n\r\n",
        status.as_str(),
        status.canonical_reason().unwrap_or_default(),
        body.len()
    )
    .into_bytes();
    response.extend_from_slice(body.as_bytes());
    response
}

/// Counts refused connections and logs them at most once per [`REFUSAL_LOG_INTERVAL`]: a
/// flood of connections must not become a flood of log lines. The first refusal after a
/// quiet interval is logged at once; the ones after it when the interval is over.
#[derive(Default)]
struct RefusalLog {
    over_total: u64,
    over_per_client: u64,
    last_peer: Option<SocketAddr>,
    logged: Option<Instant>,
}

impl RefusalLog {
    fn record(&mut self, cap: Refused, peer: SocketAddr, open: usize) {
        match cap {
            Refused::Total => self.over_total += 1,
            Refused::PerClient => self.over_per_client += 1,
        }
        self.last_peer = Some(peer);
        if self.next_line() <= Instant::now() {
            self.log(open);
        }
    }

    fn pending(&self) -> bool {
        self.over_total + self.over_per_client > 0
    }

    /// When the next line may be written.
    fn next_line(&self) -> Instant {
        self.logged
            .map_or_else(Instant::now, |at| at + REFUSAL_LOG_INTERVAL)
    }

    /// Writes the counts since the last line, if any.
    fn log(&mut self, open: usize) {
        if !self.pending() {
            return;
        }
        tracing::warn!(
            over_max_connections = self.over_total,
            over_max_connections_per_ip = self.over_per_client,
            open_connections = open,
            last_peer = ?self.last_peer,
            "refused connections over the cap (counts since the last such line)"
        );
        *self = RefusalLog {
            logged: Some(Instant::now()),
            ..RefusalLog::default()
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refusal_is_a_complete_http_503_that_closes_the_connection() {
        let bytes = refusal_response("Ask Ann.");
        let text = String::from_utf8(bytes).expect("utf-8");
        let (head, body) = text.split_once("\r\n\r\n").expect("head and body");
        assert!(
            head.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
            "{head}"
        );
        assert!(head.contains("\r\nconnection: close"));
        // The SDKs wait what these say before they retry.
        assert!(head.contains("\r\nretry-after: 1\r\n"), "{head}");
        assert!(head.contains("\r\nretry-after-ms: 1000\r\n"), "{head}");
        assert!(head.contains(&format!("\r\ncontent-length: {}", body.len())));
        let json: serde_json::Value = serde_json::from_str(body).expect("json");
        assert_eq!(json["message"], "Too many connections. Please retry later.");
        assert_eq!(json["help"], "Ask Ann.");
    }

    #[test]
    fn refusals_are_logged_as_counts_at_most_once_per_interval() {
        let peer: SocketAddr = "10.0.0.1:5000".parse().expect("peer");
        let mut log = RefusalLog::default();
        log.record(Refused::PerClient, peer, 3);
        assert!(!log.pending(), "the first refusal is logged at once");
        let logged = log.logged.expect("logged");
        for _ in 0..1000 {
            log.record(Refused::PerClient, peer, 3);
        }
        log.record(Refused::Total, peer, 3);
        assert_eq!((log.over_per_client, log.over_total), (1000, 1));
        assert_eq!(
            log.logged,
            Some(logged),
            "no second line within the interval"
        );
        assert_eq!(log.next_line(), logged + REFUSAL_LOG_INTERVAL);
        log.log(3);
        assert!(!log.pending());
    }
}
