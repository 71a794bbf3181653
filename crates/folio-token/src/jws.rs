//! Compact JWS primitives shared by minting and verification.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

pub(crate) type HmacSha256 = Hmac<Sha256>;

pub(crate) fn hmac_sha256(private_key: &str) -> HmacSha256 {
    // RFC 2104 defines HMAC for keys of every length (long keys are hashed first), and the
    // `hmac` crate implements exactly that, so `new_from_slice` has no failing input.
    HmacSha256::new_from_slice(private_key.as_bytes())
        .expect("HMAC-SHA256 accepts keys of any length")
}

pub(crate) fn b64_encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Strict base64url: no padding, no `+`/`/`, no whitespace, and non-zero trailing bits are
/// rejected. The last point matters for replay protection: the single-use ledger is keyed by the
/// token text, so two spellings of one signature must not both verify.
pub(crate) fn b64_decode(segment: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(segment).ok()
}

/// Signs a header and a payload given as JSON text and returns the compact JWS
/// `base64url(header) "." base64url(payload) "." base64url(HMAC-SHA256)`.
///
/// This is the low-level primitive under [`UploadToken::sign`](crate::UploadToken::sign). It
/// signs the bytes it is given **without checking them**: it does not parse the JSON, add `iat`,
/// `exp` or `jti`, or enforce the one-hour lifetime. Use it to reproduce test vectors or to build
/// deliberately broken tokens in tests (e.g. `exp - iat = 3601`); use
/// [`UploadToken`](crate::UploadToken) to mint real tokens.
///
/// # Example
///
/// ```
/// use folio_token::{decode, sign_claims, InvalidReason, TokenError};
///
/// let token = sign_claims(
///     r#"{"alg":"HS256","typ":"JWT","kid":"public_test_key"}"#,
///     r#"{"fileName":"a.jpg","iat":1735689600,"exp":1735693201}"#,
///     "private_test_key",
/// );
/// let err = decode(&token)?
///     .verify("private_test_key", 1735689700, 60)
///     .unwrap_err();
/// assert_eq!(err, TokenError::Invalid(InvalidReason::Lifetime));
/// # Ok::<(), TokenError>(())
/// ```
pub fn sign_claims(header_json: &str, payload_json: &str, private_key: &str) -> String {
    let mut token = format!(
        "{}.{}",
        b64_encode(header_json.as_bytes()),
        b64_encode(payload_json.as_bytes())
    );
    let mut mac = hmac_sha256(private_key);
    mac.update(token.as_bytes());
    let tag = mac.finalize().into_bytes();
    token.push('.');
    token.push_str(&b64_encode(&tag));
    token
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_rejects_padding_standard_alphabet_and_whitespace() {
        assert_eq!(b64_decode("YQ"), Some(b"a".to_vec()));
        assert_eq!(b64_decode("YQ=="), None);
        assert_eq!(b64_decode("-_8"), Some(vec![0xfb, 0xff]));
        assert_eq!(b64_decode("+/8"), None);
        assert_eq!(b64_decode("Y Q"), None);
    }

    #[test]
    fn decode_rejects_non_canonical_trailing_bits() {
        // "YQ" encodes 0x61 with four zero trailing bits; "YR" sets one of them.
        assert_eq!(b64_decode("YR"), None);
    }
}
