//! The demo upload page in a real browser: headless Chromium driven by `playwright-core`
//! (`tests/e2e/demo_page.mjs`, and `tests/e2e/uppy_tus.mjs` for Uppy uploading from the page)
//! against a fresh server in demo mode. The scripts check what the page shows; these tests then
//! check what the storage kept.
//!
//! Chromium (`/usr/bin/chromium`) and `tests/e2e/node_modules` are installed by
//! `scripts/install-test-deps.sh`. Without them these tests fail; they never skip.
//!
//! `console.mjs` drives the media console (`/console/`) the same way, on either backend.
//!
//! `demo_page.mjs` writes `demo.png`, `demo-phone.png` and `demo-paused.png` (a resumable upload
//! paused) into `$CARGO_TARGET_TMPDIR/e2e`; with `FOLIO_UPDATE_DEMO_PNG=1` the desktop one also
//! replaces `docs/demo.png` (the README's).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::process::Command;

use crate::harness::TestApp;

/// Bound on one browser run (the scripts bound each step to 20 s).
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(240);
const INSTALL_HINT: &str =
    "run scripts/install-test-deps.sh (it installs Chromium and tests/e2e/node_modules)";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("repository root")
        .to_path_buf()
}

/// Runs `script` (in `tests/e2e`) against `app`'s demo page; asserts it exits 0 and returns
/// its `RESULT` JSON.
async fn run_script(app: &TestApp, script: &str) -> Value {
    run_script_with(app, script, &[]).await
}

/// [`run_script`] with more environment variables for the script.
async fn run_script_with(app: &TestApp, script: &str, env: &[(&str, String)]) -> Value {
    let e2e = repo_root().join("tests/e2e");
    assert!(
        e2e.join("node_modules/playwright-core/package.json")
            .exists(),
        "playwright-core is missing: {INSTALL_HINT}"
    );
    let chromium = std::env::var("CHROMIUM_PATH").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "{chromium} is missing: {INSTALL_HINT}"
    );

    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("e2e");
    let started = Instant::now();
    let mut command = Command::new("node");
    command
        .arg(script)
        .current_dir(&e2e)
        .env("FOLIO_DEMO_URL", app.url("/demo/"))
        .env("FOLIO_SCREENSHOT_DIR", &shots)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("CHROMIUM_PATH", &chromium)
        // Loopback only: nothing from the developer's proxy setup.
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost");
    for var in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "NODE_OPTIONS",
    ] {
        command.env_remove(var);
    }
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = command
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start node: {e}; {INSTALL_HINT}"));
    // On timeout the child is dropped, which kills it (and its browser with its pipe).
    let output = tokio::time::timeout(SCRIPT_TIMEOUT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{script} did not finish within {SCRIPT_TIMEOUT:?}"))
        .expect("wait for node");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{script} failed ({})\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        output.status
    );
    print!("{stdout}");
    println!("{script} took {:?}", started.elapsed());

    stdout
        .lines()
        .find_map(|line| line.strip_prefix("RESULT "))
        .map(|json| serde_json::from_str(json).expect("RESULT is JSON"))
        .expect("the script reports its RESULT")
}

#[tokio::test]
async fn the_demo_page_uploads_shows_progress_refuses_tampering_cancels_and_resumes() {
    let app = TestApp::builder().demo().start().await;
    let result = run_script(&app, "demo_page.mjs").await;
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("e2e");

    // What storage kept: the two uploads (the image and the resumable one), the thumbnail, and
    // nothing of the tampered or the cancelled request (no committed blob, no staging or
    // partial data leftover).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let blobs = app.stored_blobs();
        let kept: Vec<&String> = blobs.iter().filter(|b| !b.starts_with("d/")).collect();
        if kept.len() == 2 && kept.iter().all(|b| b.starts_with("v/")) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "expected exactly two stored blobs after the cancel, found {blobs:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let cancelled = result["cancelledUrl"].as_str().expect("cancelledUrl");
    assert_eq!(app.get(cancelled).await.status(), 404, "{cancelled}");
    for upload in ["uploaded", "resumable"] {
        let url = result[upload]["url"].as_str().expect("url");
        assert_eq!(app.get(url).await.status(), 200, "{url}");
    }

    if std::env::var("FOLIO_UPDATE_DEMO_PNG").is_ok_and(|v| v == "1") {
        std::fs::copy(shots.join("demo.png"), repo_root().join("docs/demo.png"))
            .expect("update docs/demo.png");
    }
}

/// Uppy (`@uppy/core` + `@uppy/tus`) in the demo page (`tests/e2e/uppy_tus.mjs`): a throttled
/// 100 MiB upload through the browser going offline and back finishes with the same bytes.
/// Here: storage kept that one file and no partial data.
#[tokio::test]
async fn uppy_in_the_demo_page_finishes_a_100_mib_upload_after_the_browser_was_offline() {
    // Bytes made in the page are no video: the general file limit must admit 100 MiB.
    let app = TestApp::builder()
        .demo()
        .config(|c| c.limits.max_file_size = 128 * 1024 * 1024)
        .start()
        .await;
    let result = run_script(&app, "uppy_tus.mjs").await;
    let url = result["uploaded"]["url"].as_str().expect("url");
    assert_eq!(app.get(url).await.status(), 200, "{url}");
    app.assert_no_orphan_blobs(1).await;
    let left: Vec<String> = app
        .stored_blobs()
        .into_iter()
        .filter(|b| !b.starts_with("v/"))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// The console in Chromium (`tests/e2e/console.mjs`); here: what the library kept.
#[tokio::test]
async fn the_console_signs_in_uploads_searches_edits_shares_deletes_and_fits_a_phone() {
    // The widest key a phone's header must wrap (keys are random; W is the widest letter).
    let app = TestApp::builder()
        .keys(
            &format!("public_{}", "W".repeat(32)),
            &format!("private_{}", folio::ids::object_id()),
        )
        .start()
        .await;
    let port = app
        .url("")
        .rsplit(':')
        .next()
        .unwrap_or_default()
        .to_owned();
    let result = run_script_with(
        &app,
        "console.mjs",
        &[
            ("FOLIO_CONSOLE_URL", app.url("/console/")),
            ("FOLIO_PRIVATE_KEY", app.private_key.clone()),
            // The same server under another host name: another site for the browser.
            ("FOLIO_OTHER_ORIGIN", format!("http://localhost:{port}")),
            ("FOLIO_FIXTURES", crate::harness::FIXTURES.to_owned()),
        ],
    )
    .await;
    assert_eq!(result["pageErrors"], serde_json::json!([]), "{result}");
    assert_eq!(result["cspViolations"], serde_json::json!([]), "{result}");
    assert_eq!(
        result["storageAfterSignIn"], "{}{}",
        "the page keeps nothing (no key) in web storage"
    );
    let uploaded: Vec<&str> = result["gridAfterUpload"]
        .as_array()
        .expect("grid")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let mut sorted = uploaded.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        [
            "alpha.png",
            "bravo.txt",
            "charlie.txt",
            "delta.txt",
            "echo.txt",
            "foxtrot.bin"
        ]
    );
    // The 9 MiB file went through the resumable endpoint, whole.
    assert_eq!(result["resumable"], serde_json::json!(["foxtrot.bin"]));
    assert_eq!(
        files_named(&app, "foxtrot.bin").await[0]["size"],
        9 * 1024 * 1024
    );
    // The server's own message for a name it refuses, once per attempt.
    assert_eq!(
        result["refusal"],
        folio::error::AppError::Param(folio_contract::ParamError::Invalid("fileName"))
            .wire()
            .message,
        "{result}"
    );
    assert_eq!(result["refusalsAfterRetry"], 1, "{result}");
    // A cancelled upload leaves no file.
    assert_eq!(result["cancelledRowGone"], true, "{result}");
    assert_eq!(files_named(&app, "hotel.bin").await, serde_json::json!([]));
    let exif = result["exif"].to_string();
    assert!(exif.contains("Camera make: "), "{exif}");
    assert!(
        result["videoSrc"]
            .as_str()
            .is_some_and(|src| src.ends_with("/default/video.mp4")),
        "{result}"
    );
    assert!(
        result["pdfFrame"]
            .as_str()
            .is_some_and(|src| src.ends_with("/default/golf.pdf")),
        "{result}"
    );
    // The picked folder, its sub-folder kept.
    for (name, path) in [
        ("cover.txt", "/album/cover.txt"),
        ("note.txt", "/album/day2/note.txt"),
    ] {
        assert_eq!(files_named(&app, name).await[0]["filePath"], path, "{path}");
    }
    assert!(
        result["searchError"]
            .as_str()
            .is_some_and(|e| !e.is_empty()),
        "{result}"
    );
    // The restored first version is what the signed URL serves.
    assert_eq!(result["signedStatus"], 200, "{result}");
    assert_eq!(result["signedBody"], "delta text, first version");
    // Deleted through the console: gone from the library.
    for id in result["deletedIds"].as_array().expect("ids") {
        let path = format!("/v1/files/{}/details", id.as_str().expect("id"));
        let reply = app.api(reqwest::Method::GET, &path, None).await;
        assert_eq!(reply.status, 404, "{path}");
    }
    let tree = result["treeAfterFolderDelete"].to_string();
    assert!(
        !tree.contains("holiday") && !tree.contains("trip"),
        "{tree}"
    );
    assert!(
        result["jobRow"]
            .as_str()
            .is_some_and(|row| row.contains("rename /holiday → trip")),
        "{result}"
    );
    // Another site: the preflight is refused, and nothing was deleted or signed out.
    assert!(
        result["crossSite"]["preflighted"]
            .as_str()
            .is_some_and(|o| o.starts_with("blocked")),
        "{result}"
    );
    assert_eq!(
        result["gridAfterCrossSite"].as_array().map(Vec::len),
        Some(4)
    );
    assert_eq!(result["phoneOverflow"], 0, "{result}");
    assert_eq!(result["rootControlsHidden"], true, "{result}");
    assert_eq!(
        result["focusOnDetails"], "delta.txt",
        "focus moves to the details opened"
    );
    assert_eq!(
        result["afterSessionEnd"], "Your console session has ended. Sign in again.",
        "{result}"
    );
    let tags = app
        .api(
            reqwest::Method::GET,
            "/v1/files?searchQuery=tags%20IN%20%5B%22reviewed%22%5D",
            None,
        )
        .await;
    let delta = tags.assert_ok()[0].clone();
    assert_eq!(delta["name"], "delta.txt");
    assert_eq!(delta["description"], "checked by QA");
    assert_eq!(result["rendition"], serde_json::json!([20, 15]), "{result}");
    assert!(
        result["renditionError"]
            .as_str()
            .is_some_and(|e| !e.is_empty()),
        "{result}"
    );
    assert_eq!(
        result["filteredSorted"],
        serde_json::json!(["delta.txt", "charlie.txt"]),
        "{result}"
    );
    let alpha = files_named(&app, "alpha-red.png").await[0].clone();
    assert_eq!(alpha["customMetadata"]["rating"], 4, "{alpha}");
    let fields = app
        .api(reqwest::Method::GET, "/v1/customMetadataFields", None)
        .await;
    let mood = fields
        .assert_ok()
        .as_array()
        .and_then(|all| all.iter().find(|f| f["name"] == "mood"))
        .cloned()
        .expect("the mood field");
    assert_eq!(
        mood["schema"]["selectOptions"],
        serde_json::json!(["happy", "calm", "sad"])
    );

    if std::env::var("FOLIO_UPDATE_CONSOLE_PNG").is_ok_and(|v| v == "1") {
        let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("e2e");
        for name in ["console.png", "console-phone.png", "console-signin.png"] {
            std::fs::copy(shots.join(name), repo_root().join("docs").join(name))
                .expect("update the console screenshots");
        }
    }
}

/// The library's files named `name` (a plain name: it goes into the query unescaped), as the
/// list API answers.
async fn files_named(app: &TestApp, name: &str) -> Value {
    let query = format!("/v1/files?searchQuery=name%20%3D%20%22{name}%22");
    app.api(reqwest::Method::GET, &query, None)
        .await
        .assert_ok()
        .clone()
}

/// Rows `folder_of(i)`/`g<i>.txt` for i in 1..=count, copied from the template file `file_id`
/// (and its version) straight into the catalog: a library of 100,000 files in seconds.
async fn seed_copies(app: &TestApp, file_id: &str, count: u32) {
    let template = app
        .api(
            reqwest::Method::GET,
            &format!("/v1/files/{file_id}/details"),
            None,
        )
        .await;
    let version_id = template.assert_ok()["versionInfo"]["id"]
        .as_str()
        .expect("version id")
        .to_owned();
    let postgres = crate::harness::backend() == crate::harness::Backend::PostgresS3;
    // i < 1000 in /big/, the rest in folders of 1000.
    let (series, hex, folder, name) = if postgres {
        (
            format!("generate_series(1, {count}) AS n(i)"),
            (|offset: &str| format!("lpad(to_hex(i + {offset}), 24, '0')")) as fn(&str) -> String,
            "CASE WHEN i < 1000 THEN '/big/' ELSE '/bulk' || lpad((i / 1000)::text, 3, '0') || '/' END",
            "'g' || lpad(i::text, 6, '0') || '.txt'",
        )
    } else {
        (
            format!(
                "(WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {count}) \
                 SELECT i FROM s) AS n"
            ),
            (|offset: &str| format!("printf('%024x', i + {offset})")) as fn(&str) -> String,
            "CASE WHEN i < 1000 THEN '/big/' ELSE printf('/bulk%03d/', i / 1000) END",
            "printf('g%06d.txt', i)",
        )
    };
    let (file, version) = (hex("0"), hex("4294967296"));
    app.execute_sql(&format!(
        "INSERT INTO files (file_id, account_id, file_path, folder_path, name, \
         current_version_id, last_version_number, created_at, updated_at) \
         SELECT {file}, f.account_id, {folder} || {name}, {folder}, {name}, {version}, 1, \
         f.created_at + i, f.updated_at + i FROM {series}, files f WHERE f.file_id = '{file_id}'"
    ))
    .await;
    app.execute_sql(&format!(
        "INSERT INTO file_versions (version_id, file_id, version_number, blob_key, size, mime, \
         file_type, width, height, tags, ai_tags, custom_metadata, custom_coordinates, \
         is_private_file, is_published, description, media, created_at, updated_at) \
         SELECT {version}, {file}, 1, 'v/seed/' || i, v.size, v.mime, v.file_type, v.width, \
         v.height, v.tags, v.ai_tags, v.custom_metadata, v.custom_coordinates, v.is_private_file, \
         v.is_published, v.description, v.media, v.created_at + i, v.updated_at \
         FROM {series}, file_versions v WHERE v.version_id = '{version_id}'"
    ))
    .await;
}

/// Issue 13's figure: with 100,000 files in the catalog, how long opening a folder of 1,000
/// takes to show its first page in the browser (printed, not asserted); then a session that
/// expires on the server sends the page back to the sign-in.
#[tokio::test]
async fn the_console_opens_a_folder_of_1000_among_100000_files_and_ends_an_expired_session() {
    let app = TestApp::builder()
        .config(|c| c.console.session_ttl_secs = 4)
        .start()
        .await;
    let template = app
        .upload(
            b"seed".to_vec(),
            &[("fileName", "seed.txt"), ("folder", "/big")],
        )
        .await
        .assert_ok()
        .clone();
    let started = std::time::Instant::now();
    seed_copies(&app, template["fileId"].as_str().expect("id"), 99_999).await;
    println!("seeded 99,999 files in {:?}", started.elapsed());
    let result = run_script_with(
        &app,
        "console_big.mjs",
        &[
            ("FOLIO_CONSOLE_URL", app.url("/console/")),
            ("FOLIO_PRIVATE_KEY", app.private_key.clone()),
            ("FOLIO_SESSION_SECS", "4".to_owned()),
        ],
    )
    .await;
    assert_eq!(
        result["afterExpiry"], "Your console session has ended. Sign in again.",
        "{result}"
    );
    println!(
        "console, folder of 1000 among 100000 files ({:?}): first page in {} ms cold, {} ms warm",
        crate::harness::backend(),
        result["coldFirstPageMs"],
        result["warmFirstPageMs"]
    );
    // One page of tiles, not the whole folder.
    assert_eq!(result["tiles"], 60, "{result}");
    assert_eq!(result["moreShown"], true, "{result}");
}
