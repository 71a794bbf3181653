//! The benchmark's load generator (bench/loadgen) against the test server: a few seconds of
//! small token-authenticated uploads, each of which must succeed and end up in the catalog.
//! The benchmark itself (bench/run.sh) is not run here; this keeps its tool working.

use std::time::Duration;

use folio_loadgen::{Auth, Config};

use crate::harness::{urlencoded_value, TestApp};

const SIZE: usize = 16 * 1024;

fn load(app: &TestApp, private_key: &str) -> Config {
    let mut config = Config::new(app.url("/api/v2/files/upload"));
    config.auth = Auth::Token {
        public_key: app.public_key.clone(),
        private_key: private_key.to_owned(),
    };
    config.size = SIZE;
    config.concurrency = 4;
    config.duration = Some(Duration::from_secs(2));
    config.requests = Some(400);
    config.timeout = Duration::from_secs(30);
    config.fields = vec![("folder".to_owned(), "/bench-smoke".to_owned())];
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_generated_upload_succeeds_and_is_in_the_catalog() {
    let app = TestApp::start().await;
    let report = folio_loadgen::run(&load(&app, &app.private_key))
        .await
        .expect("the run starts");
    assert!(report.ok > 0, "{report:?}");
    assert_eq!((report.non_2xx, report.errors), (0, 0), "{report:?}");
    assert_eq!(report.status.get("200"), Some(&report.ok));
    assert!(report.lat_ms.p50 > 0.0 && report.lat_ms.p50 <= report.lat_ms.max);

    let reply = app
        .api(
            reqwest::Method::GET,
            &format!(
                "/v1/files?searchQuery={}&limit=1000",
                urlencoded_value("path : \"/bench-smoke\"")
            ),
            None,
        )
        .await;
    let files = reply.assert_ok().as_array().expect("array").clone();
    assert_eq!(
        files.len() as u64,
        report.ok,
        "one file per successful upload"
    );
    let mut names: Vec<&str> = files
        .iter()
        .map(|f| {
            assert_eq!(f["size"].as_u64(), Some(SIZE as u64), "{f}");
            f["name"].as_str().expect("name")
        })
        .collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(
        names.len(),
        files.len(),
        "file names are unique per request"
    );
    assert!(names
        .iter()
        .all(|n| n.starts_with("f-") && n.ends_with(".bin")));
}

#[tokio::test]
async fn refused_uploads_are_counted_as_failures() {
    let app = TestApp::start().await;
    let mut config = load(&app, "private_not_this_accounts_key");
    config.requests = Some(3);
    config.concurrency = 1;
    let report = folio_loadgen::run(&config).await.expect("the run starts");
    assert_eq!(
        (report.ok, report.non_2xx, report.errors),
        (0, 3, 0),
        "{report:?}"
    );
    let first = report.first_non_2xx.expect("first refusal");
    assert!(
        first.starts_with("400 ") && first.contains("invalid token"),
        "{first}"
    );
}
