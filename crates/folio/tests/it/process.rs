//! The `folio` binary as a user runs it: first start prints keys; an acknowledged upload
//! survives `kill -9`.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use crate::harness::{fixture, form_with_file, Backing, TestApp};

struct Folio {
    child: Guard,
    addr: String,
    keys: Option<(String, String)>,
}

/// Kills the process whatever happens to the test, so that none outlives it.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(data: &std::path::Path, backing: &Backing) -> Folio {
    let mut guard = Guard(
        Command::new(env!("CARGO_BIN_EXE_folio"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data)
            .env_remove("FOLIO_CONFIG")
            .envs(backing.env())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn folio"),
    );
    let stdout = guard.0.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let (mut public, mut private) = (None, None);
    loop {
        let line = lines.next().expect("folio exited early").expect("line");
        if let Some(k) = line.trim().strip_prefix("public key:") {
            public = Some(k.trim().to_owned());
        } else if let Some(k) = line.trim().strip_prefix("private key:") {
            private = Some(k.trim().to_owned());
        } else if let Some(rest) = line.strip_prefix("Folio listening on http://") {
            let addr = rest.split_whitespace().next().expect("addr").to_owned();
            return Folio {
                child: guard,
                addr,
                keys: public.zip(private),
            };
        }
    }
}

#[tokio::test]
async fn an_acknowledged_upload_survives_kill_9() {
    let data = tempfile::tempdir().expect("tempdir");
    let backing = Backing::fresh().await;
    let mut first = start(data.path(), &backing);
    let (public, private) = first.keys.clone().expect("first start prints the key pair");
    assert!(public.starts_with("public_") && private.starts_with("private_"));

    let client = reqwest::Client::new();
    use base64::Engine;
    let auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{private}:"))
    );
    let response = client
        .post(format!("http://{}/api/v2/files/upload", first.addr))
        .header("Authorization", &auth)
        .multipart(form_with_file(
            fixture("photo-exif.jpg"),
            &[("fileName", "keep.jpg"), ("useUniqueFileName", "false")],
        ))
        .send()
        .await
        .expect("upload");
    let body = TestApp::reply(response).await.assert_ok().clone();
    first.child.0.kill().expect("kill -9"); // SIGKILL: no graceful anything
    first.child.0.wait().expect("wait");

    let second = start(data.path(), &backing);
    assert!(
        second.keys.is_none(),
        "keys are printed only on first start"
    );
    let path = body["filePath"].as_str().expect("path");
    let served = client
        .get(format!("http://{}/default{path}", second.addr))
        .send()
        .await
        .expect("get");
    assert_eq!(served.status(), 200);
    assert_eq!(
        served.bytes().await.expect("bytes").as_ref(),
        fixture("photo-exif.jpg").as_slice()
    );
}
