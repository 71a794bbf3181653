//! `checks` (spec §7; Appendix A item 15): parsed before the file is looked at, evaluated
//! against the final facts, and pinned by tokens.

use crate::harness::{fixture, TestApp};

use crate::harness::wire::CHECKS_FAILED as FAILED;
const SYNTAX: &str = "Your request contains invalid syntax for the checks parameter.";

#[tokio::test]
async fn the_appendix_examples() {
    let app = TestApp::start().await;
    let two_mib = vec![9u8; 2 * 1024 * 1024];
    app.upload(
        two_mib.clone(),
        &[("fileName", "big.bin"), ("checks", "'file.size' < '1mb'")],
    )
    .await
    .assert_error(400, FAILED);
    app.upload(
        two_mib,
        &[("fileName", "big.bin"), ("checks", "file.size < 1mb")],
    )
    .await
    .assert_error(400, SYNTAX);
    app.upload(
        fixture("tiny.jpg"),
        &[("fileName", "a.jpg"), ("checks", "'file.size' < '1mb'")],
    )
    .await
    .assert_ok();
    app.assert_no_orphan_blobs(1).await;
}

#[tokio::test]
async fn conditions_on_type_dimensions_folder_and_name() {
    let app = TestApp::start().await;
    /// (fixture, checks, extra fields, whether the upload passes)
    type Case<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)], bool);
    let cases: &[Case] = &[
        ("photo-exif.jpg", r#""file.mime" : "image/""#, &[], true),
        ("document.pdf", r#""file.mime" : "image/""#, &[], false),
        (
            "photo-exif.jpg",
            "'file.mime' IN ['image/jpeg', 'image/png']",
            &[],
            true,
        ),
        (
            "photo-exif.jpg",
            "'mediaMetadata.height' <= 300 AND 'mediaMetadata.width' <= 500",
            &[],
            false,
        ),
        (
            "tiny.jpg",
            "'mediaMetadata.height' <= 300 AND 'mediaMetadata.width' <= 500",
            &[],
            true,
        ),
        (
            "tiny.jpg",
            r#""request.folder" : "marketing/""#,
            &[("folder", "/marketing/2024/")],
            true,
        ),
        (
            "tiny.jpg",
            r#""request.folder" : "marketing/""#,
            &[("folder", "/marketing-old/")],
            false,
        ),
        (
            "tiny.jpg",
            r#""request.tags" NOT IN ["big-banner"]"#,
            &[("tags", "a,big-banner")],
            false,
        ),
        (
            "tiny.jpg",
            r#""request.useUniqueFileName" = true"#,
            &[("useUniqueFileName", "false")],
            false,
        ),
        // request.fileName is the final name, suffix included
        ("tiny.jpg", r#""request.fileName" NOT = "a.jpg""#, &[], true),
        (
            "tiny.jpg",
            r#""request.fileName" NOT = "a.jpg""#,
            &[("useUniqueFileName", "false")],
            false,
        ),
        (
            "video.mp4",
            r#"("file.size" < "5mb" AND "file.mime" : "image") OR "file.mime" : "video/""#,
            &[],
            true,
        ),
        (
            "video.mp4",
            r#""mediaMetadata.videoCodec" = "h264""#,
            &[],
            true,
        ),
    ];
    for (fixture_name, checks, extra, passes) in cases {
        let mut fields = vec![("fileName", "a.jpg"), ("checks", *checks)];
        fields.extend_from_slice(extra);
        let reply = app.upload(fixture(fixture_name), &fields).await;
        if *passes {
            assert_eq!(
                reply.status, 200,
                "{checks} on {fixture_name}: {}",
                reply.body
            );
        } else {
            reply.assert_error(400, FAILED);
        }
    }
}

#[tokio::test]
async fn checks_pinned_in_a_token_hold() {
    let app = TestApp::start().await;
    let fields = [
        ("fileName", "avatar.png"),
        ("checks", r#""file.mime" = "image/png""#),
    ];
    app.upload_with_token(fixture("alpha.png"), &fields)
        .await
        .assert_ok();
    app.upload_with_token(fixture("tiny.jpg"), &fields)
        .await
        .assert_error(400, FAILED);
    // dropping the checks from the request breaks the payload comparison
    let token = app.token(&fields);
    let form = crate::harness::form_with_file(
        fixture("tiny.jpg"),
        &[("fileName", "avatar.png"), ("token", &token)],
    );
    app.post("/api/v2/files/upload", form, None).await.assert_error(
        400,
        "Your request contains invalid payload. It does not match with the payload used to generate token.",
    );
    app.assert_no_orphan_blobs(1).await;
}

/// A multipart body of `fields`, then the head of a `file` part with `file_bytes`, then
/// nothing more: the client never finishes. Only a server that decides while the file
/// streams can answer it.
fn stalled_upload(fields: &[(&str, &str)], file_bytes: Vec<u8>) -> reqwest::Body {
    let mut head = String::new();
    for (name, value) in fields {
        head.push_str(&format!(
            "--XyZ\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    head.push_str(
        "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f.bin\"\r\n\r\n",
    );
    let sent = futures_util::stream::iter(vec![
        Ok::<_, std::io::Error>(bytes::Bytes::from(head)),
        Ok(bytes::Bytes::from(file_bytes)),
    ]);
    reqwest::Body::wrap_stream(futures_util::StreamExt::chain(
        sent,
        futures_util::stream::pending(),
    ))
}

#[tokio::test]
async fn a_size_condition_rejects_while_the_file_streams() {
    let app = TestApp::builder()
        .config(|c| c.limits.idle_body_timeout_secs = 1)
        .start()
        .await;
    let body = stalled_upload(
        &[("fileName", "big.bin"), ("checks", "'file.size' < '1mb'")],
        vec![1u8; 1024 * 1024 + 1],
    );
    let response = app
        .client
        .post(app.url("/api/v2/files/upload"))
        .header("Authorization", app.basic())
        .header("Content-Type", "multipart/form-data; boundary=XyZ")
        .body(body)
        .timeout(std::time::Duration::from_secs(20))
        .send()
        .await
        .expect("answered before the body ended");
    TestApp::reply(response).await.assert_error(400, FAILED);
    app.assert_no_orphan_blobs(0).await;
}

#[tokio::test]
async fn a_token_pinned_mime_condition_rejects_at_the_magic_bytes() {
    let app = TestApp::builder()
        .config(|c| c.limits.idle_body_timeout_secs = 1)
        .start()
        .await;
    let fields = [
        ("fileName", "avatar.png"),
        ("checks", r#""file.mime" = "image/png""#),
    ];
    let token = app.token(&fields);
    let mut jpeg = fixture("photo-exif.jpg");
    jpeg.truncate(9000); // past the bytes the class is decided on, far from the end
    let body = stalled_upload(&[fields[0], fields[1], ("token", &token)], jpeg);
    let response = app
        .client
        .post(app.url("/api/v2/files/upload"))
        .header("Content-Type", "multipart/form-data; boundary=XyZ")
        .body(body)
        .timeout(std::time::Duration::from_secs(20))
        .send()
        .await
        .expect("answered before the body ended");
    TestApp::reply(response).await.assert_error(400, FAILED);
    app.assert_no_orphan_blobs(0).await;
}

#[tokio::test]
async fn conditions_on_request_values_wait_for_the_whole_body() {
    // `folder` could still arrive after the file part: no early verdict for this one.
    let app = TestApp::start().await;
    let checks = r#""file.size" < "1kb" OR "request.folder" = "big""#;
    let form = crate::harness::form(&[("fileName", "a.bin"), ("checks", checks)])
        .part(
            "file",
            reqwest::multipart::Part::bytes(vec![3u8; 5000]).file_name("a.bin"),
        )
        .text("folder", "big");
    app.post("/api/v2/files/upload", form, Some(&app.basic()))
        .await
        .assert_ok();
}
