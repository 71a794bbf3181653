//! `folio files url`: the real binary prints a signed URL that the running server serves for
//! a private file, signed with the account's newest live key, and refuses what could never
//! be served, saying why.

use serde_json::Value;

use crate::harness::{fixture, run_folio, sign_url, CliRun, TestApp};

async fn files_url(app: &TestApp, args: &[&str]) -> CliRun {
    let mut all = vec!["files", "url"];
    all.extend_from_slice(args);
    run_folio(&all, &app.cli_env()).await
}

/// The one URL a successful run printed.
#[track_caller]
fn printed_url(run: &CliRun) -> String {
    assert!(run.ok, "stderr: {}", run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "stdout: {}", run.stdout);
    lines[0].to_owned()
}

async fn private_upload(app: &TestApp, name: &str, folder: &str) -> Value {
    app.upload(
        fixture("photo-exif.jpg"),
        &[
            ("fileName", name),
            ("folder", folder),
            ("useUniqueFileName", "false"),
            ("isPrivateFile", "true"),
        ],
    )
    .await
    .assert_ok()
    .clone()
}

#[tokio::test]
async fn the_printed_url_serves_a_private_file() {
    let app = TestApp::start().await;
    let file = private_upload(&app, "cat.jpg", "/pets").await;
    let unsigned = file["url"].as_str().expect("url");
    assert_eq!(app.get(unsigned).await.status(), 401);

    // No expiry: exactly the URL the SDKs build, `ik-s` only.
    let url = printed_url(&files_url(&app, &["/pets/cat.jpg"]).await);
    assert_eq!(
        url,
        sign_url(&app.private_key, &app.url_endpoint(), "pets/cat.jpg", None)
    );
    let response = app.get(&url).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.bytes().await.expect("bytes").as_ref(),
        fixture("photo-exif.jpg").as_slice()
    );

    // `--expires`: an `ik-t` that many seconds ahead (the path may omit its leading slash).
    let before = folio::ids::now_secs();
    let url = printed_url(&files_url(&app, &["pets/cat.jpg", "--expires", "300"]).await);
    let after = folio::ids::now_secs();
    let expiry: i64 = url
        .split_once("?ik-t=")
        .and_then(|(_, rest)| rest.split_once('&'))
        .map(|(t, _)| t.parse().expect("digits"))
        .expect("ik-t");
    assert!((before + 300..=after + 300).contains(&expiry), "{url}");
    assert_eq!(
        url,
        sign_url(
            &app.private_key,
            &app.url_endpoint(),
            "pets/cat.jpg",
            Some(expiry)
        )
    );
    let response = app.get(&url).await;
    assert_eq!(response.status(), 200);
    let cache = response.headers()["cache-control"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(cache.starts_with("private, max-age="), "{cache}");

    // `--transformation`: signed into the path, rendered, and not changeable.
    let url = printed_url(
        &files_url(
            &app,
            &[
                "/pets/cat.jpg",
                "--transformation",
                "w-40",
                "--expires",
                "60",
            ],
        )
        .await,
    );
    assert!(url.contains("/default/tr:w-40/pets/cat.jpg?ik-t="), "{url}");
    let response = app.get(&url).await;
    assert_eq!(response.status(), 200);
    let bytes = response.bytes().await.expect("bytes");
    let facts = folio_media::probe(&bytes, bytes.len() as u64, "");
    assert_eq!(facts.width, Some(40));
    let tampered = url.replace("w-40", "w-400");
    let reply = TestApp::reply(app.get(&tampered).await).await;
    reply.assert_error(401, "The URL signature is invalid.");
}

#[tokio::test]
async fn it_signs_with_the_newest_live_key() {
    let app = TestApp::start().await;
    private_upload(&app, "k.jpg", "/").await;
    let newer = app
        .catalog()
        .create_key(None, None)
        .await
        .expect("create key");

    let url = printed_url(&files_url(&app, &["/k.jpg"]).await);
    assert_eq!(
        url,
        sign_url(&newer.private_key, &app.url_endpoint(), "k.jpg", None)
    );
    assert_eq!(app.get(&url).await.status(), 200);

    // Revoked: its URLs stop working, and the CLI falls back to the older key.
    assert!(app
        .catalog()
        .revoke_key(&newer.public_key)
        .await
        .expect("revoke"));
    assert_eq!(app.get(&url).await.status(), 401);
    let url = printed_url(&files_url(&app, &["/k.jpg"]).await);
    assert_eq!(
        url,
        sign_url(&app.private_key, &app.url_endpoint(), "k.jpg", None)
    );
    assert_eq!(app.get(&url).await.status(), 200);
}

#[tokio::test]
async fn what_could_never_be_served_is_refused_with_the_reason() {
    let app = TestApp::start().await;
    private_upload(&app, "a.jpg", "/").await;
    app.upload(
        fixture("tiny.jpg"),
        &[
            ("fileName", "draft.jpg"),
            ("useUniqueFileName", "false"),
            ("isPublished", "false"),
        ],
    )
    .await
    .assert_ok();
    let cases: [(&[&str], &str); 6] = [
        (&["/missing.jpg"], "no file /missing.jpg"),
        (&["/draft.jpg"], "/draft.jpg is unpublished"),
        (&["/a.jpg", "--account", "nobody"], "no account"),
        (
            &["/a.jpg", "--expires", "0"],
            "--expires 0: must be positive",
        ),
        (
            &["/a.jpg", "--transformation", "w-abc"],
            "--transformation w-abc: The requested transformation is invalid.",
        ),
        (
            &["/a.jpg", "--transformation", "e-grayscale"],
            "--transformation e-grayscale: The requested transformation is invalid.",
        ),
    ];
    for (args, expected) in cases {
        let run = files_url(&app, args).await;
        assert!(!run.ok, "{args:?} must fail; stdout: {}", run.stdout);
        assert!(run.stdout.is_empty(), "{args:?} printed {}", run.stdout);
        assert!(
            run.stderr.contains(expected),
            "{args:?}: {expected:?} not in {}",
            run.stderr
        );
        assert!(!run.stderr.contains(&app.private_key), "{}", run.stderr);
    }
    let run = files_url(&app, &["/a.jpg", "--expires", "99999999999"]).await;
    assert!(!run.ok);
    assert!(run.stderr.contains("the largest expiry"), "{}", run.stderr);
}
