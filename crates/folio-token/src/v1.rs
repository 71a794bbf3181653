//! V1 client-side authentication (spec §2.2, §10.2): `token` nonce + `expire` + HMAC-SHA1
//! `signature`.

use hmac::{Hmac, Mac};
use serde::Serialize;
use sha1::Sha1;
use subtle::ConstantTimeEq;

use crate::unix_now;

/// How far in the future a V1 `expire` may be: `now < expire <= now + 3600`.
pub const MAX_V1_EXPIRE_WINDOW_SECS: i64 = 3600;

/// Lifetime used by [`authentication_parameters`] when no `expire` is given.
pub const DEFAULT_V1_EXPIRE_SECS: i64 = 1800;

fn v1_tag(private_key: &str, token: &str, expire: &str) -> [u8; 20] {
    // HMAC accepts keys of every length, so `new_from_slice` has no failing input.
    let mut mac = Hmac::<Sha1>::new_from_slice(private_key.as_bytes())
        .expect("HMAC-SHA1 accepts keys of any length");
    mac.update(token.as_bytes());
    mac.update(expire.as_bytes());
    mac.finalize().into_bytes().into()
}

fn lower_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// The V1 `signature`: lowercase hex of `HMAC-SHA1(private_key, token ‖ expire)`.
///
/// `expire` is the field's text **exactly as sent**; the server must not re-format it (a
/// leading zero, for instance, changes the signature).
///
/// ```
/// let sig = folio_token::v1_signature(
///     "private_test_key",
///     "9e9f1f5c-7a8e-4a55-9c1e-3c1f0b7d2a11",
///     "1735689600",
/// );
/// assert_eq!(sig, "def15d9146f0402e37c5b08d9f5e89c755e5acb2");
/// ```
pub fn v1_signature(private_key: &str, token: &str, expire: &str) -> String {
    lower_hex(&v1_tag(private_key, token, expire))
}

/// Checks a V1 `signature` field (step S6) in constant time.
///
/// Case-sensitive: only lowercase hex is accepted, as the contract requires. Check `expire`
/// with [`parse_v1_expire`] first (step S5).
///
/// ```
/// use folio_token::verify_v1_signature;
///
/// let (key, token, expire) = ("private_test_key", "9e9f1f5c-7a8e-4a55-9c1e-3c1f0b7d2a11", "1735689600");
/// assert!(verify_v1_signature(key, token, expire, "def15d9146f0402e37c5b08d9f5e89c755e5acb2"));
/// assert!(!verify_v1_signature(key, token, expire, "DEF15D9146F0402E37C5B08D9F5E89C755E5ACB2"));
/// ```
pub fn verify_v1_signature(private_key: &str, token: &str, expire: &str, signature: &str) -> bool {
    let expected = v1_signature(private_key, token, expire);
    // Length is public (always 40); `ct_eq` on slices of different length is simply false.
    expected.as_bytes().ct_eq(signature.as_bytes()).into()
}

/// Why a V1 `expire` field was rejected (step S5). The server answers every case with the same
/// `invalid expire parameter` message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExpireError {
    /// Not a non-empty run of ASCII digits that fits in an `i64`.
    #[error("expire is not a decimal integer")]
    NotAnInteger,
    /// Digits with a leading zero. Refused because the signature covers `token ‖ expire`: a
    /// trailing `0` of the token moved to the front of `expire` would keep the signature valid
    /// and name a different token.
    #[error("expire has a leading zero")]
    NotCanonical,
    /// `expire <= now`.
    #[error("expire is not in the future")]
    Expired,
    /// `expire > now + 3600` (millisecond timestamps land here).
    #[error("expire is more than 3600 s in the future")]
    TooFarInFuture,
}

/// Parses and checks a V1 `expire` field (step S5): valid iff it is a canonical decimal integer
/// (ASCII digits only, no sign, spaces or leading zero) and `now < expire <= now + 3600`. Returns the value, which is
/// also how long the server must keep the token in its ledger.
///
/// # Errors
///
/// [`ExpireError`] describing which rule failed.
///
/// ```
/// use folio_token::{parse_v1_expire, ExpireError};
///
/// let now = 1_735_689_000;
/// assert_eq!(parse_v1_expire("1735689600", now), Ok(1_735_689_600));
/// assert_eq!(parse_v1_expire("1735689600000", now), Err(ExpireError::TooFarInFuture));
/// assert_eq!(parse_v1_expire("1735689000", now), Err(ExpireError::Expired));
/// assert_eq!(parse_v1_expire(" 1735689600", now), Err(ExpireError::NotAnInteger));
/// assert_eq!(parse_v1_expire("01735689600", now), Err(ExpireError::NotCanonical));
/// ```
pub fn parse_v1_expire(expire: &str, now: i64) -> Result<i64, ExpireError> {
    // `i64::from_str` alone would also take a leading `+` or `-`.
    if expire.is_empty() || !expire.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ExpireError::NotAnInteger);
    }
    let value: i64 = expire.parse().map_err(|_| ExpireError::NotAnInteger)?;
    if expire.starts_with('0') {
        return Err(ExpireError::NotCanonical);
    }
    if value <= now {
        return Err(ExpireError::Expired);
    }
    if value > now.saturating_add(MAX_V1_EXPIRE_WINDOW_SECS) {
        return Err(ExpireError::TooFarInFuture);
    }
    Ok(value)
}

/// The single-use ledger key of a V1 request: SHA-256 of the signed material, `token ‖ expire`,
/// exactly as sent.
///
/// The HMAC cannot tell where `token` ends and `expire` begins, so every split of the same
/// signed text is one credential and must burn one entry. (A server should also burn
/// [`crate::ledger_key`] of the token alone: the nonce itself is single-use too.)
///
/// ```
/// use folio_token::v1_ledger_key;
///
/// assert_eq!(v1_ledger_key("abc0", "1735689600"), v1_ledger_key("abc", "01735689600"));
/// assert_ne!(v1_ledger_key("abc", "1735689600"), v1_ledger_key("abc", "1735689601"));
/// ```
pub fn v1_ledger_key(token: &str, expire: &str) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    hash.update(token.as_bytes());
    hash.update(expire.as_bytes());
    hash.finalize().into()
}

/// What a V1 backend endpoint returns to the browser SDK: serialises to
/// `{"token":"…","expire":1735689600,"signature":"…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuthenticationParameters {
    /// The single-use nonce.
    pub token: String,
    /// Expiry, Unix seconds.
    pub expire: i64,
    /// [`v1_signature`] of `token` and the decimal text of `expire`.
    pub signature: String,
}

/// Builds V1 authentication parameters, like the SDKs' `getAuthenticationParameters`.
///
/// `token` defaults to a random UUID v4 string (also when given empty, which the server would
/// refuse); `expire` defaults to now + 1800 s ([`DEFAULT_V1_EXPIRE_SECS`]). A given `expire` is
/// used as is; the server accepts it only if it lies within the next 3600 s.
///
/// ```
/// use folio_token::{authentication_parameters, verify_v1_signature};
///
/// let params = authentication_parameters("private_test_key", None, None);
/// let body = serde_json::to_string(&params).unwrap(); // {"token":"…","expire":…,"signature":"…"}
/// assert!(body.starts_with(r#"{"token":""#));
/// assert!(verify_v1_signature(
///     "private_test_key",
///     &params.token,
///     &params.expire.to_string(),
///     &params.signature,
/// ));
///
/// let fixed = authentication_parameters(
///     "private_test_key",
///     Some("9e9f1f5c-7a8e-4a55-9c1e-3c1f0b7d2a11"),
///     Some(1_735_689_600),
/// );
/// assert_eq!(fixed.signature, "def15d9146f0402e37c5b08d9f5e89c755e5acb2");
/// ```
pub fn authentication_parameters(
    private_key: &str,
    token: Option<&str>,
    expire: Option<i64>,
) -> AuthenticationParameters {
    let token = match token {
        Some(t) if !t.is_empty() => t.to_owned(),
        _ => random_uuid_v4(),
    };
    let expire = expire.unwrap_or_else(|| unix_now().saturating_add(DEFAULT_V1_EXPIRE_SECS));
    let signature = v1_signature(private_key, &token, &expire.to_string());
    AuthenticationParameters {
        token,
        expire,
        signature,
    }
}

/// RFC 9562 version 4 layout, lowercase `8-4-4-4-12`, so it looks exactly like the SDKs' nonces.
fn random_uuid_v4() -> String {
    let mut bytes = rand::random::<[u8; 16]>();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = lower_hex(&bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_has_v4_shape() {
        for _ in 0..64 {
            let u = random_uuid_v4();
            let groups: Vec<&str> = u.split('-').collect();
            assert_eq!(
                groups.iter().map(|g| g.len()).collect::<Vec<_>>(),
                [8, 4, 4, 4, 12]
            );
            assert!(u
                .bytes()
                .all(|b| b == b'-' || b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
            assert!(groups[2].starts_with('4'));
            assert!(matches!(groups[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b'));
        }
        assert_ne!(random_uuid_v4(), random_uuid_v4());
    }

    #[test]
    fn lower_hex_covers_all_nibbles() {
        assert_eq!(lower_hex(&[0x00, 0x9f, 0xa0, 0xff]), "009fa0ff");
    }
}
