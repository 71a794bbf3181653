//! Phase A and mode selection (spec §2.1, §2.4; Appendix A items 1–4).

use base64::Engine;

use crate::harness::{fixture, form_with_file, TestApp};

fn basic(raw: &str, scheme: &str) -> String {
    format!(
        "{scheme} {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

#[tokio::test]
async fn basic_upload_of_a_jpeg_gives_the_upload_object() {
    let app = TestApp::start().await;
    let reply = app
        .upload(
            fixture("photo-exif.jpg"),
            &[("fileName", "summer-dress.jpg"), ("folder", "/products/")],
        )
        .await;
    let body = reply.assert_ok().clone();
    assert_eq!(body["fileType"], "image");
    assert_eq!(body["versionInfo"]["name"], "Version 1");
    assert_eq!(body["versionInfo"]["id"], body["fileId"]);
    let name = body["name"].as_str().expect("name");
    let suffix = name
        .strip_prefix("summer-dress_")
        .and_then(|s| s.strip_suffix(".jpg"))
        .expect("suffix between name and extension");
    assert_eq!(suffix.len(), 9);
    assert!(suffix
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'));
    assert!(body["thumbnailUrl"]
        .as_str()
        .expect("thumbnailUrl")
        .contains("/tr:n-ik_ml_thumbnail/"));
    insta::assert_json_snapshot!(body, {
        ".fileId" => "[id]",
        ".versionInfo.id" => "[id]",
        ".name" => "[name]",
        ".filePath" => "[path]",
        ".url" => "[url]",
        ".thumbnailUrl" => "[url]",
    });
    assert_eq!(
        body["url"].as_str().expect("url"),
        format!("{}/default/products/{name}", app.base)
    );
}

#[tokio::test]
async fn every_way_the_clients_send_basic_credentials_works() {
    let app = TestApp::start().await;
    let key = app.private_key.clone();
    for header in [
        basic(&format!("{key}:do_not_set"), "Basic"),
        basic(&format!("{key}:"), "Basic"),
        basic(&format!("{key}:"), "basic"),
        basic(&key, "BASIC"),
    ] {
        let form = form_with_file(fixture("tiny.jpg"), &[("fileName", "a.jpg")]);
        app.post("/api/v2/files/upload", form, Some(&header))
            .await
            .assert_ok();
        let form = form_with_file(fixture("tiny.jpg"), &[("fileName", "a.jpg")]);
        app.post("/api/v1/files/upload", form, Some(&header))
            .await
            .assert_ok();
    }
}

#[tokio::test]
async fn wrong_or_missing_credentials() {
    let app = TestApp::start().await;
    let form = || form_with_file(fixture("tiny.jpg"), &[("fileName", "a.jpg")]);
    app.post(
        "/api/v2/files/upload",
        form(),
        Some(&basic("private_nope:", "Basic")),
    )
    .await
    .assert_error(403, "Your account cannot be authenticated.");
    app.post("/api/v1/files/upload", form(), None)
        .await
        .assert_error(401, "Your request does not contain private API key.");
    app.post("/api/v2/files/upload", form(), None)
        .await
        .assert_error(400, "Your request is missing token parameter.");
    app.post(
        "/api/v2/files/upload",
        form(),
        Some(&basic(":secret", "Basic")),
    )
    .await
    .assert_error(401, "Your request does not contain private API key.");
    app.post("/api/v2/files/upload", form(), Some("Basic %%%"))
        .await
        .assert_error(401, "Your request does not contain private API key.");
    // Another scheme counts as no Basic credentials.
    app.post("/api/v2/files/upload", form(), Some("Bearer abc"))
        .await
        .assert_error(400, "Your request is missing token parameter.");
    app.assert_no_orphan_blobs(0).await;
}

#[tokio::test]
async fn basic_together_with_client_side_fields_is_refused() {
    let app = TestApp::start().await;
    let token = app.token(&[("fileName", "a.jpg")]);
    // token before and after the file part
    let form = form_with_file(
        fixture("tiny.jpg"),
        &[("fileName", "a.jpg"), ("token", &token)],
    );
    app.post("/api/v2/files/upload", form, Some(&app.basic()))
        .await
        .assert_error(400, "Your request contains both token and basic auth parameter. Use only one method, you might be exposing your private API key.");
    let form =
        form_with_file(fixture("tiny.jpg"), &[("fileName", "a.jpg")]).text("token", token.clone());
    app.post("/api/v2/files/upload", form, Some(&app.basic()))
        .await
        .assert_error(400, "Your request contains both token and basic auth parameter. Use only one method, you might be exposing your private API key.");
    for field in ["signature", "token", "expire"] {
        let form = form_with_file(fixture("tiny.jpg"), &[("fileName", "a.jpg"), (field, "x")]);
        app.post("/api/v1/files/upload", form, Some(&app.basic()))
            .await
            .assert_error(400, "Your request contains both signature and basic auth parameter. Use only one method, you might be exposing your private API key.");
    }
    // Basic + only publicKey on v1, and Basic + an empty token on v2: Basic wins.
    let form = form_with_file(
        fixture("tiny.jpg"),
        &[("fileName", "a.jpg"), ("publicKey", "public_x")],
    );
    app.post("/api/v1/files/upload", form, Some(&app.basic()))
        .await
        .assert_ok();
    let form = form_with_file(fixture("tiny.jpg"), &[("fileName", "a.jpg"), ("token", "")]);
    app.post("/api/v2/files/upload", form, Some(&app.basic()))
        .await
        .assert_ok();
    app.assert_no_orphan_blobs(2).await;
}

#[tokio::test]
async fn revoked_keys_stop_working() {
    let app = TestApp::start().await;
    let state = &app.server.as_ref().expect("server").state;
    let fresh = state.catalog.create_key(None, None).await.expect("create");
    let header = basic(&format!("{}:", fresh.private_key), "Basic");
    let form = || form_with_file(fixture("tiny.jpg"), &[("fileName", "a.jpg")]);
    app.post("/api/v2/files/upload", form(), Some(&header))
        .await
        .assert_ok();
    assert!(state
        .catalog
        .revoke_key(&fresh.public_key)
        .await
        .expect("revoke"));
    app.post("/api/v2/files/upload", form(), Some(&header))
        .await
        .assert_error(403, "Your account cannot be authenticated.");
    // the other pair still works: rotation
    app.post("/api/v2/files/upload", form(), Some(&app.basic()))
        .await
        .assert_ok();
}
