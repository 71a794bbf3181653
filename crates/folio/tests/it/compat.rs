//! Compatibility with the real clients (spec §2, §10): the official ImageKit SDKs (Node
//! `@imagekit/nodejs`, Python `imagekitio`), the JWT libraries integrators sign with (npm
//! `jsonwebtoken`, PyJWT) and the tus client (`tus-js-client`), each run as a child process
//! against a fresh server.
//!
//! The scripts live in `tests/compat/{node,python}/`; their dependencies are installed by
//! `scripts/install-test-deps.sh`. Without them these tests fail — they never skip.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::process::Command;

use crate::harness::{TestApp, FIXTURES};

/// Bound on one script run (the scripts bound each request to 10 s themselves).
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);
const INSTALL_HINT: &str =
    "run scripts/install-test-deps.sh (it installs the SDKs the compatibility tests use)";

fn compat_dir() -> PathBuf {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("crates/");
    crates
        .parent()
        .expect("repository root")
        .join("tests/compat")
}

#[derive(Clone, Copy)]
enum Lang {
    Node,
    Python,
}

impl Lang {
    /// The interpreter and the folder holding the scripts; panics if the deps are missing.
    fn setup(self) -> (PathBuf, PathBuf) {
        let dir = compat_dir().join(match self {
            Lang::Node => "node",
            Lang::Python => "python",
        });
        let (program, marker) = match self {
            Lang::Node => (
                PathBuf::from("node"),
                dir.join("node_modules/@imagekit/nodejs/package.json"),
            ),
            Lang::Python => (dir.join(".venv/bin/python"), dir.join(".venv/bin/python")),
        };
        assert!(
            marker.exists(),
            "{} is missing: {INSTALL_HINT}",
            marker.display()
        );
        (program, dir)
    }
}

/// Runs `script` with the app's address, keys and the fixture folder in its environment
/// (plus `extra`); asserts it exits 0 and returns its stdout.
async fn run(app: &TestApp, lang: Lang, script: &str, extra: &[(&str, String)]) -> String {
    let mut env = vec![
        ("FOLIO_BASE_URL", app.base.clone()),
        ("FOLIO_PUBLIC_KEY", app.public_key.clone()),
        ("FOLIO_PRIVATE_KEY", app.private_key.clone()),
        ("FOLIO_FIXTURES", FIXTURES.to_owned()),
    ];
    env.extend(extra.iter().cloned());
    let output = run_script(lang, script, &env, None).await;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{script} failed ({})\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        output.status
    );
    print!("{stdout}");
    stdout
}

/// Runs `script` with `env` (and nothing from the developer's proxy or SDK setup), feeding it
/// `stdin`, bounded in time.
async fn run_script(
    lang: Lang,
    script: &str,
    env: &[(&str, String)],
    stdin: Option<String>,
) -> std::process::Output {
    let (program, dir) = lang.setup();
    let mut command = Command::new(&program);
    command
        .arg(script)
        .current_dir(&dir)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONUNBUFFERED", "1")
        // Loopback only, and nothing from the developer's own SDK setup.
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost");
    for var in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "IMAGEKIT_PRIVATE_KEY",
        "IMAGE_KIT_BASE_URL",
        "OPTIONAL_IMAGEKIT_IGNORES_THIS",
        "IMAGE_KIT_CUSTOM_HEADERS",
        "IMAGE_KIT_LOG",
        "NODE_OPTIONS",
    ] {
        command.env_remove(var);
    }
    for (k, v) in env {
        command.env(k, v);
    }
    command
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn().unwrap_or_else(|e| {
        panic!(
            "cannot start {} for {script}: {e}; {INSTALL_HINT}",
            program.display()
        )
    });
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        use tokio::io::AsyncWriteExt;
        pipe.write_all(text.as_bytes()).await.expect("write stdin");
        // Dropped here: the script sees the end of its input.
    }
    // On timeout the child is dropped, which kills it.
    tokio::time::timeout(SCRIPT_TIMEOUT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{script} did not finish within {SCRIPT_TIMEOUT:?}"))
        .expect("wait for the script")
}

#[tokio::test]
async fn node_sdk_uploads_with_the_private_key() {
    let app = TestApp::start().await;
    run(&app, Lang::Node, "sdk_upload.mjs", &[]).await;
}

#[tokio::test]
async fn python_sdk_uploads_with_the_private_key() {
    let app = TestApp::start().await;
    run(&app, Lang::Python, "sdk_upload.py", &[]).await;
}

#[tokio::test]
async fn node_sdk_manages_custom_metadata_fields_and_uploads_custom_metadata() {
    let app = TestApp::start().await;
    run(&app, Lang::Node, "custom_metadata.mjs", &[]).await;
}

#[tokio::test]
async fn python_sdk_manages_custom_metadata_fields_and_uploads_custom_metadata() {
    let app = TestApp::start().await;
    run(&app, Lang::Python, "custom_metadata.py", &[]).await;
}

/// List and search (spec §8.9, media-api §2–§3) through the SDKs' `assets.list`.
#[tokio::test]
async fn node_sdk_lists_and_searches_files() {
    let app = TestApp::start().await;
    run(&app, Lang::Node, "list_search.mjs", &[]).await;
}

#[tokio::test]
async fn python_sdk_lists_and_searches_files() {
    let app = TestApp::start().await;
    run(&app, Lang::Python, "list_search.py", &[]).await;
}

/// Folders, folder bulk jobs and cache purge (media-api §2) through the SDKs' own methods.
#[tokio::test]
async fn node_sdk_manages_folders_jobs_and_purges() {
    let app = TestApp::start().await;
    run(&app, Lang::Node, "folders.mjs", &[]).await;
}

#[tokio::test]
async fn python_sdk_manages_folders_jobs_and_purges() {
    let app = TestApp::start().await;
    run(&app, Lang::Python, "folders.py", &[]).await;
}

/// Signed delivery URLs (media-api §4) built by the SDKs' own helpers for private files.
#[tokio::test]
async fn node_sdk_signed_urls_are_served_and_tampered_ones_refused() {
    let app = TestApp::start().await;
    let endpoint = app.url_endpoint();
    run(
        &app,
        Lang::Node,
        "signed_urls.mjs",
        &[("FOLIO_URL_ENDPOINT", endpoint)],
    )
    .await;
}

#[tokio::test]
async fn python_sdk_signed_urls_are_served_and_tampered_ones_refused() {
    let app = TestApp::start().await;
    let endpoint = app.url_endpoint();
    run(
        &app,
        Lang::Python,
        "signed_urls.py",
        &[("FOLIO_URL_ENDPOINT", endpoint)],
    )
    .await;
}

/// The media API (media-api §2) driven by the SDKs' own methods: files, versions, bulk and
/// metadata (of a stored file, and of a URL on a loopback server the app may fetch).
async fn media_app() -> (TestApp, String) {
    let photo = crate::media_files::photo_server().await;
    let app = TestApp::builder()
        .config(|c| c.fetch.allow = vec!["127.0.0.1/32".to_owned()])
        .start()
        .await;
    (app, format!("{photo}/photo.jpg"))
}

#[tokio::test]
async fn node_sdk_manages_files_versions_and_metadata() {
    let (app, photo) = media_app().await;
    run(
        &app,
        Lang::Node,
        "media_files.mjs",
        &[("FOLIO_PHOTO_URL", photo)],
    )
    .await;
}

#[tokio::test]
async fn python_sdk_manages_files_versions_and_metadata() {
    let (app, photo) = media_app().await;
    run(
        &app,
        Lang::Python,
        "media_files.py",
        &[("FOLIO_PHOTO_URL", photo)],
    )
    .await;
}

#[tokio::test]
async fn a_jsonwebtoken_token_is_accepted_once() {
    let app = TestApp::start().await;
    run(&app, Lang::Node, "jwt_token.mjs", &[]).await;
}

/// tus-js-client (resumable.md): 64 MiB in 8 MiB chunks, the connection cut at about 30 %,
/// resumed from the URL storage; the same bytes are served and the token is spent. The script
/// checks what the client sees; here, what the storage kept.
#[tokio::test]
async fn tus_js_client_resumes_a_cut_upload_and_the_token_starts_no_second_one() {
    // Random bytes are no video: the general file limit must admit 64 MiB.
    let app = TestApp::builder()
        .config(|c| c.limits.max_file_size = 80 * 1024 * 1024)
        .start()
        .await;
    run(&app, Lang::Node, "tus_resumable.mjs", &[]).await;
    // One committed file; no partial data of the cut or resumed requests is left behind.
    app.assert_no_orphan_blobs(1).await;
    let partial: Vec<String> = app
        .stored_blobs()
        .into_iter()
        .filter(|b| !b.starts_with("v/"))
        .collect();
    assert!(partial.is_empty(), "left behind: {partial:?}");
}

#[tokio::test]
async fn a_pyjwt_token_is_accepted_once() {
    let app = TestApp::start().await;
    run(&app, Lang::Python, "jwt_token.py", &[]).await;
}

/// Tokens from the folio-token library and from `folio token`, described for the scripts.
async fn folio_tokens(app: &TestApp) -> String {
    let params = [
        ("fileName", "dress façade.jpg"),
        ("useUniqueFileName", "false"),
        ("tags", "summer,dress"),
        (
            "customMetadata",
            r#"{"brand":"Nike","note":"a \"quoted\" word"}"#,
        ),
    ];
    let mut builder =
        folio_token::UploadToken::new(&app.public_key, &app.private_key).expires_in(400);
    for (k, v) in params {
        builder = builder.param(k, v);
    }
    let library = builder.sign().expect("mint");
    let library_params: serde_json::Map<String, Value> = params
        .iter()
        .map(|(k, v)| ((*k).to_owned(), json!(v)))
        .collect();

    let cli = Command::new(env!("CARGO_BIN_EXE_folio"))
        .args([
            "token",
            "--param",
            "fileName=x.jpg",
            "--param",
            "folder=/a b/",
        ])
        .args([
            "--public-key",
            &app.public_key,
            "--private-key",
            &app.private_key,
        ])
        .env_remove("FOLIO_CONFIG")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let cli = tokio::time::timeout(SCRIPT_TIMEOUT, cli)
        .await
        .expect("folio token finishes")
        .expect("run folio token");
    assert!(
        cli.status.success(),
        "folio token: {}",
        String::from_utf8_lossy(&cli.stderr)
    );
    let cli_token = String::from_utf8(cli.stdout).expect("utf-8");

    json!([
        {"source": "folio_token::UploadToken", "token": library, "params": library_params, "lifetime": 400},
        {"source": "folio token (CLI)", "token": cli_token.trim(),
         "params": {"fileName": "x.jpg", "folder": "/a b/"}, "lifetime": 600},
    ])
    .to_string()
}

fn v1_params(app: &TestApp) -> String {
    let params = folio_token::authentication_parameters(&app.private_key, None, None);
    serde_json::to_string(&params).expect("json")
}

#[tokio::test]
async fn folio_tokens_verify_under_jsonwebtoken() {
    let app = TestApp::start().await;
    let tokens = folio_tokens(&app).await;
    run(
        &app,
        Lang::Node,
        "verify_folio_token.mjs",
        &[("FOLIO_TOKENS", tokens)],
    )
    .await;
}

#[tokio::test]
async fn folio_tokens_verify_under_pyjwt() {
    let app = TestApp::start().await;
    let tokens = folio_tokens(&app).await;
    let v1 = v1_params(&app);
    run(
        &app,
        Lang::Python,
        "verify_folio_token.py",
        &[("FOLIO_TOKENS", tokens), ("FOLIO_V1_PARAMS", v1)],
    )
    .await;
}

#[tokio::test]
async fn v1_authentication_parameters_upload_once() {
    let app = TestApp::start().await;
    let v1 = v1_params(&app);
    run(
        &app,
        Lang::Node,
        "v1_signature.mjs",
        &[("FOLIO_V1_PARAMS", v1)],
    )
    .await;
}

/// What the SDK runs above showed (undici's fetch fails with `EPIPE` / "Connection error."):
/// a client still sending its file when the server has already decided (spec §2.5 streaming
/// note: here a wrong key) must get the answer, not a reset. Deterministic, without Node.
#[tokio::test]
async fn a_client_still_sending_after_an_early_rejection_gets_the_answer() {
    use base64::Engine;

    let app = TestApp::start().await;
    let boundary = "compat-boundary-7f3a";
    let head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"fileName\"\r\n\r\nx.jpg\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.jpg\"\r\n\
         Content-Type: image/jpeg\r\n\r\n"
    );
    let file = vec![0x5a_u8; 512 * 1024];
    let tail = format!("\r\n--{boundary}--\r\n");
    let auth = base64::engine::general_purpose::STANDARD.encode("private_not_a_key:");
    let addr = app.base.trim_start_matches("http://");
    let request_head = format!(
        "POST /api/v2/files/upload HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Basic {auth}\r\n\
         Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        head.len() + file.len() + tail.len()
    );

    let body = [head.as_bytes(), &file, tail.as_bytes()].concat();
    let answer = crate::harness::send_after_a_pause(addr, &request_head, &body).await;
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    assert!(
        answer.contains(r#""message":"Your account cannot be authenticated.""#),
        "{answer}"
    );
}

/// A delivery from a real Folio, handed to `webhooks.unwrap` of the SDK (`webhook_unwrap.*`):
/// the event unwrapped, or the exit code and the SDK's complaint.
async fn unwrap_delivery(
    lang: Lang,
    body: &str,
    headers: &http::HeaderMap,
    secret: &str,
) -> Result<Value, (i32, String)> {
    let headers: serde_json::Map<String, Value> = headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_owned(), json!(v.to_str().ok()?))))
        .collect();
    let input = json!({"body": body, "headers": headers, "secret": secret}).to_string();
    let script = match lang {
        Lang::Node => "webhook_unwrap.mjs",
        Lang::Python => "webhook_unwrap.py",
    };
    let output = run_script(lang, script, &[], Some(input)).await;
    if output.status.success() {
        Ok(serde_json::from_slice(&output.stdout).expect("the unwrapped event as JSON"))
    } else {
        Err((
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        ))
    }
}

/// Events of a real server verify with both SDKs; a tampered body and a stale (but correctly
/// signed) timestamp do not.
async fn sdk_verifies_events(lang: Lang) {
    let app = crate::webhooks::app().await;
    let receiver = crate::harness::Receiver::start().await;
    let (_, secret) =
        crate::webhooks::add_endpoint(&crate::webhooks::cli_env(&app), &receiver.url("/"), &[])
            .await;
    let uploaded = app
        .upload(
            crate::harness::fixture("tiny.jpg"),
            &[("fileName", "a.jpg")],
        )
        .await
        .assert_ok()
        .clone();
    let got = receiver.wait_accepted(1, 20).await;
    let delivery = &got[0];

    let event = unwrap_delivery(lang, &delivery.body, &delivery.headers, &secret)
        .await
        .unwrap_or_else(|(code, e)| panic!("refused ({code}): {e}"));
    assert_eq!(event["type"], "file.created", "{event}");
    assert_eq!(event["data"]["fileId"], uploaded["fileId"]);

    let tampered = delivery
        .body
        .replace("\"file.created\"", "\"file.deleted\"");
    assert_ne!(tampered, delivery.body);
    let refused = unwrap_delivery(lang, &tampered, &delivery.headers, &secret).await;
    assert!(matches!(refused, Err((1, _))), "{refused:?}");

    let wrong_key = unwrap_delivery(
        lang,
        &delivery.body,
        &delivery.headers,
        "whsec_another-secret-entirely",
    )
    .await;
    assert!(matches!(wrong_key, Err((1, _))), "{wrong_key:?}");

    // Signed correctly, ten minutes ago: replayed deliveries are refused.
    let stale = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
        - 600;
    let signer = standardwebhooks::Webhook::from_bytes(secret.as_bytes().to_vec()).expect("key");
    let id = delivery.header("webhook-id");
    let mut headers = delivery.headers.clone();
    headers.insert(
        "webhook-timestamp",
        stale.to_string().parse().expect("value"),
    );
    headers.insert(
        "webhook-signature",
        signer
            .sign(id, stale, delivery.body.as_bytes())
            .expect("sign")
            .parse()
            .expect("value"),
    );
    let refused = unwrap_delivery(lang, &delivery.body, &headers, &secret).await;
    assert!(matches!(refused, Err((1, _))), "{refused:?}");
}

#[tokio::test]
async fn node_sdk_verifies_events() {
    sdk_verifies_events(Lang::Node).await;
}

#[tokio::test]
async fn python_sdk_verifies_events() {
    sdk_verifies_events(Lang::Python).await;
}
