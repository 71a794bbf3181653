//! File versions through the media API (upload-api §8.4–§8.6, §8.8), and the catalog staying
//! consistent while versions are restored, deleted and uploaded at once.

use reqwest::Method;
use serde_json::{json, Value};

use crate::harness::{fixture, TestApp};
use crate::media_files::{at_path, INVALID_FILE_ID, NO_FILE, UNKNOWN_ID};

const NO_VERSION: &str = "The requested file version does not exist.";
const INVALID_VERSION_ID: &str = "Your request contains invalid versionId parameter.";

fn id(v: &Value) -> &str {
    v["fileId"].as_str().expect("fileId")
}

fn version(v: &Value) -> &str {
    v["versionInfo"]["id"].as_str().expect("version id")
}

#[tokio::test]
async fn versions_are_listed_newest_first_and_read_one_by_one() {
    let app = TestApp::start().await;
    let v1 = app.put_file(fixture("tiny.jpg"), "/", "v.jpg").await;
    let v2 = app.put_file(fixture("photo-exif.jpg"), "/", "v.jpg").await;
    let v3 = app.put_file(fixture("tiny.jpg"), "/", "v.jpg").await;
    let file_id = id(&v1);

    let listed = app
        .api(Method::GET, &format!("/v1/files/{file_id}/versions"), None)
        .await;
    let list = listed.assert_ok().as_array().expect("array").clone();
    let ids: Vec<&str> = list.iter().map(version).collect();
    assert_eq!(ids, [version(&v3), version(&v2), version(&v1)]);
    let kinds: Vec<&str> = list
        .iter()
        .map(|v| v["type"].as_str().expect("type"))
        .collect();
    assert_eq!(kinds, ["file", "file-version", "file-version"]);
    assert_eq!(list[0]["url"], v3["url"]);
    assert_eq!(
        list[1]["url"],
        format!(
            "{}?ik-obj-version={}",
            v3["url"].as_str().expect("url"),
            version(&v2)
        )
    );
    assert_eq!(list[1]["versionInfo"]["name"], "Version 2");
    assert!(list.iter().all(|v| v["fileId"] == file_id));

    let one = app
        .api(
            Method::GET,
            &format!("/v1/files/{file_id}/versions/{}/", version(&v2)),
            None,
        )
        .await;
    assert_eq!(one.assert_ok(), &list[1]);
    insta::assert_json_snapshot!(one.body, {
        ".fileId" => "[id]",
        ".versionInfo.id" => "[id]",
        ".createdAt" => "[time]",
        ".updatedAt" => "[time]",
        ".url" => "[url]",
        ".thumbnail" => "[url]",
    });

    let base = format!("/v1/files/{file_id}/versions");
    app.api(Method::GET, &format!("{base}/{UNKNOWN_ID}"), None)
        .await
        .assert_error(404, NO_VERSION);
    app.api(Method::GET, &format!("{base}/nope"), None)
        .await
        .assert_error(400, INVALID_VERSION_ID);
    app.api(
        Method::GET,
        &format!("/v1/files/nope/versions/{}", version(&v1)),
        None,
    )
    .await
    .assert_error(400, INVALID_FILE_ID);
    // A version of another file is not this file's.
    let other = app.put_file(fixture("tiny.jpg"), "/", "other.jpg").await;
    app.api(Method::GET, &format!("{base}/{}", version(&other)), None)
        .await
        .assert_error(404, NO_VERSION);
    app.api(
        Method::GET,
        &format!("/v1/files/{UNKNOWN_ID}/versions"),
        None,
    )
    .await
    .assert_error(404, NO_FILE);
}

#[tokio::test]
async fn only_old_versions_can_be_deleted_and_their_blobs_go() {
    let app = TestApp::start().await;
    let v1 = app.put_file(fixture("tiny.jpg"), "/", "d.jpg").await;
    let v2 = app.put_file(fixture("photo-exif.jpg"), "/", "d.jpg").await;
    let base = format!("/v1/files/{}/versions", id(&v1));

    app.api(Method::DELETE, &format!("{base}/{}", version(&v2)), None)
        .await
        .assert_error(400, "You cannot delete current version of a file.");
    app.api(Method::DELETE, &format!("{base}/{UNKNOWN_ID}"), None)
        .await
        .assert_error(404, "The requested asset does not exist.");
    app.api(Method::DELETE, &format!("{base}/x"), None)
        .await
        .assert_error(400, INVALID_VERSION_ID);

    let deleted = app
        .api(Method::DELETE, &format!("{base}/{}", version(&v1)), None)
        .await;
    assert_eq!((deleted.status, &deleted.body), (204, &Value::Null));
    let blobs = app.stored_blobs();
    assert_eq!(blobs.len(), 1, "{blobs:?}");
    assert!(blobs[0].ends_with(version(&v2)));
    app.api(Method::GET, &format!("{base}/{}", version(&v1)), None)
        .await
        .assert_error(404, NO_VERSION);
    let listed = app.api(Method::GET, &base, None).await;
    assert_eq!(listed.assert_ok().as_array().expect("array").len(), 1);
}

#[tokio::test]
async fn restore_makes_a_version_current_and_delivery_follows() {
    let app = TestApp::start().await;
    let v1 = app.put_file(fixture("tiny.jpg"), "/", "r.jpg").await;
    let v2 = app.put_file(fixture("photo-exif.jpg"), "/", "r.jpg").await;
    let base = format!("/v1/files/{}/versions", id(&v1));

    let restored = app
        .api(
            Method::PUT,
            &format!("{base}/{}/restore", version(&v1)),
            None,
        )
        .await;
    let body = restored.assert_ok().clone();
    assert_eq!(body["type"], "file");
    assert_eq!(
        body["versionInfo"],
        json!({"id": version(&v1), "name": "Version 1"})
    );
    assert_eq!(body["url"], v1["url"], "the current URL, no version query");
    let served = app.get(v1["url"].as_str().expect("url")).await;
    assert_eq!(
        served.headers()["etag"].to_str().expect("etag"),
        format!("\"{}\"", version(&v1))
    );
    assert_eq!(
        served.bytes().await.expect("bytes").to_vec(),
        fixture("tiny.jpg")
    );

    // Restoring the current version again changes nothing; the other one is old now.
    let again = app
        .api(
            Method::PUT,
            &format!("{base}/{}/restore/", version(&v1)),
            None,
        )
        .await;
    assert_eq!(again.assert_ok()["versionInfo"]["id"], version(&v1));
    let old = app
        .api(Method::GET, &format!("{base}/{}", version(&v2)), None)
        .await;
    assert_eq!(old.assert_ok()["type"], "file-version");
    // The next upload numbers on from the highest number ever given.
    let v3 = app.put_file(fixture("tiny.jpg"), "/", "r.jpg").await;
    assert_eq!(v3["versionInfo"]["name"], "Version 3");

    app.api(Method::PUT, &format!("{base}/{UNKNOWN_ID}/restore"), None)
        .await
        .assert_error(404, NO_VERSION);
    app.api(
        Method::PUT,
        &format!("/v1/files/{UNKNOWN_ID}/versions/{}/restore", version(&v1)),
        None,
    )
    .await
    .assert_error(404, NO_FILE);
}

/// Every version row's blob exists and every version blob has a row: what the catalog and
/// the blob store must agree on once the dust settles.
async fn assert_rows_and_blobs_agree(app: &TestApp, path: &str) {
    let blobs: Vec<String> = app
        .stored_blobs()
        .into_iter()
        .filter(|b| b.starts_with("v/"))
        .collect();
    let mut referenced = Vec::new();
    if let Some(current) = at_path(app, path).await {
        let versions = app
            .api(
                Method::GET,
                &format!("/v1/files/{}/versions", current.file_id),
                None,
            )
            .await;
        let list = versions.assert_ok().as_array().expect("array").clone();
        assert_eq!(list.iter().filter(|v| v["type"] == "file").count(), 1);
        let mut numbers: Vec<String> = list
            .iter()
            .map(|v| v["versionInfo"]["name"].as_str().expect("name").to_owned())
            .collect();
        numbers.sort();
        numbers.dedup();
        assert_eq!(numbers.len(), list.len(), "no version number twice");
        for v in &list {
            let vid = version(v);
            let key = format!("v/{}/{vid}", &vid[22..]);
            assert!(blobs.contains(&key), "row {vid} without its blob");
            referenced.push(key);
        }
    }
    // Blobs of deleted rows are removed right after the delete; wait for stragglers.
    for _ in 0..100 {
        let left: Vec<String> = app
            .stored_blobs()
            .into_iter()
            .filter(|b| b.starts_with("v/") && !referenced.contains(b))
            .collect();
        if left.is_empty() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("blobs without rows: {:?}", app.stored_blobs());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_while_new_versions_are_uploaded_stays_consistent() {
    let app = std::sync::Arc::new(TestApp::start().await);
    let v1 = app.put_file(fixture("tiny.jpg"), "/", "busy.jpg").await;
    let file_id = id(&v1).to_owned();
    let first = version(&v1).to_owned();
    let uploads = (0..8).map(|_| {
        let app = std::sync::Arc::clone(&app);
        tokio::spawn(async move { app.put_file(fixture("tiny.jpg"), "/", "busy.jpg").await })
    });
    let restores = (0..8).map(|_| {
        let app = std::sync::Arc::clone(&app);
        let path = format!("/v1/files/{file_id}/versions/{first}/restore");
        tokio::spawn(async move { app.api(Method::PUT, &path, None).await.status })
    });
    let (uploads, restores) = tokio::join!(
        futures_util::future::join_all(uploads),
        futures_util::future::join_all(restores)
    );
    let mut names: Vec<String> = uploads
        .into_iter()
        .map(|u| {
            u.expect("join")["versionInfo"]["name"]
                .as_str()
                .expect("n")
                .to_owned()
        })
        .collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 8, "every upload got its own number");
    assert!(restores.into_iter().all(|s| s.expect("join") == 200));
    assert_rows_and_blobs_agree(&app, "/busy.jpg").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_while_an_overwrite_commits_leaves_no_row_without_blob() {
    let app = std::sync::Arc::new(TestApp::start().await);
    for round in 0..4 {
        let first = app.put_file(fixture("tiny.jpg"), "/", "race.jpg").await;
        let file_id = id(&first).to_owned();
        let uploads = (0..4).map(|_| {
            let app = std::sync::Arc::clone(&app);
            tokio::spawn(async move { app.put_file(fixture("tiny.jpg"), "/", "race.jpg").await })
        });
        let delete = {
            let app = std::sync::Arc::clone(&app);
            tokio::spawn(async move {
                app.api(Method::DELETE, &format!("/v1/files/{file_id}"), None)
                    .await
                    .status
            })
        };
        let (uploads, delete) = tokio::join!(futures_util::future::join_all(uploads), delete);
        uploads.into_iter().for_each(|u| {
            u.expect("join");
        });
        assert_eq!(delete.expect("join"), 204, "round {round}");
        assert_rows_and_blobs_agree(&app, "/race.jpg").await;
        if let Some(left) = at_path(&app, "/race.jpg").await {
            app.api(Method::DELETE, &format!("/v1/files/{}", left.file_id), None)
                .await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rename_onto_a_name_an_upload_is_creating_gives_it_to_one() {
    let app = std::sync::Arc::new(TestApp::start().await);
    for round in 0..5 {
        let source = format!("src{round}.jpg");
        let target = format!("dst{round}.jpg");
        app.put_file(fixture("tiny.jpg"), "/", &source).await;
        let upload = {
            let app = std::sync::Arc::clone(&app);
            let target = target.clone();
            tokio::spawn(async move {
                app.upload(
                    fixture("photo-exif.jpg"),
                    &[
                        ("fileName", &target),
                        ("useUniqueFileName", "false"),
                        ("overwriteFile", "false"),
                    ],
                )
                .await
                .status
            })
        };
        let rename = app
            .api(
                Method::PUT,
                "/v1/files/rename",
                Some(json!({"filePath": format!("/{source}"), "newFileName": target})),
            )
            .await
            .status;
        let upload = upload.await.expect("join");
        assert!(
            matches!((rename, upload), (200, 400) | (409, 200)),
            "round {round}: rename {rename}, upload {upload}"
        );
        assert!(at_path(&app, &format!("/{target}")).await.is_some());
        assert_rows_and_blobs_agree(&app, &format!("/{target}")).await;
    }
}
