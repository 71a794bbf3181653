//! Identifiers handed out by the server.

use rand::Rng;
use std::time::{SystemTime, UNIX_EPOCH};

/// A 24-hex-character id shaped like a MongoDB ObjectId (4-byte big-endian timestamp, then 8
/// random bytes), as spec §4.5 describes: clients treat it as opaque, but ids sort roughly by
/// creation time, which keeps index inserts local.
pub fn object_id() -> String {
    let secs = now_secs().clamp(0, i64::from(u32::MAX)) as u32;
    let mut bytes = [0u8; 12];
    bytes[..4].copy_from_slice(&secs.to_be_bytes());
    rand::rng().fill(&mut bytes[4..]);
    hex::encode(bytes)
}

/// Whether `s` has the shape of an id made by [`object_id`].
pub fn is_object_id(s: &str) -> bool {
    s.len() == 24 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

pub fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

pub fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A random key in ImageKit's style: `prefix` + 32 url-safe characters.
pub fn api_key(prefix: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    let tail: String = (0..32)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect();
    format!("{prefix}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_ids_are_24_hex_and_distinct() {
        let a = object_id();
        let b = object_id();
        assert!(is_object_id(&a), "{a}");
        assert_ne!(a, b);
        assert!(!is_object_id("598821f949c0a938d57563bG"));
        assert!(!is_object_id("598821f949c0a938d57563b"));
    }

    #[test]
    fn api_keys_carry_their_prefix() {
        let k = api_key("private_");
        assert!(k.starts_with("private_"));
        assert_eq!(k.len(), "private_".len() + 32);
    }
}
