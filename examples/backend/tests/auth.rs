//! The reference token endpoint: router tests (tower's `oneshot`) for every answer, and one
//! round trip over a real loopback socket.

use std::collections::HashMap;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use folio_example_backend::{router, Settings};
use serde_json::{json, Value};
use tower::ServiceExt;

const PUBLIC: &str = "public_example_key";
const PRIVATE: &str = "private_example_key";
const BEARER: &str = "s3cret-session-token-0123";

fn settings() -> Settings {
    let vars: HashMap<&str, &str> = [
        ("FOLIO_PUBLIC_KEY", PUBLIC),
        ("FOLIO_PRIVATE_KEY", PRIVATE),
        ("BACKEND_BEARER_TOKEN", BEARER),
        ("BACKEND_LISTEN", "127.0.0.1:0"),
    ]
    .into_iter()
    .collect();
    Settings::from_vars(|name| vars.get(name).map(|v| (*v).to_owned())).expect("settings")
}

fn app() -> Router {
    router(settings())
}

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Value,
}

async fn send(request: Request<Body>) -> Reply {
    let response = app().oneshot(request).await.expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("body");
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).expect("JSON body")
    };
    Reply {
        status,
        headers,
        body,
    }
}

fn post(auth: Option<&str>, body: &str) -> Request<Body> {
    let mut request = Request::post("/auth")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ORIGIN, "http://app.example.test");
    if let Some(auth) = auth {
        request = request.header(header::AUTHORIZATION, auth);
    }
    request.body(Body::from(body.to_owned())).expect("request")
}

fn bearer() -> String {
    format!("Bearer {BEARER}")
}

fn seed_body(payload: Value, expire: Value) -> String {
    json!({"uploadPayload": payload, "expire": expire, "publicKey": PUBLIC}).to_string()
}

/// Verifies a token the way Folio does and returns its `exp - iat`.
fn verify(token: &str, fields: &[(&str, &str)]) -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let now = i64::try_from(now).expect("now");
    let verified = folio_token::decode(token)
        .and_then(|t| t.verify(PRIVATE, now, 60))
        .expect("Folio accepts the token");
    assert_eq!(verified.kid(), PUBLIC);
    assert!(
        verified.payload_matches(fields.iter().copied()),
        "payload {:?} vs fields {fields:?}",
        verified.params()
    );
    verified.exp() - verified.iat()
}

#[tokio::test]
async fn the_documented_request_gets_a_token_for_exactly_its_payload() {
    let reply = send(post(
        Some(&bearer()),
        &seed_body(
            json!({"fileName": "dress.jpg", "useUniqueFileName": "false", "tags": "summer,dress"}),
            json!(400),
        ),
    ))
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let object = reply.body.as_object().expect("object");
    assert_eq!(object.keys().collect::<Vec<_>>(), ["token"]);
    let token = reply.body["token"].as_str().expect("token");
    let lifetime = verify(
        token,
        &[
            ("fileName", "dress.jpg"),
            ("useUniqueFileName", "false"),
            ("tags", "summer,dress"),
        ],
    );
    assert_eq!(lifetime, 400);
    assert_eq!(reply.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    assert_eq!(reply.headers[header::CACHE_CONTROL], "no-store");
}

#[tokio::test]
async fn the_documented_browser_example_works_as_written() {
    // jQuery's $.ajax with `data: JSON.stringify(...)` and no contentType posts JSON text with
    // the form Content-Type; the example asks for expire 3600.
    let request = Request::post("/auth")
        .header(
            header::CONTENT_TYPE,
            "application/x-www-form-urlencoded; charset=UTF-8",
        )
        .header(header::AUTHORIZATION, bearer())
        .header("CustomHeader", "CustomValue")
        .body(Body::from(seed_body(
            json!({"fileName": "abc.jpg"}),
            json!(3600),
        )))
        .expect("request");
    let reply = send(request).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let token = reply.body["token"].as_str().expect("token");
    assert_eq!(verify(token, &[("fileName", "abc.jpg")]), 3600);
}

#[tokio::test]
async fn only_the_apps_users_get_tokens() {
    let body = seed_body(json!({"fileName": "a.jpg"}), json!(60));
    for auth in [
        None,
        Some("Bearer wrong-token-wrong-token".to_owned()),
        Some(format!("Bearer {BEARER}x")),
        Some(format!("Basic {BEARER}")),
        Some(BEARER.to_owned()),
        Some("Bearer ".to_owned()),
    ] {
        let reply = send(post(auth.as_deref(), &body)).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{auth:?}");
        assert!(
            reply.body["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("Sign in first")),
            "{}",
            reply.body
        );
        assert_eq!(reply.headers[header::WWW_AUTHENTICATE], "Bearer");
        // The browser can read the refusal.
        assert_eq!(reply.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    }
    // The scheme is case-insensitive.
    let reply = send(post(Some(&format!("bearer {BEARER}")), &body)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
}

#[tokio::test]
async fn bad_requests_are_400_with_a_message_that_says_what_to_fix() {
    let cases: Vec<(String, &str)> = vec![
        (
            seed_body(json!({"fileName": "a.jpg", "useUniqueFileName": false}), json!(60)),
            "uploadPayload.useUniqueFileName must be a string, got a boolean",
        ),
        (
            seed_body(json!({"fileName": "a.jpg", "tags": ["a", "b"]}), json!(60)),
            "uploadPayload.tags must be a string, got an array",
        ),
        (
            seed_body(json!({"fileName": "a.jpg", "file": "x"}), json!(60)),
            "uploadPayload must not contain file",
        ),
        (
            seed_body(json!({"token": "x"}), json!(60)),
            "uploadPayload must not contain token",
        ),
        (
            seed_body(json!({"exp": "99999999999"}), json!(60)),
            "uploadPayload must not contain exp",
        ),
        (
            seed_body(json!({"fileName": "a.jpg"}), json!(0)),
            "expire must be a JSON number of seconds from 1 to 3600",
        ),
        (
            seed_body(json!({"fileName": "a.jpg"}), json!(3601)),
            "expire must be a JSON number of seconds from 1 to 3600",
        ),
        (
            seed_body(json!({"fileName": "a.jpg"}), json!("400")),
            "expire must be a JSON number of seconds from 1 to 3600",
        ),
        (
            seed_body(json!({"fileName": "a.jpg"}), json!(12.5)),
            "expire must be a JSON number of seconds from 1 to 3600",
        ),
        (
            json!({"uploadPayload": {"fileName": "a.jpg"}, "publicKey": PUBLIC}).to_string(),
            "expire is missing",
        ),
        (
            json!({"uploadPayload": {"fileName": "a.jpg"}, "expire": 60, "publicKey": "public_other"})
                .to_string(),
            "publicKey does not match",
        ),
        (
            json!({"uploadPayload": {"fileName": "a.jpg"}, "expire": 60}).to_string(),
            "publicKey is missing",
        ),
        (
            json!({"expire": 60, "publicKey": PUBLIC}).to_string(),
            "uploadPayload must be a JSON object",
        ),
        ("fileName=a.jpg".to_owned(), "The request body is not JSON"),
        ("[]".to_owned(), "The request body must be a JSON object"),
    ];
    for (body, expected) in cases {
        let reply = send(post(Some(&bearer()), &body)).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}");
        let message = reply.body["message"].as_str().unwrap_or_default();
        assert!(
            message.starts_with(expected),
            "{body}: expected {expected:?}, got {message:?}"
        );
        assert!(!message.contains(PRIVATE));
    }
}

#[tokio::test]
async fn browsers_may_call_it_cross_origin_with_authorization() {
    let request = Request::builder()
        .method("OPTIONS")
        .uri("/auth")
        .header(header::ORIGIN, "http://app.example.test")
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .header(
            header::ACCESS_CONTROL_REQUEST_HEADERS,
            "authorization,content-type",
        )
        .body(Body::empty())
        .expect("request");
    let reply = send(request).await;
    assert!(reply.status.is_success(), "{}", reply.status);
    let h = &reply.headers;
    assert_eq!(h[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    let allowed = h[header::ACCESS_CONTROL_ALLOW_HEADERS]
        .to_str()
        .expect("ascii")
        .to_ascii_lowercase();
    assert!(allowed.contains("authorization") && allowed.contains("content-type"));
    assert!(h[header::ACCESS_CONTROL_ALLOW_METHODS]
        .to_str()
        .expect("ascii")
        .contains("POST"));
}

#[tokio::test]
async fn a_configured_origin_is_the_only_one_allowed() {
    let mut settings = settings();
    settings.allow_origin = Some("https://app.example.test".parse().expect("origin"));
    let response = router(settings)
        .oneshot(post(
            Some(&bearer()),
            &seed_body(json!({"fileName": "a.jpg"}), json!(60)),
        ))
        .await
        .expect("infallible");
    assert_eq!(
        response.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://app.example.test"
    );
}

#[tokio::test]
async fn other_methods_and_paths_are_refused() {
    let get = Request::get("/auth").body(Body::empty()).expect("request");
    assert_eq!(send(get).await.status, StatusCode::METHOD_NOT_ALLOWED);
    let other = Request::post("/token")
        .body(Body::empty())
        .expect("request");
    assert_eq!(send(other).await.status, StatusCode::NOT_FOUND);
}

#[test]
fn settings_name_what_is_missing_and_hide_secrets() {
    let from = |pairs: &[(&str, &str)]| {
        let vars: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Settings::from_vars(|name| vars.get(name).cloned())
    };
    assert_eq!(
        from(&[]).expect_err("missing"),
        "FOLIO_PUBLIC_KEY is not set"
    );
    let short = from(&[
        ("FOLIO_PUBLIC_KEY", PUBLIC),
        ("FOLIO_PRIVATE_KEY", PRIVATE),
        ("BACKEND_BEARER_TOKEN", "short"),
    ])
    .expect_err("short");
    assert!(short.contains("too short"), "{short}");
    let bad_listen = from(&[
        ("FOLIO_PUBLIC_KEY", PUBLIC),
        ("FOLIO_PRIVATE_KEY", PRIVATE),
        ("BACKEND_BEARER_TOKEN", BEARER),
        ("BACKEND_LISTEN", "localhost"),
    ])
    .expect_err("listen");
    assert!(
        bad_listen.starts_with("BACKEND_LISTEN=localhost"),
        "{bad_listen}"
    );
    let ok = from(&[
        ("FOLIO_PUBLIC_KEY", PUBLIC),
        ("FOLIO_PRIVATE_KEY", PRIVATE),
        ("BACKEND_BEARER_TOKEN", BEARER),
    ])
    .expect("defaults");
    assert_eq!(ok.listen.to_string(), "127.0.0.1:3001");
    let shown = format!("{ok:?}");
    assert!(
        !shown.contains(PRIVATE) && !shown.contains(BEARER),
        "{shown}"
    );
}

#[tokio::test]
async fn serves_over_a_real_socket() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move { axum::serve(listener, app()).await });
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .no_proxy()
        .build()
        .expect("client");
    let response = client
        .post(format!("http://{addr}/auth"))
        .bearer_auth(BEARER)
        .json(
            &json!({"uploadPayload": {"fileName": "sock.jpg"}, "expire": 120, "publicKey": PUBLIC}),
        )
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    let token = body["token"].as_str().expect("token");
    assert_eq!(verify(token, &[("fileName", "sock.jpg")]), 120);
    server.abort();
}
