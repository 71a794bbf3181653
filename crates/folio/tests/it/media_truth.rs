//! Media truth: a file whose header claims a picture its bytes do not hold is stored as a
//! `non-image` without dimensions, and its thumbnails and transformations say why.

use crate::harness::{fixture, solid_png, with_tr, TestApp};

const UNDECODABLE: &str = "The image could not be decoded: its data is corrupt or not an image.";

/// A GIF header declaring `width`×`height`, then `tail`: no picture data at all.
fn fake_gif(width: u16, height: u16, tail: &[u8]) -> Vec<u8> {
    let mut bytes = b"GIF89a".to_vec();
    bytes.extend_from_slice(&width.to_le_bytes());
    bytes.extend_from_slice(&height.to_le_bytes());
    bytes.extend_from_slice(&[0, 0, 0]);
    bytes.extend_from_slice(tail);
    bytes
}

/// A real PNG whose compressed pixel data is overwritten (its header still parses).
fn corrupt_png() -> Vec<u8> {
    let mut png = solid_png(64, 64);
    let idat = png
        .windows(4)
        .position(|w| w == b"IDAT")
        .expect("an IDAT chunk");
    for byte in &mut png[idat + 6..idat + 14] {
        *byte ^= 0x5a;
    }
    png
}

async fn assert_undecodable(app: &TestApp, body: &serde_json::Value) {
    assert_eq!(body["fileType"], "non-image", "{body}");
    assert!(
        body["width"].is_null() && body["height"].is_null(),
        "{body}"
    );
    for url in [
        body["thumbnailUrl"].as_str().map(str::to_owned),
        Some(with_tr(body, "w-100")),
    ]
    .into_iter()
    .flatten()
    {
        let reply = TestApp::reply(app.get(&url).await).await;
        reply
            .assert_error(400, UNDECODABLE)
            .assert_code("IMAGE_UNDECODABLE");
    }
    // The bytes themselves are kept and served as sent.
    let url = body["url"].as_str().expect("url");
    assert_eq!(app.get(url).await.status(), 200);
}

#[tokio::test]
async fn a_fake_image_is_stored_as_a_non_image() {
    let app = TestApp::start().await;
    // The case: 14 bytes claiming 26400×29281 pixels, named like a JPEG.
    let huge = fake_gif(26400, 29281, b"x");
    assert_eq!(huge.len(), 14);
    let body = app
        .upload(huge, &[("fileName", "fake.jpg")])
        .await
        .assert_ok()
        .clone();
    assert_undecodable(&app, &body).await;
    // Its MIME type stays what the bytes say.
    let path = format!(
        "/v1/files/{}/details",
        body["fileId"].as_str().expect("fileId")
    );
    let details = app.api(reqwest::Method::GET, &path, None).await;
    assert_eq!(details.assert_ok()["mime"], "image/gif", "{}", details.body);

    // Small enough to decode, and garbage where the picture should be.
    let small = fake_gif(10, 10, &[0x2c, 0xff, 0x00, 0x13, 0x37]);
    let body = app
        .upload(small, &[("fileName", "small.gif")])
        .await
        .assert_ok()
        .clone();
    assert_undecodable(&app, &body).await;

    let body = app
        .upload(corrupt_png(), &[("fileName", "corrupt.png")])
        .await
        .assert_ok()
        .clone();
    assert_undecodable(&app, &body).await;
}

#[tokio::test]
async fn real_images_keep_their_facts() {
    let app = TestApp::start().await;
    let body = app
        .upload(fixture("photo-exif.jpg"), &[("fileName", "p.jpg")])
        .await
        .assert_ok()
        .clone();
    assert_eq!(
        (&body["fileType"], &body["width"], &body["height"]),
        (
            &serde_json::json!("image"),
            &serde_json::json!(640),
            &serde_json::json!(480)
        ),
        "{body}"
    );
    // A picture too large to decode here stays an image: its header is all there is to go by,
    // and its bytes can hold it.
    let body = app
        .upload(solid_png(11_000, 11_000), &[("fileName", "big.png")])
        .await
        .assert_ok()
        .clone();
    assert_eq!(
        (&body["fileType"], &body["width"]),
        (&serde_json::json!("image"), &serde_json::json!(11_000)),
        "{body}"
    );
}
