//! `folio upload`: the real binary uploads to a running server over HTTP, in one multipart
//! request or resumably through the tus endpoint, resumes a run that was killed, retries across
//! a cut connection, and reports what the server refused.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::harness::{fixture, run_folio, CliRun, TestApp};

const MIB: u64 = 1024 * 1024;

/// Where one test's `folio upload` runs keep their state (`$XDG_CACHE_HOME`), and its files.
struct Client {
    cache: tempfile::TempDir,
    files: tempfile::TempDir,
}

impl Client {
    fn new() -> Client {
        Client {
            cache: tempfile::tempdir().expect("tempdir"),
            files: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.files.path().join(name);
        std::fs::write(&path, bytes).expect("write file");
        path
    }

    fn env(&self, app: &TestApp) -> Vec<(String, String)> {
        let mut env = app.cli_env();
        env.push((
            "XDG_CACHE_HOME".to_owned(),
            self.cache.path().display().to_string(),
        ));
        env
    }

    async fn upload(&self, app: &TestApp, file: &Path, args: &[&str]) -> CliRun {
        let path = file.display().to_string();
        let mut all = vec!["upload", path.as_str()];
        all.extend_from_slice(args);
        run_folio(&all, &self.env(app)).await
    }

    /// The state files of unfinished resumable uploads.
    fn state_files(&self) -> Vec<PathBuf> {
        let dir = self.cache.path().join("folio").join("uploads");
        match std::fs::read_dir(&dir) {
            Ok(entries) => entries
                .map(|e| e.expect("entry").path())
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect(),
            Err(_) => Vec::new(),
        }
    }
}

/// Bytes no format sniffer takes for anything but a plain binary file.
fn pattern(len: u64) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

fn printed(run: &CliRun) -> Value {
    assert!(run.ok, "stderr: {}", run.stderr);
    serde_json::from_str(&run.stdout).unwrap_or_else(|_| panic!("JSON on stdout: {}", run.stdout))
}

/// The bytes the server delivers for an upload response.
async fn served(app: &TestApp, body: &Value) -> Vec<u8> {
    let url = body["url"].as_str().expect("url");
    let response = app.get(url).await;
    assert_eq!(response.status(), 200, "{url}");
    response.bytes().await.expect("bytes").to_vec()
}

/// The offset the server reports for an upload URL.
async fn server_offset(app: &TestApp, location: &str) -> u64 {
    app.tus().offset(location).await
}

/// The server's offset once what a killed run left in flight has been dealt with: the same for
/// a whole second (at most 15 s).
async fn settled_offset(app: &TestApp, location: &str) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut last = server_offset(app, location).await;
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = server_offset(app, location).await;
        if now == last || Instant::now() > deadline {
            return now;
        }
        last = now;
    }
}

/// The path of the upload URL a state file holds (the URL itself may name the proxy).
fn saved_location(path: &Path) -> String {
    let saved: Value =
        serde_json::from_slice(&std::fs::read(path).expect("state file")).expect("JSON state");
    let url = saved["location"].as_str().expect("location");
    let at = url.find("/api/v2/").expect("an upload URL");
    url[at..].to_owned()
}

#[tokio::test]
async fn a_small_file_goes_in_one_request_with_its_parameters() {
    let app = TestApp::start().await;
    let client = Client::new();
    let bytes = fixture("photo-exif.jpg");
    let file = client.file("photo.jpg", &bytes);
    let run = client
        .upload(
            &app,
            &file,
            &[
                "--param",
                "folder=/cli",
                "--param",
                "tags=a,b",
                "--param",
                "responseFields=tags",
                "--param",
                "useUniqueFileName=false",
            ],
        )
        .await;
    let body = printed(&run);
    // `fileName` defaults to the file's name.
    assert_eq!(body["filePath"], "/cli/photo.jpg", "{body}");
    assert_eq!(body["tags"], serde_json::json!(["a", "b"]));
    assert_eq!(body["size"], bytes.len());
    assert_eq!(body["width"], 640, "{body}");
    assert!(
        served(&app, &body).await == bytes,
        "the stored bytes are the file's"
    );
    assert!(client.state_files().is_empty());

    // The same with the keys on the command line (no catalog opened), to a server named with
    // --server, watched on the wire: the token is the credential, the private key never goes.
    let gate = Gate::start(&app.base, u64::MAX).await;
    gate.capture();
    let other = client.file("other.jpg", &bytes);
    let mut env = client.env(&app);
    env.retain(|(k, _)| k != "FOLIO_DATA_DIR" && k != "FOLIO_CATALOG");
    let empty = tempfile::tempdir().expect("tempdir");
    env.push((
        "FOLIO_DATA_DIR".to_owned(),
        empty.path().display().to_string(),
    ));
    let (path, server) = (other.display().to_string(), gate.url());
    let run = run_folio(
        &[
            "upload",
            &path,
            "--server",
            &server,
            "--public-key",
            &app.public_key,
            "--private-key",
            &app.private_key,
        ],
        &env,
    )
    .await;
    let body = printed(&run);
    assert_eq!(
        body["name"].as_str().map(|n| n.starts_with("other")),
        Some(true),
        "{body}"
    );
    let wire = gate.seen();
    let wire = String::from_utf8_lossy(&wire);
    assert!(
        wire.starts_with("POST /api/v2/files/upload HTTP/1.1"),
        "{}",
        &wire[..200]
    );
    assert!(wire.contains("name=\"token\""));
    assert!(!wire.contains(&app.private_key), "the private key was sent");
    assert!(!wire.to_ascii_lowercase().contains("authorization:"));
    assert_eq!(
        std::fs::read_dir(empty.path()).expect("dir").count(),
        0,
        "no catalog was opened"
    );
}

#[tokio::test]
async fn a_resumable_upload_stores_the_same_bytes_with_its_parameters() {
    let app = TestApp::start().await;
    let client = Client::new();
    // Three chunks of 8 MiB, the last one short.
    let bytes = pattern(20 * MIB + 123);
    let file = client.file("big.bin", &bytes);
    let run = client
        .upload(
            &app,
            &file,
            &[
                "--resumable",
                "--param",
                "folder=/big",
                "--param",
                "tags=x,y",
                "--param",
                "responseFields=tags",
                "--param",
                "useUniqueFileName=false",
                "--param",
                "fileName=renamed.bin",
            ],
        )
        .await;
    let body = printed(&run);
    assert_eq!(body["filePath"], "/big/renamed.bin", "{body}");
    assert_eq!(body["tags"], serde_json::json!(["x", "y"]));
    assert_eq!(body["size"], bytes.len());
    assert!(
        served(&app, &body).await == bytes,
        "the stored bytes are the file's"
    );
    // Finished: nothing left to resume.
    assert!(client.state_files().is_empty());
    assert_eq!(app.paths_under("/").await, ["/big/renamed.bin"]);
}

#[tokio::test]
async fn what_the_server_refuses_is_reported_with_its_message() {
    let app = TestApp::start().await;
    let client = Client::new();
    let file = client.file("tiny.jpg", &fixture("tiny.jpg"));
    for mode in [&[][..], &["--resumable"][..]] {
        let mut args = vec!["--param", "useUniqueFileName=yes"];
        args.extend_from_slice(mode);
        let run = client.upload(&app, &file, &args).await;
        assert!(!run.ok, "{mode:?} must fail; stdout: {}", run.stdout);
        assert!(run.stdout.is_empty(), "{mode:?}: {}", run.stdout);
        assert!(
            run.stderr.contains(
                "(400 Bad Request): Your request contains invalid useUniqueFileName parameter."
            ),
            "{mode:?}: {}",
            run.stderr
        );
        assert!(client.state_files().is_empty(), "{mode:?}");
    }
    // What cannot be signed is refused before anything is sent, naming the flag.
    let run = client.upload(&app, &file, &["--param", "token=abc"]).await;
    assert!(!run.ok);
    assert!(run.stderr.contains("--param token="), "{}", run.stderr);
    let run = client.upload(&app, &file, &["--param", "fileName"]).await;
    assert!(!run.ok);
    assert!(run.stderr.contains("expected NAME=VALUE"), "{}", run.stderr);
    assert!(app.paths_under("/").await.is_empty());
    app.assert_no_orphan_blobs(0).await;
}

#[tokio::test]
async fn bytes_that_break_the_checks_end_a_resumable_upload_with_the_servers_message() {
    // The server learns the type from the first bytes and ends the upload while the chunk is
    // still on its way: whether the answer arrives or the connection is closed first, the
    // command reports the server's message (from `GET <Location>` in the second case).
    let app = TestApp::start().await;
    let client = Client::new();
    let file = client.file("data.bin", &pattern(20 * MIB));
    let run = client
        .upload(
            &app,
            &file,
            &[
                "--resumable",
                "--param",
                "checks=\"file.mime\" = \"image/png\"",
            ],
        )
        .await;
    assert!(!run.ok, "stdout: {}", run.stdout);
    assert!(
        run.stderr
            .contains("(400 Bad Request): Your request failed 'checks' validation."),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("giving up"), "{}", run.stderr);
    assert!(
        client.state_files().is_empty(),
        "an ended upload is not resumed"
    );
    assert!(app.paths_under("/").await.is_empty());
    app.assert_no_orphan_blobs(0).await;
}

/// A TCP proxy in front of the server that lets through only as many request bytes as it is
/// allowed (the rest waits, as on a network that went quiet), counts them, and can cut every
/// open connection.
struct Gate {
    addr: SocketAddr,
    allowed: watch::Sender<u64>,
    passed: Arc<AtomicU64>,
    cuts: watch::Sender<u64>,
    /// Every request byte that went through, once [`Gate::capture`] was called.
    seen: Arc<std::sync::Mutex<Option<Vec<u8>>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Gate {
    async fn start(target: &str, allowed: u64) -> Gate {
        let target: SocketAddr = target
            .trim_start_matches("http://")
            .parse()
            .expect("host:port");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (allowed, _) = watch::channel(allowed);
        let (cuts, _) = watch::channel(0u64);
        let passed = Arc::new(AtomicU64::new(0));
        let seen = Arc::new(std::sync::Mutex::new(None));
        let task = tokio::spawn({
            let (allowed, cuts) = (allowed.clone(), cuts.clone());
            let (passed, seen) = (Arc::clone(&passed), Arc::clone(&seen));
            async move {
                while let Ok((inbound, _)) = listener.accept().await {
                    let mut cut = cuts.subscribe();
                    let allowed = allowed.subscribe();
                    let (passed, seen) = (Arc::clone(&passed), Arc::clone(&seen));
                    tokio::spawn(async move {
                        let Ok(outbound) = TcpStream::connect(target).await else {
                            return;
                        };
                        tokio::select! {
                            () = relay(inbound, outbound, allowed, passed, seen) => {}
                            _ = cut.changed() => {}
                        }
                    });
                }
            }
        });
        Gate {
            addr,
            allowed,
            passed,
            cuts,
            seen,
            task,
        }
    }

    /// Keeps the request bytes from now on.
    fn capture(&self) {
        *self.seen.lock().expect("lock") = Some(Vec::new());
    }

    fn seen(&self) -> Vec<u8> {
        self.seen.lock().expect("lock").clone().unwrap_or_default()
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn allow(&self, total: u64) {
        self.allowed.send_replace(total);
    }

    fn passed(&self) -> u64 {
        self.passed.load(Ordering::SeqCst)
    }

    /// Waits (at most 60 s) until every allowed byte went through.
    async fn wait_until_full(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.passed() < *self.allowed.borrow() {
            assert!(Instant::now() < deadline, "{} bytes passed", self.passed());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Drops every open connection (both sides see it end at once).
    fn cut(&self) {
        self.cuts.send_modify(|n| *n += 1);
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        self.cut();
        self.task.abort();
    }
}

async fn relay(
    inbound: TcpStream,
    outbound: TcpStream,
    mut allowed: watch::Receiver<u64>,
    passed: Arc<AtomicU64>,
    seen: Arc<std::sync::Mutex<Option<Vec<u8>>>>,
) {
    let (mut client_read, mut client_write) = inbound.into_split();
    let (mut server_read, mut server_write) = outbound.into_split();
    let answers = async move {
        let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
    };
    let requests = async move {
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            let n = match client_read.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let mut done = 0;
            while done < n {
                let room = loop {
                    let limit = *allowed.borrow_and_update();
                    let used = passed.load(Ordering::SeqCst);
                    if limit > used {
                        break limit - used;
                    }
                    if allowed.changed().await.is_err() {
                        return;
                    }
                };
                let take = (n - done).min(usize::try_from(room).unwrap_or(usize::MAX));
                passed.fetch_add(take as u64, Ordering::SeqCst);
                if let Some(seen) = seen.lock().expect("lock").as_mut() {
                    seen.extend_from_slice(&buffer[done..done + take]);
                }
                if server_write
                    .write_all(&buffer[done..done + take])
                    .await
                    .is_err()
                {
                    return;
                }
                done += take;
            }
        }
        let _ = server_write.shutdown().await;
    };
    tokio::join!(answers, requests);
}

/// Waits (at most 60 s) until the server holds `offset` bytes of the upload a state file
/// names; the state file.
async fn wait_for_offset(app: &TestApp, client: &Client, offset: u64) -> PathBuf {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let [state] = client.state_files().as_slice() {
            if server_offset(app, &saved_location(state)).await == offset {
                return state.clone();
            }
        }
        assert!(
            Instant::now() < deadline,
            "the server never reached offset {offset}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn spawn_upload(
    client: &Client,
    app: &TestApp,
    file: &Path,
    args: &[&str],
) -> tokio::process::Child {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_folio"))
        .arg("upload")
        .arg(file)
        .args(args)
        .env_remove("FOLIO_CONFIG")
        .env_remove("FOLIO_PUBLIC_KEY")
        .env_remove("FOLIO_PRIVATE_KEY")
        .envs(client.env(app))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn folio upload")
}

#[tokio::test]
async fn a_killed_run_is_resumed_by_the_next_from_the_servers_offset() {
    let app = TestApp::builder()
        .config(|c| c.limits.max_file_size = 100 * MIB)
        .start()
        .await;
    let client = Client::new();
    // Over the 64 MiB threshold: resumable without being asked.
    let bytes = pattern(64 * MIB + 4096);
    let file = client.file("huge.bin", &bytes);
    // Two 8 MiB chunks and half of the third get through, then the network goes quiet.
    let gate = Gate::start(&app.base, 20 * MIB).await;
    let server = gate.url();
    let args = [
        "--server",
        server.as_str(),
        "--param",
        "useUniqueFileName=false",
    ];
    let mut first = spawn_upload(&client, &app, &file, &args);
    let state = wait_for_offset(&app, &client, 16 * MIB).await;
    gate.wait_until_full().await;
    assert!(
        first.try_wait().expect("try_wait").is_none(),
        "the first run is still sending its third chunk"
    );
    first.start_kill().expect("SIGKILL");
    first.wait().await.expect("wait");
    // The held bytes of the killed connection drain, so the server sees it end.
    gate.allow(u64::MAX);

    // The state file: the upload URL, readable by its owner only, no key.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&state)
        .expect("state")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let dir_mode = std::fs::metadata(state.parent().expect("dir"))
        .expect("dir")
        .permissions()
        .mode();
    assert_eq!(dir_mode & 0o777, 0o700);
    let text = std::fs::read_to_string(&state).expect("state");
    assert!(!text.contains(&app.private_key), "{text}");
    let location = saved_location(&state);
    let before = settled_offset(&app, &location).await;
    // Only whole, checksummed chunks count: the two that passed, or three if the killed run
    // had already handed all of the third to the kernel, which still delivers it.
    assert!(
        before == 16 * MIB || before == 24 * MIB,
        "{before}: only whole, checksummed chunks count"
    );
    assert!(
        app.paths_under("/").await.is_empty(),
        "nothing committed yet"
    );

    let passed_before = gate.passed();
    let second = client.upload(&app, &file, &args).await;
    let body = printed(&second);
    assert!(
        second.stderr.contains(&format!(
            "resuming the upload of {} at byte {before} of {}",
            file.display(),
            bytes.len()
        )),
        "{}",
        second.stderr
    );
    // Only the rest crossed the network, plus the requests' headers and, at most, part of a
    // chunk sent again: the server may still hold the killed request's lease for a moment
    // (on PostgreSQL), and a chunk it answers 423 is sent again after a pause.
    let sent = gate.passed() - passed_before;
    let rest = bytes.len() as u64 - before;
    assert!(
        (rest..rest + 8 * MIB + 64 * 1024).contains(&sent),
        "the second run sent {sent} bytes for the {rest} still missing; stderr: {}",
        second.stderr
    );
    assert_eq!(body["filePath"], "/huge.bin", "{body}");
    assert_eq!(body["size"], bytes.len());
    assert!(
        served(&app, &body).await == bytes,
        "the stored bytes are the file's"
    );
    assert_eq!(app.paths_under("/").await, ["/huge.bin"], "committed once");
    assert!(client.state_files().is_empty(), "the state goes once done");
    // The upload URL now answers its result.
    let result: Value = app
        .get(&app.url(&location))
        .await
        .json()
        .await
        .expect("result JSON");
    assert_eq!(result, body);
}

#[tokio::test]
async fn a_cut_connection_is_retried_within_the_run() {
    let app = TestApp::start().await;
    let client = Client::new();
    let bytes = pattern(24 * MIB);
    let file = client.file("cut.bin", &bytes);
    let gate = Gate::start(&app.base, 12 * MIB).await;
    let server = gate.url();
    let upload = tokio::spawn({
        let (env, path) = (client.env(&app), file.display().to_string());
        async move {
            run_folio(
                &[
                    "upload",
                    &path,
                    "--resumable",
                    "--server",
                    &server,
                    "--param",
                    "useUniqueFileName=false",
                ],
                &env,
            )
            .await
        }
    });
    wait_for_offset(&app, &client, 8 * MIB).await;
    gate.wait_until_full().await;
    // The second chunk is half sent: its connection breaks, and the network comes back.
    gate.cut();
    gate.allow(u64::MAX);
    let run = upload.await.expect("join");
    let body = printed(&run);
    assert!(
        run.stderr.contains("retrying in"),
        "stderr: {}; passed {}",
        run.stderr,
        gate.passed()
    );
    assert!(
        served(&app, &body).await == bytes,
        "the stored bytes are the file's"
    );
    assert_eq!(app.paths_under("/").await, ["/cut.bin"]);
    assert!(client.state_files().is_empty());
}
