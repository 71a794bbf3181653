//! Signing deliveries (webhooks.md §1): Standard Webhooks headers, which the official SDKs'
//! `webhooks.unwrap` verify, and the older `x-ik-signature`, so receivers of both generations
//! verify the same request.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use standardwebhooks::Webhook;

pub const WEBHOOK_ID: &str = "webhook-id";
pub const WEBHOOK_TIMESTAMP: &str = "webhook-timestamp";
pub const WEBHOOK_SIGNATURE: &str = "webhook-signature";
pub const IK_SIGNATURE: &str = "x-ik-signature";

/// The signature headers of one attempt: `webhook-id`, `webhook-timestamp` (seconds),
/// `webhook-signature` (one `v1,…` per secret, space-separated: during a rotation both verify)
/// and `x-ik-signature` (`t=<ms>,v1=<hex>`, under the first secret).
///
/// The key is the UTF-8 text of the secret as the operator sees it, `whsec_` prefix included:
/// that is what the SDKs derive (they base64-encode the secret and the Standard Webhooks library
/// decodes it again), so the library gets the bytes, never the text.
pub fn headers(
    message_id: &str,
    now_ms: i64,
    body: &[u8],
    secrets: &[&str],
) -> anyhow::Result<Vec<(&'static str, String)>> {
    let seconds = now_ms.div_euclid(1000);
    let mut signatures = Vec::with_capacity(secrets.len());
    for secret in secrets {
        let signer = Webhook::from_bytes(secret.as_bytes().to_vec())?;
        signatures.push(signer.sign(message_id, seconds, body)?);
    }
    let first = secrets.first().copied().unwrap_or_default();
    Ok(vec![
        (WEBHOOK_ID, message_id.to_owned()),
        (WEBHOOK_TIMESTAMP, seconds.to_string()),
        (WEBHOOK_SIGNATURE, signatures.join(" ")),
        (IK_SIGNATURE, ik_signature(first, now_ms, body)),
    ])
}

/// `t=<Unix ms>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
fn ik_signature(secret: &str, t: i64, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"));
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    fn header<'a>(headers: &'a [(&str, String)], name: &str) -> &'a str {
        headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    }

    #[test]
    fn the_key_is_the_secret_text_as_the_sdks_derive_it() {
        let secret = "whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQ=";
        let h = headers("msg_1", 1_700_000_000_123, b"{}", &[secret]).expect("signed");
        assert_eq!(header(&h, WEBHOOK_TIMESTAMP), "1700000000");
        assert_eq!(header(&h, WEBHOOK_ID), "msg_1");
        // What the SDKs do: base64 of the secret text, handed to a Standard Webhooks verifier,
        // which strips no prefix from it and decodes it back to the text. The verifier checks
        // the timestamp against the real clock, so this delivery is signed now.
        let encoded = base64::engine::general_purpose::STANDARD.encode(secret);
        let verifier = Webhook::new(&encoded).expect("key");
        let now = crate::ids::now_millis();
        let fresh = headers("msg_1", now, b"{\"a\":1}", &[secret]).expect("signed");
        let mut map = http::HeaderMap::new();
        for (name, value) in &fresh {
            map.insert(*name, value.parse().expect("header value"));
        }
        verifier.verify(b"{\"a\":1}", &map).expect("verifies");
        assert!(
            verifier.verify(b"{\"a\":2}", &map).is_err(),
            "tampered body"
        );
        // The trap of webhooks.md §1: the secret text given to the library as is is another
        // key.
        let wrong = Webhook::new(secret).expect("key");
        assert!(wrong.verify(b"{\"a\":1}", &map).is_err());
    }

    #[test]
    fn rotation_signs_with_both_secrets() {
        let now = crate::ids::now_millis();
        let h = headers(
            "m",
            now,
            b"x",
            &["whsec_new-new-new-new-new", "whsec_old-old-old-old-old"],
        )
        .expect("signed");
        let sigs: Vec<&str> = header(&h, WEBHOOK_SIGNATURE).split(' ').collect();
        assert_eq!(sigs.len(), 2);
        assert!(sigs.iter().all(|s| s.starts_with("v1,")));
        assert_ne!(sigs[0], sigs[1]);
    }

    #[test]
    fn ik_signature_is_hmac_of_millis_dot_body() {
        let h = headers("m", 1_700_000_000_123, b"body", &["k"]).expect("signed");
        let value = header(&h, IK_SIGNATURE);
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(b"k").expect("key");
        mac.update(b"1700000000123.body");
        let want = format!(
            "t=1700000000123,v1={}",
            hex::encode(mac.finalize().into_bytes())
        );
        assert_eq!(value, want);
    }
}
