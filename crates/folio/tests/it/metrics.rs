//! `/metrics`: scraped from its own listener and parsed, after uploads that succeed and fail.

use crate::harness::{fixture, form_with_file, scrape_metrics, Backing, FolioProcess, TestApp};

const UPLOAD: &str = "/api/v2/files/upload";

#[tokio::test]
async fn uploads_refusals_and_shared_state_are_counted() {
    let app = TestApp::start().await;
    let bytes = fixture("tiny.jpg");
    let size = bytes.len() as f64;
    app.upload(fixture("tiny.jpg"), &[("fileName", "a.jpg")])
        .await
        .assert_ok();
    let token = app.token(&[("fileName", "b.jpg")]);
    let client_side = || form_with_file(bytes.clone(), &[("fileName", "b.jpg"), ("token", &token)]);
    app.post(UPLOAD, client_side(), None).await.assert_ok();
    // The same token again: refused as used.
    app.post(UPLOAD, client_side(), None)
        .await
        .assert_code("TOKEN_USED");
    assert_eq!(app.get(&app.url("/no-such-route")).await.status(), 404);

    let samples = app.metrics().await;
    let value = |series: &str| {
        *samples
            .get(series)
            .unwrap_or_else(|| panic!("no {series} in {samples:#?}"))
    };
    assert_eq!(
        value(r#"folio_uploads_total{endpoint="v2",auth="basic",outcome="ok"}"#),
        1.0
    );
    assert_eq!(
        value(r#"folio_uploads_total{endpoint="v2",auth="v2_token",outcome="ok"}"#),
        1.0
    );
    assert_eq!(
        value(r#"folio_uploads_total{endpoint="v2",auth="v2_token",outcome="TOKEN_USED"}"#),
        1.0
    );
    assert_eq!(
        value(r#"folio_upload_bytes_total{endpoint="v2"}"#),
        2.0 * size
    );
    assert_eq!(
        value(r#"folio_upload_duration_seconds_count{endpoint="v2",result="ok"}"#),
        2.0
    );
    assert_eq!(value(r#"folio_refusals_total{code="TOKEN_USED"}"#), 1.0);
    assert_eq!(
        value(r#"folio_http_responses_total{route="/api/v2/files/upload",status="200"}"#),
        2.0
    );
    assert_eq!(
        value(r#"folio_http_responses_total{route="unmatched",status="404"}"#),
        1.0
    );
    assert_eq!(value("folio_uploads_in_flight"), 0.0);
    assert_eq!(value("folio_render_queue"), 0.0);
    assert_eq!(value("folio_render_slots_busy"), 0.0);
    assert!(value("folio_render_memory_free_bytes") > 0.0);
    assert_eq!(value("folio_webhook_backlog"), 0.0);

    // Not on the API's address.
    assert_eq!(app.get(&app.url("/metrics")).await.status(), 404);
}

#[tokio::test]
async fn folio_serve_announces_its_metrics_listener() {
    let data = tempfile::tempdir().expect("tempdir");
    let backing = Backing::fresh().await;
    let process = FolioProcess::start(data.path(), &[], &backing.env());
    let addr = process.metrics_addr.clone().expect("a Metrics line");
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");
    let samples = scrape_metrics(&addr).await;
    assert_eq!(samples.get("folio_uploads_in_flight"), Some(&0.0));
}
