//! `folio-loadgen receive` as bench/webhooks.sh uses it: the binary, its JSON line and its exit
//! status, with the load generator's own client sending the requests.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use folio_loadgen::receive::Received;
use folio_loadgen::{Auth, Config};

/// Starts the receiver on a free loopback port and returns it with its URL.
fn start(expect: u64, timeout_secs: u64) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_folio-loadgen"))
        .args(["receive", "--listen", "127.0.0.1:0", "--expect"])
        .arg(expect.to_string())
        .arg("--timeout")
        .arg(timeout_secs.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("folio-loadgen starts");
    let stderr = child.stderr.take().expect("stderr");
    let mut stderr = BufReader::new(stderr);
    let mut line = String::new();
    stderr.read_line(&mut line).expect("a line on stderr");
    // Keep reading what it writes later: a closed pipe would make its next line fail.
    std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
        .to_owned();
    (child, format!("http://{addr}/webhooks"))
}

fn send(url: &str, requests: u64) -> folio_loadgen::Report {
    let mut config = Config::new(url);
    config.auth = Auth::None;
    config.size = 2048;
    config.concurrency = 4;
    config.duration = None;
    config.requests = Some(requests);
    config.timeout = Duration::from_secs(30);
    tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(folio_loadgen::run(&config))
        .expect("the run starts")
}

fn finish(child: Child) -> (Option<i32>, Received) {
    let out = child.wait_with_output().expect("the receiver exits");
    let text = String::from_utf8(out.stdout).expect("UTF-8");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "one JSON line: {text:?}");
    let received = serde_json::from_str(lines[0]).expect("JSON");
    (out.status.code(), received)
}

#[test]
fn exits_0_with_one_json_line_once_the_expected_requests_arrived() {
    let (child, url) = start(300, 120);
    let report = send(&url, 300);
    assert_eq!((report.ok, report.non_2xx, report.errors), (300, 0, 0));
    assert_eq!(report.status.get("204"), Some(&300));
    let (code, received) = finish(child);
    assert_eq!(code, Some(0));
    assert_eq!(received.received, 300);
    assert!(
        received.secs > 0.0 && received.per_sec > 0.0,
        "{received:?}"
    );
}

#[test]
fn exits_1_with_the_count_so_far_when_the_timeout_passes() {
    let (child, url) = start(1000, 2);
    let report = send(&url, 5);
    assert_eq!(report.ok, 5, "{report:?}");
    let (code, received) = finish(child);
    assert_eq!(code, Some(1));
    assert_eq!(received.received, 5);
}

#[test]
fn refuses_to_listen_beyond_loopback_unless_allowed() {
    let out = Command::new(env!("CARGO_BIN_EXE_folio-loadgen"))
        .args([
            "receive",
            "--listen",
            "0.0.0.0:0",
            "--expect",
            "1",
            "--timeout",
            "1",
        ])
        .output()
        .expect("folio-loadgen runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not a loopback address"), "{err}");
}
