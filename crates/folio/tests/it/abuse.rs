//! The abuse suite: the real `folio` binary, attacked the ways a security review attacked it,
//! with its memory read from `/proc` (issue 12). Each case starts a fresh process, warms it up,
//! notes its peak resident memory (`VmHWM`), runs the attack, and checks that the peak grew by
//! no more than a fixed allowance, whatever the size of the attack. The figures are printed
//! (`cargo test -p folio --test it abuse -- --nocapture`).
//!
//! Loopback only; every attack is bounded in size, count and time.

use std::time::Duration;

use bytes::Bytes;
use futures_util::future::join_all;

use crate::harness::{fixture, form_with_file, FolioProcess, TestApp};

const MIB: u64 = 1024 * 1024;
const V2: &str = "/api/v2/files/upload";

/// A fresh `folio serve` for one attack.
struct Target {
    process: FolioProcess,
    client: reqwest::Client,
    basic: String,
    _data: tempfile::TempDir,
}

impl Target {
    async fn start(env: &[(&str, &str)]) -> Target {
        let data = tempfile::tempdir().expect("tempdir");
        let mut vars: Vec<(String, String)> = vec![
            // Durability is not what is measured here.
            ("FOLIO_STORAGE__FSYNC".into(), "false".into()),
        ];
        vars.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let process = FolioProcess::start(data.path(), &[], &vars);
        let (_, private) = process.keys.clone().expect("first start prints the keys");
        use base64::Engine;
        let basic = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{private}:"))
        );
        let target = Target {
            process,
            client: reqwest::Client::new(),
            basic,
            _data: data,
        };
        // Warm-up: one real upload and its delivery, so that lazily built state (pools, TLS
        // roots, the thumbnail path) is part of the baseline, not of the attack.
        let reply = target
            .upload_basic(fixture("photo-exif.jpg"), "warm.jpg")
            .await;
        let url = reply.assert_ok()["thumbnailUrl"]
            .as_str()
            .expect("thumbnailUrl")
            .to_owned();
        let thumb = target.client.get(url).send().await.expect("thumbnail");
        assert_eq!(thumb.status(), 200);
        target
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.process.base())
    }

    async fn upload_basic(&self, bytes: Vec<u8>, name: &str) -> crate::harness::Reply {
        let response = self
            .client
            .post(self.url(V2))
            .header("Authorization", &self.basic)
            .multipart(form_with_file(
                bytes,
                &[("fileName", name), ("useUniqueFileName", "false")],
            ))
            .send()
            .await
            .expect("upload");
        TestApp::reply(response).await
    }

    fn peak_kib(&self) -> u64 {
        self.process.memory_kib("VmHWM")
    }

    /// Runs `attack`, prints the memory figures and checks the growth of the peak.
    async fn holds_flat<F: std::future::Future<Output = ()>>(
        &self,
        case: &str,
        allowance_mib: u64,
        attack: F,
    ) {
        let before = self.peak_kib();
        attack.await;
        let after = self.peak_kib();
        let grown_mib = after.saturating_sub(before) as f64 / 1024.0;
        eprintln!(
            "abuse: {case}: peak RSS {:.1} MiB before, {:.1} MiB after (+{grown_mib:.1} MiB; allowance {allowance_mib} MiB)",
            before as f64 / 1024.0,
            after as f64 / 1024.0,
        );
        assert!(
            grown_mib <= allowance_mib as f64,
            "{case}: peak RSS grew by {grown_mib:.1} MiB (allowance {allowance_mib} MiB)"
        );
    }

    /// POSTs a streamed body; `None` when the server closed the connection before answering.
    async fn post_stream(&self, content_type: &str, body: reqwest::Body) -> Option<u16> {
        let response = self
            .client
            .post(self.url(V2))
            .header("Content-Type", content_type)
            .body(body)
            .timeout(Duration::from_secs(120))
            .send()
            .await
            .ok()?;
        Some(response.status().as_u16())
    }
}

/// A body of `prefix` followed by `fill` bytes up to `total`, streamed in 64 KiB chunks and never
/// held whole by the client either.
fn streamed(prefix: &[u8], fill: u8, total: u64) -> reqwest::Body {
    const CHUNK: u64 = 64 * 1024;
    let chunk = Bytes::from(vec![fill; CHUNK as usize]);
    let rest = total.saturating_sub(prefix.len() as u64);
    let chunks = (0..rest.div_ceil(CHUNK)).map(move |i| {
        let len = CHUNK.min(rest - i * CHUNK) as usize;
        Ok::<_, std::io::Error>(chunk.slice(..len))
    });
    let head = std::iter::once(Ok(Bytes::copy_from_slice(prefix)));
    reqwest::Body::wrap_stream(futures_util::stream::iter(head.chain(chunks)))
}

/// Finding 1: form-encoded bodies were read whole before authentication (one 300 MiB request
/// took the server from 27 to 594 MiB; four at once to 1.5 GiB).
#[tokio::test]
async fn oversized_form_bodies_keep_memory_flat() {
    let target = Target::start(&[]).await;
    target
        .holds_flat(
            "4 × 128 MiB form-encoded bodies, no credentials",
            48,
            async {
                let statuses = join_all((0..4).map(|_| {
                    target.post_stream(
                        "application/x-www-form-urlencoded",
                        streamed(b"fileName=a.bin&file=", b'A', 128 * MIB),
                    )
                }))
                .await;
                for status in statuses {
                    assert!(
                        matches!(status, Some(400) | None),
                        "refused, not stored: {status:?}"
                    );
                }
            },
        )
        .await;
}

/// Finding 2: a part header, or a preamble without boundary, was buffered up to the whole
/// body (a 300 MiB field name: 1.5 GiB; no boundary at all: 300 MiB and 4.5 s of CPU).
#[tokio::test]
async fn endless_part_headers_and_preambles_keep_memory_flat() {
    let target = Target::start(&[]).await;
    let boundary = "abuse-boundary";
    let content_type = format!("multipart/form-data; boundary={boundary}");
    let header_prefix = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"");
    target
        .holds_flat(
            "2 × 128 MiB part headers + 2 × 128 MiB bodies without boundary",
            32,
            async {
                let endless_header =
                    (0..2).map(|_| streamed(header_prefix.as_bytes(), b'n', 128 * MIB));
                let no_boundary = (0..2).map(|_| streamed(b"", b'x', 128 * MIB));
                let statuses = join_all(
                    endless_header
                        .chain(no_boundary)
                        .map(|body| target.post_stream(&content_type, body)),
                )
                .await;
                for status in statuses {
                    assert!(matches!(status, Some(400) | None), "{status:?}");
                }
            },
        )
        .await;
}

/// Request heads beyond hyper's limits are refused (431) without being kept.
#[tokio::test]
async fn long_request_headers_keep_memory_flat() {
    let target = Target::start(&[]).await;
    let long = "v".repeat(64 * 1024);
    target
        .holds_flat("64 requests with 6 MiB of headers each", 32, async {
            let statuses = join_all((0..64).map(|_| {
                let mut request = target.client.get(target.url("/healthz"));
                for i in 0..96 {
                    request = request.header(format!("x-long-{i}"), long.as_str());
                }
                async move { request.send().await.ok().map(|r| r.status().as_u16()) }
            }))
            .await;
            for status in statuses {
                assert!(matches!(status, Some(431) | None), "{status:?}");
            }
        })
        .await;
}

/// Finding 6: connections that send nothing, or half a request head, were held open forever
/// (200 of each were all still open after 75 s). Now they cost a bounded slot each, the caps
/// refuse the rest at once, and the header timer closes them.
#[tokio::test]
async fn silent_and_slow_clients_are_capped_and_closed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let target = Target::start(&[
        ("FOLIO_SERVER__HEADER_READ_TIMEOUT_SECS", "2"),
        ("FOLIO_SERVER__MAX_CONNECTIONS_PER_IP", "64"),
    ])
    .await;
    let mut held = Vec::new();
    target
        .holds_flat(
            "400 silent or half-sent connections from one address",
            16,
            async {
                for i in 0..400 {
                    let Ok(mut socket) = tokio::net::TcpStream::connect(&target.process.addr).await
                    else {
                        continue; // refused by the kernel's backlog: just as good
                    };
                    if i % 2 == 1 {
                        let _ = socket
                            .write_all(b"POST /api/v2/files/upload HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                            .await;
                    }
                    held.push(socket);
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            },
        )
        .await;
    // Every connection ends: the 336 over the cap at once, the 64 admitted ones by the timer.
    let closed = join_all(held.iter_mut().map(|socket| async move {
        let mut rest = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), socket.read_to_end(&mut rest))
            .await
            .is_ok()
    }))
    .await;
    let open = closed.iter().filter(|c| !**c).count();
    assert_eq!(
        open, 0,
        "{open} connections still open 10 s after the header timeout"
    );
    // And the server still answers.
    let health = target.client.get(target.url("/healthz")).send().await;
    assert_eq!(health.expect("healthz").status(), 200);
}

/// Finding 7: anonymous GETs of `tr:` URLs rendered without a budget (`tr:w-5000` on an 11000²
/// PNG took the server to 1.4 GiB; a chain of 8192² resizes and blurs cost 20 s of CPU and
/// 1 GiB), and every new string rendered again. Now renders over the budget are refused
/// before decoding, and the ones within it share one memory pool: here 300 MiB, while four
/// distinct renders that need ~270 MiB each are asked for at once.
#[tokio::test]
async fn render_requests_stay_within_the_render_memory_pool() {
    const POOL_MIB: u64 = 300;
    let pool = (POOL_MIB * MIB).to_string();
    let target = Target::start(&[("FOLIO_DELIVERY__MAX_RENDER_MEMORY_BYTES", pool.as_str())]).await;
    let huge = target
        .upload_basic(crate::harness::solid_png(11_000, 11_000), "huge.png")
        .await;
    let large = target
        .upload_basic(crate::harness::solid_png(8_000, 8_000), "large.png")
        .await;
    let (huge, large) = (huge.assert_ok().clone(), large.assert_ok().clone());
    target
        .holds_flat(
            "render bombs, and 4 distinct ~270 MiB renders at once",
            POOL_MIB + 48,
            async {
                let bombs = [
                    crate::harness::with_tr(&huge, "w-5000"),
                    crate::harness::with_tr(&huge, "w-8192,h-8192:bl-50:w-8192,h-8192:bl-50"),
                    crate::harness::with_tr(&large, "w-100:w-200:w-300:w-400:w-500"),
                ];
                let fitting =
                    (0..4).map(|i| crate::harness::with_tr(&large, &format!("w-{}", 1500 + i)));
                let requests = bombs.iter().cloned().chain(fitting).map(|url| {
                    let client = target.client.clone();
                    async move {
                        let response = client
                            .get(&url)
                            .timeout(Duration::from_secs(300))
                            .send()
                            .await
                            .expect("render request");
                        (url, response.status().as_u16())
                    }
                });
                for (url, status) in join_all(requests).await {
                    let want = if url.contains("w-15") { 200 } else { 400 };
                    assert_eq!(status, want, "{url}");
                }
            },
        )
        .await;
}
