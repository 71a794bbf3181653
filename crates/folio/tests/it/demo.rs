//! Demo mode over HTTP (the browser itself is driven in `browser.rs`): off by default; the page
//! and its assets; the token endpoint's guard and contract; loopback host names only; and
//! `folio serve --demo` as a user runs it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

use crate::harness::{fixture, form_with_file, Backing, Reply, TestApp};

fn bearer(app: &TestApp) -> String {
    let server = app.server.as_ref().expect("server");
    let demo = server.state.demo.as_ref().expect("demo mode");
    demo.bearer().to_owned()
}

async fn ask_token(app: &TestApp, auth: Option<&str>, body: &Value) -> Reply {
    let mut request = app.client.post(app.url("/demo/auth")).json(body);
    if let Some(auth) = auth {
        request = request.header("Authorization", auth);
    }
    TestApp::reply(request.send().await.expect("request")).await
}

#[tokio::test]
async fn without_demo_mode_there_is_no_page_and_no_token_endpoint() {
    let app = TestApp::start().await;
    for path in ["/demo/", "/demo/app.js"] {
        assert_eq!(app.get(&app.url(path)).await.status(), 404, "{path}");
    }
    let reply = ask_token(&app, None, &json!({})).await;
    assert!(
        matches!(reply.status, 404 | 405),
        "{} {}",
        reply.status,
        reply.body
    );
}

#[tokio::test]
async fn the_page_carries_its_config_and_stays_same_origin() {
    let app = TestApp::builder().demo().start().await;
    let response = app.get(&app.url("/demo/")).await;
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    let html = response.text().await.expect("html");
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    // The API's `Access-Control-Allow-Origin: *` would let any site read the bearer token.
    assert!(headers.get("access-control-allow-origin").is_none());
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(headers["x-frame-options"], "DENY");
    let csp = headers["content-security-policy"].to_str().expect("csp");
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));
    assert!(
        csp.contains(&format!("img-src 'self' {}", app.base)),
        "{csp}"
    );

    let marker = r#"id="demo-config">"#;
    let start = html.find(marker).expect("config block") + marker.len();
    let end = start + html[start..].find("</script>").expect("end of config");
    let config: Value = serde_json::from_str(&html[start..end]).expect("config JSON");
    assert_eq!(config["publicKey"], app.public_key.as_str());
    assert_eq!(config["bearer"], bearer(&app).as_str());
    assert_eq!(config["authEndpoint"], "/demo/auth");
    assert_eq!(config["uploadEndpoint"], "/api/v2/files/upload");
    assert_eq!(
        config["resumableEndpoint"],
        "/api/v2/files/upload/resumable"
    );
    assert!(!html.contains(&app.private_key));

    for (path, content_type) in [
        ("/demo/app.js", "text/javascript; charset=utf-8"),
        ("/demo/style.css", "text/css; charset=utf-8"),
        ("/demo/favicon.svg", "image/svg+xml"),
    ] {
        let asset = app.get(&app.url(path)).await;
        assert_eq!(asset.status(), 200, "{path}");
        assert_eq!(asset.headers()["content-type"], content_type, "{path}");
    }
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let bare = client.get(app.url("/demo")).send().await.expect("request");
    assert_eq!(bare.status(), 308);
    assert_eq!(bare.headers()["location"], "/demo/");
    // The API keeps its CORS headers.
    let api = app.get(&app.url("/healthz")).await;
    assert_eq!(api.headers()["access-control-allow-origin"], "*");
}

#[tokio::test]
async fn the_token_endpoint_wants_the_runs_bearer_token() {
    let app = TestApp::builder().demo().start().await;
    let body =
        json!({"uploadPayload": {"fileName": "a.jpg"}, "expire": 60, "publicKey": app.public_key});
    let wrong = format!("Bearer {}x", bearer(&app));
    for auth in [None, Some(wrong.as_str()), Some("Basic abc")] {
        let reply = ask_token(&app, auth, &body).await;
        assert_eq!(reply.status, 401, "{auth:?}: {}", reply.body);
        assert!(reply.message().contains("bearer token"), "{}", reply.body);
        assert_eq!(reply.headers["www-authenticate"], "Bearer");
    }
}

#[tokio::test]
async fn its_tokens_upload_exactly_the_signed_parameters() {
    let app = TestApp::builder().demo().start().await;
    let auth = format!("Bearer {}", bearer(&app));
    // The shape and values of the documentation's example.
    let body = json!({
        "uploadPayload": {"fileName": "dress.jpg", "useUniqueFileName": "false", "tags": "summer,dress"},
        "expire": 400,
        "publicKey": app.public_key,
    });
    let reply = ask_token(&app, Some(&auth), &body).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(reply.headers.get("access-control-allow-origin").is_none());
    let token = reply.body["token"].as_str().expect("token").to_owned();

    let fields = [
        ("fileName", "dress.jpg"),
        ("useUniqueFileName", "false"),
        ("tags", "summer,dress"),
        ("token", token.as_str()),
    ];
    let uploaded = app
        .post(
            "/api/v2/files/upload",
            form_with_file(fixture("tiny.jpg"), &fields),
            None,
        )
        .await;
    assert_eq!(uploaded.assert_ok()["filePath"], "/dress.jpg");

    // A field the token does not pin.
    let reply = ask_token(&app, Some(&auth), &body).await;
    let token = reply.body["token"].as_str().expect("token").to_owned();
    let tampered = [
        ("fileName", "dress.jpg"),
        ("useUniqueFileName", "false"),
        ("tags", "summer,dress"),
        ("folder", "/elsewhere"),
        ("token", token.as_str()),
    ];
    app.post(
        "/api/v2/files/upload",
        form_with_file(fixture("tiny.jpg"), &tampered),
        None,
    )
    .await
    .assert_error(
        400,
        "Your request contains invalid payload. It does not match with the payload used to generate token.",
    );
}

#[tokio::test]
async fn bad_token_requests_are_400_with_the_reason() {
    let app = TestApp::builder().demo().start().await;
    let auth = format!("Bearer {}", bearer(&app));
    let key = app.public_key.clone();
    let cases = [
        (
            json!({"uploadPayload": {"fileName": "a.jpg", "useUniqueFileName": false}, "expire": 60, "publicKey": key}),
            "uploadPayload.useUniqueFileName must be a string",
        ),
        (
            json!({"uploadPayload": {"file": "x"}, "expire": 60, "publicKey": key}),
            "uploadPayload must not contain file",
        ),
        (
            json!({"uploadPayload": {}, "expire": 3601, "publicKey": key}),
            "expire must be a JSON number of seconds from 1 to 3600",
        ),
        (
            json!({"uploadPayload": {}, "expire": 60, "publicKey": "public_someone_else"}),
            "publicKey does not match",
        ),
    ];
    for (body, expected) in cases {
        let reply = ask_token(&app, Some(&auth), &body).await;
        assert_eq!(reply.status, 400, "{body}");
        assert!(
            reply.message().starts_with(expected),
            "{body}: {}",
            reply.body
        );
    }
}

#[tokio::test]
async fn only_loopback_host_names_reach_the_demo() {
    let app = TestApp::builder().demo().start().await;
    let port = app.base.rsplit(':').next().expect("port").to_owned();
    // A page that rebinds its own domain to 127.0.0.1 sends its own name as Host.
    for (host, status) in [
        (format!("evil.example:{port}"), 403),
        (format!("localhost:{port}"), 200),
        (format!("127.0.0.1:{port}"), 200),
    ] {
        let response = app
            .client
            .get(app.url("/demo/"))
            .header("Host", &host)
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), status, "{host}");
        if status == 403 {
            let body: Value = response.json().await.expect("json");
            assert!(body["message"]
                .as_str()
                .is_some_and(|m| m.contains("loopback")));
        }
    }
}

/// Kills the process whatever happens to the test.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn folio_serve_demo_is_one_command() {
    let data = tempfile::tempdir().expect("tempdir");
    let backing = Backing::fresh().await;
    let mut guard = Guard(
        Command::new(env!("CARGO_BIN_EXE_folio"))
            .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data.path())
            .env_remove("FOLIO_CONFIG")
            .envs(backing.env())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn folio"),
    );
    let stdout = guard.0.stdout.take().expect("stdout");
    // Read the start-up lines on a thread, bounded by a timeout here.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(rest) = line.strip_prefix("Demo: open ") {
                let url = rest
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                let _ = tx.send(url);
                return;
            }
        }
    });
    let page_url = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("folio serve --demo prints the page address");
    assert!(page_url.starts_with("http://127.0.0.1:") && page_url.ends_with("/demo/"));
    let page = reqwest::get(&page_url).await.expect("page");
    assert_eq!(page.status(), 200);
    assert!(page.text().await.expect("html").contains("demo-config"));

    let refused = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::process::Command::new(env!("CARGO_BIN_EXE_folio"))
            .args(["serve", "--demo", "--listen", "0.0.0.0:0", "--data-dir"])
            .arg(data.path())
            .env_remove("FOLIO_CONFIG")
            .envs(backing.env())
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("exits at once")
    .expect("run");
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("--demo") && stderr.contains("loopback"),
        "{stderr}"
    );
}
