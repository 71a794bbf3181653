//! Folder bulk jobs (media-api §2): `POST /v1/bulkJobs/copyFolder|moveFolder|renameFolder`
//! and `GET /v1/bulkJobs/{jobId}`. Jobs are catalog rows run by a background runner.

use reqwest::Method;
use serde_json::{json, Value};

use crate::harness::{fixture, Backing, FolioProcess, TestApp};
use crate::media_files::{BAD_JSON, UNKNOWN_ID};

async fn submit(app: &TestApp, path: &str, body: Value) -> String {
    let reply = app.api(Method::POST, path, Some(body)).await;
    let id = reply.assert_ok()["jobId"]
        .as_str()
        .expect("jobId")
        .to_owned();
    assert_eq!(reply.body, json!({ "jobId": id }));
    id
}

async fn versions_of(app: &TestApp, file_id: &str) -> usize {
    app.api(Method::GET, &format!("/v1/files/{file_id}/versions"), None)
        .await
        .assert_ok()
        .as_array()
        .expect("array")
        .len()
}

async fn current(app: &TestApp, path: &str) -> Value {
    let list = app
        .api(
            reqwest::Method::GET,
            &format!(
                "/v1/files?searchQuery={}",
                crate::harness::urlencoded_value(&format!("path = \"{}\"", parent_of(path)))
            ),
            None,
        )
        .await;
    list.assert_ok()
        .as_array()
        .expect("array")
        .iter()
        .find(|f| f["filePath"] == path)
        .cloned()
        .unwrap_or_else(|| panic!("{path} not found in {}", list.body))
}

fn parent_of(path: &str) -> &str {
    &path[..path.rfind('/').map_or(1, |i| i.max(1))]
}

#[tokio::test]
async fn copy_folder_copies_every_file_under_new_ids_and_blobs() {
    let app = TestApp::start().await;
    let a = app.put_file(fixture("tiny.jpg"), "/src", "a.jpg").await;
    app.put_file(fixture("alpha.png"), "/src", "a.jpg").await; // version 2
    app.put_file(fixture("tiny.jpg"), "/src/sub", "b.jpg").await;
    app.api(
        Method::POST,
        "/v1/folder",
        Some(json!({"folderName": "empty", "parentFolderPath": "/src"})),
    )
    .await;
    let blobs_before = app.stored_blobs().len();

    let id = submit(
        &app,
        "/v1/bulkJobs/copyFolder",
        json!({"sourceFolderPath": "/src", "destinationPath": "/dst"}),
    )
    .await;
    let status = app.await_completed(&format!("/v1/bulkJobs/{id}")).await;
    assert_eq!(
        status,
        json!({"jobId": id, "type": "COPY_FOLDER", "status": "Completed"})
    );
    assert_eq!(
        app.paths_under("/dst").await,
        ["/dst/src/a.jpg", "/dst/src/sub/b.jpg"]
    );
    assert_eq!(
        app.paths_under("/src").await,
        ["/src/a.jpg", "/src/sub/b.jpg"]
    );
    let copy = current(&app, "/dst/src/a.jpg").await;
    assert_ne!(copy["fileId"], a["fileId"]);
    assert_eq!(copy["mime"], "image/png", "the current version is copied");
    assert_eq!(
        versions_of(&app, copy["fileId"].as_str().expect("id")).await,
        1
    );
    assert_eq!(
        app.stored_blobs().len(),
        blobs_before + 2,
        "one new blob per copy"
    );
    let folders = app
        .api(
            reqwest::Method::GET,
            "/v1/files?type=folder&path=/dst/src/",
            None,
        )
        .await;
    assert_eq!(
        folders.assert_ok().as_array().expect("array").len(),
        2,
        "sub and empty"
    );
    // The copy is served from its own blob.
    let served = app.get(copy["url"].as_str().expect("url")).await;
    assert_eq!(served.status(), 200);

    // With every version, into an existing folder of the same name: new versions there.
    let id = submit(
        &app,
        "/v1/bulkJobs/copyFolder",
        json!({"sourceFolderPath": "/src/", "destinationPath": "/dst/", "includeVersions": true}),
    )
    .await;
    app.await_completed(&format!("/v1/bulkJobs/{id}")).await;
    assert_eq!(
        versions_of(&app, copy["fileId"].as_str().expect("id")).await,
        3
    );
    assert_eq!(app.stored_blobs().len(), blobs_before + 5);
}

#[tokio::test]
async fn move_and_rename_keep_ids_and_blobs() {
    let app = TestApp::start().await;
    let a = app.put_file(fixture("tiny.jpg"), "/m", "a.jpg").await;
    app.put_file(fixture("tiny.jpg"), "/m/in", "b.jpg").await;
    app.put_file(fixture("tiny.jpg"), "/mm", "c.jpg").await;
    let blobs = app.stored_blobs();

    let id = submit(
        &app,
        "/v1/bulkJobs/moveFolder",
        json!({"sourceFolderPath": "/m", "destinationPath": "/to/here"}),
    )
    .await;
    let status = app.await_completed(&format!("/v1/bulkJobs/{id}")).await;
    assert_eq!(status["type"], "MOVE_FOLDER");
    assert_eq!(
        app.paths_under("/").await,
        ["/mm/c.jpg", "/to/here/m/a.jpg", "/to/here/m/in/b.jpg"]
    );
    let moved = current(&app, "/to/here/m/a.jpg").await;
    assert_eq!(moved["fileId"], a["fileId"]);
    assert_eq!(app.stored_blobs(), blobs, "a move copies no bytes");
    app.api(
        Method::DELETE,
        "/v1/folder",
        Some(json!({"folderPath": "/m"})),
    )
    .await
    .assert_error(404, "No folder found with folderPath /m");

    let id = submit(
        &app,
        "/v1/bulkJobs/renameFolder",
        json!({"folderPath": "/to/here/m", "newFolderName": "renamed folder"}),
    )
    .await;
    let status = app.await_completed(&format!("/v1/bulkJobs/{id}")).await;
    assert_eq!(
        status,
        json!({"jobId": id, "type": "RENAME_FOLDER", "status": "Completed"})
    );
    assert_eq!(
        app.paths_under("/to").await,
        [
            "/to/here/renamed_folder/a.jpg",
            "/to/here/renamed_folder/in/b.jpg"
        ]
    );
    let served = app
        .get(&format!(
            "{}/to/here/renamed_folder/in/b.jpg",
            app.url_endpoint()
        ))
        .await;
    assert_eq!(served.status(), 200);
}

#[tokio::test]
async fn rename_with_purge_cache_reports_a_purge_that_completes() {
    let app = TestApp::start().await;
    let f = app.put_file(fixture("tiny.jpg"), "/r", "a.jpg").await;
    let thumb = app.get(f["thumbnailUrl"].as_str().expect("thumb")).await;
    assert_eq!(thumb.status(), 200);
    let id = submit(
        &app,
        "/v1/bulkJobs/renameFolder",
        json!({"folderPath": "/r", "newFolderName": "s", "purgeCache": true}),
    )
    .await;
    let status = app.await_completed(&format!("/v1/bulkJobs/{id}")).await;
    let purge_id = status["purgeRequestId"].as_str().expect("purgeRequestId");
    app.await_completed(&format!("/v1/files/purge/{purge_id}"))
        .await;
    assert!(
        app.stored_blobs().iter().all(|k| !k.starts_with("d/")),
        "the renamed files' renditions are gone"
    );
    assert_eq!(app.paths_under("/").await, ["/s/a.jpg"]);
}

#[tokio::test]
async fn bad_job_requests_get_exact_errors() {
    let app = TestApp::start().await;
    app.put_file(fixture("tiny.jpg"), "/a/b", "x.jpg").await;
    let copy = "/v1/bulkJobs/copyFolder";
    let mv = "/v1/bulkJobs/moveFolder";
    let rename = "/v1/bulkJobs/renameFolder";
    let cases = [
        (
            copy,
            json!({"destinationPath": "/d"}),
            400,
            "Your request is missing sourceFolderPath parameter.",
        ),
        (
            copy,
            json!({"sourceFolderPath": "/a"}),
            400,
            "Your request is missing destinationPath parameter.",
        ),
        (
            copy,
            json!({"sourceFolderPath": "/a", "destinationPath": "/d", "includeVersions": "yes"}),
            400,
            "Your request contains invalid includeVersions parameter.",
        ),
        (
            copy,
            json!({"sourceFolderPath": "/nope", "destinationPath": "/d"}),
            404,
            "No files & folder found at sourceFolderPath /nope",
        ),
        (
            mv,
            json!({"sourceFolderPath": "nope/", "destinationPath": "/d"}),
            404,
            "No files & folder found at sourceFolderPath nope/",
        ),
        (
            copy,
            json!({"sourceFolderPath": "/a", "destinationPath": "a/"}),
            400,
            "sourceFolderPath and destinationPath cannot be same.",
        ),
        (
            mv,
            json!({"sourceFolderPath": "/a/", "destinationPath": "/a"}),
            400,
            "sourceFolderPath and destinationPath cannot be same.",
        ),
        (
            copy,
            json!({"sourceFolderPath": "/a", "destinationPath": "/a/b"}),
            400,
            "destinationPath cannot be inside sourceFolderPath.",
        ),
        (
            mv,
            json!({"sourceFolderPath": "/", "destinationPath": "/a"}),
            400,
            "Your request contains invalid sourceFolderPath parameter.",
        ),
        (
            rename,
            json!({"newFolderName": "n"}),
            400,
            "Your request is missing folderPath parameter.",
        ),
        (
            rename,
            json!({"folderPath": "/a"}),
            400,
            "Your request is missing newFolderName parameter.",
        ),
        (
            rename,
            json!({"folderPath": "/a", "newFolderName": "n", "purgeCache": 1}),
            400,
            "Your request contains invalid purgeCache parameter.",
        ),
        (
            rename,
            json!({"folderPath": "/", "newFolderName": "n"}),
            400,
            "Your request contains invalid folderPath parameter.",
        ),
        (
            rename,
            json!({"folderPath": "/zz", "newFolderName": "n"}),
            404,
            "No folder found with folderPath /zz",
        ),
    ];
    for (path, body, status, message) in cases {
        app.api(Method::POST, path, Some(body.clone()))
            .await
            .assert_error(status, message);
    }
    for path in [copy, mv, rename] {
        app.api_raw(Method::POST, path, Some("nope"), Some(&app.basic()))
            .await
            .assert_error(400, BAD_JSON);
        app.api_raw(Method::POST, path, Some("{}"), None)
            .await
            .assert_error(401, "Your request does not contain private API key.");
    }
    app.api(Method::GET, &format!("/v1/bulkJobs/{UNKNOWN_ID}"), None)
        .await
        .assert_error(404, "The requested job does not exist.");
    app.api(Method::GET, "/v1/bulkJobs/xyz", None)
        .await
        .assert_error(400, "Your request contains invalid jobId parameter.");
    assert_eq!(
        app.paths_under("/").await,
        ["/a/b/x.jpg"],
        "nothing changed"
    );
}

/// A job held by an instance that died (its lease is still running) is resumed by another
/// runner once the lease runs out, from the saved cursor, without copying anything twice.
#[tokio::test]
async fn a_job_held_by_a_dead_instance_is_resumed_after_its_lease() {
    let app = TestApp::builder()
        .config(|c| c.storage.job_lease_secs = 1)
        .start()
        .await;
    for name in ["a.jpg", "b.jpg", "c.jpg"] {
        app.put_file(fixture("tiny.jpg"), "/s", name).await;
    }
    let catalog = app.catalog().clone();
    let account = catalog
        .key_by_private(&app.private_key)
        .await
        .expect("key")
        .expect("found")
        .account;
    // Submitted, claimed by an instance that then died after the first file.
    let job = folio::store::Job {
        job_id: folio::ids::object_id(),
        account_id: account.id.clone(),
        kind: folio::store::JobKind::CopyFolder,
        completed: false,
        params: json!({"from": "/s/", "to": "/t/s/", "includeVersions": false}),
        cursor: None,
        purge_request_id: None,
        depends_on: None,
        attempts: 0,
        created_at_ms: folio::ids::now_millis(),
    };
    // Claimed before the app's own runner sees it: inserted and claimed back to back by the
    // dead owner with a long lease, then its cursor set as if it had done `/s/a.jpg`.
    catalog
        .insert_jobs(std::slice::from_ref(&job))
        .await
        .expect("insert");
    let dead = "runner-dead";
    let mut claimed = None;
    while claimed.is_none() {
        // The app's runner may win the first claim; then it simply runs the job (also fine,
        // but not what this test is about), so try until the dead owner holds it.
        let got = catalog
            .claim_job(dead, folio::ids::now_millis(), 1_000)
            .await
            .expect("claim");
        match got {
            Some(j) if j.job_id == job.job_id => claimed = Some(j),
            Some(other) => panic!("unexpected job {other:?}"),
            None => break,
        }
    }
    let status_path = format!("/v1/bulkJobs/{}", job.job_id);
    if claimed.is_some() {
        assert!(catalog
            .checkpoint_job(
                &job.job_id,
                dead,
                Some("/s/a.jpg"),
                folio::ids::now_millis() + 1_000
            )
            .await
            .expect("checkpoint"));
        let pending = app.api(Method::GET, &status_path, None).await;
        assert_eq!(pending.assert_ok()["status"], "Pending");
    }
    app.await_completed(&status_path).await;
    let copied = app.paths_under("/t").await;
    if claimed.is_some() {
        // Resumed after the cursor: the file the dead instance "did" is not copied again.
        assert_eq!(copied, ["/t/s/b.jpg", "/t/s/c.jpg"]);
        let again = catalog
            .job(&account.id, &job.job_id)
            .await
            .expect("job")
            .expect("job");
        assert!(again.attempts >= 2, "{again:?}");
    } else {
        assert_eq!(copied, ["/t/s/a.jpg", "/t/s/b.jpg", "/t/s/c.jpg"]);
    }
    // The dead instance, had it woken up, could no longer save or complete anything.
    assert!(!catalog
        .checkpoint_job(&job.job_id, dead, None, folio::ids::now_millis() + 1_000)
        .await
        .expect("checkpoint"));
    assert!(!catalog
        .complete_job(&job.job_id, dead, folio::ids::now_millis())
        .await
        .expect("complete"));
}

/// Submitted to a `folio serve` that is killed at once (SIGKILL): the job is a catalog row, so
/// the restarted server completes it, and every file is copied exactly once.
#[tokio::test]
async fn a_job_survives_a_kill_and_a_restart() {
    let data = tempfile::tempdir().expect("tempdir");
    let backing = Backing::fresh().await;
    let mut env = backing.env();
    env.push(("FOLIO_STORAGE__JOB_LEASE_SECS".into(), "1".into()));
    env.push(("FOLIO_STORAGE__FSYNC".into(), "false".into()));
    let mut first = FolioProcess::start(data.path(), &[], &env);
    let (public, private) = first.keys.clone().expect("keys printed on the first start");
    let _ = public;
    let client = reqwest::Client::new();
    let basic = format!(
        "Basic {}",
        base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            format!("{private}:")
        )
    );
    for i in 0..40 {
        let form = crate::harness::form_with_file(
            fixture("tiny.jpg"),
            &[
                ("fileName", &format!("f{i:02}.jpg")),
                ("folder", "/big"),
                ("useUniqueFileName", "false"),
            ],
        );
        let r = client
            .post(format!("{}/api/v1/files/upload", first.base()))
            .header("Authorization", &basic)
            .multipart(form)
            .send()
            .await
            .expect("upload");
        assert_eq!(r.status(), 200);
    }
    let r = client
        .post(format!("{}/v1/bulkJobs/copyFolder", first.base()))
        .header("Authorization", &basic)
        .json(&json!({"sourceFolderPath": "/big", "destinationPath": "/copy"}))
        .send()
        .await
        .expect("submit");
    assert_eq!(r.status(), 200);
    let job_id = r.json::<Value>().await.expect("json")["jobId"]
        .as_str()
        .expect("jobId")
        .to_owned();
    first.kill();

    let second = FolioProcess::start(data.path(), &[], &env);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let status: Value = client
            .get(format!("{}/v1/bulkJobs/{job_id}", second.base()))
            .header("Authorization", &basic)
            .send()
            .await
            .expect("status")
            .json()
            .await
            .expect("json");
        if status["status"] == "Completed" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{status}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let listed: Value = client
        .get(format!(
            "{}/v1/files?type=all&limit=1000&searchQuery={}",
            second.base(),
            crate::harness::urlencoded_value("path : \"/copy\"")
        ))
        .header("Authorization", &basic)
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    let files: Vec<&Value> = listed
        .as_array()
        .expect("array")
        .iter()
        .filter(|f| f["type"] == "file")
        .collect();
    assert_eq!(files.len(), 40, "every file once: {listed}");
    let versions: Value = client
        .get(format!(
            "{}/v1/files?type=file-version&limit=1000",
            second.base()
        ))
        .header("Authorization", &basic)
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    assert_eq!(
        versions,
        json!([]),
        "no file was copied twice (no extra versions)"
    );
}
