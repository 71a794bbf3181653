//! `folio migrate-store`: a library of a few hundred files (versions, private files, custom
//! metadata, a burned token, a folder, a webhook endpoint) moves from SQLite + local files to
//! PostgreSQL + S3 (a local folder when the test run has no S3 server), and the new stores
//! serve it the same; a run killed half-way is resumed.

use std::path::Path;

use serde_json::Value;

use crate::harness::library::{self, content, Library, BURNED_TOKEN_FILE};
use crate::harness::{
    form_with_file, run_folio, test_s3, wire::REUSED, Backend, FolioProcess, TestApp,
};
use folio::config::PostgresConfig;
use folio::store::testing::TestSchema;
use folio::store::transfer::RawCatalog;

/// The embedded library of a test, whatever backend the run is for: the migration starts
/// from SQLite + files.
async fn embedded_app(dir: &Path) -> TestApp {
    let catalog = format!("sqlite://{}", dir.join("folio.db").display());
    let blobs = format!("file://{}", dir.join("blobs").display());
    TestApp::builder()
        .config(move |c| {
            c.catalog = catalog;
            c.blobs = blobs;
        })
        .start()
        .await
}

/// Where the library goes: a fresh PostgreSQL schema, and a fresh S3 prefix (or a folder).
struct Destination {
    schema: TestSchema,
    blobs: String,
    /// Variables for `folio` commands on the destination (and S3 credentials for the copy).
    env: Vec<(String, String)>,
}

impl Destination {
    async fn fresh(dir: &Path) -> Destination {
        let schema = TestSchema::create().await.expect("schema");
        let mut env = Vec::new();
        let blobs = if crate::harness::backend() == Backend::PostgresS3 {
            let s3 = test_s3();
            env.extend(s3.credential_vars());
            s3.fresh_url()
        } else {
            format!("file://{}", dir.join("moved-blobs").display())
        };
        Destination { schema, blobs, env }
    }

    /// The environment of a `folio` command run on the source library, able to reach the
    /// destination.
    fn source_env(&self, app: &TestApp) -> Vec<(String, String)> {
        let mut env = self.env.clone();
        env.push(("FOLIO_CATALOG".to_owned(), app.config.catalog.clone()));
        env.push(("FOLIO_BLOBS".to_owned(), app.config.blobs.clone()));
        env
    }

    /// The environment of a `folio` command (or server) on the moved library.
    fn moved_env(&self) -> Vec<(String, String)> {
        let mut env = self.env.clone();
        env.push(("FOLIO_CATALOG".to_owned(), self.schema.url()));
        env.push(("FOLIO_BLOBS".to_owned(), self.blobs.clone()));
        env
    }

    fn migrate_args(&self) -> Vec<String> {
        let url = self.schema.url();
        vec![
            "migrate-store".to_owned(),
            "--to-catalog".to_owned(),
            url,
            "--to-blobs".to_owned(),
            self.blobs.clone(),
        ]
    }
}

/// `body` with every occurrence of the old server's address written as the new one's.
fn rebased(body: &Value, old: &str, new: &str) -> Value {
    serde_json::from_str(&body.to_string().replace(old, new)).expect("json")
}

async fn get_json(client: &reqwest::Client, url: &str, auth: &str) -> Value {
    let response = client
        .get(url)
        .header("Authorization", auth)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200, "{url}");
    response.json().await.expect("json")
}

/// The moved library, served by the real binary, answers like the original: the same bytes
/// at every old URL path, the same versions and details, the burned token still burned.
async fn assert_served_the_same(app: &TestApp, library: &Library, destination: &Destination) {
    let data = tempfile::tempdir().expect("tempdir");
    let server = FolioProcess::start(data.path(), &[], &destination.moved_env());
    assert!(
        server.keys.is_none(),
        "the moved catalog must not get a new default account"
    );
    library
        .assert_served_by(&server.base(), &app.private_key)
        .await;
    let client = reqwest::Client::new();
    let (old, new) = (app.url(""), server.base());
    let auth = app.basic();
    // Versions and details (custom metadata, tags, privacy) of a sample, field by field.
    for file in library.files.iter().step_by(7) {
        for tail in ["versions", "details"] {
            let path = format!("/v1/files/{}/{tail}", file.file_id);
            let before = get_json(&client, &format!("{old}{path}"), &auth).await;
            let after = get_json(&client, &format!("{new}{path}"), &auth).await;
            assert_eq!(rebased(&before, &old, &new), after, "{path}");
        }
    }
    let fields = get_json(&client, &format!("{new}/v1/customMetadataFields"), &auth).await;
    assert_eq!(fields[0]["name"], "rating", "{fields}");
    // A token used before the move is still used after it.
    let form = form_with_file(
        content(1, 10),
        &[
            ("fileName", BURNED_TOKEN_FILE),
            ("token", &library.burned_token),
        ],
    );
    let replay = client
        .post(format!("{new}/api/v2/files/upload"))
        .multipart(form)
        .send()
        .await
        .expect("replay");
    TestApp::reply(replay).await.assert_error(400, REUSED);
    // The webhook endpoint came along.
    let hooks = run_folio(&["webhooks", "list"], &destination.moved_env()).await;
    assert!(
        hooks.ok && hooks.stdout.contains("http://127.0.0.1:9/hook"),
        "{}{}",
        hooks.stdout,
        hooks.stderr
    );
}

/// `folio fsck` on the moved library finds nothing wrong.
async fn assert_clean(destination: &Destination, versions: usize) {
    let fsck = run_folio(&["fsck", "--json"], &destination.moved_env()).await;
    assert!(fsck.ok, "{}{}", fsck.stdout, fsck.stderr);
    let report: Value = serde_json::from_str(&fsck.stdout).expect("fsck json");
    assert_eq!(report["versions"], versions, "{report}");
}

#[tokio::test]
async fn a_library_moves_to_postgres_and_s3_and_serves_the_same() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = embedded_app(&dir.path().join("library")).await;
    let library = library::build(&app, 200, 3000).await;
    let destination = Destination::fresh(dir.path()).await;
    let env = destination.source_env(&app);
    let args = destination.migrate_args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();

    let mut dry = args.clone();
    dry.push("--dry-run");
    let plan = run_folio(&dry, &env).await;
    assert!(plan.ok, "{}", plan.stderr);
    let versions = library.versions();
    assert!(
        plan.stdout
            .contains(&format!("would copy {versions} blobs")),
        "{}",
        plan.stdout
    );
    let files_line = format!("files{:>29}", library.files.len() + 1);
    assert!(plan.stdout.contains(&files_line), "{}", plan.stdout);
    let untouched = RawCatalog::open(&destination.schema.url(), &PostgresConfig::default(), false)
        .await
        .expect("open")
        .expect("a schema");
    assert!(
        !untouched.has_table("accounts").await.expect("tables"),
        "a dry run wrote to the destination"
    );
    untouched.close().await;

    let run = run_folio(&args, &env).await;
    assert!(run.ok, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains(&format!("blobs: {versions} of {versions}")),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("every table by row count and digest"));
    assert_served_the_same(&app, &library, &destination).await;
    assert_clean(&destination, versions).await;

    // Into a catalog that holds another library: refused, nothing written.
    let other = TestApp::start().await;
    let into_other = run_folio(
        &["migrate-store", "--to-catalog", &destination.schema.url()],
        &other.cli_env(),
    )
    .await;
    assert!(
        !into_other.ok && into_other.stderr.contains("holds another library"),
        "{}",
        into_other.stderr
    );
}

#[tokio::test]
async fn a_migration_killed_half_way_resumes_without_loss_or_duplicates() {
    use tokio::io::AsyncBufReadExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let app = embedded_app(&dir.path().join("library")).await;
    let library = library::build(&app, 300, 64 * 1024).await;
    let destination = Destination::fresh(dir.path()).await;
    let mut args = destination.migrate_args();
    args.extend(["--jobs".to_owned(), "1".to_owned()]);

    let mut first = tokio::process::Command::new(env!("CARGO_BIN_EXE_folio"))
        .args(&args)
        .env_remove("FOLIO_CONFIG")
        .envs(destination.source_env(&app))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn migrate-store");
    let stderr = first.stderr.take().expect("stderr");
    let mut lines = tokio::io::BufReader::new(stderr).lines();
    // Killed once a tenth of the blob bytes are across: the catalog is copied, the blobs not.
    let seen = tokio::time::timeout(std::time::Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.expect("stderr line") {
            if line.starts_with("folio: blob bytes") {
                return line;
            }
        }
        panic!("migrate-store ended before copying blobs");
    })
    .await
    .expect("progress within 60 s");
    first.start_kill().expect("SIGKILL");
    let killed = first.wait_with_output().await.expect("wait");
    assert!(
        !killed.status.success(),
        "the run finished before the kill ({seen})"
    );
    let stdout = String::from_utf8_lossy(&killed.stdout);
    assert!(!stdout.contains("verified"), "{stdout}");

    // A copy the killed run left, damaged since at the same size: the resumed run must not
    // keep it.
    let moved = moved_store(&destination);
    let damaged = moved
        .list_all_keys()
        .await
        .expect("list")
        .into_iter()
        .find(|k| folio::store::blob::is_version_blob_key(k))
        .expect("the killed run copied a blob");
    let original = moved
        .read_all(&damaged)
        .await
        .expect("read")
        .expect("there");
    let garbage: Vec<u8> = original.iter().map(|b| !b).collect();
    moved
        .put(&damaged, garbage.into())
        .await
        .expect("damage the copy");

    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let resumed = run_folio(&args, &destination.source_env(&app)).await;
    assert!(resumed.ok, "{}{}", resumed.stdout, resumed.stderr);
    let versions = library.versions();
    let tally = resumed
        .stdout
        .lines()
        .find(|l| l.starts_with("blobs: "))
        .expect("blob tally")
        .to_owned();
    assert!(
        tally.starts_with(&format!("blobs: {versions} of {versions}")),
        "{tally}"
    );
    let already: usize = tally
        .split(", ")
        .find_map(|part| part.strip_suffix(" already there"))
        .and_then(|n| n.parse().ok())
        .expect("already there");
    assert!(
        already > 0 && already < versions,
        "the resumed run kept what the killed one copied: {tally}"
    );
    // Nothing lost (fsck: every version's blob at its size), nothing twice (the verify step
    // compared every table's rows with the library's; here the blobs are counted).
    assert_clean(&destination, versions).await;
    let blob_keys = moved
        .list_all_keys()
        .await
        .expect("list")
        .iter()
        .filter(|k| folio::store::blob::is_version_blob_key(k))
        .count();
    assert_eq!(blob_keys, versions, "blobs at the destination");
    let repaired = moved
        .read_all(&damaged)
        .await
        .expect("read")
        .expect("there");
    assert!(repaired == original, "the damaged copy was kept");
    assert_served_the_same(&app, &library, &destination).await;
}

/// The destination's blob store.
fn moved_store(destination: &Destination) -> folio::store::blob::BlobStore {
    let mut config = folio::config::Config::default();
    if crate::harness::backend() == Backend::PostgresS3 {
        test_s3().configure(&mut config);
    }
    folio::store::blob::BlobStore::open_url(&destination.blobs, &config).expect("open")
}
