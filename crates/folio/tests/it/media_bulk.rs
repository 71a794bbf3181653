//! Bulk operations of the media API (media-api §2): all or nothing, `missingFileIds` on 404.

use reqwest::Method;
use serde_json::{json, Value};

use crate::harness::{fixture, TestApp};
use crate::media_files::{BAD_JSON, UNKNOWN_ID};

const MISSING: &str = "The requested file(s) does not exist.";

fn id(v: &Value) -> String {
    v["fileId"].as_str().expect("fileId").to_owned()
}

async fn tags_of(app: &TestApp, file_id: &str) -> Value {
    app.api(Method::GET, &format!("/v1/files/{file_id}/details"), None)
        .await
        .assert_ok()["tags"]
        .clone()
}

#[tokio::test]
async fn bulk_delete_is_all_or_nothing() {
    let app = TestApp::start().await;
    let a = app.put_file(fixture("tiny.jpg"), "/", "a.jpg").await;
    app.put_file(fixture("tiny.jpg"), "/", "a.jpg").await;
    let b = app.put_file(fixture("tiny.jpg"), "/", "b.jpg").await;
    let c = app.put_file(fixture("tiny.jpg"), "/", "c.jpg").await;
    let path = "/v1/files/batch/deleteByFileIds";

    let refused = app
        .api(
            Method::POST,
            path,
            Some(json!({"fileIds": [id(&a), UNKNOWN_ID, "junk"]})),
        )
        .await;
    refused.assert_error(404, MISSING);
    assert_eq!(refused.body["missingFileIds"], json!([UNKNOWN_ID, "junk"]));
    assert_eq!(app.stored_blobs().len(), 4, "nothing deleted");

    let done = app
        .api(
            Method::POST,
            path,
            Some(json!({"fileIds": [id(&a), id(&b)]})),
        )
        .await;
    assert_eq!(
        done.assert_ok(),
        &json!({"successfullyDeletedFileIds": [id(&a), id(&b)]})
    );
    let left = app.stored_blobs();
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(left[0].ends_with(&id(&c)));

    let too_many: Vec<String> = (0..101).map(|_| UNKNOWN_ID.to_owned()).collect();
    for (body, message) in [
        (
            json!({"fileIds": too_many}).to_string(),
            "Your request contains invalid fileIds parameter.",
        ),
        (
            json!({"fileIds": []}).to_string(),
            "Your request contains invalid fileIds parameter.",
        ),
        (
            json!({"fileIds": "x"}).to_string(),
            "Your request contains invalid fileIds parameter.",
        ),
        (
            json!({}).to_string(),
            "Your request is missing fileIds parameter.",
        ),
        ("{\"fileIds\":".to_owned(), BAD_JSON),
    ] {
        app.api_raw(
            Method::POST,
            &format!("{path}/"),
            Some(&body),
            Some(&app.basic()),
        )
        .await
        .assert_error(400, message);
    }
    app.api_raw(Method::POST, path, Some("{}"), None)
        .await
        .assert_error(401, "Your request does not contain private API key.");
}

#[tokio::test]
async fn tags_are_added_and_removed_in_bulk() {
    let app = TestApp::start().await;
    let a = app
        .upload(
            fixture("tiny.jpg"),
            &[
                ("fileName", "a.jpg"),
                ("useUniqueFileName", "false"),
                ("tags", "x"),
            ],
        )
        .await
        .assert_ok()
        .clone();
    let b = app.put_file(fixture("tiny.jpg"), "/", "b.jpg").await;
    let ids = json!([id(&a), id(&b)]);

    let added = app
        .api(
            Method::POST,
            "/v1/files/addTags",
            Some(json!({"fileIds": ids, "tags": ["y", "x"]})),
        )
        .await;
    assert_eq!(
        added.assert_ok(),
        &json!({"successfullyUpdatedFileIds": [id(&a), id(&b)]})
    );
    assert_eq!(tags_of(&app, &id(&a)).await, json!(["x", "y"]));
    assert_eq!(tags_of(&app, &id(&b)).await, json!(["y", "x"]));

    let refused = app
        .api(
            Method::POST,
            "/v1/files/removeTags",
            Some(json!({"fileIds": [id(&a), UNKNOWN_ID], "tags": ["x"]})),
        )
        .await;
    refused.assert_error(404, MISSING);
    assert_eq!(refused.body["missingFileIds"], json!([UNKNOWN_ID]));
    assert_eq!(
        tags_of(&app, &id(&a)).await,
        json!(["x", "y"]),
        "nothing changed"
    );

    app.api(
        Method::POST,
        "/v1/files/removeTags/",
        Some(json!({"fileIds": ids, "tags": ["x", "y"]})),
    )
    .await
    .assert_ok();
    assert_eq!(tags_of(&app, &id(&a)).await, Value::Null);

    let too_many: Vec<String> = (0..51).map(|_| id(&a)).collect();
    app.api(
        Method::POST,
        "/v1/files/addTags",
        Some(json!({"fileIds": too_many, "tags": ["z"]})),
    )
    .await
    .assert_error(400, "Your request contains invalid fileIds parameter.");
    app.api(
        Method::POST,
        "/v1/files/addTags",
        Some(json!({"fileIds": [id(&a)]})),
    )
    .await
    .assert_error(400, "Your request is missing tags parameter.");
    app.api(
        Method::POST,
        "/v1/files/addTags",
        Some(json!({"fileIds": [id(&a)], "tags": [1]})),
    )
    .await
    .assert_error(400, "Your request contains invalid tags parameter.");
}

#[tokio::test]
async fn ai_tags_are_removed_in_bulk() {
    let app = TestApp::start().await;
    let a = app.put_file(fixture("tiny.jpg"), "/", "a.jpg").await;
    let tags = json!([
        {"name": "Dress", "confidence": 90, "source": "aws-auto-tagging"},
        {"name": "Red", "confidence": 80, "source": "aws-auto-tagging"}
    ]);
    app.catalog()
        .set_ai_tags(a["versionInfo"]["id"].as_str().expect("v"), &tags)
        .await
        .expect("set");
    let refused = app
        .api(
            Method::POST,
            "/v1/files/removeAITags",
            Some(json!({"fileIds": [UNKNOWN_ID], "AITags": ["Dress"]})),
        )
        .await;
    refused.assert_error(404, MISSING);
    let done = app
        .api(
            Method::POST,
            "/v1/files/removeAITags",
            Some(json!({"fileIds": [id(&a)], "AITags": ["Dress"]})),
        )
        .await;
    assert_eq!(
        done.assert_ok(),
        &json!({"successfullyUpdatedFileIds": [id(&a)]})
    );
    let details = app
        .api(Method::GET, &format!("/v1/files/{}/details", id(&a)), None)
        .await;
    assert_eq!(details.assert_ok()["AITags"], json!([tags[1]]));
    app.api(
        Method::POST,
        "/v1/files/removeAITags",
        Some(json!({"fileIds": [id(&a)]})),
    )
    .await
    .assert_error(400, "Your request is missing AITags parameter.");
}
