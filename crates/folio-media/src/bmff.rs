//! ISO base media file format (MP4, MOV, 3GP, HEIF/AVIF): brand
//! classification and movie facts from the `moov` box.
//!
//! Only what lies inside the sniffed head can be read. Encoders that write the
//! `moov` box after the media data (no "fast start") produce files whose video
//! facts are unknown here unless the whole file fits in the head.

use crate::detect::{Detected, Kind};
use crate::VideoFacts;

/// Iterates over the boxes laid out back to back in `data`. A box whose
/// declared size runs past the end of `data` is returned truncated (so a
/// `moov` cut by the end of the head still yields its first children), and
/// iteration stops after it.
pub(crate) struct Boxes<'a> {
    data: &'a [u8],
}

pub(crate) fn boxes(data: &[u8]) -> Boxes<'_> {
    Boxes { data }
}

impl<'a> Iterator for Boxes<'a> {
    type Item = ([u8; 4], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let d = self.data;
        if d.len() < 8 {
            return None;
        }
        let size32 = u32::from_be_bytes([d[0], d[1], d[2], d[3]]);
        let kind = [d[4], d[5], d[6], d[7]];
        let (header, size) = match size32 {
            // size 0: the box extends to the end of the file
            0 => (8usize, d.len() as u64),
            1 => {
                if d.len() < 16 {
                    return None;
                }
                let mut b = [0u8; 8];
                b.copy_from_slice(&d[8..16]);
                (16usize, u64::from_be_bytes(b))
            }
            n => (8usize, u64::from(n)),
        };
        if size < header as u64 {
            self.data = &[];
            return None;
        }
        let end = usize::try_from(size).unwrap_or(usize::MAX).min(d.len());
        let body = &d[header.min(end)..end];
        self.data = &d[end..];
        Some((kind, body))
    }
}

fn child<'a>(data: &'a [u8], kind: &[u8; 4]) -> Option<&'a [u8]> {
    boxes(data).find(|(k, _)| k == kind).map(|(_, b)| b)
}

fn be_u16(d: &[u8], at: usize) -> Option<u16> {
    let b = d.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([b[0], b[1]]))
}

fn be_u32(d: &[u8], at: usize) -> Option<u32> {
    let b = d.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

fn be_u64(d: &[u8], at: usize) -> Option<u64> {
    let b = d.get(at..at.checked_add(8)?)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    Some(u64::from_be_bytes(a))
}

/// Types the file from its `ftyp` box (major and compatible brands).
pub(crate) fn classify_ftyp(head: &[u8]) -> Option<Detected> {
    if head.len() < 12 || &head[4..8] != b"ftyp" {
        return None;
    }
    let (_, body) = boxes(head).next()?;
    let major = body.get(0..4)?;
    let compatible: Vec<&[u8]> = body.get(8..).unwrap_or(&[]).chunks_exact(4).collect();
    let has = |b: &[u8; 4]| major == b || compatible.iter().any(|c| *c == b);

    let d = |mime, format, kind| Detected {
        mime,
        format: Some(format),
        kind,
    };
    // Order matters: AVIF files also list the generic HEIF brands, and many
    // MP4s list `isom` alongside a more specific major brand.
    if has(b"avif") || has(b"avis") {
        return Some(d("image/avif", "avif", Kind::Heif));
    }
    if [b"heic", b"heix", b"heim", b"heis"].iter().any(|b| has(b)) {
        return Some(d("image/heic", "heic", Kind::Heif));
    }
    if [b"hevc", b"hevx"].iter().any(|b| has(b)) {
        return Some(d("image/heic-sequence", "heic", Kind::Heif));
    }
    if has(b"mif1") || has(b"msf1") {
        return Some(d("image/heif", "heif", Kind::Heif));
    }
    match major {
        b"qt  " => return Some(d("video/quicktime", "mov", Kind::IsoMedia)),
        b"M4A " | b"M4B " => return Some(d("audio/mp4", "m4a", Kind::IsoMedia)),
        b"M4V " | b"M4VH" | b"M4VP" => return Some(d("video/mp4", "m4v", Kind::IsoMedia)),
        _ => {}
    }
    if major.starts_with(b"3g2") {
        return Some(d("video/3gpp2", "3g2", Kind::IsoMedia));
    }
    if major.starts_with(b"3gp") || major.starts_with(b"3ge") || major.starts_with(b"3gg") {
        return Some(d("video/3gpp", "3gp", Kind::IsoMedia));
    }
    const MP4_BRANDS: [&[u8; 4]; 12] = [
        b"isom", b"iso2", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1", b"dash", b"mmp4",
        b"MSNV", b"f4v ",
    ];
    if MP4_BRANDS.iter().any(|b| has(b)) {
        return Some(d("video/mp4", "mp4", Kind::IsoMedia));
    }
    // Unknown brand (e.g. camera raw formats built on ISO-BMFF): let the
    // generic magic table decide.
    None
}

#[derive(Default)]
struct Track {
    handler: Option<[u8; 4]>,
    codec: Option<String>,
    width: Option<u32>,
    height: Option<u32>,
    duration_secs: Option<f64>,
}

/// Movie facts from the `moov` box, when it lies within `head`.
pub(crate) fn video_facts(
    head: &[u8],
    total_size: u64,
) -> Option<(VideoFacts, Option<(u32, u32)>)> {
    let moov = boxes(head).find(|(k, _)| k == b"moov").map(|(_, b)| b)?;
    let mut duration = child(moov, b"mvhd").and_then(parse_mvhd);
    let mut video: Option<Track> = None;
    let mut audio: Option<Track> = None;
    let mut longest_track: Option<f64> = None;
    for (kind, trak) in boxes(moov) {
        if &kind != b"trak" {
            continue;
        }
        let t = parse_trak(trak);
        if let Some(d) = t.duration_secs {
            longest_track = Some(longest_track.map_or(d, |l: f64| l.max(d)));
        }
        match &t.handler {
            Some(h) if h == b"vide" && video.is_none() => video = Some(t),
            Some(h) if h == b"soun" && audio.is_none() => audio = Some(t),
            _ => {}
        }
    }
    // Fragmented MP4s carry a zero movie duration; fall back to the tracks.
    if duration.is_none_or(|d| d <= 0.0) {
        duration = longest_track;
    }
    let dims = video
        .as_ref()
        .and_then(|v| Some((v.width?, v.height?)))
        .filter(|(w, h)| *w > 0 && *h > 0);
    let facts = VideoFacts {
        duration_secs: duration.filter(|d| d.is_finite() && *d > 0.0),
        video_codec: video.and_then(|v| v.codec),
        audio_codec: audio.and_then(|a| a.codec),
        bit_rate: None,
    };
    Some((facts.with_bit_rate(total_size), dims))
}

/// Movie header: timescale and duration (version 0: 32-bit, version 1: 64-bit).
fn parse_mvhd(b: &[u8]) -> Option<f64> {
    let (timescale, duration) = match b.first()? {
        0 => (be_u32(b, 12)?, u64::from(be_u32(b, 16)?)),
        1 => (be_u32(b, 20)?, be_u64(b, 24)?),
        _ => return None,
    };
    scaled_duration(timescale, duration, b[0])
}

fn scaled_duration(timescale: u32, duration: u64, version: u8) -> Option<f64> {
    // All-ones means "unknown" in both header versions.
    let unknown = if version == 0 {
        u64::from(u32::MAX)
    } else {
        u64::MAX
    };
    if timescale == 0 || duration == unknown {
        return None;
    }
    Some(duration as f64 / f64::from(timescale))
}

fn parse_trak(trak: &[u8]) -> Track {
    let mut t = Track::default();
    if let Some(tkhd) = child(trak, b"tkhd") {
        // width/height are 16.16 fixed point at the end of the box
        let at = match tkhd.first() {
            Some(0) => Some(76),
            Some(1) => Some(88),
            _ => None,
        };
        if let Some(at) = at {
            t.width = be_u32(tkhd, at).map(|w| w >> 16);
            t.height = be_u32(tkhd, at + 4).map(|h| h >> 16);
        }
    }
    let Some(mdia) = child(trak, b"mdia") else {
        return t;
    };
    if let Some(mdhd) = child(mdia, b"mdhd") {
        t.duration_secs = match mdhd.first() {
            Some(0) => be_u32(mdhd, 12)
                .zip(be_u32(mdhd, 16))
                .and_then(|(ts, d)| scaled_duration(ts, u64::from(d), 0)),
            Some(1) => be_u32(mdhd, 20)
                .zip(be_u64(mdhd, 24))
                .and_then(|(ts, d)| scaled_duration(ts, d, 1)),
            _ => None,
        };
    }
    if let Some(hdlr) = child(mdia, b"hdlr") {
        t.handler = hdlr.get(8..12).and_then(|h| h.try_into().ok());
    }
    let stsd = child(mdia, b"minf")
        .and_then(|m| child(m, b"stbl"))
        .and_then(|s| child(s, b"stsd"));
    // stsd: version/flags (4), entry count (4), then sample entries as boxes.
    if let Some((fourcc, entry)) = stsd.and_then(|s| s.get(8..)).and_then(|e| boxes(e).next()) {
        if t.handler == Some(*b"vide") {
            // VisualSampleEntry: coded width/height after 24 bytes of
            // reserved fields and the data reference index.
            if let (Some(w), Some(h)) = (be_u16(entry, 24), be_u16(entry, 26)) {
                if w > 0 && h > 0 {
                    t.width = Some(u32::from(w));
                    t.height = Some(u32::from(h));
                }
            }
        }
        t.codec = Some(codec_name(&fourcc, entry));
    }
    t
}

/// Codec names follow ffprobe's `codec_name`, which is what clients of the
/// upstream API compare against (`h264`, `aac`, ...).
fn codec_name(fourcc: &[u8; 4], entry: &[u8]) -> String {
    let name = match fourcc {
        b"avc1" | b"avc3" => "h264",
        b"hvc1" | b"hev1" | b"dvh1" | b"dvhe" => "hevc",
        b"av01" => "av1",
        b"vp08" => "vp8",
        b"vp09" => "vp9",
        b"mp4v" => "mpeg4",
        b"s263" | b"h263" => "h263",
        b"jpeg" | b"mjpa" | b"mjpb" => "mjpeg",
        b"apch" | b"apcn" | b"apcs" | b"apco" | b"ap4h" | b"ap4x" => "prores",
        b"mp4a" => return mp4a_codec(entry).to_string(),
        b"Opus" => "opus",
        b"fLaC" => "flac",
        b"ac-3" => "ac3",
        b"ec-3" => "eac3",
        b".mp3" => "mp3",
        b"alac" => "alac",
        b"samr" => "amr_nb",
        b"sawb" => "amr_wb",
        b"sowt" => "pcm_s16le",
        b"twos" => "pcm_s16be",
        other => {
            return String::from_utf8_lossy(other)
                .trim()
                .to_ascii_lowercase()
                .to_string()
        }
    };
    name.to_string()
}

/// `mp4a` is a family; the elementary stream descriptor says which codec.
fn mp4a_codec(entry: &[u8]) -> &'static str {
    // AudioSampleEntry fields take 28 bytes, child boxes follow.
    let oti = entry
        .get(28..)
        .and_then(|rest| child(rest, b"esds"))
        .and_then(esds_object_type);
    match oti {
        Some(0x69 | 0x6B) => "mp3",
        Some(0xA5) => "ac3",
        Some(0xA6) => "eac3",
        Some(0xA9) => "dts",
        Some(0xDD) => "vorbis",
        Some(0xAD) => "opus",
        // 0x40 (MPEG-4 audio) and 0x66..=0x68 (MPEG-2 AAC); also the
        // overwhelmingly common case when the descriptor is missing.
        _ => "aac",
    }
}

/// Finds `objectTypeIndication` in an `esds` box: ES_Descriptor (tag 3)
/// containing a DecoderConfigDescriptor (tag 4).
fn esds_object_type(esds: &[u8]) -> Option<u8> {
    let mut p = 4usize; // version/flags
    let (tag, len, next) = descriptor_header(esds, p)?;
    if tag != 3 {
        return None;
    }
    let end = next.checked_add(len)?.min(esds.len());
    p = next + 2; // ES_ID
    let flags = *esds.get(p)?;
    p += 1;
    if flags & 0x80 != 0 {
        p += 2; // dependsOn_ES_ID
    }
    if flags & 0x40 != 0 {
        p += 1 + usize::from(*esds.get(p)?); // URL
    }
    if flags & 0x20 != 0 {
        p += 2; // OCR_ES_Id
    }
    while p < end {
        let (tag, len, next) = descriptor_header(esds, p)?;
        if tag == 4 {
            return esds.get(next).copied();
        }
        p = next.checked_add(len)?;
    }
    None
}

/// Descriptor header: tag byte, then a size of up to four 7-bit groups.
fn descriptor_header(d: &[u8], at: usize) -> Option<(u8, usize, usize)> {
    let tag = *d.get(at)?;
    let mut len = 0usize;
    let mut p = at + 1;
    for _ in 0..4 {
        let b = *d.get(p)?;
        p += 1;
        len = (len << 7) | usize::from(b & 0x7F);
        if b & 0x80 == 0 {
            return Some((tag, len, p));
        }
    }
    Some((tag, len, p))
}

/// Whether a HEIF/AVIF file declares an alpha auxiliary image. The `auxC`
/// property names the alpha plane with one of two URNs; searching the head for
/// them avoids resolving the whole item graph, at the cost of also matching an
/// alpha plane attached to a thumbnail item (which in practice only exists when
/// the primary image has one too).
pub(crate) fn heif_has_alpha(head: &[u8]) -> bool {
    let meta = meta_box(head).unwrap_or(&[]);
    contains(meta, b"urn:mpeg:mpegB:cicp:systems:auxiliary:alpha")
        || contains(meta, b"urn:mpeg:hevc:2015:auxid:1")
}

/// Whether a HEIF/AVIF file carries an ICC profile (`colr` property of type
/// `prof` or `rICC`).
pub(crate) fn heif_has_icc(head: &[u8]) -> bool {
    let meta = meta_box(head).unwrap_or(&[]);
    contains(meta, b"colrprof") || contains(meta, b"colrrICC")
}

/// Whether an XMP packet is present; HEIF stores it as an item of MIME type
/// `application/rdf+xml`, whose data usually sits in `mdat` or `idat`.
pub(crate) fn find_xmp_packet(head: &[u8]) -> Option<&[u8]> {
    let start = find(head, b"<x:xmpmeta")?;
    let rest = &head[start..];
    let end_tag = b"</x:xmpmeta>";
    let end = find(rest, end_tag)?;
    Some(&rest[..end + end_tag.len()])
}

fn meta_box(head: &[u8]) -> Option<&[u8]> {
    child(head, b"meta")
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    find(hay, needle).is_some()
}

pub(crate) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bx(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut v = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        v.extend_from_slice(kind);
        v.extend_from_slice(body);
        v
    }

    #[test]
    fn brands() {
        let f = |major: &[u8; 4], compat: &[&[u8; 4]]| {
            let mut body = major.to_vec();
            body.extend_from_slice(&[0, 0, 0, 0]);
            for c in compat {
                body.extend_from_slice(*c);
            }
            classify_ftyp(&bx(b"ftyp", &body)).map(|d| d.mime)
        };
        assert_eq!(f(b"mif1", &[b"mif1", b"avif"]), Some("image/avif"));
        assert_eq!(f(b"heic", &[b"mif1"]), Some("image/heic"));
        assert_eq!(f(b"isom", &[b"isom", b"avc1"]), Some("video/mp4"));
        assert_eq!(f(b"qt  ", &[b"qt  "]), Some("video/quicktime"));
        assert_eq!(f(b"3gp5", &[]), Some("video/3gpp"));
        assert_eq!(f(b"M4A ", &[b"isom"]), Some("audio/mp4"));
        assert_eq!(f(b"zzzz", &[]), None);
    }

    #[test]
    fn box_sizes_are_bounded() {
        // declared size larger than the data: returned truncated, then stop
        let mut d = bx(b"moov", &[1, 2, 3]);
        d[3] = 200;
        let v: Vec<_> = boxes(&d).collect();
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].1, &[1, 2, 3]);
        // size smaller than the header: stop
        let mut d = bx(b"moov", &[1, 2, 3]);
        d[3] = 4;
        assert_eq!(boxes(&d).count(), 0);
        // 64-bit size
        let mut d = vec![0, 0, 0, 1];
        d.extend_from_slice(b"free");
        d.extend_from_slice(&17u64.to_be_bytes());
        d.push(9);
        let v: Vec<_> = boxes(&d).collect();
        assert_eq!(v, vec![(*b"free", &[9u8][..])]);
    }

    #[test]
    fn esds_oti() {
        // ES_Descriptor(3) { ES_ID, flags=0, DecoderConfig(4) { oti=0x6B ... } }
        let esds = [
            0, 0, 0, 0, 3, 0x80, 0x80, 0x80, 8, 0, 1, 0, 4, 3, 0x6B, 0x15, 0,
        ];
        assert_eq!(esds_object_type(&esds), Some(0x6B));
    }
}
