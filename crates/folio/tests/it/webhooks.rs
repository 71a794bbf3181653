//! Account webhook events (webhooks.md): what a change emits, how it is signed, retried and
//! kept across a crash. Receivers are real HTTP servers on loopback ([`Receiver`]); deliveries
//! are verified with the Standard Webhooks library the way the official SDKs derive the key.

use std::time::Duration;

use base64::Engine;
use serde_json::Value;

use crate::harness::{
    fixture, run_folio, Answer, Backing, Delivery, FolioProcess, Receiver, TestApp,
};

/// A server whose deliveries may go to loopback, retried fast.
pub async fn app() -> TestApp {
    TestApp::builder()
        .config(|c| {
            c.fetch.allow = vec!["127.0.0.1/32".to_owned()];
            c.webhooks.timeout_secs = 5;
            c.webhooks.retry_initial_ms = 50;
            c.webhooks.retry_max_ms = 200;
        })
        .start()
        .await
}

/// `folio webhooks add URL ARGS…` against the app's catalog: the endpoint id and secret.
pub async fn add_endpoint(env: &[(String, String)], url: &str, args: &[&str]) -> (String, String) {
    let mut all = vec!["webhooks", "add", url];
    all.extend_from_slice(args);
    let run = run_folio(&all, env).await;
    assert!(run.ok, "{}{}", run.stdout, run.stderr);
    let line = |key: &str| {
        run.stdout
            .lines()
            .find_map(|l| l.trim().strip_prefix(key))
            .unwrap_or_else(|| panic!("{key} in {}", run.stdout))
            .trim()
            .to_owned()
    };
    (line("id:"), line("secret:"))
}

pub fn cli_env(app: &TestApp) -> Vec<(String, String)> {
    let mut env = app.cli_env();
    env.push(("FOLIO_FETCH__ALLOW".to_owned(), "127.0.0.1/32".to_owned()));
    env
}

/// Verifies a delivery as `client.webhooks.unwrap` does (the key is the secret's text) and
/// returns the event.
fn verified(delivery: &Delivery, secret: &str) -> Value {
    let key = base64::engine::general_purpose::STANDARD.encode(secret);
    let verifier = standardwebhooks::Webhook::new(&key).expect("key");
    verifier
        .verify(delivery.body.as_bytes(), &delivery.headers)
        .unwrap_or_else(|e| panic!("{e:?}: {delivery:#?}"));
    let event = delivery.json();
    assert_eq!(event["id"], delivery.header("webhook-id"), "{event}");
    event
}

fn accepted(deliveries: &[Delivery]) -> Vec<&Delivery> {
    deliveries
        .iter()
        .filter(|d| (200..300).contains(&d.status))
        .collect()
}

#[tokio::test]
async fn uploads_overwrites_and_deletes_are_delivered_signed() {
    let app = app().await;
    let receiver = Receiver::start().await;
    let (_, secret) = add_endpoint(&cli_env(&app), &receiver.url("/hooks"), &[]).await;

    let fields = [("fileName", "cat.jpg"), ("useUniqueFileName", "false")];
    let response = app
        .client
        .post(app.url("/api/v2/files/upload"))
        .header("Authorization", app.basic())
        .header("User-Agent", "webhook-test/1.0")
        .multipart(crate::harness::form_with_file(fixture("tiny.jpg"), &fields))
        .send()
        .await
        .expect("send");
    let request_id = response
        .headers()
        .get("x-ik-requestId")
        .and_then(|v| v.to_str().ok())
        .expect("request id")
        .to_owned();
    let first = TestApp::reply(response).await.assert_ok().clone();
    let got = receiver.wait_accepted(1, 20).await;
    let created = verified(&got[0], &secret);
    assert_eq!(got[0].path, "/hooks");
    assert_eq!(created["type"], "file.created");
    assert_eq!(created["data"]["fileId"], first["fileId"]);
    assert_eq!(created["data"]["name"], "cat.jpg");
    assert_eq!(created["data"]["type"], "file");
    assert_eq!(
        created["data"]["versionInfo"]["id"],
        first["versionInfo"]["id"]
    );
    assert_eq!(created["request"]["x_request_id"], request_id.as_str());
    assert_eq!(created["request"]["user_agent"], "webhook-test/1.0");
    assert!(created["created_at"]
        .as_str()
        .is_some_and(|t| t.ends_with('Z')));
    // The old header for receivers written against the 2024 docs, under the same secret.
    assert!(got[0].header("x-ik-signature").starts_with("t="));

    let second = app
        .upload(fixture("tiny.jpg"), &fields)
        .await
        .assert_ok()
        .clone();
    let got = receiver.wait_accepted(2, 20).await;
    let version = verified(&got[1], &secret);
    assert_eq!(version["type"], "file-version.created");
    assert_eq!(version["data"]["fileId"], first["fileId"]);
    assert_eq!(
        version["data"]["versionInfo"]["id"],
        second["versionInfo"]["id"]
    );
    assert_eq!(version["data"]["versionInfo"]["name"], "Version 2");

    let file_id = first["fileId"].as_str().expect("id");
    let reply = app
        .api(
            reqwest::Method::DELETE,
            &format!("/v1/files/{file_id}"),
            None,
        )
        .await;
    assert_eq!(reply.status, 204, "{:?}", reply.body);
    let got = receiver.wait_accepted(3, 20).await;
    let deleted = verified(&got[2], &secret);
    assert_eq!(deleted["type"], "file.deleted");
    assert_eq!(deleted["data"], serde_json::json!({ "fileId": file_id }));
    // Three events, three ids.
    let mut ids: Vec<&str> = got.iter().map(|d| d.header("webhook-id")).collect();
    ids.dedup();
    assert_eq!(ids.len(), 3);
}

#[tokio::test]
async fn a_receiver_that_fails_three_times_gets_the_fourth_attempt_with_the_same_id() {
    let app = app().await;
    let receiver = Receiver::start().await;
    receiver.answer_next([500, 500, 500].map(Answer::status));
    let (_, secret) = add_endpoint(&cli_env(&app), &receiver.url("/"), &[]).await;
    app.upload(fixture("tiny.jpg"), &[("fileName", "a.jpg")])
        .await
        .assert_ok();
    let got = receiver.wait_accepted(1, 30).await;
    let statuses: Vec<u16> = got.iter().map(|d| d.status).collect();
    assert_eq!(statuses, [500, 500, 500, 200]);
    let ids: Vec<&str> = got.iter().map(|d| d.header("webhook-id")).collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    // Each attempt is signed afresh, and each verifies.
    for delivery in &got {
        verified(delivery, &secret);
    }
    // Nothing more once it is delivered; the log says so.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.received().len(), 4);
    let log = run_folio(&["webhooks", "deliveries"], &cli_env(&app)).await;
    assert!(log.ok, "{}", log.stderr);
    assert!(
        log.stdout.contains("file.created  delivered"),
        "{}",
        log.stdout
    );
    assert!(log.stdout.contains("attempts 4"), "{}", log.stdout);
}

#[tokio::test]
async fn filters_pick_events_and_a_410_disables_the_endpoint() {
    let app = app().await;
    let receiver = Receiver::start().await;
    let env = cli_env(&app);
    let (id, secret) = add_endpoint(
        &env,
        &receiver.url("/deleted"),
        &["--events", "file.deleted"],
    )
    .await;
    let uploaded = app
        .upload(fixture("tiny.jpg"), &[("fileName", "a.jpg")])
        .await
        .assert_ok()
        .clone();
    let file_id = uploaded["fileId"].as_str().expect("id").to_owned();
    let reply = app
        .api(
            reqwest::Method::POST,
            "/v1/files/batch/deleteByFileIds",
            Some(serde_json::json!({ "fileIds": [file_id] })),
        )
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let got = receiver.wait_accepted(1, 20).await;
    // Only the deletion: the endpoint did not ask for file.created.
    assert_eq!(got.len(), 1);
    assert_eq!(verified(&got[0], &secret)["type"], "file.deleted");

    receiver.answer_otherwise(Some(Answer::status(410)));
    let reply = app
        .upload(fixture("tiny.jpg"), &[("fileName", "b.jpg")])
        .await
        .assert_ok()
        .clone();
    let file_id = reply["fileId"].as_str().expect("id").to_owned();
    app.api(
        reqwest::Method::DELETE,
        &format!("/v1/files/{file_id}"),
        None,
    )
    .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while receiver.received().len() < 2 {
        assert!(std::time::Instant::now() < deadline, "no second attempt");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let list = run_folio(&["webhooks", "list"], &env).await;
    assert!(list.stdout.contains(&id), "{}", list.stdout);
    assert!(list.stdout.contains("disabled"), "{}", list.stdout);
    assert!(list.stdout.contains("410 Gone"), "{}", list.stdout);
    // A disabled endpoint gets no more events, and one 410 is no retry.
    let third = app
        .upload(fixture("tiny.jpg"), &[("fileName", "c.jpg")])
        .await
        .assert_ok()
        .clone();
    let file_id = third["fileId"].as_str().expect("id").to_owned();
    app.api(
        reqwest::Method::DELETE,
        &format!("/v1/files/{file_id}"),
        None,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(receiver.received().len(), 2);
}

#[tokio::test]
async fn bad_endpoints_and_event_names_are_refused() {
    let app = TestApp::start().await;
    let env = app.cli_env();
    for (url, args, says) in [
        (
            "ftp://example.com/hook",
            &[][..],
            "a scheme other than http or https",
        ),
        ("not a url", &[][..], "is not a URL"),
        ("http://10.1.2.3/hook", &[][..], "a non-public address"),
        ("http://127.0.0.1:9/hook", &[][..], "fetch.allow"),
        (
            "http://localhost:9/hook",
            &[][..],
            "resolves to no public address",
        ),
        ("http://user:pw@example.com/", &[][..], "user info"),
        (
            "https://example.com/hook",
            &["--events", "file.created,file.exploded"][..],
            "unknown event type \"file.exploded\"",
        ),
    ] {
        let mut all = vec!["webhooks", "add", url];
        all.extend_from_slice(args);
        let run = run_folio(&all, &env).await;
        assert!(!run.ok, "{url} {args:?} was accepted: {}", run.stdout);
        assert!(run.stderr.contains(says), "{url}: {}", run.stderr);
    }
    let list = run_folio(&["webhooks", "list"], &env).await;
    assert!(
        list.stdout.contains("no webhook endpoints"),
        "{}",
        list.stdout
    );
}

#[tokio::test]
async fn a_rotated_secret_and_the_old_one_both_verify_during_the_grace_period() {
    let app = app().await;
    let receiver = Receiver::start().await;
    let env = cli_env(&app);
    let (id, old) = add_endpoint(&env, &receiver.url("/"), &[]).await;
    let run = run_folio(&["webhooks", "rotate-secret", &id], &env).await;
    assert!(run.ok, "{}", run.stderr);
    let new = run
        .stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("secret:"))
        .expect("new secret")
        .trim()
        .to_owned();
    assert_ne!(new, old);
    app.upload(fixture("tiny.jpg"), &[("fileName", "a.jpg")])
        .await
        .assert_ok();
    let got = receiver.wait_accepted(1, 20).await;
    verified(&got[0], &new);
    verified(&got[0], &old);
    assert_eq!(got[0].header("webhook-signature").split(' ').count(), 2);
    // Removed: nothing more is sent.
    let run = run_folio(&["webhooks", "rm", &id], &env).await;
    assert!(run.ok, "{}", run.stderr);
    app.upload(fixture("tiny.jpg"), &[("fileName", "b.jpg")])
        .await
        .assert_ok();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.received().len(), 1);
}

/// The environment of a `folio serve` process that delivers to loopback, fast, on `backing`
/// (the test run's backend).
fn process_env(backing: &Backing, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = [
        ("FOLIO_FETCH__ALLOW", "127.0.0.1/32"),
        ("FOLIO_WEBHOOKS__TIMEOUT_SECS", "1"),
        ("FOLIO_WEBHOOKS__RETRY_INITIAL_MS", "100"),
        ("FOLIO_WEBHOOKS__RETRY_MAX_MS", "500"),
        ("FOLIO_STORAGE__FSYNC", "false"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    env.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    env.extend(backing.env());
    env
}

async fn upload_to(process: &FolioProcess, name: &str) -> Value {
    let (_, private) = process.keys.clone().expect("keys");
    let response = reqwest::Client::new()
        .post(format!("{}/api/v2/files/upload", process.base()))
        .basic_auth(private, Some(""))
        .multipart(crate::harness::form_with_file(
            fixture("tiny.jpg"),
            &[("fileName", name)],
        ))
        .send()
        .await
        .expect("send");
    TestApp::reply(response).await.assert_ok().clone()
}

#[tokio::test]
async fn events_pending_when_the_server_is_killed_are_delivered_after_restart() {
    let data = tempfile::tempdir().expect("tempdir");
    let receiver = Receiver::start().await;
    // The receiver is down: every attempt fails until it comes back.
    receiver.answer_otherwise(Some(Answer::status(503)));
    let backing = Backing::fresh().await;
    let env = process_env(&backing, &[]);
    let mut first = FolioProcess::start(data.path(), &[], &env);
    let mut cli = env.clone();
    cli.push((
        "FOLIO_DATA_DIR".to_owned(),
        data.path().display().to_string(),
    ));
    let (_, secret) = add_endpoint(&cli, &receiver.url("/"), &[]).await;
    let mut file_ids = Vec::new();
    for i in 0..20 {
        let reply = upload_to(&first, &format!("f{i}.jpg")).await;
        file_ids.push(reply["fileId"].as_str().expect("id").to_owned());
    }
    // Some attempts have failed; some rows may be claimed right now.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let keys = first.keys.clone();
    first.kill();

    receiver.answer_otherwise(None);
    let mut second = FolioProcess::start(data.path(), &[], &env);
    second.keys = keys;
    // Claims the dead process held come due when their leases end (timeout + 5 s).
    let deadline = std::time::Instant::now() + Duration::from_secs(40);
    loop {
        let got = receiver.received();
        let mut delivered: Vec<String> = accepted(&got)
            .iter()
            .map(|d| {
                verified(d, &secret)["data"]["fileId"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned()
            })
            .collect();
        delivered.sort();
        delivered.dedup();
        if delivered.len() == file_ids.len() {
            let mut want = file_ids.clone();
            want.sort();
            assert_eq!(delivered, want);
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{} of {} events delivered after the restart",
            delivered.len(),
            file_ids.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    second.kill();
}

#[tokio::test]
async fn an_extension_job_survives_a_restart() {
    let data = tempfile::tempdir().expect("tempdir");
    let runner = Receiver::start().await;
    let tags = serde_json::json!({"tags": [{"name": "cat", "confidence": 97.0}]});
    // The first call hangs past the kill; the next one answers at once.
    runner.answer_next([Answer {
        status: 200,
        body: tags.clone(),
        delay: Duration::from_secs(60),
    }]);
    runner.answer_otherwise(Some(Answer {
        status: 200,
        body: tags,
        delay: Duration::ZERO,
    }));
    let hook = Receiver::start().await;
    let runners = format!("google-auto-tagging={}", runner.url("/tag"));
    let backing = Backing::fresh().await;
    let env = process_env(
        &backing,
        &[
            ("FOLIO_EXTENSIONS__RUNNERS", &runners),
            ("FOLIO_EXTENSIONS__RUNNER_TIMEOUT_SECS", "2"),
        ],
    );
    let mut first = FolioProcess::start(data.path(), &[], &env);
    let (_, private) = first.keys.clone().expect("keys");
    let response = reqwest::Client::new()
        .post(format!("{}/api/v2/files/upload", first.base()))
        .basic_auth(&private, Some(""))
        .multipart(crate::harness::form_with_file(
            fixture("tiny.jpg"),
            &[
                ("fileName", "cat.jpg"),
                (
                    "extensions",
                    r#"[{"name":"google-auto-tagging","minConfidence":50,"maxTags":5}]"#,
                ),
                ("webhookUrl", &hook.url("/done")),
            ],
        ))
        .send()
        .await
        .expect("send");
    let uploaded = TestApp::reply(response).await.assert_ok().clone();
    assert_eq!(
        uploaded["extensionStatus"]["google-auto-tagging"],
        "pending"
    );
    // The runner has the job; the server dies before it answers.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while runner.received().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the runner was not called"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    first.kill();
    assert!(hook.received().is_empty());

    let mut second = FolioProcess::start(data.path(), &[], &env);
    let got = hook.wait_accepted(1, 40).await;
    assert_eq!(runner.received().len(), 2, "called again after the restart");
    let callback = got[0].json();
    assert_eq!(callback["status"], "SUCCESS", "{callback}");
    assert_eq!(callback["fileObject"]["fileId"], uploaded["fileId"]);
    assert_eq!(callback["fileObject"]["AITags"][0]["name"], "cat");
    // Signed like an event, under the private key of the upload's key pair.
    let key = base64::engine::general_purpose::STANDARD.encode(&private);
    standardwebhooks::Webhook::new(&key)
        .expect("key")
        .verify(got[0].body.as_bytes(), &got[0].headers)
        .expect("the callback verifies under the private key");
    second.kill();
}

#[tokio::test]
async fn transformations_report_their_outcomes() {
    let app = app().await;
    let receiver = Receiver::start().await;
    let (_, secret) = add_endpoint(&cli_env(&app), &receiver.url("/"), &[]).await;
    let uploaded = app
        .upload(
            fixture("photo-exif.jpg"),
            &[
                ("fileName", "p.jpg"),
                (
                    "transformation",
                    r#"{"pre":"w-100","post":[{"type":"transformation","value":"h-20"}]}"#,
                ),
            ],
        )
        .await
        .assert_ok()
        .clone();
    let got = receiver.wait_accepted(3, 20).await;
    let mut events: Vec<Value> = got.iter().map(|d| verified(d, &secret)).collect();
    events.sort_by_key(|e| e["type"].as_str().unwrap_or_default().to_owned());
    let types: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(
        types,
        [
            "file.created",
            "upload.post-transform.success",
            "upload.pre-transform.success"
        ]
    );
    // The pre-transformation's result is the file.
    assert_eq!(events[2]["data"]["fileId"], uploaded["fileId"]);
    assert_eq!(events[2]["data"]["width"], uploaded["width"]);
    let post = &events[1]["data"];
    assert_eq!(post["fileId"], uploaded["fileId"]);
    let url = post["url"].as_str().expect("url");
    assert!(url.contains("/tr:h-20/"), "{url}");
    // The rendition it names is served.
    let served = app.get(url).await;
    assert_eq!(served.status(), 200);
}

#[tokio::test]
async fn endpoints_declared_in_the_config_file_receive_events() {
    let data = tempfile::tempdir().expect("tempdir");
    let receiver = Receiver::start().await;
    let secret = "whsec_declared-in-the-config-file-0123";
    let config = data.path().join("folio.toml");
    std::fs::write(
        &config,
        format!(
            "[[webhooks.endpoints]]\nurl = \"{}\"\nsecret = \"{secret}\"\nevents = [\"file.created\"]\n",
            receiver.url("/from-config")
        ),
    )
    .expect("config");
    let backing = Backing::fresh().await;
    let mut env = process_env(&backing, &[]);
    env.push(("FOLIO_CONFIG".to_owned(), config.display().to_string()));
    let mut first = FolioProcess::start(data.path(), &[], &env);
    upload_to(&first, "a.jpg").await;
    let got = receiver.wait_accepted(1, 20).await;
    assert_eq!(got[0].path, "/from-config");
    assert_eq!(verified(&got[0], secret)["type"], "file.created");

    let mut cli = env.clone();
    cli.push((
        "FOLIO_DATA_DIR".to_owned(),
        data.path().display().to_string(),
    ));
    let list = run_folio(&["webhooks", "list"], &cli).await;
    assert!(list.stdout.contains("(config)"), "{}", list.stdout);
    let id = list
        .stdout
        .split_whitespace()
        .next()
        .expect("an endpoint id")
        .to_owned();
    let rm = run_folio(&["webhooks", "rm", &id], &cli).await;
    assert!(!rm.ok && rm.stderr.contains("config file"), "{}", rm.stderr);
    // Restarted without it, the endpoint is gone.
    let keys = first.keys.clone();
    first.kill();
    std::fs::write(&config, "").expect("config");
    let mut second = FolioProcess::start(data.path(), &[], &env);
    second.keys = keys;
    let list = run_folio(&["webhooks", "list"], &cli).await;
    assert!(
        list.stdout.contains("no webhook endpoints"),
        "{}",
        list.stdout
    );
    upload_to(&second, "b.jpg").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.received().len(), 1);
    second.kill();

    // A secret too short to be one is refused at start.
    std::fs::write(
        &config,
        "[[webhooks.endpoints]]\nurl = \"https://example.com/\"\nsecret = \"short\"\n",
    )
    .expect("config");
    let run = run_folio(&["webhooks", "list"], &cli).await;
    assert!(
        !run.ok && run.stderr.contains("24 characters"),
        "{}",
        run.stderr
    );
}
