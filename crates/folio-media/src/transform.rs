//! The subset of ImageKit's transformation syntax Folio implements, and its
//! renderer for raster images.
//!
//! Grammar (our subset): a transformation is one or more *steps* separated by
//! `:` (the chained form of `tr:` URLs); a step is one or more parameters
//! separated by `,`. Steps run in order, each on the previous one's output.
//!
//! | Parameter | Values |
//! | --- | --- |
//! | `w-` / `h-` | integer pixels ≥ 1, or a decimal in (0, 1) = fraction of the input |
//! | `ar-<w>-<h>` | positive integers; with only one of `w`/`h`, derives the other |
//! | `c-` | `maintain_ratio` (default), `force`, `at_max`, `at_least` |
//! | `q-` | 1..=100 (JPEG quality; the last step's value wins) |
//! | `f-` | `jpg`, `jpeg`, `png`, `webp` (lossless), `avif` is refused: no encoder |
//! | `rt-` | `0`, `90`, `180`, `270` (clockwise) |
//! | `bl-` | 1..=100 (blur radius) |
//!
//! No output side may exceed [`MAX_OUTPUT_DIMENSION`]: such a request is
//! refused, never clamped, so a URL always means one picture.

use std::fmt;
use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::codecs::webp::WebPEncoder;
use image::imageops::FilterType;
use image::{DynamicImage, ImageError};

use crate::MediaError;

/// Largest width or height a transformation may produce.
pub const MAX_OUTPUT_DIMENSION: u32 = 8192;
/// Longest transformation string accepted (a URL segment, a form field).
pub const MAX_TRANSFORMATION_LEN: usize = 1024;
/// Most steps in one chain.
const MAX_STEPS: usize = 16;
const DEFAULT_JPEG_QUALITY: u8 = 85;

/// Why a transformation string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransformError {
    #[error("empty transformation or step")]
    Empty,
    #[error("transformation too long")]
    TooLong,
    #[error("unknown transformation parameter {0:?}")]
    Unknown(String),
    #[error("malformed value for transformation parameter {0:?}")]
    Malformed(String),
    #[error("parameter {0:?} given twice in one step")]
    Repeated(String),
    #[error("output format {0:?} is not supported by this server")]
    UnsupportedFormat(String),
}

/// A width or height request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Size {
    Pixels(u32),
    /// Fraction of the input side, in (0, 1); kept in thousandths.
    Permille(u16),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Crop {
    MaintainRatio,
    Force,
    AtMax,
    AtLeast,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Jpeg,
    Png,
    WebP,
}

impl OutputFormat {
    pub fn mime(self) -> &'static str {
        match self {
            OutputFormat::Jpeg => "image/jpeg",
            OutputFormat::Png => "image/png",
            OutputFormat::WebP => "image/webp",
        }
    }
}

/// One `,`-separated group of parameters.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Step {
    pub width: Option<Size>,
    pub height: Option<Size>,
    pub aspect: Option<(u32, u32)>,
    pub crop: Option<Crop>,
    pub quality: Option<u8>,
    pub format: Option<OutputFormat>,
    pub rotate: Option<u16>,
    pub blur: Option<u8>,
}

/// A parsed transformation: a non-empty chain of steps.
#[derive(Debug, Clone, PartialEq)]
pub struct Transformation {
    steps: Vec<Step>,
}

impl Transformation {
    /// Parses `w-100,h-50:rt-90`. Never panics.
    pub fn parse(text: &str) -> Result<Self, TransformError> {
        if text.len() > MAX_TRANSFORMATION_LEN {
            return Err(TransformError::TooLong);
        }
        let mut steps = Vec::new();
        for group in text.split(':') {
            if steps.len() == MAX_STEPS {
                return Err(TransformError::TooLong);
            }
            steps.push(parse_step(group)?);
        }
        Ok(Transformation { steps })
    }

    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// The output format the final encoding uses, if a step names one.
    pub fn format(&self) -> Option<OutputFormat> {
        self.steps.iter().rev().find_map(|s| s.format)
    }

    fn quality(&self) -> u8 {
        self.steps
            .iter()
            .rev()
            .find_map(|s| s.quality)
            .unwrap_or(DEFAULT_JPEG_QUALITY)
    }
}

/// The canonical form: parameters in a fixed order, so `h-1,w-2` and `w-2,h-1` name the
/// same rendition (the cache key of delivery).
impl fmt::Display for Transformation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, step) in self.steps.iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            let mut parts: Vec<String> = Vec::new();
            let size = |s: Size| match s {
                Size::Pixels(p) => p.to_string(),
                Size::Permille(m) => format!("0.{m:03}"),
            };
            if let Some(w) = step.width {
                parts.push(format!("w-{}", size(w)));
            }
            if let Some(h) = step.height {
                parts.push(format!("h-{}", size(h)));
            }
            if let Some((a, b)) = step.aspect {
                parts.push(format!("ar-{a}-{b}"));
            }
            if let Some(c) = step.crop {
                parts.push(
                    match c {
                        Crop::MaintainRatio => "c-maintain_ratio",
                        Crop::Force => "c-force",
                        Crop::AtMax => "c-at_max",
                        Crop::AtLeast => "c-at_least",
                    }
                    .to_owned(),
                );
            }
            if let Some(q) = step.quality {
                parts.push(format!("q-{q}"));
            }
            if let Some(fmt) = step.format {
                parts.push(
                    match fmt {
                        OutputFormat::Jpeg => "f-jpg",
                        OutputFormat::Png => "f-png",
                        OutputFormat::WebP => "f-webp",
                    }
                    .to_owned(),
                );
            }
            if let Some(r) = step.rotate {
                parts.push(format!("rt-{r}"));
            }
            if let Some(b) = step.blur {
                parts.push(format!("bl-{b}"));
            }
            f.write_str(&parts.join(","))?;
        }
        Ok(())
    }
}

fn parse_step(group: &str) -> Result<Step, TransformError> {
    if group.is_empty() {
        return Err(TransformError::Empty);
    }
    let mut step = Step::default();
    for param in group.split(',') {
        let (name, value) = param
            .split_once('-')
            .ok_or_else(|| TransformError::Unknown(param.to_owned()))?;
        let bad = || TransformError::Malformed(param.to_owned());
        let repeated = || TransformError::Repeated(name.to_owned());
        fn set<T>(slot: &mut Option<T>, v: T, e: TransformError) -> Result<(), TransformError> {
            if slot.is_some() {
                return Err(e);
            }
            *slot = Some(v);
            Ok(())
        }
        match name {
            "w" => set(
                &mut step.width,
                parse_size(value).ok_or_else(bad)?,
                repeated(),
            )?,
            "h" => set(
                &mut step.height,
                parse_size(value).ok_or_else(bad)?,
                repeated(),
            )?,
            "ar" => {
                let (a, b) = value.split_once('-').ok_or_else(bad)?;
                let a = parse_int(a)
                    .filter(|v| (1..=10_000).contains(v))
                    .ok_or_else(bad)?;
                let b = parse_int(b)
                    .filter(|v| (1..=10_000).contains(v))
                    .ok_or_else(bad)?;
                set(&mut step.aspect, (a, b), repeated())?
            }
            "c" => {
                let c = match value {
                    "maintain_ratio" => Crop::MaintainRatio,
                    "force" => Crop::Force,
                    "at_max" => Crop::AtMax,
                    "at_least" => Crop::AtLeast,
                    _ => return Err(bad()),
                };
                set(&mut step.crop, c, repeated())?
            }
            "q" => {
                let q = parse_int(value)
                    .filter(|v| (1..=100).contains(v))
                    .and_then(|v| u8::try_from(v).ok())
                    .ok_or_else(bad)?;
                set(&mut step.quality, q, repeated())?
            }
            "f" => {
                let f = match value {
                    "jpg" | "jpeg" => OutputFormat::Jpeg,
                    "png" => OutputFormat::Png,
                    "webp" => OutputFormat::WebP,
                    "avif" => return Err(TransformError::UnsupportedFormat(value.to_owned())),
                    _ => return Err(bad()),
                };
                set(&mut step.format, f, repeated())?
            }
            "rt" => {
                let r = match value {
                    "0" => 0,
                    "90" => 90,
                    "180" => 180,
                    "270" => 270,
                    _ => return Err(bad()),
                };
                set(&mut step.rotate, r, repeated())?
            }
            "bl" => {
                let b = parse_int(value)
                    .filter(|v| (1..=100).contains(v))
                    .and_then(|v| u8::try_from(v).ok())
                    .ok_or_else(bad)?;
                set(&mut step.blur, b, repeated())?
            }
            _ => return Err(TransformError::Unknown(name.to_owned())),
        }
    }
    Ok(step)
}

/// Plain decimal digits, no sign, at most 9 of them.
fn parse_int(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 9 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `100` → pixels; `0.5` → half the input side (at most three decimals).
fn parse_size(s: &str) -> Option<Size> {
    match s.split_once('.') {
        None => {
            let px = parse_int(s)?;
            (1..=MAX_OUTPUT_DIMENSION)
                .contains(&px)
                .then_some(Size::Pixels(px))
        }
        Some((int, frac)) => {
            if !(int.is_empty() || int == "0") || frac.is_empty() || frac.len() > 3 {
                return None;
            }
            let digits = parse_int(frac)?;
            let permille = digits * 10u32.pow(3 - frac.len() as u32);
            let permille = u16::try_from(permille).ok()?;
            (permille > 0).then_some(Size::Permille(permille))
        }
    }
}

/// The result of [`render`].
#[derive(Debug, Clone)]
pub struct Rendered {
    pub bytes: Vec<u8>,
    pub mime: &'static str,
    pub width: u32,
    pub height: u32,
}

/// Applies `t` to a raster image (the formats [`crate::thumbnail`] decodes), EXIF orientation
/// first. Without `f-`, the output keeps the input's format when it is JPEG, PNG or WebP, else
/// PNG when the image has alpha and JPEG otherwise. Decoding is bounded like thumbnails';
/// an output side above [`MAX_OUTPUT_DIMENSION`] gives [`MediaError::TooLarge`].
pub fn render(bytes: &[u8], t: &Transformation) -> Result<Rendered, MediaError> {
    let (mut image, source) = crate::thumb::decode_oriented(bytes)?;
    for step in &t.steps {
        image = apply_step(image, step)?;
    }
    let format = t.format().unwrap_or(match source {
        image::ImageFormat::Jpeg => OutputFormat::Jpeg,
        image::ImageFormat::WebP => OutputFormat::WebP,
        image::ImageFormat::Png => OutputFormat::Png,
        _ if image.color().has_alpha() => OutputFormat::Png,
        _ => OutputFormat::Jpeg,
    });
    let (width, height) = (image.width(), image.height());
    let bytes = encode(image, format, t.quality())?;
    Ok(Rendered {
        bytes,
        mime: format.mime(),
        width,
        height,
    })
}

/// `a * num / den`, rounded to the nearest pixel, at least 1.
fn scale(a: u64, num: u64, den: u64) -> u64 {
    ((a * num * 2 + den) / (2 * den.max(1))).max(1)
}

fn resolve(size: Option<Size>, input: u32) -> Option<u64> {
    size.map(|s| match s {
        Size::Pixels(p) => u64::from(p),
        Size::Permille(m) => (u64::from(input) * u64::from(m) / 1000).max(1),
    })
}

fn too_large() -> MediaError {
    MediaError::TooLarge(format!(
        "a transformation output side exceeds {MAX_OUTPUT_DIMENSION} pixels"
    ))
}

fn checked(v: u64) -> Result<u32, MediaError> {
    u32::try_from(v.max(1))
        .ok()
        .filter(|v| *v <= MAX_OUTPUT_DIMENSION)
        .ok_or_else(too_large)
}

fn apply_step(image: DynamicImage, step: &Step) -> Result<DynamicImage, MediaError> {
    let (iw, ih) = (image.width().max(1), image.height().max(1));
    let mut w = resolve(step.width, iw);
    let mut h = resolve(step.height, ih);
    if let Some((a, b)) = step.aspect {
        match (w, h) {
            (Some(w0), None) => h = Some(scale(w0, u64::from(b), u64::from(a))),
            (None, Some(h0)) => w = Some(scale(h0, u64::from(a), u64::from(b))),
            _ => {}
        }
    }
    let mut image = match (w, h) {
        (None, None) => image,
        (w, h) => {
            let crop = step.crop.unwrap_or(Crop::MaintainRatio);
            // Proportional other side when only one is given.
            let (tw, th) = match (w, h) {
                (Some(w), Some(h)) => (w, h),
                (Some(w), None) => (w, scale(w, u64::from(ih), u64::from(iw))),
                (None, Some(h)) => (scale(h, u64::from(iw), u64::from(ih)), h),
                (None, None) => (u64::from(iw), u64::from(ih)),
            };
            let both = w.is_some() && h.is_some();
            match crop {
                Crop::Force => image.resize_exact(checked(tw)?, checked(th)?, FilterType::Triangle),
                Crop::MaintainRatio if both => {
                    image.resize_to_fill(checked(tw)?, checked(th)?, FilterType::Triangle)
                }
                Crop::MaintainRatio => {
                    image.resize_exact(checked(tw)?, checked(th)?, FilterType::Triangle)
                }
                Crop::AtMax => {
                    // Fit inside the box, never enlarging.
                    let bw = tw.min(u64::from(iw));
                    let bh = th.min(u64::from(ih));
                    image.resize(checked(bw)?, checked(bh)?, FilterType::Triangle)
                }
                Crop::AtLeast => {
                    // Cover the box, keeping the ratio: scale by the larger factor.
                    let (nw, nh) = if tw * u64::from(ih) >= th * u64::from(iw) {
                        (tw, scale(tw, u64::from(ih), u64::from(iw)))
                    } else {
                        (scale(th, u64::from(iw), u64::from(ih)), th)
                    };
                    image.resize_exact(checked(nw)?, checked(nh)?, FilterType::Triangle)
                }
            }
        }
    };
    image = match step.rotate {
        Some(90) => image.rotate90(),
        Some(180) => image.rotate180(),
        Some(270) => image.rotate270(),
        _ => image,
    };
    if let Some(b) = step.blur {
        image = image.fast_blur(f32::from(b) / 2.0);
    }
    Ok(image)
}

pub(crate) fn encode(
    image: DynamicImage,
    format: OutputFormat,
    quality: u8,
) -> Result<Vec<u8>, MediaError> {
    let mut out = Vec::new();
    let enc_err = |e: ImageError| MediaError::Encode(e.to_string());
    match format {
        OutputFormat::Jpeg => {
            let encoder = JpegEncoder::new_with_quality(&mut out, quality);
            if image.color().has_color() {
                image
                    .to_rgb8()
                    .write_with_encoder(encoder)
                    .map_err(enc_err)?;
            } else {
                image
                    .to_luma8()
                    .write_with_encoder(encoder)
                    .map_err(enc_err)?;
            }
        }
        OutputFormat::Png => {
            let encoder = PngEncoder::new(&mut out);
            if image.color().has_alpha() {
                image
                    .to_rgba8()
                    .write_with_encoder(encoder)
                    .map_err(enc_err)?;
            } else {
                image
                    .to_rgb8()
                    .write_with_encoder(encoder)
                    .map_err(enc_err)?;
            }
        }
        OutputFormat::WebP => {
            let encoder = WebPEncoder::new_lossless(Cursor::new(&mut out));
            image
                .to_rgba8()
                .write_with_encoder(encoder)
                .map_err(enc_err)?;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_the_documented_subset() {
        let t = Transformation::parse("w-100,h-50,c-at_max,q-80,f-png:rt-90,bl-10,ar-4-3")
            .expect("parse");
        assert_eq!(t.steps().len(), 2);
        let s = &t.steps()[0];
        assert_eq!(s.width, Some(Size::Pixels(100)));
        assert_eq!(s.height, Some(Size::Pixels(50)));
        assert_eq!(s.crop, Some(Crop::AtMax));
        assert_eq!(s.quality, Some(80));
        assert_eq!(s.format, Some(OutputFormat::Png));
        assert_eq!(t.steps()[1].rotate, Some(90));
        assert_eq!(t.steps()[1].aspect, Some((4, 3)));
        assert_eq!(
            Transformation::parse("w-0.5").expect("fraction").steps()[0].width,
            Some(Size::Permille(500))
        );
    }

    #[test]
    fn canonical_form_orders_parameters() {
        let a = Transformation::parse("h-1,w-2").expect("a");
        let b = Transformation::parse("w-2,h-1").expect("b");
        assert_eq!(a.to_string(), "w-2,h-1");
        assert_eq!(a.to_string(), b.to_string());
        assert_eq!(
            Transformation::parse("f-jpeg:w-0.25")
                .expect("c")
                .to_string(),
            "f-jpg:w-0.250"
        );
    }

    #[test]
    fn refuses_what_is_not_in_the_subset() {
        use TransformError::*;
        for (text, want) in [
            ("", Empty),
            ("w-100,", Unknown(String::new())),
            ("w-100::h-2", Empty),
            ("b-5_red", Unknown("b".into())),
            ("oi-logo.png", Unknown("oi".into())),
            ("w", Unknown("w".into())),
            ("w-", Malformed("w-".into())),
            ("w-0", Malformed("w-0".into())),
            ("w--1", Malformed("w--1".into())),
            ("w-100000", Malformed("w-100000".into())),
            ("w-1.5", Malformed("w-1.5".into())),
            ("w-0.0001", Malformed("w-0.0001".into())),
            ("q-0", Malformed("q-0".into())),
            ("q-101", Malformed("q-101".into())),
            ("rt-45", Malformed("rt-45".into())),
            ("bl-0", Malformed("bl-0".into())),
            ("c-pad_resize", Malformed("c-pad_resize".into())),
            ("ar-4", Malformed("ar-4".into())),
            ("f-gif", Malformed("f-gif".into())),
            ("f-avif", UnsupportedFormat("avif".into())),
            ("w-1,w-2", Repeated("w".into())),
        ] {
            assert_eq!(Transformation::parse(text), Err(want), "{text:?}");
        }
        assert_eq!(
            Transformation::parse(&"w-1:".repeat(3)),
            Err(TransformError::Empty)
        );
        assert_eq!(
            Transformation::parse(&["w-1"; 17].join(":")),
            Err(TransformError::TooLong)
        );
    }

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img = DynamicImage::new_rgb8(w, h);
        let mut out = Vec::new();
        img.write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
            .expect("png");
        out
    }

    fn dims(text: &str, w: u32, h: u32) -> (u32, u32) {
        let r = render(&png(w, h), &Transformation::parse(text).expect("parse")).expect("render");
        (r.width, r.height)
    }

    #[test]
    fn renders_sizes_and_rotations() {
        assert_eq!(dims("w-100", 400, 200), (100, 50));
        assert_eq!(dims("h-100", 400, 200), (200, 100));
        assert_eq!(dims("w-100,h-100", 400, 200), (100, 100));
        assert_eq!(dims("w-100,h-100,c-at_max", 400, 200), (100, 50));
        assert_eq!(dims("w-100,h-100,c-at_least", 400, 200), (200, 100));
        assert_eq!(dims("w-100,h-30,c-force", 400, 200), (100, 30));
        assert_eq!(dims("w-0.5", 400, 200), (200, 100));
        assert_eq!(dims("w-100,ar-1-1", 400, 200), (100, 100));
        assert_eq!(dims("rt-90", 400, 200), (200, 400));
        assert_eq!(dims("w-100:rt-270", 400, 200), (50, 100));
        assert_eq!(dims("bl-5", 40, 20), (40, 20));
        let r = render(&png(10, 10), &Transformation::parse("f-jpg").expect("p")).expect("r");
        assert_eq!(r.mime, "image/jpeg");
        let r = render(&png(10, 10), &Transformation::parse("f-webp").expect("p")).expect("r");
        assert_eq!(r.mime, "image/webp");
        let r = render(&png(10, 10), &Transformation::parse("w-5").expect("p")).expect("r");
        assert_eq!(r.mime, "image/png");
    }

    #[test]
    fn refuses_outputs_beyond_the_maximum() {
        let t = Transformation::parse("w-8192,h-10,c-at_least").expect("parse");
        assert!(matches!(
            render(&png(10, 100), &t),
            Err(MediaError::TooLarge(_))
        ));
        let t = Transformation::parse("w-100:w-8192:h-8192").expect("parse");
        assert!(matches!(
            render(&png(10, 1), &t),
            Err(MediaError::TooLarge(_))
        ));
    }

    proptest! {
        #[test]
        fn parser_never_panics(s in "\\PC{0,64}") {
            let _ = Transformation::parse(&s);
        }

        #[test]
        fn parser_never_panics_on_near_misses(s in "[whqcfrtblar0-9.,:_-]{0,40}") {
            if let Ok(t) = Transformation::parse(&s) {
                // The canonical form parses back to the same transformation.
                prop_assert_eq!(Transformation::parse(&t.to_string()), Ok(t));
            }
        }
    }
}
