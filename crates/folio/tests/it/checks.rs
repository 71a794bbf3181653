//! `checks` (spec §7; Appendix A item 15): parsed before the file is looked at, evaluated
//! against the final facts, and pinned by tokens.

use crate::harness::{fixture, TestApp};

const FAILED: &str = "Your request failed 'checks' validation.";
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
