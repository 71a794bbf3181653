//! `folio fsck`: a deleted blob, a truncated blob, an orphan and versions out of sequence are
//! found, and `--repair` does what it may (the orphan goes, the broken files are tagged, a
//! version counter is raised, no row goes).

use serde_json::Value;

use crate::harness::library::{self, Library};
use crate::harness::{fixture, run_folio, TestApp};

/// Files in a [`Library`]: its files and the token upload's.
fn files_of(library: &Library) -> usize {
    library.files.len() + 1
}

#[tokio::test]
async fn fsck_finds_missing_truncated_and_orphan_blobs_and_repairs_what_it_may() {
    // The server keeps its grace for orphans (its sweeper must not take an upload's blob before
    // the commit); only the fsck runs below look at them without one.
    let app = TestApp::start().await;
    let library = library::build(&app, 200, 1000).await;
    let mut files = Vec::new();
    for name in ["gone.jpg", "cut.jpg", "fine.jpg"] {
        let body = app
            .upload(fixture("tiny.jpg"), &[("fileName", name)])
            .await
            .assert_ok()
            .clone();
        files.push(body);
    }
    let blob_of = |body: &Value| {
        folio::store::blob::blob_key(body["versionInfo"]["id"].as_str().expect("version"))
    };
    let blobs = &app.server.as_ref().expect("server").state.blobs;
    blobs.delete(&blob_of(&files[0])).await.expect("delete");
    blobs
        .put(&blob_of(&files[1]), bytes::Bytes::from_static(b"short"))
        .await
        .expect("truncate");
    let orphan = folio::store::blob::blob_key(&folio::ids::object_id());
    app.plant_blob(&orphan, b"nobody's").await;
    // The CLI sees the same library, with no grace for orphans.
    let mut env = app.cli_env();
    env.push((
        "FOLIO_STORAGE__ORPHAN_GRACE_SECS".to_owned(),
        "0".to_owned(),
    ));

    let checked = run_folio(&["fsck", "--json"], &env).await;
    assert!(!checked.ok, "problems make it fail");
    let report: Value = serde_json::from_str(&checked.stdout).expect("JSON report");
    assert_eq!(report["versions"], library.versions() + 3, "{report}");
    assert_eq!(
        report["missing"][0]["fileId"], files[0]["fileId"],
        "{report}"
    );
    assert_eq!(
        report["wrongSize"][0]["fileId"], files[1]["fileId"],
        "{report}"
    );
    assert_eq!(report["wrongSize"][0]["found"], 5, "{report}");
    assert_eq!(
        report["wrongSize"][0]["size"],
        fixture("tiny.jpg").len(),
        "{report}"
    );
    assert_eq!(report["orphans"], serde_json::json!([orphan]), "{report}");

    let repaired = run_folio(&["fsck", "--repair"], &env).await;
    assert!(!repaired.ok, "rows without their blob remain a problem");
    for expected in [
        "missing",
        "wrong size",
        "orphan",
        "1 orphan(s) removed, 2 file(s) tagged folio-broken",
    ] {
        assert!(
            repaired.stdout.contains(expected),
            "{expected}: {}",
            repaired.stdout
        );
    }
    assert!(!app.stored_blobs().contains(&orphan), "the orphan is gone");
    for (body, broken) in files.iter().zip([true, true, false]) {
        let path = format!("/v1/files/{}/details", body["fileId"].as_str().expect("id"));
        let details = app.api(reqwest::Method::GET, &path, None).await;
        let tags = details.assert_ok()["tags"].clone();
        assert_eq!(
            tags.as_array()
                .is_some_and(|t| t.contains(&"folio-broken".into())),
            broken,
            "{}: {tags}",
            body["name"]
        );
    }
    // Once the broken rows are dealt with (here: deleted through the API), it is clean.
    for body in &files[..2] {
        let path = format!("/v1/files/{}", body["fileId"].as_str().expect("id"));
        assert_eq!(
            app.api(reqwest::Method::DELETE, &path, None).await.status,
            204
        );
    }
    let clean = run_folio(&["fsck"], &env).await;
    assert!(clean.ok, "{}\n{}", clean.stdout, clean.stderr);
    let summary = format!(
        "{} version(s) checked: 0 missing, 0 wrong size, 0 orphan blob(s)",
        library.versions() + 1
    );
    assert!(clean.stdout.contains(&summary), "{}", clean.stdout);
}

#[tokio::test]
async fn fsck_finds_versions_out_of_sequence_and_raises_a_counter_left_behind() {
    let app = TestApp::start().await;
    let library = library::build(&app, 200, 1000).await;
    let fields = |name| [("fileName", name), ("useUniqueFileName", "false")];
    let mut ids = Vec::new();
    for name in ["counted.jpg", "counted.jpg", "lost.jpg", "fine.jpg"] {
        let body = app.upload(fixture("tiny.jpg"), &fields(name)).await;
        ids.push(body.assert_ok()["fileId"].as_str().expect("id").to_owned());
    }
    let (counted, lost) = (&ids[0], &ids[2]);
    // A counter behind the versions (the next upload would take number 2 again), and a current
    // version that is not there.
    app.execute_sql(&format!(
        "UPDATE files SET last_version_number = 1 WHERE file_id = '{counted}'"
    ))
    .await;
    app.execute_sql(&format!(
        "UPDATE files SET current_version_id = 'gone' WHERE file_id = '{lost}'"
    ))
    .await;
    let env = app.cli_env();

    let checked = run_folio(&["fsck", "--json"], &env).await;
    assert!(!checked.ok, "{}", checked.stdout);
    let report: Value = serde_json::from_str(&checked.stdout).expect("JSON report");
    assert_eq!(report["files"], files_of(&library) + 3, "{report}");
    let problems = |report: &Value, id: &str| {
        report["outOfSequence"]
            .as_array()
            .expect("outOfSequence")
            .iter()
            .find(|f| f["fileId"] == id)
            .map(|f| f["problems"].clone())
    };
    assert_eq!(
        problems(&report, counted),
        Some(serde_json::json!(["numberAboveCounter"])),
        "{report}"
    );
    assert_eq!(
        problems(&report, lost),
        Some(serde_json::json!(["currentMissing"])),
        "{report}"
    );
    assert_eq!(problems(&report, &ids[3]), None, "{report}");

    let repaired = run_folio(&["fsck", "--repair"], &env).await;
    assert!(!repaired.ok, "the lost current version remains a problem");
    assert!(
        repaired.stdout.contains("1 version counter(s) raised"),
        "{}",
        repaired.stdout
    );
    // The counter is right again: the next version of the file is number 3.
    let next = app
        .upload(fixture("tiny.jpg"), &fields("counted.jpg"))
        .await;
    assert_eq!(next.assert_ok()["fileId"], counted.as_str());
    let versions = app
        .api(
            reqwest::Method::GET,
            &format!("/v1/files/{counted}/versions"),
            None,
        )
        .await;
    assert_eq!(versions.assert_ok().as_array().map(Vec::len), Some(3));
    // The file without its current version is the operator's to delete; then all is well.
    assert_eq!(
        app.api(reqwest::Method::DELETE, &format!("/v1/files/{lost}"), None)
            .await
            .status,
        204
    );
    let clean = run_folio(&["fsck"], &env).await;
    assert!(clean.ok, "{}\n{}", clean.stdout, clean.stderr);
    let summary = format!(
        "{} file(s) checked: 0 out of sequence",
        files_of(&library) + 2
    );
    assert!(clean.stdout.contains(&summary), "{}", clean.stdout);
}
