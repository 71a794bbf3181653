//! Overwrites and versions (spec §3.10, §4.5; Appendix A items 8, 9).

use crate::harness::{fixture, TestApp};

#[tokio::test]
async fn overwrite_keeps_the_file_id_and_numbers_versions() {
    let app = TestApp::start().await;
    let fields = [
        ("fileName", "invoice.pdf"),
        ("folder", "docs"),
        ("useUniqueFileName", "false"),
    ];
    let first = app
        .upload(
            fixture("document.pdf"),
            &[fields.as_slice(), &[("tags", "a,b")]].concat(),
        )
        .await
        .assert_ok()
        .clone();
    assert_eq!(first["versionInfo"]["id"], first["fileId"]);
    let second = app
        .upload(
            fixture("document.pdf"),
            &[fields.as_slice(), &[("responseFields", "tags")]].concat(),
        )
        .await
        .assert_ok()
        .clone();
    assert_eq!(second["fileId"], first["fileId"]);
    assert_ne!(second["versionInfo"]["id"], first["fileId"]);
    assert_eq!(second["versionInfo"]["name"], "Version 2");
    assert!(
        second["tags"].is_null(),
        "tags are removed on overwrite by default"
    );
    insta::assert_json_snapshot!(second, {
        ".fileId" => "[id]",
        ".versionInfo.id" => "[id]",
        ".url" => "[url]",
    });

    app.upload(
        fixture("document.pdf"),
        &[fields.as_slice(), &[("tags", "keep")]].concat(),
    )
    .await
    .assert_ok();
    let fourth = app
        .upload(
            fixture("document.pdf"),
            &[
                fields.as_slice(),
                &[("overwriteTags", "false"), ("responseFields", "tags")],
            ]
            .concat(),
        )
        .await
        .assert_ok()
        .clone();
    assert_eq!(fourth["versionInfo"]["name"], "Version 4");
    assert_eq!(fourth["tags"], serde_json::json!(["keep"]));

    // The served bytes are the current version's.
    let served = app.get(fourth["url"].as_str().expect("url")).await;
    assert_eq!(
        served.headers()["etag"].to_str().expect("etag"),
        format!("\"{}\"", fourth["versionInfo"]["id"].as_str().expect("id"))
    );
}

#[tokio::test]
async fn overwrite_file_false_refuses_an_existing_path() {
    let app = TestApp::start().await;
    let fields = [
        ("fileName", "a.jpg"),
        ("useUniqueFileName", "false"),
        ("overwriteFile", "false"),
    ];
    app.upload(fixture("tiny.jpg"), &fields).await.assert_ok();
    app.upload(fixture("tiny.jpg"), &fields).await.assert_error(
        400,
        "A file with the same name already exists at the exact location. We could not overwrite it because both overwriteFile and useUniqueFileName are set to false.",
    );
    app.assert_no_orphan_blobs(1).await;
}

#[tokio::test]
async fn the_version_cap_is_enforced() {
    let app = TestApp::builder()
        .config(|c| c.limits.max_versions_per_file = 3)
        .start()
        .await;
    let fields = [("fileName", "a.jpg"), ("useUniqueFileName", "false")];
    for n in 1..=3 {
        let body = app
            .upload(fixture("tiny.jpg"), &fields)
            .await
            .assert_ok()
            .clone();
        assert_eq!(body["versionInfo"]["name"], format!("Version {n}"));
    }
    app.upload(fixture("tiny.jpg"), &fields).await.assert_error(
        400,
        "The file could not be uploaded because it has reached the maximum of 100 versions.",
    );
    app.assert_no_orphan_blobs(3).await;
}

#[tokio::test]
async fn concurrent_overwrites_number_versions_without_gaps() {
    let app = TestApp::start().await;
    let mut tasks = Vec::new();
    for _ in 0..30 {
        let client = app.client.clone();
        let url = app.url("/api/v2/files/upload");
        let auth = app.basic();
        tasks.push(tokio::spawn(async move {
            let form = crate::harness::form_with_file(
                fixture("tiny.jpg"),
                &[("fileName", "hot.jpg"), ("useUniqueFileName", "false")],
            );
            let response = client
                .post(url)
                .header("Authorization", auth)
                .multipart(form)
                .send()
                .await
                .expect("send");
            TestApp::reply(response).await
        }));
    }
    let mut numbers = Vec::new();
    let mut file_ids = std::collections::BTreeSet::new();
    for task in tasks {
        let reply = task.await.expect("join");
        let body = reply.assert_ok();
        file_ids.insert(body["fileId"].as_str().expect("id").to_owned());
        let name = body["versionInfo"]["name"].as_str().expect("name");
        numbers.push(
            name.trim_start_matches("Version ")
                .parse::<u32>()
                .expect("number"),
        );
    }
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=30).collect::<Vec<_>>());
    assert_eq!(file_ids.len(), 1);
}
