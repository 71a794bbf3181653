//! Read-only mode (`folio serve --read-only`): a library in maintenance serves its files and
//! every read, and refuses every change with 503 and the maintenance message.

use crate::harness::{fixture, form_with_file, Backing, FolioProcess, TestApp, FREE_PORT};

const MAINTENANCE: &str =
    "The library is in maintenance: it serves files but accepts no changes now. Please retry later.";

#[tokio::test]
async fn a_read_only_server_serves_reads_and_refuses_changes() {
    let app = TestApp::start().await;
    let body = app
        .upload(fixture("tiny.jpg"), &[("fileName", "a.jpg")])
        .await
        .assert_ok()
        .clone();
    let file_id = body["fileId"].as_str().expect("fileId").to_owned();

    // The same library, served read-only.
    let mut config = (*app.server.as_ref().expect("server").state.config).clone();
    config.listen = FREE_PORT.parse().expect("addr");
    config.metrics.listen = FREE_PORT.to_owned();
    config.read_only = true;
    let (state, _) = folio::server::open_state(config).await.expect("open");
    let server = folio::server::start(state).await.expect("start");
    let base = format!("http://{}", server.addr);
    let client = reqwest::Client::new();

    // Reads: the file at its path, its details.
    let url = body["url"].as_str().expect("url").replace(&app.base, &base);
    let served = app.get(&url).await;
    assert_eq!(served.status(), 200, "{url}");
    assert_eq!(served.bytes().await.expect("bytes"), fixture("tiny.jpg"));
    let details = client
        .get(format!("{base}/v1/files/{file_id}/details"))
        .header("Authorization", app.basic())
        .send()
        .await
        .expect("details");
    assert_eq!(details.status(), 200);

    // Changes: an upload, a delete, a resumable creation.
    let changes = [
        client
            .post(format!("{base}/api/v2/files/upload"))
            .header("Authorization", app.basic())
            .multipart(form_with_file(
                fixture("tiny.jpg"),
                &[("fileName", "b.jpg")],
            )),
        client
            .delete(format!("{base}/v1/files/{file_id}"))
            .header("Authorization", app.basic()),
        client
            .post(format!("{base}/api/v2/files/upload/resumable"))
            .header("Authorization", app.basic())
            .header("Tus-Resumable", "1.0.0")
            .header("Upload-Length", "10"),
    ];
    for change in changes {
        let reply = TestApp::reply(change.send().await.expect("send")).await;
        reply
            .assert_error(503, MAINTENANCE)
            .assert_code("READ_ONLY");
        assert_eq!(reply.headers["retry-after"], "60");
    }
    // The console's sign-in is refused the same way, and stays unreadable from other origins
    // like every console response.
    let sign_in = client
        .post(format!("{base}/console/session"))
        .header("Origin", &base)
        .json(&serde_json::json!({ "privateKey": app.private_key }))
        .send()
        .await
        .expect("sign in");
    assert!(
        !sign_in
            .headers()
            .contains_key("access-control-allow-origin"),
        "{:?}",
        sign_in.headers()
    );
    assert_eq!(sign_in.headers()["x-frame-options"], "DENY");
    TestApp::reply(sign_in)
        .await
        .assert_error(503, MAINTENANCE)
        .assert_code("READ_ONLY");
    // Nothing changed.
    assert_eq!(
        app.get(body["url"].as_str().expect("url")).await.status(),
        200
    );
    app.assert_no_orphan_blobs(1).await;
    server.stop().await.expect("stop");
}

#[tokio::test]
async fn folio_serve_read_only_says_so_and_refuses_uploads() {
    let data = tempfile::tempdir().expect("tempdir");
    let backing = Backing::fresh().await;
    let process = FolioProcess::start(data.path(), &["--read-only"], &backing.env());
    let (_, private) = process.keys.clone().expect("keys");
    let response = reqwest::Client::new()
        .post(format!("{}/api/v2/files/upload", process.base()))
        .basic_auth(&private, Some(""))
        .multipart(form_with_file(
            fixture("tiny.jpg"),
            &[("fileName", "a.jpg")],
        ))
        .send()
        .await
        .expect("upload");
    TestApp::reply(response)
        .await
        .assert_error(503, MAINTENANCE)
        .assert_code("READ_ONLY");
}
