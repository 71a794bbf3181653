//! `extensions` and `webhookUrl` (spec §3.9): a fake runner and a fake webhook receiver on
//! loopback; every wait is bounded.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use tokio::net::TcpListener;

use crate::harness::{fixture, TestApp};

const TAGGING: &str = r#"[{"name":"google-auto-tagging","minConfidence":80,"maxTags":2}]"#;

#[derive(Default)]
struct Seen {
    /// Requests to the runner.
    runner: Vec<Value>,
    /// Webhook attempts: (signature header, raw body, status answered).
    hooks: Vec<(String, String, u16)>,
    /// Statuses the receiver answers, in order; then 200.
    answers: VecDeque<u16>,
}

type Shared = Arc<Mutex<Seen>>;

async fn runner(State(seen): State<Shared>, Json(body): Json<Value>) -> Json<Value> {
    seen.lock().expect("lock").runner.push(body);
    Json(json!({"tags": [
        {"name": "low", "confidence": 12.5},
        {"name": "cat", "confidence": 97.0},
        {"name": "pet", "confidence": 85},
        {"name": "animal", "confidence": 81.0},
    ]}))
}

async fn failing_runner() -> StatusCode {
    StatusCode::SERVICE_UNAVAILABLE
}

async fn hook(State(seen): State<Shared>, headers: HeaderMap, body: String) -> StatusCode {
    let mut seen = seen.lock().expect("lock");
    let status = seen.answers.pop_front().unwrap_or(200);
    let signature = headers
        .get("x-ik-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    seen.hooks.push((signature, body, status));
    StatusCode::from_u16(status).unwrap_or(StatusCode::OK)
}

struct Fakes {
    base: String,
    seen: Shared,
}

impl Fakes {
    async fn start() -> Fakes {
        let seen = Shared::default();
        let app = Router::new()
            .route("/tag", post(runner))
            .route("/broken", post(failing_runner))
            .route("/hook", post(hook))
            .with_state(Arc::clone(&seen));
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Fakes {
            base: format!("http://{addr}"),
            seen,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Waits (at most 10 s) until `n` webhook attempts have arrived.
    async fn hooks(&self, n: usize) -> Vec<(String, String, u16)> {
        let start = Instant::now();
        loop {
            let hooks = self.seen.lock().expect("lock").hooks.clone();
            if hooks.len() >= n {
                return hooks;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "{} of {n} webhook calls",
                hooks.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn app(fakes: &Fakes) -> TestApp {
    let runners = vec![
        format!("google-auto-tagging={}", fakes.url("/tag")),
        format!("aws-auto-tagging={}", fakes.url("/broken")),
    ];
    TestApp::builder()
        .config(|c| {
            c.fetch.allow = vec!["127.0.0.1/32".to_owned()];
            c.extensions.runners = runners;
            c.extensions.runner_timeout_secs = 5;
            c.webhooks.timeout_secs = 5;
            c.webhooks.retry_initial_ms = 10;
            c.webhooks.retry_max_ms = 40;
        })
        .start()
        .await
}

fn verify(private_key: &str, header: &str, body: &str) -> bool {
    let Some((t, v1)) = header
        .strip_prefix("t=")
        .and_then(|rest| rest.split_once(",v1="))
    else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(private_key.as_bytes()) else {
        return false;
    };
    mac.update(format!("{t}.{body}").as_bytes());
    hex::decode(v1).is_ok_and(|sig| mac.verify_slice(&sig).is_ok())
}

#[tokio::test]
async fn auto_tagging_runs_on_the_runner_and_is_reported_signed_to_the_webhook() {
    let fakes = Fakes::start().await;
    let app = app(&fakes).await;
    let reply = app
        .upload(
            fixture("tiny.jpg"),
            &[
                ("fileName", "a.jpg"),
                ("useUniqueFileName", "false"),
                ("extensions", TAGGING),
                ("webhookUrl", &fakes.url("/hook")),
            ],
        )
        .await;
    let body = reply.assert_ok().clone();
    assert_eq!(
        body["extensionStatus"],
        json!({"google-auto-tagging": "pending"})
    );
    let hooks = fakes.hooks(1).await;
    let (signature, raw, _) = &hooks[0];
    assert!(verify(&app.private_key, signature, raw), "{signature}");
    assert!(!verify("wrong", signature, raw));
    let event: Value = serde_json::from_str(raw).expect("json");
    assert_eq!(event["service"], "google-auto-tagging");
    assert_eq!(event["status"], "SUCCESS");
    let file = &event["fileObject"];
    assert_eq!(file["fileId"], body["fileId"]);
    assert_eq!(file["versionInfo"], body["versionInfo"]);
    assert_eq!(file["filePath"], "/a.jpg");
    // minConfidence 80, maxTags 2: the two most confident at or above 80.
    assert_eq!(
        file["AITags"],
        json!([
            {"name": "cat", "confidence": 97.0, "source": "google-auto-tagging"},
            {"name": "pet", "confidence": 85.0, "source": "google-auto-tagging"},
        ])
    );
    let request = fakes.seen.lock().expect("lock").runner[0].clone();
    assert_eq!(request["name"], "google-auto-tagging");
    assert_eq!(
        request["options"],
        json!({"minConfidence": 80, "maxTags": 2})
    );
    assert_eq!(request["fileId"], body["fileId"]);
    assert_eq!(request["versionId"], body["versionInfo"]["id"]);
    assert_eq!(request["url"], body["url"]);
    assert_eq!(request["filePath"], "/a.jpg");
    assert_eq!(request["mime"], "image/jpeg");

    // The tags were stored on the version: an overwrite that keeps AI tags shows them.
    let again = app
        .upload(
            fixture("tiny.jpg"),
            &[
                ("fileName", "a.jpg"),
                ("useUniqueFileName", "false"),
                ("overwriteAITags", "false"),
            ],
        )
        .await;
    let again = again.assert_ok();
    assert_eq!(again["AITags"], file["AITags"]);
    assert!(again.get("extensionStatus").is_none(), "{again}");
}

#[tokio::test]
async fn unconfigured_extensions_fail_at_once_and_call_no_webhook() {
    let fakes = Fakes::start().await;
    let app = app(&fakes).await;
    let reply = app
        .upload(
            fixture("tiny.jpg"),
            &[
                ("fileName", "a.jpg"),
                (
                    "extensions",
                    r#"[{"name":"remove-bg"},{"name":"ai-auto-description"}]"#,
                ),
                ("webhookUrl", &fakes.url("/hook")),
            ],
        )
        .await;
    assert_eq!(
        reply.assert_ok()["extensionStatus"],
        json!({"remove-bg": "failed", "ai-auto-description": "failed"})
    );
    // An empty array is a no-op.
    let reply = app
        .upload(
            fixture("tiny.jpg"),
            &[("fileName", "a.jpg"), ("extensions", "[]")],
        )
        .await;
    assert!(reply.assert_ok().get("extensionStatus").is_none());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let seen = fakes.seen.lock().expect("lock");
    assert!(seen.hooks.is_empty() && seen.runner.is_empty());
}

#[tokio::test]
async fn a_failing_runner_is_reported_as_failure() {
    let fakes = Fakes::start().await;
    let app = app(&fakes).await;
    let reply = app
        .upload(
            fixture("tiny.jpg"),
            &[
                ("fileName", "a.jpg"),
                (
                    "extensions",
                    r#"[{"name":"aws-auto-tagging","minConfidence":50,"maxTags":3}]"#,
                ),
                ("webhookUrl", &fakes.url("/hook")),
            ],
        )
        .await;
    let body = reply.assert_ok().clone();
    assert_eq!(
        body["extensionStatus"],
        json!({"aws-auto-tagging": "pending"})
    );
    let hooks = fakes.hooks(1).await;
    let event: Value = serde_json::from_str(&hooks[0].1).expect("json");
    assert_eq!(event["service"], "aws-auto-tagging");
    assert_eq!(event["status"], "FAILURE");
    assert_eq!(event["fileId"], body["fileId"]);
    assert!(event["error"]["reason"].is_string(), "{event}");
}

#[tokio::test]
async fn a_webhook_is_retried_until_it_answers_200() {
    let fakes = Fakes::start().await;
    fakes.seen.lock().expect("lock").answers = VecDeque::from([500, 500]);
    let app = app(&fakes).await;
    app.upload(
        fixture("tiny.jpg"),
        &[
            ("fileName", "a.jpg"),
            ("extensions", TAGGING),
            ("webhookUrl", &fakes.url("/hook")),
        ],
    )
    .await
    .assert_ok();
    let hooks = fakes.hooks(3).await;
    let statuses: Vec<u16> = hooks.iter().map(|h| h.2).collect();
    assert_eq!(statuses, [500, 500, 200]);
    // Every attempt is signed; nothing after the delivery.
    for (signature, raw, _) in &hooks {
        assert!(verify(&app.private_key, signature, raw));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(fakes.seen.lock().expect("lock").hooks.len(), 3);
}

#[tokio::test]
async fn invalid_extensions_and_webhook_urls_are_refused() {
    let app = TestApp::start().await;
    for bad in [
        "x",
        "{}",
        "[1]",
        r#"[{"name":""}]"#,
        r#"[{"name":"google-auto-tagging","maxTags":5}]"#,
        r#"[{"name":"remove-bg","options":"x"}]"#,
    ] {
        app.upload(
            fixture("tiny.jpg"),
            &[("fileName", "a.jpg"), ("extensions", bad)],
        )
        .await
        .assert_error(400, "Your request contains invalid extensions parameter.");
    }
    for bad in ["x", "ftp://example.com/h", "https://", "/hook"] {
        app.upload(
            fixture("tiny.jpg"),
            &[("fileName", "a.jpg"), ("webhookUrl", bad)],
        )
        .await
        .assert_error(400, "Your request contains invalid webhookUrl parameter.");
    }
    app.assert_no_orphan_blobs(0).await;
}

/// Update details (upload-api §8.3) runs extensions on the current version like an upload,
/// after `removeAITags`, and reports them in `extensionStatus`.
#[tokio::test]
async fn an_update_runs_extensions_on_the_current_version() {
    let fakes = Fakes::start().await;
    let app = app(&fakes).await;
    let up = app
        .upload(
            fixture("tiny.jpg"),
            &[("fileName", "u.jpg"), ("useUniqueFileName", "false")],
        )
        .await;
    let up = up.assert_ok().clone();
    let id = up["fileId"].as_str().expect("fileId");
    let path = format!("/v1/files/{id}/details");
    let extensions: Value = serde_json::from_str(TAGGING).expect("json");
    let reply = app
        .api(
            reqwest::Method::PATCH,
            &path,
            Some(json!({
                "removeAITags": "all",
                "extensions": extensions,
                "webhookUrl": fakes.url("/hook"),
            })),
        )
        .await;
    let body = reply.assert_ok().clone();
    assert_eq!(
        body["extensionStatus"],
        json!({"google-auto-tagging": "pending"})
    );
    let hooks = fakes.hooks(1).await;
    let (signature, raw, _) = &hooks[0];
    assert!(verify(&app.private_key, signature, raw), "{signature}");
    let event: Value = serde_json::from_str(raw).expect("json");
    assert_eq!(event["fileObject"]["versionInfo"], up["versionInfo"]);
    let request = fakes.seen.lock().expect("lock").runner[0].clone();
    assert_eq!(request["versionId"], up["versionInfo"]["id"]);

    // The tags are stored on the version: the details show them.
    let details = app.api(reqwest::Method::GET, &path, None).await;
    assert_eq!(
        details.assert_ok()["AITags"],
        json!([
            {"name": "cat", "confidence": 97.0, "source": "google-auto-tagging"},
            {"name": "pet", "confidence": 85.0, "source": "google-auto-tagging"},
        ])
    );

    // A bad `extensions` or `webhookUrl` value is the upload's 400, and nothing runs.
    for bad in [json!([{"name": ""}]), json!({}), json!("x")] {
        app.api(
            reqwest::Method::PATCH,
            &path,
            Some(json!({"extensions": bad})),
        )
        .await
        .assert_error(400, "Your request contains invalid extensions parameter.");
    }
    app.api(
        reqwest::Method::PATCH,
        &path,
        Some(json!({"extensions": extensions, "webhookUrl": "ftp://example.com/h"})),
    )
    .await
    .assert_error(400, "Your request contains invalid webhookUrl parameter.");
    assert_eq!(fakes.seen.lock().expect("lock").runner.len(), 1);
}
