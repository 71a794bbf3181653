//! V2 JWT: spec §2.3 test vector, every J1–J9 failure, the §2.3 rule 5 comparison, and minting.

// A failed unwrap is a failed test, which is what we want here.
#![allow(clippy::unwrap_used)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use folio_token::{
    decode, ledger_key, sign_claims, InvalidReason, MintError, Segment, TokenError, UploadToken,
    VerifiedToken, VerifyOptions, MAX_TOKEN_LIFETIME_SECS,
};
use serde_json::{json, Value};

const KEY: &str = "private_test_key";
const HEADER: &str = r#"{"alg":"HS256","typ":"JWT","kid":"public_test_key"}"#;
const VECTOR_PAYLOAD: &str = r#"{"fileName":"dress.jpg","useUniqueFileName":"false","tags":"summer,dress","iat":1735689600,"exp":1735690000}"#;
const VECTOR_TOKEN: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6InB1YmxpY190ZXN0X2tleSJ9.eyJmaWxlTmFtZSI6ImRyZXNzLmpwZyIsInVzZVVuaXF1ZUZpbGVOYW1lIjoiZmFsc2UiLCJ0YWdzIjoic3VtbWVyLGRyZXNzIiwiaWF0IjoxNzM1Njg5NjAwLCJleHAiOjE3MzU2OTAwMDB9.E_JuHCEdP8_2kAzAxbkoTbc-hhr_KzWpLxjdNEV3d4o";
const IAT: i64 = 1_735_689_600;
const EXP: i64 = 1_735_690_000;
const LEEWAY: i64 = 60;

fn invalid(reason: InvalidReason) -> TokenError {
    TokenError::Invalid(reason)
}

/// Signs `payload` under the standard header and runs decode + verify at `now`.
fn check(payload: &str, now: i64) -> Result<VerifiedToken, TokenError> {
    check_with_header(HEADER, payload, now)
}

fn check_with_header(header: &str, payload: &str, now: i64) -> Result<VerifiedToken, TokenError> {
    decode(&sign_claims(header, payload, KEY))?.verify(KEY, now, LEEWAY)
}

fn decode_err(token: &str) -> TokenError {
    decode(token).unwrap_err()
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn segments(token: &str) -> Vec<String> {
    token.split('.').map(str::to_owned).collect()
}

// ---- §2.3 test vector -------------------------------------------------------------------------

#[test]
fn sign_claims_reproduces_the_spec_vector_byte_for_byte() {
    assert_eq!(sign_claims(HEADER, VECTOR_PAYLOAD, KEY), VECTOR_TOKEN);
}

#[test]
fn spec_vector_verifies_inside_its_validity_window() {
    for now in [IAT, IAT + 200, EXP - 1, IAT - LEEWAY] {
        let unverified = decode(VECTOR_TOKEN).unwrap();
        assert_eq!(unverified.kid(), "public_test_key");
        let verified = unverified.verify(KEY, now, LEEWAY).unwrap();
        assert_eq!(verified.iat(), IAT);
        assert_eq!(verified.exp(), EXP);
        assert_eq!(verified.kid(), "public_test_key");
        assert_eq!(verified.jti(), None);
        assert_eq!(
            Value::Object(verified.params().clone()),
            json!({"fileName": "dress.jpg", "useUniqueFileName": "false", "tags": "summer,dress"})
        );
    }
}

#[test]
fn spec_vector_payload_matches_exactly_its_fields() {
    let v = decode(VECTOR_TOKEN)
        .unwrap()
        .verify(KEY, IAT, LEEWAY)
        .unwrap();
    let exact = [
        ("fileName", "dress.jpg"),
        ("useUniqueFileName", "false"),
        ("tags", "summer,dress"),
    ];
    assert!(v.payload_matches(exact));
    // Order of the form fields is irrelevant.
    assert!(v.payload_matches([exact[2], exact[0], exact[1]]));

    let with_folder = [exact[0], exact[1], exact[2], ("folder", "/x/")];
    assert!(!v.payload_matches(with_folder));
    assert!(!v.payload_matches([exact[0], exact[1]]), "tags dropped");
    assert!(!v.payload_matches([exact[0], exact[1], ("tags", "summer, dress")]));
    assert!(!v.payload_matches([exact[0], ("useUniqueFileName", "False"), exact[2]]));
    assert!(!v.payload_matches([exact[0], exact[1], exact[2], ("iat", "1735689600")]));
    assert!(!v.payload_matches([]));
}

#[test]
fn spec_vector_fails_outside_its_window() {
    let u = decode(VECTOR_TOKEN).unwrap();
    assert_eq!(u.verify(KEY, EXP, LEEWAY).unwrap_err(), TokenError::Expired);
    assert_eq!(
        u.verify(KEY, IAT - LEEWAY - 1, LEEWAY).unwrap_err(),
        invalid(InvalidReason::IssuedInFuture)
    );
    assert_eq!(
        u.verify("private_other_key", IAT, LEEWAY).unwrap_err(),
        invalid(InvalidReason::Signature)
    );
}

// ---- J1: three base64url segments, JSON objects -----------------------------------------------

#[test]
fn j1_wrong_segment_count() {
    let seg = InvalidReason::SegmentCount;
    for token in [
        "",
        "abc",
        "a.b",
        "a.b.c.d",
        "...",
        &format!("{VECTOR_TOKEN}."),
        &format!(".{VECTOR_TOKEN}"),
    ] {
        assert_eq!(decode_err(token), invalid(seg), "{token:?}");
    }
}

#[test]
fn j1_bad_base64_in_each_segment() {
    let s = segments(VECTOR_TOKEN);
    let cases = [
        (format!("{}=.{}.{}", s[0], s[1], s[2]), Segment::Header),
        (
            format!("{}.{}.{}", s[0].replace('J', "+"), s[1], s[2]),
            Segment::Header,
        ),
        (format!("{}.{}*.{}", s[0], s[1], s[2]), Segment::Payload),
        (format!("{}. {}.{}", s[0], s[1], s[2]), Segment::Payload),
        (format!("{}.{}.{}=", s[0], s[1], s[2]), Segment::Signature),
        (format!("{}.{}.{}/", s[0], s[1], s[2]), Segment::Signature),
        (format!("{}.{}.{}\n", s[0], s[1], s[2]), Segment::Signature),
    ];
    for (token, segment) in cases {
        assert_eq!(
            decode_err(&token),
            invalid(InvalidReason::Base64(segment)),
            "{token}"
        );
    }
}

#[test]
fn j1_signature_with_non_canonical_trailing_bits_is_rejected() {
    // 32 bytes take 43 characters whose last two bits must be zero. "o" ends in 00, "p" in 01:
    // both decode to the same MAC, so accepting "p" would give one token two ledger keys.
    assert!(VECTOR_TOKEN.ends_with('o'));
    let twin = format!("{}p", &VECTOR_TOKEN[..VECTOR_TOKEN.len() - 1]);
    assert_eq!(
        decode_err(&twin),
        invalid(InvalidReason::Base64(Segment::Signature))
    );
}

#[test]
fn j1_header_and_payload_must_be_json_objects() {
    let sig = "AAAA";
    let ok_payload = b64(VECTOR_PAYLOAD.as_bytes());
    let ok_header = b64(HEADER.as_bytes());
    let cases: [(&[u8], InvalidReason); 7] = [
        (b"[]", InvalidReason::NotAnObject(Segment::Header)),
        (b"\"HS256\"", InvalidReason::NotAnObject(Segment::Header)),
        (b"null", InvalidReason::NotAnObject(Segment::Header)),
        (b"{", InvalidReason::Json(Segment::Header)),
        (b"", InvalidReason::Json(Segment::Header)),
        (b"{}x", InvalidReason::Json(Segment::Header)),
        (b"{\"alg\":\"\xff\"}", InvalidReason::Json(Segment::Header)),
    ];
    for (bytes, reason) in cases {
        let token = format!("{}.{ok_payload}.{sig}", b64(bytes));
        assert_eq!(
            decode_err(&token),
            invalid(reason),
            "{:?}",
            String::from_utf8_lossy(bytes)
        );
    }
    for (bytes, reason) in [
        (&b"[1,2]"[..], InvalidReason::NotAnObject(Segment::Payload)),
        (b"42", InvalidReason::NotAnObject(Segment::Payload)),
        (b"{\"iat\":1,}", InvalidReason::Json(Segment::Payload)),
    ] {
        let token = format!("{ok_header}.{}.{sig}", b64(bytes));
        assert_eq!(decode_err(&token), invalid(reason));
    }
}

#[test]
fn j1_duplicate_member_names_are_rejected() {
    let header = r#"{"alg":"none","alg":"HS256","typ":"JWT","kid":"public_test_key"}"#;
    assert_eq!(
        decode_err(&sign_claims(header, VECTOR_PAYLOAD, KEY)),
        invalid(InvalidReason::DuplicateMember(Segment::Header))
    );
    let payload = r#"{"fileName":"a.jpg","fileName":"b.jpg","iat":1735689600,"exp":1735690000}"#;
    assert_eq!(
        decode_err(&sign_claims(HEADER, payload, KEY)),
        invalid(InvalidReason::DuplicateMember(Segment::Payload))
    );
    // Only the top level matters: nested objects are values that never match anyway.
    let nested = r#"{"x":{"a":1,"a":2},"iat":1735689600,"exp":1735690000}"#;
    assert!(check(nested, IAT).is_ok());
}

// ---- J2, J3: header fields --------------------------------------------------------------------

#[test]
fn j2_alg_must_be_hs256() {
    for header in [
        r#"{"alg":"none","typ":"JWT","kid":"public_test_key"}"#,
        r#"{"alg":"HS512","typ":"JWT","kid":"public_test_key"}"#,
        r#"{"alg":"RS256","typ":"JWT","kid":"public_test_key"}"#,
        r#"{"alg":"hs256","typ":"JWT","kid":"public_test_key"}"#,
        r#"{"alg":["HS256"],"typ":"JWT","kid":"public_test_key"}"#,
        r#"{"typ":"JWT","kid":"public_test_key"}"#,
    ] {
        assert_eq!(
            decode_err(&sign_claims(header, VECTOR_PAYLOAD, KEY)),
            invalid(InvalidReason::Algorithm),
            "{header}"
        );
    }
    // An unsigned token (empty third segment) is refused before any key is looked up.
    let none = format!(
        "{}.{}.",
        b64(br#"{"alg":"none","kid":"public_test_key"}"#),
        b64(VECTOR_PAYLOAD.as_bytes())
    );
    assert_eq!(decode_err(&none), invalid(InvalidReason::Algorithm));
}

#[test]
fn j2_typ_absent_or_jwt() {
    for header in [
        r#"{"alg":"HS256","typ":"JWS","kid":"public_test_key"}"#,
        r#"{"alg":"HS256","typ":"jwt","kid":"public_test_key"}"#,
        r#"{"alg":"HS256","typ":null,"kid":"public_test_key"}"#,
    ] {
        assert_eq!(
            decode_err(&sign_claims(header, VECTOR_PAYLOAD, KEY)),
            invalid(InvalidReason::Type),
            "{header}"
        );
    }
    let no_typ = r#"{"alg":"HS256","kid":"public_test_key"}"#;
    assert!(check_with_header(no_typ, VECTOR_PAYLOAD, IAT).is_ok());
}

#[test]
fn j3_kid_present_and_string() {
    for header in [
        r#"{"alg":"HS256","typ":"JWT"}"#,
        r#"{"alg":"HS256","typ":"JWT","kid":7}"#,
        r#"{"alg":"HS256","typ":"JWT","kid":null}"#,
        r#"{"alg":"HS256","typ":"JWT","kid":{"k":"public_test_key"}}"#,
    ] {
        assert_eq!(
            decode_err(&sign_claims(header, VECTOR_PAYLOAD, KEY)),
            invalid(InvalidReason::KeyId),
            "{header}"
        );
    }
    let other = r#"{"alg":"HS256","typ":"JWT","kid":"public_other","extra":true}"#;
    assert_eq!(
        decode(&sign_claims(other, VECTOR_PAYLOAD, KEY))
            .unwrap()
            .kid(),
        "public_other"
    );
}

// ---- J5: signature ----------------------------------------------------------------------------

#[test]
fn j5_any_flipped_signature_character_fails() {
    let s = segments(VECTOR_TOKEN);
    // Every position except the last, whose low bits are constrained (tested separately).
    for i in 0..s[2].len() - 1 {
        let mut sig = s[2].clone().into_bytes();
        sig[i] = if sig[i] == b'A' { b'B' } else { b'A' };
        let token = format!("{}.{}.{}", s[0], s[1], String::from_utf8(sig).unwrap());
        assert_eq!(
            decode(&token)
                .unwrap()
                .verify(KEY, IAT, LEEWAY)
                .unwrap_err(),
            invalid(InvalidReason::Signature),
            "position {i}"
        );
    }
}

#[test]
fn j5_wrong_length_or_swapped_segments_fail() {
    let s = segments(VECTOR_TOKEN);
    for sig in [
        String::new(),
        s[2][..40].to_owned(),
        format!("{}AAAA", s[2]),
    ] {
        let token = format!("{}.{}.{sig}", s[0], s[1]);
        let result = decode(&token).and_then(|u| u.verify(KEY, IAT, LEEWAY));
        assert!(
            matches!(
                result,
                Err(TokenError::Invalid(
                    InvalidReason::Signature | InvalidReason::Base64(Segment::Signature)
                ))
            ),
            "{sig}: {result:?}"
        );
    }
    // A payload from another genuine token does not fit this signature.
    let other = sign_claims(
        HEADER,
        r#"{"fileName":"x","iat":1735689600,"exp":1735690000}"#,
        KEY,
    );
    let spliced = format!("{}.{}.{}", s[0], segments(&other)[1], s[2]);
    assert_eq!(
        decode(&spliced)
            .unwrap()
            .verify(KEY, IAT, LEEWAY)
            .unwrap_err(),
        invalid(InvalidReason::Signature)
    );
}

#[test]
fn j5_runs_before_time_checks() {
    // Expired and badly signed: the signature decides, so no claim of a forged token is trusted.
    let u = decode(VECTOR_TOKEN).unwrap();
    assert_eq!(
        u.verify("wrong", EXP + 10, LEEWAY).unwrap_err(),
        invalid(InvalidReason::Signature)
    );
}

// ---- J6, J7: iat and exp ----------------------------------------------------------------------

#[test]
fn j6_iat_and_exp_must_be_json_integers() {
    let cases = [
        (r#"{"exp":1735690000}"#, InvalidReason::IssuedAt),
        (
            r#"{"iat":"1735689600","exp":1735690000}"#,
            InvalidReason::IssuedAt,
        ),
        (
            r#"{"iat":1735689600.0,"exp":1735690000}"#,
            InvalidReason::IssuedAt,
        ),
        (
            r#"{"iat":1.7356896e9,"exp":1735690000}"#,
            InvalidReason::IssuedAt,
        ),
        (r#"{"iat":null,"exp":1735690000}"#, InvalidReason::IssuedAt),
        (
            r#"{"iat":18446744073709551615,"exp":1735690000}"#,
            InvalidReason::IssuedAt,
        ),
        (r#"{"iat":1735689600}"#, InvalidReason::Expiry),
        (
            r#"{"iat":1735689600,"exp":"1735690000"}"#,
            InvalidReason::Expiry,
        ),
        (
            r#"{"iat":1735689600,"exp":1735690000.5}"#,
            InvalidReason::Expiry,
        ),
        (r#"{"iat":1735689600,"exp":true}"#, InvalidReason::Expiry),
    ];
    for (payload, reason) in cases {
        assert_eq!(
            check(payload, IAT).unwrap_err(),
            invalid(reason),
            "{payload}"
        );
    }
}

#[test]
fn j7_lifetime_bounds() {
    let at = |iat: i64, exp: i64| check(&format!(r#"{{"iat":{iat},"exp":{exp}}}"#), iat);
    assert!(at(IAT, IAT + 3600).is_ok());
    assert!(at(IAT, IAT + 1).is_ok());
    for exp in [IAT + 3601, IAT, IAT - 1] {
        assert_eq!(
            at(IAT, exp).unwrap_err(),
            invalid(InvalidReason::Lifetime),
            "exp={exp}"
        );
    }
    // Extreme values must not overflow.
    let extreme = format!(r#"{{"iat":{},"exp":{}}}"#, i64::MIN, i64::MAX);
    assert_eq!(
        check(&extreme, 0).unwrap_err(),
        invalid(InvalidReason::Lifetime)
    );
}

#[test]
fn j7_max_lifetime_is_configurable() {
    let token = sign_claims(HEADER, r#"{"iat":1000,"exp":1600}"#, KEY);
    let u = decode(&token).unwrap();
    let strict = VerifyOptions {
        max_lifetime_secs: 300,
        ..VerifyOptions::default()
    };
    assert_eq!(
        u.verify_with(KEY, 1000, &strict).unwrap_err(),
        invalid(InvalidReason::Lifetime)
    );
    assert!(u.verify_with(KEY, 1000, &VerifyOptions::default()).is_ok());
    assert_eq!(
        VerifyOptions::default().max_lifetime_secs,
        MAX_TOKEN_LIFETIME_SECS
    );
}

// ---- J8: iat leeway and nbf -------------------------------------------------------------------

#[test]
fn j8_iat_may_be_ahead_by_the_leeway_only() {
    let payload = r#"{"iat":1000,"exp":2000}"#;
    assert!(check(payload, 1000 - LEEWAY).is_ok());
    assert_eq!(
        check(payload, 1000 - LEEWAY - 1).unwrap_err(),
        invalid(InvalidReason::IssuedInFuture)
    );
    let u = decode(&sign_claims(HEADER, payload, KEY)).unwrap();
    assert!(u.verify(KEY, 1000, 0).is_ok());
    assert_eq!(
        u.verify(KEY, 999, 0).unwrap_err(),
        invalid(InvalidReason::IssuedInFuture)
    );
    // A negative leeway is no stricter than zero.
    assert!(u.verify(KEY, 1000, -30).is_ok());
}

#[test]
fn j8_nbf_is_enforced_without_leeway() {
    let payload = r#"{"iat":1000,"nbf":1100,"exp":2000}"#;
    assert!(check(payload, 1100).is_ok());
    assert_eq!(
        check(payload, 1099).unwrap_err(),
        invalid(InvalidReason::NotYetValid)
    );
    for payload in [
        r#"{"iat":1000,"nbf":"1000","exp":2000}"#,
        r#"{"iat":1000,"nbf":1000.0,"exp":2000}"#,
        r#"{"iat":1000,"nbf":null,"exp":2000}"#,
    ] {
        assert_eq!(
            check(payload, 1500).unwrap_err(),
            invalid(InvalidReason::NotBeforeType),
            "{payload}"
        );
    }
}

// ---- J9: expiry -------------------------------------------------------------------------------

#[test]
fn j9_now_at_or_after_exp_is_expired() {
    let payload = r#"{"iat":1000,"exp":2000}"#;
    assert!(check(payload, 1999).is_ok());
    assert_eq!(check(payload, 2000).unwrap_err(), TokenError::Expired);
    assert_eq!(check(payload, 900_000).unwrap_err(), TokenError::Expired);
}

// ---- §2.3 rule 5: payload comparison ----------------------------------------------------------

#[test]
fn non_string_payload_values_never_match() {
    let payload = r#"{"useUniqueFileName":false,"n":5,"z":null,"o":{"a":"b"},"l":["x"],"iat":1000,"exp":2000}"#;
    let v = check(payload, 1000).unwrap();
    for field in [
        ("useUniqueFileName", "false"),
        ("n", "5"),
        ("z", "null"),
        ("z", ""),
        ("o", r#"{"a":"b"}"#),
        ("l", r#"["x"]"#),
    ] {
        let mut fields = vec![
            ("useUniqueFileName", "false"),
            ("n", "5"),
            ("z", ""),
            ("o", r#"{"a":"b"}"#),
            ("l", r#"["x"]"#),
        ];
        fields.retain(|f| f.0 != field.0);
        fields.push(field);
        assert!(!v.payload_matches(fields), "{field:?}");
    }
    assert_eq!(v.params().len(), 5);
}

#[test]
fn empty_field_matches_only_an_empty_string() {
    let v = check(r#"{"folder":"","iat":1000,"exp":2000}"#, 1000).unwrap();
    assert!(v.payload_matches([("folder", "")]));
    assert!(!v.payload_matches([("folder", " ")]));
    assert!(!v.payload_matches([("folder", "/")]));
    assert!(
        !v.payload_matches([]),
        "an absent field is not an empty one"
    );

    let v = check(r#"{"folder":"/x/","iat":1000,"exp":2000}"#, 1000).unwrap();
    assert!(!v.payload_matches([("folder", "")]));

    let v = check(r#"{"iat":1000,"exp":2000}"#, 1000).unwrap();
    assert!(v.payload_matches([]));
    assert!(!v.payload_matches([("folder", "")]));
}

#[test]
fn comparison_is_byte_exact() {
    let payload = r#"{"customMetadata":"{\"brand\":\"Nike\"}","fileName":"Caf\u00e9.jpg","iat":1000,"exp":2000}"#;
    let v = check(payload, 1000).unwrap();
    let meta = r#"{"brand":"Nike"}"#;
    assert!(v.payload_matches([("customMetadata", meta), ("fileName", "Café.jpg")]));
    for (meta, name) in [
        (r#"{"brand": "Nike"}"#, "Café.jpg"),
        (meta, "Cafe\u{301}.jpg"),
        (meta, "café.jpg"),
        (meta, "Café.jpg "),
    ] {
        assert!(!v.payload_matches([("customMetadata", meta), ("fileName", name)]));
    }
}

#[test]
fn reserved_claims_are_not_parameters() {
    let payload = r#"{"fileName":"a","iss":"me","sub":"u1","aud":"folio","jti":"n1","nbf":1000,"iat":1000,"exp":2000}"#;
    let v = check(payload, 1000).unwrap();
    assert_eq!(v.jti(), Some("n1"));
    assert_eq!(v.params().keys().collect::<Vec<_>>(), ["fileName"]);
    assert!(v.payload_matches([("fileName", "a")]));
    assert!(!v.payload_matches([("fileName", "a"), ("sub", "u1")]));
    assert!(!v.payload_matches([("fileName", "a"), ("jti", "n1")]));
}

#[test]
fn repeated_field_names_never_match() {
    let v = check(r#"{"a":"1","b":"2","iat":1000,"exp":2000}"#, 1000).unwrap();
    assert!(v.payload_matches([("a", "1"), ("b", "2")]));
    // Counting "a" twice must not stand in for the missing "b".
    assert!(!v.payload_matches([("a", "1"), ("a", "1")]));
    assert!(!v.payload_matches([("a", "1"), ("b", "2"), ("b", "2")]));
}

#[test]
fn a_mismatch_names_the_parameter_and_the_problem() {
    let v = check(r#"{"a":"1","b":"2","n":5,"iat":1000,"exp":2000}"#, 1000).unwrap();
    let found = |fields: &[(&str, &str)]| {
        v.payload_mismatch(fields.iter().copied())
            .map(|m| (m.param, m.problem.as_str()))
    };
    let named = |param: &str, problem: &'static str| Some((param.to_owned(), problem));
    assert_eq!(
        found(&[("a", "1"), ("b", "2"), ("n", "5")]),
        named("n", "differs"),
        "not a string"
    );
    assert_eq!(found(&[("a", "1"), ("b", "3")]), named("b", "differs"));
    assert_eq!(found(&[("b", "2"), ("x", "")]), named("x", "not in token"));
    assert_eq!(
        found(&[("a", "1"), ("a", "1")]),
        named("a", "repeated in request")
    );
    // Request fields come first; then the first pinned parameter the request left out.
    assert_eq!(found(&[("n", "5"), ("z", "")]), named("n", "differs"));
    assert_eq!(found(&[("b", "2")]), named("a", "missing from request"));
    assert_eq!(found(&[]), named("a", "missing from request"));

    let v = check(r#"{"a":"1","iat":1000,"exp":2000}"#, 1000).unwrap();
    assert_eq!(v.payload_mismatch([("a", "1")]), None);
}

// ---- ledger key -------------------------------------------------------------------------------

#[test]
fn ledger_key_is_sha256_of_the_token_text() {
    let hex = |k: [u8; 32]| k.iter().map(|b| format!("{b:02x}")).collect::<String>();
    assert_eq!(
        hex(ledger_key("abc")),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    let v = decode(VECTOR_TOKEN)
        .unwrap()
        .verify(KEY, IAT, LEEWAY)
        .unwrap();
    assert_eq!(v.ledger_key(), ledger_key(VECTOR_TOKEN));
    assert_ne!(
        ledger_key(VECTOR_TOKEN),
        ledger_key(&format!("{VECTOR_TOKEN} "))
    );
}

// ---- minting ----------------------------------------------------------------------------------

fn decode_segment(segment: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(segment).unwrap()
}

#[test]
fn mint_round_trip() {
    let token = UploadToken::new("public_test_key", KEY)
        .param("fileName", "dress.jpg")
        .param_bool("useUniqueFileName", false)
        .param_bool("isPrivateFile", true)
        .param_list("tags", ["summer", "dress"])
        .param_list("responseFields", Vec::<String>::new())
        .param_json("customMetadata", &json!({"brand": "Nike", "n": 1}))
        .param("description", "line 1\n\"quoted\" \u{1F600}")
        .issued_at(IAT)
        .expires_in(400)
        .sign()
        .unwrap();

    let s = segments(&token);
    assert_eq!(decode_segment(&s[0]), HEADER.as_bytes());

    let v = decode(&token).unwrap().verify(KEY, IAT, LEEWAY).unwrap();
    assert_eq!((v.iat(), v.exp()), (IAT, IAT + 400));
    let fields = [
        ("fileName", "dress.jpg"),
        ("useUniqueFileName", "false"),
        ("isPrivateFile", "true"),
        ("tags", "summer,dress"),
        ("responseFields", ""),
        ("customMetadata", r#"{"brand":"Nike","n":1}"#),
        ("description", "line 1\n\"quoted\" \u{1F600}"),
    ];
    assert!(v.payload_matches(fields));
    assert!(!v.payload_matches(fields[1..].iter().copied()));

    // iat and exp are JSON integers; parameters are strings; the payload has nothing else.
    let payload: Value = serde_json::from_slice(&decode_segment(&s[1])).unwrap();
    assert_eq!(payload["iat"], json!(IAT));
    assert_eq!(payload["exp"], json!(IAT + 400));
    assert_eq!(payload["useUniqueFileName"], json!("false"));
    assert_eq!(payload.as_object().unwrap().len(), fields.len() + 3);
}

#[test]
fn mint_adds_a_url_safe_random_jti() {
    let builder = UploadToken::new("public_test_key", KEY)
        .param("fileName", "a.jpg")
        .issued_at(IAT);
    let a = builder.sign().unwrap();
    let b = builder.sign().unwrap();
    assert_ne!(a, b, "same params, same second");

    let jti = |t: &str| {
        decode(t)
            .unwrap()
            .verify(KEY, IAT, LEEWAY)
            .unwrap()
            .jti()
            .unwrap()
            .to_owned()
    };
    let (ja, jb) = (jti(&a), jti(&b));
    assert_ne!(ja, jb);
    assert!(ja.len() >= 22, "at least 16 bytes of entropy: {ja}");
    assert!(ja
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
    assert_ne!(ledger_key(&a), ledger_key(&b));
}

#[test]
fn mint_defaults_to_the_system_clock() {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let token = UploadToken::new("public_test_key", KEY).sign().unwrap();
    let v = decode(&token).unwrap().verify(KEY, now, LEEWAY).unwrap();
    assert!((now - 5..=now + 5).contains(&v.iat()), "iat {}", v.iat());
    assert_eq!(v.exp() - v.iat(), folio_token::DEFAULT_TOKEN_LIFETIME_SECS);
}

#[test]
fn mint_lifetime_limits() {
    let with = |secs: i64| {
        UploadToken::new("public_test_key", KEY)
            .issued_at(IAT)
            .expires_in(secs)
            .sign()
    };
    let v = decode(&with(3600).unwrap())
        .unwrap()
        .verify(KEY, IAT, 0)
        .unwrap();
    assert_eq!(v.exp() - v.iat(), 3600);
    assert!(with(1).is_ok());
    assert_eq!(with(3601).unwrap_err(), MintError::LifetimeTooLong(3601));
    assert_eq!(with(0).unwrap_err(), MintError::NonPositiveLifetime(0));
    assert_eq!(with(-5).unwrap_err(), MintError::NonPositiveLifetime(-5));
    assert!(with(3601).unwrap_err().to_string().contains("3600"));

    let overflow = UploadToken::new("public_test_key", KEY)
        .issued_at(i64::MAX - 10)
        .expires_in(60)
        .sign();
    assert_eq!(overflow.unwrap_err(), MintError::TimestampOverflow);
}

#[test]
fn mint_refuses_file_token_and_reserved_claims() {
    for name in ["file", "token"] {
        let err = UploadToken::new("public_test_key", KEY)
            .param("fileName", "a.jpg")
            .param(name, "x")
            .sign()
            .unwrap_err();
        assert_eq!(err, MintError::ForbiddenParam(name.to_owned()));
    }
    for name in folio_token::RESERVED_CLAIMS {
        let err = UploadToken::new("public_test_key", KEY)
            .param_bool(name, true)
            .sign()
            .unwrap_err();
        assert_eq!(err, MintError::ReservedClaim(name.to_owned()));
    }
    // Names are case-sensitive on the wire, so these are ordinary parameters.
    assert!(UploadToken::new("public_test_key", KEY)
        .param("File", "x")
        .param("IAT", "y")
        .sign()
        .is_ok());
}

#[test]
fn mint_refuses_empty_keys() {
    assert_eq!(
        UploadToken::new("", KEY).sign().unwrap_err(),
        MintError::EmptyPublicKey
    );
    assert_eq!(
        UploadToken::new("public_test_key", "").sign().unwrap_err(),
        MintError::EmptyPrivateKey
    );
}

#[test]
fn mint_repeated_param_replaces_the_value() {
    let token = UploadToken::new("public_test_key", KEY)
        .param("tags", "a")
        .param("fileName", "x.jpg")
        .param("tags", "b")
        .issued_at(IAT)
        .sign()
        .unwrap();
    let v = decode(&token).unwrap().verify(KEY, IAT, 0).unwrap();
    assert!(v.payload_matches([("fileName", "x.jpg"), ("tags", "b")]));
    assert_eq!(v.params().len(), 2);
}
