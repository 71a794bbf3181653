//! `folio files rm`: the real binary deletes files by id or path, all or nothing, with their
//! rows and blobs.

use reqwest::Method;

use crate::harness::{fixture, run_folio, CliRun, TestApp};

async fn rm(app: &TestApp, args: &[&str]) -> CliRun {
    let mut all = vec!["files", "rm"];
    all.extend_from_slice(args);
    run_folio(&all, &app.cli_env()).await
}

async fn exists(app: &TestApp, id: &str) -> bool {
    let reply = app
        .api(Method::GET, &format!("/v1/files/{id}/details"), None)
        .await;
    match reply.status {
        200 => true,
        404 => false,
        other => panic!("details answered {other}: {}", reply.body),
    }
}

#[tokio::test]
async fn deletes_by_id_or_path_all_or_nothing() {
    let app = TestApp::start().await;
    let a = app.put_file(fixture("tiny.jpg"), "/rm", "a.jpg").await;
    let b = app.put_file(fixture("tiny.jpg"), "/rm", "b.jpg").await;
    let keep = app.put_file(fixture("tiny.jpg"), "/rm", "keep.jpg").await;
    let id = |v: &serde_json::Value| v["fileId"].as_str().expect("fileId").to_owned();
    assert_eq!(app.stored_blobs().len(), 3);

    // One unknown file among known ones: nothing is deleted.
    let unknown = "65a000000000000000000009";
    let run = rm(&app, &[&id(&a), unknown]).await;
    assert!(!run.ok, "stdout: {}", run.stdout);
    assert!(
        run.stderr.contains(unknown) && run.stderr.contains("nothing was deleted"),
        "{}",
        run.stderr
    );
    let run = rm(&app, &[&id(&a), "/rm/none.jpg"]).await;
    assert!(!run.ok);
    assert!(run.stderr.contains("/rm/none.jpg"), "{}", run.stderr);
    assert!(exists(&app, &id(&a)).await);

    let run = rm(&app, &["not-an-id"]).await;
    assert!(!run.ok);
    assert!(run.stderr.contains("neither a file id"), "{}", run.stderr);

    // By id and by path at once.
    let run = rm(&app, &[&id(&a), "/rm/b.jpg"]).await;
    assert!(run.ok, "stderr: {}", run.stderr);
    assert_eq!(
        run.stdout.lines().collect::<Vec<_>>(),
        [format!("deleted {}", id(&a)), format!("deleted {}", id(&b))]
    );
    assert!(!exists(&app, &id(&a)).await);
    assert!(!exists(&app, &id(&b)).await);
    assert!(exists(&app, &id(&keep)).await);
    let blobs = app.stored_blobs();
    assert_eq!(blobs.len(), 1, "{blobs:?}");
    assert!(blobs[0].ends_with(keep["versionInfo"]["id"].as_str().expect("v")));
}
