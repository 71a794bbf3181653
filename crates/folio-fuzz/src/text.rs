//! Turning fuzzer bytes into the text a request field would carry.

use std::borrow::Cow;

/// The bytes as text, invalid UTF-8 replaced: form fields reach the parsers as `str`, and
/// replacing (rather than skipping) keeps every input useful.
pub(crate) fn lossy(data: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(data)
}

/// The input split into `\n`-separated fields.
pub(crate) fn lines(data: &[u8]) -> Vec<String> {
    lossy(data).split('\n').map(str::to_owned).collect()
}

/// Independent statement of the character classes of spec §3.4/§3.5: Unicode letters, marks
/// and numerals (general categories `L*`, `M*`, `N*`), read off the category table directly
/// rather than through folio-contract's helper.
pub(crate) fn is_letter_mark_or_number(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphanumeric();
    }
    let category = unicode_general_category::get_general_category(c).abbreviation();
    category.starts_with('L') || category.starts_with('M') || category.starts_with('N')
}

/// Whether `encoded` is a URL path that names exactly `decoded`: only unreserved characters,
/// `/` and `%XX` escapes with upper-case hex (so one path has one spelling), decoding back to
/// `decoded` byte for byte.
pub(crate) fn is_url_path_encoding_of(encoded: &str, decoded: &str) -> bool {
    let bytes = encoded.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let byte = bytes[i];
        if byte == b'%' {
            let hex = |b: u8| match b {
                b'0'..=b'9' => Some(b - b'0'),
                b'A'..=b'F' => Some(b - b'A' + 10),
                _ => None,
            };
            let (Some(hi), Some(lo)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            ) else {
                return false;
            };
            let escaped = hi << 4 | lo;
            if is_plain(escaped) {
                return false;
            }
            out.push(escaped);
            i += 3;
        } else if is_plain(byte) {
            out.push(byte);
            i += 1;
        } else {
            return false;
        }
    }
    out == decoded.as_bytes()
}

/// RFC 3986 unreserved, and `/` as the segment separator.
fn is_plain(byte: u8) -> bool {
    byte == b'/' || byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~')
}
