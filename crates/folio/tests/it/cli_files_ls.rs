//! `folio files ls`: the real binary lists a folder and searches an account with the catalog
//! query behind GET /v1/files, in text and JSON.

use reqwest::Method;
use serde_json::Value;

use crate::harness::{run_folio, solid_png, CliRun, TestApp};

async fn ls(app: &TestApp, args: &[&str]) -> CliRun {
    let mut all = vec!["files", "ls"];
    all.extend_from_slice(args);
    run_folio(&all, &app.cli_env()).await
}

async fn library() -> TestApp {
    let app = TestApp::start().await;
    for (name, folder, tags, side) in [
        ("cat.png", "/pets", "animal", 20),
        ("dog.png", "/pets", "animal,loud", 40),
        ("sun.png", "/sky/day", "bright", 10),
    ] {
        app.upload(
            solid_png(side, side),
            &[
                ("fileName", name),
                ("folder", folder),
                ("useUniqueFileName", "false"),
                ("tags", tags),
            ],
        )
        .await
        .assert_ok();
    }
    app
}

#[tokio::test]
async fn lists_a_folder_and_searches() {
    let app = library().await;
    // A folder: its files and sub-folders, by name.
    let run = ls(&app, &["/"]).await;
    assert!(run.ok, "stderr: {}", run.stderr);
    let paths: Vec<&str> = run
        .stdout
        .lines()
        .map(|line| line.rsplit(' ').next().unwrap_or_default())
        .collect();
    assert_eq!(paths, ["/pets/", "/sky/"]);
    let run = ls(&app, &["pets"]).await;
    assert!(run.ok, "stderr: {}", run.stderr);
    assert!(
        run.stdout.lines().all(|l| l.contains("/pets/")),
        "{}",
        run.stdout
    );
    assert_eq!(run.stdout.lines().count(), 2);

    // A search, as JSON: the same objects GET /v1/files returns.
    let run = ls(&app, &["--search", "tags IN ['loud', 'bright']", "--json"]).await;
    assert!(run.ok, "stderr: {}", run.stderr);
    let printed: Value = serde_json::from_str(&run.stdout).expect("JSON");
    let encoded: String = form_urlencoded::byte_serialize(b"tags IN ['loud', 'bright']").collect();
    let api = app
        .api(
            Method::GET,
            &format!("/v1/files?sort=ASC_NAME&searchQuery={encoded}"),
            None,
        )
        .await;
    assert_eq!(&printed, api.assert_ok());
    let names: Vec<&str> = printed
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|f| f["name"].as_str())
        .collect();
    assert_eq!(names, ["dog.png", "sun.png"]);

    // Search within a folder.
    let run = ls(&app, &["/pets", "--search", "width > 30"]).await;
    assert!(run.ok, "stderr: {}", run.stderr);
    assert_eq!(run.stdout.lines().count(), 1);
    assert!(run.stdout.contains("/pets/dog.png"));
}

#[tokio::test]
async fn a_bad_query_says_why() {
    let app = library().await;
    let run = ls(&app, &["--search", "colour = 'red'"]).await;
    assert!(!run.ok);
    assert!(
        run.stderr
            .contains("Invalid search query - unknown field `colour`"),
        "stderr: {}",
        run.stderr
    );
    let run = ls(&app, &["--limit", "0"]).await;
    assert!(!run.ok);
    assert!(run.stderr.contains("--limit 0"), "stderr: {}", run.stderr);
}
