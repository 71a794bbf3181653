//! Property tests: the verifier never panics, and minted tokens always verify and match.

// A failed unwrap is a failed test, which is what we want here.
#![allow(clippy::unwrap_used)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use folio_token::{
    decode, sign_claims, MismatchProblem, PayloadMismatch, UploadToken, RESERVED_CLAIMS,
};
use proptest::prelude::*;

const KEY: &str = "private_prop_key";
const NOW: i64 = 1_735_689_600;

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn allowed_name(name: &str) -> bool {
    name != "file" && name != "token" && !RESERVED_CLAIMS.contains(&name)
}

/// Small JSON-ish texts, so that a useful share of cases get past the JSON parser.
fn json_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        r#"\{("[a-z]{1,4}":(-?[0-9]{1,20}(\.[0-9])?|"[a-zA-Z0-9]{0,4}"|true|null|\[\]|\{\}),?){0,5}\}"#,
        Just(r#"{"alg":"HS256","typ":"JWT","kid":"k"}"#.to_owned()),
        (any::<i64>(), any::<i64>(), any::<i64>())
            .prop_map(|(a, b, c)| format!(r#"{{"iat":{a},"exp":{b},"nbf":{c}}}"#)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn decode_never_panics_on_arbitrary_text(token in any::<String>()) {
        let _ = decode(&token);
    }

    #[test]
    fn decode_never_panics_on_token_shaped_text(token in "[A-Za-z0-9_=+/.-]{0,120}") {
        let _ = decode(&token);
    }

    #[test]
    fn decode_and_verify_never_panic_on_structured_input(
        header in json_text(),
        payload in json_text(),
        signature in proptest::collection::vec(any::<u8>(), 0..40),
        now in any::<i64>(),
        leeway in any::<i64>(),
    ) {
        let token = format!("{}.{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()), b64(&signature));
        if let Ok(u) = decode(&token) {
            let _ = u.verify(KEY, now, leeway);
        }
        // Correctly signed, so the claim checks themselves are exercised.
        if let Ok(u) = decode(&sign_claims(&header, &payload, KEY)) {
            if let Ok(v) = u.verify(KEY, now, leeway) {
                let _ = v.payload_matches([("a", "b")]);
            }
        }
    }

    #[test]
    fn mint_then_verify_round_trips(
        params in proptest::collection::btree_map(any::<String>(), any::<String>(), 0..8),
        lifetime in 1i64..=3600,
        elapsed in 0i64..3600,
    ) {
        let params: Vec<(String, String)> =
            params.into_iter().filter(|(n, _)| allowed_name(n)).collect();
        let mut builder = UploadToken::new("public_prop_key", KEY)
            .issued_at(NOW)
            .expires_in(lifetime);
        for (name, value) in &params {
            builder = builder.param(name.as_str(), value.as_str());
        }
        let token = builder.sign().unwrap();
        let now = NOW + elapsed % lifetime;
        let v = decode(&token).unwrap().verify(KEY, now, 0).unwrap();

        prop_assert_eq!((v.iat(), v.exp()), (NOW, NOW + lifetime));
        prop_assert_eq!(v.params().len(), params.len());
        let fields = || params.iter().map(|(n, s)| (n.as_str(), s.as_str()));
        prop_assert!(v.payload_matches(fields()));
        prop_assert!(v.payload_matches(fields().rev()));

        if let Some((first, rest)) = params.split_first() {
            // Dropping any field, or changing its text, breaks the match.
            // Each time the mismatch names that field and says how.
            let rest = || rest.iter().map(|(n, s)| (n.as_str(), s.as_str()));
            prop_assert!(!v.payload_matches(rest()));
            prop_assert_eq!(
                v.payload_mismatch(rest()),
                Some(PayloadMismatch { param: first.0.clone(), problem: MismatchProblem::MissingFromRequest })
            );
            let changed = format!("{}x", first.1);
            let altered = || std::iter::once((first.0.as_str(), changed.as_str())).chain(rest());
            prop_assert!(!v.payload_matches(altered()));
            prop_assert_eq!(
                v.payload_mismatch(altered()),
                Some(PayloadMismatch { param: first.0.clone(), problem: MismatchProblem::Differs })
            );
        }
        prop_assert_eq!(v.payload_mismatch(fields()), None);
        // One field too many breaks it as well.
        let extra = format!("{}~", params.iter().map(|(n, _)| n.as_str()).collect::<String>());
        prop_assert!(!v.payload_matches(fields().chain([(extra.as_str(), "")])));
        prop_assert_eq!(
            v.payload_mismatch(fields().chain([(extra.as_str(), "")])),
            Some(PayloadMismatch { param: extra.clone(), problem: MismatchProblem::NotInToken })
        );

        prop_assert!(decode(&token).unwrap().verify("private_other", now, 0).is_err());
    }
}
