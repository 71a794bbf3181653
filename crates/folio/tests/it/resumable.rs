//! Resumable uploads (tus 1.0 bound to the single-use token, spec resumable.md), spoken to as a
//! tus client does, on both backends.

use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use serde_json::Value;
use sha1::Digest;

use crate::harness::wire::{CHECKS_FAILED, REUSED};
use crate::harness::{
    backend, fixture, form_with_file, header_of, send_after_a_pause, solid_png, tus_metadata,
    Backend, FolioProcess, TestApp, Tus, TUS_PATH,
};

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

fn sha1_header(bytes: &[u8]) -> String {
    let digest = sha1::Sha1::digest(bytes);
    format!(
        "sha1 {}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

async fn json(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

/// The bytes the upload `body` (a v2 upload response) serves.
async fn served(app: &TestApp, body: &Value) -> Vec<u8> {
    let url = body["url"].as_str().expect("url");
    app.get(url).await.bytes().await.expect("bytes").to_vec()
}

#[tokio::test]
async fn a_token_upload_in_chunks_commits_like_a_multipart_upload() {
    let app = TestApp::start().await;
    let tus = app.tus();
    let bytes = fixture("photo-exif.jpg");
    let token = app.token(&[
        ("fileName", "chunked.jpg"),
        ("tags", "a,b"),
        ("folder", "/t"),
        ("useUniqueFileName", "false"),
        ("responseFields", "tags"),
    ]);
    let location = tus.created(bytes.len() as u64, &token).await;

    let (first, rest) = bytes.split_at(bytes.len() / 3);
    let r = tus.patch(&location, 0, first.to_vec(), &[]).await;
    assert_eq!(r.status(), 204);
    assert_eq!(header_of(&r, "upload-offset"), first.len().to_string());
    assert_eq!(header_of(&r, "tus-resumable"), "1.0.0");
    assert!(!header_of(&r, "upload-expires").is_empty());
    assert_eq!(tus.offset(&location).await, first.len() as u64);

    let r = tus
        .patch(&location, first.len() as u64, rest.to_vec(), &[])
        .await;
    assert_eq!(r.status(), 204);
    assert_eq!(header_of(&r, "upload-offset"), bytes.len().to_string());
    let file_id = header_of(&r, "x-folio-file-id").to_owned();
    assert!(header_of(&r, "link").contains(TUS_PATH));

    // GET of the upload URL: the v2 upload response, for a client that lost the last answer.
    let (status, body) = json(app.get(&location).await).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["fileId"], file_id);
    assert_eq!(body["name"], "chunked.jpg");
    assert_eq!(body["filePath"], "/t/chunked.jpg");
    assert_eq!(body["tags"], serde_json::json!(["a", "b"]));
    assert_eq!(body["fileType"], "image");
    assert_eq!(body["size"], bytes.len());
    assert_eq!(served(&app, &body).await, bytes);

    // The last chunk again (its answer was lost): the same answer, no second file.
    let r = tus
        .patch(&location, bytes.len() as u64, Vec::new(), &[])
        .await;
    assert_eq!(r.status(), 204);
    assert_eq!(header_of(&r, "x-folio-file-id"), file_id);
    // The token is spent: neither another resumable upload nor a multipart one.
    let r = tus.create(bytes.len() as u64, &token, &[], None).await;
    let (status, body) = json(r).await;
    assert_eq!(status, 400);
    assert_eq!(body["message"], REUSED);
    app.assert_no_orphan_blobs(1).await;
}

/// Chunks smaller than an S3 part: parts are cut across PATCHes, and each PATCH's rest waits
/// for the next one (locally: appended in place).
#[tokio::test]
async fn a_large_upload_in_small_chunks_is_byte_identical() {
    let app = TestApp::start().await;
    let tus = app.tus();
    let bytes = pattern(20 << 20);
    let location = tus
        .created(bytes.len() as u64, &app.token(&[("fileName", "big.bin")]))
        .await;
    let mut offset = 0;
    for chunk in bytes.chunks(3 << 20) {
        let r = tus.patch(&location, offset, chunk.to_vec(), &[]).await;
        assert_eq!(r.status(), 204);
        offset += chunk.len() as u64;
        assert_eq!(header_of(&r, "upload-offset"), offset.to_string());
    }
    let (status, body) = json(app.get(&location).await).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        served(&app, &body).await == bytes,
        "the stored bytes are the file's"
    );
    app.assert_no_orphan_blobs(1).await;
    assert!(
        app.stored_blobs().iter().all(|k| !k.starts_with("r/")),
        "{:?}",
        app.stored_blobs()
    );
    if backend() == Backend::PostgresS3 {
        // Chunks of 3 MiB, parts of 8: the third and the sixth chunk each stream a part of
        // 9 MiB (two chunks' tail first), the last chunk a part of its own.
        let samples = app.metrics().await;
        let parts = |outcome: &str| {
            samples
                .get(&format!(
                    r#"folio_s3_streamed_parts_total{{outcome="{outcome}"}}"#
                ))
                .copied()
        };
        assert_eq!((parts("in"), parts("resent")), (Some(3.0), Some(0.0)));
    }
}

/// A client sends its next chunk the moment it has the 204: the lease of the chunk before must
/// be given back by then, not a moment later (which answered 423 now and then on PostgreSQL).
#[tokio::test]
async fn the_next_chunk_right_after_a_204_never_finds_the_upload_locked() {
    let app = TestApp::start().await;
    let tus = app.tus();
    let bytes = pattern(60 * 1024);
    let location = tus
        .created(bytes.len() as u64, &app.token(&[("fileName", "quick.bin")]))
        .await;
    let mut offset = 0;
    for chunk in bytes.chunks(1024) {
        let r = tus.patch(&location, offset, chunk.to_vec(), &[]).await;
        assert_eq!(r.status(), 204, "the chunk at {offset}");
        offset += chunk.len() as u64;
    }
    let (status, body) = json(app.get(&location).await).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn creation_with_upload_and_checksums() {
    let app = TestApp::start().await;
    let tus = app.tus();
    let bytes = pattern(300_000);
    let token = app.token(&[("fileName", "data.bin")]);
    let (first, rest) = bytes.split_at(100_000);
    let checksum = sha1_header(first);
    let r = tus
        .create(
            bytes.len() as u64,
            &token,
            &[("Upload-Checksum", &checksum)],
            Some(first.to_vec()),
        )
        .await;
    assert_eq!(r.status(), 201);
    assert_eq!(header_of(&r, "upload-offset"), "100000");
    let location = tus.url(header_of(&r, "location"));

    // A chunk whose checksum does not match is discarded.
    let mut corrupted = rest.to_vec();
    corrupted[5] ^= 1;
    let r = tus
        .patch(
            &location,
            100_000,
            corrupted,
            &[("Upload-Checksum", &sha1_header(rest))],
        )
        .await;
    assert_eq!(r.status(), 460);
    assert_eq!(tus.offset(&location).await, 100_000);
    // An algorithm the server does not offer.
    let r = tus
        .patch(
            &location,
            100_000,
            rest.to_vec(),
            &[("Upload-Checksum", "sha256 AAAA")],
        )
        .await;
    assert_eq!(r.status(), 400);
    assert_eq!(tus.offset(&location).await, 100_000);

    for (algorithm, digest) in [
        ("md5", {
            use md5::Digest;
            md5::Md5::digest(rest).to_vec()
        }),
        ("crc32", crc32fast::hash(rest).to_be_bytes().to_vec()),
    ] {
        let header = format!(
            "{algorithm} {}",
            base64::engine::general_purpose::STANDARD.encode(&digest)
        );
        let mut wrong = rest[..10].to_vec();
        wrong[0] ^= 1;
        let r = tus
            .patch(&location, 100_000, wrong, &[("Upload-Checksum", &header)])
            .await;
        assert_eq!(r.status(), 460, "{algorithm}");
    }
    let r = tus
        .patch(
            &location,
            100_000,
            rest.to_vec(),
            &[("Upload-Checksum", &sha1_header(rest))],
        )
        .await;
    assert_eq!(r.status(), 204);
    let (status, body) = json(app.get(&location).await).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(served(&app, &body).await, bytes);
}

#[tokio::test]
async fn discovery_and_cors_expose_the_tus_headers() {
    let app = TestApp::start().await;
    let r = app
        .client
        .request(reqwest::Method::OPTIONS, app.url(TUS_PATH))
        .header("Origin", "http://app.example")
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "upload-length, tus-resumable",
        )
        .send()
        .await
        .expect("options");
    assert_eq!(r.status(), 204);
    assert_eq!(header_of(&r, "tus-version"), "1.0.0");
    let extensions = header_of(&r, "tus-extension");
    for e in [
        "creation",
        "creation-with-upload",
        "termination",
        "expiration",
        "checksum",
    ] {
        assert!(extensions.split(',').any(|x| x == e), "{extensions}");
    }
    assert_eq!(header_of(&r, "tus-checksum-algorithm"), "sha1,md5,crc32");
    assert!(header_of(&r, "tus-max-size").parse::<u64>().expect("size") > 0);
    let allowed = header_of(&r, "access-control-allow-headers").to_ascii_lowercase();
    for h in [
        "upload-length",
        "upload-offset",
        "upload-metadata",
        "tus-resumable",
    ] {
        assert!(allowed.contains(h), "{allowed}");
    }
    let token = app.token(&[("fileName", "x.bin")]);
    let r = app
        .tus()
        .create(10, &token, &[("Origin", "http://app.example")], None)
        .await;
    let exposed = header_of(&r, "access-control-expose-headers").to_ascii_lowercase();
    for h in [
        "location",
        "upload-offset",
        "upload-expires",
        "tus-resumable",
    ] {
        assert!(exposed.contains(h), "{exposed}");
    }
}

#[tokio::test]
async fn the_token_may_come_as_metadata_and_is_never_echoed() {
    let app = TestApp::start().await;
    let tus = app.tus();
    let token = app.token(&[("fileName", "meta.bin"), ("useUniqueFileName", "false")]);
    let metadata = tus_metadata(&[("filename", "phone.mov"), ("token", &token)]);
    let r = tus
        .create(4, "", &[("Upload-Metadata", &metadata)], None)
        .await;
    assert_eq!(r.status(), 201);
    let location = tus.url(header_of(&r, "location"));
    let r = tus.head(&location).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header_of(&r, "cache-control"), "no-store");
    assert_eq!(header_of(&r, "upload-length"), "4");
    assert_eq!(
        header_of(&r, "upload-metadata"),
        tus_metadata(&[("filename", "phone.mov")])
    );
    // Client metadata never overrides a pinned parameter.
    let r = tus.patch(&location, 0, b"abcd".to_vec(), &[]).await;
    assert_eq!(r.status(), 204);
    let (_, body) = json(app.get(&location).await).await;
    assert_eq!(body["name"], "meta.bin");
}

#[tokio::test]
async fn a_lost_creation_response_is_retried_with_the_same_token() {
    let app = TestApp::start().await;
    let tus = app.tus();
    let token = app.token(&[("fileName", "retry.bin")]);
    let first = tus.created(1000, &token).await;
    let r = tus.patch(&first, 0, pattern(400), &[]).await;
    assert_eq!(r.status(), 204);
    // The same token again while the upload receives: the same upload, where it stands.
    let r = tus.create(1000, &token, &[], None).await;
    assert_eq!(r.status(), 201);
    assert_eq!(tus.url(header_of(&r, "location")), first);
    assert_eq!(header_of(&r, "upload-offset"), "400");
    let r = tus
        .patch(&first, 400, pattern(1000)[400..].to_vec(), &[])
        .await;
    assert_eq!(r.status(), 204);
    // Done: the token is used.
    let (status, body) = json(tus.create(1000, &token, &[], None).await).await;
    assert_eq!(status, 400);
    assert_eq!(body["message"], REUSED);
}

#[tokio::test]
async fn server_side_callers_create_with_basic_credentials() {
    let app = TestApp::start().await;
    let tus = app.tus();
    let metadata = tus_metadata(&[
        ("fileName", "server.bin"),
        ("tags", "s"),
        ("useUniqueFileName", "false"),
        ("responseFields", "tags"),
    ]);
    let r = tus
        .create(
            3,
            "",
            &[
                ("Upload-Metadata", &metadata),
                ("Authorization", &app.basic()),
            ],
            Some(b"xyz".to_vec()),
        )
        .await;
    assert_eq!(r.status(), 201);
    let location = tus.url(header_of(&r, "location"));
    let (status, body) = json(app.get(&location).await).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["name"], "server.bin");
    assert_eq!(body["tags"], serde_json::json!(["s"]));
}

#[tokio::test]
async fn bad_requests_get_the_tus_statuses_and_change_nothing() {
    let app = TestApp::start().await;
    let tus = app.tus();
    let token = app.token(&[("fileName", "bad.bin")]);
    let location = tus.created(100, &token).await;
    assert_eq!(
        tus.patch(&location, 0, pattern(40), &[]).await.status(),
        204
    );

    // Wrong offset: 409, nothing changed.
    assert_eq!(
        tus.patch(&location, 10, pattern(5), &[]).await.status(),
        409
    );
    assert_eq!(tus.offset(&location).await, 40);
    // A large chunk refused before its body is read: the client still gets the answer (the
    // body is read first), not a connection reset while it sends.
    let large = tus
        .created(20 << 20, &app.token(&[("fileName", "large.bin")]))
        .await;
    let addr = app.base.trim_start_matches("http://");
    let path = large.trim_start_matches(&app.base);
    let head = format!(
        "PATCH {path} HTTP/1.1\r\nHost: {addr}\r\nTus-Resumable: 1.0.0\r\n\
         Content-Type: application/offset+octet-stream\r\nUpload-Offset: 1048576\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        16 << 20
    );
    let answer = send_after_a_pause(addr, &head, &pattern(16 << 20)).await;
    assert!(answer.starts_with("HTTP/1.1 409"), "{answer}");
    assert_eq!(tus.offset(&large).await, 0);
    // The same for a creation with an upload whose token is refused.
    let head = format!(
        "POST {TUS_PATH} HTTP/1.1\r\nHost: {addr}\r\nTus-Resumable: 1.0.0\r\n\
         Authorization: Bearer not.a.token\r\nUpload-Length: {len}\r\n\
         Content-Type: application/offset+octet-stream\r\nContent-Length: {len}\r\n\
         Connection: close\r\n\r\n",
        len = 16 << 20
    );
    let answer = send_after_a_pause(addr, &head, &pattern(16 << 20)).await;
    assert!(answer.starts_with("HTTP/1.1 4"), "{answer}");
    assert!(answer.contains(r#""message":"#), "{answer}");
    let r = app
        .client
        .delete(&large)
        .header("Tus-Resumable", "1.0.0")
        .send()
        .await
        .expect("delete");
    assert_eq!(r.status(), 204);
    // Bytes past Upload-Length: refused, nothing beyond kept.
    let r = tus.patch(&location, 40, pattern(61), &[]).await;
    assert_eq!(r.status(), 413);
    assert_eq!(tus.offset(&location).await, 40);
    // Another content type: 415.
    let r = app
        .client
        .patch(&location)
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Offset", "40")
        .header("Content-Type", "application/octet-stream")
        .body(pattern(5))
        .send()
        .await
        .expect("patch");
    assert_eq!(r.status(), 415);
    // Another protocol version: 412 naming ours.
    let r = app
        .client
        .head(&location)
        .header("Tus-Resumable", "0.2.2")
        .send()
        .await
        .expect("head");
    assert_eq!(r.status(), 412);
    assert_eq!(header_of(&r, "tus-version"), "1.0.0");
    // A guessed capability, and one with a character changed: 404.
    let guessed = format!("{}{TUS_PATH}/{}", app.base, "A".repeat(32));
    assert_eq!(tus.head(&guessed).await.status(), 404);
    let mut tampered = location.clone().into_bytes();
    let last = tampered.len() - 1;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).expect("ascii");
    assert_eq!(tus.head(&tampered).await.status(), 404);
    assert_eq!(
        tus.patch(&tampered, 40, pattern(5), &[]).await.status(),
        404
    );
    assert_eq!(tus.offset(&location).await, 40);

    // X-HTTP-Method-Override: a POST that says DELETE terminates the upload.
    let r = app
        .client
        .post(&location)
        .header("Tus-Resumable", "1.0.0")
        .header("X-HTTP-Method-Override", "DELETE")
        .send()
        .await
        .expect("delete");
    assert_eq!(r.status(), 204);
    assert_eq!(tus.head(&location).await.status(), 404);
    assert_eq!(
        tus.patch(&location, 40, pattern(5), &[]).await.status(),
        404
    );
    app.assert_no_orphan_blobs(0).await;
    assert!(
        app.stored_blobs().iter().all(|k| !k.starts_with("r/")),
        "{:?}",
        app.stored_blobs()
    );
}

#[tokio::test]
async fn a_token_used_by_a_multipart_upload_cannot_create_one() {
    let app = TestApp::start().await;
    let fields = [("fileName", "once.jpg")];
    let token = app.token(&fields);
    let mut all = fields.to_vec();
    all.push(("token", &token));
    let r = app
        .post(
            "/api/v2/files/upload",
            form_with_file(fixture("photo-exif.jpg"), &all),
            None,
        )
        .await;
    r.assert_ok();
    let (status, body) = json(app.tus().create(10, &token, &[], None).await).await;
    assert_eq!(status, 400);
    assert_eq!(body["message"], REUSED);
    // And the other way round.
    let token = app.token(&fields);
    app.tus().created(10, &token).await;
    let mut all = fields.to_vec();
    all.push(("token", &token));
    let r = app
        .post(
            "/api/v2/files/upload",
            form_with_file(fixture("photo-exif.jpg"), &all),
            None,
        )
        .await;
    r.assert_error(400, REUSED);
}

#[tokio::test]
async fn parameters_and_limits_are_checked_before_any_byte_is_kept() {
    let app = TestApp::builder()
        .config(|c| c.limits.max_file_size = 1 << 20)
        .start()
        .await;
    let tus = app.tus();
    // Over every limit: 413.
    let token = app.token(&[("fileName", "big.bin")]);
    let r = tus.create(1 << 30, &token, &[], None).await;
    assert_eq!(r.status(), 413);
    // A bad parameter in the token: the upload API's message.
    let token = app.token(&[("fileName", "x.bin"), ("useUniqueFileName", "maybe")]);
    let (status, body) = json(tus.create(10, &token, &[], None).await).await;
    assert_eq!(status, 400);
    assert_eq!(
        body["message"],
        "Your request contains invalid useUniqueFileName parameter."
    );
    // `checks` on the size, decided from Upload-Length.
    let token = app.token(&[("fileName", "x.bin"), ("checks", "\"file.size\" < 100")]);
    let (status, body) = json(tus.create(1000, &token, &[], None).await).await;
    assert_eq!(status, 400);
    assert_eq!(body["message"], CHECKS_FAILED);
    // An expired token.
    let expired = folio_token::UploadToken::new(&app.public_key, &app.private_key)
        .param("fileName", "x.bin")
        .issued_at(1_000_000)
        .expires_in(100)
        .sign()
        .expect("token");
    let (status, _) = json(tus.create(10, &expired, &[], None).await).await;
    assert_eq!(status, 400);
    // No credentials at all: what a v2 upload without a token gets.
    let (status, body) = json(tus.create(10, "", &[], None).await).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["message"], "Your request is missing token parameter.");
    assert!(app.stored_blobs().iter().all(|k| !k.starts_with("r/")));
}

#[tokio::test]
async fn bytes_that_break_the_checks_end_the_upload() {
    let app = TestApp::start().await;
    let tus = app.tus();
    let png = solid_png(4000, 4000);
    assert!(png.len() > 9000);
    let token = app.token(&[
        ("fileName", "only.jpg"),
        ("checks", "\"file.mime\" = \"image/jpeg\""),
    ]);
    let location = tus.created(png.len() as u64, &token).await;
    let r = tus.patch(&location, 0, png[..9000].to_vec(), &[]).await;
    let (status, body) = json(r).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["message"], CHECKS_FAILED);
    // Ended: GET and a later PATCH give the same error; no data is left.
    let (status, body) = json(app.get(&location).await).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (400, Some(CHECKS_FAILED))
    );
    let (status, _) = json(tus.patch(&location, 0, png[..10].to_vec(), &[]).await).await;
    assert_eq!(status, 400);
    assert!(app.stored_blobs().is_empty(), "{:?}", app.stored_blobs());
}

#[tokio::test]
async fn a_concurrent_patch_is_locked_out() {
    let app = TestApp::start().await;
    let tus = app.tus();
    let token = app.token(&[("fileName", "lock.bin")]);
    let location = tus.created(1 << 20, &token).await;
    // A PATCH that sends a little, then waits.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let stream = tokio_stream_from(rx);
    let slow = tokio::spawn({
        let tus = Tus {
            base: tus.base.clone(),
            client: reqwest::Client::new(),
        };
        let location = location.clone();
        async move {
            tus.patch(&location, 0, reqwest::Body::wrap_stream(stream), &[])
                .await
                .status()
        }
    });
    tx.send(Ok(Bytes::from(pattern(1000)))).await.expect("send");
    // Wait until the server holds the lease (the first PATCH has begun).
    let mut locked = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if tus.patch(&location, 0, pattern(10), &[]).await.status() == 423 {
            locked = true;
            break;
        }
    }
    assert!(locked, "a second PATCH while the first runs gets 423");
    tx.send(Ok(Bytes::from(pattern(1000)))).await.expect("send");
    drop(tx);
    assert_eq!(slow.await.expect("join"), 204);
    assert_eq!(tus.offset(&location).await, 2000);
}

/// A body stream fed from a channel.
fn tokio_stream_from(
    rx: tokio::sync::mpsc::Receiver<Result<Bytes, std::io::Error>>,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> {
    futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })
}

#[tokio::test]
async fn expired_uploads_answer_410_until_the_sweeper_removes_them() {
    let app = TestApp::builder()
        .config(|c| {
            // Longer than the start-up sweep (it runs in the background while the test starts)
            // can take on a loaded machine: it must not be the one that removes the upload.
            c.resumable.ttl_secs = 3;
            c.storage.orphan_grace_secs = 0;
        })
        .start()
        .await;
    let tus = app.tus();
    let token = app.token(&[("fileName", "late.bin")]);
    let location = tus.created(100, &token).await;
    // Partial data no row owns (a crash between the two): swept once older than the TTL.
    app.plant_blob("r/00ff", b"left behind").await;
    assert_eq!(
        tus.patch(&location, 0, pattern(50), &[]).await.status(),
        204
    );
    tokio::time::sleep(Duration::from_millis(4500)).await;
    assert_eq!(tus.head(&location).await.status(), 410);
    assert_eq!(
        tus.patch(&location, 50, pattern(50), &[]).await.status(),
        410
    );
    let state = &app.server.as_ref().expect("server").state;
    let report = folio::sweeper::sweep_once(state).await.expect("sweep");
    assert_eq!(report.expired_uploads, 1);
    assert_eq!(tus.head(&location).await.status(), 404);
    assert!(app.stored_blobs().is_empty(), "{:?}", app.stored_blobs());
}

#[tokio::test]
async fn each_key_has_a_cap_on_unfinished_uploads() {
    let app = TestApp::builder()
        .config(|c| {
            c.resumable.max_incomplete_per_key = 2;
            c.resumable.max_incomplete_bytes_per_key = 1000;
        })
        .start()
        .await;
    let tus = app.tus();
    let a = tus.created(100, &app.token(&[("fileName", "a.bin")])).await;
    tus.created(100, &app.token(&[("fileName", "b.bin")])).await;
    let r = tus
        .create(100, &app.token(&[("fileName", "c.bin")]), &[], None)
        .await;
    assert_eq!(r.status(), 429);
    // Finishing one frees its place; the byte cap still holds.
    assert_eq!(tus.patch(&a, 0, pattern(100), &[]).await.status(), 204);
    let r = tus
        .create(950, &app.token(&[("fileName", "d.bin")]), &[], None)
        .await;
    assert_eq!(r.status(), 429);
    tus.created(100, &app.token(&[("fileName", "e.bin")])).await;
}

/// The last byte recorded but the bytes never committed (here moving them into the blob store
/// fails, as after a crash between the two steps): the next request about the upload, the HEAD
/// a tus client sends after an error, finishes it.
#[tokio::test]
async fn an_upload_whose_commit_did_not_run_is_finished_by_the_next_request() {
    if backend() != Backend::SqliteFiles {
        // The failure is made on the local disk.
        return;
    }
    let app = TestApp::start().await;
    let tus = app.tus();
    let bytes = pattern(300_000);
    let token = app.token(&[("fileName", "stranded.bin")]);
    let location = tus.created(bytes.len() as u64, &token).await;
    // The blob store's version folders give way to a file: the move into them fails.
    let versions = app.data.path().join("blobs/v");
    let away = app.data.path().join("blobs/v.away");
    std::fs::rename(&versions, &away).expect("move the version folders away");
    std::fs::write(&versions, b"").expect("a file in their place");
    let r = tus.patch(&location, 0, bytes.clone(), &[]).await;
    assert_eq!(r.status(), 500);
    std::fs::remove_file(&versions).expect("remove the file");
    std::fs::rename(&away, &versions).expect("bring the version folders back");

    assert_eq!(tus.offset(&location).await, bytes.len() as u64);
    let (status, body) = json(app.get(&location).await).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["name"]
        .as_str()
        .is_some_and(|n| n.starts_with("stranded")));
    assert!(
        served(&app, &body).await == bytes,
        "the committed bytes are the file's"
    );
    // The last chunk again: the same answer, no second file.
    let r = tus
        .patch(&location, bytes.len() as u64, Vec::new(), &[])
        .await;
    assert_eq!(r.status(), 204);
    assert_eq!(
        header_of(&r, "x-folio-file-id"),
        body["fileId"].as_str().expect("id")
    );
    app.assert_no_orphan_blobs(1).await;
    assert!(
        !app.stored_blobs().iter().any(|k| k.starts_with("r/")),
        "no partial data is left"
    );
}

/// SIGKILL in the middle of a PATCH: after a restart, `HEAD` reports an offset whose bytes are
/// all there, and the upload completes from it with the right bytes.
#[tokio::test]
async fn a_patch_cut_by_kill_9_resumes_from_durable_bytes() {
    let data = tempfile::tempdir().expect("tempdir");
    let backing = crate::harness::Backing::fresh().await;
    let mut env = backing.env();
    env.push(("FOLIO_STORAGE__FSYNC".into(), "true".into()));
    env.push(("FOLIO_RESUMABLE__CHECKPOINT_BYTES".into(), "1048576".into()));
    // Keeps the lease a killed PATCH leaves on PostgreSQL short (2 × this + 10 s).
    env.push(("FOLIO_LIMITS__IDLE_BODY_TIMEOUT_SECS".into(), "3".into()));
    let mut first = FolioProcess::start(data.path(), &[], &env);
    let (public, private) = first.keys.clone().expect("keys");
    let bytes = pattern(24 << 20);
    let token = folio_token::UploadToken::new(&public, &private)
        .param("fileName", "crash.bin")
        .sign()
        .expect("token");
    let tus = Tus {
        base: first.base(),
        client: reqwest::Client::new(),
    };
    let location = tus.created(bytes.len() as u64, &token).await;
    // Send 12 MiB of the file, then kill the server while the PATCH is still open.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(2);
    let stream = tokio_stream_from(rx);
    let patch = tokio::spawn({
        let location = location.clone();
        let tus = Tus {
            base: tus.base.clone(),
            client: reqwest::Client::new(),
        };
        async move {
            let _ = tus
                .patch(&location, 0, reqwest::Body::wrap_stream(stream), &[])
                .await;
        }
    });
    for chunk in bytes[..12 << 20].chunks(256 << 10) {
        tx.send(Ok(Bytes::copy_from_slice(chunk)))
            .await
            .expect("send");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    first.kill();
    drop(tx);
    let _ = patch.await;

    let second = FolioProcess::start(data.path(), &[], &env);
    let tus = Tus {
        base: second.base(),
        client: reqwest::Client::new(),
    };
    let location = location.replace(&first.base(), &second.base());
    let offset = tus.offset(&location).await;
    // A lease a killed process held may outlive it (on PostgreSQL, until it runs out): the
    // client retries 423 as tus clients do.
    assert!(
        (8 << 20..=12 << 20).contains(&offset),
        "offset {offset} after 12 MiB sent with checkpoints every MiB"
    );
    // (probed with empty chunks: a server that refuses a large body early may cut it off).
    for _ in 0..60 {
        if tus.patch(&location, offset, Vec::new(), &[]).await.status() != 423 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let status = tus
        .patch(&location, offset, bytes[offset as usize..].to_vec(), &[])
        .await
        .status();
    assert_eq!(status, 204);
    let (status, body) = json(tus.client.get(&location).send().await.expect("get")).await;
    assert_eq!(status, 200, "{body}");
    let url = body["url"].as_str().expect("url");
    let served = tus
        .client
        .get(url)
        .send()
        .await
        .expect("get")
        .bytes()
        .await
        .expect("bytes");
    assert_eq!(served.len(), bytes.len());
    assert!(
        served[..] == bytes[..],
        "the committed bytes are the file's"
    );
}
