//! Content-type detection (spec §3.3): binary formats by magic number, text
//! formats by file extension, everything else `application/octet-stream`.

use crate::{bmff, ebml, svg};

/// What the bytes are, as far as the rest of the crate cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Detected {
    pub mime: &'static str,
    pub format: Option<&'static str>,
    pub kind: Kind,
}

/// Which parser family knows how to read facts out of the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Jpeg,
    Png,
    Gif,
    WebP,
    Bmp,
    Tiff,
    Ico,
    /// HEIF-family still images (AVIF, HEIC): ISO-BMFF with an item-based `meta` box.
    Heif,
    Svg,
    /// ISO-BMFF movies (MP4, MOV, 3GP, M4A).
    IsoMedia,
    /// EBML movies (WebM, Matroska).
    Matroska,
    Other,
}

pub(crate) const OCTET_STREAM: &str = "application/octet-stream";

const fn detected(mime: &'static str, format: &'static str, kind: Kind) -> Detected {
    Detected {
        mime,
        format: Some(format),
        kind,
    }
}

const UNKNOWN: Detected = Detected {
    mime: OCTET_STREAM,
    format: None,
    kind: Kind::Other,
};

pub(crate) fn detect(head: &[u8], file_name: &str) -> Detected {
    if let Some(d) = sniff_binary(head) {
        return d;
    }
    if looks_like_text(head) {
        // SVG is text, but it is an image: recognise it by its root element so
        // that a drawing uploaded as `logo.txt` (or without extension) is still
        // treated as an image, and HTML that merely embeds `<svg>` is not.
        if svg::is_svg(head) {
            return detected("image/svg+xml", "svg", Kind::Svg);
        }
        return by_extension(file_name).unwrap_or(UNKNOWN);
    }
    UNKNOWN
}

/// Magic-number detection. Our own checks come first for the formats whose
/// facts we extract (so the `Kind` and the MIME always agree), then the
/// `infer` table for the long tail.
fn sniff_binary(head: &[u8]) -> Option<Detected> {
    if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Some(detected("image/jpeg", "jpg", Kind::Jpeg));
    }
    if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Some(detected("image/png", "png", Kind::Png));
    }
    if head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a") {
        return Some(detected("image/gif", "gif", Kind::Gif));
    }
    if head.len() >= 12 && head.starts_with(b"RIFF") && &head[8..12] == b"WEBP" {
        return Some(detected("image/webp", "webp", Kind::WebP));
    }
    if is_bmp(head) {
        return Some(detected("image/bmp", "bmp", Kind::Bmp));
    }
    if head.starts_with(b"II*\0") || head.starts_with(b"MM\0*") {
        return Some(detected("image/tiff", "tiff", Kind::Tiff));
    }
    if is_ico(head) {
        return Some(detected("image/x-icon", "ico", Kind::Ico));
    }
    if let Some(d) = bmff::classify_ftyp(head) {
        return Some(d);
    }
    if let Some(d) = ebml::classify(head) {
        return Some(d);
    }
    if head.starts_with(b"%PDF-") {
        return Some(detected("application/pdf", "pdf", Kind::Other));
    }
    let t = infer::get(head)?;
    if t.matcher_type() == infer::MatcherType::Text {
        // `infer` also guesses HTML/XML/shell from text; §3.3 says text is
        // typed by extension, so those guesses are not used.
        return None;
    }
    Some(normalise_infer(t.mime_type(), t.extension()))
}

/// `infer` uses a few legacy or vendor spellings; map them to the types
/// browsers and the IANA registry use today.
fn normalise_infer(mime: &'static str, ext: &'static str) -> Detected {
    let (mime, ext) = match (mime, ext) {
        ("application/font-woff", "woff") => ("font/woff", "woff"),
        ("application/font-woff", "woff2") => ("font/woff2", "woff2"),
        ("application/font-sfnt", "ttf") => ("font/ttf", "ttf"),
        ("application/font-sfnt", "otf") => ("font/otf", "otf"),
        ("audio/x-wav", e) => ("audio/wav", e),
        ("audio/x-flac", e) => ("audio/flac", e),
        ("image/vnd.microsoft.icon", e) => ("image/x-icon", e),
        ("application/octet-stream", _) => return UNKNOWN,
        (m, "tif") => (m, "tiff"),
        (m, e) => (m, e),
    };
    let kind = Kind::Other;
    Detected {
        mime,
        format: Some(ext),
        kind,
    }
}

fn is_bmp(head: &[u8]) -> bool {
    // "BM" alone is too weak (plenty of text starts with it); also require a
    // known DIB header size.
    if !head.starts_with(b"BM") || head.len() < 18 {
        return false;
    }
    let dib = u32::from_le_bytes([head[14], head[15], head[16], head[17]]);
    matches!(dib, 12 | 16 | 40 | 52 | 56 | 64 | 108 | 124)
}

fn is_ico(head: &[u8]) -> bool {
    // reserved=0, type=1 (icon), at least one image, and a zero reserved byte
    // in the first directory entry.
    head.len() >= 22
        && head.starts_with(&[0, 0, 1, 0])
        && u16::from_le_bytes([head[4], head[5]]) > 0
        && head[9] == 0
}

/// Heuristic: UTF-8 (a BOM is allowed) without control characters other than
/// the usual whitespace. A multi-byte character cut by the end of the sniffed
/// head still counts as text.
pub(crate) fn looks_like_text(head: &[u8]) -> bool {
    let body = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let valid = match std::str::from_utf8(body) {
        Ok(s) => s,
        Err(e) if e.error_len().is_none() && body.len() - e.valid_up_to() < 4 => {
            match std::str::from_utf8(&body[..e.valid_up_to()]) {
                Ok(s) => s,
                Err(_) => return false,
            }
        }
        Err(_) => return false,
    };
    valid
        .chars()
        .all(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r' | '\x0C' | '\x1B'))
}

/// Text types by extension (§3.3). The names follow the common MIME
/// databases so that clients comparing against them (e.g. `checks` with
/// `file.mime`) see familiar values.
fn by_extension(file_name: &str) -> Option<Detected> {
    let ext = std::path::Path::new(file_name)
        .extension()?
        .to_str()?
        .to_ascii_lowercase();
    let (mime, format) = match ext.as_str() {
        "txt" | "text" | "log" => ("text/plain", "txt"),
        "json" | "map" => ("application/json", "json"),
        "css" => ("text/css", "css"),
        "js" | "mjs" | "cjs" => ("application/javascript", "js"),
        "html" | "htm" => ("text/html", "html"),
        "csv" => ("text/csv", "csv"),
        "tsv" => ("text/tab-separated-values", "tsv"),
        "xml" => ("application/xml", "xml"),
        "md" | "markdown" => ("text/markdown", "md"),
        "yaml" | "yml" => ("text/yaml", "yaml"),
        "vtt" => ("text/vtt", "vtt"),
        "srt" => ("application/x-subrip", "srt"),
        "ics" => ("text/calendar", "ics"),
        // An `.svg` whose root element could not be found in the head
        // (e.g. a very long prologue) is still declared SVG by its name.
        "svg" => return Some(detected("image/svg+xml", "svg", Kind::Svg)),
        _ => return None,
    };
    Some(detected(mime, format, Kind::Other))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_heuristic() {
        assert!(looks_like_text(b""));
        assert!(looks_like_text("héllo\n".as_bytes()));
        // cut in the middle of "é"
        assert!(looks_like_text(&"hé".as_bytes()[..2]));
        assert!(!looks_like_text(b"a\0b"));
        assert!(!looks_like_text(&[0xC3, 0x28, b'a', b'b', b'c']));
    }

    #[test]
    fn extension_rules() {
        assert_eq!(detect(b"hello", "a.TXT").mime, "text/plain");
        assert_eq!(detect(b"hello", "noext").mime, OCTET_STREAM);
        assert_eq!(detect(b"hello", ".txt").mime, OCTET_STREAM);
        assert_eq!(detect(b"<p>x</p>", "x.html").mime, "text/html");
        // binary content with a text extension is still binary
        assert_eq!(detect(&[0, 1, 2, 3, 0xFF], "x.txt").mime, OCTET_STREAM);
        // magic wins over a misleading name
        assert_eq!(detect(b"%PDF-1.4\n", "x.txt").mime, "application/pdf");
    }

    #[test]
    fn infer_fallback_normalised() {
        let zip = b"PK\x03\x04\x14\0\0\0\0\0";
        assert_eq!(detect(zip, "a.zip").mime, "application/zip");
        let gz = [0x1F, 0x8B, 0x08, 0, 0, 0, 0, 0, 0, 3];
        assert_eq!(detect(&gz, "a").mime, "application/gzip");
        assert_eq!(detect(b"wOF2\0\x01\0\0", "a").mime, "font/woff2");
        assert_eq!(detect(b"ID3\x03\0\0\0\0\0\0", "a").mime, "audio/mpeg");
        assert_eq!(detect(b"wOFF\0\x01\0\0", "a").mime, "font/woff");
        assert_eq!(detect(b"RIFF\0\0\0\0WAVEfmt ", "a").mime, "audio/wav");
        assert_eq!(detect(b"OggS\0\x02\0\0\0\0\0\0\0\0", "a").mime, "audio/ogg");
        // RIFF that is neither WebP nor WAV must not be taken for WebP
        assert_ne!(detect(b"RIFF\0\0\0\0AVI LIST", "a").mime, "image/webp");
    }
}
