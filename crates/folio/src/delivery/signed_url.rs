//! Signed delivery URLs (media-api §4): the `ik-t` / `ik-s` query parameters the official SDKs
//! append (`helper.buildSrc({signed, expiresIn})`, `helper.build_url(signed=…, expires_in=…)`).
//!
//! Pure: no I/O, no clock. The delivery handler and `folio files url` both go through here, so
//! what Folio emits and what it accepts cannot drift apart.
//!
//! A URL is `url_endpoint + "/" + relative`, where `relative` is the rest exactly as emitted
//! (percent-encoded path, an optional `tr:` segment, an optional query). The SDKs sign
//! `relative + expiry digits` with HMAC-SHA1 under the account's private key, and append
//! `?ik-t=<expiry>&ik-s=<hex>` (`&` when a query exists); without an expiry they append only
//! `ik-s` and sign with [`NO_EXPIRY`].

use hmac::{Hmac, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;

/// Query parameter holding the signature.
pub const SIGNATURE_PARAM: &str = "ik-s";
/// Query parameter holding the expiry (Unix seconds).
pub const EXPIRY_PARAM: &str = "ik-t";
/// The expiry signed when none is asked for; such URLs carry no `ik-t`.
pub const NO_EXPIRY: u64 = 9_999_999_999;

/// Length of an `ik-s`: a SHA-1 in hex.
const SIGNATURE_LEN: usize = 40;

/// Why a signed request is refused (all of them answer 401).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignedUrlError {
    /// The signature parameters are not what a signer emits: `ik-t` without `ik-s`, a
    /// parameter given twice, an `ik-t` that is not canonical decimal, an `ik-s` that is not
    /// 40 lowercase hex digits.
    #[error("malformed signature parameters: {0}")]
    Malformed(&'static str),
    /// `ik-t` is in the past.
    #[error("the URL has expired")]
    Expired,
    /// No live key of the account signed this URL.
    #[error("the signature does not match")]
    Mismatch,
}

/// The string the signature covers: the relative URL, then the expiry digits, no separator.
pub fn string_to_sign(relative: &str, expiry: u64) -> String {
    format!("{relative}{expiry}")
}

/// The `ik-s` of a relative URL: lowercase hex HMAC-SHA1 of [`string_to_sign`].
pub fn sign(private_key: &str, relative: &str, expiry: u64) -> String {
    hex::encode(mac(private_key, relative, expiry).finalize().into_bytes())
}

fn mac(private_key: &str, relative: &str, expiry: u64) -> Hmac<Sha1> {
    // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(private_key.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(string_to_sign(relative, expiry).as_bytes());
    mac
}

/// The signed URL for `relative` under `url_endpoint` (no trailing slash), as the SDKs emit it:
/// `ik-t` only when an expiry is given, after `&` when `relative` has a query. (For an empty
/// query, `a.png?`, the SDKs would append `?ik-s=…`, which no verifier reads as `ik-s`; `&`
/// keeps every URL this emits verifiable.)
pub fn signed_url(
    private_key: &str,
    url_endpoint: &str,
    relative: &str,
    expiry: Option<u64>,
) -> String {
    let signature = sign(private_key, relative, expiry.unwrap_or(NO_EXPIRY));
    let separator = if relative.contains('?') { '&' } else { '?' };
    match expiry {
        Some(t) => format!(
            "{url_endpoint}/{relative}{separator}{EXPIRY_PARAM}={t}&{SIGNATURE_PARAM}={signature}"
        ),
        None => format!("{url_endpoint}/{relative}{separator}{SIGNATURE_PARAM}={signature}"),
    }
}

/// The signature parameters of a request and what they cover.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedTarget<'a> {
    /// The relative target without the `ik-t` / `ik-s` pairs: the text that was signed.
    pub signed: String,
    /// `ik-t`, or [`NO_EXPIRY`] without one.
    pub expiry: u64,
    /// `ik-s`.
    pub signature: &'a str,
}

/// Reads the signature parameters of a relative request target (`<path>[?<query>]`, raw, as
/// received, after the endpoint's `/`). `Ok(None)`: neither `ik-s` nor `ik-t`, an unsigned
/// request. The pairs are removed wherever they stand in the query; every other byte is kept
/// as it is, so that the text compared is the text the signer saw.
pub fn parse(relative: &str) -> Result<Option<SignedTarget<'_>>, SignedUrlError> {
    let Some((path, query)) = relative.split_once('?') else {
        return Ok(None);
    };
    let mut signature = None;
    let mut expiry = None;
    let mut kept: Vec<&str> = Vec::new();
    for pair in query.split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let slot = match name {
            SIGNATURE_PARAM => &mut signature,
            EXPIRY_PARAM => &mut expiry,
            _ => {
                kept.push(pair);
                continue;
            }
        };
        if slot.replace(value).is_some() {
            return Err(SignedUrlError::Malformed(
                "a signature parameter given twice",
            ));
        }
    }
    let signature = match (signature, expiry) {
        (None, None) => return Ok(None),
        (None, Some(_)) => return Err(SignedUrlError::Malformed("ik-t without ik-s")),
        (Some(s), _) => s,
    };
    if signature.len() != SIGNATURE_LEN
        || !signature
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(SignedUrlError::Malformed(
            "ik-s is not 40 lowercase hex digits",
        ));
    }
    let expiry = match expiry {
        None => NO_EXPIRY,
        Some(t) => parse_expiry(t)?,
    };
    let mut signed = path.to_owned();
    if !kept.is_empty() {
        signed.push('?');
        signed.push_str(&kept.join("&"));
    }
    Ok(Some(SignedTarget {
        signed,
        expiry,
        signature,
    }))
}

/// `ik-t` in canonical decimal (digits, no leading zero), at most [`NO_EXPIRY`]: one expiry has
/// one spelling, as in the string that was signed.
fn parse_expiry(text: &str) -> Result<u64, SignedUrlError> {
    let canonical = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    let value = canonical
        .then(|| text.parse::<u64>().ok())
        .flatten()
        .filter(|t| *t <= NO_EXPIRY);
    value.ok_or(SignedUrlError::Malformed(
        "ik-t is not a canonical Unix time",
    ))
}

impl SignedTarget<'_> {
    /// Checks the expiry against `now` (Unix seconds): a URL is good through its `ik-t` second.
    pub fn check_expiry(&self, now: i64) -> Result<(), SignedUrlError> {
        if i64::try_from(self.expiry).is_ok_and(|t| t >= now) {
            Ok(())
        } else {
            Err(SignedUrlError::Expired)
        }
    }

    /// Seconds left before the URL expires (0 once expired).
    pub fn remaining_secs(&self, now: i64) -> u64 {
        u64::try_from(now).map_or(self.expiry, |now| self.expiry.saturating_sub(now))
    }

    /// Whether one of `private_keys` signed this target; each comparison is in constant time.
    pub fn signed_by_any<'k>(&self, private_keys: impl IntoIterator<Item = &'k str>) -> bool {
        private_keys.into_iter().any(|key| {
            let expected = sign(key, &self.signed, self.expiry);
            bool::from(expected.as_bytes().ct_eq(self.signature.as_bytes()))
        })
    }

    /// [`Self::check_expiry`], then [`Self::signed_by_any`].
    pub fn verify<'k>(
        &self,
        now: i64,
        private_keys: impl IntoIterator<Item = &'k str>,
    ) -> Result<(), SignedUrlError> {
        self.check_expiry(now)?;
        if self.signed_by_any(private_keys) {
            Ok(())
        } else {
            Err(SignedUrlError::Mismatch)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "dummy-key";
    const ENDPOINT: &str = "https://ik.imagekit.io/demo";

    /// The SDKs' test vectors (media-api §4): relative URL and `ik-s` for `dummy-key`, no expiry.
    const VECTORS: [(&str, &str); 5] = [
        (
            "sdk-testing-files/future-search.png",
            "32dbbbfc5f945c0403c71b54c38e76896ef2d6b0",
        ),
        (
            "sdk-testing-files/%E0%A4%B9%E0%A4%BF%E0%A4%A8%E0%A5%8D%E0%A4%A6%E0%A5%80.png",
            "3fff2f31da1f45e007adcdbe95f88c8c330e743c",
        ),
        (
            "sdk-testing-files/future-search.png?version=1.0&cache=false",
            "f2e5a1b8b6a0b03fd63789dfc6413a94acef9fd8",
        ),
        (
            "sdk-testing-files/future-search.png?version=2.0&tr=w-300,h-200",
            "601d97a7834b7554f4dabf0d3fc3a219ceeb6b31",
        ),
        (
            "tr:w-300,h-200/sdk-testing-files/future-search.png?version=2.0",
            "dd1ee8f83d019bc59fd57a5fc4674a11eb8a3496",
        ),
    ];

    fn relative_of(url: &str) -> &str {
        url.strip_prefix(&format!("{ENDPOINT}/"))
            .expect("under the endpoint")
    }

    #[test]
    fn sdk_vector_plain_path() {
        let (relative, expected) = VECTORS[0];
        assert_eq!(
            string_to_sign(relative, NO_EXPIRY),
            "sdk-testing-files/future-search.png9999999999"
        );
        assert_eq!(sign(KEY, relative, NO_EXPIRY), expected);
    }

    #[test]
    fn sdk_vector_non_ascii_path() {
        let (relative, expected) = VECTORS[1];
        assert_eq!(sign(KEY, relative, NO_EXPIRY), expected);
    }

    #[test]
    fn sdk_vector_query_parameters() {
        let (relative, expected) = VECTORS[2];
        assert_eq!(sign(KEY, relative, NO_EXPIRY), expected);
    }

    #[test]
    fn sdk_vector_transformation_in_the_query() {
        let (relative, expected) = VECTORS[3];
        assert_eq!(sign(KEY, relative, NO_EXPIRY), expected);
    }

    #[test]
    fn sdk_vector_transformation_in_the_path() {
        let (relative, expected) = VECTORS[4];
        assert_eq!(sign(KEY, relative, NO_EXPIRY), expected);
    }

    #[test]
    fn every_vector_round_trips_through_the_emitted_url() {
        for (relative, expected) in VECTORS {
            let url = signed_url(KEY, ENDPOINT, relative, None);
            assert!(
                url.ends_with(&format!("ik-s={expected}")),
                "{url} does not end with the vector's signature"
            );
            assert!(!url.contains("ik-t="), "{url}");
            let target = parse(relative_of(&url)).expect("parse").expect("signed");
            assert_eq!(target.signed, relative);
            assert_eq!(target.expiry, NO_EXPIRY);
            assert_eq!(target.verify(1_700_000_000, [KEY]), Ok(()));
            assert_eq!(
                target.verify(1_700_000_000, ["other-key"]),
                Err(SignedUrlError::Mismatch)
            );
        }
    }

    #[test]
    fn the_separator_follows_the_query() {
        assert_eq!(
            signed_url(KEY, ENDPOINT, "a.png", Some(1_800_000_000)),
            format!(
                "{ENDPOINT}/a.png?ik-t=1800000000&ik-s={}",
                sign(KEY, "a.png", 1_800_000_000)
            )
        );
        assert_eq!(
            signed_url(KEY, ENDPOINT, "a.png?tr=w-10", Some(1_800_000_000)),
            format!(
                "{ENDPOINT}/a.png?tr=w-10&ik-t=1800000000&ik-s={}",
                sign(KEY, "a.png?tr=w-10", 1_800_000_000)
            )
        );
        // An empty query keeps its `?`, and the URL still reads back as what was signed.
        let url = signed_url(KEY, ENDPOINT, "a.png?", None);
        assert!(url.contains("/a.png?&ik-s="), "{url}");
        let target = parse(relative_of(&url)).expect("parse").expect("signed");
        assert_eq!(target.signed, "a.png?");
        assert_eq!(target.verify(0, [KEY]), Ok(()));
    }

    #[test]
    fn an_expiry_is_signed_and_checked() {
        let url = signed_url(KEY, ENDPOINT, "x/y.jpg", Some(1_000));
        let target = parse(relative_of(&url)).expect("parse").expect("signed");
        assert_eq!(target.expiry, 1_000);
        assert_eq!(target.signed, "x/y.jpg");
        assert_eq!(target.verify(999, [KEY]), Ok(()));
        assert_eq!(target.verify(1_000, [KEY]), Ok(()));
        assert_eq!(target.remaining_secs(990), 10);
        assert_eq!(target.remaining_secs(2_000), 0);
        assert_eq!(target.verify(1_001, [KEY]), Err(SignedUrlError::Expired));
        // A later expiry with the old signature is another string: no match.
        let moved = relative_of(&url).replace("ik-t=1000", "ik-t=5000");
        let target = parse(&moved).expect("parse").expect("signed");
        assert_eq!(target.verify(999, [KEY]), Err(SignedUrlError::Mismatch));
        // Dropping `ik-t` means the default expiry, which was not signed either.
        let dropped = relative_of(&url).replace("ik-t=1000&", "");
        let target = parse(&dropped).expect("parse").expect("signed");
        assert_eq!(target.verify(999, [KEY]), Err(SignedUrlError::Mismatch));
    }

    #[test]
    fn any_of_several_keys_may_have_signed() {
        let url = signed_url("second", ENDPOINT, "a.jpg", None);
        let target = parse(relative_of(&url)).expect("parse").expect("signed");
        assert_eq!(target.verify(0, ["first", "second"]), Ok(()));
        assert_eq!(target.verify(0, ["first"]), Err(SignedUrlError::Mismatch));
        assert_eq!(
            target.verify(0, std::iter::empty()),
            Err(SignedUrlError::Mismatch)
        );
    }

    #[test]
    fn the_pairs_are_removed_wherever_they_stand_and_nothing_else_changes() {
        let sig = "0123456789abcdef0123456789abcdef01234567";
        let cases = [
            (format!("a%20b.png?ik-s={sig}"), "a%20b.png"),
            (format!("a.png?x=1&ik-s={sig}&y=%2C"), "a.png?x=1&y=%2C"),
            (format!("a.png?ik-t=5&x=1&&ik-s={sig}"), "a.png?x=1&"),
            (
                format!("tr:w-1/a.png?tr=h-2&ik-s={sig}"),
                "tr:w-1/a.png?tr=h-2",
            ),
        ];
        for (relative, signed) in &cases {
            let target = parse(relative).expect("parse").expect("signed");
            assert_eq!(target.signed, *signed, "{relative}");
            assert_eq!(target.signature, sig);
        }
    }

    #[test]
    fn unsigned_targets_are_none() {
        for relative in [
            "a.png",
            "a.png?",
            "a.png?tr=w-10",
            "a.png?ik-s",
            "a.png?ik-sx=1",
            "a.png?IK-S=abc",
        ] {
            let parsed = parse(relative);
            if relative == "a.png?ik-s" {
                // `ik-s` with no value is present, and malformed.
                assert!(
                    matches!(parsed, Err(SignedUrlError::Malformed(_))),
                    "{relative}"
                );
            } else {
                assert_eq!(parsed, Ok(None), "{relative}");
            }
        }
    }

    #[test]
    fn malformed_parameters_are_refused() {
        let sig = sign(KEY, "a.png", NO_EXPIRY);
        let upper = sig.to_uppercase();
        let cases = [
            "a.png?ik-t=1800000000".to_owned(),
            format!("a.png?ik-s={sig}&ik-s={sig}"),
            format!("a.png?ik-t=1&ik-t=1&ik-s={sig}"),
            format!("a.png?ik-s={}", &sig[..39]),
            format!("a.png?ik-s={sig}0"),
            format!("a.png?ik-s={upper}"),
            format!("a.png?ik-t=&ik-s={sig}"),
            format!("a.png?ik-t=01800000000&ik-s={sig}"),
            format!("a.png?ik-t=%2B1800000000&ik-s={sig}"),
            format!("a.png?ik-t=-1&ik-s={sig}"),
            format!("a.png?ik-t=1e9&ik-s={sig}"),
            format!("a.png?ik-t=10000000000&ik-s={sig}"),
            format!("a.png?ik-t=99999999999999999999999&ik-s={sig}"),
        ];
        for relative in &cases {
            assert!(
                matches!(parse(relative), Err(SignedUrlError::Malformed(_))),
                "{relative}: {:?}",
                parse(relative)
            );
        }
        // The largest expiry is the default one, spelled out.
        let explicit = format!("a.png?ik-t=9999999999&ik-s={sig}");
        let target = parse(&explicit).expect("parse").expect("signed");
        assert_eq!(target.verify(0, [KEY]), Ok(()));
    }

    #[test]
    fn a_changed_transformation_or_path_does_not_verify() {
        let url = signed_url(KEY, ENDPOINT, "tr:w-100/a.png", None);
        let relative = relative_of(&url);
        for tampered in [
            relative.replace("w-100", "w-4000"),
            relative.replace("a.png", "b.png"),
            relative.replace("tr:w-100/", ""),
            relative.replace("?ik-s", "?tr=w-4000&ik-s"),
        ] {
            let target = parse(&tampered).expect("parse").expect("signed");
            assert_eq!(
                target.verify(0, [KEY]),
                Err(SignedUrlError::Mismatch),
                "{tampered}"
            );
        }
    }
}
