//! Fairness: the cap on uploads at once, rate limits per client address and per public key,
//! and per-account quotas, each answered with its status, code and headers.

use std::time::Duration;

use bytes::Bytes;

use crate::harness::{fixture, form_with_file, start_of_window, Reply, TestApp};

const V2: &str = "/api/v2/files/upload";

#[tokio::test]
async fn an_address_past_its_rate_gets_429_with_the_limit_headers() {
    let app = TestApp::builder()
        .config(|c| {
            c.rate_limits.uploads_per_ip = 2;
            c.rate_limits.window_secs = 2;
        })
        .start()
        .await;
    // All three in one window.
    start_of_window(2).await;
    upload_two(&app).await;
    let refused = app
        .upload(fixture("tiny.jpg"), &[("fileName", "c.jpg")])
        .await;
    refused
        .assert_error(
            429,
            "Too many upload requests. Please retry after the time the Retry-After header gives.",
        )
        .assert_code("RATE_LIMITED");
    let header = |name: &str| header_value(&refused, name);
    assert_eq!(header("x-ratelimit-limit"), 2);
    assert_eq!(header("x-ratelimit-remaining"), 0);
    assert_eq!(header("x-ratelimit-interval"), 2_000);
    let reset = header("x-ratelimit-reset");
    assert!((1..=2_000).contains(&reset), "{reset}");
    assert_eq!(header("retry-after"), reset.div_ceil(1000));
    // Nothing of the refused upload was kept.
    app.assert_no_orphan_blobs(2).await;
}

#[tokio::test]
async fn a_key_past_its_rate_keeps_its_token_for_the_next_window() {
    let app = TestApp::builder()
        .config(|c| {
            c.rate_limits.uploads_per_key = 1;
            c.rate_limits.window_secs = 2;
        })
        .start()
        .await;
    let post = |token: String, name: &'static str| {
        let form = form_with_file(
            fixture("tiny.jpg"),
            &[("fileName", name), ("token", &token)],
        );
        app.post(V2, form, None)
    };
    // Both in one window.
    start_of_window(2).await;
    post(app.token(&[("fileName", "a.jpg")]), "a.jpg")
        .await
        .assert_ok();
    let token = app.token(&[("fileName", "b.jpg")]);
    let refused = post(token.clone(), "b.jpg").await;
    refused.assert_code("RATE_LIMITED");
    let reset = header_value(&refused, "x-ratelimit-reset");
    tokio::time::sleep(Duration::from_millis(reset + 50)).await;
    // The refused request did not spend its token.
    post(token, "b.jpg").await.assert_ok();
}

/// A numeric header of a reply.
fn header_value(reply: &Reply, name: &str) -> u64 {
    reply.headers[name]
        .to_str()
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{name}: {:?}", reply.headers))
}

#[tokio::test]
async fn uploads_past_the_concurrency_cap_are_refused_not_queued() {
    let app = TestApp::builder()
        .config(|c| c.limits.max_concurrent_uploads = 1)
        .start()
        .await;
    // An upload that sends its fields and the start of its file, then waits.
    let boundary = "stall";
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    tx.send(Ok(Bytes::from(format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"fileName\"\r\n\r\nslow.jpg\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"slow.jpg\"\r\n\r\n"
    ))))
    .await
    .expect("send");
    let body =
        reqwest::Body::wrap_stream(futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)));
    let slow = tokio::spawn(
        app.client
            .post(app.url(V2))
            .header("Authorization", app.basic())
            .header(
                "Content-Type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body)
            .send(),
    );
    // Until the server holds the slow upload's place, another upload may take it (5 s at most).
    let mut attempts = 0;
    let refused = loop {
        attempts += 1;
        assert!(attempts <= 100, "the slow upload never held its place");
        tokio::time::sleep(Duration::from_millis(50)).await;
        let reply = app
            .upload(fixture("tiny.jpg"), &[("fileName", "b.jpg")])
            .await;
        if reply.status == 503 {
            break reply;
        }
        reply.assert_ok();
    };
    refused
        .assert_error(
            503,
            "The server is receiving as many uploads as it may at once. Please retry later.",
        )
        .assert_code("TOO_MANY_UPLOADS");
    assert_eq!(header_value(&refused, "retry-after"), 1);
    // The slow upload ends; its place is free again.
    tx.send(Ok(Bytes::from(format!("\r\n--{boundary}--\r\n"))))
        .await
        .expect("send");
    drop(tx);
    let _ = slow.await.expect("join");
    app.upload(fixture("tiny.jpg"), &[("fileName", "c.jpg")])
        .await
        .assert_ok();
}

#[tokio::test]
async fn an_account_cannot_store_past_its_quotas() {
    let tiny = fixture("tiny.jpg");
    let app = TestApp::builder()
        .config(|c| c.quotas.max_files_per_account = 2)
        .start()
        .await;
    upload_two(&app).await;
    app.upload(tiny.clone(), &[("fileName", "c.jpg")])
        .await
        .assert_error(
            403,
            "The file could not be uploaded because the account would exceed its quota of 2 files.",
        )
        .assert_code("QUOTA_EXCEEDED");
    app.assert_no_orphan_blobs(2).await;

    // Bytes: two copies fit, the third would not.
    let quota = 3 * tiny.len() as u64 - 1;
    let app = TestApp::builder()
        .config(|c| c.quotas.max_bytes_per_account = quota)
        .start()
        .await;
    upload_two(&app).await;
    app.upload(tiny, &[("fileName", "c.jpg")])
        .await
        .assert_error(
            403,
            &format!(
                "The file could not be uploaded because the account would exceed its storage \
                 quota of {quota} bytes."
            ),
        )
        .assert_code("QUOTA_EXCEEDED");
}

/// Two uploads of tiny.jpg that are stored.
async fn upload_two(app: &TestApp) {
    for name in ["a.jpg", "b.jpg"] {
        app.upload(fixture("tiny.jpg"), &[("fileName", name)])
            .await
            .assert_ok();
    }
}
