//! Streaming decoder for a `file` sent as base64 text (spec §3.3 rule 3).
//!
//! Accepts plain base64 and data URIs (`data:<type>;base64,<payload>`), in the standard or
//! URL-safe alphabet, with or without padding, ignoring ASCII whitespace anywhere (some
//! encoders insert line breaks). Text arrives in arbitrary chunks; the decoder keeps at most
//! three pending characters between them, so memory stays constant.

use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;

const ENGINE: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(true),
);

/// The longest data-URI header we wait for before deciding the text is not one.
const MAX_DATA_URI_HEADER: usize = 1024;

#[derive(Debug, PartialEq, Eq)]
pub struct InvalidBase64;

#[derive(Default)]
pub struct Base64Decoder {
    /// Characters of the standard alphabet not decoded yet (always fewer than four after a
    /// push returns).
    pending: Vec<u8>,
    /// The start of the text while it may still be a data-URI header.
    header: Option<Vec<u8>>,
    started: bool,
    /// `=` seen: only more padding and whitespace may follow.
    padded: bool,
}

impl Base64Decoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Decodes what can be decoded of `chunk`, keeping an incomplete quantum for later.
    pub fn push(&mut self, chunk: &[u8]) -> Result<Vec<u8>, InvalidBase64> {
        let mut input = chunk;
        let owned;
        if !self.started {
            let mut header = self.header.take().unwrap_or_default();
            header.extend_from_slice(chunk);
            let trimmed = trim_start(&header);
            if trimmed.len() >= 5 || !is_prefix_of_data(trimmed) {
                if trimmed.len() >= 5 && trimmed[..5].eq_ignore_ascii_case(b"data:") {
                    match trimmed.iter().position(|b| *b == b',') {
                        Some(comma) => {
                            owned = trimmed[comma + 1..].to_vec();
                            input = &owned;
                            self.started = true;
                        }
                        None if header.len() > MAX_DATA_URI_HEADER => return Err(InvalidBase64),
                        None => {
                            self.header = Some(header);
                            return Ok(Vec::new());
                        }
                    }
                } else {
                    owned = header;
                    input = &owned;
                    self.started = true;
                }
            } else {
                self.header = Some(header);
                return Ok(Vec::new());
            }
        }

        for &b in input {
            let c = match b {
                b' ' | b'\t' | b'\r' | b'\n' | b'\x0c' => continue,
                b'=' => {
                    self.padded = true;
                    continue;
                }
                _ if self.padded => return Err(InvalidBase64),
                b'-' => b'+',
                b'_' => b'/',
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'+' | b'/' => b,
                _ => return Err(InvalidBase64),
            };
            self.pending.push(c);
        }
        let whole = self.pending.len() / 4 * 4;
        let out = ENGINE
            .decode(&self.pending[..whole])
            .map_err(|_| InvalidBase64)?;
        self.pending.drain(..whole);
        Ok(out)
    }

    /// Decodes the last, possibly unpadded, quantum.
    pub fn finish(mut self) -> Result<Vec<u8>, InvalidBase64> {
        if !self.started {
            if let Some(header) = self.header.take() {
                self.started = true;
                let mut out = self.push(&header)?;
                out.extend(self.finish_pending()?);
                return Ok(out);
            }
        }
        self.finish_pending()
    }

    fn finish_pending(&self) -> Result<Vec<u8>, InvalidBase64> {
        match self.pending.len() {
            0 => Ok(Vec::new()),
            1 => Err(InvalidBase64),
            _ => ENGINE.decode(&self.pending).map_err(|_| InvalidBase64),
        }
    }
}

fn trim_start(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|c| c.is_ascii_whitespace()).count();
    &b[n..]
}

fn is_prefix_of_data(b: &[u8]) -> bool {
    b.len() < 5 && b.eq_ignore_ascii_case(&b"data:"[..b.len()])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_in_chunks(text: &str, size: usize) -> Result<Vec<u8>, InvalidBase64> {
        let mut d = Base64Decoder::new();
        let mut out = Vec::new();
        for chunk in text.as_bytes().chunks(size) {
            out.extend(d.push(chunk)?);
        }
        out.extend(d.finish()?);
        Ok(out)
    }

    const GIF: &str = "R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7";

    #[test]
    fn every_accepted_form_decodes_the_same_bytes() {
        let expected = base64::engine::general_purpose::STANDARD
            .decode(GIF)
            .expect("vector");
        let with_breaks: String = GIF
            .as_bytes()
            .chunks(10)
            .map(|c| format!("{}\n", std::str::from_utf8(c).expect("ascii")))
            .collect();
        let inputs = [
            GIF.to_owned(),
            format!("data:image/gif;base64,{GIF}"),
            format!("  DATA:image/gif;base64,{with_breaks}"),
            with_breaks.clone(),
            GIF.trim_end_matches('=').to_owned(),
        ];
        for input in &inputs {
            for size in [1, 2, 3, 5, 7, 64, 4096] {
                assert_eq!(
                    decode_in_chunks(input, size).as_deref(),
                    Ok(&expected[..]),
                    "{input:?} in chunks of {size}"
                );
            }
        }
    }

    #[test]
    fn url_safe_alphabet_is_accepted() {
        let bytes: Vec<u8> = (0..=255u8).collect();
        let url_safe = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes);
        assert!(url_safe.contains('-') || url_safe.contains('_'));
        assert_eq!(decode_in_chunks(&url_safe, 13), Ok(bytes));
    }

    #[test]
    fn garbage_is_refused() {
        assert_eq!(decode_in_chunks("abc$", 4), Err(InvalidBase64));
        assert_eq!(decode_in_chunks("QQ==QQ", 4), Err(InvalidBase64));
        assert_eq!(decode_in_chunks("Q", 4), Err(InvalidBase64));
        // a data-URI header that never reaches its comma
        assert_eq!(
            decode_in_chunks("data:image/png;base64", 4),
            Err(InvalidBase64)
        );
    }

    #[test]
    fn short_texts_are_decoded() {
        assert_eq!(decode_in_chunks("QQ", 1), Ok(b"A".to_vec()));
        assert_eq!(decode_in_chunks("dat", 1), Ok(vec![0x75, 0xab]));
        assert_eq!(decode_in_chunks("", 1), Ok(vec![]));
    }
}
