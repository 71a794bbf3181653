//! The `folio` binary as a user runs it: first start prints keys; an acknowledged upload
//! survives `kill -9`.

use crate::harness::{fixture, form_with_file, Backing, FolioProcess, TestApp};

#[tokio::test]
async fn an_acknowledged_upload_survives_kill_9() {
    let data = tempfile::tempdir().expect("tempdir");
    let backing = Backing::fresh().await;
    let mut first = FolioProcess::start(data.path(), &[], &backing.env());
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
    first.kill(); // SIGKILL: no graceful anything

    let second = FolioProcess::start(data.path(), &[], &backing.env());
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
