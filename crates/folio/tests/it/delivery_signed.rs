//! Signed delivery URLs (media-api §4, issue 8 item 7): private files are served with a valid
//! `ik-s` (with or without `ik-t`) and nothing else; the signature is checked on the raw
//! request target before any transformation is applied; every refusal is a 401 in the API's
//! error shape; responses to signed requests are `Cache-Control: private`.
//!
//! The URLs here are signed by `harness::sign_url`, written from the spec; the official SDKs'
//! own URLs are in `compat.rs`, the `folio files url` CLI's in `cli_files_url.rs`.

use reqwest::header::HeaderMap;
use serde_json::Value;

use crate::harness::{fixture, sign_url, TestApp};

const NOT_AUTHORIZED: &str = "Your request is not authorized to access this file.";
const INVALID: &str = "The URL signature is invalid.";
const EXPIRED: &str = "The signed URL has expired.";

/// A server whose clock stands still at the present second, so that expiries are exact.
async fn app_at_now() -> (TestApp, i64) {
    let now = folio::ids::now_secs();
    (TestApp::builder().clock(now).start().await, now)
}

async fn upload(app: &TestApp, name: &str, fixture_name: &str, extra: &[(&str, &str)]) -> Value {
    let mut fields = vec![("fileName", name), ("useUniqueFileName", "false")];
    fields.extend_from_slice(extra);
    app.upload(fixture(fixture_name), &fields)
        .await
        .assert_ok()
        .clone()
}

/// The part of a file's `url` after `url_endpoint + "/"`: what gets signed.
fn relative(app: &TestApp, file: &Value) -> String {
    let url = file["url"].as_str().expect("url");
    url.strip_prefix(&format!("{}/", app.url_endpoint()))
        .unwrap_or_else(|| panic!("{url} is under {}", app.url_endpoint()))
        .to_owned()
}

struct Got {
    status: u16,
    headers: HeaderMap,
    bytes: Vec<u8>,
}

impl Got {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().expect("ascii"))
    }

    /// A 401 in the API's error shape, marked not to be retried, inert.
    #[track_caller]
    fn assert_refused(&self, message: &str) {
        let body: Value = serde_json::from_slice(&self.bytes).unwrap_or_else(|_| {
            panic!(
                "{}: not JSON: {}",
                self.status,
                String::from_utf8_lossy(&self.bytes)
            )
        });
        assert_eq!(
            (self.status, body["message"].as_str()),
            (401, Some(message))
        );
        assert!(body["help"].is_string(), "{body}");
        assert_eq!(self.header("x-should-retry"), Some("false"));
        assert_eq!(self.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(
            self.header("content-type"),
            Some("application/json; charset=utf-8")
        );
    }
}

async fn get(app: &TestApp, url: &str) -> Got {
    send(app.client.get(url)).await
}

async fn send(request: reqwest::RequestBuilder) -> Got {
    let response = request.send().await.expect("request");
    Got {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        bytes: response.bytes().await.expect("body").to_vec(),
    }
}

fn dims(bytes: &[u8]) -> (u32, u32) {
    let facts = folio_media::probe(bytes, bytes.len() as u64, "");
    (facts.width.expect("width"), facts.height.expect("height"))
}

/// Keys of the cached renditions (`d/…`) in the blob store.
fn renditions(app: &TestApp) -> Vec<String> {
    app.stored_blobs()
        .into_iter()
        .filter(|k| k.starts_with("d/"))
        .collect()
}

#[tokio::test]
async fn a_private_original_is_served_only_with_a_valid_signature() {
    let (app, now) = app_at_now().await;
    let file = upload(
        &app,
        "secret.jpg",
        "photo-exif.jpg",
        &[("isPrivateFile", "true")],
    )
    .await;
    let original = fixture("photo-exif.jpg");
    let endpoint = app.url_endpoint();
    let rel = relative(&app, &file);

    get(&app, file["url"].as_str().expect("url"))
        .await
        .assert_refused(NOT_AUTHORIZED);

    // Without an expiry (only `ik-s`): valid for as long as the key lives.
    let forever = get(&app, &sign_url(&app.private_key, &endpoint, &rel, None)).await;
    assert_eq!(forever.status, 200);
    assert_eq!(forever.bytes, original);
    assert_eq!(forever.header("cache-control"), Some("private, max-age=60"));
    assert_eq!(forever.header("content-type"), Some("image/jpeg"));
    assert_eq!(forever.header("x-content-type-options"), Some("nosniff"));

    // With one: cached no longer than the URL lives.
    let soon = sign_url(&app.private_key, &endpoint, &rel, Some(now + 30));
    let got = get(&app, &soon).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.bytes, original);
    assert_eq!(got.header("cache-control"), Some("private, max-age=30"));
    let later = sign_url(&app.private_key, &endpoint, &rel, Some(now + 3600));
    assert_eq!(
        get(&app, &later).await.header("cache-control"),
        Some("private, max-age=60")
    );
    // Good through its last second.
    let last = sign_url(&app.private_key, &endpoint, &rel, Some(now));
    let got = get(&app, &last).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.header("cache-control"), Some("private, max-age=0"));

    // HEAD, Range and revalidation answer the same way, and privately.
    let head = send(app.client.head(&soon)).await;
    assert_eq!(head.status, 200);
    assert!(head.bytes.is_empty());
    assert_eq!(head.header("cache-control"), Some("private, max-age=30"));
    let ranged = send(app.client.get(&soon).header("Range", "bytes=0-9")).await;
    assert_eq!(ranged.status, 206);
    assert_eq!(ranged.bytes, &original[..10]);
    assert_eq!(ranged.header("cache-control"), Some("private, max-age=30"));
    let etag = forever.header("etag").expect("etag").to_owned();
    let revalidated = send(app.client.get(&soon).header("If-None-Match", &etag)).await;
    assert_eq!(revalidated.status, 304);
    assert_eq!(
        revalidated.header("cache-control"),
        Some("private, max-age=30")
    );
    for got in [&forever, &head, &ranged, &revalidated] {
        assert!(!got
            .header("cache-control")
            .unwrap_or_default()
            .contains("public"));
    }
}

#[tokio::test]
async fn expired_tampered_and_foreign_signatures_are_refused() {
    let (app, now) = app_at_now().await;
    let file = upload(
        &app,
        "a.jpg",
        "photo-exif.jpg",
        &[("isPrivateFile", "true")],
    )
    .await;
    let endpoint = app.url_endpoint();
    let rel = relative(&app, &file);
    let key = app.private_key.clone();

    get(&app, &sign_url(&key, &endpoint, &rel, Some(now - 1)))
        .await
        .assert_refused(EXPIRED);
    get(
        &app,
        &sign_url("private_not_the_key", &endpoint, &rel, None),
    )
    .await
    .assert_refused(INVALID);

    let good = sign_url(&key, &endpoint, &rel, Some(now + 60));
    let signature = good.rsplit_once("ik-s=").expect("ik-s").1.to_owned();
    let file_url = file["url"].as_str().expect("url");
    for bad in [
        // A later expiry under the old signature.
        good.replace(
            &format!("ik-t={}", now + 60),
            &format!("ik-t={}", now + 999),
        ),
        // The expiry dropped: the default expiry was not what was signed.
        format!("{file_url}?ik-s={signature}"),
        // Not canonical, or not a time.
        good.replace("ik-t=", "ik-t=0"),
        good.replace("ik-t=", "ik-t=+"),
        good.replace(&format!("ik-t={}", now + 60), "ik-t=99999999999999999999"),
        good.replace(&format!("ik-t={}", now + 60), "ik-t=1e10"),
        // The signature malformed or doubled, or missing while `ik-t` is there.
        good.replace(&signature, &signature.to_uppercase()),
        good.replace(&signature, &signature[..39]),
        format!("{good}&ik-s={signature}"),
        format!("{file_url}?ik-t={}", now + 60),
        format!("{file_url}?ik-s="),
        // Another file under this file's signature.
        good.replace("a.jpg", "b.jpg"),
        // A query parameter added after signing.
        good.replace("?ik-t", "?v=2&ik-t"),
    ] {
        let got = get(&app, &bad).await;
        assert_eq!(got.status, 401, "{bad}");
        got.assert_refused(INVALID);
    }
    // The unchanged URL still works.
    assert_eq!(get(&app, &good).await.status, 200);
}

#[tokio::test]
async fn any_live_key_of_the_account_signs_and_revoked_keys_do_not() {
    let (app, _) = app_at_now().await;
    let file = upload(&app, "k.jpg", "tiny.jpg", &[("isPrivateFile", "true")]).await;
    let endpoint = app.url_endpoint();
    let rel = relative(&app, &file);
    let second = app
        .catalog()
        .create_key(None, None)
        .await
        .expect("second key");

    let by_first = sign_url(&app.private_key, &endpoint, &rel, None);
    let by_second = sign_url(&second.private_key, &endpoint, &rel, None);
    assert_eq!(get(&app, &by_first).await.status, 200);
    assert_eq!(get(&app, &by_second).await.status, 200);

    assert!(app
        .catalog()
        .revoke_key(&second.public_key)
        .await
        .expect("revoke"));
    get(&app, &by_second).await.assert_refused(INVALID);
    assert_eq!(get(&app, &by_first).await.status, 200);
}

#[tokio::test]
async fn a_signed_transformation_renders_and_cannot_be_changed() {
    let (app, now) = app_at_now().await;
    upload(
        &app,
        "t.jpg",
        "photo-exif.jpg",
        &[("isPrivateFile", "true")],
    )
    .await;
    let endpoint = app.url_endpoint();
    let key = &app.private_key;
    let path_form = sign_url(key, &endpoint, "tr:w-20/t.jpg", Some(now + 60));
    let query_form = sign_url(key, &endpoint, "t.jpg?tr=w-30", None);

    // Unsigned, a private file's renditions are refused like its original.
    get(&app, &format!("{endpoint}/tr:w-20/t.jpg"))
        .await
        .assert_refused(NOT_AUTHORIZED);
    get(&app, &format!("{endpoint}/t.jpg?tr=w-30"))
        .await
        .assert_refused(NOT_AUTHORIZED);
    let before = renditions(&app);

    // Any change to what was signed is refused before anything is rendered.
    for bad in [
        path_form.replace("w-20", "w-640"),
        path_form.replace("tr:w-20/", ""),
        path_form.replace("tr:w-20/", "tr:w-20:bl-50/"),
        path_form.replace("?ik-t", "?tr=w-640&ik-t"),
        query_form.replace("tr=w-30", "tr=w-640"),
        query_form.replace("tr=w-30&", ""),
        query_form.replace("t.jpg?", "tr:w-640/t.jpg?"),
    ] {
        get(&app, &bad).await.assert_refused(INVALID);
    }
    assert_eq!(renditions(&app), before, "a refused URL rendered something");

    for (url, width) in [(&path_form, 20), (&query_form, 30)] {
        let got = get(&app, url).await;
        assert_eq!(got.status, 200, "{url}");
        assert_eq!(dims(&got.bytes).0, width, "{url}");
        assert_eq!(got.header("cache-control"), Some("private, max-age=60"));
    }
    assert_eq!(renditions(&app).len(), before.len() + 2);

    // The render budget still applies to a signed transformation.
    let huge = sign_url(key, &endpoint, "tr:w-90:w-80:w-70:w-60:w-50/t.jpg", None);
    let got = get(&app, &huge).await;
    assert_eq!(got.status, 400);
    // And the operator's switch for unnamed transformations still holds.
    let locked = TestApp::builder()
        .config(|c| c.delivery.allow_unnamed_transformations = false)
        .start()
        .await;
    upload(
        &locked,
        "t.jpg",
        "photo-exif.jpg",
        &[("isPrivateFile", "true")],
    )
    .await;
    let signed = sign_url(
        &locked.private_key,
        &locked.url_endpoint(),
        "tr:w-20/t.jpg",
        None,
    );
    assert_eq!(get(&locked, &signed).await.status, 403);
}

#[tokio::test]
async fn the_thumbnail_of_a_private_file_stays_public_and_unrasterisable_ones_404() {
    let (app, _) = app_at_now().await;
    let file = upload(
        &app,
        "p.jpg",
        "photo-exif.jpg",
        &[("isPrivateFile", "true")],
    )
    .await;
    let thumb = file["thumbnailUrl"].as_str().expect("thumbnailUrl");
    let unsigned = get(&app, thumb).await;
    assert_eq!(unsigned.status, 200);
    assert_eq!(unsigned.header("cache-control"), Some("public, max-age=60"));
    let signed = sign_url(
        &app.private_key,
        &app.url_endpoint(),
        "tr:n-ik_ml_thumbnail/p.jpg",
        None,
    );
    let got = get(&app, &signed).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.header("cache-control"), Some("private, max-age=60"));

    // A private SVG: its signed original is served sandboxed, its thumbnail is 404 signed or
    // not (never the original).
    let svg = upload(&app, "s.svg", "sized.svg", &[("isPrivateFile", "true")]).await;
    let original = sign_url(&app.private_key, &app.url_endpoint(), "s.svg", None);
    let got = get(&app, &original).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.bytes, fixture("sized.svg"));
    assert_eq!(got.header("content-type"), Some("image/svg+xml"));
    assert!(got
        .header("content-security-policy")
        .expect("CSP")
        .starts_with("sandbox"));
    let thumb = sign_url(
        &app.private_key,
        &app.url_endpoint(),
        "tr:n-ik_ml_thumbnail/s.svg",
        None,
    );
    for url in [thumb.as_str(), svg["thumbnailUrl"].as_str().expect("thumb")] {
        let got = get(&app, url).await;
        assert_eq!(got.status, 404, "{url}");
        assert_ne!(got.bytes, fixture("sized.svg"));
    }
}

#[tokio::test]
async fn public_files_accept_a_valid_signature_and_refuse_a_wrong_one() {
    let (app, _) = app_at_now().await;
    let file = upload(&app, "pub.jpg", "tiny.jpg", &[]).await;
    let rel = relative(&app, &file);
    let plain = get(&app, file["url"].as_str().expect("url")).await;
    assert_eq!(plain.status, 200);
    assert_eq!(plain.header("cache-control"), Some("public, max-age=60"));
    let signed = get(
        &app,
        &sign_url(&app.private_key, &app.url_endpoint(), &rel, None),
    )
    .await;
    assert_eq!(signed.status, 200);
    assert_eq!(signed.bytes, fixture("tiny.jpg"));
    assert_eq!(signed.header("cache-control"), Some("private, max-age=60"));
    get(
        &app,
        &sign_url("private_wrong", &app.url_endpoint(), &rel, None),
    )
    .await
    .assert_refused(INVALID);
}

#[tokio::test]
async fn unpublished_files_stay_404_when_signed() {
    let (app, _) = app_at_now().await;
    let file = upload(
        &app,
        "draft.jpg",
        "tiny.jpg",
        &[("isPrivateFile", "true"), ("isPublished", "false")],
    )
    .await;
    let rel = relative(&app, &file);
    for url in [
        sign_url(&app.private_key, &app.url_endpoint(), &rel, None),
        sign_url(
            &app.private_key,
            &app.url_endpoint(),
            &format!("tr:w-10/{rel}"),
            None,
        ),
    ] {
        let got = get(&app, &url).await;
        assert_eq!(got.status, 404, "{url}");
        assert_eq!(got.header("x-should-retry"), Some("false"));
    }
    // And so do files that do not exist.
    let missing = sign_url(&app.private_key, &app.url_endpoint(), "nothing.jpg", None);
    assert_eq!(get(&app, &missing).await.status, 404);
}

/// The signature covers the request target as sent: the server decodes the path to find the
/// file, but verifies the bytes it received, so any spelling a signer chose works, and no
/// other.
#[tokio::test]
async fn non_ascii_names_verify_on_the_raw_target() {
    let (app, _) = app_at_now().await;
    let file = upload(
        &app,
        "हिन्दी photo.jpg",
        "tiny.jpg",
        &[("isPrivateFile", "true"), ("folder", "/sdk-testing")],
    )
    .await;
    assert_eq!(file["filePath"], "/sdk-testing/हिन्दी_photo.jpg");
    let rel = relative(&app, &file);
    assert!(
        rel.starts_with("sdk-testing/%E0%A4%B9"),
        "the server's own url: {rel}"
    );
    let endpoint = app.url_endpoint();
    let upper = sign_url(&app.private_key, &endpoint, &rel, None);
    assert_eq!(get(&app, &upper).await.status, 200);
    // The same path spelt with lowercase escapes is the same file, and its own signature.
    let lower_rel = rel.replace("%E0%A4%B9", "%e0%a4%b9");
    let lower = sign_url(&app.private_key, &endpoint, &lower_rel, None);
    let got = get(&app, &lower).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.bytes, fixture("tiny.jpg"));
    // One spelling's signature does not cover the other.
    let swapped = format!(
        "{endpoint}/{lower_rel}?ik-s={}",
        upper.rsplit_once("ik-s=").expect("ik-s").1
    );
    get(&app, &swapped).await.assert_refused(INVALID);
}

/// A delivery base with a path (`https://cdn.example/media`): the signed part starts after
/// `/media/default/`, whether the proxy in front forwards `/media` or strips it.
#[tokio::test]
async fn a_delivery_base_with_a_path_is_not_part_of_the_signed_text() {
    let app = TestApp::builder()
        .config(|c| c.delivery.public_url = "https://cdn.example.test/media".to_owned())
        .start()
        .await;
    let file = upload(&app, "m.jpg", "tiny.jpg", &[("isPrivateFile", "true")]).await;
    assert_eq!(file["url"], "https://cdn.example.test/media/default/m.jpg");
    let signed = sign_url(
        &app.private_key,
        "https://cdn.example.test/media/default",
        "m.jpg",
        Some(folio::ids::now_secs() + 300),
    );
    let query = signed.split_once('?').expect("query").1;
    for path in ["/media/default/m.jpg", "/default/m.jpg"] {
        let got = get(&app, &app.url(&format!("{path}?{query}"))).await;
        assert_eq!(got.status, 200, "{path}");
        assert_eq!(got.bytes, fixture("tiny.jpg"));
    }
    // Unsigned, both ways, it stays private.
    for path in ["/media/default/m.jpg", "/default/m.jpg"] {
        get(&app, &app.url(path))
            .await
            .assert_refused(NOT_AUTHORIZED);
    }
}
