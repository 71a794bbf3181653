//! No trace of failed uploads; crash leftovers are swept.

use bytes::Bytes;

use crate::harness::{backend, fixture, Backend, TestApp};

#[tokio::test]
async fn an_upload_cut_off_mid_file_leaves_nothing() {
    let app = TestApp::start().await;
    // A body that sends half a file and then fails: the client goes away mid-upload.
    let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
        Ok(Bytes::from_static(
            b"--XyZ\r\nContent-Disposition: form-data; name=\"fileName\"\r\n\r\ncut.bin\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"cut.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n",
        )),
        Ok(Bytes::from(vec![1u8; 3 * 1024 * 1024])),
        Err(std::io::Error::other("client gone")),
    ];
    let result = app
        .client
        .post(app.url("/api/v2/files/upload"))
        .header("Authorization", app.basic())
        .header("Content-Type", "multipart/form-data; boundary=XyZ")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await;
    assert!(result.is_err() || result.is_ok_and(|r| r.status() != 200));
    app.assert_no_orphan_blobs(0).await;
    // and the server is fine afterwards
    app.upload(fixture("tiny.jpg"), &[("fileName", "a.jpg")])
        .await
        .assert_ok();
    app.assert_no_orphan_blobs(1).await;
}

#[tokio::test]
async fn a_truncated_multipart_body_is_a_clean_400() {
    let app = TestApp::start().await;
    let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"fileName\"\r\n\r\na.bin\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.bin\"\r\n\r\nhalf of a file".to_vec();
    let response = app
        .client
        .post(app.url("/api/v2/files/upload"))
        .header("Authorization", app.basic())
        .header("Content-Type", "multipart/form-data; boundary=XyZ")
        .body(body)
        .send()
        .await
        .expect("send");
    TestApp::reply(response)
        .await
        .assert_error(400, "Your request contains invalid file parameter.");
    app.assert_no_orphan_blobs(0).await;
}

#[tokio::test]
async fn the_sweeper_removes_only_old_unreferenced_blobs() {
    let app = TestApp::start().await;
    let body = app
        .upload(fixture("tiny.jpg"), &[("fileName", "kept.jpg")])
        .await
        .assert_ok()
        .clone();
    // what a crash between blob write and commit leaves: a blob, and (in the local store) a
    // staging file; on S3 an interrupted write is an incomplete multipart upload, invisible
    // to listings and left to the bucket's lifecycle rule
    app.plant_blob("v/zz/yy/0123456789abcdef01234567", b"orphan")
        .await;
    let local = backend() == Backend::SqliteFiles;
    if local {
        let blobs = app.data.path().join("blobs");
        std::fs::write(blobs.join("v/zz/yy/0123456789abcdef01234568#1"), b"partial")
            .expect("write");
    }
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;

    let report = app.sweep_with_grace(1).await;
    assert_eq!(
        (report.orphan_blobs, report.staging_files),
        (1, usize::from(local)),
        "{:?}",
        app.stored_blobs()
    );
    assert_eq!(app.stored_blobs().len(), 1);
    let served = app.get(body["url"].as_str().expect("url")).await;
    assert_eq!(
        served.bytes().await.expect("bytes").as_ref(),
        fixture("tiny.jpg").as_slice()
    );
}

/// A crash between a delete's catalog transaction and its blob removals leaves the version
/// blob and its renditions (`d/<version id>/…`) without rows: the sweeper removes both, and
/// keeps the renditions of versions that still exist.
#[tokio::test]
async fn the_sweeper_removes_blobs_and_renditions_a_crashed_delete_left() {
    let app = TestApp::start().await;
    let gone = app
        .upload(fixture("photo-exif.jpg"), &[("fileName", "gone.jpg")])
        .await
        .assert_ok()
        .clone();
    let kept = app
        .upload(fixture("photo-exif.jpg"), &[("fileName", "kept.jpg")])
        .await
        .assert_ok()
        .clone();
    for body in [&gone, &kept] {
        let thumb = app.get(body["thumbnailUrl"].as_str().expect("thumb")).await;
        assert_eq!(thumb.status(), 200);
    }
    let account = app
        .catalog()
        .key_by_private(&app.private_key)
        .await
        .expect("key")
        .expect("key")
        .account
        .id;
    // The rows go, as a delete does first; the process "dies" before the blobs go.
    let outcome = app
        .catalog()
        .delete_files(
            &account,
            &[gone["fileId"].as_str().expect("id").to_owned()],
            &folio::store::Outbox::none(),
        )
        .await
        .expect("delete rows");
    assert!(matches!(outcome, folio::store::DeleteOutcome::Deleted(_)));
    assert_eq!(app.stored_blobs().len(), 4, "{:?}", app.stored_blobs());
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;

    let report = app.sweep_with_grace(1).await;
    assert_eq!(
        (report.orphan_blobs, report.orphan_renditions),
        (1, 1),
        "{:?}",
        app.stored_blobs()
    );
    let kept_version = kept["versionInfo"]["id"].as_str().expect("v");
    let left = app.stored_blobs();
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(left.iter().all(|b| b.contains(kept_version)), "{left:?}");
}

#[tokio::test]
async fn young_orphans_are_left_for_uploads_in_flight() {
    let app = TestApp::start().await; // default grace: an hour
    app.plant_blob("v/zz/yy/0123456789abcdef01234567", b"in flight")
        .await;
    let state = &app.server.as_ref().expect("server").state;
    let report = folio::sweeper::sweep_once(state).await.expect("sweep");
    assert_eq!(report.orphan_blobs, 0);
    assert_eq!(app.stored_blobs().len(), 1);
}

#[tokio::test]
async fn uploads_with_fsync_on() {
    let app = TestApp::builder()
        .config(|c| c.storage.fsync = true)
        .start()
        .await;
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 256) as u8).collect();
    let body = app
        .upload(big.clone(), &[("fileName", "big.bin")])
        .await
        .assert_ok()
        .clone();
    assert_eq!(body["size"], big.len());
    let served = app
        .get(body["url"].as_str().expect("url"))
        .await
        .bytes()
        .await
        .expect("bytes");
    assert!(served.as_ref() == big.as_slice());
}

#[tokio::test]
async fn a_client_that_stops_sending_is_dropped_after_the_idle_timeout() {
    let app = TestApp::builder()
        .config(|c| c.limits.idle_body_timeout_secs = 1)
        .start()
        .await;
    // Half a file, then silence (the stream never ends by itself).
    let head = futures_util::stream::iter(vec![
        Ok::<_, std::io::Error>(Bytes::from_static(
            b"--XyZ\r\nContent-Disposition: form-data; name=\"fileName\"\r\n\r\nslow.bin\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"slow.bin\"\r\n\r\n",
        )),
        Ok(Bytes::from(vec![5u8; 64 * 1024])),
    ]);
    let stalled = futures_util::StreamExt::chain(head, futures_util::stream::pending());
    let started = std::time::Instant::now();
    let response = app
        .client
        .post(app.url("/api/v2/files/upload"))
        .header("Authorization", app.basic())
        .header("Content-Type", "multipart/form-data; boundary=XyZ")
        .body(reqwest::Body::wrap_stream(stalled))
        .timeout(std::time::Duration::from_secs(20))
        .send()
        .await
        .expect("the server answers instead of waiting forever");
    assert!(started.elapsed() < std::time::Duration::from_secs(15));
    TestApp::reply(response)
        .await
        .assert_error(400, "Your request contains invalid file parameter.");
    app.assert_no_orphan_blobs(0).await;
}

#[tokio::test]
async fn error_bodies_have_the_wire_shape() {
    let app = TestApp::start().await;
    let reply = app
        .upload(
            fixture("tiny.jpg"),
            &[("fileName", "a.jpg"), ("folder", "a.b")],
        )
        .await;
    assert_eq!(
        reply.status, 200,
        "dots in folders are replaced, not refused: {}",
        reply.body
    );
    let reply = app
        .upload(fixture("tiny.jpg"), &[("fileName", "a.jpg"), ("tags", "%")])
        .await;
    insta::assert_json_snapshot!(reply.body, @r#"
    {
      "code": "PARAM_INVALID",
      "help": "For support, contact the administrator of this server.",
      "message": "Your request contains invalid tags parameter.",
      "param": "tags"
    }
    "#);
}
