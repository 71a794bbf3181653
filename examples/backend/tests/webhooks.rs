//! The webhook receiver (`POST /webhooks`, `GET /files`) over a real loopback socket, with
//! deliveries signed here the way Folio signs them (spec webhooks.md §1): Standard Webhooks
//! headers keyed with the secret's text, `whsec_` included, plus the older `x-ik-signature`.
//! The signing uses hmac/sha2/base64 directly, not the crate the receiver verifies with, so a
//! wrong key reading on either side shows up.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use folio_example_backend::{router, Settings};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

const PUBLIC: &str = "public_example_key";
const PRIVATE: &str = "private_example_key";
const BEARER: &str = "s3cret-session-token-0123";
/// Shaped like the secrets `folio webhooks add` prints: `whsec_` + base64 of 24 bytes.
const SECRET: &str = "whsec_ZXhhbXBsZS13ZWJob29rLWtleS0yNGI=";

fn settings(webhook_secret: Option<&str>) -> Settings {
    let mut vars: HashMap<&str, &str> = [
        ("FOLIO_PUBLIC_KEY", PUBLIC),
        ("FOLIO_PRIVATE_KEY", PRIVATE),
        ("BACKEND_BEARER_TOKEN", BEARER),
        ("BACKEND_LISTEN", "127.0.0.1:0"),
    ]
    .into_iter()
    .collect();
    if let Some(secret) = webhook_secret {
        vars.insert("FOLIO_WEBHOOK_SECRET", secret);
    }
    Settings::from_vars(|name| vars.get(name).map(|v| (*v).to_owned())).expect("settings")
}

/// The example's router on a loopback port; the server stops when the test's runtime ends.
struct Backend {
    base: String,
    client: reqwest::Client,
}

impl Backend {
    async fn start(webhook_secret: Option<&str>) -> Backend {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr: SocketAddr = listener.local_addr().expect("addr");
        let app = router(settings(webhook_secret));
        tokio::spawn(async move { axum::serve(listener, app).await });
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .no_proxy()
            .build()
            .expect("client");
        Backend {
            base: format!("http://{addr}"),
            client,
        }
    }

    /// POSTs `delivery` to /webhooks; the status and the JSON `message` (if any).
    async fn deliver(&self, delivery: &Delivery) -> (u16, String) {
        let mut request = self
            .client
            .post(format!("{}/webhooks", self.base))
            .header("content-type", "application/json")
            .body(delivery.body.clone());
        for (name, value) in &delivery.headers {
            request = request.header(*name, value);
        }
        let response = request.send().await.expect("POST /webhooks");
        let status = response.status().as_u16();
        let text = response.text().await.expect("body");
        let message = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v["message"].as_str().map(str::to_owned))
            .unwrap_or(text);
        (status, message)
    }

    /// `GET /files` with the bearer token: the recorded File objects.
    async fn files(&self) -> Vec<Value> {
        let response = self
            .client
            .get(format!("{}/files", self.base))
            .bearer_auth(BEARER)
            .send()
            .await
            .expect("GET /files");
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.expect("JSON");
        body["files"].as_array().expect("files array").clone()
    }
}

fn now() -> i64 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    i64::try_from(secs).expect("seconds fit")
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

/// A delivery as it goes on the wire.
struct Delivery {
    body: String,
    headers: Vec<(&'static str, String)>,
}

/// Signs `body` as event `id` at Unix time `ts` with HMAC key `key`.
fn signed_with(key: &[u8], id: &str, ts: i64, body: &str) -> Delivery {
    let signature = base64::engine::general_purpose::STANDARD
        .encode(hmac_sha256(key, format!("{id}.{ts}.{body}").as_bytes()));
    let ms = ts * 1000;
    let legacy = hex(&hmac_sha256(key, format!("{ms}.{body}").as_bytes()));
    Delivery {
        body: body.to_owned(),
        headers: vec![
            ("webhook-id", id.to_owned()),
            ("webhook-timestamp", ts.to_string()),
            ("webhook-signature", format!("v1,{signature}")),
            ("x-ik-signature", format!("t={ms},v1={legacy}")),
        ],
    }
}

/// Signed as Folio does: the key is the secret's text.
fn signed(id: &str, ts: i64, body: &str) -> Delivery {
    signed_with(SECRET.as_bytes(), id, ts, body)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn file_object(file_id: &str, name: &str) -> Value {
    json!({
        "fileId": file_id,
        "name": name,
        "filePath": format!("/{name}"),
        "url": format!("http://127.0.0.1:8080/{name}"),
        "type": "file",
        "fileType": "image",
        "size": 631,
        "width": 1,
        "height": 1,
        "tags": null,
        "AITags": null,
        "versionInfo": {"id": file_id, "name": "Version 1"},
        "createdAt": "2025-01-02T03:04:05.678Z",
        "updatedAt": "2025-01-02T03:04:05.678Z",
    })
}

fn event(kind: &str, id: &str, data: Value) -> String {
    json!({
        "type": kind,
        "id": id,
        "created_at": "2025-01-02T03:04:05.678Z",
        "data": data,
        "request": {"x_request_id": "9c5f0e2a-0000-4000-8000-000000000001", "user_agent": "test"},
    })
    .to_string()
}

fn file_ids(files: &[Value]) -> Vec<&str> {
    files.iter().filter_map(|f| f["fileId"].as_str()).collect()
}

#[tokio::test]
async fn a_signed_file_created_event_is_recorded_once() {
    let backend = Backend::start(Some(SECRET)).await;
    assert!(backend.files().await.is_empty());

    let file = file_object("64f0c1d2e3f4a5b6c7d8e9f0", "dress.jpg");
    let body = event("file.created", "evt_0001", file.clone());
    let (status, message) = backend.deliver(&signed("evt_0001", now(), &body)).await;
    assert_eq!(status, 200, "{message}");
    assert_eq!(backend.files().await, vec![file.clone()]);

    // A retry: the same event and webhook-id, a new attempt's timestamp and signature. Folio
    // delivers at least once, so this is acknowledged and not recorded twice.
    let (status, message) = backend
        .deliver(&signed("evt_0001", now() - 30, &body))
        .await;
    assert_eq!(status, 200, "{message}");
    assert_eq!(backend.files().await, vec![file.clone()]);

    // During a key rotation several signatures are sent; one that matches is enough.
    let second = file_object("64f0c1d2e3f4a5b6c7d8e9f1", "shoe.png");
    let body = event("file.created", "evt_0002", second);
    let mut delivery = signed("evt_0002", now(), &body);
    let good = delivery.headers[2].1.clone();
    delivery.headers[2].1 = format!("v1,bm90IHRoZSBzaWduYXR1cmUgeW91IHdhbnQ= {good}");
    let (status, message) = backend.deliver(&delivery).await;
    assert_eq!(status, 200, "{message}");
    assert_eq!(
        file_ids(&backend.files().await),
        ["64f0c1d2e3f4a5b6c7d8e9f0", "64f0c1d2e3f4a5b6c7d8e9f1"]
    );
}

#[tokio::test]
async fn a_tampered_delivery_is_401_and_not_recorded() {
    let backend = Backend::start(Some(SECRET)).await;
    let body = event(
        "file.created",
        "evt_0003",
        file_object("64f0c1d2e3f4a5b6c7d8e9f2", "a.jpg"),
    );
    let good = signed("evt_0003", now(), &body);

    // The body changed after signing.
    let tampered = Delivery {
        body: body.replace("a.jpg", "b.jpg"),
        headers: good.headers.clone(),
    };
    // The id changed after signing (it is part of what is signed).
    let mut other_id = Delivery {
        body: body.clone(),
        headers: good.headers.clone(),
    };
    other_id.headers[0].1 = "evt_9999".to_owned();
    // Signed with a key that is not the secret's text: the private key, and the key a Standard
    // Webhooks library derives when handed the secret itself (`whsec_` stripped, the rest
    // base64-decoded). Folio and the SDKs use neither.
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(SECRET.trim_start_matches("whsec_"))
        .expect("the secret is base64 after its prefix");
    let other_keys = [
        signed_with(PRIVATE.as_bytes(), "evt_0003", now(), &body),
        signed_with(&decoded, "evt_0003", now(), &body),
    ];
    // Headers missing, or a signature of another version.
    let without = |name: &str| Delivery {
        body: body.clone(),
        headers: good
            .headers
            .iter()
            .filter(|(n, _)| *n != name)
            .cloned()
            .collect(),
    };
    let mut v2 = Delivery {
        body: body.clone(),
        headers: good.headers.clone(),
    };
    v2.headers[2].1 = good.headers[2].1.replacen("v1,", "v2,", 1);

    for (what, delivery) in [
        ("tampered body", &tampered),
        ("another webhook-id", &other_id),
        ("the private key", &other_keys[0]),
        ("the decoded secret", &other_keys[1]),
        ("no webhook-signature", &without("webhook-signature")),
        ("no webhook-id", &without("webhook-id")),
        ("no webhook-timestamp", &without("webhook-timestamp")),
        ("a v2 signature", &v2),
    ] {
        let (status, message) = backend.deliver(delivery).await;
        assert_eq!(status, 401, "{what}: {message}");
        assert!(message.starts_with("Refused: "), "{what}: {message}");
    }
    assert!(backend.files().await.is_empty());

    // The checks bite only on what is wrong: the untouched delivery passes.
    let (status, message) = backend.deliver(&good).await;
    assert_eq!(status, 200, "{message}");
    assert_eq!(
        file_ids(&backend.files().await),
        ["64f0c1d2e3f4a5b6c7d8e9f2"]
    );
}

#[tokio::test]
async fn a_stale_or_future_timestamp_is_401_even_when_correctly_signed() {
    let backend = Backend::start(Some(SECRET)).await;
    let body = event(
        "file.created",
        "evt_0004",
        file_object("64f0c1d2e3f4a5b6c7d8e9f3", "old.jpg"),
    );
    // 10 minutes either side of now, against a 5-minute tolerance: well clear of the edge, so
    // no clock timing is involved.
    for (what, ts) in [
        ("10 minutes old", now() - 600),
        ("10 minutes ahead", now() + 600),
    ] {
        let (status, message) = backend.deliver(&signed("evt_0004", ts, &body)).await;
        assert_eq!(status, 401, "{what}: {message}");
        assert!(message.contains("5 minutes"), "{what}: {message}");
    }
    assert!(backend.files().await.is_empty());
}

#[tokio::test]
async fn other_event_types_are_acknowledged_and_not_recorded() {
    let backend = Backend::start(Some(SECRET)).await;
    let file = file_object("64f0c1d2e3f4a5b6c7d8e9f4", "c.jpg");
    for (i, (kind, data)) in [
        ("file.updated", file.clone()),
        (
            "file.deleted",
            json!({"fileId": "64f0c1d2e3f4a5b6c7d8e9f4"}),
        ),
        ("file-version.created", file.clone()),
        (
            "file-version.deleted",
            json!({"fileId": "64f0c1d2e3f4a5b6c7d8e9f4", "versionId": "64f0c1d2e3f4a5b6c7d8e9f5"}),
        ),
        ("upload.pre-transform.success", file.clone()),
        (
            "upload.post-transform.error",
            json!({"transformation": {"error": {"reason": "encoding failed"}}}),
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let id = format!("evt_01{i:02}");
        let (status, message) = backend
            .deliver(&signed(&id, now(), &event(kind, &id, data)))
            .await;
        assert_eq!(status, 200, "{kind}: {message}");
    }
    assert!(backend.files().await.is_empty());
}

#[tokio::test]
async fn a_signed_body_that_is_not_an_event_is_400() {
    let backend = Backend::start(Some(SECRET)).await;
    let no_created_at = json!({"type": "file.created", "id": "evt_0005", "data": file_object("64f0c1d2e3f4a5b6c7d8e9f6", "d.jpg")}).to_string();
    for body in [
        "not json".to_owned(),
        "[]".to_owned(),
        json!({"type": "file.created"}).to_string(),
        no_created_at,
        json!({"type": 7, "id": "evt_0005", "created_at": "2025-01-02T03:04:05Z", "data": {}})
            .to_string(),
        // A file.created whose data is not a File object.
        event("file.created", "evt_0005", json!({"name": "d.jpg"})),
        event("file.created", "evt_0005", json!("d.jpg")),
    ] {
        let (status, message) = backend.deliver(&signed("evt_0005", now(), &body)).await;
        assert_eq!(status, 400, "{body}: {message}");
    }
    assert!(backend.files().await.is_empty());
}

/// An endpoint declared in Folio's config may have any secret of 24 characters or more; the
/// key is still its text.
#[tokio::test]
async fn a_config_declared_secret_without_whsec_works_the_same() {
    let plain = "an-operator-chosen-secret-0123456789";
    let backend = Backend::start(Some(plain)).await;
    let body = event(
        "file.created",
        "evt_0007",
        file_object("64f0c1d2e3f4a5b6c7d8e9f8", "f.jpg"),
    );
    let (status, message) = backend.deliver(&signed("evt_0007", now(), &body)).await;
    assert_eq!(status, 401, "signed with another secret: {message}");
    let (status, message) = backend
        .deliver(&signed_with(plain.as_bytes(), "evt_0007", now(), &body))
        .await;
    assert_eq!(status, 200, "{message}");
    assert_eq!(
        file_ids(&backend.files().await),
        ["64f0c1d2e3f4a5b6c7d8e9f8"]
    );
}

#[tokio::test]
async fn without_a_secret_the_receiver_says_so() {
    let backend = Backend::start(None).await;
    let body = event(
        "file.created",
        "evt_0006",
        file_object("64f0c1d2e3f4a5b6c7d8e9f7", "e.jpg"),
    );
    let (status, message) = backend.deliver(&signed("evt_0006", now(), &body)).await;
    assert_eq!(status, 503);
    assert!(message.contains("FOLIO_WEBHOOK_SECRET"), "{message}");
}

#[tokio::test]
async fn only_the_apps_users_see_the_files() {
    let backend = Backend::start(Some(SECRET)).await;
    for auth in [None, Some("Bearer wrong-token-wrong-token")] {
        let mut request = backend.client.get(format!("{}/files", backend.base));
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        let response = request.send().await.expect("GET /files");
        assert_eq!(response.status(), 401, "{auth:?}");
    }
    // The webhook route is for Folio, not browsers: no CORS there.
    let response = backend
        .client
        .post(format!("{}/webhooks", backend.base))
        .header("origin", "http://app.example.test")
        .body("{}")
        .send()
        .await
        .expect("POST /webhooks");
    assert!(response
        .headers()
        .get("access-control-allow-origin")
        .is_none());
}

#[test]
fn the_webhook_secret_must_be_a_whole_secret_of_its_own_and_stays_hidden() {
    let from = |secret: &str, private: &str| {
        let vars: HashMap<&str, &str> = [
            ("FOLIO_PUBLIC_KEY", PUBLIC),
            ("FOLIO_PRIVATE_KEY", private),
            ("BACKEND_BEARER_TOKEN", BEARER),
            ("FOLIO_WEBHOOK_SECRET", secret),
        ]
        .into_iter()
        .collect();
        Settings::from_vars(|name| vars.get(name).map(|v| (*v).to_owned()))
    };
    for wrong in [
        "whsec_ZXhhbXBsZS13",
        "whsec_ZXhhbXBsZS13 ZWJob29rLWtleS0yNGI=",
    ] {
        let problem = from(wrong, PRIVATE).expect_err(wrong);
        assert!(problem.starts_with("FOLIO_WEBHOOK_SECRET"), "{problem}");
    }
    let long_private = "private_0123456789abcdefghijklmnop";
    let problem = from(long_private, long_private).expect_err("the private key");
    assert!(problem.contains("private key"), "{problem}");

    assert_eq!(
        from("", PRIVATE).expect("empty is unset").webhook_secret,
        None
    );
    let ok = from(SECRET, PRIVATE).expect("secret");
    assert_eq!(ok.webhook_secret.as_deref(), Some(SECRET));
    // A secret declared in Folio's config need not start with whsec_.
    let plain = "an-operator-chosen-secret-0123456789";
    assert_eq!(
        from(plain, PRIVATE)
            .expect("plain")
            .webhook_secret
            .as_deref(),
        Some(plain)
    );
    let shown = format!("{ok:?}");
    assert!(!shown.contains(SECRET), "{shown}");
}
