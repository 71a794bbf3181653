//! Demo mode (`folio serve --demo`): a browser upload page at `/demo/` and, beside it, a token
//! endpoint at `/demo/auth` so that the page works with nothing else running.
//!
//! The upload API never needs this module: in production the token endpoint belongs to the
//! app's own backend (see `examples/backend`), which knows its users. Spec §10 says a helper
//! like `/demo/auth` on the server must be off by default and protected, so:
//!
//! * **Off by default.** The routes exist only when [`AppState::demo`] is set, which only
//!   `folio serve --demo` does (and tests).
//! * **Loopback only.** `--demo` refuses to start on a non-loopback address, and every demo
//!   request must name a loopback host (`127.0.0.1`, `[::1]`, `localhost`) in `Host`, so that a
//!   web page that rebinds its own domain name to 127.0.0.1 cannot reach it either.
//! * **A secret per run.** `/demo/auth` wants `Authorization: Bearer <token>`, a random value
//!   drawn at start. The page receives it in a small inline JSON config; the page is served
//!   without CORS headers (unlike the API) and with `Cache-Control: no-store`, so another
//!   origin's script cannot read it, and it is gone when the process stops. Whoever can open
//!   the page on this machine can upload: that is what the demo is for.
//!
//! The page itself is plain HTML, CSS and JavaScript embedded in the binary (`include_str!`),
//! with no build step.

use std::net::IpAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use folio_token::{TokenRequest, TokenRequestError};
use serde_json::json;
use subtle::ConstantTimeEq;

use crate::state::AppState;

const INDEX_HTML: &str = include_str!("demo/index.html");
const APP_JS: &str = include_str!("demo/app.js");
const STYLE_CSS: &str = include_str!("demo/style.css");
const FAVICON_SVG: &str = include_str!("demo/favicon.svg");
/// The tus client the demo page and the console share.
const TUS_CLIENT_JS: &str = include_str!("tus_client.js");

/// Token lifetime the page asks for: long enough for a slow upload to start, short enough that
/// a leaked token is soon worthless.
const PAGE_TOKEN_EXPIRE_SECS: i64 = 300;

/// A token request is a few parameters.
const MAX_AUTH_BODY_BYTES: usize = 64 * 1024;

/// Marks a response that must not carry the API's `Access-Control-Allow-Origin: *` (the edge
/// middleware in `http` honours it): the demo page holds the run's bearer token, the console a
/// signed-in session.
#[derive(Debug, Clone, Copy)]
pub struct SameOriginOnly;

/// Demo mode's settings for one run. `Debug` redacts the secrets.
pub struct Demo {
    public_key: String,
    private_key: String,
    bearer: String,
}

impl std::fmt::Debug for Demo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Demo")
            .field("public_key", &self.public_key)
            .field("private_key", &"<redacted>")
            .field("bearer", &"<redacted>")
            .finish()
    }
}

impl Demo {
    /// Demo settings signing with this key pair, with a fresh random bearer token.
    pub fn new(public_key: &str, private_key: &str) -> Demo {
        let bearer =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
        Demo {
            public_key: public_key.to_owned(),
            private_key: private_key.to_owned(),
            bearer,
        }
    }

    /// The page with this run's config: where to get tokens and where to upload (the
    /// resumable endpoint only when the server accepts resumable uploads).
    fn page(&self, resumable: bool) -> String {
        let config = json!({
            "authEndpoint": "/demo/auth",
            "uploadEndpoint": "/api/v2/files/upload",
            "limitsEndpoint": crate::http::LIMITS_PATH,
            "resumableEndpoint": resumable.then_some(crate::resumable::PATH),
            "publicKey": self.public_key,
            "bearer": self.bearer,
            "expire": PAGE_TOKEN_EXPIRE_SECS,
        });
        INDEX_HTML.replace("{{CONFIG}}", &script_safe_json(&config.to_string()))
    }

    /// The bearer token `/demo/auth` wants (tests use it; the page gets it in its HTML).
    pub fn bearer(&self) -> &str {
        &self.bearer
    }

    /// The public key tokens are minted for.
    pub fn public_key(&self) -> &str {
        &self.public_key
    }

    fn is_authorized(&self, headers: &HeaderMap) -> bool {
        let Some((scheme, credentials)) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().split_once(' '))
        else {
            return false;
        };
        scheme.eq_ignore_ascii_case("bearer")
            && bool::from(credentials.trim().as_bytes().ct_eq(self.bearer.as_bytes()))
    }
}

/// What the demo handlers share.
#[derive(Clone)]
struct WebState {
    demo: Arc<Demo>,
    /// The page, rendered once with its config.
    page: Arc<str>,
    /// The page's Content-Security-Policy; it names the delivery origin, known once the
    /// server is bound.
    csp: HeaderValue,
}

/// The demo routes, merged into the API router; none without demo mode.
pub fn routes(state: &AppState) -> Router<AppState> {
    let Some(demo) = state.demo.clone() else {
        return Router::new();
    };
    let web = WebState {
        page: demo.page(state.config.resumable.enabled).into(),
        demo,
        csp: content_security_policy(&state.config.delivery_url()),
    };
    Router::new()
        .route("/demo", get(|| async { Redirect::permanent("/demo/") }))
        .route("/demo/", get(page))
        .route("/demo/app.js", get(app_js))
        .route("/demo/tus-client.js", get(tus_client_js))
        .route("/demo/style.css", get(style_css))
        .route("/demo/favicon.svg", get(favicon))
        .route(
            "/demo/auth",
            post(auth).layer(DefaultBodyLimit::max(MAX_AUTH_BODY_BYTES)),
        )
        .layer(middleware::from_fn(guard))
        .with_state(web)
}

/// Loopback hosts only; then the headers every demo response carries.
async fn guard(request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| request.uri().authority().map(|a| a.as_str()));
    let mut response = if host.is_some_and(is_loopback_host) {
        next.run(request).await
    } else {
        message(
            StatusCode::FORBIDDEN,
            "The demo answers only on a loopback address, e.g. http://127.0.0.1:8080/demo/.",
        )
    };
    harden_page(&mut response, "no-referrer");
    response
}

/// What every response of a page of ours (the demo, the console) carries: readable from its
/// own origin only (no CORS), never cached, framed or sniffed; `referrer` is its
/// `Referrer-Policy`.
pub(crate) fn harden_page(response: &mut Response, referrer: &'static str) {
    response.extensions_mut().insert(SameOriginOnly);
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static(referrer));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

/// `127.0.0.1`, any `127.x.y.z`, `[::1]` or `localhost`, with or without a port.
fn is_loopback_host(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        match rest.split_once(']') {
            Some((inside, _port)) => inside,
            None => return false,
        }
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
            Some(_) => return false,
            None => host,
        }
    };
    name.eq_ignore_ascii_case("localhost")
        || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

async fn page(State(web): State<WebState>) -> Response {
    let mut response = (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        web.page.to_string(),
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_SECURITY_POLICY, web.csp);
    response
}

/// A file of a page, embedded in the binary.
pub(crate) fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

async fn app_js() -> Response {
    asset("text/javascript; charset=utf-8", APP_JS)
}

/// `tus-client.js`, served beside each page that uses it.
pub(crate) async fn tus_client_js() -> Response {
    asset("text/javascript; charset=utf-8", TUS_CLIENT_JS)
}

async fn style_css() -> Response {
    asset("text/css; charset=utf-8", STYLE_CSS)
}

async fn favicon() -> Response {
    asset("image/svg+xml", FAVICON_SVG)
}

/// The same contract as `examples/backend`'s `POST /auth` (spec §10.1), guarded by the run's
/// bearer token instead of an app session.
async fn auth(State(web): State<WebState>, headers: HeaderMap, body: Bytes) -> Response {
    let demo = &web.demo;
    if !demo.is_authorized(&headers) {
        let mut response = message(
            StatusCode::UNAUTHORIZED,
            "This token endpoint needs the demo page's bearer token (Authorization: Bearer …).",
        );
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return response;
    }
    match TokenRequest::from_json(&body)
        .and_then(|request| request.sign(&demo.public_key, &demo.private_key))
    {
        Ok(token) => Json(json!({ "token": token })).into_response(),
        Err(TokenRequestError::Mint(e)) => {
            tracing::error!(error = %e, "demo token endpoint cannot mint");
            message(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The demo cannot mint tokens with its key pair.",
            )
        }
        Err(e) => message(StatusCode::BAD_REQUEST, &e.to_string()),
    }
}

fn message(status: StatusCode, text: &str) -> Response {
    (status, Json(json!({ "message": text }))).into_response()
}

/// JSON placed inside `<script type="application/json">`: `<`, `>` and `&` escaped, so no value
/// can close the element.
fn script_safe_json(json: &str) -> String {
    json.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

/// Scripts, styles and requests from the page's own origin only; images also from the delivery
/// origin (thumbnails).
fn content_security_policy(public_url: &str) -> HeaderValue {
    let mut img_src = String::from("'self'");
    if let Some(origin) = origin_of(public_url) {
        img_src.push(' ');
        img_src.push_str(&origin);
    }
    let policy = format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src {img_src}; \
         connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    );
    HeaderValue::from_str(&policy).unwrap_or_else(|_| {
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
             connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        )
    })
}

/// `scheme://host[:port]` of an http(s) URL, if it is made of characters that are safe in a
/// CSP source expression.
pub(crate) fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next()?;
    let safe = !authority.is_empty()
        && authority
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b));
    safe.then(|| format!("{scheme}://{authority}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for host in [
            "127.0.0.1",
            "127.0.0.1:8080",
            "127.1.2.3:80",
            "localhost",
            "LOCALHOST:3000",
            "[::1]",
            "[::1]:8080",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "example.com",
            "evil.example:8080",
            "localhost.evil.example",
            "10.0.0.1:8080",
            "0.0.0.0:8080",
            "[::]:8080",
            "[::1",
            "127.0.0.1:80x",
            "",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }

    #[test]
    fn config_json_cannot_close_the_script_element() {
        let demo = Demo::new("public_</script><b>", "private_k");
        let page = demo.page(true);
        assert!(!page.contains("</script><b>"));
        assert!(page.contains("public_\\u003c/script\\u003e\\u003cb\\u003e"));
        assert!(!page.contains("{{CONFIG}}"));
        assert!(page.contains(demo.bearer()));
        assert!(page.contains(r#""resumableEndpoint":"/api/v2/files/upload/resumable""#));
        assert!(demo.page(false).contains(r#""resumableEndpoint":null"#));
    }

    #[test]
    fn bearer_tokens_are_random_and_debug_hides_secrets() {
        let a = Demo::new("public_k", "private_secret");
        let b = Demo::new("public_k", "private_secret");
        assert_ne!(a.bearer(), b.bearer());
        assert_eq!(a.bearer().len(), 43);
        let shown = format!("{a:?}");
        assert!(!shown.contains("private_secret") && !shown.contains(a.bearer()));
    }

    #[test]
    fn csp_allows_thumbnails_from_the_delivery_origin() {
        let csp = content_security_policy("https://media.example.com/base");
        let text = csp.to_str().unwrap_or_default();
        assert!(
            text.contains("img-src 'self' https://media.example.com;"),
            "{text}"
        );
        assert_eq!(
            origin_of("http://127.0.0.1:8080"),
            Some("http://127.0.0.1:8080".into())
        );
        assert_eq!(origin_of("http://a b/"), None);
        assert_eq!(origin_of("javascript:alert(1)"), None);
        assert_eq!(origin_of("http://x;script-src *"), None);
    }
}
