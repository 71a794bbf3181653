//! `folio token`: the real binary mints a token that the server accepts once, and refuses what
//! the server would never accept, saying why.

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::process::Command;

use crate::harness::{fixture, form_with_file, TestApp};

const PUBLIC: &str = "public_cli_test_key";
const PRIVATE: &str = "private_cli_test_key";

struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

/// Runs `folio token ARGS` with `env`, bounded in time; no config file, no catalog keys.
async fn folio_token(args: &[&str], env: &[(&str, &str)]) -> Run {
    let data = tempfile::tempdir().expect("tempdir");
    let mut command = Command::new(env!("CARGO_BIN_EXE_folio"));
    command
        .arg("token")
        .args(args)
        .arg("--data-dir")
        .arg(data.path())
        .env_remove("FOLIO_CONFIG")
        .env_remove("FOLIO_PUBLIC_KEY")
        .env_remove("FOLIO_PRIVATE_KEY")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .expect("folio token finishes within 60 s")
        .expect("run folio token");
    Run {
        ok: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

async fn upload(app: &TestApp, token: &str, fields: &[(&str, &str)]) -> crate::harness::Reply {
    let mut all = fields.to_vec();
    all.push(("token", token));
    app.post(
        "/api/v2/files/upload",
        form_with_file(fixture("tiny.jpg"), &all),
        None,
    )
    .await
}

#[tokio::test]
async fn json_output_is_a_token_object_the_server_accepts_once() {
    let app = TestApp::builder().keys(PUBLIC, PRIVATE).start().await;
    let run = folio_token(
        &[
            "--public-key",
            PUBLIC,
            "--private-key",
            PRIVATE,
            "--param",
            "fileName=cli.jpg",
            "--param",
            "tags=cli,token",
            "--param",
            "useUniqueFileName=false",
            "--expire",
            "120",
            "--json",
        ],
        &[],
    )
    .await;
    assert!(run.ok, "stderr: {}", run.stderr);
    let printed: Value = serde_json::from_str(run.stdout.trim()).expect("stdout is JSON");
    let object = printed.as_object().expect("an object");
    assert_eq!(object.keys().collect::<Vec<_>>(), ["token"], "{printed}");
    let token = printed["token"].as_str().expect("token is a string");

    let fields = [
        ("fileName", "cli.jpg"),
        ("tags", "cli,token"),
        ("useUniqueFileName", "false"),
    ];
    let first = upload(&app, token, &fields).await;
    let body = first.assert_ok();
    assert_eq!(body["filePath"], "/cli.jpg");
    upload(&app, token, &fields).await.assert_error(
        400,
        "Your request contains a token that has already been used.",
    );
}

#[tokio::test]
async fn keys_may_come_from_the_environment() {
    // FOLIO_PUBLIC_KEY / FOLIO_PRIVATE_KEY are `folio token`'s, not configuration keys.
    let app = TestApp::builder().keys(PUBLIC, PRIVATE).start().await;
    let run = folio_token(
        &["--param", "fileName=env.jpg"],
        &[("FOLIO_PUBLIC_KEY", PUBLIC), ("FOLIO_PRIVATE_KEY", PRIVATE)],
    )
    .await;
    assert!(run.ok, "stderr: {}", run.stderr);
    upload(&app, run.stdout.trim(), &[("fileName", "env.jpg")])
        .await
        .assert_ok();
}

#[tokio::test]
async fn what_the_server_would_refuse_is_refused_with_the_reason() {
    let keys = ["--public-key", PUBLIC, "--private-key", PRIVATE];
    let cases: [(&[&str], &[&str]); 6] = [
        (
            &["--param", "file=photo.jpg"],
            &[
                "--param file=",
                "`file` (the content) and `token` (the JWT itself)",
            ],
        ),
        (
            &["--param", "token=abc"],
            &["--param token=", "cannot be signed"],
        ),
        (
            &["--param", "exp=1"],
            &["--param exp=", "reserved JWT claim"],
        ),
        (
            &["--expire", "3601"],
            &["--expire 3601", "at most 3600 s (one hour)"],
        ),
        (&["--expire", "0"], &["--expire 0", "must be positive"]),
        (
            &["--param", "fileName"],
            &["--param fileName", "expected NAME=VALUE"],
        ),
    ];
    for (args, expected) in cases {
        let mut all = keys.to_vec();
        all.extend_from_slice(args);
        let run = folio_token(&all, &[]).await;
        assert!(!run.ok, "{args:?} must fail; stdout: {}", run.stdout);
        assert!(run.stdout.is_empty(), "{args:?} printed {}", run.stdout);
        for part in expected {
            assert!(
                run.stderr.contains(part),
                "{args:?}: {part:?} not in {}",
                run.stderr
            );
        }
        assert!(!run.stderr.contains(PRIVATE), "{}", run.stderr);
    }
    // The limit itself is fine.
    let mut at_limit = keys.to_vec();
    at_limit.extend_from_slice(&["--expire", "3600", "--param", "fileName=a.jpg"]);
    let run = folio_token(&at_limit, &[]).await;
    assert!(run.ok, "stderr: {}", run.stderr);
}
