//! Connections (issue 12, finding 6): clients that never finish a request head, or sit idle,
//! are disconnected; connections over the caps are refused at once; slow but steady
//! transfers are never cut; shutdown lets requests in flight finish. Raw sockets on
//! 127.0.0.1, every wait bounded.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use crate::harness::TestApp;

/// Far above every timer configured below (1–2 s), far below "never": a connection still
/// open after this was not going to be closed.
const CLOSE_WITHIN: Duration = Duration::from_secs(10);

const HEALTH: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: folio\r\n\r\n";

/// A server whose connection timers are short: 1 s for request heads, 2 s of idleness.
async fn app_with_short_timers() -> TestApp {
    TestApp::builder()
        .config(|c| {
            c.server.header_read_timeout_secs = 1;
            c.server.idle_timeout_secs = 2;
        })
        .start()
        .await
}

fn addr(app: &TestApp) -> SocketAddr {
    app.server.as_ref().expect("server").addr
}

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(addr(app)).await.expect("connect")
}

/// Connects from another loopback address (Linux routes all of 127/8 to loopback).
#[cfg(target_os = "linux")]
async fn connect_from(app: &TestApp, source: &str) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind(format!("{source}:0").parse().expect("source"))
        .expect("bind");
    socket.connect(addr(app)).await.expect("connect")
}

/// Everything the server sends until it closes the connection, or `None` if it is still
/// open after [`CLOSE_WITHIN`]. A reset counts as closed.
async fn until_closed(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut received = Vec::new();
    let read_all = async {
        let mut buf = [0u8; 16 * 1024];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    };
    timeout(CLOSE_WITHIN, read_all).await.ok()?;
    Some(received)
}

/// One `GET /healthz` on a kept-alive connection: the status, or `None` if the connection
/// was closed (or answered nothing) instead.
async fn health_over(stream: &mut TcpStream) -> Option<u16> {
    stream.write_all(HEALTH).await.ok()?;
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    let exchange = async {
        loop {
            if let Some(end) = find(&received, b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&received[..end]).to_ascii_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                if received.len() >= end + 4 + length {
                    return head
                        .split_whitespace()
                        .nth(1)
                        .and_then(|status| status.parse().ok());
                }
            }
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    };
    timeout(CLOSE_WITHIN, exchange).await.ok()?
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[track_caller]
fn assert_nothing_or(received: &[u8], status_line: &str, what: &str) {
    let text = String::from_utf8_lossy(received);
    assert!(
        received.is_empty() || text.starts_with(status_line),
        "{what}: expected nothing or {status_line}, got {text:?}"
    );
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed_after_the_header_timeout() {
    let app = app_with_short_timers().await;
    let mut silent = connect(&app).await;
    let received = until_closed(&mut silent)
        .await
        .expect("a silent connection is closed, not kept forever");
    assert!(received.is_empty(), "nothing was asked: {received:?}");
}

#[tokio::test]
async fn unfinished_request_heads_are_closed_after_the_header_timeout() {
    let app = app_with_short_timers().await;
    let partial: [(&str, &[u8]); 4] = [
        ("half a request line", b"GET /heal"),
        (
            "unfinished headers",
            b"GET /healthz HTTP/1.1\r\nHost: folio\r\n",
        ),
        // Stuck before hyper's own header timer starts: the HTTP version is not known yet.
        ("half the HTTP/2 preface", b"PRI * HTTP/2.0\r\n"),
        // HTTP/2 settled, but no request ever opened.
        (
            "the HTTP/2 preface and settings only",
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00",
        ),
    ];
    let checks = partial.map(|(what, bytes)| {
        let app = &app;
        async move {
            let mut stream = connect(app).await;
            stream.write_all(bytes).await.expect("write");
            let received = until_closed(&mut stream)
                .await
                .unwrap_or_else(|| panic!("{what}: still open after {CLOSE_WITHIN:?}"));
            if what.contains("HTTP/2") {
                // The server's SETTINGS frame may have gone out; no HTTP/1.1 answer.
                assert!(!received.starts_with(b"HTTP/1.1"), "{what}");
            } else {
                assert_nothing_or(&received, "HTTP/1.1 408", what);
            }
        }
    });
    futures_util::future::join_all(checks).await;
}

#[tokio::test]
async fn a_head_trickled_in_byte_by_byte_does_not_extend_the_header_timeout() {
    let app = app_with_short_timers().await;
    let (mut read, mut write) = connect(&app).await.into_split();
    let trickle = tokio::spawn(async move {
        let head = b"GET /healthz HTTP/1.1\r\nHost: folio\r\n";
        let endless = head.iter().chain(b"X-Slow: yes\r\n".iter().cycle());
        for byte in endless.take(200) {
            if write.write_all(&[*byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let mut received = Vec::new();
    let closed = timeout(CLOSE_WITHIN, read.read_to_end(&mut received)).await;
    trickle.abort();
    assert!(
        closed.is_ok(),
        "a head trickling in for {CLOSE_WITHIN:?} is still being read"
    );
    assert_nothing_or(&received, "HTTP/1.1 408", "trickled head");
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_its_request() {
    let app = app_with_short_timers().await;
    let mut stream = connect(&app).await;
    assert_eq!(health_over(&mut stream).await, Some(200));
    let after = until_closed(&mut stream)
        .await
        .expect("an idle kept-alive connection is closed");
    assert!(after.is_empty(), "{after:?}");
}

/// One HTTP/2 frame: (type, flags, stream id, payload).
type Frame = (u8, u8, u32, Vec<u8>);

fn h2_frames(mut bytes: &[u8]) -> Vec<Frame> {
    let mut frames = Vec::new();
    while bytes.len() >= 9 {
        let length =
            usize::from(bytes[0]) << 16 | usize::from(bytes[1]) << 8 | usize::from(bytes[2]);
        let stream = u32::from_be_bytes([bytes[5], bytes[6], bytes[7], bytes[8]]) & 0x7fff_ffff;
        let Some(payload) = bytes.get(9..9 + length) else {
            break;
        };
        frames.push((bytes[3], bytes[4], stream, payload.to_vec()));
        bytes = &bytes[9 + length..];
    }
    frames
}

#[tokio::test]
async fn an_idle_http2_connection_is_closed_after_its_request() {
    let app = app_with_short_timers().await;
    let mut stream = connect(&app).await;
    let mut request = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    request.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0]); // SETTINGS, empty
                                                             // HEADERS on stream 1, END_STREAM | END_HEADERS, HPACK: GET, http, :path /healthz,
                                                             // :authority folio.
    let block: &[u8] = b"\x82\x86\x44\x08/healthz\x41\x05folio";
    let length = u8::try_from(block.len()).expect("short");
    request.extend_from_slice(&[0, 0, length, 1, 0x05, 0, 0, 0, 1]);
    request.extend_from_slice(block);
    stream.write_all(&request).await.expect("write");

    let received = until_closed(&mut stream)
        .await
        .expect("an idle HTTP/2 connection is closed");
    let frames = h2_frames(&received);
    assert!(
        frames
            .iter()
            .any(|(kind, _, id, payload)| *kind == 1 && *id == 1 && payload.first() == Some(&0x88)),
        "the request was answered with :status 200 before the connection went idle: {frames:?}"
    );
}

/// A multipart upload whose file arrives in `chunks` pieces, one every `every`.
fn slow_upload_body(chunks: usize, every: Duration) -> reqwest::Body {
    let head = Bytes::from_static(
        b"--XyZ\r\nContent-Disposition: form-data; name=\"fileName\"\r\n\r\nslow.txt\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"slow.txt\"\r\nContent-Type: text/plain\r\n\r\n",
    );
    let tail = Bytes::from_static(b"\r\n--XyZ--\r\n");
    let pieces = futures_util::stream::unfold(0usize, move |sent| async move {
        if sent == chunks {
            return None;
        }
        tokio::time::sleep(every).await;
        Some((
            Ok::<_, std::io::Error>(Bytes::from(vec![b'a'; 1024])),
            sent + 1,
        ))
    });
    let body = futures_util::StreamExt::chain(
        futures_util::stream::once(async move { Ok(head) }),
        futures_util::StreamExt::chain(pieces, futures_util::stream::once(async move { Ok(tail) })),
    );
    reqwest::Body::wrap_stream(body)
}

#[tokio::test]
async fn a_slow_but_steady_upload_outlasts_the_connection_timers() {
    let app = app_with_short_timers().await;
    // 16 KiB over about 4 s: longer than the header timeout and the idle timeout together.
    let response = app
        .client
        .post(app.url("/api/v2/files/upload"))
        .header("Authorization", app.basic())
        .header("Content-Type", "multipart/form-data; boundary=XyZ")
        .body(slow_upload_body(16, Duration::from_millis(250)))
        .send()
        .await
        .expect("the slow upload is answered");
    let reply = TestApp::reply(response).await;
    assert_eq!(reply.assert_ok()["size"], 16 * 1024);
}

#[tokio::test]
async fn a_slow_but_steady_download_outlasts_the_idle_timeout() {
    let app = app_with_short_timers().await;
    // Larger than what the loopback socket buffers hold, so the server can only write as
    // fast as this client reads.
    let size = 16 * 1024 * 1024;
    let file: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    let uploaded = app
        .upload(file.clone(), &[("fileName", "big.bin")])
        .await
        .assert_ok()
        .clone();
    let url = uploaded["url"].as_str().expect("url");
    let path = url.strip_prefix(&app.base).expect("served here");

    let mut stream = connect(&app).await;
    let request = format!("GET {path} HTTP/1.1\r\nHost: folio\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    // 1 MiB every 500 ms: about 8 s; the server waits on this client for more than twice
    // the idle timeout before its last write.
    let mut received = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let read_slowly = async {
        let mut next_pause = 1024 * 1024;
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
            if received.len() >= next_pause {
                next_pause += 1024 * 1024;
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    };
    timeout(Duration::from_secs(60), read_slowly)
        .await
        .expect("download within 60 s");
    let end = find(&received, b"\r\n\r\n").expect("a response head");
    assert!(received.starts_with(b"HTTP/1.1 200"));
    assert!(
        received[end + 4..] == file[..],
        "the whole file arrived ({} of {size} bytes)",
        received.len() - end - 4
    );
}

/// With a cap of 3 (per client or in all): three connections work, a fourth is refused at
/// once, and once one of the three closes a new one is admitted. Returns the three open
/// connections.
async fn assert_cap_of_three(app: &TestApp) -> Vec<TcpStream> {
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut stream = connect(app).await;
        assert_eq!(health_over(&mut stream).await, Some(200));
        held.push(stream);
    }
    let mut fourth = connect(app).await;
    let refused = until_closed(&mut fourth)
        .await
        .expect("the connection over the cap is closed at once");
    assert_nothing_or(&refused, "HTTP/1.1 503", "over the cap");
    for stream in &mut held {
        assert_eq!(
            health_over(stream).await,
            Some(200),
            "the admitted connections keep working"
        );
    }

    drop(held.pop());
    // The server notices the close on its own schedule: try a few times.
    for _ in 0..50 {
        let mut stream = connect(app).await;
        if health_over(&mut stream).await == Some(200) {
            held.push(stream);
            return held;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("a closed connection did not give its place back");
}

#[tokio::test]
async fn connections_over_the_per_client_cap_are_refused_at_once() {
    let app = TestApp::builder()
        .config(|c| c.server.max_connections_per_ip = 3)
        .start()
        .await;
    let _held = assert_cap_of_three(&app).await;
    #[cfg(target_os = "linux")]
    {
        // 127.0.0.1 is at its cap; another client is not.
        let mut others = Vec::new();
        for _ in 0..3 {
            let mut stream = connect_from(&app, "127.0.0.2").await;
            assert_eq!(health_over(&mut stream).await, Some(200));
            others.push(stream);
        }
    }
}

#[tokio::test]
async fn connections_over_the_total_cap_are_refused_at_once() {
    let app = TestApp::builder()
        .config(|c| {
            c.server.max_connections = 3;
            c.server.max_connections_per_ip = 0;
        })
        .start()
        .await;
    let _held = assert_cap_of_three(&app).await;
    #[cfg(target_os = "linux")]
    {
        // Every client counts towards the total.
        let mut from_elsewhere = connect_from(&app, "127.0.0.2").await;
        let refused = until_closed(&mut from_elsewhere)
            .await
            .expect("refused at once");
        assert_nothing_or(&refused, "HTTP/1.1 503", "over the total cap");
    }
}

#[tokio::test]
async fn the_refusal_is_a_json_503_that_clients_can_read() {
    let app = TestApp::builder()
        .config(|c| {
            c.server.max_connections_per_ip = 1;
            c.help_text = "Ask Ann.".into();
        })
        .start()
        .await;
    let mut first = connect(&app).await;
    assert_eq!(health_over(&mut first).await, Some(200));
    // Sends nothing, so that the server's close cannot turn into a reset.
    let mut second = connect(&app).await;
    let refused = until_closed(&mut second).await.expect("refused at once");
    let text = String::from_utf8(refused).expect("utf-8");
    let (head, body) = text.split_once("\r\n\r\n").expect("a whole response");
    assert!(head.starts_with("HTTP/1.1 503 "), "{head}");
    assert!(head.contains("\r\nconnection: close"), "{head}");
    let body: serde_json::Value = serde_json::from_str(body).expect("json");
    assert_eq!(body["message"], "Too many connections. Please retry later.");
    assert_eq!(body["help"], "Ask Ann.");
}

#[tokio::test]
async fn shutdown_finishes_requests_in_flight_and_closes_idle_connections() {
    // Long timers: whatever closes a connection here is the shutdown.
    let mut app = TestApp::builder()
        .config(|c| {
            c.server.header_read_timeout_secs = 60;
            c.server.idle_timeout_secs = 60;
        })
        .start()
        .await;
    let mut idle = connect(&app).await;
    assert_eq!(health_over(&mut idle).await, Some(200));

    let upload = tokio::spawn(
        app.client
            .post(app.url("/api/v2/files/upload"))
            .header("Authorization", app.basic())
            .header("Content-Type", "multipart/form-data; boundary=XyZ")
            .body(slow_upload_body(12, Duration::from_millis(250)))
            .send(),
    );
    // The upload's head has reached the server and its body is on the way.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let server = app.server.take().expect("server");
    let addr = server.addr;
    let stopping = tokio::spawn(server.stop());

    let mut refused = false;
    for _ in 0..100 {
        if TcpStream::connect(addr).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(refused, "a stopping server accepts no new connections");
    assert!(
        until_closed(&mut idle).await.is_some(),
        "an idle connection is closed at shutdown"
    );

    let response = timeout(Duration::from_secs(30), upload)
        .await
        .expect("the upload ends")
        .expect("join")
        .expect("the upload in flight is answered");
    let reply = TestApp::reply(response).await;
    assert_eq!(reply.assert_ok()["size"], 12 * 1024);
    timeout(Duration::from_secs(30), stopping)
        .await
        .expect("stop returns once the upload is done")
        .expect("join")
        .expect("stop");
}
