//! Signed delivery URLs (media-api §4): the `ik-t` / `ik-s` reading of a raw request target
//! (`folio::delivery::signed_url`), as the delivery handler runs it.

use folio::delivery::signed_url::{
    parse, sign, signed_url as emit, SignedUrlError, NO_EXPIRY, SIGNATURE_PARAM,
};

use crate::text::lines;
use crate::{NOW, PRIVATE_KEY};

const ENDPOINT: &str = "https://media.example/default";

/// Line 1: a relative request target as received (what follows `/<url id>/`: path, `?`,
/// query); line 2, optional: the clock (else [`NOW`]).
///
/// The reading is restated here independently (pairs split on `&`, named up to the first
/// `=`): an unsigned target has no `ik-s` / `ik-t` pair; a signed one has exactly one `ik-s`
/// (40 lowercase hex) and at most one `ik-t` (canonical decimal, at most 9999999999, else
/// 9999999999), and what it says was signed is the target with exactly those pairs removed.
/// It verifies exactly when the key's signature of that text and expiry is the one given and
/// the expiry has not passed. And every URL Folio emits for an unsigned target parses back to
/// that target and verifies with the key, and with no other.
pub fn signed_url(data: &[u8]) {
    let lines = lines(data);
    let relative = lines[0].as_str();
    let now = lines
        .get(1)
        .and_then(|l| l.parse::<i64>().ok())
        .unwrap_or(NOW);

    let (path, query) = match relative.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (relative, None),
    };
    let pairs: Vec<&str> = query.map(|q| q.split('&').collect()).unwrap_or_default();
    let name = |pair: &str| pair.split('=').next().unwrap_or_default().to_owned();
    let value_of = |wanted: &str| -> Vec<String> {
        pairs
            .iter()
            .filter(|p| name(p) == wanted)
            .map(|p| p.split_once('=').map_or("", |(_, v)| v).to_owned())
            .collect()
    };
    let (signatures, expiries) = (value_of(SIGNATURE_PARAM), value_of("ik-t"));

    match parse(relative) {
        Ok(None) => {
            assert!(
                signatures.is_empty() && expiries.is_empty(),
                "{relative:?} read as unsigned"
            );
            check_emitted(relative);
        }
        Err(SignedUrlError::Malformed(_)) => {
            assert!(
                !signatures.is_empty() || !expiries.is_empty(),
                "{relative:?} refused without signature parameters"
            );
        }
        Err(other) => panic!("parse answered {other:?}, which only verification may"),
        Ok(Some(target)) => {
            assert_eq!(signatures.len(), 1, "{relative:?}");
            assert!(expiries.len() <= 1, "{relative:?}");
            assert_eq!(target.signature, signatures[0]);
            assert!(
                target.signature.len() == 40
                    && target
                        .signature
                        .bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
                "accepted ik-s {:?}",
                target.signature
            );
            assert!(target.expiry <= NO_EXPIRY);
            match expiries.first() {
                Some(raw) => assert_eq!(
                    &target.expiry.to_string(),
                    raw,
                    "accepted a non-canonical ik-t"
                ),
                None => assert_eq!(target.expiry, NO_EXPIRY),
            }
            let kept: Vec<&str> = pairs
                .iter()
                .copied()
                .filter(|p| name(p) != SIGNATURE_PARAM && name(p) != "ik-t")
                .collect();
            let mut signed = path.to_owned();
            if !kept.is_empty() {
                signed.push('?');
                signed.push_str(&kept.join("&"));
            }
            assert_eq!(target.signed, signed, "{relative:?}");

            let genuine = target.signature == sign(PRIVATE_KEY, &target.signed, target.expiry);
            let live = i128::from(target.expiry) >= i128::from(now);
            let verdict = target.verify(now, [PRIVATE_KEY]);
            match verdict {
                Ok(()) => assert!(genuine && live, "{relative:?} verified"),
                Err(SignedUrlError::Expired) => assert!(!live),
                Err(SignedUrlError::Mismatch) => assert!(live && !genuine),
                Err(SignedUrlError::Malformed(_)) => panic!("verify answered Malformed"),
            }
            assert!(
                target.verify(now, std::iter::empty()).is_err(),
                "verified with no key"
            );
        }
    }
}

/// The URLs Folio emits for an unsigned target (no expiry, and one) read back as that target
/// and verify with the key only.
fn check_emitted(relative: &str) {
    for expiry in [None, Some(NOW as u64 + 60)] {
        let url = emit(PRIVATE_KEY, ENDPOINT, relative, expiry);
        let back = url
            .strip_prefix(&format!("{ENDPOINT}/"))
            .unwrap_or_else(|| panic!("{url:?} is not under the endpoint"));
        let target = match parse(back) {
            Ok(Some(target)) => target,
            other => panic!("emitted {url:?} read back as {other:?}"),
        };
        assert_eq!(target.signed, relative, "{url:?}");
        assert_eq!(target.expiry, expiry.unwrap_or(NO_EXPIRY), "{url:?}");
        assert_eq!(target.verify(NOW, [PRIVATE_KEY]), Ok(()), "{url:?}");
        assert_eq!(
            target.verify(NOW, ["private_other_key"]),
            Err(SignedUrlError::Mismatch),
            "{url:?}"
        );
    }
}
