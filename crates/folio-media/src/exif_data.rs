//! EXIF: parsing (kamadak-exif), orientation, and conversion to JSON.
//!
//! Tag names follow the exiftool conventions that the upstream service's
//! `metadata.exif` and `embeddedMetadata` objects use (`ISO`,
//! `ExifImageWidth`, `ModifyDate`, ...) rather than the EXIF standard's own
//! names (`PhotographicSensitivity`, `PixelXDimension`, `DateTime`, ...).

use ::exif::{Context, Exif, Field, In, Tag, Value};
use serde_json::{Map, Value as Json};

/// Arrays longer than this (strip offsets of a big TIFF, a tone curve...)
/// are bulk data rather than facts, and would bloat every response.
const MAX_ARRAY: usize = 64;
/// Same idea for opaque (UNDEFINED-typed) values shown as text.
const MAX_UNDEFINED_TEXT: usize = 256;

pub(crate) const TAG_XMP: u16 = 700;
pub(crate) const TAG_IPTC: u16 = 33723;
pub(crate) const TAG_ICC: u16 = 34675;
const TAG_EXTRA_SAMPLES: u16 = 338;

pub(crate) fn parse(raw: &[u8]) -> Option<Exif> {
    let mut reader = ::exif::Reader::new();
    reader.continue_on_error(true);
    match reader.read_raw(raw.to_vec()) {
        Ok(e) => Some(e),
        // Keep whatever parsed before the error: a damaged maker note must
        // not hide the camera model or the orientation.
        Err(e) => e.distill_partial_result(|_| {}).ok(),
    }
}

/// HEIF/AVIF keep EXIF in an item located through the `meta` box; kamadak-exif
/// resolves that item graph itself.
pub(crate) fn parse_heif(head: &[u8]) -> Option<Exif> {
    let mut reader = ::exif::Reader::new();
    reader.continue_on_error(true);
    let mut cursor = std::io::Cursor::new(head);
    match reader.read_from_container(&mut cursor) {
        Ok(e) => Some(e),
        Err(e) => e.distill_partial_result(|_| {}).ok(),
    }
}

fn first_uint(v: &Value) -> Option<u32> {
    match v {
        Value::Byte(x) => x.first().map(|n| u32::from(*n)),
        Value::Short(x) => x.first().map(|n| u32::from(*n)),
        Value::Long(x) => x.first().copied(),
        _ => None,
    }
}

pub(crate) fn orientation(exif: &Exif) -> Option<u16> {
    let f = exif.get_field(Tag::Orientation, In::PRIMARY)?;
    let o = u16::try_from(first_uint(&f.value)?).ok()?;
    (1..=8).contains(&o).then_some(o)
}

/// Raw bytes of an IFD0 tag (TIFF files keep XMP, IPTC and ICC data as tags).
pub(crate) fn ifd0_bytes(exif: &Exif, number: u16) -> Option<&[u8]> {
    match &exif
        .get_field(Tag(Context::Tiff, number), In::PRIMARY)?
        .value
    {
        Value::Byte(b) | Value::Undefined(b, _) => Some(b),
        _ => None,
    }
}

/// Alpha per TIFF `ExtraSamples` (1 = associated, 2 = unassociated alpha).
pub(crate) fn tiff_has_alpha(exif: &Exif) -> bool {
    match &exif.get_field(Tag(Context::Tiff, TAG_EXTRA_SAMPLES), In::PRIMARY) {
        Some(f) => match &f.value {
            Value::Short(v) => v.iter().any(|s| *s == 1 || *s == 2),
            _ => false,
        },
        None => false,
    }
}

/// Resolution from EXIF when the container declared none, in dots per inch.
pub(crate) fn density(exif: &Exif) -> Option<f64> {
    let x = match &exif.get_field(Tag::XResolution, In::PRIMARY)?.value {
        Value::Rational(r) => r.first().filter(|r| r.denom != 0)?.to_f64(),
        _ => return None,
    };
    let unit = exif
        .get_field(Tag::ResolutionUnit, In::PRIMARY)
        .and_then(|f| first_uint(&f.value))
        .unwrap_or(2);
    match unit {
        2 if x > 0.0 => Some(x),
        3 if x > 0.0 => Some(x * 2.54),
        _ => None,
    }
}

/// Output name for a tag, or `None` to leave the tag out.
fn tag_name(tag: Tag) -> Option<String> {
    let renamed = match tag {
        Tag::DateTime => "ModifyDate",
        Tag::DateTimeDigitized => "CreateDate",
        Tag::PhotographicSensitivity => "ISO",
        Tag::PixelXDimension => "ExifImageWidth",
        Tag::PixelYDimension => "ExifImageHeight",
        Tag::ExposureBiasValue => "ExposureCompensation",
        Tag::FocalLengthIn35mmFilm => "FocalLengthIn35mmFormat",
        Tag::ExifIFDPointer => "ExifOffset",
        Tag::GPSInfoIFDPointer => "GPSInfo",
        Tag::InteropIFDPointer => "InteropOffset",
        Tag::InteroperabilityIndex => "InteropIndex",
        Tag::InteroperabilityVersion => "InteropVersion",
        Tag::JPEGInterchangeFormat => "ThumbnailOffset",
        Tag::JPEGInterchangeFormatLength => "ThumbnailLength",
        // Maker notes are vendor-specific binary blobs.
        Tag::MakerNote => return None,
        _ => match (tag.context(), tag.number()) {
            (Context::Tiff, TAG_EXTRA_SAMPLES) => "ExtraSamples",
            (Context::Tiff, 0x4746) => "Rating",
            (Context::Tiff, 0x4749) => "RatingPercent",
            (Context::Tiff, 0x9C9B) => "XPTitle",
            (Context::Tiff, 0x9C9C) => "XPComment",
            (Context::Tiff, 0x9C9D) => "XPAuthor",
            (Context::Tiff, 0x9C9E) => "XPKeywords",
            (Context::Tiff, 0x9C9F) => "XPSubject",
            // Embedded XMP/IPTC/ICC blocks are decoded separately, and
            // other unnamed tags have no name clients could rely on.
            _ => {
                tag.description()?;
                return Some(tag.to_string());
            }
        },
    };
    Some(renamed.to_string())
}

/// JSON number for an f64: integral values print without a fraction
/// (`72`, not `72.0`), non-finite values are dropped.
pub(crate) fn num(x: f64) -> Option<Json> {
    if !x.is_finite() {
        return None;
    }
    if x.fract() == 0.0 && x.abs() < 9.0e15 {
        return Some(Json::from(x as i64));
    }
    serde_json::Number::from_f64(x).map(Json::Number)
}

fn list<T>(items: impl ExactSizeIterator<Item = T>, f: impl Fn(T) -> Option<Json>) -> Option<Json> {
    if items.len() == 0 || items.len() > MAX_ARRAY {
        return None;
    }
    let mut v: Vec<Json> = items.map(f).collect::<Option<_>>()?;
    if v.len() == 1 {
        v.pop()
    } else {
        Some(Json::Array(v))
    }
}

fn ascii(parts: &[Vec<u8>]) -> Option<Json> {
    let strings: Vec<String> = parts.iter().map(|p| text(p)).collect();
    match strings.len() {
        0 => None,
        1 => strings.into_iter().next().map(Json::String),
        _ => Some(Json::Array(strings.into_iter().map(Json::String).collect())),
    }
}

/// Trims NUL padding and whitespace; invalid UTF-8 is read as Latin-1, the
/// usual charset of old cameras' ASCII fields.
fn text(b: &[u8]) -> String {
    let end = b.iter().position(|c| *c == 0).unwrap_or(b.len());
    let b = &b[..end];
    match std::str::from_utf8(b) {
        Ok(s) => s.trim().to_string(),
        Err(_) => b
            .iter()
            .map(|c| char::from(*c))
            .collect::<String>()
            .trim()
            .to_string(),
    }
}

fn value_json(field: &Field) -> Option<Json> {
    let tag = field.tag;
    match &field.value {
        Value::Ascii(parts) => ascii(parts),
        Value::Byte(b) if is_xp_tag(tag) => ucs2(b).map(Json::String),
        Value::Byte(b) => list(b.iter(), |x| Some(Json::from(*x))),
        Value::Short(v) => list(v.iter(), |x| Some(Json::from(*x))),
        Value::Long(v) => list(v.iter(), |x| Some(Json::from(*x))),
        Value::SByte(v) => list(v.iter(), |x| Some(Json::from(*x))),
        Value::SShort(v) => list(v.iter(), |x| Some(Json::from(*x))),
        Value::SLong(v) => list(v.iter(), |x| Some(Json::from(*x))),
        Value::Rational(v) => list(
            v.iter(),
            |r| {
                if r.denom == 0 {
                    None
                } else {
                    num(r.to_f64())
                }
            },
        ),
        Value::SRational(v) => list(
            v.iter(),
            |r| {
                if r.denom == 0 {
                    None
                } else {
                    num(r.to_f64())
                }
            },
        ),
        Value::Float(v) => list(v.iter(), |x| num(f64::from(*x))),
        Value::Double(v) => list(v.iter(), |x| num(*x)),
        Value::Undefined(b, _) => undefined_json(tag, b),
        Value::Unknown(..) => None,
    }
}

fn is_xp_tag(tag: Tag) -> bool {
    tag.context() == Context::Tiff && (0x9C9B..=0x9C9F).contains(&tag.number())
}

/// Windows "XP" tags are UCS-2 little-endian, NUL-terminated.
fn ucs2(b: &[u8]) -> Option<String> {
    let units: Vec<u16> = b
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .take_while(|u| *u != 0)
        .collect();
    let s = String::from_utf16_lossy(&units).trim().to_string();
    (!s.is_empty()).then_some(s)
}

fn undefined_json(tag: Tag, b: &[u8]) -> Option<Json> {
    match tag {
        // Four ASCII digits, e.g. "0232".
        Tag::ExifVersion | Tag::FlashpixVersion | Tag::InteroperabilityVersion => {
            Some(Json::String(text(b)))
        }
        Tag::FileSource | Tag::SceneType => b.first().map(|x| Json::from(*x)),
        Tag::ComponentsConfiguration => list(b.iter(), |x| Some(Json::from(*x))),
        Tag::UserComment | Tag::GPSProcessingMethod | Tag::GPSAreaInformation => {
            charset_text(b).map(Json::String)
        }
        _ => {
            // Unknown opaque data: keep it only when it is short printable text.
            let t = text(b);
            let printable = !t.is_empty()
                && t.len() <= MAX_UNDEFINED_TEXT
                && t.chars().all(|c| !c.is_control());
            printable.then_some(Json::String(t))
        }
    }
}

/// UserComment-style text: an 8-byte character code, then the text.
fn charset_text(b: &[u8]) -> Option<String> {
    let (code, body) = (b.get(..8)?, b.get(8..)?);
    let s = match code {
        b"UNICODE\0" => {
            // Byte order is not declared; UTF-16BE unless it starts like LE.
            let le = body.get(1) == Some(&0) && body.first() != Some(&0);
            let units: Vec<u16> = body
                .chunks_exact(2)
                .map(|c| {
                    if le {
                        u16::from_le_bytes([c[0], c[1]])
                    } else {
                        u16::from_be_bytes([c[0], c[1]])
                    }
                })
                .take_while(|u| *u != 0)
                .collect();
            String::from_utf16_lossy(&units).trim().to_string()
        }
        _ => text(body),
    };
    (!s.is_empty()).then_some(s)
}

/// GPS latitude/longitude as signed decimal degrees, which is what map
/// clients want; the `...Ref` tags are kept alongside.
fn gps_decimal(exif: &Exif, value: Tag, reference: Tag, negative: &[u8]) -> Option<Json> {
    let f = exif.get_field(value, In::PRIMARY)?;
    let Value::Rational(parts) = &f.value else {
        return None;
    };
    if parts.is_empty() || parts.len() > 3 || parts.iter().any(|r| r.denom == 0) {
        return None;
    }
    let deg = parts
        .iter()
        .zip([1.0, 60.0, 3600.0])
        .map(|(r, div)| r.to_f64() / div)
        .sum::<f64>();
    let sign = match exif.get_field(reference, In::PRIMARY).map(|r| &r.value) {
        Some(Value::Ascii(a))
            if a.first()
                .is_some_and(|s| s.first().is_some_and(|c| negative.contains(c))) =>
        {
            -1.0
        }
        _ => 1.0,
    };
    let rounded = (deg * sign * 1e7).round() / 1e7;
    num(rounded)
}

/// Flat tag → value map of the primary image's IFDs (IFD0, Exif, GPS,
/// Interop), for `embeddedMetadata`.
pub(crate) fn embedded(exif: &Exif, out: &mut Map<String, Json>) {
    for f in exif.fields() {
        if f.ifd_num != In::PRIMARY || is_structural(f.tag) {
            continue;
        }
        let Some(name) = tag_name(f.tag) else {
            continue;
        };
        let value = match f.tag {
            Tag::GPSLatitude => gps_decimal(exif, Tag::GPSLatitude, Tag::GPSLatitudeRef, b"S"),
            Tag::GPSLongitude => gps_decimal(exif, Tag::GPSLongitude, Tag::GPSLongitudeRef, b"W"),
            Tag::GPSDestLatitude => {
                gps_decimal(exif, Tag::GPSDestLatitude, Tag::GPSDestLatitudeRef, b"S")
            }
            Tag::GPSDestLongitude => {
                gps_decimal(exif, Tag::GPSDestLongitude, Tag::GPSDestLongitudeRef, b"W")
            }
            Tag::GPSTimeStamp => gps_time(f),
            _ => value_json(f),
        };
        if let Some(v) = value {
            out.entry(name).or_insert(v);
        }
    }
}

/// Offsets and byte counts locate data inside the file; they describe the
/// file layout, not the picture.
fn is_structural(tag: Tag) -> bool {
    matches!(
        tag,
        Tag::ExifIFDPointer
            | Tag::GPSInfoIFDPointer
            | Tag::InteropIFDPointer
            | Tag::StripOffsets
            | Tag::StripByteCounts
            | Tag::TileOffsets
            | Tag::TileByteCounts
            | Tag::JPEGInterchangeFormat
            | Tag::JPEGInterchangeFormatLength
    )
}

/// "HH:MM:SS" (seconds may have a fraction).
fn gps_time(f: &Field) -> Option<Json> {
    let Value::Rational(p) = &f.value else {
        return None;
    };
    if p.len() != 3 || p.iter().any(|r| r.denom == 0) {
        return None;
    }
    let (h, m, s) = (p[0].to_f64(), p[1].to_f64(), p[2].to_f64());
    let secs = if s.fract() == 0.0 {
        format!("{s:02.0}")
    } else {
        format!("{s:06.3}")
    };
    Some(Json::String(format!("{h:02.0}:{m:02.0}:{secs}")))
}

/// Grouped raw tags for the legacy `metadata.exif` object (§4.7): `image`
/// (IFD0), `thumbnail` (IFD1), `exif`, `gps`, `interoperability`, and an
/// always-empty `makernote` (vendor maker notes are not decoded). Values
/// are kept close to the file: GPS coordinates stay degree/minute/second
/// arrays, and IFD pointers are included like upstream does.
pub(crate) fn legacy(exif: &Exif) -> Json {
    let mut image = Map::new();
    let mut thumbnail = Map::new();
    let mut ex = Map::new();
    let mut gps = Map::new();
    let mut interop = Map::new();
    for f in exif.fields() {
        let Some(name) = tag_name(f.tag) else {
            continue;
        };
        if matches!(
            f.tag,
            Tag::StripOffsets | Tag::StripByteCounts | Tag::TileOffsets | Tag::TileByteCounts
        ) {
            continue;
        }
        let target = match (f.ifd_num, f.tag.context()) {
            (In::PRIMARY, Context::Tiff) => &mut image,
            (In::THUMBNAIL, Context::Tiff) => &mut thumbnail,
            (In::PRIMARY, Context::Exif) => &mut ex,
            (In::PRIMARY, Context::Gps) => &mut gps,
            (In::PRIMARY, Context::Interop) => &mut interop,
            _ => continue,
        };
        // Legacy keeps byte arrays as arrays even when they hold one value
        // (GPSVersionID is [2, 3, 0, 0] upstream).
        let v = match (&f.value, f.tag) {
            (Value::Byte(b), Tag::GPSVersionID) => {
                Some(Json::Array(b.iter().map(|x| Json::from(*x)).collect()))
            }
            _ => value_json(f),
        };
        if let Some(v) = v {
            target.entry(name).or_insert(v);
        }
    }
    let mut out = Map::new();
    out.insert("image".into(), Json::Object(image));
    out.insert("thumbnail".into(), Json::Object(thumbnail));
    out.insert("exif".into(), Json::Object(ex));
    out.insert("gps".into(), Json::Object(gps));
    out.insert("interoperability".into(), Json::Object(interop));
    out.insert("makernote".into(), Json::Object(Map::new()));
    Json::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(num(72.0), Some(Json::from(72)));
        assert_eq!(num(0.008), Some(Json::from(0.008)));
        assert_eq!(num(f64::NAN), None);
    }

    #[test]
    fn user_comment() {
        assert_eq!(charset_text(b"ASCII\0\0\0hi  \0\0").as_deref(), Some("hi"));
        assert_eq!(charset_text(b"UNICODE\0\0h\0i").as_deref(), Some("hi"));
        assert_eq!(charset_text(b"UNICODE\0h\0i\0").as_deref(), Some("hi"));
        assert_eq!(charset_text(b"\0\0\0\0\0\0\0\0   "), None);
    }

    #[test]
    fn xp_text() {
        assert_eq!(ucs2(b"h\0i\0\0\0").as_deref(), Some("hi"));
    }
}
