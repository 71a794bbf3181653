//! EBML (WebM / Matroska): document type, and movie facts from the segment's
//! `Info` and `Tracks` elements (plus the per-track `DURATION` tag that muxers
//! write when they cannot seek back to fill in `Info/Duration`).

use crate::detect::{Detected, Kind};
use crate::VideoFacts;

const EBML_MAGIC: [u8; 4] = [0x1A, 0x45, 0xDF, 0xA3];

const ID_DOCTYPE: u32 = 0x4282;
const ID_SEGMENT: u32 = 0x1853_8067;
const ID_INFO: u32 = 0x1549_A966;
const ID_TIMESTAMP_SCALE: u32 = 0x2A_D7B1;
const ID_DURATION: u32 = 0x4489;
const ID_TRACKS: u32 = 0x1654_AE6B;
const ID_TRACK_ENTRY: u32 = 0xAE;
const ID_TRACK_TYPE: u32 = 0x83;
const ID_CODEC_ID: u32 = 0x86;
const ID_VIDEO: u32 = 0xE0;
const ID_PIXEL_WIDTH: u32 = 0xB0;
const ID_PIXEL_HEIGHT: u32 = 0xBA;
const ID_TAGS: u32 = 0x1254_C367;
const ID_TAG: u32 = 0x7373;
const ID_SIMPLE_TAG: u32 = 0x67C8;
const ID_TAG_NAME: u32 = 0x45A3;
const ID_TAG_STRING: u32 = 0x4487;
const ID_CLUSTER: u32 = 0x1F43_B675;

/// One element: id, body (truncated to the available data), and whether its
/// size was "unknown" (live streams write the segment and clusters that way).
struct Element<'a> {
    id: u32,
    body: &'a [u8],
    unknown_size: bool,
}

struct Elements<'a> {
    data: &'a [u8],
}

fn elements(data: &[u8]) -> Elements<'_> {
    Elements { data }
}

/// Reads a variable-length integer; `keep_marker` keeps the length-marker bit
/// (element IDs are written with it). Returns (value, length, all-ones).
fn vint(d: &[u8], keep_marker: bool, max_len: usize) -> Option<(u64, usize, bool)> {
    let first = *d.first()?;
    let len = first.leading_zeros() as usize + 1;
    if len > max_len {
        return None;
    }
    let bytes = d.get(..len)?;
    // With an 8-byte length the marker fills the whole first byte.
    let mask = if keep_marker {
        0xFF
    } else {
        (0xFFu16 >> len) as u8
    };
    let mut v = u64::from(first & mask);
    let mut all_ones = first & mask == mask;
    for b in &bytes[1..] {
        v = (v << 8) | u64::from(*b);
        all_ones &= *b == 0xFF;
    }
    Some((v, len, all_ones))
}

impl<'a> Iterator for Elements<'a> {
    type Item = Element<'a>;

    fn next(&mut self) -> Option<Self::Item> {
        let d = self.data;
        let (id, id_len, _) = vint(d, true, 4)?;
        let (size, size_len, unknown_size) = vint(d.get(id_len..)?, false, 8)?;
        let start = id_len + size_len;
        let end = if unknown_size {
            d.len()
        } else {
            usize::try_from(size)
                .ok()
                .and_then(|s| start.checked_add(s))
                .unwrap_or(usize::MAX)
                .min(d.len())
        };
        let body = d.get(start..end).unwrap_or(&[]);
        self.data = if unknown_size { &[] } else { &d[end..] };
        Some(Element {
            id: u32::try_from(id).ok()?,
            body,
            unknown_size,
        })
    }
}

fn uint(b: &[u8]) -> Option<u64> {
    if b.is_empty() || b.len() > 8 {
        return None;
    }
    Some(b.iter().fold(0u64, |acc, x| (acc << 8) | u64::from(*x)))
}

fn float(b: &[u8]) -> Option<f64> {
    match b.len() {
        4 => Some(f64::from(f32::from_be_bytes([b[0], b[1], b[2], b[3]]))),
        8 => {
            let mut a = [0u8; 8];
            a.copy_from_slice(b);
            Some(f64::from_be_bytes(a))
        }
        _ => None,
    }
}

fn string(b: &[u8]) -> String {
    let end = b.iter().position(|c| *c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

fn doc_type(head: &[u8]) -> Option<String> {
    let header = elements(head).next()?;
    if header.id != u32::from_be_bytes(EBML_MAGIC) {
        return None;
    }
    elements(header.body)
        .find(|e| e.id == ID_DOCTYPE)
        .map(|e| string(e.body))
}

pub(crate) fn classify(head: &[u8]) -> Option<Detected> {
    if !head.starts_with(&EBML_MAGIC) {
        return None;
    }
    let (mime, format) = match doc_type(head)?.as_str() {
        "webm" => ("video/webm", "webm"),
        "matroska" => ("video/x-matroska", "mkv"),
        _ => return None,
    };
    Some(Detected {
        mime,
        format: Some(format),
        kind: Kind::Matroska,
    })
}

#[derive(Default)]
struct Track {
    kind: u64,
    codec: Option<String>,
    width: Option<u32>,
    height: Option<u32>,
}

pub(crate) fn video_facts(
    head: &[u8],
    total_size: u64,
) -> Option<(VideoFacts, Option<(u32, u32)>)> {
    let segment = elements(head).find(|e| e.id == ID_SEGMENT)?;
    let mut scale_ns: u64 = 1_000_000;
    let mut info_duration: Option<f64> = None;
    let mut tag_duration: Option<f64> = None;
    let mut video: Option<Track> = None;
    let mut audio: Option<Track> = None;

    for el in elements(segment.body) {
        match el.id {
            ID_INFO => {
                for e in elements(el.body) {
                    match e.id {
                        ID_TIMESTAMP_SCALE => {
                            scale_ns = uint(e.body).filter(|s| *s > 0).unwrap_or(scale_ns)
                        }
                        ID_DURATION => info_duration = float(e.body),
                        _ => {}
                    }
                }
            }
            ID_TRACKS => {
                for t in elements(el.body).filter(|e| e.id == ID_TRACK_ENTRY) {
                    let t = parse_track(t.body);
                    match t.kind {
                        1 if video.is_none() => video = Some(t),
                        2 if audio.is_none() => audio = Some(t),
                        _ => {}
                    }
                }
            }
            ID_TAGS if tag_duration.is_none() => tag_duration = duration_tag(el.body),
            // A cluster of unknown size hides everything after it.
            ID_CLUSTER if el.unknown_size => break,
            _ => {}
        }
    }
    let duration = info_duration
        .map(|d| d * scale_ns as f64 / 1e9)
        .or(tag_duration)
        .filter(|d| d.is_finite() && *d > 0.0);
    let dims = video
        .as_ref()
        .and_then(|v| Some((v.width?, v.height?)))
        .filter(|(w, h)| *w > 0 && *h > 0);
    let facts = VideoFacts {
        duration_secs: duration,
        video_codec: video.and_then(|v| v.codec),
        audio_codec: audio.and_then(|a| a.codec),
        bit_rate: None,
    };
    Some((facts.with_bit_rate(total_size), dims))
}

fn parse_track(body: &[u8]) -> Track {
    let mut t = Track::default();
    for e in elements(body) {
        match e.id {
            ID_TRACK_TYPE => t.kind = uint(e.body).unwrap_or(0),
            ID_CODEC_ID => t.codec = Some(codec_name(&string(e.body))),
            ID_VIDEO => {
                for v in elements(e.body) {
                    let px = || uint(v.body).and_then(|x| u32::try_from(x).ok());
                    match v.id {
                        ID_PIXEL_WIDTH => t.width = px(),
                        ID_PIXEL_HEIGHT => t.height = px(),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    t
}

/// Codec names follow ffprobe's `codec_name` (see `bmff::codec_name`).
fn codec_name(id: &str) -> String {
    let name = match id {
        "V_VP8" => "vp8",
        "V_VP9" => "vp9",
        "V_AV1" => "av1",
        "V_MPEG4/ISO/AVC" => "h264",
        "V_MPEGH/ISO/HEVC" => "hevc",
        "V_THEORA" => "theora",
        "V_MPEG2" => "mpeg2video",
        "V_MPEG1" => "mpeg1video",
        "V_MJPEG" => "mjpeg",
        "A_OPUS" => "opus",
        "A_VORBIS" => "vorbis",
        "A_MPEG/L3" => "mp3",
        "A_MPEG/L2" => "mp2",
        "A_FLAC" => "flac",
        "A_AC3" => "ac3",
        "A_EAC3" => "eac3",
        "A_DTS" => "dts",
        "A_PCM/INT/LIT" => "pcm_s16le",
        other if other.starts_with("A_AAC") => "aac",
        other if other.starts_with("V_MPEG4/ISO/") => "mpeg4",
        other => return other.to_ascii_lowercase(),
    };
    name.to_string()
}

/// `Tags/Tag/SimpleTag{TagName=DURATION, TagString="HH:MM:SS.nnnnnnnnn"}`.
fn duration_tag(tags: &[u8]) -> Option<f64> {
    elements(tags)
        .filter(|t| t.id == ID_TAG)
        .flat_map(|t| elements(t.body).filter(|s| s.id == ID_SIMPLE_TAG))
        .find_map(|s| {
            let mut name = None;
            let mut value = None;
            for e in elements(s.body) {
                match e.id {
                    ID_TAG_NAME => name = Some(string(e.body)),
                    ID_TAG_STRING => value = Some(string(e.body)),
                    _ => {}
                }
            }
            if name?.eq_ignore_ascii_case("DURATION") {
                parse_clock(&value?)
            } else {
                None
            }
        })
}

fn parse_clock(s: &str) -> Option<f64> {
    let mut parts = s.trim().split(':');
    let h: f64 = parts.next()?.parse().ok()?;
    let m: f64 = parts.next()?.parse().ok()?;
    let sec: f64 = parts.next()?.parse().ok()?;
    if parts.next().is_some() {
        return None;
    }
    Some(h * 3600.0 + m * 60.0 + sec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vints() {
        assert_eq!(vint(&[0x81], false, 8), Some((1, 1, false)));
        assert_eq!(vint(&[0x40, 0x02], false, 8), Some((2, 2, false)));
        assert_eq!(vint(&[0xFF], false, 8), Some((0x7F, 1, true)));
        assert_eq!(
            vint(&[0x1A, 0x45, 0xDF, 0xA3], true, 4).map(|v| v.0),
            Some(0x1A45_DFA3)
        );
        assert_eq!(vint(&[0x00], false, 8), None);
        assert_eq!(vint(&[0x40], false, 8), None);
    }

    #[test]
    fn clock() {
        assert_eq!(parse_clock("00:00:01.500000000"), Some(1.5));
        assert_eq!(parse_clock("01:02:03"), Some(3723.0));
        assert_eq!(parse_clock("bogus"), None);
    }
}
