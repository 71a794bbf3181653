//! Headers, CORS and routing errors (spec §5.3, §5.4; Appendix A item 19).

use crate::harness::{fixture, TestApp};

#[track_caller]
fn assert_edge_headers(headers: &reqwest::header::HeaderMap) {
    let id = headers["x-ik-requestid"].to_str().expect("id");
    assert_eq!(id.len(), 36, "uuid: {id}");
    assert_eq!(headers["x-request-id"], id);
    assert_eq!(headers["access-control-allow-origin"], "*");
    assert!(headers["access-control-expose-headers"]
        .to_str()
        .expect("expose")
        .contains("x-ik-requestId"));
}

#[tokio::test]
async fn every_response_carries_the_request_id_and_cors() {
    let app = TestApp::start().await;
    let ok = app
        .upload(fixture("tiny.jpg"), &[("fileName", "a.jpg")])
        .await;
    assert_edge_headers(&ok.headers);
    assert_eq!(ok.headers["content-type"], "application/json");
    let err = app.upload(fixture("tiny.jpg"), &[]).await;
    assert_edge_headers(&err.headers);
    assert_eq!(
        err.headers["content-type"],
        "application/json; charset=utf-8"
    );
    assert_ne!(ok.headers["x-request-id"], err.headers["x-request-id"]);

    let not_found = TestApp::reply(app.get(&app.url("/nope")).await).await;
    not_found.assert_error(404, "Not found.");
    assert_edge_headers(&not_found.headers);

    let wrong_method = TestApp::reply(app.get(&app.url("/api/v2/files/upload")).await).await;
    wrong_method.assert_error(405, "Method not allowed.");
    assert_edge_headers(&wrong_method.headers);
    let put = app
        .client
        .put(app.url("/api/v1/files/upload"))
        .send()
        .await
        .expect("put");
    TestApp::reply(put)
        .await
        .assert_error(405, "Method not allowed.");
}

#[tokio::test]
async fn preflight_is_answered_everywhere() {
    let app = TestApp::start().await;
    for path in [
        "/api/v2/files/upload",
        "/api/v1/files/upload",
        "/default/a.jpg",
    ] {
        let response = app
            .client
            .request(reqwest::Method::OPTIONS, app.url(path))
            .header("Origin", "https://app.example")
            .header("Access-Control-Request-Method", "POST")
            .send()
            .await
            .expect("options");
        assert_eq!(response.status(), 204);
        let h = response.headers();
        assert_edge_headers(h);
        assert_eq!(
            h["access-control-allow-methods"],
            "GET, POST, PUT, PATCH, DELETE, OPTIONS"
        );
        assert_eq!(
            h["access-control-allow-headers"],
            "Authorization, Content-Type, X-Requested-With"
        );
        assert_eq!(h["access-control-max-age"], "86400");
    }
}

#[tokio::test]
async fn the_help_text_is_configurable() {
    let app = TestApp::builder()
        .config(|c| c.help_text = "Write to ops@example.com.".into())
        .start()
        .await;
    let reply = app.upload(fixture("tiny.jpg"), &[]).await;
    reply.assert_error(400, "Your request is missing fileName parameter.");
    assert_eq!(reply.body["help"], "Write to ops@example.com.");
    assert_edge_headers(&reply.headers);
}
