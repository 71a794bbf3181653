//! Transformations (spec §3.8, §4.6 `tr:`): image pre-transformations at upload, post
//! renditions, delivery of the subset, and what is refused.

use crate::harness::{fixture, TestApp};

const INVALID: &str = "The file could not be uploaded because the transformation field is invalid.";

/// Width and height read from the served bytes themselves.
fn dims(bytes: &[u8]) -> (u64, u64, String) {
    let facts = folio_media::probe(bytes, bytes.len() as u64, "");
    (
        u64::from(facts.width.expect("width")),
        u64::from(facts.height.expect("height")),
        facts.mime,
    )
}

/// The delivery URL of an uploaded file with `tr:<tr>` before its path.
fn with_tr(body: &serde_json::Value, tr: &str) -> String {
    let url = body["url"].as_str().expect("url");
    let path = body["filePath"].as_str().expect("filePath");
    let base = url.strip_suffix(path).expect("url ends with the path");
    format!("{base}/tr:{tr}{path}")
}

async fn fetch(app: &TestApp, url: &str) -> (reqwest::StatusCode, String, Vec<u8>) {
    let response = app.get(url).await;
    let status = response.status();
    let mime = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let bytes = response.bytes().await.expect("bytes").to_vec();
    (status, mime, bytes)
}

#[tokio::test]
async fn pre_transformation_stores_the_result() {
    let app = TestApp::start().await;
    let body = app
        .upload(
            fixture("photo-exif.jpg"),
            &[
                ("fileName", "p.jpg"),
                ("transformation", r#"{"pre":"w-100"}"#),
            ],
        )
        .await
        .assert_ok()
        .clone();
    // photo-exif.jpg is 640×480 with EXIF orientation 6: upright it is 480×640.
    assert_eq!(body["width"], 100);
    assert_eq!(body["height"], 133);
    let (status, mime, bytes) = fetch(&app, body["url"].as_str().expect("url")).await;
    assert_eq!(status, 200);
    assert_eq!(mime, "image/jpeg");
    assert_eq!(body["size"], bytes.len() as u64);
    assert_eq!(dims(&bytes), (100, 133, "image/jpeg".to_owned()));
    // The original's blob is gone: one version, one blob.
    app.assert_no_orphan_blobs(1).await;
}

#[tokio::test]
async fn pre_transformation_changes_format_and_rotates() {
    let app = TestApp::start().await;
    let body = app
        .upload(
            fixture("photo-exif.jpg"),
            &[
                ("fileName", "p.jpg"),
                ("transformation", r#"{"pre":"w-50,f-png"}"#),
            ],
        )
        .await
        .assert_ok()
        .clone();
    let (_, mime, bytes) = fetch(&app, body["url"].as_str().expect("url")).await;
    assert_eq!(mime, "image/png");
    assert_eq!(dims(&bytes).2, "image/png");

    let body = app
        .upload(
            fixture("alpha.png"),
            &[
                ("fileName", "a.png"),
                ("transformation", r#"{"pre":"rt-90"}"#),
            ],
        )
        .await
        .assert_ok()
        .clone();
    assert_eq!(
        (body["width"].clone(), body["height"].clone()),
        (200.into(), 300.into())
    );
}

#[tokio::test]
async fn checks_judge_the_transformed_file() {
    let app = TestApp::start().await;
    app.upload(
        fixture("photo-exif.jpg"),
        &[
            ("fileName", "p.jpg"),
            ("transformation", r#"{"pre":"f-png"}"#),
            ("checks", r#""file.mime" = "image/png""#),
        ],
    )
    .await
    .assert_ok();
    app.upload(
        fixture("photo-exif.jpg"),
        &[
            ("fileName", "p.jpg"),
            ("transformation", r#"{"pre":"f-png"}"#),
            ("checks", r#""file.mime" = "image/jpeg""#),
        ],
    )
    .await
    .assert_error(400, "Your request failed 'checks' validation.");
    app.assert_no_orphan_blobs(1).await;
}

#[tokio::test]
async fn invalid_and_unsupported_transformations_are_refused() {
    let app = TestApp::start().await;
    let cases: &[(&str, &str, &str)] = &[
        // Appendix A item 16.
        (
            "photo-exif.jpg",
            r#"{"post":[{"type":"abs","value":"sr-240_360"}]}"#,
            INVALID,
        ),
        (
            "document.pdf",
            r#"{"pre":"w-100"}"#,
            "The file could not be uploaded because transformations are supported only for image and video files.",
        ),
        (
            "photo-exif.jpg",
            r#"{"post":[{"type":"thumbnail"}]}"#,
            "The file could not be uploaded because the detected file type & post-transformation are incompatible.",
        ),
        (
            "photo-exif.jpg",
            r#"{"post":[{"type":"gif-to-video"}]}"#,
            "The file could not be uploaded because the detected file type & post-transformation are incompatible.",
        ),
        (
            "video.mp4",
            r#"{"pre":"w-100"}"#,
            "The video pre transformation is not supported by this server yet.",
        ),
        (
            "video.mp4",
            r#"{"post":[{"type":"abs","value":"sr-240_360","protocol":"hls"}]}"#,
            "The abs transformation is not supported by this server yet.",
        ),
        (
            "sized.svg",
            r#"{"pre":"w-100"}"#,
            "The svg image transformation is not supported by this server yet.",
        ),
        // Outside our subset, and beyond the output limit.
        ("photo-exif.jpg", r#"{"pre":"b-5_red"}"#, INVALID),
        ("photo-exif.jpg", r#"{"pre":"w-100000"}"#, INVALID),
        ("photo-exif.jpg", r#"{"pre":"w-8000,h-10,c-at_least"}"#, INVALID),
        (
            "photo-exif.jpg",
            r#"{"post":[{"type":"transformation","value":"oi-x.png"}]}"#,
            INVALID,
        ),
    ];
    for (file, transformation, message) in cases {
        app.upload(
            fixture(file),
            &[("fileName", "f"), ("transformation", transformation)],
        )
        .await
        .assert_error(400, message);
    }
    app.assert_no_orphan_blobs(0).await;
}

#[tokio::test]
async fn post_transformation_renditions_are_made_and_served() {
    let app = TestApp::start().await;
    let body = app
        .upload(
            fixture("alpha.png"),
            &[
                ("fileName", "a.png"),
                (
                    "transformation",
                    r#"{"post":[{"type":"transformation","value":"w-30"}]}"#,
                ),
            ],
        )
        .await
        .assert_ok()
        .clone();
    let version = body["versionInfo"]["id"].as_str().expect("version");
    let mut made = false;
    for _ in 0..200 {
        if app
            .stored_blobs()
            .iter()
            .any(|k| k.starts_with(&format!("d/{version}/tr-")))
        {
            made = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(made, "no rendition in {:?}", app.stored_blobs());
    let tr_url = with_tr(&body, "w-30");
    let (status, mime, bytes) = fetch(&app, &tr_url).await;
    assert_eq!(status, 200);
    assert_eq!(mime, "image/png");
    assert_eq!(dims(&bytes).0, 30);
}

#[tokio::test]
async fn delivery_renders_and_caches_the_subset() {
    let app = TestApp::start().await;
    let body = app
        .upload(fixture("photo-exif.jpg"), &[("fileName", "p.jpg")])
        .await
        .assert_ok()
        .clone();
    let url = body["url"].as_str().expect("url");
    let version = body["versionInfo"]["id"].as_str().expect("version");
    let tr_url = with_tr(&body, "w-50");

    let first = app.get(&tr_url).await;
    assert_eq!(first.status(), 200);
    assert_eq!(first.headers()["content-type"], "image/jpeg");
    let etag = first.headers()["etag"].to_str().expect("etag").to_owned();
    let bytes = first.bytes().await.expect("bytes");
    assert_eq!(dims(&bytes).0, 50);
    let cached: Vec<String> = app
        .stored_blobs()
        .into_iter()
        .filter(|k| k.starts_with(&format!("d/{version}/tr-")))
        .collect();
    assert_eq!(cached.len(), 1, "{cached:?}");

    // Served from the cache: same bytes, and the same key for the query form.
    let (status, _, again) = fetch(&app, &format!("{url}?tr=w-50")).await;
    assert_eq!(status, 200);
    assert_eq!(again, bytes.as_ref());
    let revalidated = app
        .client
        .get(&tr_url)
        .header("If-None-Match", &etag)
        .send()
        .await
        .expect("get");
    assert_eq!(revalidated.status(), 304);

    // Chained steps and rotation.
    let (_, _, rotated) = fetch(&app, &with_tr(&body, "w-50:rt-90")).await;
    let (w, h, _) = dims(&rotated);
    assert_eq!((w, h), (67, 50));
}

#[tokio::test]
async fn delivery_refuses_bad_or_impossible_transformations() {
    let app = TestApp::start().await;
    let body = app
        .upload(fixture("photo-exif.jpg"), &[("fileName", "p.jpg")])
        .await
        .assert_ok()
        .clone();
    for (tr, status, message) in [
        ("w-abc", 400, "The requested transformation is invalid."),
        ("w-100000", 400, "The requested transformation is invalid."),
        (
            "w-8000,h-1,c-at_least",
            400,
            "The requested transformation is invalid.",
        ),
        (
            "f-avif",
            400,
            "The requested transformation is not supported by this server yet.",
        ),
    ] {
        let response = app.get(&with_tr(&body, tr)).await;
        assert_eq!(response.status(), status, "{tr}");
        let json: serde_json::Value = response.json().await.expect("json");
        assert_eq!(json["message"], message, "{tr}");
    }

    let pdf = app
        .upload(fixture("document.pdf"), &[("fileName", "d.pdf")])
        .await
        .assert_ok()
        .clone();
    let pdf_url = pdf["url"].as_str().expect("url");
    let response = app.get(&format!("{pdf_url}?tr=w-10")).await;
    assert_eq!(response.status(), 400);

    let private = app
        .upload(
            fixture("photo-exif.jpg"),
            &[("fileName", "s.jpg"), ("isPrivateFile", "true")],
        )
        .await
        .assert_ok()
        .clone();
    let private_url = private["url"].as_str().expect("url");
    assert_eq!(
        app.get(&format!("{private_url}?tr=w-10")).await.status(),
        401
    );
}

#[tokio::test]
async fn a_pre_transformation_result_obeys_the_size_limit() {
    let app = TestApp::builder()
        .config(|c| {
            c.limits.max_file_size = 20_000;
        })
        .start()
        .await;
    // photo-exif.jpg is about 10 kB; 2000 px wide it is far more.
    app.upload(
        fixture("photo-exif.jpg"),
        &[
            ("fileName", "p.jpg"),
            ("transformation", r#"{"pre":"w-2000,bl-5"}"#),
        ],
    )
    .await
    .assert_error(
        400,
        "Your request contains invalid file parameter. The file size exceeds limits.",
    );
    app.assert_no_orphan_blobs(0).await;
}
