//! Facts about uploaded media, read from the bytes — never from the client's
//! `Content-Type` or file name (except for text formats, per spec §3.3).
//!
//! The upload server streams each file to storage once and keeps the first
//! [`SNIFF_LEN`] bytes plus the total size; everything here works from that
//! head. All functions are pure and synchronous, and none panics or
//! allocates without bound on hostile input: truncated or corrupt files yield
//! fewer facts, not errors.
//!
//! * [`probe`] — MIME type (§3.3), `fileType`, dimensions, EXIF orientation,
//!   alpha, and video facts (§4.2 response keys).
//! * [`embedded_metadata`] — consolidated EXIF/IPTC/XMP map
//!   (`embeddedMetadata`, §4.2).
//! * [`legacy_metadata`] — the legacy `metadata` object (§4.7).
//! * [`thumbnail`] — small JPEG/PNG rendition of a raster image; [`render`] — a
//!   transformation; both judged first by the render budget ([`estimate_render`],
//!   [`estimate_thumbnail`]).
//!
//! Known limits, all consequences of reading only the head:
//! * MP4/MOV files whose `moov` box comes after the media data ("no fast
//!   start") larger than the head get no video facts or dimensions; WebM
//!   duration may be missing when the muxer wrote neither `Info/Duration`
//!   nor a `DURATION` tag within the head.
//! * TIFF files whose first IFD is stored after image data beyond the head
//!   get no dimensions or EXIF.
//! * Text is recognised as UTF-8 only; UTF-16 text is
//!   `application/octet-stream`.
//! * HEIF/AVIF: dimensions, alpha, EXIF and an XMP packet are read; image
//!   rotation properties (`irot`/`imir`) are not reported as orientation.

mod bmff;
mod budget;
mod detect;
mod ebml;
mod exif_data;
mod iptc;
mod raster;
mod svg;
mod thumb;
mod transform;
mod xmp;

use serde::Serialize;
use serde_json::{Map, Value};

pub use budget::{
    estimate_decode, estimate_render, estimate_thumbnail, smallest_file, Estimate, Refusal,
    RenderLimits, SourceImage,
};
pub use thumb::MAX_DECODE_DIMENSION;
pub use transform::{
    render, Crop, OutputFormat, Rendered, Size, Step, TransformError, Transformation,
    MAX_OUTPUT_DIMENSION, MAX_TRANSFORMATION_LEN,
};

/// How many leading bytes of an upload the server must keep for [`probe`],
/// [`embedded_metadata`] and [`legacy_metadata`].
///
/// 256 KiB covers every JPEG metadata segment (each APPn segment is capped at
/// 64 KiB, and EXIF, XMP, ICC and IPTC rarely exceed one each) and the
/// `moov` box of short "fast start" MP4s.
pub const SNIFF_LEN: usize = 256 * 1024;

/// `fileType` of the upload response: `image` iff the MIME type starts with
/// `image/` (videos are `non-image`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileType {
    Image,
    NonImage,
}

impl FileType {
    pub fn as_str(self) -> &'static str {
        match self {
            FileType::Image => "image",
            FileType::NonImage => "non-image",
        }
    }

    fn from_mime(mime: &str) -> Self {
        if mime.starts_with("image/") {
            FileType::Image
        } else {
            FileType::NonImage
        }
    }
}

impl std::fmt::Display for FileType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Facts about an audio/video stream (§4.2 `duration`, `videoCodec`,
/// `audioCodec`, `bitRate`). Codec names follow ffprobe (`h264`, `hevc`,
/// `vp9`, `av1`, `aac`, `opus`, ...).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VideoFacts {
    /// Exact duration in seconds.
    pub duration_secs: Option<f64>,
    pub video_codec: Option<String>,
    pub audio_codec: Option<String>,
    /// Overall bit rate in bits per second (file size × 8 / duration), as
    /// ffprobe reports for the container (§11 Q27).
    pub bit_rate: Option<u64>,
}

impl VideoFacts {
    /// Duration for the response's integer `duration` key, rounded to the
    /// nearest second.
    pub fn duration_whole_secs(&self) -> Option<u64> {
        self.duration_secs
            .filter(|d| d.is_finite() && *d >= 0.0)
            .map(|d| d.round() as u64)
    }

    fn with_bit_rate(mut self, total_size: u64) -> Self {
        self.bit_rate = self
            .duration_secs
            .filter(|d| *d > 0.0)
            .map(|d| (total_size as f64 * 8.0 / d).round())
            .filter(|b| b.is_finite() && *b >= 0.0 && *b < u64::MAX as f64)
            .map(|b| b as u64);
        self
    }
}

/// What the bytes say about an upload.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MediaFacts {
    /// Detected MIME type, e.g. `image/jpeg`; `application/octet-stream`
    /// when unknown.
    pub mime: String,
    pub file_type: FileType,
    /// Short format name (`jpg`, `png`, `svg`, `mp4`, `txt`, ...), used by
    /// the legacy `metadata.format`.
    pub format: Option<String>,
    /// Pixel size as stored, before EXIF rotation (images and videos).
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// EXIF orientation 1–8, when the image declares one.
    pub orientation: Option<u16>,
    /// Whether the image has an alpha channel or transparency (images only).
    pub has_alpha: Option<bool>,
    /// Present for `video/*` types whose container could be read.
    pub video: Option<VideoFacts>,
}

impl MediaFacts {
    /// `video/*` MIME type (the spec's test for the video size limit, §6).
    pub fn is_video(&self) -> bool {
        self.mime.starts_with("video/")
    }

    pub fn is_image(&self) -> bool {
        self.file_type == FileType::Image
    }

    /// Takes back what the header claimed of a file whose pixels cannot be decoded: it is
    /// stored as `non-image`, without dimensions. The MIME type stays what the bytes say.
    pub fn not_an_image(&mut self) {
        self.file_type = FileType::NonImage;
        self.width = None;
        self.height = None;
        self.orientation = None;
        self.has_alpha = None;
    }
}

/// Errors from [`thumbnail`].
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// Not a raster format we decode (SVG, AVIF, HEIC, PDF, video, ...).
    /// There is no rendition: callers answer 404 (never the original).
    #[error("thumbnails are not supported for {mime}")]
    Unsupported { mime: String },
    /// The image declares dimensions or memory needs beyond the decode
    /// limits ([`MAX_DECODE_DIMENSION`], the budget's memory limit).
    #[error("image exceeds decoding limits: {0}")]
    TooLarge(String),
    /// The render would cost more than the [`RenderLimits`] allow (judged
    /// from the header, before decoding).
    #[error("render refused: {0}")]
    OverBudget(#[from] Refusal),
    /// Corrupt or truncated image data.
    #[error("cannot decode image: {0}")]
    Decode(String),
    #[error("cannot encode thumbnail: {0}")]
    Encode(String),
    /// `max_side` was zero.
    #[error("thumbnail size must be at least 1 pixel")]
    InvalidSize,
}

/// Detects type and media facts from the head of an upload.
///
/// `head` is the first `min(SNIFF_LEN, total_size)` bytes (more is accepted
/// and used); `file_name` is the sanitised user file name, consulted only
/// when the content is text (§3.3).
pub fn probe(head: &[u8], total_size: u64, file_name: &str) -> MediaFacts {
    let detected = detect::detect(head, file_name);
    let mut facts = MediaFacts {
        mime: detected.mime.to_string(),
        file_type: FileType::from_mime(detected.mime),
        format: detected.format.map(str::to_string),
        width: None,
        height: None,
        orientation: None,
        has_alpha: None,
        video: None,
    };
    let mut dims = None;
    match detected.kind {
        detect::Kind::Svg => dims = svg::dimensions(head),
        detect::Kind::IsoMedia | detect::Kind::Matroska => {
            let read = if detected.kind == detect::Kind::IsoMedia {
                bmff::video_facts(head, total_size)
            } else {
                ebml::video_facts(head, total_size)
            };
            if let Some((video, d)) = read {
                dims = d;
                if facts.is_video() {
                    facts.video = Some(video);
                }
            }
        }
        detect::Kind::Other => {}
        kind => {
            let r = raster::read(kind, head);
            dims = r.dims;
            facts.has_alpha = r.has_alpha;
            if let Some(exif) = parse_exif(kind, head, &r.blocks) {
                facts.orientation = exif_data::orientation(&exif);
                if kind == detect::Kind::Tiff {
                    facts.has_alpha = Some(exif_data::tiff_has_alpha(&exif));
                }
            }
        }
    }
    if let Some((w, h)) = dims {
        facts.width = Some(w);
        facts.height = Some(h);
    }
    facts
}

fn parse_exif(
    kind: detect::Kind,
    head: &[u8],
    blocks: &raster::Blocks<'_>,
) -> Option<::exif::Exif> {
    match (kind, blocks.exif) {
        (_, Some(raw)) => exif_data::parse(raw),
        (detect::Kind::Heif, None) => exif_data::parse_heif(head),
        _ => None,
    }
}

/// Everything a raster head carries in its metadata blocks.
struct Embedded {
    exif: Option<::exif::Exif>,
    xmp: Option<Vec<u8>>,
    iptc: Option<Vec<u8>>,
    has_icc: bool,
    density: Option<f64>,
}

fn read_embedded(kind: detect::Kind, head: &[u8]) -> Embedded {
    let blocks = raster::read(kind, head).blocks;
    let exif = parse_exif(kind, head, &blocks);
    let mut e = Embedded {
        xmp: blocks.xmp.map(<[u8]>::to_vec),
        iptc: blocks.iptc.map(<[u8]>::to_vec),
        has_icc: blocks.has_icc,
        density: blocks.density,
        exif: None,
    };
    if let Some(x) = &exif {
        if kind == detect::Kind::Tiff {
            // TIFF keeps these blocks as tags of its first IFD.
            e.xmp = e
                .xmp
                .or_else(|| exif_data::ifd0_bytes(x, exif_data::TAG_XMP).map(<[u8]>::to_vec));
            e.iptc = e
                .iptc
                .or_else(|| exif_data::ifd0_bytes(x, exif_data::TAG_IPTC).map(<[u8]>::to_vec));
            e.has_icc |= exif_data::ifd0_bytes(x, exif_data::TAG_ICC).is_some();
        }
        e.density = e.density.or_else(|| exif_data::density(x));
    }
    e.exif = exif;
    e
}

/// Consolidated EXIF, IPTC and XMP key/values (`embeddedMetadata`, §4.2),
/// empty when the file carries none.
///
/// Sources, in precedence order when two name the same key: EXIF (primary
/// image IFDs; exiftool tag names such as `Make`, `DateTimeOriginal`, `ISO`,
/// `ExifImageWidth`; numbers as JSON numbers, dates as in the file, e.g.
/// `"2024:05:01 12:34:56"`; GPS latitude/longitude as signed decimal
/// degrees), then IPTC (`Keywords` as an array, `ObjectName`,
/// `Caption-Abstract`, `By-line`, ...), then XMP (`dc:title` → `Title`,
/// `dc:description` → `Description`, `dc:subject` → `Keywords`,
/// `dc:creator` → `Creator`, `xmp:Rating` → `Rating`, selected Photoshop and
/// IPTC Core properties). `Keywords` from IPTC and XMP are merged without
/// duplicates. Maker notes, thumbnails, offsets and unnamed tags are left
/// out.
pub fn embedded_metadata(head: &[u8]) -> Map<String, Value> {
    let kind = detect::detect(head, "").kind;
    let mut out = Map::new();
    if !is_raster(kind) {
        return out;
    }
    let e = read_embedded(kind, head);
    if let Some(exif) = &e.exif {
        exif_data::embedded(exif, &mut out);
    }
    for source in [
        e.iptc.as_deref().map(iptc::to_json),
        e.xmp.as_deref().map(xmp::to_json),
    ]
    .into_iter()
    .flatten()
    {
        merge(&mut out, source);
    }
    out
}

fn merge(out: &mut Map<String, Value>, source: Map<String, Value>) {
    for (k, v) in source {
        match (out.get_mut(&k), v) {
            (Some(Value::Array(have)), Value::Array(more)) if k == "Keywords" => {
                for item in more {
                    if !have.contains(&item) {
                        have.push(item);
                    }
                }
            }
            (Some(_), _) => {}
            (None, v) => {
                out.insert(k, v);
            }
        }
    }
}

fn is_raster(kind: detect::Kind) -> bool {
    use detect::Kind::*;
    matches!(kind, Jpeg | Png | Gif | WebP | Bmp | Tiff | Ico | Heif)
}

/// The legacy `metadata` object (§4.7).
///
/// Emitted keys: `height`, `width` (when known), `size`, `format` (when
/// known), and
/// * for images: `hasColorProfile` (an ICC profile is embedded),
///   `hasTransparency`, `density` (dots per inch, from JFIF, PNG `pHYs`, BMP
///   or EXIF resolution, when declared), and `exif` with the `image`,
///   `thumbnail`, `exif`, `gps`, `interoperability` and `makernote`
///   sub-objects (raw tags; `makernote` is always empty, and `exif` is `{}`
///   when the file has no EXIF);
/// * for videos: `duration` (whole seconds), `bitRate`, `videoCodec`,
///   `audioCodec` when known.
///
/// Not computed: `quality` (JPEG quality estimation) and `pHash` (needs a
/// full decode); both keys are left out.
pub fn legacy_metadata(facts: &MediaFacts, head: &[u8], size: u64) -> Value {
    let mut m = Map::new();
    if let Some(h) = facts.height {
        m.insert("height".into(), Value::from(h));
    }
    if let Some(w) = facts.width {
        m.insert("width".into(), Value::from(w));
    }
    m.insert("size".into(), Value::from(size));
    if let Some(f) = &facts.format {
        m.insert("format".into(), Value::from(f.as_str()));
    }
    if facts.is_image() {
        let kind = detect::detect(head, "").kind;
        let e = if is_raster(kind) {
            Some(read_embedded(kind, head))
        } else {
            None
        };
        m.insert(
            "hasColorProfile".into(),
            Value::from(e.as_ref().is_some_and(|e| e.has_icc)),
        );
        if let Some(a) = facts.has_alpha {
            m.insert("hasTransparency".into(), Value::from(a));
        }
        if let Some(d) = e.as_ref().and_then(|e| e.density).and_then(exif_data::num) {
            m.insert("density".into(), d);
        }
        let exif = e
            .as_ref()
            .and_then(|e| e.exif.as_ref())
            .map_or_else(|| Value::Object(Map::new()), exif_data::legacy);
        m.insert("exif".into(), exif);
    }
    if let Some(v) = &facts.video {
        if let Some(d) = v.duration_whole_secs() {
            m.insert("duration".into(), Value::from(d));
        }
        if let Some(b) = v.bit_rate {
            m.insert("bitRate".into(), Value::from(b));
        }
        if let Some(c) = &v.video_codec {
            m.insert("videoCodec".into(), Value::from(c.as_str()));
        }
        if let Some(c) = &v.audio_codec {
            m.insert("audioCodec".into(), Value::from(c.as_str()));
        }
    }
    Value::Object(m)
}

/// Renders a raster image (JPEG, PNG, GIF, WebP, BMP, TIFF, ICO) to fit in a
/// `max_side` × `max_side` box, keeping the aspect ratio and never upscaling,
/// with its EXIF orientation applied. Returns the encoded bytes and their
/// MIME type: `image/png` when the source has alpha, else `image/jpeg`.
///
/// `bytes` is the whole file. The cost is judged from the header first
/// ([`estimate_thumbnail`], [`MediaError::OverBudget`]); decoding is capped
/// by [`MAX_DECODE_DIMENSION`] and `limits.max_memory_bytes`, so
/// decompression bombs fail with [`MediaError::TooLarge`]. SVG, AVIF/HEIC and
/// non-images give [`MediaError::Unsupported`].
pub fn thumbnail(
    bytes: &[u8],
    max_side: u32,
    limits: &RenderLimits,
) -> Result<(Vec<u8>, &'static str), MediaError> {
    thumb::thumbnail(bytes, max_side, limits)
}

/// Decodes a raster image (the formats [`thumbnail`] decodes) and throws the pixels away: the
/// proof that its data is a picture, not only its header. Judged and capped like
/// [`thumbnail`] ([`estimate_decode`]); corrupt or truncated data gives
/// [`MediaError::Decode`].
pub fn verify_decodes(bytes: &[u8], limits: &RenderLimits) -> Result<(), MediaError> {
    thumb::decode_within(bytes, limits, |source| {
        budget::estimate_decode(source, limits)
    })
    .map(drop)
}

/// What the header of a raster image (the formats [`thumbnail`] decodes) says, for
/// [`estimate_render`] and [`estimate_thumbnail`], without decoding a pixel: a server can
/// reserve the estimate's memory before it renders. SVG, AVIF/HEIC and non-images give
/// [`MediaError::Unsupported`]; a corrupt or oversized header the decoding errors.
pub fn source_image(bytes: &[u8], limits: &RenderLimits) -> Result<SourceImage, MediaError> {
    thumb::source_image(bytes, limits)
}
