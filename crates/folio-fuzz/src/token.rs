//! Upload credentials: the V2 JWT (decode → verify → payload comparison) and the V1 fields
//! (`expire`, `signature`, ledger key), in the order the server runs them.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use folio_token::{
    decode, ledger_key, parse_v1_expire, sign_claims, v1_ledger_key, v1_signature,
    verify_v1_signature, ExpireError, InvalidReason, TokenError, VerifiedToken,
    DEFAULT_CLOCK_LEEWAY_SECS, MAX_TOKEN_LIFETIME_SECS, MAX_V1_EXPIRE_WINDOW_SECS, RESERVED_CLAIMS,
};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::text::{lines, lossy};
use crate::{NOW, PRIVATE_KEY};

/// The V2 token path of an upload.
///
/// Two layouts, told apart by a line break (which no real token has):
///
/// * **a token** (no `\n`): the `token` field as received. Decoded and verified with
///   [`PRIVATE_KEY`] at [`NOW`]. A fuzzer cannot forge a MAC, so here the point is that nothing
///   unsigned gets through: whatever verifies must be exactly the token that signing its own
///   decoded header and payload with the key produces (one spelling per signature, since the
///   single-use ledger is keyed on the text).
/// * **claims**: line 1 the header JSON, line 2 the payload JSON, then one `name=value` form
///   field per line. The header and payload are signed with [`PRIVATE_KEY`] first, so the
///   claim checks (J6–J9) and the payload comparison (J11) see fuzzed values. A token that
///   verifies must meet every time rule, carry exactly the payload's non-reserved members, and
///   match exactly the field sets that equal them.
pub fn jwt(data: &[u8]) {
    let text = lossy(data);
    if !text.contains('\n') {
        check_received_token(&text);
        return;
    }
    let lines = lines(data);
    let (header, payload) = (&lines[0], lines.get(1).map_or("", String::as_str));
    let fields: Vec<(&str, &str)> = lines
        .iter()
        .skip(2)
        .map(|line| line.split_once('=').unwrap_or((line, "")))
        .collect();
    check_signed_claims(header, payload, &fields);
}

fn check_received_token(token: &str) {
    let Ok(unverified) = decode(token) else {
        return;
    };
    let _ = unverified.kid();
    let Ok(verified) = unverified.verify(PRIVATE_KEY, NOW, DEFAULT_CLOCK_LEEWAY_SECS) else {
        return;
    };
    // It verified, so it must be what the key signs for its own decoded content.
    let mut segments = token.split('.');
    let (Some(header), Some(payload)) = (segments.next(), segments.next()) else {
        panic!("{token:?} verified without three segments");
    };
    let as_text = |segment: &str| {
        let bytes = URL_SAFE_NO_PAD
            .decode(segment)
            .unwrap_or_else(|e| panic!("{token:?} verified with a non-base64url segment: {e}"));
        String::from_utf8(bytes)
            .unwrap_or_else(|e| panic!("{token:?} verified with non-UTF-8 JSON: {e}"))
    };
    assert_eq!(
        sign_claims(&as_text(header), &as_text(payload), PRIVATE_KEY),
        token,
        "a token verified that the key did not sign in this spelling"
    );
    assert_eq!(verified.ledger_key(), ledger_key(token));
}

fn check_signed_claims(header: &str, payload: &str, fields: &[(&str, &str)]) {
    let token = sign_claims(header, payload, PRIVATE_KEY);
    let Ok(unverified) = decode(&token) else {
        return;
    };
    // Decoding succeeded, so both are JSON objects with unique member names.
    let Ok(header_json) = serde_json::from_str::<Map<String, Value>>(header) else {
        panic!("decode accepted a header that is not a JSON object: {header:?}");
    };
    let Ok(claims) = serde_json::from_str::<Map<String, Value>>(payload) else {
        panic!("decode accepted a payload that is not a JSON object: {payload:?}");
    };
    assert_eq!(header_json.get("alg"), Some(&Value::from("HS256")));
    assert!(header_json
        .get("typ")
        .is_none_or(|typ| typ == &Value::from("JWT")));
    assert_eq!(
        header_json.get("kid").and_then(Value::as_str),
        Some(unverified.kid())
    );

    let integer = |name: &str| claims.get(name).and_then(Value::as_i64);
    match unverified.verify(PRIVATE_KEY, NOW, DEFAULT_CLOCK_LEEWAY_SECS) {
        Ok(verified) => {
            let (Some(iat), Some(exp)) = (integer("iat"), integer("exp")) else {
                panic!("verified without integer iat and exp: {payload:?}");
            };
            assert_eq!((verified.iat(), verified.exp()), (iat, exp));
            let lifetime = i128::from(exp) - i128::from(iat);
            assert!(
                0 < lifetime && lifetime <= i128::from(MAX_TOKEN_LIFETIME_SECS),
                "verified with exp - iat = {lifetime}"
            );
            assert!(
                iat <= NOW + DEFAULT_CLOCK_LEEWAY_SECS,
                "verified with a future iat"
            );
            assert!(NOW < exp, "verified although expired");
            if let Some(nbf) = claims.get("nbf") {
                assert!(
                    nbf.as_i64().is_some_and(|nbf| nbf <= NOW),
                    "verified with nbf {nbf}"
                );
            }
            check_verified(&token, &verified, &claims, fields);
        }
        Err(TokenError::Expired) => {
            assert!(integer("exp").is_some_and(|exp| NOW >= exp));
        }
        Err(TokenError::Invalid(InvalidReason::Signature)) => {
            panic!("a token signed with the key failed its signature check: {token:?}");
        }
        Err(TokenError::Invalid(_)) => {}
    }
}

fn check_verified(
    token: &str,
    verified: &VerifiedToken,
    claims: &Map<String, Value>,
    fields: &[(&str, &str)],
) {
    let params: Map<String, Value> = claims
        .iter()
        .filter(|(name, _)| !RESERVED_CLAIMS.contains(&name.as_str()))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    assert_eq!(verified.params(), &params);
    assert_eq!(verified.ledger_key(), ledger_key(token));
    assert_eq!(
        verified.ledger_key(),
        <[u8; 32]>::from(Sha256::digest(token))
    );

    // J11, against an oracle: distinct names, each naming a string parameter with the same
    // text, and no parameter left out.
    let mut names: Vec<&str> = fields.iter().map(|(name, _)| *name).collect();
    names.sort_unstable();
    names.dedup();
    let expected = names.len() == fields.len()
        && fields.len() == params.len()
        && fields
            .iter()
            .all(|(name, text)| params.get(*name).and_then(Value::as_str) == Some(*text));
    assert_eq!(
        verified.payload_matches(fields.iter().copied()),
        expected,
        "payload_matches({fields:?}) against {params:?}"
    );

    // The fields a client would send for this payload match exactly when all are strings.
    let all_strings: Option<Vec<(&str, &str)>> = params
        .iter()
        .map(|(name, value)| value.as_str().map(|text| (name.as_str(), text)))
        .collect();
    assert_eq!(
        verified.payload_matches(all_strings.iter().flatten().copied()),
        all_strings.is_some()
    );

    // The same claims signed with another key, or with a changed MAC, never verify.
    let Some((signing_input, signature)) = token.rsplit_once('.') else {
        panic!("{token:?} has no signature segment");
    };
    let mut forged = signature.as_bytes().to_vec();
    if let Some(first) = forged.first_mut() {
        *first = if *first == b'A' { b'B' } else { b'A' };
    }
    let forged = format!("{signing_input}.{}", String::from_utf8_lossy(&forged));
    if let Ok(unverified) = decode(&forged) {
        assert!(unverified
            .verify(PRIVATE_KEY, NOW, DEFAULT_CLOCK_LEEWAY_SECS)
            .is_err());
    }
    if let Ok(unverified) = decode(token) {
        assert_eq!(
            unverified
                .verify("private_other_key", NOW, DEFAULT_CLOCK_LEEWAY_SECS)
                .err(),
            Some(TokenError::Invalid(InvalidReason::Signature))
        );
    }
}

/// The V1 signature fields of an upload: line 1 `token`, line 2 `expire`, line 3 `signature`,
/// optional line 4 the server clock (default [`NOW`]).
///
/// An accepted `expire` must be canonical decimal within the next hour (finding 5 of the
/// security review: leading zeros let a token's trailing `0` move into `expire` under the same
/// signature). The signature check must agree with recomputing the signature, and every other
/// split of the same signed text `token ‖ expire` that the server would accept must burn the
/// same ledger entry.
pub fn v1_fields(data: &[u8]) {
    let lines = lines(data);
    let field = |i: usize| lines.get(i).map_or("", String::as_str);
    let (token, expire, signature) = (field(0), field(1), field(2));
    let now = field(3).parse::<i64>().unwrap_or(NOW);

    let digits = !expire.is_empty() && expire.bytes().all(|b| b.is_ascii_digit());
    let value = expire.parse::<i64>().ok().filter(|_| digits);
    match parse_v1_expire(expire, now) {
        Ok(accepted) => {
            assert_eq!(
                accepted.to_string(),
                expire,
                "accepted a non-canonical expire"
            );
            assert!(
                now < accepted,
                "accepted an expire that is not in the future"
            );
            assert!(
                i128::from(accepted) <= i128::from(now) + i128::from(MAX_V1_EXPIRE_WINDOW_SECS),
                "accepted an expire more than {MAX_V1_EXPIRE_WINDOW_SECS} s ahead"
            );
            if !token.is_empty() {
                check_other_splits(token, expire, now);
            }
        }
        Err(ExpireError::NotAnInteger) => assert_eq!(value, None, "{expire:?}"),
        Err(ExpireError::NotCanonical) => {
            assert!(value.is_some() && expire.starts_with('0'), "{expire:?}");
        }
        Err(ExpireError::Expired) => assert!(value.is_some_and(|v| v <= now)),
        Err(ExpireError::TooFarInFuture) => assert!(value.is_some_and(
            |v| i128::from(v) > i128::from(now) + i128::from(MAX_V1_EXPIRE_WINDOW_SECS)
        )),
        Err(other) => panic!("unexpected {other:?}"),
    }

    let expected = v1_signature(PRIVATE_KEY, token, expire);
    assert_eq!(expected.len(), 40);
    assert!(expected
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    assert_eq!(
        verify_v1_signature(PRIVATE_KEY, token, expire, signature),
        signature == expected,
        "signature {signature:?} for {token:?} ‖ {expire:?}"
    );
    assert!(verify_v1_signature(PRIVATE_KEY, token, expire, &expected));
    if expected.bytes().any(|b| b.is_ascii_alphabetic()) {
        let upper = expected.to_ascii_uppercase();
        assert!(!verify_v1_signature(PRIVATE_KEY, token, expire, &upper));
    }
}

/// Every split of `token ‖ expire` the server would also accept is the same credential: it has
/// the same signature, so it must have the same ledger key.
fn check_other_splits(token: &str, expire: &str, now: i64) {
    let signed = format!("{token}{expire}");
    let key = v1_ledger_key(token, expire);
    let signature = v1_signature(PRIVATE_KEY, token, expire);
    // Only splits that leave a short all-digit tail can pass `parse_v1_expire` (i64 has 19
    // digits), so only those are tried.
    let first = signed.len().saturating_sub(20);
    for at in (first..signed.len()).filter(|&at| at > 0 && signed.is_char_boundary(at)) {
        let (other_token, other_expire) = signed.split_at(at);
        if other_token == token || parse_v1_expire(other_expire, now).is_err() {
            continue;
        }
        assert_eq!(
            v1_signature(PRIVATE_KEY, other_token, other_expire),
            signature
        );
        assert_eq!(
            v1_ledger_key(other_token, other_expire),
            key,
            "{other_token:?} ‖ {other_expire:?} would pass as a new credential"
        );
    }
}
