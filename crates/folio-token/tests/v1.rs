//! V1 signature fields: spec §2.2 test vector, S5/S6 rules, and the §10.2 helper.

// A failed unwrap is a failed test, which is what we want here.
#![allow(clippy::unwrap_used)]

use folio_token::{
    authentication_parameters, parse_v1_expire, v1_signature, verify_v1_signature, ExpireError,
    DEFAULT_V1_EXPIRE_SECS,
};

const KEY: &str = "private_test_key";
const TOKEN: &str = "9e9f1f5c-7a8e-4a55-9c1e-3c1f0b7d2a11";
const EXPIRE: &str = "1735689600";
const SIGNATURE: &str = "def15d9146f0402e37c5b08d9f5e89c755e5acb2";

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[test]
fn spec_vector() {
    assert_eq!(v1_signature(KEY, TOKEN, EXPIRE), SIGNATURE);
    assert!(verify_v1_signature(KEY, TOKEN, EXPIRE, SIGNATURE));
}

#[test]
fn signature_check_is_exact() {
    assert!(!verify_v1_signature(
        KEY,
        TOKEN,
        EXPIRE,
        &SIGNATURE.to_uppercase()
    ));
    assert!(!verify_v1_signature(KEY, TOKEN, EXPIRE, &SIGNATURE[..39]));
    assert!(!verify_v1_signature(
        KEY,
        TOKEN,
        EXPIRE,
        &format!("{SIGNATURE}0")
    ));
    assert!(!verify_v1_signature(
        KEY,
        TOKEN,
        EXPIRE,
        &format!(" {SIGNATURE}")
    ));
    assert!(!verify_v1_signature(KEY, TOKEN, EXPIRE, ""));
    assert!(!verify_v1_signature(
        "private_other",
        TOKEN,
        EXPIRE,
        SIGNATURE
    ));
    assert!(!verify_v1_signature(KEY, "9e9f1f5c", EXPIRE, SIGNATURE));
    for i in 0..SIGNATURE.len() {
        let mut s = SIGNATURE.as_bytes().to_vec();
        s[i] = if s[i] == b'0' { b'1' } else { b'0' };
        let s = String::from_utf8(s).unwrap();
        assert!(!verify_v1_signature(KEY, TOKEN, EXPIRE, &s), "position {i}");
    }
}

#[test]
fn expire_is_signed_as_sent() {
    // Same number, different text: the server must not re-format `expire`.
    let padded = v1_signature(KEY, TOKEN, "01735689600");
    assert_ne!(padded, SIGNATURE);
    assert!(!verify_v1_signature(KEY, TOKEN, "01735689600", SIGNATURE));
    // token ‖ expire is a plain concatenation.
    assert_eq!(
        v1_signature(KEY, "9e9f1f5c-7a8e-4a55-9c1e-3c1f0b7d2a111735", "689600"),
        SIGNATURE
    );
}

#[test]
fn expire_window_boundaries() {
    let now = 1_735_689_000;
    let at = |offset: i64| parse_v1_expire(&(now + offset).to_string(), now);
    assert_eq!(at(1), Ok(now + 1));
    assert_eq!(at(3600), Ok(now + 3600));
    assert_eq!(at(3601), Err(ExpireError::TooFarInFuture));
    assert_eq!(at(7200), Err(ExpireError::TooFarInFuture));
    assert_eq!(at(0), Err(ExpireError::Expired));
    assert_eq!(at(-100), Err(ExpireError::Expired));
    let ms = ((now + 600) * 1000).to_string();
    assert_eq!(parse_v1_expire(&ms, now), Err(ExpireError::TooFarInFuture));
}

#[test]
fn expire_must_be_plain_decimal_digits() {
    let now = 1_735_689_000;
    for text in [
        "",
        " 1735689600",
        "1735689600 ",
        "+1735689600",
        "-1",
        "1735689600.0",
        "1.7e9",
        "0x67748580",
        "17356896OO",
        "99999999999999999999",
        "１７３５６８９６００",
    ] {
        assert_eq!(
            parse_v1_expire(text, now),
            Err(ExpireError::NotAnInteger),
            "{text:?}"
        );
    }
    // Leading zeros would let a token's trailing `0` move into `expire` under one signature.
    for text in ["01735689600", "00001735689600", "0"] {
        assert_eq!(
            parse_v1_expire(text, now),
            Err(ExpireError::NotCanonical),
            "{text:?}"
        );
    }
    assert_eq!(parse_v1_expire("5", i64::MAX), Err(ExpireError::Expired));
    assert_eq!(
        parse_v1_expire("9223372036854775807", i64::MAX - 1),
        Ok(i64::MAX)
    );
}

#[test]
fn authentication_parameters_defaults() {
    let before = unix_now();
    let p = authentication_parameters(KEY, None, None);
    let after = unix_now();
    assert!((before + DEFAULT_V1_EXPIRE_SECS..=after + DEFAULT_V1_EXPIRE_SECS).contains(&p.expire));

    let groups: Vec<&str> = p.token.split('-').collect();
    assert_eq!(
        groups.iter().map(|g| g.len()).collect::<Vec<_>>(),
        [8, 4, 4, 4, 12]
    );
    assert!(groups[2].starts_with('4'));
    assert!(p
        .token
        .bytes()
        .all(|b| b == b'-' || b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));

    assert!(verify_v1_signature(
        KEY,
        &p.token,
        &p.expire.to_string(),
        &p.signature
    ));
    assert!(parse_v1_expire(&p.expire.to_string(), after).is_ok());

    let q = authentication_parameters(KEY, Some(""), None);
    assert_ne!(q.token, "");
    assert_ne!(q.token, p.token);
}

#[test]
fn authentication_parameters_given_values_and_json_shape() {
    let p = authentication_parameters(KEY, Some(TOKEN), Some(1_735_689_600));
    assert_eq!(p.token, TOKEN);
    assert_eq!(p.expire, 1_735_689_600);
    assert_eq!(p.signature, SIGNATURE);
    assert_eq!(
        serde_json::to_string(&p).unwrap(),
        format!(r#"{{"token":"{TOKEN}","expire":1735689600,"signature":"{SIGNATURE}"}}"#)
    );
}
