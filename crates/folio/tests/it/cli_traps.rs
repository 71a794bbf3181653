//! The command line's first-run traps, through the real binary: commands other than `serve`
//! never create a library and say which one they opened, configuration errors name their
//! variable, sizes take units, and the effective configuration and the stores' health can be
//! asked for.

use crate::harness::{backend, run_folio, Backend, TestApp};

fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[tokio::test]
async fn commands_other_than_serve_never_create_a_library() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let env = vars(&[("FOLIO_DATA_DIR", &data.display().to_string())]);
    let looked = format!("no library at {}", data.join("folio.db").display());
    for args in [
        &["keys", "list"][..],
        &["keys", "create"],
        &["token", "--param", "fileName=a.jpg"],
        &["files", "ls"],
        &["webhooks", "list"],
        &["migrate"],
        &["health"],
    ] {
        let run = run_folio(args, &env).await;
        assert!(!run.ok, "{args:?} succeeded: {}", run.stdout);
        assert!(run.stderr.contains(&looked), "{args:?}: {}", run.stderr);
        assert!(
            run.stderr.contains("`folio serve` creates one")
                && run.stderr.contains("FOLIO_DATA_DIR"),
            "{args:?}: {}",
            run.stderr
        );
        assert!(!data.exists(), "{args:?} created {}", data.display());
    }
}

#[tokio::test]
async fn commands_say_which_library_they_opened() {
    let app = TestApp::start().await;
    let run = run_folio(&["keys", "list"], &app.cli_env()).await;
    assert!(run.ok, "{}", run.stderr);
    assert!(run.stdout.contains(&app.public_key), "{}", run.stdout);
    let expected = match backend() {
        Backend::SqliteFiles => format!(
            "folio: library sqlite://{}",
            app.data.path().join("folio.db").display()
        ),
        Backend::PostgresS3 => "folio: library postgres://".to_owned(),
    };
    assert!(run.stderr.contains(&expected), "{}", run.stderr);
}

#[tokio::test]
async fn folio_health_checks_both_stores() {
    let app = TestApp::start().await;
    let run = run_folio(&["health"], &app.cli_env()).await;
    assert!(run.ok, "{}", run.stderr);
    assert_eq!(run.stdout, "catalog: ok\nblobs: ok\n");

    // The same library with a blob store that does not answer (nothing listens on port 9).
    let mut env = app.cli_env();
    env.extend(vars(&[
        (
            "FOLIO_BLOBS",
            "s3://gone?endpoint=http://127.0.0.1:9&region=us-east-1",
        ),
        ("FOLIO_S3__ACCESS_KEY_ID", "folio"),
        ("FOLIO_S3__SECRET_ACCESS_KEY", "folio-secret"),
        ("FOLIO_S3__MAX_RETRIES", "0"),
    ]));
    let run = run_folio(&["health"], &env).await;
    assert!(!run.ok, "{}", run.stdout);
    assert!(
        run.stdout.starts_with("catalog: ok\nblobs: unavailable: "),
        "{}",
        run.stdout
    );
    assert!(run.stderr.contains("not healthy"), "{}", run.stderr);
}

#[tokio::test]
async fn config_print_shows_the_effective_configuration_without_secrets() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let env = vars(&[
        ("FOLIO_DATA_DIR", &data.display().to_string()),
        ("FOLIO_LIMITS__MAX_FILE_SIZE", "10MB"),
        ("FOLIO_RESUMABLE__CHECKPOINT_BYTES", "4MiB"),
        ("FOLIO_LISTEN", "localhost:9999"),
        (
            "FOLIO_CATALOG",
            "postgres://folio:hunter2@db.internal/folio",
        ),
        ("FOLIO_S3__SECRET_ACCESS_KEY", "very-secret"),
    ]);
    let run = run_folio(&["config", "print"], &env).await;
    assert!(run.ok, "{}", run.stderr);
    for expected in [
        "# catalog: postgres://folio:***@db.internal/folio",
        "max_file_size = 10000000",
        "checkpoint_bytes = 4194304",
        "listen = \"127.0.0.1:9999\"",
        "secret_access_key = \"<redacted>\"",
    ] {
        assert!(run.stdout.contains(expected), "{expected}: {}", run.stdout);
    }
    assert!(!run.stdout.contains("hunter2") && !run.stdout.contains("very-secret"));
    assert!(
        !data.exists(),
        "printing the configuration opens no library"
    );

    // What it prints is a configuration file: loaded back, it prints the same.
    let file = dir.path().join("printed.toml");
    std::fs::write(&file, &run.stdout).expect("write");
    let again = run_folio(
        &["config", "print", "--config", &file.display().to_string()],
        &[],
    )
    .await;
    assert!(again.ok, "{}", again.stderr);
    assert_eq!(again.stdout, run.stdout);
}

#[tokio::test]
async fn configuration_errors_name_the_variable_and_the_flag() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().display().to_string();
    let run = run_folio(
        &["config", "print"],
        &vars(&[("FOLIO_DATA_DIR", &data), ("FOLIO_PORT", "8080")]),
    )
    .await;
    assert!(!run.ok);
    assert!(
        run.stderr
            .contains("environment variable FOLIO_PORT: unknown field `port`"),
        "{}",
        run.stderr
    );
    let run = run_folio(
        &["config", "print"],
        &vars(&[
            ("FOLIO_DATA_DIR", &data),
            ("FOLIO_LIMITS__MAX_FILE_SIZE", "ten"),
        ]),
    )
    .await;
    assert!(
        run.stderr
            .contains("environment variable FOLIO_LIMITS__MAX_FILE_SIZE: `ten` is not a size"),
        "{}",
        run.stderr
    );
    let run = run_folio(
        &["serve", "--data-dir", &data, "--listen", "nowhere:80"],
        &[],
    )
    .await;
    assert!(!run.ok);
    assert!(
        run.stderr.contains("--listen") && run.stderr.contains("is not a listen address"),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn help_shows_defaults_and_variables() {
    let run = run_folio(&["serve", "--help"], &[]).await;
    assert!(run.ok, "{}", run.stderr);
    for expected in [
        "[default: 127.0.0.1:8080]",
        "[env: FOLIO_LISTEN=]",
        "[env: FOLIO_DATA_DIR=]",
        "FOLIO_LOG",
        "FOLIO_LIMITS__MAX_FILE_SIZE",
        "folio config print",
    ] {
        assert!(run.stdout.contains(expected), "{expected}: {}", run.stdout);
    }
}
