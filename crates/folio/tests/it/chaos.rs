//! Dependencies that go away: a TCP proxy on loopback sits between the server and PostgreSQL
//! (or S3) and is cut and restored. Uploads must fail with the spec's generic 500, leave no
//! row and no blob, and work again by themselves once the dependency is back.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use folio::store::testing::{TestS3, TestSchema};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::harness::{fixture, form_with_file, Reply, TestApp};

/// A TCP proxy that can be cut (every open connection is dropped, new ones are closed as soon
/// as they are accepted) and restored.
pub struct ChaosProxy {
    pub addr: SocketAddr,
    up: Arc<AtomicBool>,
    cuts: watch::Sender<u64>,
    task: tokio::task::JoinHandle<()>,
}

impl ChaosProxy {
    pub async fn start(target: SocketAddr) -> ChaosProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("addr");
        let up = Arc::new(AtomicBool::new(true));
        let (cuts, _) = watch::channel(0u64);
        let task = tokio::spawn({
            let up = Arc::clone(&up);
            let cuts = cuts.clone();
            async move {
                while let Ok((mut inbound, _)) = listener.accept().await {
                    if !up.load(Ordering::SeqCst) {
                        drop(inbound);
                        continue;
                    }
                    let mut cut = cuts.subscribe();
                    tokio::spawn(async move {
                        let Ok(mut outbound) = TcpStream::connect(target).await else {
                            return;
                        };
                        tokio::select! {
                            _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                            _ = cut.changed() => {}
                        }
                    });
                }
            }
        });
        ChaosProxy {
            addr,
            up,
            cuts,
            task,
        }
    }

    pub fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.cuts.send_modify(|n| *n += 1);
    }

    pub fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

impl Drop for ChaosProxy {
    fn drop(&mut self) {
        self.cut();
        self.task.abort();
    }
}

fn host_port(url: &str) -> SocketAddr {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let host = host.replace("localhost", "127.0.0.1");
    host.parse()
        .unwrap_or_else(|_| panic!("loopback host:port in {url}"))
}

const INTERNAL: &str = "Internal server error.";

#[track_caller]
fn assert_internal(reply: &Reply, token: bool) {
    reply.assert_error(500, INTERNAL);
    let retry = reply
        .headers
        .get("x-should-retry")
        .map(|v| v.to_str().unwrap_or_default().to_owned());
    if token {
        assert_eq!(
            retry.as_deref(),
            Some("false"),
            "token uploads are not to be retried"
        );
    }
}

/// Retries an upload until it succeeds: the server is expected to heal by itself.
async fn until_ok(app: &TestApp, name: &str) -> serde_json::Value {
    let started = Instant::now();
    loop {
        let reply = app.upload(fixture("tiny.jpg"), &[("fileName", name)]).await;
        if reply.status == 200 {
            return reply.body;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the server did not recover: {} {}",
            reply.status,
            reply.body
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Lets a sweep run once the grace period is over. A failed upload deletes its blob at once
/// unless the failure hit the final COMMIT, whose outcome is unknown: that blob stays for the
/// sweeper, which removes it once it is sure that no row points at it.
async fn settle(app: &TestApp) {
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let state = &app.server.as_ref().expect("server").state;
    folio::sweeper::sweep_once(state).await.expect("sweep");
}

async fn health(app: &TestApp) -> (u16, serde_json::Value) {
    let reply = TestApp::reply(app.get(&app.url("/healthz")).await).await;
    (reply.status, reply.body)
}

/// Sends a multipart upload whose file arrives in two halves, running `between` after the
/// first half reached the server (authentication is done by then).
async fn upload_in_two_halves(app: &TestApp, name: &str, between: impl FnOnce()) -> Reply {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let head = format!(
        "--XyZ\r\nContent-Disposition: form-data; name=\"fileName\"\r\n\r\n{name}\r\n--XyZ\r\nContent-Disposition: form-data; name=\"useUniqueFileName\"\r\n\r\nfalse\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    );
    let mut rx = rx;
    let body =
        reqwest::Body::wrap_stream(futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)));
    let request = app
        .client
        .post(app.url("/api/v2/files/upload"))
        .header("Authorization", app.basic())
        .header("Content-Type", "multipart/form-data; boundary=XyZ")
        .body(body)
        .send();
    let pending = tokio::spawn(request);
    tx.send(Ok(Bytes::from(head))).await.expect("send");
    tx.send(Ok(Bytes::from(vec![3u8; 300_000])))
        .await
        .expect("send");
    tokio::time::sleep(Duration::from_millis(300)).await;
    between();
    tx.send(Ok(Bytes::from(vec![4u8; 300_000])))
        .await
        .expect("send");
    tx.send(Ok(Bytes::from_static(b"\r\n--XyZ--\r\n")))
        .await
        .expect("send");
    drop(tx);
    let response = pending.await.expect("join").expect("response");
    TestApp::reply(response).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_unreachable_gives_clean_500s_leaves_nothing_and_heals() {
    let schema = TestSchema::create().await.expect("schema");
    let proxy = ChaosProxy::start(host_port(&schema.url())).await;
    let catalog = schema.url_via(&proxy.addr.to_string());
    let app = TestApp::builder()
        .config(move |c| {
            c.catalog = catalog;
            c.postgres.acquire_timeout_secs = 2;
            c.storage.orphan_grace_secs = 1;
        })
        .start()
        .await;
    until_ok(&app, "before.jpg").await;
    assert_eq!(health(&app).await.0, 200);

    proxy.cut();
    let basic = app
        .upload(fixture("tiny.jpg"), &[("fileName", "during.jpg")])
        .await;
    assert_internal(&basic, false);
    let token = app
        .upload_with_token(fixture("tiny.jpg"), &[("fileName", "during.jpg")])
        .await;
    assert_internal(&token, true);
    let (status, body) = health(&app).await;
    assert_eq!(
        (status, &body["catalog"]),
        (503, &serde_json::json!("unavailable"))
    );
    proxy.restore();
    until_ok(&app, "after.jpg").await;

    // Cut between authentication and commit: the blob is written, the commit fails, and the
    // blob goes with it.
    let reply = upload_in_two_halves(&app, "half.bin", || proxy.cut()).await;
    assert_internal(&reply, false);
    proxy.restore();
    until_ok(&app, "healed.jpg").await;
    assert_eq!(health(&app).await.0, 200);
    // before.jpg, after.jpg, healed.jpg: nothing of the failed uploads
    settle(&app).await;
    app.assert_no_orphan_blobs(3).await;
    let missing = app.get(&app.url("/default/half.bin")).await;
    assert_eq!(missing.status(), 404);
    let missing = app.get(&app.url("/default/during.jpg")).await;
    assert_eq!(missing.status(), 404);
    drop(app);
    drop(schema);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_unreachable_gives_clean_500s_leaves_nothing_and_heals() {
    let Some(s3) = TestS3::from_env() else {
        eprintln!("no S3 server (FOLIO_TEST_S3_ENDPOINT): run scripts/s3-server.sh start");
        return;
    };
    let proxy = ChaosProxy::start(host_port(&s3.endpoint)).await;
    let via = TestS3 {
        endpoint: format!("http://{}", proxy.addr),
        ..s3.clone()
    };
    let blobs = via.fresh_url();
    let app = TestApp::builder()
        .config(move |c| {
            c.blobs = blobs;
            via.configure(c);
            c.s3.max_retries = 1;
            c.s3.retry_timeout_secs = 2;
            c.s3.connect_timeout_secs = 1;
            c.s3.request_timeout_secs = 5;
            c.storage.orphan_grace_secs = 1;
        })
        .start()
        .await;
    let first = until_ok(&app, "before.jpg").await;
    assert_eq!(health(&app).await.0, 200);

    proxy.cut();
    let basic = app
        .upload(fixture("tiny.jpg"), &[("fileName", "during.jpg")])
        .await;
    assert_internal(&basic, false);
    // the token is burned (the catalog is up) before the blob write fails
    let token = app
        .upload_with_token(fixture("tiny.jpg"), &[("fileName", "during.jpg")])
        .await;
    assert_internal(&token, true);
    let served = TestApp::reply(app.get(first["url"].as_str().expect("url")).await).await;
    served.assert_error(500, INTERNAL);
    // A big upload (a multipart upload on S3), on a client of its own: the server answers
    // before it has read the body and closes that connection, which a shared client might
    // pick for its next request. The client may also fail to read the answer while it still
    // writes; what counts is that nothing is stored.
    let response = reqwest::Client::new()
        .post(app.url("/api/v2/files/upload"))
        .header("Authorization", app.basic())
        .multipart(form_with_file(
            vec![9u8; 12 * 1024 * 1024],
            &[("fileName", "big.bin")],
        ))
        .send()
        .await;
    if let Ok(response) = response {
        assert_internal(&TestApp::reply(response).await, false);
    }
    let (status, body) = health(&app).await;
    assert_eq!(
        (status, &body["blobs"]),
        (503, &serde_json::json!("unavailable"))
    );

    proxy.restore();
    until_ok(&app, "after.jpg").await;
    assert_eq!(health(&app).await.0, 200);
    settle(&app).await;
    app.assert_no_orphan_blobs(2).await;
    for path in ["/default/during.jpg", "/default/big.bin"] {
        assert_eq!(app.get(&app.url(path)).await.status(), 404, "{path}");
    }
    let served = app.get(first["url"].as_str().expect("url")).await;
    assert_eq!(served.status(), 200);
}
