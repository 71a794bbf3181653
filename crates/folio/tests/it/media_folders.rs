//! `POST /v1/folder` and `DELETE /v1/folder` (media-api §2).

use reqwest::Method;
use serde_json::json;

use crate::harness::{fixture, TestApp};
use crate::media_files::BAD_JSON;

async fn folders(app: &TestApp) -> Vec<String> {
    let reply = app
        .api(
            reqwest::Method::GET,
            "/v1/files?type=folder&limit=1000",
            None,
        )
        .await;
    let mut paths: Vec<String> = reply
        .assert_ok()
        .as_array()
        .expect("array")
        .iter()
        .map(|f| f["folderPath"].as_str().expect("folderPath").to_owned())
        .collect();
    paths.sort();
    paths
}

#[tokio::test]
async fn create_makes_missing_parents_and_sanitises_the_name() {
    let app = TestApp::start().await;
    let made = app
        .api(
            Method::POST,
            "/v1/folder",
            Some(json!({"folderName": "summer sale!", "parentFolderPath": "/product/images"})),
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.body);
    assert_eq!(made.body, json!({}));
    assert_eq!(
        folders(&app).await,
        [
            "/product",
            "/product/images",
            "/product/images/summer_sale_"
        ]
    );
    // Again: nothing changes, still 201; at the root with `/`.
    for parent in ["product/images/", "/"] {
        let again = app
            .api(
                Method::POST,
                "/v1/folder",
                Some(json!({"folderName": "summer sale!", "parentFolderPath": parent})),
            )
            .await;
        assert_eq!(again.status, 201, "{}", again.body);
    }
    assert_eq!(folders(&app).await.len(), 4);
}

#[tokio::test]
async fn create_refuses_bad_input_exactly() {
    let app = TestApp::start().await;
    let path = "/v1/folder";
    let cases = [
        (
            json!({"parentFolderPath": "/"}),
            "Your request is missing folderName parameter.",
        ),
        (
            json!({"folderName": "  ", "parentFolderPath": "/"}),
            "Your request is missing folderName parameter.",
        ),
        (
            json!({"folderName": "a"}),
            "Your request is missing parentFolderPath parameter.",
        ),
        (
            json!({"folderName": 5, "parentFolderPath": "/"}),
            "Your request contains invalid folderName parameter.",
        ),
        (
            json!({"folderName": "a", "parentFolderPath": ["/"]}),
            "Your request contains invalid parentFolderPath parameter.",
        ),
        (
            json!({"folderName": "x".repeat(300), "parentFolderPath": "/"}),
            "Your request contains invalid folderName parameter.",
        ),
        (
            json!({"folderName": "a", "parentFolderPath": "/a".repeat(50)}),
            "Your request contains invalid folderName parameter.",
        ),
        (
            json!({"folderName": "a", "parentFolderPath": "/a".repeat(51)}),
            "Your request contains invalid parentFolderPath parameter.",
        ),
    ];
    for (body, message) in cases {
        app.api(Method::POST, path, Some(body))
            .await
            .assert_error(400, message);
    }
    for raw in ["", "{", "[]", "null"] {
        app.api_raw(Method::POST, path, Some(raw), Some(&app.basic()))
            .await
            .assert_error(400, BAD_JSON);
    }
    app.api_raw(
        Method::POST,
        path,
        Some(r#"{"folderName":"a","parentFolderPath":"/"}"#),
        None,
    )
    .await
    .assert_error(401, "Your request does not contain private API key.");
    app.api_raw(
        Method::POST,
        path,
        Some(r#"{"folderName":"a","parentFolderPath":"/"}"#),
        Some("Basic cHJpdmF0ZV9ub3BlOg=="),
    )
    .await
    .assert_error(403, "Your account cannot be authenticated.");
    assert!(folders(&app).await.is_empty(), "nothing was created");
}

#[tokio::test]
async fn delete_removes_files_versions_subfolders_and_blobs() {
    let app = TestApp::start().await;
    app.put_file(fixture("tiny.jpg"), "/keep", "k.jpg").await;
    app.put_file(fixture("tiny.jpg"), "/gone", "a.jpg").await;
    app.put_file(fixture("tiny.jpg"), "/gone", "a.jpg").await; // a second version
    let deep = app
        .put_file(fixture("tiny.jpg"), "/gone/deep/er", "b.jpg")
        .await;
    // A rendition of a deleted version goes too.
    let thumb = app.get(deep["thumbnailUrl"].as_str().expect("thumb")).await;
    assert_eq!(thumb.status(), 200);
    // `/gonex` shares the prefix of `/gone` but is another folder.
    app.put_file(fixture("tiny.jpg"), "/gonex", "c.jpg").await;
    app.api(
        Method::POST,
        "/v1/folder",
        Some(json!({"folderName": "empty", "parentFolderPath": "/gone/deep"})),
    )
    .await;
    assert_eq!(app.stored_blobs().len(), 6, "{:?}", app.stored_blobs());

    let deleted = app
        .api(
            Method::DELETE,
            "/v1/folder",
            Some(json!({"folderPath": "gone/"})),
        )
        .await;
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    assert_eq!(folders(&app).await, ["/gonex", "/keep"]);
    assert_eq!(app.paths_under("/").await, ["/gonex/c.jpg", "/keep/k.jpg"]);
    let blobs = app.stored_blobs();
    assert_eq!(
        blobs.len(),
        2,
        "version blobs and renditions are gone: {blobs:?}"
    );
    assert!(blobs.iter().all(|k| k.starts_with("v/")), "{blobs:?}");
    let details = app
        .api(
            Method::GET,
            &format!("/v1/files/{}/details", deep["fileId"].as_str().expect("id")),
            None,
        )
        .await;
    details.assert_error(404, "The requested file does not exist.");

    // Now unknown; an empty folder is deleted like any other.
    app.api(
        Method::DELETE,
        "/v1/folder",
        Some(json!({"folderPath": "/gone"})),
    )
    .await
    .assert_error(404, "No folder found with folderPath /gone");
    app.api(
        Method::POST,
        "/v1/folder",
        Some(json!({"folderName": "e", "parentFolderPath": "/"})),
    )
    .await;
    let empty = app
        .api(
            Method::DELETE,
            "/v1/folder/",
            Some(json!({"folderPath": "/e/"})),
        )
        .await;
    assert_eq!(empty.status, 204, "{}", empty.body);
}

#[tokio::test]
async fn delete_refuses_bad_input_exactly() {
    let app = TestApp::start().await;
    app.put_file(fixture("tiny.jpg"), "/a", "x.jpg").await;
    let path = "/v1/folder";
    let cases = [
        (
            json!({}),
            400,
            "Your request is missing folderPath parameter.",
        ),
        (
            json!({"folderPath": 1}),
            400,
            "Your request contains invalid folderPath parameter.",
        ),
        (
            json!({"folderPath": "/"}),
            400,
            "Your request contains invalid folderPath parameter.",
        ),
        (
            json!({"folderPath": "/nope"}),
            404,
            "No folder found with folderPath /nope",
        ),
        (
            json!({"folderPath": "/a/x.jpg"}),
            404,
            "No folder found with folderPath /a/x.jpg",
        ),
    ];
    for (body, status, message) in cases {
        app.api(Method::DELETE, path, Some(body))
            .await
            .assert_error(status, message);
    }
    app.api_raw(Method::DELETE, path, None, Some(&app.basic()))
        .await
        .assert_error(400, BAD_JSON);
    app.api_raw(Method::DELETE, path, Some(r#"{"folderPath":"/a"}"#), None)
        .await
        .assert_error(401, "Your request does not contain private API key.");
    assert_eq!(
        app.paths_under("/").await,
        ["/a/x.jpg"],
        "nothing was deleted"
    );
}
