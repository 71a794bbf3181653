//! The headers that keep served user content inert (issue 12, finding 3).
//!
//! Uploaded files are served with their sniffed type, so an SVG named `x.png` is still
//! `image/svg+xml` (right: the bytes decide). What must never happen is that such a file runs
//! script as a top-level document in the delivery origin. Two headers see to it:
//!
//! * every delivery response carries `X-Content-Type-Options: nosniff`, so a browser never
//!   upgrades a type we chose (e.g. `text/plain`, `application/octet-stream`) to HTML;
//! * a type that can run script when opened as a document gets a CSP sandbox: an opaque
//!   origin, no script, no plugins, no forms; inline styles and `data:` images stay allowed
//!   so that an SVG still looks right.
//!
//! Images, video, audio and PDF get no CSP: they run no script in the page (a PDF viewer's
//! script is the viewer's own), and Chromium refuses to show a PDF under `sandbox`.

use axum::http::{HeaderMap, HeaderValue};

/// The policy of script-capable content.
pub const SANDBOX_POLICY: &str =
    "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:";

/// Whether a document of this type can run script when a browser opens it at the top level
/// (or in a frame): HTML, XHTML, SVG and every other XML (XSLT and XHTML namespaces run in
/// any XML document), XSL, multipart streams (whose parts Firefox renders as documents), and
/// Flash. A type we cannot parse counts as capable.
pub fn script_capable(mime: &str) -> bool {
    let essence = mime
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let Some((top, sub)) = essence.split_once('/') else {
        return true;
    };
    if top.is_empty() || sub.is_empty() {
        return true;
    }
    top == "multipart"
        || sub.contains("html")
        || sub == "xml"
        || sub.ends_with("+xml")
        || sub.starts_with("xml-")
        || sub == "xsl"
        || matches!(
            essence.as_str(),
            "application/x-shockwave-flash"
                | "application/vnd.adobe.flash.movie"
                | "application/futuresplash"
                | "text/vnd.wap.wml"
        )
}

/// `nosniff`, on every delivery response.
pub fn set_nosniff(headers: &mut HeaderMap) {
    headers.insert(
        http::header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
}

/// The CSP sandbox for content of type `mime`, when it is script-capable.
pub fn set_content_policy(headers: &mut HeaderMap, mime: &str) {
    if script_capable(mime) {
        headers.insert(
            http::header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(SANDBOX_POLICY),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_capable_types() {
        for mime in [
            "text/html",
            "text/html; charset=utf-8",
            "TEXT/HTML",
            "application/xhtml+xml",
            "image/svg+xml",
            "text/xml",
            "application/xml",
            "application/rss+xml",
            "application/atom+xml",
            "application/xslt+xml",
            "application/mathml+xml",
            "application/xml-dtd",
            "text/xsl",
            "multipart/x-mixed-replace",
            "application/x-shockwave-flash",
            "application/vnd.adobe.flash.movie",
            "text/vnd.wap.wml",
            "",
            "garbage",
            "/",
            "text/",
        ] {
            assert!(script_capable(mime), "{mime:?} must be sandboxed");
        }
    }

    #[test]
    fn inert_types() {
        for mime in [
            "image/jpeg",
            "image/png",
            "image/gif",
            "image/webp",
            "image/avif",
            "image/x-icon",
            "video/mp4",
            "audio/mpeg",
            "application/pdf",
            "application/octet-stream",
            "application/json",
            "application/javascript",
            "text/plain",
            "text/css",
            "text/csv",
            "font/woff2",
            "application/zip",
        ] {
            assert!(!script_capable(mime), "{mime:?} must not be sandboxed");
        }
    }

    #[test]
    fn the_policy_forbids_script_and_keeps_svg_drawable() {
        assert!(SANDBOX_POLICY.starts_with("sandbox;"));
        assert!(SANDBOX_POLICY.contains("default-src 'none'"));
        assert!(!SANDBOX_POLICY.contains("script-src"));
        assert!(!SANDBOX_POLICY.contains("allow-scripts"));
        let mut headers = HeaderMap::new();
        set_content_policy(&mut headers, "image/png");
        assert!(headers.is_empty());
        set_content_policy(&mut headers, "image/svg+xml");
        assert_eq!(
            headers[http::header::CONTENT_SECURITY_POLICY],
            SANDBOX_POLICY
        );
    }
}
