//! The tus 1.0.0 wire format: header values in and out, checksums. Pure, so it is tested (and
//! fuzzed) without a server.

use base64::Engine;
use md5::Digest as _;

use crate::error::AppError;

pub const VERSION: &str = "1.0.0";
pub const EXTENSIONS: &str = "creation,creation-with-upload,termination,expiration,checksum";
pub const CHECKSUM_ALGORITHMS: &str = "sha1,md5,crc32";
/// The content type of every body that carries upload bytes.
pub const OFFSET_OCTET_STREAM: &str = "application/offset+octet-stream";

pub const TUS_RESUMABLE: &str = "tus-resumable";
pub const UPLOAD_LENGTH: &str = "upload-length";
pub const UPLOAD_OFFSET: &str = "upload-offset";
pub const UPLOAD_METADATA: &str = "upload-metadata";
pub const UPLOAD_EXPIRES: &str = "upload-expires";
pub const UPLOAD_CHECKSUM: &str = "upload-checksum";
pub const UPLOAD_DEFER_LENGTH: &str = "upload-defer-length";
pub const METHOD_OVERRIDE: &str = "x-http-method-override";

/// An `Upload-Offset` or `Upload-Length`: a non-negative decimal integer, digits only.
pub fn parse_size(value: &str) -> Option<u64> {
    if value.is_empty() || value.len() > 20 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

/// One `Upload-Metadata` pair: the key and its decoded value (absent for a bare key).
pub type MetadataPair = (String, Option<Vec<u8>>);

/// Reads `Upload-Metadata`: comma-separated `key base64` pairs, a key alone for an empty value.
/// Keys are non-empty, unique, without spaces or commas; values are standard base64.
pub fn parse_metadata(header: &str) -> Option<Vec<MetadataPair>> {
    let mut pairs: Vec<MetadataPair> = Vec::new();
    if header.trim().is_empty() {
        return Some(pairs);
    }
    for item in header.split(',') {
        let item = item.trim();
        let mut words = item.split(' ');
        let key = words.next().filter(|k| !k.is_empty())?;
        let value = match words.next() {
            Some(v) => Some(base64::engine::general_purpose::STANDARD.decode(v).ok()?),
            None => None,
        };
        if words.next().is_some() || pairs.iter().any(|(k, _)| k == key) {
            return None;
        }
        pairs.push((key.to_owned(), value));
    }
    Some(pairs)
}

/// Writes pairs back in the `Upload-Metadata` form.
pub fn render_metadata(pairs: &[MetadataPair]) -> String {
    pairs
        .iter()
        .map(|(key, value)| match value {
            Some(v) => format!(
                "{key} {}",
                base64::engine::general_purpose::STANDARD.encode(v)
            ),
            None => key.clone(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// An `Upload-Checksum`: the algorithm's running state and the digest the chunk must have.
pub struct Checksum {
    hasher: Hasher,
    expected: Vec<u8>,
}

enum Hasher {
    Sha1(sha1::Sha1),
    Md5(md5::Md5),
    Crc32(crc32fast::Hasher),
}

impl Checksum {
    /// `<algorithm> <base64 digest>`; an algorithm outside [`CHECKSUM_ALGORITHMS`] is
    /// `TusChecksumAlgorithm`, anything unreadable `TusHeader`.
    pub fn parse(header: &str) -> Result<Checksum, AppError> {
        let bad = || AppError::TusHeader("Upload-Checksum");
        let (algorithm, digest) = header.trim().split_once(' ').ok_or_else(bad)?;
        let expected = base64::engine::general_purpose::STANDARD
            .decode(digest.trim())
            .map_err(|_| bad())?;
        let (hasher, len) = match algorithm.to_ascii_lowercase().as_str() {
            "sha1" => (Hasher::Sha1(sha1::Sha1::new()), 20),
            "md5" => (Hasher::Md5(md5::Md5::new()), 16),
            "crc32" => (Hasher::Crc32(crc32fast::Hasher::new()), 4),
            _ => return Err(AppError::TusChecksumAlgorithm),
        };
        if expected.len() != len {
            return Err(bad());
        }
        Ok(Checksum { hasher, expected })
    }

    pub fn update(&mut self, bytes: &[u8]) {
        match &mut self.hasher {
            Hasher::Sha1(h) => h.update(bytes),
            Hasher::Md5(h) => h.update(bytes),
            Hasher::Crc32(h) => h.update(bytes),
        }
    }

    /// Whether the bytes fed so far have the expected digest (constant time: the digest is
    /// the client's own, but nothing is lost by not leaking it).
    pub fn matches(self) -> bool {
        use subtle::ConstantTimeEq;
        let actual = match self.hasher {
            Hasher::Sha1(h) => h.finalize().to_vec(),
            Hasher::Md5(h) => h.finalize().to_vec(),
            Hasher::Crc32(h) => h.finalize().to_be_bytes().to_vec(),
        };
        actual.ct_eq(&self.expected).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_plain_decimal() {
        assert_eq!(parse_size("0"), Some(0));
        assert_eq!(parse_size("67108864"), Some(64 << 20));
        for bad in [
            "",
            "-1",
            "+1",
            " 1",
            "1.0",
            "0x10",
            "99999999999999999999999",
        ] {
            assert_eq!(parse_size(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn metadata_reads_pairs_and_bare_keys() {
        let pairs = parse_metadata("filename d29ybGRfZG9taW5hdGlvbl9wbGFuLnBkZg==,is_confidential")
            .expect("valid");
        assert_eq!(
            pairs,
            vec![
                (
                    "filename".to_owned(),
                    Some(b"world_domination_plan.pdf".to_vec())
                ),
                ("is_confidential".to_owned(), None),
            ]
        );
        assert_eq!(
            render_metadata(&pairs),
            "filename d29ybGRfZG9taW5hdGlvbl9wbGFuLnBkZg==,is_confidential"
        );
        assert_eq!(parse_metadata(""), Some(vec![]));
        for bad in ["a !!!", "a YQ==,a YQ==", ",a", "a YQ== b", "a  YQ=="] {
            assert_eq!(parse_metadata(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn checksums_of_each_algorithm() {
        // Digests of "hello" from the usual command-line tools.
        for (header, ok) in [
            ("sha1 qvTGHdzF6KLavt4PO0gs2a6pQ00=", true),
            ("md5 XUFAKrxLKna5cZ2REBfFkg==", true),
            ("crc32 NhCmhg==", true),
            ("sha1 AAAAAAAAAAAAAAAAAAAAAAAAAAA=", false),
        ] {
            let mut c = Checksum::parse(header).expect(header);
            c.update(b"hel");
            c.update(b"lo");
            assert_eq!(c.matches(), ok, "{header}");
        }
        assert!(matches!(
            Checksum::parse("sha256 qvTGHdzF6KLavt4PO0gs2a6pQ00="),
            Err(AppError::TusChecksumAlgorithm)
        ));
        for bad in ["sha1", "sha1 !!", "sha1 YQ=="] {
            assert!(matches!(Checksum::parse(bad), Err(AppError::TusHeader(_))));
        }
    }
}
