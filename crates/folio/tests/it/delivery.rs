//! Delivery of uploaded files (issue: GET/HEAD, ETag, Range, Content-Type, thumbnails).

use crate::harness::{fixture, TestApp};

async fn uploaded(
    app: &TestApp,
    name: &str,
    fixture_name: &str,
    extra: &[(&str, &str)],
) -> serde_json::Value {
    let mut fields = vec![("fileName", name)];
    fields.extend_from_slice(extra);
    app.upload(fixture(fixture_name), &fields)
        .await
        .assert_ok()
        .clone()
}

#[tokio::test]
async fn the_url_serves_the_exact_bytes_with_headers() {
    let app = TestApp::start().await;
    let body = uploaded(&app, "photo.jpg", "photo-exif.jpg", &[]).await;
    let url = body["url"].as_str().expect("url");
    let original = fixture("photo-exif.jpg");

    let response = app.get(url).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "image/jpeg");
    assert_eq!(response.headers()["accept-ranges"], "bytes");
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    let etag = response.headers()["etag"]
        .to_str()
        .expect("etag")
        .to_owned();
    assert_eq!(
        response.bytes().await.expect("bytes").as_ref(),
        original.as_slice()
    );

    let head = app.client.head(url).send().await.expect("head");
    assert_eq!(head.status(), 200);
    assert_eq!(
        head.headers()["content-length"],
        original.len().to_string().as_str()
    );
    assert!(head.bytes().await.expect("bytes").is_empty());

    let ranged = app
        .client
        .get(url)
        .header("Range", "bytes=10-19")
        .send()
        .await
        .expect("range");
    assert_eq!(ranged.status(), 206);
    assert_eq!(
        ranged.headers()["content-range"],
        format!("bytes 10-19/{}", original.len()).as_str()
    );
    assert_eq!(
        ranged.bytes().await.expect("bytes").as_ref(),
        &original[10..20]
    );

    let suffix = app
        .client
        .get(url)
        .header("Range", "bytes=-5")
        .send()
        .await
        .expect("range");
    assert_eq!(
        suffix.bytes().await.expect("bytes").as_ref(),
        &original[original.len() - 5..]
    );

    let past = app
        .client
        .get(url)
        .header("Range", format!("bytes={}-", original.len()))
        .send()
        .await
        .expect("range");
    assert_eq!(past.status(), 416);

    let cached = app
        .client
        .get(url)
        .header("If-None-Match", &etag)
        .send()
        .await
        .expect("304");
    assert_eq!(cached.status(), 304);
}

#[tokio::test]
async fn content_type_comes_from_the_bytes_not_the_name() {
    let app = TestApp::start().await;
    let body = uploaded(&app, "named.jpg", "png-named.jpg", &[]).await;
    assert_eq!(
        (body["width"].clone(), body["height"].clone()),
        (300.into(), 200.into())
    );
    let response = app.get(body["url"].as_str().expect("url")).await;
    assert_eq!(response.headers()["content-type"], "image/png");

    let pdf = uploaded(&app, "doc.pdf", "document.pdf", &[]).await;
    assert_eq!(pdf["fileType"], "non-image");
    assert!(pdf.get("thumbnailUrl").is_none());
    assert!(pdf.get("width").is_none());
    let response = app.get(pdf["url"].as_str().expect("url")).await;
    assert_eq!(response.headers()["content-type"], "application/pdf");
}

#[tokio::test]
async fn thumbnails_are_small_images() {
    let app = TestApp::start().await;
    let body = uploaded(&app, "photo.jpg", "photo-exif.jpg", &[]).await;
    let thumb_url = body["thumbnailUrl"].as_str().expect("thumbnailUrl");
    for _ in 0..2 {
        // the second request is served from the cached rendition
        let response = app.get(thumb_url).await;
        assert_eq!(response.status(), 200);
        let mime = response.headers()["content-type"]
            .to_str()
            .expect("mime")
            .to_owned();
        let bytes = response.bytes().await.expect("bytes");
        assert_eq!(mime, "image/jpeg");
        let facts = folio_media::probe(&bytes, bytes.len() as u64, "");
        let (w, h) = (facts.width.expect("w"), facts.height.expect("h"));
        // 640x480 with EXIF orientation 6: the thumbnail is upright, i.e. portrait
        assert!(w <= 300 && h <= 300 && h > w, "{w}x{h}");
    }
    let query_form = format!(
        "{}?tr=n-ik_ml_thumbnail",
        body["url"].as_str().expect("url")
    );
    assert_eq!(app.get(&query_form).await.status(), 200);
    let other = body["url"]
        .as_str()
        .expect("url")
        .replace("/default/", "/default/tr:n-custom_named/");
    let reply = TestApp::reply(app.get(&other).await).await;
    reply.assert_error(
        400,
        "The requested transformation is not supported by this server yet.",
    );
}

#[tokio::test]
async fn private_and_unpublished_files_are_not_served_openly() {
    let app = TestApp::start().await;
    let private = uploaded(
        &app,
        "secret.jpg",
        "photo-exif.jpg",
        &[("isPrivateFile", "true")],
    )
    .await;
    let reply = TestApp::reply(app.get(private["url"].as_str().expect("url")).await).await;
    assert_eq!(reply.status, 401);
    // a named transformation stays public (spec §4.6)
    let thumb = app
        .get(private["thumbnailUrl"].as_str().expect("thumb"))
        .await;
    assert_eq!(thumb.status(), 200);

    let draft = uploaded(&app, "draft.jpg", "tiny.jpg", &[("isPublished", "false")]).await;
    TestApp::reply(app.get(draft["url"].as_str().expect("url")).await)
        .await
        .assert_error(404, "Not found.");
    TestApp::reply(app.get(draft["thumbnailUrl"].as_str().expect("url")).await)
        .await
        .assert_error(404, "Not found.");
}

#[tokio::test]
async fn unknown_files_and_accounts_are_404_json() {
    let app = TestApp::start().await;
    for path in ["/default/nothing.jpg", "/nobody/a.jpg", "/", "/favicon.ico"] {
        TestApp::reply(app.get(&app.url(path)).await)
            .await
            .assert_error(404, "Not found.");
    }
}
