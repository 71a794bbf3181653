//! Percent-encoding of a `filePath` for `url` / `thumbnailUrl` (spec §4.6).

/// Percent-encodes a `filePath` for use in a URL path: every byte of the UTF-8 text outside
/// RFC 3986 "unreserved" (`A-Z a-z 0-9 - . _ ~`) becomes `%XX`, except `/`, which stays as the
/// segment separator. Hex digits are upper case (RFC 3986 §2.1), and the output is the exact form
/// that signed delivery URLs are computed over, so it must not vary.
///
/// ASCII names made by this crate come out unchanged; `%` itself is encoded, so the result
/// always decodes back to the input.
///
/// ```
/// use folio_contract::url_path_encode;
/// assert_eq!(url_path_encode("/images/test-image.jpg"), "/images/test-image.jpg");
/// assert_eq!(url_path_encode("/café/ü.png"), "/caf%C3%A9/%C3%BC.png");
/// ```
pub fn url_path_encode(file_path: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(file_path.len());
    for byte in file_path.bytes() {
        if byte == b'/' || byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~')
        {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreserved_and_slash_unchanged() {
        let s = "/AZaz09-._~/x/";
        assert_eq!(url_path_encode(s), s);
        assert_eq!(url_path_encode("/test-image.jpg"), "/test-image.jpg");
        assert_eq!(
            url_path_encode("/products/summer/dress_Kp3x9QzLm.jpg"),
            "/products/summer/dress_Kp3x9QzLm.jpg"
        );
    }

    #[test]
    fn reserved_and_other_bytes_encoded() {
        assert_eq!(url_path_encode("/a b"), "/a%20b");
        assert_eq!(url_path_encode("/100%"), "/100%25");
        assert_eq!(
            url_path_encode("/?#[]@!$&'()*+,;=:"),
            "/%3F%23%5B%5D%40%21%24%26%27%28%29%2A%2B%2C%3B%3D%3A"
        );
        assert_eq!(url_path_encode("/日本.jpg"), "/%E6%97%A5%E6%9C%AC.jpg");
        assert_eq!(url_path_encode("/😀"), "/%F0%9F%98%80");
        assert_eq!(url_path_encode("/\u{7f}\u{0}"), "/%7F%00");
    }
}
