//! Several stateless instances: two `folio serve` processes share one PostgreSQL schema and one
//! blob store (a bucket prefix of the test S3 server in the `postgres-s3` run, a shared folder
//! otherwise), and behave as one server.
//!
//! These tests always use PostgreSQL: an embedded SQLite catalog belongs to one process.

use std::process::Command;
use std::time::Duration;

use bytes::Bytes;
use folio::store::testing::{TestS3, TestSchema};
use futures_util::future::join_all;

use crate::harness::{backend, fixture, form_with_file, test_s3, Backend, FolioProcess, TestApp};

struct Node {
    process: FolioProcess,
    base: String,
    _data: tempfile::TempDir,
}

struct Cluster {
    nodes: Vec<Node>,
    public_key: String,
    private_key: String,
    client: reqwest::Client,
    blobs_url: String,
    s3: Option<TestS3>,
    shared_dir: tempfile::TempDir,
    /// What the instances run with (for `folio` commands on the same storage).
    env: Vec<(String, String)>,
    // Last: the schema is dropped after the processes are gone.
    _schema: TestSchema,
}

impl Cluster {
    /// Starts `n` instances at once (so their bootstraps race, too).
    async fn start(n: usize) -> Cluster {
        Self::start_with(n, &[]).await
    }

    /// [`Self::start`] with more environment for every instance.
    async fn start_with(n: usize, extra: &[(&str, &str)]) -> Cluster {
        let schema = TestSchema::create().await.expect("schema");
        let shared_dir = tempfile::tempdir().expect("tempdir");
        let (blobs_url, s3) = match backend() {
            Backend::PostgresS3 => {
                let s3 = test_s3();
                (s3.fresh_url(), Some(s3))
            }
            Backend::SqliteFiles => (
                format!("file://{}", shared_dir.path().join("blobs").display()),
                None,
            ),
        };
        let mut env = Self::env(&schema, &blobs_url, s3.as_ref());
        env.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        let spawned: Vec<(FolioProcess, tempfile::TempDir)> = (0..n)
            .map(|_| {
                let data = tempfile::tempdir().expect("tempdir");
                (FolioProcess::spawn(data.path(), &[], &env), data)
            })
            .collect();
        let nodes: Vec<Node> = spawned
            .into_iter()
            .map(|(process, data)| {
                let process = process.ready();
                Node {
                    base: process.base(),
                    process,
                    _data: data,
                }
            })
            .collect();
        let printed: Vec<_> = nodes
            .iter()
            .filter_map(|n| n.process.keys.clone())
            .collect();
        assert_eq!(
            printed.len(),
            1,
            "exactly one of the instances started together creates the default account"
        );
        let (public_key, private_key) = printed[0].clone();
        Cluster {
            nodes,
            public_key,
            private_key,
            client: reqwest::Client::new(),
            blobs_url,
            s3,
            shared_dir,
            env,
            _schema: schema,
        }
    }

    fn env(schema: &TestSchema, blobs_url: &str, s3: Option<&TestS3>) -> Vec<(String, String)> {
        let mut env = vec![
            ("FOLIO_CATALOG".to_owned(), schema.url()),
            ("FOLIO_BLOBS".to_owned(), blobs_url.to_owned()),
            ("FOLIO_STORAGE__FSYNC".to_owned(), "false".to_owned()),
            ("FOLIO_POSTGRES__MAX_CONNECTIONS".to_owned(), "8".to_owned()),
            // A short grace and a fast sweep, for the crash test.
            (
                "FOLIO_STORAGE__ORPHAN_GRACE_SECS".to_owned(),
                "2".to_owned(),
            ),
            (
                "FOLIO_STORAGE__SWEEP_INTERVAL_SECS".to_owned(),
                "1".to_owned(),
            ),
            (
                "FOLIO_STORAGE__WRITE_BUFFER_BYTES".to_owned(),
                "1048576".to_owned(),
            ),
            ("FOLIO_S3__PART_SIZE_BYTES".to_owned(), "5242880".to_owned()),
        ];
        if let Some(s3) = s3 {
            env.extend(s3.credential_vars());
        }
        env
    }

    fn url(&self, node: usize, path: &str) -> String {
        format!("{}{path}", self.nodes[node].base)
    }

    fn basic(&self) -> String {
        use base64::Engine;
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{}:", self.private_key))
        )
    }

    fn token(&self, fields: &[(&str, &str)]) -> String {
        let mut builder = folio_token::UploadToken::new(&self.public_key, &self.private_key);
        for (k, v) in fields {
            builder = builder.param(*k, *v);
        }
        builder.sign().expect("token")
    }

    async fn upload_basic(
        &self,
        node: usize,
        bytes: Vec<u8>,
        fields: &[(&str, &str)],
    ) -> crate::harness::Reply {
        let response = self
            .client
            .post(self.url(node, "/api/v2/files/upload"))
            .header("Authorization", self.basic())
            .multipart(form_with_file(bytes, fields))
            .send()
            .await
            .expect("send");
        TestApp::reply(response).await
    }

    async fn upload_token(
        &self,
        node: usize,
        token: &str,
        fields: &[(&str, &str)],
    ) -> crate::harness::Reply {
        let mut all = fields.to_vec();
        all.push(("token", token));
        let response = self
            .client
            .post(self.url(node, "/api/v2/files/upload"))
            .multipart(form_with_file(fixture("tiny.jpg"), &all))
            .send()
            .await
            .expect("send");
        TestApp::reply(response).await
    }

    /// Every object in the shared store (staging files of a shared folder included).
    fn stored_blobs(&self) -> Vec<String> {
        if let Some(s3) = &self.s3 {
            let mut config = folio::config::Config::default();
            s3.configure(&mut config);
            let url = self.blobs_url.clone();
            return crate::harness::block_on_side(async move {
                let store =
                    folio::store::blob::BlobStore::open_s3(&url, &config.s3).expect("open S3");
                store.list_all_keys().await.expect("list")
            });
        }
        let mut out = Vec::new();
        let mut stack = vec![self.shared_dir.path().join("blobs")];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                if entry.path().is_dir() {
                    stack.push(entry.path());
                } else {
                    out.push(entry.path().display().to_string());
                }
            }
        }
        out
    }
}

/// Reads the start-up lines of `folio serve` up to "Folio listening on …".
use crate::harness::wire::REUSED;

/// Rate limits count on the shared catalog: what one instance admitted, the other counts.
#[tokio::test]
async fn rate_limits_are_shared_by_the_instances() {
    let cluster = Cluster::start_with(
        2,
        &[
            ("FOLIO_RATE_LIMITS__UPLOADS_PER_IP", "2"),
            ("FOLIO_RATE_LIMITS__WINDOW_SECS", "2"),
        ],
    )
    .await;
    // All four in one window.
    crate::harness::start_of_window(2).await;
    for (node, name) in [(0, "a.jpg"), (1, "b.jpg")] {
        cluster
            .upload_basic(node, fixture("tiny.jpg"), &[("fileName", name)])
            .await
            .assert_ok();
    }
    cluster
        .upload_basic(0, fixture("tiny.jpg"), &[("fileName", "c.jpg")])
        .await
        .assert_code("RATE_LIMITED");
    // The other instance refuses as well: the count is the catalog's.
    cluster
        .upload_basic(1, fixture("tiny.jpg"), &[("fileName", "d.jpg")])
        .await
        .assert_code("RATE_LIMITED");
}

#[tokio::test]
async fn a_token_used_on_one_instance_is_refused_on_the_other() {
    let cluster = Cluster::start(2).await;
    let fields = [("fileName", "once.jpg")];
    let token = cluster.token(&fields);
    cluster.upload_token(0, &token, &fields).await.assert_ok();
    cluster
        .upload_token(1, &token, &fields)
        .await
        .assert_error(400, REUSED);
    cluster
        .upload_token(0, &token, &fields)
        .await
        .assert_error(400, REUSED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_token_posted_50_times_across_two_instances_is_accepted_once() {
    let cluster = Cluster::start(2).await;
    let fields = [("fileName", "race.jpg")];
    let token = cluster.token(&fields);
    let replies = join_all((0..50).map(|i| cluster.upload_token(i % 2, &token, &fields))).await;
    let mut ok = 0;
    for reply in &replies {
        if reply.status == 200 {
            ok += 1;
        } else {
            reply.assert_error(400, REUSED);
        }
    }
    assert_eq!(ok, 1, "exactly one of 50 concurrent uses succeeds");
    // the 49 refused uploads left nothing behind
    wait_for_blobs(&cluster, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forty_concurrent_overwrites_across_two_instances_number_versions_1_to_40() {
    let cluster = Cluster::start(2).await;
    let fields = [("fileName", "hot.txt"), ("useUniqueFileName", "false")];
    let replies = join_all((0..40).map(|i| {
        cluster.upload_basic(
            i % 2,
            format!("version from request {i}").into_bytes(),
            &fields,
        )
    }))
    .await;
    let mut numbers: Vec<u32> = replies
        .iter()
        .map(|r| {
            let body = r.assert_ok();
            let name = body["versionInfo"]["name"].as_str().expect("version name");
            name.strip_prefix("Version ")
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("version name {name}"))
        })
        .collect();
    numbers.sort_unstable();
    assert_eq!(
        numbers,
        (1..=40).collect::<Vec<u32>>(),
        "no gap, no duplicate"
    );
    let file_ids: std::collections::BTreeSet<_> = replies
        .iter()
        .map(|r| r.body["fileId"].as_str().expect("fileId").to_owned())
        .collect();
    assert_eq!(file_ids.len(), 1);
    // both instances serve the last version
    let last = replies
        .iter()
        .find(|r| r.body["versionInfo"]["name"] == "Version 40")
        .expect("version 40");
    let expected = last.body["size"].as_u64().expect("size");
    for node in 0..2 {
        let served = cluster
            .client
            .get(cluster.url(node, "/default/hot.txt"))
            .send()
            .await
            .expect("get");
        assert_eq!(served.status(), 200);
        assert_eq!(served.bytes().await.expect("bytes").len() as u64, expected);
    }
    wait_for_blobs(&cluster, 40).await;
}

#[tokio::test]
async fn a_file_uploaded_through_one_instance_is_served_by_the_other() {
    let cluster = Cluster::start(2).await;
    let photo = fixture("photo-exif.jpg");
    let body = cluster
        .upload_basic(
            0,
            photo.clone(),
            &[("fileName", "shared.jpg"), ("folder", "/a/b")],
        )
        .await
        .assert_ok()
        .clone();
    let path = body["filePath"].as_str().expect("filePath");
    let served = cluster
        .client
        .get(cluster.url(1, &format!("/default{path}")))
        .send()
        .await
        .expect("get");
    assert_eq!(served.status(), 200);
    assert!(served.bytes().await.expect("bytes").as_ref() == photo.as_slice());
    let ranged = cluster
        .client
        .get(cluster.url(1, &format!("/default{path}")))
        .header("Range", "bytes=10-19")
        .send()
        .await
        .expect("get");
    assert_eq!(ranged.status(), 206);
    assert_eq!(
        ranged.bytes().await.expect("bytes").as_ref(),
        &photo[10..20]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_an_instance_mid_upload_leaves_no_row_and_no_blob() {
    let mut cluster = Cluster::start(2).await;
    // A body that sends 12 MiB of the file (more than two parts, so the blob store holds
    // part of it) and then stalls, as a slow client would.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let head = Bytes::from_static(
        b"--XyZ\r\nContent-Disposition: form-data; name=\"fileName\"\r\n\r\nhalf.bin\r\n--XyZ\r\nContent-Disposition: form-data; name=\"useUniqueFileName\"\r\n\r\nfalse\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"half.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n",
    );
    let request = cluster
        .client
        .post(cluster.url(0, "/api/v2/files/upload"))
        .header("Authorization", cluster.basic())
        .header("Content-Type", "multipart/form-data; boundary=XyZ")
        .body(reqwest::Body::wrap_stream(tokio_stream_from(rx)))
        .send();
    let upload = tokio::spawn(request);
    tx.send(Ok(head)).await.expect("send");
    for _ in 0..12 {
        tx.send(Ok(Bytes::from(vec![7u8; 1024 * 1024])))
            .await
            .expect("send");
    }
    // Let instance A hand the first parts to the blob store, then kill it (SIGKILL).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    if cluster.s3.is_none() {
        assert!(
            !cluster.stored_blobs().is_empty(),
            "the upload should be staged by now"
        );
    }
    cluster.nodes[0].process.kill(); // SIGKILL
    drop(tx);
    let result = upload.await.expect("join");
    assert!(result.is_err() || result.is_ok_and(|r| r.status() != 200));

    // No row: the other instance does not know the path.
    let served = cluster
        .client
        .get(cluster.url(1, "/default/half.bin"))
        .send()
        .await
        .expect("get");
    assert_eq!(served.status(), 404);
    // No blob once B's sweeper (every second, 2 s grace) has run: S3 never shows an
    // incomplete multipart upload; a shared folder's staging file is swept.
    for _ in 0..100 {
        if cluster.stored_blobs().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(cluster.stored_blobs(), Vec::<String>::new());
    // and B is fine
    cluster
        .upload_basic(1, fixture("tiny.jpg"), &[("fileName", "after.jpg")])
        .await
        .assert_ok();
}

/// Waits until the shared store holds exactly `n` objects (failed uploads delete theirs in
/// the background).
async fn wait_for_blobs(cluster: &Cluster, n: usize) {
    let mut found = Vec::new();
    for _ in 0..100 {
        found = cluster.stored_blobs();
        if found.len() == n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("expected {n} blobs, found {}: {found:?}", found.len());
}

fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::Receiver<Result<Bytes, std::io::Error>>,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

#[tokio::test]
async fn folio_migrate_brings_a_schema_up_to_date_and_check_tells() {
    let schema = TestSchema::create().await.expect("schema");
    let migrate = |args: &[&str]| {
        let data = tempfile::tempdir().expect("tempdir");
        Command::new(env!("CARGO_BIN_EXE_folio"))
            .arg("--data-dir")
            .arg(data.path())
            .args(["--catalog", &schema.url()])
            .args(args)
            .env_remove("FOLIO_CONFIG")
            .env_remove("FOLIO_CATALOG")
            .output()
            .expect("run folio")
    };
    let behind = migrate(&["migrate", "--check"]);
    assert!(!behind.status.success());
    assert!(
        String::from_utf8_lossy(&behind.stderr).contains("run `folio migrate` first"),
        "{}",
        String::from_utf8_lossy(&behind.stderr)
    );
    let done = migrate(&["migrate"]);
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    assert!(String::from_utf8_lossy(&done.stdout).contains("schema is current"));
    assert!(migrate(&["migrate", "--check"]).status.success());
    assert!(
        migrate(&["migrate"]).status.success(),
        "migrating twice is a no-op"
    );
}

/// Folder jobs submitted to both instances at once: each instance's runner claims jobs from the
/// shared catalog, and every job runs exactly once (each copy holds each file once, with one
/// version, and the store holds exactly one new blob per copied file).
#[tokio::test]
async fn folder_jobs_submitted_to_two_instances_each_run_once() {
    let cluster = Cluster::start(2).await;
    const FILES: usize = 30;
    for i in 0..FILES {
        cluster
            .upload_basic(
                i % 2,
                fixture("tiny.jpg"),
                &[
                    ("fileName", &format!("f{i:02}.jpg")),
                    ("folder", "/src"),
                    ("useUniqueFileName", "false"),
                ],
            )
            .await
            .assert_ok();
    }
    let blobs_before = cluster.stored_blobs().len();
    let destinations = ["/a", "/b", "/c", "/d"];
    let submitted = join_all(destinations.iter().enumerate().map(|(i, dest)| {
        let request = cluster
            .client
            .post(cluster.url(i % 2, "/v1/bulkJobs/copyFolder"))
            .header("Authorization", cluster.basic())
            .json(&serde_json::json!({"sourceFolderPath": "/src", "destinationPath": dest}));
        async move {
            let reply = TestApp::reply(request.send().await.expect("submit")).await;
            reply.assert_ok()["jobId"]
                .as_str()
                .expect("jobId")
                .to_owned()
        }
    }))
    .await;
    for (i, job_id) in submitted.iter().enumerate() {
        // Asked of the other instance than the one it was submitted to.
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let response = cluster
                .client
                .get(cluster.url((i + 1) % 2, &format!("/v1/bulkJobs/{job_id}")))
                .header("Authorization", cluster.basic())
                .send()
                .await
                .expect("status");
            let status = TestApp::reply(response).await;
            if status.assert_ok()["status"] == "Completed" {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "{}", status.body);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    for dest in destinations {
        let path: String =
            form_urlencoded::byte_serialize(format!("{dest}/src/").as_bytes()).collect();
        let response = cluster
            .client
            .get(cluster.url(0, &format!("/v1/files?type=file-version&path={path}")))
            .header("Authorization", cluster.basic())
            .send()
            .await
            .expect("list");
        let older = TestApp::reply(response).await;
        assert_eq!(
            older.assert_ok().as_array().map(Vec::len),
            Some(0),
            "{dest}: a file copied twice has an older version"
        );
        let response = cluster
            .client
            .get(cluster.url(1, &format!("/v1/files?path={path}")))
            .header("Authorization", cluster.basic())
            .send()
            .await
            .expect("list");
        let listed = TestApp::reply(response).await;
        assert_eq!(
            listed.assert_ok().as_array().map(Vec::len),
            Some(FILES),
            "{dest}"
        );
    }
    assert_eq!(
        cluster.stored_blobs().len(),
        blobs_before + FILES * destinations.len(),
        "one new blob per copied file"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_deliver_a_thousand_events_each_at_least_once() {
    const EVENTS: usize = 1000;
    let receiver = crate::harness::Receiver::start().await;
    let cluster = Cluster::start_with(
        2,
        &[
            ("FOLIO_FETCH__ALLOW", "127.0.0.1/32"),
            ("FOLIO_WEBHOOKS__TIMEOUT_SECS", "5"),
            ("FOLIO_WEBHOOKS__RETRY_INITIAL_MS", "100"),
        ],
    )
    .await;
    let cli_data = tempfile::tempdir().expect("tempdir");
    let mut env = cluster.env.clone();
    env.push((
        "FOLIO_DATA_DIR".to_owned(),
        cli_data.path().display().to_string(),
    ));
    crate::webhooks::add_endpoint(&env, &receiver.url("/"), &["--events", "file.created"]).await;

    // A thousand uploads, half through each instance, sixteen at a time.
    let bytes = fixture("tiny.jpg");
    let mut uploaded = Vec::with_capacity(EVENTS);
    for round in 0..EVENTS / 16 + 1 {
        let batch = (round * 16..((round + 1) * 16).min(EVENTS)).map(|i| {
            let bytes = bytes.clone();
            let cluster = &cluster;
            async move {
                let name = format!("f{i}.jpg");
                let reply = cluster
                    .upload_basic(i % 2, bytes, &[("fileName", name.as_str())])
                    .await;
                reply.assert_ok()["fileId"].as_str().expect("id").to_owned()
            }
        });
        uploaded.extend(join_all(batch).await);
    }
    assert_eq!(uploaded.len(), EVENTS);

    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    let (delivered, attempts) = loop {
        let got = receiver.received();
        let mut ids = std::collections::HashMap::new();
        for d in got.iter().filter(|d| d.status == 200) {
            let event = d.json();
            *ids.entry(event["data"]["fileId"].as_str().unwrap_or("").to_owned())
                .or_insert(0usize) += 1;
        }
        if ids.len() >= EVENTS {
            break (ids, got.len());
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{} of {EVENTS} events delivered",
            ids.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    for id in &uploaded {
        assert!(delivered.contains_key(id), "no event for {id}");
    }
    // At least once: a duplicate is allowed (a lease that ran out mid-attempt), never a loss.
    let duplicates: usize = delivered.values().map(|n| n - 1).sum();
    println!("{EVENTS} events: {attempts} requests, {duplicates} duplicate deliveries");
    assert!(duplicates < EVENTS / 10, "{duplicates} duplicates");
}
