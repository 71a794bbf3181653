//! `folio accounts` and `folio keys create --expires`, through the real binary, against a
//! running server on the same library: accounts have their own URL segment, keys and files,
//! can be disabled and enabled, and keys can expire.

use std::time::Duration;

use crate::harness::{fixture, form_with_file, run_folio, Reply, TestApp};

/// The value after `label` on a line of `text`.
fn printed(text: &str, label: &str) -> String {
    text.lines()
        .find_map(|line| line.trim().strip_prefix(label))
        .map(|v| v.trim().to_owned())
        .unwrap_or_else(|| panic!("no {label} in {text}"))
}

/// A server-side upload authenticated with `private_key`.
async fn upload_as(app: &TestApp, private_key: &str, name: &str) -> Reply {
    let response = app
        .client
        .post(app.url("/api/v2/files/upload"))
        .basic_auth(private_key, Some(""))
        .multipart(form_with_file(fixture("tiny.jpg"), &[("fileName", name)]))
        .send()
        .await
        .expect("upload");
    TestApp::reply(response).await
}

#[tokio::test]
async fn accounts_have_their_own_url_keys_and_files_and_can_be_disabled() {
    let app = TestApp::start().await;
    let env = app.cli_env();
    let created = run_folio(&["accounts", "create", "shop"], &env).await;
    assert!(created.ok, "{}", created.stderr);
    let private = printed(&created.stdout, "private key:");
    assert!(
        printed(&created.stdout, "url endpoint:").ends_with("/shop"),
        "{}",
        created.stdout
    );

    let again = run_folio(&["accounts", "create", "shop"], &env).await;
    assert!(
        !again.ok && again.stderr.contains("exists already"),
        "{}",
        again.stderr
    );
    for (bad, why) in [("Shop", "lowercase"), ("api", "own routes")] {
        let refused = run_folio(&["accounts", "create", bad], &env).await;
        assert!(
            !refused.ok && refused.stderr.contains(why),
            "{bad}: {}",
            refused.stderr
        );
    }
    let list = run_folio(&["accounts", "list"], &env).await;
    assert!(list.ok, "{}", list.stderr);
    assert!(
        list.stdout.contains("default\tactive\t1 live key(s)"),
        "{}",
        list.stdout
    );
    assert!(
        list.stdout.contains("shop\tactive\t1 live key(s)"),
        "{}",
        list.stdout
    );

    // Its uploads live under its own URL segment, out of the other account's sight.
    let body = upload_as(&app, &private, "p.jpg").await.assert_ok().clone();
    let url = body["url"].as_str().expect("url");
    assert!(url.contains("/shop/p"), "{url}");
    assert_eq!(app.get(url).await.status(), 200);
    let details = format!("/v1/files/{}/details", body["fileId"].as_str().expect("id"));
    app.api(reqwest::Method::GET, &details, None)
        .await
        .assert_code("FILE_NOT_FOUND");

    let disabled = run_folio(&["accounts", "disable", "shop"], &env).await;
    assert!(disabled.ok, "{}", disabled.stderr);
    upload_as(&app, &private, "q.jpg")
        .await
        .assert_error(403, "Your account is disabled.")
        .assert_code("ACCOUNT_DISABLED");
    let enabled = run_folio(&["accounts", "enable", "shop"], &env).await;
    assert!(enabled.ok, "{}", enabled.stderr);
    upload_as(&app, &private, "q.jpg").await.assert_ok();
    let missing = run_folio(&["accounts", "disable", "nobody"], &env).await;
    assert!(!missing.ok && missing.stderr.contains("no account with URL id nobody"));
}

#[tokio::test]
async fn keys_created_with_an_expiry_stop_working_then() {
    let app = TestApp::start().await;
    let env = app.cli_env();
    let created = run_folio(&["keys", "create", "--expires", "2s"], &env).await;
    assert!(created.ok, "{}", created.stderr);
    let private = printed(&created.stdout, "private key:");
    let public = printed(&created.stdout, "public key:");
    assert!(created.stdout.contains("expires:"), "{}", created.stdout);
    upload_as(&app, &private, "a.jpg").await.assert_ok();

    tokio::time::sleep(Duration::from_millis(3100)).await;
    upload_as(&app, &private, "b.jpg")
        .await
        .assert_error(403, "Your request contains expired private API key.")
        .assert_code("PRIVATE_KEY_EXPIRED");
    let list = run_folio(&["keys", "list"], &env).await;
    assert!(
        list.stdout
            .lines()
            .any(|l| l.starts_with(&public) && l.contains("\texpired\tdefault\t")),
        "{}",
        list.stdout
    );
    for bad in ["2025-01-01T00:00:00Z", "soon"] {
        let refused = run_folio(&["keys", "create", "--expires", bad], &env).await;
        assert!(
            !refused.ok && refused.stderr.contains("--expires"),
            "{}",
            refused.stderr
        );
    }
    let unknown = run_folio(&["keys", "create", "--account", "nobody"], &env).await;
    assert!(!unknown.ok && unknown.stderr.contains("no account with URL id nobody"));
}
