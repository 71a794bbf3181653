//! Headers, CORS and routing errors (spec §5.3, §5.4; Appendix A item 19), and the retry
//! advice every endpoint gives the SDKs (media-api §1, issue 8 item 8).

use serde_json::json;

use crate::harness::{fixture, form_with_file, header_of, FolioProcess, Reply, TestApp};

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
        // HEAD and the tus request headers too: browser tus clients send them cross-origin
        // (resumable.md §1).
        assert_eq!(
            h["access-control-allow-methods"],
            "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
        );
        assert_eq!(
            h["access-control-allow-headers"],
            "Authorization, Content-Type, X-Requested-With, Tus-Resumable, Upload-Length, \
             Upload-Offset, Upload-Metadata, Upload-Checksum, Upload-Defer-Length, \
             Upload-Concat, X-HTTP-Method-Override"
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

/// The new SDKs retry 408, 409, 429 and 5xx on their own unless the answer says
/// `x-should-retry: false`; a deterministic failure must say it, a success must not.
#[track_caller]
fn assert_not_retried(reply: &Reply, what: &str) {
    assert!(
        reply.status >= 400 && reply.status < 500,
        "{what}: {} {}",
        reply.status,
        reply.body
    );
    assert_eq!(
        reply
            .headers
            .get("x-should-retry")
            .map(|v| v.to_str().expect("ascii")),
        Some("false"),
        "{what}: {} {}",
        reply.status,
        reply.body
    );
    assert!(reply.headers.get("retry-after").is_none(), "{what}");
}

#[track_caller]
fn assert_no_advice(reply: &Reply, what: &str) {
    assert!(
        reply.headers.get("x-should-retry").is_none(),
        "{what}: {} {}",
        reply.status,
        reply.body
    );
}

#[tokio::test]
async fn upload_failures_tell_the_sdks_not_to_retry() {
    let app = TestApp::start().await;
    let tiny = || fixture("tiny.jpg");
    let ok = app
        .upload(
            tiny(),
            &[("fileName", "a.jpg"), ("useUniqueFileName", "false")],
        )
        .await;
    ok.assert_ok();
    assert_no_advice(&ok, "a successful upload");

    let missing_name = app.upload(tiny(), &[]).await;
    missing_name.assert_error(400, "Your request is missing fileName parameter.");
    assert_not_retried(&missing_name, "missing fileName");

    let exists = app
        .upload(
            tiny(),
            &[
                ("fileName", "a.jpg"),
                ("useUniqueFileName", "false"),
                ("overwriteFile", "false"),
            ],
        )
        .await;
    assert_eq!(exists.status, 400, "{}", exists.body);
    assert_not_retried(&exists, "path taken, overwriteFile=false");

    let checks = app
        .upload(
            tiny(),
            &[("fileName", "c.jpg"), ("checks", "'file.size' < '1'")],
        )
        .await;
    checks.assert_error(400, "Your request failed 'checks' validation.");
    assert_not_retried(&checks, "failed checks");

    let form = || form_with_file(tiny(), &[("fileName", "a.jpg")]);
    let wrong_key = app
        .post(
            "/api/v2/files/upload",
            form(),
            Some("Basic cHJpdmF0ZV9ub3BlOg=="),
        )
        .await;
    wrong_key.assert_error(403, "Your account cannot be authenticated.");
    assert_not_retried(&wrong_key, "unknown key");
    let no_key = app.post("/api/v1/files/upload", form(), None).await;
    no_key.assert_error(401, "Your request does not contain private API key.");
    assert_not_retried(&no_key, "no credentials");

    // Client-side tokens: used, expired, invalid, v1 signature wrong.
    let fields = [("fileName", "t.jpg")];
    let token = app.token(&fields);
    let mut with_token: Vec<(&str, &str)> = fields.to_vec();
    with_token.push(("token", &token));
    let first = app
        .post(
            "/api/v2/files/upload",
            form_with_file(tiny(), &with_token),
            None,
        )
        .await;
    first.assert_ok();
    assert_no_advice(&first, "a token upload");
    let reused = app
        .post(
            "/api/v2/files/upload",
            form_with_file(tiny(), &with_token),
            None,
        )
        .await;
    reused.assert_error(
        400,
        "Your request contains a token that has already been used.",
    );
    assert_not_retried(&reused, "used token");

    let now = folio::ids::now_secs();
    let expired = folio_token::UploadToken::new(&app.public_key, &app.private_key)
        .param("fileName", "t.jpg")
        .issued_at(now - 7200)
        .expires_in(60)
        .sign()
        .expect("mint");
    let reply = app
        .post(
            "/api/v2/files/upload",
            form_with_file(tiny(), &[("fileName", "t.jpg"), ("token", &expired)]),
            None,
        )
        .await;
    reply.assert_error(400, "Your request contains expired token.");
    assert_not_retried(&reply, "expired token");
    let reply = app
        .post(
            "/api/v2/files/upload",
            form_with_file(tiny(), &[("fileName", "t.jpg"), ("token", "not.a.jwt")]),
            None,
        )
        .await;
    reply.assert_error(400, "Your request has invalid token.");
    assert_not_retried(&reply, "invalid token");

    let expire = (now + 600).to_string();
    let reply = app
        .post(
            "/api/v1/files/upload",
            form_with_file(
                tiny(),
                &[
                    ("fileName", "v1.jpg"),
                    ("publicKey", &app.public_key),
                    ("token", "a-token"),
                    ("expire", &expire),
                    ("signature", "0000000000000000000000000000000000000000"),
                ],
            ),
            None,
        )
        .await;
    reply.assert_error(400, "Your request contains invalid signature parameter.");
    assert_not_retried(&reply, "v1 signature");
}

#[tokio::test]
async fn custom_metadata_field_failures_tell_the_sdks_not_to_retry() {
    let app = TestApp::start().await;
    let fields = app.url("/v1/customMetadataFields");
    let no_auth = TestApp::reply(app.client.get(&fields).send().await.expect("get")).await;
    no_auth.assert_error(401, "Your request does not contain private API key.");
    assert_not_retried(&no_auth, "no credentials");

    let call = |method: reqwest::Method, url: String, body: serde_json::Value| {
        app.client
            .request(method, url)
            .header("Authorization", app.basic())
            .json(&body)
    };
    let invalid = TestApp::reply(
        call(reqwest::Method::POST, fields.clone(), json!({"name": "x"}))
            .send()
            .await
            .expect("post"),
    )
    .await;
    assert_eq!(invalid.status, 400, "{}", invalid.body);
    assert_not_retried(&invalid, "invalid field object");

    let schema = json!({"type": "Text"});
    let created = TestApp::reply(
        call(
            reqwest::Method::POST,
            fields.clone(),
            json!({"name": "brand", "label": "Brand", "schema": schema}),
        )
        .send()
        .await
        .expect("post"),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_no_advice(&created, "a created field");
    let taken = TestApp::reply(
        call(
            reqwest::Method::POST,
            fields.clone(),
            json!({"name": "brand", "label": "Other", "schema": schema}),
        )
        .send()
        .await
        .expect("post"),
    )
    .await;
    taken.assert_error(
        400,
        "A custom metadata field with this name already exists.",
    );
    assert_not_retried(&taken, "name taken");

    let unknown = TestApp::reply(
        call(
            reqwest::Method::PATCH,
            format!("{fields}/0123456789abcdef01234567"),
            json!({"label": "L"}),
        )
        .send()
        .await
        .expect("patch"),
    )
    .await;
    assert_eq!(unknown.status, 404, "{}", unknown.body);
    assert_not_retried(&unknown, "unknown field");
}

#[tokio::test]
async fn delivery_and_routing_failures_tell_the_sdks_not_to_retry() {
    let app = TestApp::start().await;
    let private = app
        .upload(
            fixture("photo-exif.jpg"),
            &[("fileName", "p.jpg"), ("isPrivateFile", "true")],
        )
        .await
        .assert_ok()
        .clone();
    let public = app
        .upload(fixture("tiny.jpg"), &[("fileName", "q.jpg")])
        .await
        .assert_ok()
        .clone();
    let public_url = public["url"].as_str().expect("url");
    let ok = TestApp::reply(app.get(public_url).await).await;
    assert_eq!(ok.status, 200);
    assert_no_advice(&ok, "a delivered file");

    let size = fixture("tiny.jpg").len();
    for (what, request) in [
        (
            "unknown file",
            app.client.get(app.url("/default/nothing.jpg")),
        ),
        (
            "private file",
            app.client.get(private["url"].as_str().expect("url")),
        ),
        (
            "wrong signature",
            app.client.get(format!(
                "{public_url}?ik-s=0000000000000000000000000000000000000000"
            )),
        ),
        (
            "bad transformation",
            app.client.get(crate::harness::with_tr(&public, "w-abc")),
        ),
        (
            "range past the end",
            app.client
                .get(public_url)
                .header("Range", format!("bytes={size}-")),
        ),
        ("unknown route", app.client.get(app.url("/nope"))),
        (
            "wrong method",
            app.client.get(app.url("/api/v2/files/upload")),
        ),
        ("wrong method", app.client.delete(app.url("/healthz"))),
    ] {
        let reply = TestApp::reply(request.send().await.expect("request")).await;
        assert_not_retried(&reply, what);
    }
}

/// A refused upload leaves a line at the default log level with the request id the client got
/// and what the server saw, which the wire message does not say; never a key.
#[tokio::test]
async fn a_refused_upload_is_logged_with_its_request_id_and_reason() {
    let data = tempfile::tempdir().expect("tempdir");
    let backing = crate::harness::Backing::fresh().await;
    let process = FolioProcess::start(data.path(), &[], &backing.env());
    let (public, private) = process.keys.clone().expect("keys");
    // A token that pins one file name, sent with another.
    let token = folio_token::UploadToken::new(&public, &private)
        .param("fileName", "pinned.jpg")
        .sign()
        .expect("token");
    let form = form_with_file(
        fixture("photo-exif.jpg"),
        &[("fileName", "other.jpg"), ("token", &token)],
    );
    let response = reqwest::Client::new()
        .post(format!("{}/api/v2/files/upload", process.base()))
        .multipart(form)
        .send()
        .await
        .expect("upload");
    assert_eq!(response.status(), 400);
    let request_id = header_of(&response, "x-request-id").to_owned();
    assert!(!request_id.is_empty(), "x-request-id");
    let line = process.log_line(&["request refused", &request_id]).await;
    assert!(line.contains("INFO"), "{line}");
    assert!(line.contains("code=TOKEN_PAYLOAD_MISMATCH"), "{line}");
    assert!(
        line.contains("reason=payload mismatch: fileName differs"),
        "{line}"
    );
    assert!(line.contains("http.status=400"), "{line}");
    assert!(
        !process.log().contains(&private),
        "the private key is never logged"
    );
}

/// Log lines written while a request is served (here, the upload's image check) carry its id,
/// through the request's span.
#[tokio::test]
async fn work_done_for_a_request_is_logged_with_its_id() {
    let data = tempfile::tempdir().expect("tempdir");
    let backing = crate::harness::Backing::fresh().await;
    let process = FolioProcess::start(data.path(), &[], &backing.env());
    let (_, private) = process.keys.clone().expect("keys");
    // A GIF header and no picture: stored as a non-image, which is logged.
    let mut fake = b"GIF89a\x0a\x00\x0a\x00\x00\x00\x00".to_vec();
    fake.extend_from_slice(&[0x2c, 0xff, 0x00]);
    let response = reqwest::Client::new()
        .post(format!("{}/api/v2/files/upload", process.base()))
        .basic_auth(&private, Some(""))
        .multipart(form_with_file(fake, &[("fileName", "fake.gif")]))
        .send()
        .await
        .expect("upload");
    assert_eq!(response.status(), 200);
    let request_id = header_of(&response, "x-request-id").to_owned();
    assert!(!request_id.is_empty(), "x-request-id");
    let line = process
        .log_line(&["stored as non-image", &format!("request_id={request_id}")])
        .await;
    assert!(line.contains("INFO"), "{line}");
}
