//! `POST /v1/files/purge` and `GET /v1/files/purge/{requestId}` (media-api §2): Folio's own
//! cached renditions (`d/<version id>/…`) of the matching files are dropped.

use reqwest::Method;
use serde_json::json;

use crate::harness::{fixture, TestApp};
use crate::media_files::{BAD_JSON, UNKNOWN_ID};

fn renditions(app: &TestApp) -> Vec<String> {
    app.stored_blobs()
        .into_iter()
        .filter(|k| k.starts_with("d/"))
        .collect()
}

async fn purge(app: &TestApp, url: &str) -> String {
    let reply = app
        .api(Method::POST, "/v1/files/purge", Some(json!({ "url": url })))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let id = reply.body["requestId"]
        .as_str()
        .expect("requestId")
        .to_owned();
    let status = app.await_completed(&format!("/v1/files/purge/{id}")).await;
    assert_eq!(status, json!({"status": "Completed"}));
    id
}

#[tokio::test]
async fn a_url_or_a_prefix_drops_the_renditions_of_what_it_names() {
    let app = TestApp::start().await;
    let a = app.put_file(fixture("tiny.jpg"), "/p", "a b.jpg").await;
    let b = app.put_file(fixture("tiny.jpg"), "/p/q", "b.jpg").await;
    let c = app.put_file(fixture("tiny.jpg"), "/other", "c.jpg").await;
    for file in [&a, &b, &c] {
        let thumb = app.get(file["thumbnailUrl"].as_str().expect("thumb")).await;
        assert_eq!(thumb.status(), 200);
    }
    assert_eq!(renditions(&app).len(), 3);

    // One file, by its delivery URL (percent-encoded as delivered).
    purge(&app, a["url"].as_str().expect("url")).await;
    let left = renditions(&app);
    assert_eq!(left.len(), 2, "{left:?}");
    let a_version = a["versionInfo"]["id"].as_str().expect("version");
    assert!(left.iter().all(|k| !k.contains(a_version)));

    // A prefix.
    purge(&app, &format!("{}/p/*", app.url_endpoint())).await;
    let left = renditions(&app);
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(left[0].contains(c["versionInfo"]["id"].as_str().expect("version")));
    // Originals are untouched, and a purged rendition is made again on demand.
    assert_eq!(
        app.stored_blobs()
            .iter()
            .filter(|k| k.starts_with("v/"))
            .count(),
        3
    );
    let thumb = app.get(a["thumbnailUrl"].as_str().expect("thumb")).await;
    assert_eq!(thumb.status(), 200);

    // Nothing matches: still a request that completes.
    purge(&app, &format!("{}/nothing/here.jpg", app.url_endpoint())).await;
}

#[tokio::test]
async fn bad_purge_requests_get_exact_errors() {
    let app = TestApp::start().await;
    let endpoint = app.url_endpoint();
    let outside = format!(
        "Your request contains invalid url parameter. The url must start with your url endpoint {endpoint}/."
    );
    for url in [
        "https://elsewhere.example/default/a.jpg".to_owned(),
        format!("{endpoint}x/a.jpg"),
        "/a.jpg".to_owned(),
    ] {
        app.api(Method::POST, "/v1/files/purge", Some(json!({ "url": url })))
            .await
            .assert_error(400, &outside);
    }
    app.api(Method::POST, "/v1/files/purge", Some(json!({})))
        .await
        .assert_error(400, "Your request is missing url parameter.");
    app.api(Method::POST, "/v1/files/purge", Some(json!({"url": 3})))
        .await
        .assert_error(400, "Your request contains invalid url parameter.");
    app.api_raw(
        Method::POST,
        "/v1/files/purge",
        Some("{"),
        Some(&app.basic()),
    )
    .await
    .assert_error(400, BAD_JSON);
    app.api_raw(
        Method::POST,
        "/v1/files/purge",
        Some(r#"{"url":"x"}"#),
        None,
    )
    .await
    .assert_error(401, "Your request does not contain private API key.");

    app.api(Method::GET, &format!("/v1/files/purge/{UNKNOWN_ID}"), None)
        .await
        .assert_error(404, "The requested purge request does not exist.");
    app.api(Method::GET, "/v1/files/purge/not-an-id", None)
        .await
        .assert_error(400, "Your request contains invalid requestId parameter.");
    app.api_raw(
        Method::GET,
        &format!("/v1/files/purge/{UNKNOWN_ID}"),
        None,
        None,
    )
    .await
    .assert_error(401, "Your request does not contain private API key.");

    // A purge id is no bulk job id, and the other way round.
    let id = purge(&app, &format!("{endpoint}/*")).await;
    app.api(Method::GET, &format!("/v1/bulkJobs/{id}"), None)
        .await
        .assert_error(404, "The requested job does not exist.");
}
