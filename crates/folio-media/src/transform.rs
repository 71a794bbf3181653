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
//! | `q-` | 1..=100 (JPEG and AVIF quality; the last step's value wins) |
//! | `f-` | `jpg`, `jpeg`, `png`, `webp` (lossless), `avif` (rav1e, at speed [`AVIF_SPEED`]); ImageKit's other formats (`auto`, `gif`, `svg`, `mp4`, `webm`, `orig`) are refused as not supported |
//! | `rt-` | `0`, `90`, `180`, `270` (clockwise) |
//! | `bl-` | 1..=100 (blur radius) |
//!
//! No output side may exceed [`MAX_OUTPUT_DIMENSION`]: such a request is
//! refused, never clamped, so a URL always means one picture. What a render may cost
//! (pixels, steps, memory, work) is bounded by [`crate::budget`].

use std::fmt;
use std::io::Cursor;

use image::codecs::avif::AvifEncoder;
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::codecs::webp::WebPEncoder;
use image::imageops::FilterType;
use image::{DynamicImage, ImageError};

use crate::budget::{Refusal, RenderLimits};
use crate::MediaError;

/// Largest width or height a transformation may produce.
pub const MAX_OUTPUT_DIMENSION: u32 = 8192;
/// Longest transformation string accepted (a URL segment, a form field).
pub const MAX_TRANSFORMATION_LEN: usize = 1024;
/// Most steps the grammar accepts in one chain (the render budget's `max_steps` is lower).
const MAX_STEPS: usize = 16;
const DEFAULT_JPEG_QUALITY: u8 = 85;
/// rav1e's speed for `f-avif`, from 1 (smallest files, slowest) to 10. Measured on a 1 MP
/// picture (release build, one core): 1.4 µs a pixel at 10, 4.5 µs at 8 for files 30 %
/// smaller. A first delivery waits for the encoder, so the fastest; the render budget
/// (`budget::AVIF_ENCODE_WORK_PER_PIXEL`) is measured at this speed.
pub const AVIF_SPEED: u8 = 10;

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
    Avif,
}

impl OutputFormat {
    pub fn mime(self) -> &'static str {
        match self {
            OutputFormat::Jpeg => "image/jpeg",
            OutputFormat::Png => "image/png",
            OutputFormat::WebP => "image/webp",
            OutputFormat::Avif => "image/avif",
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
                        OutputFormat::Avif => "f-avif",
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
                    "avif" => OutputFormat::Avif,
                    "auto" | "gif" | "svg" | "mp4" | "webm" | "orig" => {
                        return Err(TransformError::UnsupportedFormat(value.to_owned()))
                    }
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
/// PNG when the image has alpha and JPEG otherwise.
///
/// The cost is estimated from the header before anything is decoded
/// ([`crate::estimate_render`]) and refused beyond `limits` ([`MediaError::OverBudget`]); the
/// decoder may allocate at most `limits.max_memory_bytes`.
pub fn render(
    bytes: &[u8],
    t: &Transformation,
    limits: &RenderLimits,
) -> Result<Rendered, MediaError> {
    let decoded = crate::thumb::decode_within(bytes, limits, |source| {
        crate::budget::estimate_render(source, t, limits)
    })?;
    let (mut image, source) = (decoded.image, decoded.format);
    if let Some(o) = decoded.orientation {
        image.apply_orientation(o);
    }
    for step in &t.steps {
        let plan = plan_step(step, (image.width(), image.height()))?;
        image = apply_step(image, &plan);
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

fn checked(v: u64) -> Result<u32, Refusal> {
    u32::try_from(v.max(1))
        .ok()
        .filter(|v| *v <= MAX_OUTPUT_DIMENSION)
        .ok_or(Refusal::OutputSide)
}

/// The largest size of `input`'s aspect ratio inside `bounds` (`fill`: the smallest covering
/// it), each side at least 1: the same arithmetic as the `image` crate's `resize` and
/// `resize_to_fill`, so the sizes Folio computes are the sizes it renders. `None` beyond `u32`.
pub(crate) fn fit_dimensions(
    (width, height): (u32, u32),
    (nwidth, nheight): (u32, u32),
    fill: bool,
) -> Option<(u32, u32)> {
    let wratio = f64::from(nwidth) / f64::from(width.max(1));
    let hratio = f64::from(nheight) / f64::from(height.max(1));
    let ratio = if fill {
        f64::max(wratio, hratio)
    } else {
        f64::min(wratio, hratio)
    };
    let side = |v: u32| {
        let r = (f64::from(v) * ratio).round();
        (r.is_finite() && r < f64::from(u32::MAX)).then(|| (r as u32).max(1))
    };
    Some((side(width)?, side(height)?))
}

/// A window cut out of a picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

/// What one step does, in the order [`render`] does it: the pure geometry that both the
/// renderer and the budget ([`crate::budget`]) follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StepPlan {
    /// Resize to this size (Triangle filter); `None` when the size does not change.
    pub resize: Option<(u32, u32)>,
    /// Then cut this window out of the resized picture (`c-maintain_ratio` with both sides).
    pub crop: Option<Window>,
    /// Then turn clockwise (0, 90, 180 or 270).
    pub rotate: u16,
    /// Then blur with this `bl-` value.
    pub blur: Option<u8>,
    /// The size after the step.
    pub output: (u32, u32),
}

/// The geometry of `step` on a `(width, height)` picture. A requested side above
/// [`MAX_OUTPUT_DIMENSION`] is refused.
pub(crate) fn plan_step(step: &Step, (iw, ih): (u32, u32)) -> Result<StepPlan, Refusal> {
    let (iw, ih) = (iw.max(1), ih.max(1));
    let mut w = resolve(step.width, iw);
    let mut h = resolve(step.height, ih);
    if let Some((a, b)) = step.aspect {
        match (w, h) {
            (Some(w0), None) => h = Some(scale(w0, u64::from(b), u64::from(a))),
            (None, Some(h0)) => w = Some(scale(h0, u64::from(a), u64::from(b))),
            _ => {}
        }
    }
    let mut resize = None;
    let mut crop = None;
    if w.is_some() || h.is_some() {
        let crop_mode = step.crop.unwrap_or(Crop::MaintainRatio);
        // Proportional other side when only one is given.
        let (tw, th) = match (w, h) {
            (Some(w), Some(h)) => (w, h),
            (Some(w), None) => (w, scale(w, u64::from(ih), u64::from(iw))),
            (None, Some(h)) => (scale(h, u64::from(iw), u64::from(ih)), h),
            (None, None) => (u64::from(iw), u64::from(ih)),
        };
        let both = w.is_some() && h.is_some();
        let target = match crop_mode {
            Crop::Force => (checked(tw)?, checked(th)?),
            Crop::MaintainRatio if both => {
                // Cover the box keeping the ratio, then cut the middle out (`resize_to_fill`).
                let (nw, nh) = (checked(tw)?, checked(th)?);
                let (rw, rh) =
                    fit_dimensions((iw, ih), (nw, nh), true).ok_or(Refusal::OutputSide)?;
                let window = if u64::from(nw) * u64::from(rh) > u64::from(rw) * u64::from(nh) {
                    Window {
                        x: 0,
                        y: rh.saturating_sub(nh) / 2,
                        width: nw.min(rw),
                        height: nh.min(rh),
                    }
                } else {
                    Window {
                        x: rw.saturating_sub(nw) / 2,
                        y: 0,
                        width: nw.min(rw),
                        height: nh.min(rh),
                    }
                };
                if (window.width, window.height) != (rw, rh) {
                    crop = Some(window);
                }
                (rw, rh)
            }
            Crop::MaintainRatio => (checked(tw)?, checked(th)?),
            Crop::AtMax => {
                // Fit inside the box, never enlarging.
                let bw = checked(tw.min(u64::from(iw)))?;
                let bh = checked(th.min(u64::from(ih)))?;
                if (bw, bh) == (iw, ih) {
                    (iw, ih)
                } else {
                    fit_dimensions((iw, ih), (bw, bh), false).ok_or(Refusal::OutputSide)?
                }
            }
            Crop::AtLeast => {
                // Cover the box, keeping the ratio: scale by the larger factor.
                let (nw, nh) = if tw * u64::from(ih) >= th * u64::from(iw) {
                    (tw, scale(tw, u64::from(ih), u64::from(iw)))
                } else {
                    (scale(th, u64::from(iw), u64::from(ih)), th)
                };
                (checked(nw)?, checked(nh)?)
            }
        };
        if target != (iw, ih) {
            resize = Some(target);
        }
    }
    let mut output = crop
        .map(|c| (c.width, c.height))
        .or(resize)
        .unwrap_or((iw, ih));
    let rotate = step.rotate.unwrap_or(0);
    if rotate == 90 || rotate == 270 {
        output = (output.1, output.0);
    }
    Ok(StepPlan {
        resize,
        crop,
        rotate,
        blur: step.blur,
        output,
    })
}

/// Executes a [`StepPlan`]; each stage consumes the previous picture, so at most two are alive.
fn apply_step(image: DynamicImage, plan: &StepPlan) -> DynamicImage {
    let mut image = match plan.resize {
        Some((w, h)) => image.resize_exact(w, h, FilterType::Triangle),
        None => image,
    };
    if let Some(c) = plan.crop {
        image = image.crop_imm(c.x, c.y, c.width, c.height);
    }
    image = match plan.rotate {
        90 => image.rotate90(),
        180 => image.rotate180(),
        270 => image.rotate270(),
        _ => image,
    };
    if let Some(b) = plan.blur {
        image = image.fast_blur(f32::from(b) / 2.0);
    }
    image
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
        OutputFormat::Png => rgb8_keeping_alpha(image)
            .write_with_encoder(PngEncoder::new(&mut out))
            .map_err(enc_err)?,
        OutputFormat::WebP => {
            let encoder = WebPEncoder::new_lossless(Cursor::new(&mut out));
            image
                .to_rgba8()
                .write_with_encoder(encoder)
                .map_err(enc_err)?;
        }
        OutputFormat::Avif => rgb8_keeping_alpha(image)
            .write_with_encoder(AvifEncoder::new_with_speed_quality(
                &mut out, AVIF_SPEED, quality,
            ))
            .map_err(enc_err)?,
    }
    Ok(out)
}

/// The 8-bit picture an encoder that keeps transparency takes: RGBA when there is an alpha
/// channel, else RGB.
fn rgb8_keeping_alpha(image: DynamicImage) -> DynamicImage {
    if image.color().has_alpha() {
        DynamicImage::ImageRgba8(image.to_rgba8())
    } else {
        DynamicImage::ImageRgb8(image.to_rgb8())
    }
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
            ("f-bmp", Malformed("f-bmp".into())),
            ("f-gif", UnsupportedFormat("gif".into())),
            ("f-auto", UnsupportedFormat("auto".into())),
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
        let r = render(
            &png(w, h),
            &Transformation::parse(text).expect("parse"),
            &RenderLimits::default(),
        )
        .expect("render");
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
        let r = render(
            &png(10, 10),
            &Transformation::parse("f-jpg").expect("p"),
            &RenderLimits::default(),
        )
        .expect("r");
        assert_eq!(r.mime, "image/jpeg");
        let r = render(
            &png(10, 10),
            &Transformation::parse("f-webp").expect("p"),
            &RenderLimits::default(),
        )
        .expect("r");
        assert_eq!(r.mime, "image/webp");
        let r = render(
            &png(10, 10),
            &Transformation::parse("w-5").expect("p"),
            &RenderLimits::default(),
        )
        .expect("r");
        assert_eq!(r.mime, "image/png");
    }

    #[test]
    fn refuses_outputs_beyond_the_maximum() {
        let limits = RenderLimits::default();
        let t = Transformation::parse("w-8192,h-10,c-at_least").expect("parse");
        assert!(matches!(
            render(&png(10, 100), &t, &limits),
            Err(MediaError::OverBudget(Refusal::OutputSide))
        ));
        let t = Transformation::parse("w-100:w-8192:h-8192").expect("parse");
        assert!(matches!(
            render(&png(10, 1), &t, &limits),
            Err(MediaError::OverBudget(Refusal::OutputSide))
        ));
        // Refused from the header: the 2000×2000 picture is never decoded.
        let tight = RenderLimits {
            max_memory_bytes: 1024 * 1024,
            ..limits
        };
        let t = Transformation::parse("w-10").expect("parse");
        assert!(matches!(
            render(&png(2000, 2000), &t, &tight),
            Err(MediaError::OverBudget(Refusal::Memory { .. }))
        ));
    }

    #[test]
    fn fill_crops_the_middle_like_resize_to_fill() {
        let t = Transformation::parse("w-100,h-100").expect("parse");
        let plan = plan_step(&t.steps()[0], (400, 200)).expect("plan");
        assert_eq!(plan.resize, Some((200, 100)));
        assert_eq!(
            plan.crop,
            Some(Window {
                x: 50,
                y: 0,
                width: 100,
                height: 100
            })
        );
        assert_eq!(plan.output, (100, 100));
        // Same size: nothing to do.
        let t = Transformation::parse("w-400").expect("parse");
        assert_eq!(
            plan_step(&t.steps()[0], (400, 200)).expect("plan").resize,
            None
        );
    }

    proptest! {
        /// The budget's geometry is what `render` makes: random chains on small pictures.
        #[test]
        fn planned_sizes_are_rendered_sizes(
            w in 1u32..=40, h in 1u32..=40,
            steps in proptest::collection::vec(
                "(w-[1-9][0-9]?|w-0\\.[1-9]|h-[1-9][0-9]?|h-0\\.[1-9])(,h-[1-9][0-9]?)?(,ar-[1-4]-[1-4])?(,c-(force|at_max|at_least|maintain_ratio))?(,rt-(90|180|270))?(,bl-[1-3])?",
                1..=3,
            ),
        ) {
            let Ok(t) = Transformation::parse(&steps.join(":")) else { return Ok(()) };
            let limits = RenderLimits::default();
            let source = crate::budget::SourceImage {
                width: w, height: h, bytes_per_pixel: 3, decoder_bytes_per_pixel: 0,
                file_bytes: 0, orientation: None,
            };
            let estimate = crate::budget::estimate_render(&source, &t, &limits);
            let rendered = render(&png(w, h), &t, &limits);
            match (estimate, rendered) {
                (Ok(e), Ok(r)) => prop_assert_eq!((e.width, e.height), (r.width, r.height)),
                (Err(e), Err(MediaError::OverBudget(r))) => prop_assert_eq!(e, r),
                (e, r) => prop_assert!(false, "estimate {:?} but render {:?}", e, r.map(|r| (r.width, r.height))),
            }
        }

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
