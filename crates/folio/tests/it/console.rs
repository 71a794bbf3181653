//! The console's sign-in and its door to the API, over HTTP: the session cookie, CSRF, expiry,
//! sign-out, revoked keys, one-time links, and same-origin only. (What the page does with them
//! is `browser::console_*`.)

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::harness::{form_with_file, run_folio, TestApp};

/// A signed-in console: its cookie and CSRF token.
struct Console {
    cookie: String,
    csrf: String,
    public_key: String,
}

fn cookie_of(response: &reqwest::Response) -> Option<String> {
    let set = response.headers().get("set-cookie")?.to_str().ok()?;
    let pair = set.split(';').next()?;
    Some(pair.trim().to_owned())
}

/// The whole `Set-Cookie` header of a response that must have one.
fn set_cookie_header(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .expect("set-cookie")
        .to_owned()
}

async fn sign_in(app: &TestApp, private_key: &str) -> reqwest::Response {
    app.client
        .post(app.url("/console/session"))
        .json(&json!({ "privateKey": private_key }))
        .send()
        .await
        .expect("sign in")
}

async fn signed_in(app: &TestApp) -> Console {
    let response = sign_in(app, &app.private_key).await;
    assert_eq!(response.status(), 200);
    let cookie = cookie_of(&response).expect("a session cookie");
    let body: Value = response.json().await.expect("json");
    Console {
        cookie,
        csrf: body["csrfToken"].as_str().expect("csrf").to_owned(),
        public_key: body["publicKey"].as_str().expect("publicKey").to_owned(),
    }
}

/// A console API call: `cookie` and `csrf` as given.
async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    cookie: Option<&str>,
    csrf: Option<&str>,
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = app.client.request(method, app.url(path));
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    if let Some(csrf) = csrf {
        request = request.header("x-folio-csrf", csrf);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.expect("request")
}

impl Console {
    async fn call(
        &self,
        app: &TestApp,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        call(
            app,
            method,
            path,
            Some(&self.cookie),
            Some(&self.csrf),
            body,
        )
        .await
    }
}

async fn code_of(response: reqwest::Response) -> (StatusCode, String) {
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    (status, body["code"].as_str().unwrap_or_default().to_owned())
}

#[tokio::test]
async fn a_session_cookie_opens_the_api_to_the_console_page_only() {
    let app = TestApp::start().await;
    // A wrong key: the API's own message.
    let wrong = sign_in(&app, "private_not_a_key").await;
    assert!(cookie_of(&wrong).is_none());
    TestApp::reply(wrong)
        .await
        .assert_error(403, "Your account cannot be authenticated.");

    let response = sign_in(&app, &app.private_key).await;
    let set_cookie = set_cookie_header(&response);
    for part in [
        "HttpOnly",
        "SameSite=Strict",
        "Path=/console/",
        "Max-Age=43200",
    ] {
        assert!(set_cookie.contains(part), "{part}: {set_cookie}");
    }
    assert!(!set_cookie.contains("Secure"), "plain http: {set_cookie}");
    assert!(response
        .headers()
        .get("access-control-allow-origin")
        .is_none());
    let body: Value = response.json().await.expect("json");
    assert!(
        !body.to_string().contains(&app.private_key),
        "the private key never comes back"
    );
    let console = signed_in(&app).await;

    // The management API under /console/api, with the cookie and the CSRF token.
    let listed = console
        .call(&app, Method::GET, "/console/api/v1/files?path=/", None)
        .await;
    assert_eq!(listed.status(), 200);
    assert!(listed
        .headers()
        .get("access-control-allow-origin")
        .is_none());
    // Without the token, without the cookie, or with another session's token: refused.
    let no_csrf = call(
        &app,
        Method::GET,
        "/console/api/v1/files",
        Some(&console.cookie),
        None,
        None,
    )
    .await;
    assert_eq!(
        code_of(no_csrf).await,
        (StatusCode::FORBIDDEN, "CONSOLE_CSRF".into())
    );
    let other = signed_in(&app).await;
    let crossed = call(
        &app,
        Method::GET,
        "/console/api/v1/files",
        Some(&console.cookie),
        Some(&other.csrf),
        None,
    )
    .await;
    assert_eq!(crossed.status(), 403);
    let no_cookie = call(
        &app,
        Method::GET,
        "/console/api/v1/files",
        None,
        Some(&console.csrf),
        None,
    )
    .await;
    assert_eq!(
        code_of(no_cookie).await,
        (StatusCode::UNAUTHORIZED, "CONSOLE_SIGN_IN_REQUIRED".into())
    );
    // A preflight from another origin is not granted.
    let preflight = app
        .client
        .request(Method::OPTIONS, app.url("/console/api/v1/files"))
        .header("origin", "http://elsewhere.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "x-folio-csrf")
        .send()
        .await
        .expect("preflight");
    assert!(preflight
        .headers()
        .get("access-control-allow-origin")
        .is_none());
    assert!(preflight
        .headers()
        .get("access-control-allow-headers")
        .is_none());

    // Upload with a token the console mints, then find, tag and sign the file through it.
    let payload = json!({"fileName": "secret.txt", "folder": "/c", "isPrivateFile": "true"});
    let token = console
        .call(
            &app,
            Method::POST,
            "/console/api/token",
            Some(json!({"uploadPayload": payload, "expire": 600, "publicKey": console.public_key})),
        )
        .await;
    assert_eq!(token.status(), 200);
    let token: Value = token.json().await.expect("json");
    let form = form_with_file(
        b"private bytes".to_vec(),
        &[
            ("fileName", "secret.txt"),
            ("folder", "/c"),
            ("isPrivateFile", "true"),
            ("token", token["token"].as_str().expect("token")),
        ],
    );
    let uploaded = app
        .post("/api/v2/files/upload", form, None)
        .await
        .assert_ok()
        .clone();
    let file_id = uploaded["fileId"].as_str().expect("id");
    let tagged = console
        .call(
            &app,
            Method::PATCH,
            &format!("/console/api/v1/files/{file_id}/details"),
            Some(json!({"tags": ["from-console"]})),
        )
        .await;
    assert_eq!(tagged.status(), 200);
    let found = console
        .call(
            &app,
            Method::GET,
            "/console/api/v1/files?searchQuery=tags%20IN%20%5B%22from-console%22%5D",
            None,
        )
        .await;
    let found: Value = found.json().await.expect("json");
    assert_eq!(found[0]["fileId"], file_id, "{found}");
    let unsigned = app.get(uploaded["url"].as_str().expect("url")).await;
    assert_eq!(unsigned.status(), 401, "a private file wants a signed URL");
    let signed = console
        .call(
            &app,
            Method::POST,
            "/console/api/sign",
            Some(json!({
                "path": uploaded["filePath"].as_str().expect("path").trim_start_matches('/'),
                "expireSeconds": 600
            })),
        )
        .await;
    let signed: Value = signed.json().await.expect("json");
    let fetched = app.get(signed["url"].as_str().expect("url")).await;
    assert_eq!(fetched.status(), 200);
    assert_eq!(
        fetched.bytes().await.expect("bytes").as_ref(),
        b"private bytes"
    );
}

#[tokio::test]
async fn a_session_ends_on_sign_out_on_expiry_and_with_its_key() {
    let app = TestApp::builder()
        .config(|c| c.console.session_ttl_secs = 1)
        .start()
        .await;
    // Signing out wants the CSRF token too (another site cannot sign the operator out).
    let console = signed_in(&app).await;
    let forged = call(
        &app,
        Method::DELETE,
        "/console/session",
        Some(&console.cookie),
        None,
        None,
    )
    .await;
    assert_eq!(forged.status(), 403);
    let out = console
        .call(&app, Method::DELETE, "/console/session", None)
        .await;
    assert_eq!(out.status(), 204);
    assert!(cookie_of(&out).is_some_and(|c| c == "folio_console="));
    let after = console
        .call(&app, Method::GET, "/console/api/v1/files", None)
        .await;
    assert_eq!(after.status(), 401);

    // Expiry (a session of one second).
    let short = signed_in(&app).await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let expired = short
        .call(&app, Method::GET, "/console/session", None)
        .await;
    assert_eq!(
        code_of(expired).await,
        (StatusCode::UNAUTHORIZED, "CONSOLE_SIGN_IN_REQUIRED".into())
    );

    // A revoked key ends the sessions signed in with it.
    let app = TestApp::start().await;
    let console = signed_in(&app).await;
    assert!(app
        .catalog()
        .revoke_key(&console.public_key)
        .await
        .expect("revoke"));
    let revoked = console
        .call(&app, Method::GET, "/console/api/v1/files", None)
        .await;
    assert_eq!(revoked.status(), 401);
}

#[tokio::test]
async fn a_login_link_signs_in_once() {
    let app = TestApp::start().await;
    let printed = run_folio(&["console", "link"], &app.cli_env()).await;
    assert!(printed.ok, "{}", printed.stderr);
    let link = printed.stdout.trim().to_owned();
    assert!(
        link.starts_with(&app.url("/console/login?token=")),
        "{link}"
    );
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let first = no_redirects.get(&link).send().await.expect("get");
    assert_eq!(first.status(), 303);
    assert_eq!(first.headers()["location"], "./");
    let cookie = cookie_of(&first).expect("a session cookie");
    let session = call(
        &app,
        Method::GET,
        "/console/session",
        Some(&cookie),
        None,
        None,
    )
    .await;
    assert_eq!(session.status(), 200);
    let second = no_redirects.get(&link).send().await.expect("get");
    assert_eq!(second.headers()["location"], "./?signin=expired");
    assert!(cookie_of(&second).is_none());
}

#[tokio::test]
async fn a_console_switched_off_has_no_routes() {
    let app = TestApp::builder()
        .config(|c| c.console.enabled = false)
        .start()
        .await;
    assert_eq!(app.get(&app.url("/console/")).await.status(), 404);
    // (The delivery route, GET only, answers other methods 405.)
    let refused = sign_in(&app, &app.private_key).await;
    assert!(cookie_of(&refused).is_none());
    assert_eq!(refused.status(), 405);
}

#[tokio::test]
async fn behind_a_proxy_under_a_path_the_cookie_follows_the_public_url() {
    let app = TestApp::builder()
        .config(|c| c.public_url = "https://media.example/folio".to_owned())
        .start()
        .await;
    let response = sign_in(&app, &app.private_key).await;
    let set_cookie = set_cookie_header(&response);
    assert!(set_cookie.contains("Path=/folio/console/"), "{set_cookie}");
    assert!(set_cookie.contains("Secure"), "https: {set_cookie}");
    let mut env = app.cli_env();
    env.retain(|(k, _)| k != "FOLIO_PUBLIC_URL");
    env.push((
        "FOLIO_PUBLIC_URL".to_owned(),
        "https://media.example/folio".to_owned(),
    ));
    let printed = run_folio(&["console", "link"], &env).await;
    assert!(
        printed
            .stdout
            .starts_with("https://media.example/folio/console/login?token="),
        "{}",
        printed.stdout
    );
}
