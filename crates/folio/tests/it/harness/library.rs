//! A library of a few hundred files to start a test from: versions, private files, custom
//! metadata and tags, a folder, a webhook endpoint and a burned token; and the check that a
//! server (a restored or moved copy) serves every file's bytes.

use reqwest::Method;
use serde_json::json;

use super::{form_with_file, run_folio, sign_url, TestApp};

/// Bytes that differ from file to file (and from version to version).
pub fn content(i: usize, size: usize) -> Vec<u8> {
    let mut state = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (0..size)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

/// One file: where it is, the bytes of its current version, and how it is delivered.
pub struct Uploaded {
    pub file_id: String,
    pub file_path: String,
    pub bytes: Vec<u8>,
    pub private: bool,
}

/// What [`build`] made, to compare against later.
pub struct Library {
    pub files: Vec<Uploaded>,
    /// A token already used for an upload (of `token.bin`, the only field it pins).
    pub burned_token: String,
}

pub const BURNED_TOKEN_FILE: &str = "token.bin";

impl Library {
    /// Versions in the catalog: every file, a second one for every 7th, and the token upload.
    pub fn versions(&self) -> usize {
        self.files.len() + self.files.len().div_ceil(7) + 1
    }

    /// The server at `base` (of the library's account, `default`) serves every file's current
    /// bytes at its path, private ones through a URL signed with `private_key`.
    pub async fn assert_served_by(&self, base: &str, private_key: &str) {
        let client = reqwest::Client::new();
        for file in &self.files {
            let relative = file.file_path.trim_start_matches('/');
            let url = if file.private {
                sign_url(private_key, &format!("{base}/default"), relative, None)
            } else {
                format!("{base}/default/{relative}")
            };
            let response = client.get(&url).send().await.expect("get");
            assert_eq!(response.status(), 200, "{url}");
            let body = response.bytes().await.expect("body");
            assert!(body == file.bytes, "{}: other bytes", file.file_path);
        }
    }
}

/// `count` files of about `size` bytes in five folders: every 7th has a second version, every
/// 10th is private, every 3rd has custom metadata and a tag; plus a custom metadata field, an
/// empty folder, a webhook endpoint (nothing listens at it), and an upload with a token.
pub async fn build(app: &TestApp, count: usize, size: usize) -> Library {
    let field = app
        .api(
            Method::POST,
            "/v1/customMetadataFields",
            Some(json!({"name": "rating", "label": "Rating", "schema": {"type": "Number"}})),
        )
        .await;
    assert_eq!(field.status, 201, "{}", field.body);
    app.api(
        Method::POST,
        "/v1/folder",
        Some(json!({"folderName": "empty", "parentFolderPath": "/"})),
    )
    .await;
    let mut env = app.cli_env();
    env.push(("FOLIO_FETCH__ALLOW".to_owned(), "127.0.0.1".to_owned()));
    let hook = run_folio(&["webhooks", "add", "http://127.0.0.1:9/hook"], &env).await;
    assert!(hook.ok, "{}", hook.stderr);

    let mut files = Vec::new();
    for i in 0..count {
        let name = format!("f{i}.bin");
        let folder = format!("/set{}", i % 5);
        let private = i % 10 == 0;
        let tag = i.to_string();
        let metadata = json!({ "rating": i }).to_string();
        let mut fields = vec![
            ("fileName", name.as_str()),
            ("folder", folder.as_str()),
            ("useUniqueFileName", "false"),
        ];
        if private {
            fields.push(("isPrivateFile", "true"));
        }
        if i % 3 == 0 {
            fields.push(("customMetadata", metadata.as_str()));
            fields.push(("tags", tag.as_str()));
        }
        let mut bytes = content(i, size + i * 97);
        let mut body = app.upload(bytes.clone(), &fields).await.assert_ok().clone();
        if i % 7 == 0 {
            bytes = content(10_000 + i, size / 2 + i);
            body = app.upload(bytes.clone(), &fields).await.assert_ok().clone();
        }
        files.push(Uploaded {
            file_id: body["fileId"].as_str().expect("fileId").to_owned(),
            file_path: body["filePath"].as_str().expect("filePath").to_owned(),
            bytes,
            private,
        });
    }
    let burned_token = app.token(&[("fileName", BURNED_TOKEN_FILE)]);
    let with_token = form_with_file(
        content(99_999, 500),
        &[("fileName", BURNED_TOKEN_FILE), ("token", &burned_token)],
    );
    app.post("/api/v2/files/upload", with_token, None)
        .await
        .assert_ok();
    Library {
        files,
        burned_token,
    }
}
