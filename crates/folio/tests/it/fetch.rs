//! `file` as a URL (spec §3.3 rule 2, F1): fetched after auth and parameters, SSRF-safe by
//! default. Every fetch goes to a fixture HTTP server on loopback.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::harness::{fixture, form, TestApp};

const INVALID_FILE: &str = "Your request contains invalid file parameter.";
const TOO_LARGE: &str =
    "Your request contains invalid file parameter. The file size exceeds limits.";

/// A tiny HTTP/1.0-style server. Routes:
/// `/a.jpg` the JPEG fixture; `/slow` headers after 3 s; `/missing` 404; `/big` 5000 bytes
/// without Content-Length; `/big-declared` a Content-Length of 5000; `/empty` 200 and no body;
/// `/hop/N` N redirects, then `/a.jpg`; `/loop` redirects to itself; `/to?URL` redirects to URL;
/// `/stall` headers, some bytes, then silence.
struct Fixture {
    addr: SocketAddr,
    hits: Arc<AtomicUsize>,
}

impl Fixture {
    async fn start(ip: &str) -> Fixture {
        let listener = TcpListener::bind((ip, 0)).await.expect("bind fixture");
        let addr = listener.local_addr().expect("addr");
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&hits);
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    let mut len = 0;
                    while !buf[..len].windows(4).any(|w| w == b"\r\n\r\n") && len < buf.len() {
                        match stream.read(&mut buf[len..]).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => len += n,
                        }
                    }
                    let head = String::from_utf8_lossy(&buf[..len]).into_owned();
                    let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
                    let _ = respond(&mut stream, &path).await;
                });
            }
        });
        Fixture { addr, hits }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

async fn respond(stream: &mut tokio::net::TcpStream, path: &str) -> std::io::Result<()> {
    let redirect = |to: &str| {
        format!("HTTP/1.1 302 Found\r\nLocation: {to}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    };
    let head = match path {
        "/a.jpg" => {
            let body = fixture("tiny.jpg");
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            stream.write_all(head.as_bytes()).await?;
            return stream.write_all(&body).await;
        }
        "/slow" => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx".to_owned()
        }
        "/missing" => {
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_owned()
        }
        "/empty" => "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_owned(),
        "/big" | "/big-declared" => {
            let length = if path == "/big" {
                String::new()
            } else {
                "Content-Length: 5000\r\n".to_owned()
            };
            let head = format!("HTTP/1.1 200 OK\r\n{length}Connection: close\r\n\r\n");
            stream.write_all(head.as_bytes()).await?;
            return stream.write_all(&[b'a'; 5000]).await;
        }
        "/stall" => {
            stream
                .write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: close\r\n\r\nabc",
                )
                .await?;
            tokio::time::sleep(Duration::from_secs(5)).await;
            return Ok(());
        }
        "/loop" => redirect("/loop"),
        p if p.starts_with("/hop/") => {
            let n: u32 = p["/hop/".len()..].parse().unwrap_or(0);
            if n <= 1 {
                redirect("/a.jpg")
            } else {
                redirect(&format!("/hop/{}", n - 1))
            }
        }
        p if p.starts_with("/to?") => redirect(&p["/to?".len()..]),
        _ => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_owned(),
    };
    stream.write_all(head.as_bytes()).await
}

async fn upload_url(app: &TestApp, url: &str) -> crate::harness::Reply {
    app.post(
        "/api/v2/files/upload",
        form(&[("fileName", "fetched.jpg"), ("file", url)]),
        Some(&app.basic()),
    )
    .await
}

async fn app_allowing(cidr: &str) -> TestApp {
    let cidr = cidr.to_owned();
    TestApp::builder()
        .config(|c| {
            c.fetch.allow = vec![cidr];
            c.limits.max_file_size = 1000;
            c.limits.max_video_size = 2000;
            c.fetch.header_timeout_secs = 1;
            c.fetch.idle_timeout_secs = 1;
        })
        .start()
        .await
}

#[tokio::test]
async fn an_allowed_url_is_fetched_and_stored() {
    let server = Fixture::start("127.0.0.1").await;
    let app = app_allowing("127.0.0.1/32").await;
    let reply = upload_url(&app, &server.url("/a.jpg")).await;
    let body = reply.assert_ok();
    let bytes = fixture("tiny.jpg");
    assert_eq!(body["size"], bytes.len());
    assert_eq!(body["fileType"], "image");
    assert!(body["width"].as_u64().is_some_and(|w| w > 0), "{body}");
    assert!(body["height"].as_u64().is_some_and(|h| h > 0), "{body}");
    let served = app
        .get(body["url"].as_str().expect("url"))
        .await
        .bytes()
        .await
        .expect("bytes");
    assert_eq!(served.as_ref(), bytes.as_slice());

    // Redirects are followed up to 5; urlencoded bodies and upper-case schemes work too.
    upload_url(&app, &server.url("/hop/5")).await.assert_ok();
    let response = app
        .client
        .post(app.url("/api/v2/files/upload"))
        .header("Authorization", app.basic())
        .form(&[
            ("fileName", "f.jpg"),
            ("file", &format!("HTTP://{}/a.jpg", server.addr)),
        ])
        .send()
        .await
        .expect("request");
    TestApp::reply(response).await.assert_ok();
    app.assert_no_orphan_blobs(3).await;
}

#[tokio::test]
async fn download_failures_are_invalid_file() {
    let server = Fixture::start("127.0.0.1").await;
    let app = app_allowing("127.0.0.1/32").await;

    let started = Instant::now();
    upload_url(&app, &server.url("/slow"))
        .await
        .assert_error(400, INVALID_FILE);
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "the 1 s header timeout applies: {:?}",
        started.elapsed()
    );
    upload_url(&app, &server.url("/missing"))
        .await
        .assert_error(400, INVALID_FILE);
    upload_url(&app, &server.url("/empty"))
        .await
        .assert_error(400, INVALID_FILE);
    upload_url(&app, &server.url("/loop"))
        .await
        .assert_error(400, INVALID_FILE);
    upload_url(&app, &server.url("/hop/6"))
        .await
        .assert_error(400, INVALID_FILE);
    upload_url(&app, &server.url("/stall"))
        .await
        .assert_error(400, INVALID_FILE);
    upload_url(&app, &server.url("/big"))
        .await
        .assert_error(400, TOO_LARGE);
    upload_url(&app, &server.url("/big-declared"))
        .await
        .assert_error(400, TOO_LARGE);
    let long = format!("{}?{}", server.url("/a.jpg"), "x".repeat(2100));
    upload_url(&app, &long)
        .await
        .assert_error(400, INVALID_FILE);
    upload_url(&app, "http://user:secret@127.0.0.1/a.jpg")
        .await
        .assert_error(400, INVALID_FILE);
    app.assert_no_orphan_blobs(0).await;
}

#[tokio::test]
async fn nothing_is_fetched_before_auth_and_parameters_pass() {
    let server = Fixture::start("127.0.0.1").await;
    let app = app_allowing("127.0.0.1/32").await;
    app.post(
        "/api/v2/files/upload",
        form(&[("fileName", "x.jpg"), ("file", &server.url("/a.jpg"))]),
        Some("Basic dW5rbm93bl9rZXk6"),
    )
    .await
    .assert_error(403, "Your account cannot be authenticated.");
    app.post(
        "/api/v2/files/upload",
        form(&[
            ("fileName", "x.jpg"),
            ("isPrivateFile", "maybe"),
            ("file", &server.url("/a.jpg")),
        ]),
        Some(&app.basic()),
    )
    .await
    .assert_error(
        400,
        "Your request contains invalid isPrivateFile parameter.",
    );
    assert_eq!(server.hits(), 0, "no request reached the fixture");
}

#[tokio::test]
async fn non_public_hosts_are_refused_by_default() {
    let server = Fixture::start("127.0.0.1").await;
    let app = TestApp::start().await;
    let port = server.addr.port();
    for url in [
        format!("http://127.0.0.1:{port}/a.jpg"),
        format!("http://[::1]:{port}/a.jpg"),
        format!("http://localhost:{port}/a.jpg"),
        format!("http://[::ffff:127.0.0.1]:{port}/a.jpg"),
        format!("http://2130706433:{port}/a.jpg"),
    ] {
        upload_url(&app, &url).await.assert_error(400, INVALID_FILE);
    }
    assert_eq!(server.hits(), 0, "no connection reached the fixture");

    // Refused before any packet: an answer well inside the 8 s header timeout, where a
    // connection attempt to an unrouted address would hang.
    for url in [
        "http://10.0.0.1/a.jpg",
        "http://169.254.169.254/latest/meta-data/",
        "http://192.168.1.1/",
        "http://100.64.0.1/",
        "http://[fd00::1]/",
        "http://[fe80::1]/",
        "http://0.0.0.0/",
    ] {
        let started = Instant::now();
        upload_url(&app, url).await.assert_error(400, INVALID_FILE);
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{url} took {:?}",
            started.elapsed()
        );
    }
    for url in ["ftp://example.com/a.jpg", "https://"] {
        upload_url(&app, url).await.assert_error(400, INVALID_FILE);
    }
    app.assert_no_orphan_blobs(0).await;
}

#[tokio::test]
async fn a_redirect_to_a_non_public_host_is_refused() {
    // Loopback stands in for "private" and 127.0.0.2 (allowed) for "public".
    let inner = Fixture::start("127.0.0.1").await;
    let outer = Fixture::start("127.0.0.2").await;
    let app = app_allowing("127.0.0.2/32").await;
    upload_url(&app, &outer.url("/a.jpg")).await.assert_ok();
    let port = inner.addr.port();
    for target in [
        inner.url("/a.jpg"),
        format!("http://localhost:{port}/a.jpg"),
        format!("http://[::1]:{port}/a.jpg"),
    ] {
        upload_url(&app, &outer.url(&format!("/to?{target}")))
            .await
            .assert_error(400, INVALID_FILE);
    }
    assert_eq!(inner.hits(), 0, "the redirect target was never contacted");
    assert!(outer.hits() >= 4);
}
