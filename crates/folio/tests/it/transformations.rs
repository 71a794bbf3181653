//! Transformations (spec §3.8, §4.6 `tr:`): image pre-transformations at upload, post
//! renditions, delivery of the subset, and what is refused.

use crate::harness::{fixture, solid_png, with_tr, TestApp};

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
async fn delivery_encodes_avif() {
    let app = TestApp::start().await;
    let body = app
        .upload(fixture("photo-exif.jpg"), &[("fileName", "p.jpg")])
        .await
        .assert_ok()
        .clone();
    let (status, mime, bytes) = fetch(&app, &with_tr(&body, "w-50,q-60,f-avif")).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&bytes));
    assert_eq!(mime, "image/avif");
    // Upright (EXIF orientation 6), 50 px wide, and an AVIF by its own boxes.
    assert_eq!(dims(&bytes), (50, 67, "image/avif".to_owned()));
    // Served again from the rendition cache, byte for byte.
    let (_, _, again) = fetch(&app, &with_tr(&body, "w-50,q-60,f-avif")).await;
    assert_eq!(again, bytes);
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
            "f-auto",
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

const REFUSED: &str = "The requested transformation is invalid.";

/// Finding 7 (render amplification): what costs too much is refused from the header, before
/// decoding, with the invalid-transformation answer, never a 500 or a render.
#[tokio::test]
async fn renders_beyond_the_budget_are_refused_before_decoding() {
    let app = TestApp::start().await;
    // 11000×11000: a few hundred KiB of PNG. `w-5000` would hold the decoded picture and an
    // 11000×5000 float intermediate (~1 GB).
    let big = app
        .upload(solid_png(11_000, 11_000), &[("fileName", "big.png")])
        .await
        .assert_ok()
        .clone();
    assert_eq!(big["width"], 11_000);
    assert!(
        big["size"].as_u64().expect("size") < 1024 * 1024,
        "{}",
        big["size"]
    );
    let photo = app
        .upload(fixture("photo-exif.jpg"), &[("fileName", "p.jpg")])
        .await
        .assert_ok()
        .clone();
    for (body, tr) in [
        (&big, "w-5000"),
        (&big, "w-5000,h-5000,c-force"),
        // Five steps (the budget allows four).
        (&photo, "w-90:w-80:w-70:w-60:w-50"),
        // A 8192² picture is beyond the output pixel limit, then blurred.
        (&photo, "w-8192,h-8192:bl-50:w-8192,h-8192:bl-50"),
        // Covering a thin box keeps the ratio: 8192 wide would make 8192×10923 first.
        (&photo, "w-8192,h-1"),
    ] {
        let response = app.get(&with_tr(body, tr)).await;
        assert_eq!(response.status(), 400, "{tr}");
        let json: serde_json::Value = response.json().await.expect("json");
        assert_eq!(json["message"], REFUSED, "{tr}");
    }
    // Nothing was rendered or stored for them.
    assert!(
        !app.stored_blobs().iter().any(|k| k.starts_with("d/")),
        "{:?}",
        app.stored_blobs()
    );
    // Ordinary renditions and thumbnails still work.
    let (status, _, bytes) = fetch(&app, &with_tr(&photo, "w-100")).await;
    assert_eq!(status, 200);
    assert_eq!(dims(&bytes).0, 100);
    let (status, _, _) = fetch(&app, &with_tr(&photo, "w-50:rt-90:bl-2:h-20")).await;
    assert_eq!(status, 200);
    for name in ["photo-exif.jpg", "alpha.png", "tiny.jpg"] {
        let body = app
            .upload(fixture(name), &[("fileName", name)])
            .await
            .assert_ok()
            .clone();
        let (status, _, bytes) = fetch(&app, body["thumbnailUrl"].as_str().expect("thumb")).await;
        assert_eq!(status, 200, "{name}");
        let (w, h, _) = dims(&bytes);
        assert!(w <= 300 && h <= 300, "{name}: {w}x{h}");
    }
}

/// Upload pre-transformations are held to the same budget (spec §3.8 error, nothing stored).
#[tokio::test]
async fn pre_transformations_beyond_the_budget_are_invalid() {
    let app = TestApp::start().await;
    for (bytes, pre) in [
        (solid_png(11_000, 11_000), "w-5000"),
        (fixture("photo-exif.jpg"), "w-90:w-80:w-70:w-60:w-50"),
    ] {
        app.upload(
            bytes,
            &[
                ("fileName", "p.png"),
                ("transformation", &format!(r#"{{"pre":"{pre}"}}"#)),
            ],
        )
        .await
        .assert_error(400, INVALID);
    }
    app.assert_no_orphan_blobs(0).await;
    // Within the budget it works as before.
    app.upload(
        fixture("photo-exif.jpg"),
        &[
            ("fileName", "p.jpg"),
            ("transformation", r#"{"pre":"w-90:w-80:w-70:w-60"}"#),
        ],
    )
    .await
    .assert_ok();
}

/// Every new `tr:` string would otherwise add a blob: past `max_renditions_per_file` a new
/// transformation is rendered and served, but not stored.
#[tokio::test]
async fn cached_renditions_per_file_are_capped() {
    let app = TestApp::builder()
        .config(|c| c.delivery.max_renditions_per_file = 2)
        .start()
        .await;
    let body = app
        .upload(fixture("photo-exif.jpg"), &[("fileName", "p.jpg")])
        .await
        .assert_ok()
        .clone();
    let version = body["versionInfo"]["id"]
        .as_str()
        .expect("version")
        .to_owned();
    let cached = || {
        app.stored_blobs()
            .into_iter()
            .filter(|k| k.starts_with(&format!("d/{version}/tr-")))
            .count()
    };
    for (i, width) in [10, 20, 30, 30].into_iter().enumerate() {
        let (status, _, bytes) = fetch(&app, &with_tr(&body, &format!("w-{width}"))).await;
        assert_eq!(status, 200, "w-{width}");
        assert_eq!(dims(&bytes).0, width);
        assert_eq!(cached(), (i + 1).min(2), "after w-{width}");
    }
    // The thumbnail is a named rendition, outside the cap.
    let (status, _, _) = fetch(&app, body["thumbnailUrl"].as_str().expect("thumb")).await;
    assert_eq!(status, 200);
    assert!(app
        .stored_blobs()
        .iter()
        .any(|k| k == &format!("d/{version}/ik_ml_thumbnail")));
}

/// `delivery.allow_unnamed_transformations = false`: only the named thumbnail is rendered.
#[tokio::test]
async fn unnamed_transformations_can_be_switched_off() {
    let app = TestApp::builder()
        .config(|c| c.delivery.allow_unnamed_transformations = false)
        .start()
        .await;
    let body = app
        .upload(fixture("photo-exif.jpg"), &[("fileName", "p.jpg")])
        .await
        .assert_ok()
        .clone();
    let url = body["url"].as_str().expect("url");
    for tr_url in [
        with_tr(&body, "w-100"),
        format!("{url}?tr=w-100"),
        with_tr(&body, "w-abc"),
    ] {
        let reply = TestApp::reply(app.get(&tr_url).await).await;
        reply.assert_error(
            403,
            "The requested transformation is not allowed on this server.",
        );
    }
    assert_eq!(app.get(url).await.status(), 200);
    for thumb in [
        body["thumbnailUrl"].as_str().expect("thumb").to_owned(),
        format!("{url}?tr=n-ik_ml_thumbnail"),
    ] {
        assert_eq!(app.get(&thumb).await.status(), 200, "{thumb}");
    }
    assert!(
        !app.stored_blobs().iter().any(|k| k.contains("/tr-")),
        "{:?}",
        app.stored_blobs()
    );
}
