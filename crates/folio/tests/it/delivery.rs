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

/// The value of a response header, if present.
fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().expect("ascii header").to_owned())
}

const SVG_WITH_SCRIPT: &[u8] = br#"<svg xmlns="http://www.w3.org/2000/svg" width="20" height="10"><script>fetch('/api/v2/files/upload')</script><rect width="20" height="10" fill="teal"/></svg>"#;

/// Finding 3 (stored XSS): script-capable uploads are served with a CSP sandbox, and every
/// delivery response says `nosniff`; images and PDFs are served as before.
#[tokio::test]
async fn script_capable_files_are_served_sandboxed_and_everything_nosniff() {
    let app = TestApp::start().await;
    let mut sandboxed = Vec::new();
    for (name, bytes, mime) in [
        ("x.svg", SVG_WITH_SCRIPT.to_vec(), "image/svg+xml"),
        // The type comes from the bytes: an SVG named x.png is still an SVG, and sandboxed.
        ("x.png", SVG_WITH_SCRIPT.to_vec(), "image/svg+xml"),
        (
            "page.html",
            b"<!doctype html><script>alert(document.cookie)</script>".to_vec(),
            "text/html",
        ),
        (
            "feed.xml",
            b"<?xml version=\"1.0\"?><a/>".to_vec(),
            "application/xml",
        ),
    ] {
        let body = app
            .upload(bytes, &[("fileName", name), ("useUniqueFileName", "false")])
            .await
            .assert_ok()
            .clone();
        let url = body["url"].as_str().expect("url").to_owned();
        let response = app.get(&url).await;
        assert_eq!(response.status(), 200, "{name}");
        assert_eq!(
            header(&response, "content-type").as_deref(),
            Some(mime),
            "{name}"
        );
        let csp = header(&response, "content-security-policy")
            .unwrap_or_else(|| panic!("{name}: no Content-Security-Policy"));
        assert!(csp.starts_with("sandbox"), "{name}: {csp}");
        assert!(csp.contains("default-src 'none'"), "{name}: {csp}");
        assert!(!csp.contains("script-src"), "{name}: {csp}");
        assert_eq!(
            header(&response, "x-content-type-options").as_deref(),
            Some("nosniff")
        );
        sandboxed.push((url, response.headers()["etag"].clone()));
    }
    // Revalidation, HEAD and Range answers carry the same protection.
    let (url, etag) = &sandboxed[0];
    let not_modified = app
        .client
        .get(url)
        .header("If-None-Match", etag)
        .send()
        .await
        .expect("304");
    assert_eq!(not_modified.status(), 304);
    assert!(header(&not_modified, "content-security-policy").is_some());
    assert_eq!(
        header(&not_modified, "x-content-type-options").as_deref(),
        Some("nosniff")
    );
    let head = app.client.head(url).send().await.expect("head");
    assert!(header(&head, "content-security-policy").is_some());
    let ranged = app
        .client
        .get(url)
        .header("Range", "bytes=0-9")
        .send()
        .await
        .expect("range");
    assert_eq!(ranged.status(), 206);
    assert!(header(&ranged, "content-security-policy").is_some());
    assert_eq!(
        header(&ranged, "x-content-type-options").as_deref(),
        Some("nosniff")
    );

    // Images, PDFs and their renditions: nosniff, and no sandbox that would break them.
    for (name, fixture_name, mime) in [
        ("a.png", "alpha.png", "image/png"),
        ("p.jpg", "photo-exif.jpg", "image/jpeg"),
        ("d.pdf", "document.pdf", "application/pdf"),
    ] {
        let body = uploaded(&app, name, fixture_name, &[]).await;
        let mut urls = vec![body["url"].as_str().expect("url").to_owned()];
        if let Some(thumb) = body["thumbnailUrl"].as_str() {
            urls.push(thumb.to_owned());
            urls.push(crate::harness::with_tr(&body, "w-20"));
        }
        for url in urls {
            let response = app.get(&url).await;
            assert_eq!(response.status(), 200, "{url}");
            assert_eq!(
                header(&response, "x-content-type-options").as_deref(),
                Some("nosniff")
            );
            assert_eq!(header(&response, "content-security-policy"), None, "{url}");
            if url.ends_with(name) && !url.contains("tr:") {
                assert_eq!(header(&response, "content-type").as_deref(), Some(mime));
            }
        }
    }
    // Delivery errors too.
    for path in ["/default/nothing.svg", "/default/tr:w-abc/a.png"] {
        let response = app.get(&app.url(path)).await;
        assert!(response.status().is_client_error(), "{path}");
        assert_eq!(
            header(&response, "x-content-type-options").as_deref(),
            Some("nosniff"),
            "{path}"
        );
    }
}

/// `delivery.public_url` puts user content on an origin of its own: every delivery URL the
/// server hands out uses it, while the API stays where it is.
#[tokio::test]
async fn delivery_urls_use_the_delivery_origin_when_set() {
    let app = TestApp::builder()
        .config(|c| {
            c.public_url = "https://api.example.test".to_owned();
            c.delivery.public_url = "https://media.example.test/".to_owned();
        })
        .start()
        .await;
    let body = uploaded(
        &app,
        "photo.jpg",
        "photo-exif.jpg",
        &[("useUniqueFileName", "false")],
    )
    .await;
    assert_eq!(
        body["url"], "https://media.example.test/default/photo.jpg",
        "{body}"
    );
    assert_eq!(
        body["thumbnailUrl"],
        "https://media.example.test/default/tr:n-ik_ml_thumbnail/photo.jpg"
    );
    // The same server answers the delivery path (a proxy routes the origin to it).
    let local = app.url("/default/photo.jpg");
    assert_eq!(app.get(&local).await.status(), 200);

    let plain = TestApp::builder()
        .config(|c| c.public_url = "https://api.example.test".to_owned())
        .start()
        .await;
    let body = uploaded(
        &plain,
        "photo.jpg",
        "photo-exif.jpg",
        &[("useUniqueFileName", "false")],
    )
    .await;
    assert_eq!(body["url"], "https://api.example.test/default/photo.jpg");
}

/// Finding 4 (private SVG leak): an image we cannot rasterise has no thumbnail, on every
/// thumbnail path, whether the file is private or public; the original stays behind 401.
#[tokio::test]
async fn images_without_a_raster_thumbnail_get_404_never_the_original() {
    let app = TestApp::start().await;
    for (name, fixture_name) in [("secret.svg", "sized.svg"), ("secret.avif", "image.avif")] {
        for private in ["true", "false"] {
            let name = format!("{private}-{name}");
            let body = uploaded(&app, &name, fixture_name, &[("isPrivateFile", private)]).await;
            let thumb = body["thumbnailUrl"].as_str().expect("thumbnailUrl");
            let url = body["url"].as_str().expect("url");
            let original = fixture(fixture_name);
            let aliases = [
                thumb.to_owned(),
                format!("{url}?tr=n-ik_ml_thumbnail"),
                thumb.replace("n-ik_ml_thumbnail", "n-media_library_thumbnail"),
            ];
            for alias in &aliases {
                let response = app.get(alias).await;
                assert_eq!(response.status(), 404, "{alias}");
                let bytes = response.bytes().await.expect("bytes");
                assert_ne!(
                    bytes.as_ref(),
                    original.as_slice(),
                    "{alias} leaks the file"
                );
                let head = app.client.head(alias).send().await.expect("head");
                assert_eq!(head.status(), 404, "HEAD {alias}");
            }
            let expected = if private == "true" { 401 } else { 200 };
            assert_eq!(app.get(url).await.status(), expected, "{url}");
            // No rendition was stored for it either.
            let version = body["versionInfo"]["id"].as_str().expect("version");
            assert!(
                !app.stored_blobs()
                    .iter()
                    .any(|k| k.starts_with(&format!("d/{version}/"))),
                "{:?}",
                app.stored_blobs()
            );
        }
    }
}
