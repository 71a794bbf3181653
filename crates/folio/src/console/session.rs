//! The rules of a console sign-in, apart from HTTP: secrets and their hashes, the cookie, the
//! CSRF check. Pure, so that they are tested without a server.

use base64::Engine as _;
use http::HeaderMap;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The cookie that carries a session's secret.
pub const COOKIE: &str = "folio_console";
/// The header that carries the session's CSRF token on every console API call.
pub const CSRF_HEADER: &str = "x-folio-csrf";

/// A fresh random secret (a session's, a link's, a CSRF token): 32 bytes, base64url.
pub fn new_secret() -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

/// What the catalog keeps of a secret: its SHA-256, so that a copy of the database signs
/// nobody in.
pub fn hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim())
        .filter(|value| !value.is_empty())
}

/// Whether the request carries the session's CSRF token (compared in constant time).
pub fn csrf_matches(headers: &HeaderMap, expected: &str) -> bool {
    headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|sent| bool::from(sent.as_bytes().ct_eq(expected.as_bytes())))
}

/// The `Set-Cookie` value of a session that lasts `max_age` seconds (0: ends it), for a console
/// whose pages are under `path`. `Secure` when the public URL is https; never readable by
/// script, never sent by another site's request.
pub fn set_cookie(value: &str, path: &str, max_age: u64, secure: bool) -> String {
    let mut cookie =
        format!("{COOKIE}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Strict");
    if secure {
        cookie.push_str("; Secure");
    }
    cookie
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.append(
            http::header::COOKIE,
            "a=1; folio_console=abc ; b=2".parse().expect("v"),
        );
        assert_eq!(cookie(&headers, COOKIE), Some("abc"));
        assert_eq!(cookie(&headers, "folio"), None);
        headers.insert(http::header::COOKIE, "folio_console=".parse().expect("v"));
        assert_eq!(cookie(&headers, COOKIE), None);
    }

    #[test]
    fn csrf_must_be_sent_and_equal() {
        let mut headers = HeaderMap::new();
        assert!(!csrf_matches(&headers, "t0k"));
        headers.insert(CSRF_HEADER, "t0k".parse().expect("v"));
        assert!(csrf_matches(&headers, "t0k"));
        assert!(!csrf_matches(&headers, "t0K"));
        assert!(!csrf_matches(&headers, "t0k0"));
    }

    #[test]
    fn a_session_cookie_is_http_only_strict_and_secure_over_https() {
        assert_eq!(
            set_cookie("s", "/console/", 60, true),
            "folio_console=s; Path=/console/; Max-Age=60; HttpOnly; SameSite=Strict; Secure"
        );
        assert!(!set_cookie("s", "/console/", 60, false).contains("Secure"));
        let secret = new_secret();
        assert_eq!(secret.len(), 43);
        assert_ne!(secret, new_secret());
        assert_eq!(hash(&secret).len(), 32);
    }
}
