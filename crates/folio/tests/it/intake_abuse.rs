//! Bodies built to make the intake buffer, scan or store before it knows who is asking (issue
//! 12: findings 1, 2 and 8), and the part order that changed the stored MIME type.

use std::time::Duration;

use base64::Engine;

use crate::harness::{
    fixture, form_file_first, form_with_file, raw_multipart, urlencoded, Reply, TestApp,
};

const V2: &str = "/api/v2/files/upload";
const V1: &str = "/api/v1/files/upload";
const FORM: &str = "application/x-www-form-urlencoded";
const MISSING_FILE: &str = "Your request is missing file parameter.";
const TOO_LARGE: &str =
    "Your request contains invalid file parameter. The file size exceeds limits.";
const BUSY: &str = "The server is busy receiving other uploads. Please retry later, or send the authentication fields before the file.";

fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A server with 64 KiB file limits, so its transport cap is about 1.1 MiB: a body that the
/// intake reads whole before deciding is refused as too large there, which tells it apart
/// from a body decided on its first fields.
async fn small_cap_app() -> TestApp {
    TestApp::builder()
        .config(|c| {
            c.limits.max_file_size = 64 * 1024;
            c.limits.max_video_size = 64 * 1024;
        })
        .start()
        .await
}

// Finding 1: a form-encoded body was read whole, up to the transport cap, before
// authentication.

#[tokio::test]
async fn form_bodies_are_decided_by_their_credentials_not_read_whole() {
    let app = small_cap_app().await;
    let endless_file = "QUFB".repeat(3 * 1024 * 1024 / 4);
    let body = format!("token=not.a.jwt&fileName=a.bin&file={endless_file}");
    app.post_body(V2, FORM, body, None)
        .await
        .assert_error(400, "Your request has invalid token.");
    // No credentials at all: the file streams (into the size limit), it is not collected.
    let body = format!("fileName=a.bin&file={endless_file}");
    app.post_body(V2, FORM, body, None)
        .await
        .assert_error(400, TOO_LARGE);
    // A good one still works, percent-escaped base64 and all.
    let bytes = fixture("tiny.jpg");
    let body = urlencoded(&[("fileName", "t.jpg"), ("file", &base64(&bytes))]);
    let reply = app.post_body(V2, FORM, body, Some(&app.basic())).await;
    assert_eq!(reply.assert_ok()["size"], bytes.len());
    app.assert_no_orphan_blobs(1).await;
}

#[tokio::test]
async fn form_text_fields_have_the_limits_of_multipart_ones() {
    let app = TestApp::start().await;
    let file = base64(&fixture("tiny.jpg"));
    let basic = app.basic();
    let post = |pairs: Vec<(&'static str, String)>| {
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(n, v)| (*n, v.as_str())).collect();
        app.post_body(V2, FORM, urlencoded(&pairs), Some(&basic))
    };
    // One field over 1 MiB (an unknown field: nothing else would refuse it).
    post(vec![
        ("fileName", "a.jpg".into()),
        ("x", "a".repeat(1024 * 1024 + 1)),
        ("file", file.clone()),
    ])
    .await
    .assert_error(400, "Your request contains invalid x parameter.");
    // Each under 1 MiB, together over the 2 MiB of `limits.max_text_bytes_total`.
    let big = "b".repeat(900 * 1024);
    post(vec![
        ("fileName", "a.jpg".into()),
        ("x1", big.clone()),
        ("x2", big.clone()),
        ("x3", big.clone()),
        ("file", file.clone()),
    ])
    .await
    .assert_error(400, "Your request contains invalid x3 parameter.");
    // Repeated fields, the file included, as in multipart.
    post(vec![
        ("fileName", "a.jpg".into()),
        ("file", file.clone()),
        ("file", file.clone()),
    ])
    .await
    .assert_error(400, "Your request contains invalid file parameter.");
    post(vec![
        ("fileName", "a.jpg".into()),
        ("file", file.clone()),
        ("fileName", "b.jpg".into()),
    ])
    .await
    .assert_error(400, "Your request contains invalid fileName parameter.");
    app.assert_no_orphan_blobs(0).await;
}

// Finding 2: a multipart preamble or part header was buffered up to the transport cap.

#[tokio::test]
async fn multipart_text_fields_are_bounded_in_total() {
    let app = TestApp::start().await;
    let big = "b".repeat(900 * 1024);
    app.upload(
        fixture("tiny.jpg"),
        &[
            ("fileName", "a.jpg"),
            ("x1", &big),
            ("x2", &big),
            ("x3", &big),
        ],
    )
    .await
    .assert_error(400, "Your request contains invalid x3 parameter.");
    app.upload(
        fixture("tiny.jpg"),
        &[("fileName", "a.jpg"), ("x1", &big), ("x2", &big)],
    )
    .await
    .assert_ok();
    app.assert_no_orphan_blobs(1).await;
}

#[tokio::test]
async fn an_overlong_part_header_is_refused() {
    let app = TestApp::start().await;
    let long_name = "n".repeat(64 * 1024);
    let reply = app
        .post(
            V2,
            form_with_file(
                fixture("tiny.jpg"),
                &[("fileName", "a.jpg"), (&long_name, "v")],
            ),
            Some(&app.basic()),
        )
        .await;
    reply.assert_error(400, MISSING_FILE);
    // The same after the file: nothing of the received file is kept.
    let reply = app
        .post(
            V2,
            form_file_first(
                fixture("tiny.jpg"),
                &[("fileName", "a.jpg"), (&long_name, "v")],
            ),
            Some(&app.basic()),
        )
        .await;
    reply.assert_error(400, MISSING_FILE);
    // Long, but within the 16 KiB of a header block: an unknown field like any other.
    let name = "n".repeat(8 * 1024);
    app.upload(fixture("tiny.jpg"), &[("fileName", "a.jpg"), (&name, "v")])
        .await
        .assert_ok();
    app.assert_no_orphan_blobs(1).await;
}

#[tokio::test]
async fn a_long_preamble_or_a_body_without_boundary_is_refused() {
    let app = small_cap_app().await;
    let content_type = "multipart/form-data; boundary=XyZ";
    let jpeg = fixture("tiny.jpg");
    let parts: [(&str, &[u8]); 2] = [("fileName", b"a.jpg"), ("file", &jpeg)];
    let long_preamble = raw_multipart("XyZ", &vec![b'p'; 64 * 1024], &parts);
    app.post_body(V2, content_type, long_preamble, Some(&app.basic()))
        .await
        .assert_error(400, MISSING_FILE);
    // A body that never holds the boundary: refused at the bound, not at the cap.
    app.post_body(
        V2,
        content_type,
        vec![b'z'; 3 * 1024 * 1024],
        Some(&app.basic()),
    )
    .await
    .assert_error(400, MISSING_FILE);
    // A short preamble is allowed (RFC 2046), and hand-made framing is read like reqwest's.
    let body = raw_multipart("XyZ", b"This is a preamble.\r\n", &parts);
    app.post_body(V2, content_type, body, Some(&app.basic()))
        .await
        .assert_ok();
    app.assert_no_orphan_blobs(1).await;
}

// Finding 8: with the credentials after the file, the whole file was stored before the
// request was refused.

async fn budget_app(bytes: u64) -> TestApp {
    TestApp::builder()
        .config(|c| c.limits.unauthenticated_file_bytes = bytes)
        .start()
        .await
}

#[tokio::test]
async fn files_before_their_credentials_share_a_bounded_budget() {
    let app = budget_app(256 * 1024).await;
    let fields = [("fileName", "a.bin")];
    let sdk_order = |bytes: Vec<u8>| {
        let token = app.token(&fields);
        form_file_first(bytes, &[("fileName", "a.bin"), ("token", &token)])
    };
    // The official SDK's order, within the budget.
    app.post(V2, sdk_order(vec![1u8; 100 * 1024]), None)
        .await
        .assert_ok();
    // Over the budget: refused while it streams, retry allowed, nothing kept.
    let reply = app.post(V2, sdk_order(vec![2u8; 1024 * 1024]), None).await;
    reply.assert_error(503, BUSY);
    assert_eq!(reply.headers["retry-after"], "5");
    assert_eq!(reply.headers["retry-after-ms"], "5000");
    assert!(reply.headers.get("x-should-retry").is_none());
    // Credentials that come first (a header or a field) are never budgeted.
    app.post(
        V2,
        form_file_first(vec![3u8; 1024 * 1024], &fields),
        Some(&app.basic()),
    )
    .await
    .assert_ok();
    app.upload_with_token(vec![4u8; 1024 * 1024], &fields)
        .await
        .assert_ok();
    // Failed requests give their bytes back: many bad ones in a row fail for what they are.
    for _ in 0..5 {
        let form = form_file_first(
            vec![5u8; 200 * 1024],
            &[("fileName", "a.bin"), ("token", "not.a.jwt")],
        );
        app.post(V2, form, None)
            .await
            .assert_error(400, "Your request has invalid token.");
    }
    app.assert_no_orphan_blobs(3).await;
    assert_eq!(app.unproven_bytes_held(), 0);
}

#[tokio::test]
async fn an_abandoned_upload_gives_its_budget_back() {
    let app = budget_app(256 * 1024).await;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    let request = app
        .client
        .post(app.url(V2))
        .header("Content-Type", "multipart/form-data; boundary=XyZ")
        .body(reqwest::Body::wrap_stream(stream))
        .send();
    let request = tokio::spawn(request);
    let head = b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\n";
    tx.send(Ok(head.to_vec())).await.expect("send");
    tx.send(Ok(vec![7u8; 200 * 1024])).await.expect("send");
    wait_for(|| app.unproven_bytes_held() > 0, "the file to be held").await;
    // The client goes away mid-file.
    tx.send(Err(std::io::Error::other("client gone")))
        .await
        .expect("send");
    let _ = request.await;
    wait_for(|| app.unproven_bytes_held() == 0, "the hold to be released").await;
    app.assert_no_orphan_blobs(0).await;
    // The whole budget is available again.
    let token = app.token(&[("fileName", "a.bin")]);
    let form = form_file_first(
        vec![1u8; 250 * 1024],
        &[("fileName", "a.bin"), ("token", &token)],
    );
    app.post(V2, form, None).await.assert_ok();
}

async fn wait_for(condition: impl Fn() -> bool, what: &str) {
    for _ in 0..500 {
        if condition() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test]
async fn strict_mode_refuses_files_that_come_before_their_credentials() {
    let app = TestApp::builder()
        .config(|c| c.limits.credentials_before_file = true)
        .start()
        .await;
    let fields = [("fileName", "a.bin")];
    let token = app.token(&fields);
    // Valid credentials, but after a file larger than the 64 KiB prefix: decided on the
    // fields before the file, which carry none.
    let late = form_file_first(
        vec![1u8; 1024 * 1024],
        &[("fileName", "a.bin"), ("token", &token)],
    );
    app.post(V2, late, None)
        .await
        .assert_error(400, "Your request is missing token parameter.");
    let expire = (folio::ids::now_secs() + 600).to_string();
    let v1_token = uuid::Uuid::new_v4().to_string();
    let signature = folio_token::v1_signature(&app.private_key, &v1_token, &expire);
    let late_v1 = form_file_first(
        vec![1u8; 1024 * 1024],
        &[
            ("fileName", "a.bin"),
            ("publicKey", &app.public_key),
            ("token", &v1_token),
            ("expire", &expire),
            ("signature", &signature),
        ],
    );
    app.post(V1, late_v1, None)
        .await
        .assert_error(401, "Your request does not contain private API key.");
    let file = base64(&vec![1u8; 1024 * 1024]);
    let body = urlencoded(&[("file", &file), ("fileName", "a.bin"), ("token", &token)]);
    app.post_body(V2, FORM, body, None)
        .await
        .assert_error(400, "Your request is missing token parameter.");
    // A small file is kept in memory until the credentials after it are proven.
    let small = form_file_first(
        vec![2u8; 10 * 1024],
        &[("fileName", "a.bin"), ("token", &token)],
    );
    let body = app.post(V2, small, None).await.assert_ok().clone();
    assert_eq!(body["size"], 10 * 1024);
    let token = app.token(&fields);
    let body = urlencoded(&[
        ("file", &base64(&[3u8; 1000])),
        ("fileName", "a.bin"),
        ("token", &token),
    ]);
    app.post_body(V2, FORM, body, None).await.assert_ok();
    // Credentials first: any size.
    app.upload_with_token(vec![4u8; 1024 * 1024], &fields)
        .await
        .assert_ok();
    app.assert_no_orphan_blobs(3).await;
    assert_eq!(app.unproven_bytes_held(), 0);
}

// The MIME type of a text file depended on whether `fileName` came before the file.

async fn served_type(app: &TestApp, reply: Reply) -> String {
    let url = reply.assert_ok()["url"].as_str().expect("url").to_owned();
    let response = app.get(&url).await;
    response.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .to_owned()
}

#[tokio::test]
async fn the_mime_type_does_not_depend_on_the_order_of_the_parts() {
    let app = TestApp::start().await;
    let css = b"body { color: red }\n".to_vec();
    let fields = [("fileName", "s.css"), ("useUniqueFileName", "true")];
    let replies = [
        app.upload(css.clone(), &fields).await,
        app.post(
            V2,
            form_file_first(css.clone(), &fields),
            Some(&app.basic()),
        )
        .await,
        app.post_body(
            V2,
            FORM,
            urlencoded(&[("fileName", "s.css"), ("file", &base64(&css))]),
            Some(&app.basic()),
        )
        .await,
        app.post_body(
            V2,
            FORM,
            urlencoded(&[("file", &base64(&css)), ("fileName", "s.css")]),
            Some(&app.basic()),
        )
        .await,
    ];
    for (i, reply) in replies.into_iter().enumerate() {
        let served = served_type(&app, reply).await;
        assert!(served.starts_with("text/css"), "upload {i}: {served}");
    }
    // Bytes win over the name for what the bytes can tell.
    let reply = app
        .post(
            V2,
            form_file_first(fixture("tiny.jpg"), &[("fileName", "s.css")]),
            Some(&app.basic()),
        )
        .await;
    assert_eq!(served_type(&app, reply).await, "image/jpeg");
}
