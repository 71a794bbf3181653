//! The media API on files (media-api §2, upload-api §8): details, update, delete, copy, move,
//! rename and metadata, over HTTP, with their exact errors.

use reqwest::Method;
use serde_json::{json, Value};

use crate::harness::{fixture, TestApp};

pub const INVALID_FILE_ID: &str = "Your request contains invalid fileId parameter.";
pub const NO_FILE: &str = "The requested file does not exist.";
pub const BAD_JSON: &str = "Your request contains an invalid JSON body.";
pub const UNKNOWN_ID: &str = "65a000000000000000000000";

/// The current version at `path`, straight from the catalog.
pub async fn at_path(app: &TestApp, path: &str) -> Option<folio::store::StoredVersion> {
    let account = app
        .catalog()
        .key_by_private(&app.private_key)
        .await
        .expect("key")
        .expect("key")
        .account
        .id;
    app.catalog()
        .current_by_path(&account, path)
        .await
        .expect("lookup")
}

/// Redactions for what changes from run to run.
macro_rules! details_snapshot {
    ($value:expr) => {
        insta::assert_json_snapshot!($value, {
            ".fileId" => "[id]",
            ".versionInfo.id" => "[id]",
            ".createdAt" => "[time]",
            ".updatedAt" => "[time]",
            ".url" => "[url]",
            ".thumbnail" => "[url]",
        })
    };
}

#[tokio::test]
async fn details_of_an_uploaded_file() {
    let app = TestApp::start().await;
    let up = app
        .upload(
            fixture("photo-exif.jpg"),
            &[
                ("fileName", "red dress.jpg"),
                ("folder", "/sale"),
                ("useUniqueFileName", "false"),
                ("tags", "summer,red"),
                ("customCoordinates", "10,10,20,20"),
            ],
        )
        .await
        .assert_ok()
        .clone();
    let id = up["fileId"].as_str().expect("id");
    let got = app
        .api(Method::GET, &format!("/v1/files/{id}/details"), None)
        .await;
    let body = got.assert_ok().clone();
    assert_eq!(body["fileId"], up["fileId"]);
    assert_eq!(body["url"], up["url"]);
    assert_eq!(body["thumbnail"], up["thumbnailUrl"]);
    let created = body["createdAt"].as_str().expect("createdAt");
    assert_eq!(created.len(), "2024-01-01T00:00:00.000Z".len(), "{created}");
    assert!(
        created.ends_with('Z') && created.as_bytes()[19] == b'.',
        "{created}"
    );
    details_snapshot!(body);

    // Old clients add a trailing slash.
    let slashed = app
        .api(Method::GET, &format!("/v1/files/{id}/details/"), None)
        .await;
    assert_eq!(slashed.assert_ok(), &got.body);
}

#[tokio::test]
async fn bad_ids_unknown_files_and_credentials_get_their_errors() {
    let app = TestApp::start().await;
    let up = app.put_file(fixture("tiny.jpg"), "/", "a.jpg").await;
    let id = up["fileId"].as_str().expect("id");
    for (method, path) in [
        (Method::GET, "/v1/files/{id}/details"),
        (Method::PATCH, "/v1/files/{id}/details"),
        (Method::DELETE, "/v1/files/{id}"),
        (Method::GET, "/v1/files/{id}/versions"),
        (Method::GET, "/v1/files/{id}/metadata"),
    ] {
        let body = (method == Method::PATCH).then(|| json!({}));
        for bad in [
            "nope",
            "65A000000000000000000000",
            "65a00000000000000000000",
        ] {
            app.api(method.clone(), &path.replace("{id}", bad), body.clone())
                .await
                .assert_error(400, INVALID_FILE_ID);
        }
        let unknown = app
            .api(
                method.clone(),
                &path.replace("{id}", UNKNOWN_ID),
                body.clone(),
            )
            .await;
        unknown.assert_error(404, NO_FILE);
        assert_eq!(unknown.headers["x-should-retry"], "false");

        let url = path.replace("{id}", id);
        app.api_raw(method.clone(), &url, Some("{}"), None)
            .await
            .assert_error(401, "Your request does not contain private API key.");
        let wrong = {
            use base64::Engine;
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode("private_wrong:")
            )
        };
        app.api_raw(method.clone(), &url, Some("{}"), Some(&wrong))
            .await
            .assert_error(403, "Your account cannot be authenticated.");
        // The public key is no credential here.
        let public = {
            use base64::Engine;
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{}:", app.public_key))
            )
        };
        app.api_raw(method, &url, Some("{}"), Some(&public))
            .await
            .assert_error(403, "Your account cannot be authenticated.");
    }
}

#[tokio::test]
async fn update_sets_and_clears_attributes_of_the_current_version() {
    let app = TestApp::start().await;
    app.api(
        Method::POST,
        "/v1/customMetadataFields",
        Some(json!({"name": "brand", "label": "Brand", "schema": {"type": "Text"}})),
    )
    .await;
    app.api(
        Method::POST,
        "/v1/customMetadataFields",
        Some(json!({"name": "price", "label": "Price", "schema": {"type": "Number", "maxValue": 100}})),
    )
    .await;
    let up = app.put_file(fixture("tiny.jpg"), "/", "u.jpg").await;
    let id = up["fileId"].as_str().expect("id");
    let path = format!("/v1/files/{id}/details");

    let updated = app
        .api(
            Method::PATCH,
            &path,
            Some(json!({
                "tags": ["a", "b", "a"],
                "customCoordinates": "1,2,3,4",
                "description": "a dress",
                "customMetadata": {"brand": "Nike", "price": 10},
            })),
        )
        .await
        .assert_ok()
        .clone();
    assert_eq!(updated["tags"], json!(["a", "b"]));
    assert_eq!(updated["customCoordinates"], "1,2,3,4");
    assert_eq!(updated["description"], "a dress");
    assert_eq!(
        updated["customMetadata"],
        json!({"brand": "Nike", "price": 10})
    );
    assert_eq!(updated["type"], "file");

    // `null` unsets a key, and clears tags and coordinates; other keys stay.
    let cleared = app
        .api(
            Method::PATCH,
            &path,
            Some(
                json!({"tags": null, "customCoordinates": null, "customMetadata": {"price": null}}),
            ),
        )
        .await
        .assert_ok()
        .clone();
    assert_eq!(cleared["tags"], Value::Null);
    assert_eq!(cleared["customCoordinates"], Value::Null);
    assert_eq!(cleared["customMetadata"], json!({"brand": "Nike"}));
    assert_eq!(cleared["description"], "a dress");
    // What details shows is what was stored.
    let details = app.api(Method::GET, &path, None).await;
    assert_eq!(details.assert_ok(), &cleared);

    // §9.3 validation, nothing stored on failure.
    let refused = app
        .api(
            Method::PATCH,
            &path,
            Some(json!({"customMetadata": {"price": 1000, "size": "M"}})),
        )
        .await;
    refused.assert_error(400, "Invalid custom metadata.");
    assert_eq!(
        refused.body["errors"],
        json!({"price": "should be <= 100", "size": "not a defined custom metadata field"})
    );
    for (body, message) in [
        ("{", BAD_JSON),
        ("[1]", BAD_JSON),
        ("", BAD_JSON),
        (
            r#"{"tags": "a"}"#,
            "Your request contains invalid tags parameter.",
        ),
        (
            r#"{"tags": [1]}"#,
            "Your request contains invalid tags parameter.",
        ),
        (
            r#"{"customCoordinates": "1,2"}"#,
            "Your request contains invalid customCoordinates parameter.",
        ),
        (
            r#"{"description": 5}"#,
            "Your request contains invalid description parameter.",
        ),
        (
            r#"{"removeAITags": "some"}"#,
            "Your request contains invalid removeAITags parameter.",
        ),
        (
            r#"{"publish": {"isPublished": "no"}}"#,
            "Your request contains invalid publish parameter.",
        ),
        (
            r#"{"publish": {"isPublished": true}, "tags": []}"#,
            "Your request contains invalid publish parameter.",
        ),
        (
            r#"{"extensions": "x"}"#,
            "Your request contains invalid extensions parameter.",
        ),
        (
            r#"{"webhookUrl": "ftp://x"}"#,
            "Your request contains invalid webhookUrl parameter.",
        ),
    ] {
        app.api_raw(Method::PATCH, &path, Some(body), Some(&app.basic()))
            .await
            .assert_error(400, message);
    }
    let after = app.api(Method::GET, &path, None).await;
    assert_eq!(
        after.assert_ok(),
        &cleared,
        "refused updates changed nothing"
    );
}

#[tokio::test]
async fn remove_ai_tags_by_name_or_all() {
    let app = TestApp::start().await;
    let up = app.put_file(fixture("tiny.jpg"), "/", "ai.jpg").await;
    let id = up["fileId"].as_str().expect("id");
    let tags = json!([
        {"name": "Dress", "confidence": 90, "source": "google-auto-tagging"},
        {"name": "Red", "confidence": 80, "source": "google-auto-tagging"}
    ]);
    app.catalog()
        .set_ai_tags(up["versionInfo"]["id"].as_str().expect("v"), &tags)
        .await
        .expect("set");
    let path = format!("/v1/files/{id}/details");
    let one = app
        .api(
            Method::PATCH,
            &path,
            Some(json!({"removeAITags": ["Dress"]})),
        )
        .await;
    assert_eq!(one.assert_ok()["AITags"], json!([tags[1]]));
    let all = app
        .api(Method::PATCH, &path, Some(json!({"removeAITags": "all"})))
        .await;
    assert_eq!(all.assert_ok()["AITags"], Value::Null);
}

#[tokio::test]
async fn publish_and_unpublish_with_or_without_versions() {
    let app = TestApp::start().await;
    let v1 = app.put_file(fixture("tiny.jpg"), "/", "p.jpg").await;
    let v2 = app.put_file(fixture("tiny.jpg"), "/", "p.jpg").await;
    let id = v1["fileId"].as_str().expect("id");
    let path = format!("/v1/files/{id}/details");
    let url = v2["url"].as_str().expect("url");

    let off = app
        .api(
            Method::PATCH,
            &path,
            Some(json!({"publish": {"isPublished": false}})),
        )
        .await;
    assert_eq!(off.assert_ok()["isPublished"], false);
    assert_eq!(
        app.get(url).await.status(),
        404,
        "unpublished files are not served"
    );
    let versions = app
        .api(Method::GET, &format!("/v1/files/{id}/versions"), None)
        .await;
    let published: Vec<&Value> = versions
        .assert_ok()
        .as_array()
        .expect("array")
        .iter()
        .map(|v| &v["isPublished"])
        .collect();
    assert_eq!(
        published,
        [&json!(false), &json!(true)],
        "older version untouched"
    );

    app.api(
        Method::PATCH,
        &path,
        Some(json!({"publish": {"isPublished": false, "includeFileVersions": true}})),
    )
    .await
    .assert_ok();
    let versions = app
        .api(Method::GET, &format!("/v1/files/{id}/versions"), None)
        .await;
    assert!(versions
        .assert_ok()
        .as_array()
        .expect("array")
        .iter()
        .all(|v| v["isPublished"] == false));

    app.api(
        Method::PATCH,
        &path,
        Some(json!({"publish": {"isPublished": true}})),
    )
    .await
    .assert_ok();
    assert_eq!(app.get(url).await.status(), 200);
}

#[tokio::test]
async fn delete_removes_every_version_its_renditions_and_the_rows() {
    let app = TestApp::start().await;
    let v1 = app
        .put_file(fixture("photo-exif.jpg"), "/d", "gone.jpg")
        .await;
    let v2 = app
        .put_file(fixture("photo-exif.jpg"), "/d", "gone.jpg")
        .await;
    let keep = app.put_file(fixture("tiny.jpg"), "/d", "keep.jpg").await;
    // A cached thumbnail: a rendition blob under d/<version id>/.
    let thumb = app.get(v2["thumbnailUrl"].as_str().expect("thumb")).await;
    assert_eq!(thumb.status(), 200);
    let rendition = format!("d/{}/", v2["versionInfo"]["id"].as_str().expect("v"));
    assert!(app.stored_blobs().iter().any(|b| b.starts_with(&rendition)));

    let id = v1["fileId"].as_str().expect("id");
    let deleted = app
        .api(Method::DELETE, &format!("/v1/files/{id}"), None)
        .await;
    assert_eq!(deleted.status, 204);
    assert_eq!(deleted.body, Value::Null, "empty body");

    app.api(Method::GET, &format!("/v1/files/{id}/details"), None)
        .await
        .assert_error(404, NO_FILE);
    app.api(Method::DELETE, &format!("/v1/files/{id}"), None)
        .await
        .assert_error(404, NO_FILE);
    assert!(at_path(&app, "/d/gone.jpg").await.is_none());
    assert_eq!(
        app.get(v2["url"].as_str().expect("url")).await.status(),
        404
    );
    let keep_blob = format!(
        "v/{}",
        &keep["versionInfo"]["id"].as_str().expect("v")[22..]
    );
    let blobs = app.stored_blobs();
    assert_eq!(
        blobs,
        [format!(
            "{keep_blob}/{}",
            keep["versionInfo"]["id"].as_str().expect("v")
        )],
        "only the other file's blob is left"
    );
}

#[tokio::test]
async fn copy_makes_new_blobs_and_appends_to_a_same_named_file() {
    let app = TestApp::start().await;
    let v1 = app.put_file(fixture("tiny.jpg"), "/src", "c.jpg").await;
    let v2 = app
        .put_file(fixture("photo-exif.jpg"), "/src", "c.jpg")
        .await;

    let copied = app
        .api(
            Method::POST,
            "/v1/files/copy",
            Some(json!({"sourceFilePath": "/src/c.jpg", "destinationPath": "/dst/"})),
        )
        .await;
    assert_eq!((copied.status, &copied.body), (204, &Value::Null));
    let copy = at_path(&app, "/dst/c.jpg").await.expect("copied");
    assert_ne!(copy.file_id, v1["fileId"].as_str().expect("id"));
    assert_eq!(copy.version_number, 1, "the current version only");
    assert_eq!(copy.size, fixture("photo-exif.jpg").len() as u64);
    let served = app
        .get(&format!("{}/dst/c.jpg", app.url_endpoint()))
        .await
        .bytes()
        .await
        .expect("bytes");
    assert_eq!(served.to_vec(), fixture("photo-exif.jpg"));
    assert_eq!(app.stored_blobs().len(), 3, "a blob of its own");

    // Again, with every version: they become new versions of the file already there.
    app.api(
        Method::POST,
        "/v1/files/copy/",
        Some(json!({"sourceFilePath": "src/c.jpg", "destinationPath": "dst", "includeFileVersions": true})),
    )
    .await;
    let copy2 = at_path(&app, "/dst/c.jpg").await.expect("copied");
    assert_eq!(copy2.file_id, copy.file_id);
    assert_eq!(copy2.version_number, 3);
    assert_eq!(copy2.size, v2["size"].as_u64().expect("size"));
    let versions = app
        .api(
            Method::GET,
            &format!("/v1/files/{}/versions", copy.file_id),
            None,
        )
        .await;
    assert_eq!(versions.assert_ok().as_array().expect("array").len(), 3);
    assert_eq!(app.stored_blobs().len(), 5);

    // The source can go; the copies keep their own bytes.
    app.api(
        Method::DELETE,
        &format!("/v1/files/{}", v1["fileId"].as_str().expect("id")),
        None,
    )
    .await;
    assert_eq!(app.stored_blobs().len(), 3);
    assert_eq!(
        app.get(&format!("{}/dst/c.jpg", app.url_endpoint()))
            .await
            .status(),
        200
    );

    for (body, status, message) in [
        (
            json!({"sourceFilePath": "/nope.jpg", "destinationPath": "/x"}),
            404,
            "No file found with filePath /nope.jpg",
        ),
        (
            json!({"destinationPath": "/x"}),
            400,
            "Your request is missing sourceFilePath parameter.",
        ),
        (
            json!({"sourceFilePath": "/dst/c.jpg"}),
            400,
            "Your request is missing destinationPath parameter.",
        ),
        (
            json!({"sourceFilePath": 5, "destinationPath": "/x"}),
            400,
            "Your request contains invalid sourceFilePath parameter.",
        ),
        (
            json!({"sourceFilePath": "/dst/c.jpg", "destinationPath": "/x", "includeFileVersions": "yes"}),
            400,
            "Your request contains invalid includeFileVersions parameter.",
        ),
    ] {
        app.api(Method::POST, "/v1/files/copy", Some(body))
            .await
            .assert_error(status, message);
    }
    app.api_raw(
        Method::POST,
        "/v1/files/copy",
        Some("not json"),
        Some(&app.basic()),
    )
    .await
    .assert_error(400, BAD_JSON);
}

#[tokio::test]
async fn move_keeps_the_file_and_its_blobs() {
    let app = TestApp::start().await;
    let up = app.put_file(fixture("tiny.jpg"), "/a", "m.jpg").await;
    let blobs = app.stored_blobs();
    let moved = app
        .api(
            Method::POST,
            "/v1/files/move",
            Some(json!({"sourceFilePath": "/a/m.jpg", "destinationPath": "/b/c"})),
        )
        .await;
    assert_eq!(moved.status, 204);
    let now = at_path(&app, "/b/c/m.jpg").await.expect("moved");
    assert_eq!(now.file_id, up["fileId"].as_str().expect("id"));
    assert!(at_path(&app, "/a/m.jpg").await.is_none());
    assert_eq!(app.stored_blobs(), blobs, "no blob copied or lost");
    assert_eq!(
        app.get(&format!("{}/b/c/m.jpg", app.url_endpoint()))
            .await
            .status(),
        200
    );
    assert_eq!(
        app.get(up["url"].as_str().expect("url")).await.status(),
        404
    );
    app.api(
        Method::POST,
        "/v1/files/move",
        Some(json!({"sourceFilePath": "/a/m.jpg", "destinationPath": "/b"})),
    )
    .await
    .assert_error(404, "No file found with filePath /a/m.jpg");
}

#[tokio::test]
async fn rename_sanitises_and_refuses_a_taken_name() {
    let app = TestApp::start().await;
    let up = app.put_file(fixture("tiny.jpg"), "/r", "old.jpg").await;
    app.put_file(fixture("tiny.jpg"), "/r", "taken.jpg").await;
    let renamed = app
        .api(
            Method::PUT,
            "/v1/files/rename",
            Some(json!({"filePath": "/r/old.jpg", "newFileName": "new name (1).jpg", "purgeCache": false})),
        )
        .await;
    assert_eq!(renamed.assert_ok(), &json!({}));
    let now = at_path(&app, "/r/new_name__1_.jpg").await.expect("renamed");
    assert_eq!(now.file_id, up["fileId"].as_str().expect("id"));

    let taken = app
        .api(
            Method::PUT,
            "/v1/files/rename/",
            Some(json!({"filePath": "/r/new_name__1_.jpg", "newFileName": "taken.jpg"})),
        )
        .await;
    assert_eq!(taken.status, 409, "{}", taken.body);
    assert_eq!(taken.body["reason"], "FILE_ALREADY_EXISTS");
    assert!(taken.body["message"].is_string() && taken.body["help"].is_string());
    assert_eq!(
        taken.headers["x-should-retry"], "false",
        "the SDKs would retry a 409"
    );

    // `purgeCache`: the old URL is purged, and the answer names the purge request.
    let purged = app
        .api(
            Method::PUT,
            "/v1/files/rename",
            Some(json!({"filePath": "/r/new_name__1_.jpg", "newFileName": "newer.jpg", "purgeCache": true})),
        )
        .await;
    let request_id = purged.assert_ok()["purgeRequestId"]
        .as_str()
        .expect("purgeRequestId")
        .to_owned();
    assert!(at_path(&app, "/r/newer.jpg").await.is_some());
    app.await_completed(&format!("/v1/files/purge/{request_id}"))
        .await;

    for (body, status, message) in [
        (
            json!({"filePath": "/r/none.jpg", "newFileName": "x.jpg"}),
            404,
            "No file found with filePath /r/none.jpg",
        ),
        (
            json!({"filePath": "/r/taken.jpg"}),
            400,
            "Your request is missing newFileName parameter.",
        ),
        (
            json!({"filePath": "/r/taken.jpg", "newFileName": ".."}),
            400,
            "Your request contains invalid newFileName parameter.",
        ),
        (
            json!({"newFileName": "x.jpg"}),
            400,
            "Your request is missing filePath parameter.",
        ),
        (
            json!({"filePath": "/r/taken.jpg", "newFileName": "y.jpg", "purgeCache": 1}),
            400,
            "Your request contains invalid purgeCache parameter.",
        ),
    ] {
        app.api(Method::PUT, "/v1/files/rename", Some(body))
            .await
            .assert_error(status, message);
    }
}

#[tokio::test]
async fn metadata_of_a_stored_file_is_read_from_its_bytes() {
    let app = TestApp::start().await;
    let up = app
        .put_file(fixture("photo-exif.jpg"), "/", "exif.jpg")
        .await;
    let id = up["fileId"].as_str().expect("id");
    let got = app
        .api(Method::GET, &format!("/v1/files/{id}/metadata"), None)
        .await;
    let body = got.assert_ok();
    assert_eq!(body["width"], 640);
    assert_eq!(body["height"], 480);
    assert_eq!(body["size"], fixture("photo-exif.jpg").len());
    assert_eq!(body["format"], "jpg");
    assert!(body["exif"].is_object());
    insta::assert_json_snapshot!(body);

    let video = app.put_file(fixture("video.mp4"), "/", "v.mp4").await;
    let got = app
        .api(
            Method::GET,
            &format!(
                "/v1/files/{}/metadata/",
                video["fileId"].as_str().expect("id")
            ),
            None,
        )
        .await;
    let body = got.assert_ok();
    assert!(
        body.get("duration").is_some() || body.get("videoCodec").is_some(),
        "{body}"
    );
}

/// A loopback server answering every GET with the EXIF photo fixture.
pub async fn photo_server() -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let mut len = 0;
                while !buf[..len].windows(4).any(|w| w == b"\r\n\r\n") && len < buf.len() {
                    match stream.read(&mut buf[len..]).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => len += n,
                    }
                }
                let body = fixture("photo-exif.jpg");
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes()).await;
                let _ = stream.write_all(&body).await;
            });
        }
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn metadata_of_a_url_is_fetched_under_the_ssrf_rules() {
    let server = photo_server().await;
    // By default loopback is refused, like an upload's `file` URL.
    let app = TestApp::start().await;
    let url = format!("{server}/a.jpg");
    let encoded: String = form_urlencoded::byte_serialize(url.as_bytes()).collect();
    app.api(Method::GET, &format!("/v1/metadata?url={encoded}"), None)
        .await
        .assert_error(400, "Your request contains invalid url parameter.");
    app.api(Method::GET, "/v1/metadata", None)
        .await
        .assert_error(400, "Your request is missing url parameter.");

    let app = TestApp::builder()
        .config(|c| c.fetch.allow = vec!["127.0.0.1/32".to_owned()])
        .start()
        .await;
    let encoded_reply = app
        .api(Method::GET, &format!("/v1/metadata?url={encoded}"), None)
        .await;
    let body = encoded_reply.assert_ok().clone();
    assert_eq!(body["width"], 640);
    assert_eq!(body["height"], 480);
    // The old Node SDK sends the URL unencoded, its own query included.
    let raw = app
        .api(
            Method::GET,
            &format!("/v1/metadata?url={url}?v=1&w=2"),
            None,
        )
        .await;
    assert_eq!(raw.assert_ok(), &body);
    assert!(
        app.stored_blobs().is_empty(),
        "the fetched bytes are not kept"
    );
}

/// Credentials come from the request head: a request without them is answered before its body
/// is read, so an anonymous client cannot make the server buffer request bodies.
#[tokio::test]
async fn requests_without_credentials_are_refused_before_their_body_is_read() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let app = TestApp::start().await;
    let addr = app.server.as_ref().expect("server").addr;
    for (method, path) in [
        ("POST", "/v1/files/addTags".to_owned()),
        ("PATCH", format!("/v1/files/{UNKNOWN_ID}/details")),
        ("PUT", "/v1/files/rename".to_owned()),
        ("POST", "/v1/bulkJobs/copyFolder".to_owned()),
        ("DELETE", "/v1/folder".to_owned()),
        ("POST", "/v1/customMetadataFields".to_owned()),
        ("PATCH", format!("/v1/customMetadataFields/{UNKNOWN_ID}")),
    ] {
        let mut socket = tokio::net::TcpStream::connect(addr).await.expect("connect");
        // A body of 1 MB is announced; one byte of it is sent.
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: folio\r\nContent-Type: application/json\r\n\
             Content-Length: 1000000\r\n\r\n{{"
        );
        socket.write_all(head.as_bytes()).await.expect("send");
        let mut answer = vec![0u8; 4096];
        let n = tokio::time::timeout(std::time::Duration::from_secs(5), socket.read(&mut answer))
            .await
            .unwrap_or_else(|_| panic!("{method} {path}: no answer while the body is unsent"))
            .expect("read");
        let text = String::from_utf8_lossy(&answer[..n]);
        assert!(text.starts_with("HTTP/1.1 401"), "{method} {path}: {text}");
    }
}
