//! The render budget: what a transformation or a thumbnail will cost, computed from the image
//! header and the parsed chain *before* any pixel is decoded, and refused when it is too much.
//!
//! The estimate follows the buffers the real code allocates (the `image` crate 0.25 and
//! [`crate::transform`]), phase by phase, and keeps the largest sum alive at once:
//!
//! | phase | alive at its peak |
//! | --- | --- |
//! | decode | file + decoded picture + decoder working memory |
//! | EXIF orientation 5–8 (a quarter turn) | file + picture + turned copy (2–4 are in place) |
//! | resize to `nw`×`nh` (Triangle filter) | file + input + `in_w`×`nh` RGBA f32 intermediate (16 bytes a pixel, whatever the input's type) + output |
//! | crop (`c-maintain_ratio` with both sides) | file + resized + window |
//! | `rt-` | file + picture + turned copy |
//! | `bl-` (`fast_blur`) | file + picture + two working copies |
//! | thumbnail (`image.thumbnail`, box filter) | file + picture + output (no float intermediate) |
//! | encode | file + picture + 8-bit converted copy + encoded bytes (≤ 4 a pixel) |
//!
//! Work is counted in pixel operations: one per decoded pixel, per filter tap of a resize
//! (a Triangle filter reads `2·ratio + 1` input pixels per output pixel when shrinking, 3 when
//! growing), six per pixel of a blur (three box passes each way, whatever the radius), one per
//! pixel of a turn or a crop, four per encoded pixel.
//!
//! The geometry is [`crate::transform::plan_step`], the very function `render` executes, so an
//! estimate's output size is the rendered size.

use crate::transform::{plan_step, OutputFormat, Transformation, MAX_OUTPUT_DIMENSION};

/// Limits of one render (delivery transformation, upload pre/post transformation, thumbnail).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RenderLimits {
    /// Largest input, in pixels (width × height as stored).
    pub max_input_pixels: u64,
    /// Largest picture any step may produce (a resize before its crop included), in pixels.
    pub max_output_pixels: u64,
    /// Most steps (`:`-separated) in one chain.
    pub max_steps: usize,
    /// Estimated peak memory of one render, in bytes; also the decoder's allocation limit.
    pub max_memory_bytes: u64,
    /// Estimated work of one render, in pixel operations (see the module documentation).
    pub max_work: u64,
}

impl Default for RenderLimits {
    /// Sized so that thumbnails and web-sized resizes (up to ~2560 px) of 24–48 MP photos fit,
    /// with room for a blur or a turn, while one render stays within half a GiB and about
    /// 4–5 s of one core (a unit of work measured ~9 ns on a release build).
    fn default() -> Self {
        RenderLimits {
            max_input_pixels: 128 * 1024 * 1024,
            max_output_pixels: 50_000_000,
            max_steps: 4,
            max_memory_bytes: 512 * 1024 * 1024,
            max_work: 500_000_000,
        }
    }
}

/// What the header of an image says, before decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceImage {
    /// Size as stored (before EXIF orientation).
    pub width: u32,
    pub height: u32,
    /// Bytes per pixel of the decoded picture: 1 (8-bit gray) to 16 (RGBA f32).
    pub bytes_per_pixel: u64,
    /// Working memory of the decoder beyond its output, per pixel.
    pub decoder_bytes_per_pixel: u64,
    /// The encoded file, held in memory for the whole render.
    pub file_bytes: u64,
    /// EXIF orientation 1–8 (applied before a transformation, after a thumbnail's resize).
    pub orientation: Option<u16>,
}

impl SourceImage {
    /// A lower bound of any image of this size (8-bit gray, nothing else held), for a check
    /// from the catalog's facts before the file is read: what this refuses, the exact
    /// estimate refuses too.
    pub fn lower_bound(width: u32, height: u32, orientation: Option<u16>) -> Self {
        SourceImage {
            width,
            height,
            bytes_per_pixel: 1,
            decoder_bytes_per_pixel: 0,
            file_bytes: 0,
            orientation,
        }
    }
}

/// What a render will produce and cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Estimate {
    pub width: u32,
    pub height: u32,
    pub peak_memory_bytes: u64,
    pub work: u64,
}

/// Why a render was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the image has {pixels} pixels, more than the limit of {limit}")]
    InputPixels { pixels: u64, limit: u64 },
    #[error("the transformation has {steps} steps, more than the limit of {limit}")]
    Steps { steps: usize, limit: usize },
    #[error("a step would make {pixels} pixels, more than the limit of {limit}")]
    OutputPixels { pixels: u64, limit: u64 },
    #[error("a transformation output side exceeds {MAX_OUTPUT_DIMENSION} pixels")]
    OutputSide,
    #[error("the render needs about {need} bytes of memory, more than the limit of {limit}")]
    Memory { need: u64, limit: u64 },
    #[error("the render needs about {need} pixel operations, more than the limit of {limit}")]
    Work { need: u64, limit: u64 },
}

/// Bytes per pixel of the resize intermediate (`image`'s `vertical_sample` makes RGBA f32).
const RESIZE_INTERMEDIATE_BYTES_PER_PIXEL: u64 = 16;
/// The 8-bit copy the encoders take (`to_rgb8`/`to_rgba8`), and the encoded bytes, per pixel.
const ENCODE_COPY_BYTES_PER_PIXEL: u64 = 4;
const ENCODED_BYTES_PER_PIXEL: u64 = 4;
const ENCODE_WORK_PER_PIXEL: u64 = 4;
/// rav1e at `transform::AVIF_SPEED`: about 1.2–1.6 µs a pixel on one core (160 units of
/// ~9 ns), and about 32 bytes a pixel of encoder state besides the 8-bit copy (peak RSS of
/// a 3 MP encode: 106 MB).
const AVIF_ENCODE_WORK_PER_PIXEL: u64 = 160;
const AVIF_ENCODER_BYTES_PER_PIXEL: u64 = 32;
const BLUR_WORK_PER_PIXEL: u64 = 6;

fn pixels(w: u32, h: u32) -> u64 {
    u64::from(w) * u64::from(h)
}

/// Running maximum of memory alive at once, and the sum of work.
struct Meter {
    base: u64,
    peak: u64,
    work: u64,
}

impl Meter {
    fn new(base: u64) -> Self {
        Meter {
            base,
            peak: base,
            work: 0,
        }
    }

    fn phase(&mut self, alive: &[u64]) {
        let total = alive
            .iter()
            .fold(self.base, |sum, bytes| sum.saturating_add(*bytes));
        self.peak = self.peak.max(total);
    }

    fn work(&mut self, units: u64) {
        self.work = self.work.saturating_add(units);
    }

    fn finish(
        self,
        (width, height): (u32, u32),
        limits: &RenderLimits,
    ) -> Result<Estimate, Refusal> {
        if self.peak > limits.max_memory_bytes {
            return Err(Refusal::Memory {
                need: self.peak,
                limit: limits.max_memory_bytes,
            });
        }
        if self.work > limits.max_work {
            return Err(Refusal::Work {
                need: self.work,
                limit: limits.max_work,
            });
        }
        Ok(Estimate {
            width,
            height,
            peak_memory_bytes: self.peak,
            work: self.work,
        })
    }
}

fn check_output(w: u32, h: u32, limits: &RenderLimits) -> Result<(), Refusal> {
    let p = pixels(w, h);
    if p > limits.max_output_pixels {
        return Err(Refusal::OutputPixels {
            pixels: p,
            limit: limits.max_output_pixels,
        });
    }
    Ok(())
}

/// Input pixels a Triangle filter reads per output pixel along one axis.
fn taps(input: u32, output: u32) -> u64 {
    let (input, output) = (u64::from(input), u64::from(output.max(1)));
    if input > output {
        2 * input.div_ceil(output) + 1
    } else {
        3
    }
}

/// Decoding. Returns the decoded picture's bytes.
fn decode(source: &SourceImage, limits: &RenderLimits, m: &mut Meter) -> Result<u64, Refusal> {
    let px = pixels(source.width, source.height);
    if px > limits.max_input_pixels {
        return Err(Refusal::InputPixels {
            pixels: px,
            limit: limits.max_input_pixels,
        });
    }
    let decoded = px.saturating_mul(source.bytes_per_pixel);
    m.phase(&[decoded, px.saturating_mul(source.decoder_bytes_per_pixel)]);
    m.work(px);
    Ok(decoded)
}

/// EXIF orientations 5–8 turn the picture a quarter (a new buffer); 2–4 flip it in place.
fn orient(orientation: Option<u16>, (w, h): (u32, u32), bytes: u64, m: &mut Meter) -> (u32, u32) {
    match orientation {
        Some(5..=8) => {
            m.phase(&[bytes, bytes]);
            m.work(pixels(w, h));
            (h, w)
        }
        Some(2..=4) => {
            m.work(pixels(w, h));
            (w, h)
        }
        _ => (w, h),
    }
}

fn encode((w, h): (u32, u32), bytes: u64, format: Option<OutputFormat>, m: &mut Meter) {
    let px = pixels(w, h);
    let (encoder_bytes, work) = match format {
        Some(OutputFormat::Avif) => (AVIF_ENCODER_BYTES_PER_PIXEL, AVIF_ENCODE_WORK_PER_PIXEL),
        _ => (0, ENCODE_WORK_PER_PIXEL),
    };
    m.phase(&[
        bytes,
        px.saturating_mul(ENCODE_COPY_BYTES_PER_PIXEL),
        px.saturating_mul(ENCODED_BYTES_PER_PIXEL),
        px.saturating_mul(encoder_bytes),
    ]);
    m.work(px.saturating_mul(work));
}

/// The cost of [`crate::render`] of `t` on `source`, or why it is refused.
pub fn estimate_render(
    source: &SourceImage,
    t: &Transformation,
    limits: &RenderLimits,
) -> Result<Estimate, Refusal> {
    let steps = t.steps();
    if steps.len() > limits.max_steps {
        return Err(Refusal::Steps {
            steps: steps.len(),
            limit: limits.max_steps,
        });
    }
    let b = source.bytes_per_pixel;
    let mut m = Meter::new(source.file_bytes);
    let mut bytes = decode(source, limits, &mut m)?;
    let mut size = orient(
        source.orientation,
        (source.width, source.height),
        bytes,
        &mut m,
    );
    for step in steps {
        let plan = plan_step(step, size)?;
        if let Some((nw, nh)) = plan.resize {
            check_output(nw, nh, limits)?;
            let out = pixels(nw, nh).saturating_mul(b);
            let intermediate =
                pixels(size.0, nh).saturating_mul(RESIZE_INTERMEDIATE_BYTES_PER_PIXEL);
            m.phase(&[bytes, intermediate, out]);
            m.work(
                pixels(size.0, nh)
                    .saturating_mul(taps(size.1, nh))
                    .saturating_add(pixels(nw, nh).saturating_mul(taps(size.0, nw))),
            );
            (size, bytes) = ((nw, nh), out);
        }
        if let Some(crop) = plan.crop {
            let out = pixels(crop.width, crop.height).saturating_mul(b);
            m.phase(&[bytes, out]);
            m.work(pixels(crop.width, crop.height));
            (size, bytes) = ((crop.width, crop.height), out);
        }
        if plan.rotate != 0 {
            m.phase(&[bytes, bytes]);
            m.work(pixels(size.0, size.1));
            if plan.rotate != 180 {
                size = (size.1, size.0);
            }
        }
        if plan.blur.is_some() {
            m.phase(&[bytes, bytes, bytes]);
            m.work(pixels(size.0, size.1).saturating_mul(BLUR_WORK_PER_PIXEL));
        }
        if size != plan.output {
            // plan_step and this walk disagree: a bug, refused rather than mis-estimated.
            return Err(Refusal::OutputSide);
        }
        check_output(size.0, size.1, limits)?;
    }
    // A transformation without `f-` keeps the source's format, which is never AVIF.
    encode(size, bytes, t.format(), &mut m);
    m.finish(size, limits)
}

/// The cost of decoding `source` and nothing else ([`crate::verify_decodes`]), or why it is
/// refused.
pub fn estimate_decode(source: &SourceImage, limits: &RenderLimits) -> Result<Estimate, Refusal> {
    let mut m = Meter::new(source.file_bytes);
    decode(source, limits, &mut m)?;
    m.finish((source.width, source.height), limits)
}

/// The smallest file that can hold a `width`×`height` picture in `mime`'s format: the best
/// compression the format allows, rounded generously in the file's favour (GIF's LZW: a 12-bit
/// code for at most 4096 pixels; PNG's deflate: at most 1032:1 of at least one bit a pixel;
/// JPEG and BMP: a code of at least a bit per 8×8 block, or per RLE run). `None` for formats
/// whose coding has no such floor (WebP, TIFF, ICO).
pub fn smallest_file(mime: &str, width: u32, height: u32) -> Option<u64> {
    let pixels_per_byte: u64 = match mime {
        "image/gif" => 4096,
        "image/png" => 16_384,
        "image/jpeg" | "image/bmp" => 1024,
        _ => return None,
    };
    Some(pixels(width, height) / pixels_per_byte)
}

/// The cost of [`crate::thumbnail`] into a `max_side` box on `source`, or why it is refused.
pub fn estimate_thumbnail(
    source: &SourceImage,
    max_side: u32,
    limits: &RenderLimits,
) -> Result<Estimate, Refusal> {
    let b = source.bytes_per_pixel;
    let mut m = Meter::new(source.file_bytes);
    let mut bytes = decode(source, limits, &mut m)?;
    let mut size = (source.width, source.height);
    if size.0 > max_side || size.1 > max_side {
        let (tw, th) = crate::transform::fit_dimensions(size, (max_side, max_side), false)
            .ok_or(Refusal::OutputSide)?;
        let out = pixels(tw, th).saturating_mul(b);
        m.phase(&[bytes, out]);
        m.work(pixels(size.0, size.1).saturating_add(pixels(tw, th)));
        (size, bytes) = ((tw, th), out);
    }
    let size = orient(source.orientation, size, bytes, &mut m);
    encode(size, bytes, None, &mut m);
    m.finish(size, limits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MIB: u64 = 1024 * 1024;

    fn rgb(width: u32, height: u32) -> SourceImage {
        SourceImage {
            width,
            height,
            bytes_per_pixel: 3,
            decoder_bytes_per_pixel: 0,
            file_bytes: 0,
            orientation: None,
        }
    }

    fn render(source: &SourceImage, t: &str) -> Result<Estimate, Refusal> {
        estimate_render(
            source,
            &Transformation::parse(t).expect("parse"),
            &RenderLimits::default(),
        )
    }

    #[test]
    fn the_review_cases_are_refused() {
        // tr:w-5000 on an 11000×11000 PNG: 363 MB decoded + an 880 MB f32 intermediate.
        let big = rgb(11_000, 11_000);
        match render(&big, "w-5000") {
            Err(Refusal::Memory { need, .. }) => assert!(need > 1200 * 1000 * 1000, "{need}"),
            other => panic!("{other:?}"),
        }
        // The four-step chain of 8192² resizes and blurs.
        assert!(matches!(
            render(&rgb(1000, 1000), "w-8192,h-8192:bl-50:w-8192,h-8192:bl-50"),
            Err(Refusal::OutputPixels { .. })
        ));
        // Five steps.
        assert_eq!(
            render(&rgb(100, 100), "w-90:w-80:w-70:w-60:w-50"),
            Err(Refusal::Steps { steps: 5, limit: 4 })
        );
        // Beyond the input pixel limit, whatever the transformation.
        assert!(matches!(
            render(&rgb(20_000, 20_000), "w-10"),
            Err(Refusal::InputPixels { .. })
        ));
        // c-maintain_ratio with both sides resizes to cover the box, then crops: a thin box on
        // a tall image would make a 8192×81920 intermediate.
        assert!(matches!(
            render(&rgb(10, 100), "w-8192,h-10"),
            Err(Refusal::OutputPixels { .. })
        ));
        // Blurs are cheap per pixel but not free: many full-size blurs exceed the work budget.
        assert!(matches!(
            render(&rgb(6000, 6000), "bl-100:bl-100:bl-100:bl-100"),
            Err(Refusal::Work { .. })
        ));
    }

    #[test]
    fn avif_output_is_budgeted_at_the_encoder_cost() {
        let limits = RenderLimits::default();
        let photo = rgb(6000, 4000);
        // A web-sized AVIF of a large photo fits; the same size as JPEG costs a fraction.
        let avif = render(&photo, "w-1000,f-avif").expect("a 1000 px AVIF");
        let jpeg = render(&photo, "w-1000,f-jpg").expect("a 1000 px JPEG");
        assert!(avif.work > jpeg.work && avif.peak_memory_bytes >= jpeg.peak_memory_bytes);
        assert!(avif.work <= limits.max_work);
        // A full-size AVIF (24 MP: about 30 s of one core and 800 MB) is refused; as JPEG it
        // is not.
        assert!(matches!(
            render(&photo, "f-avif"),
            Err(Refusal::Work { .. } | Refusal::Memory { .. })
        ));
        assert!(matches!(
            render(&rgb(2500, 2000), "f-avif"),
            Err(Refusal::Work { .. })
        ));
        render(&photo, "f-jpg").expect("a full-size JPEG");
    }

    #[test]
    fn ordinary_photos_fit() {
        let limits = RenderLimits::default();
        for (w, h) in [(6000, 4000), (8000, 6000)] {
            let photo = SourceImage {
                orientation: Some(6),
                file_bytes: 20 * MIB,
                decoder_bytes_per_pixel: 3,
                ..rgb(w, h)
            };
            let thumb = estimate_thumbnail(&photo, 300, &limits).expect("thumbnail");
            assert_eq!((thumb.width.max(thumb.height)), 300);
            for t in [
                "w-100",
                "w-1920",
                "w-2560",
                "w-400,bl-10",
                "w-2000:rt-90",
                "h-1080,q-80",
            ] {
                let e = render(&photo, t).unwrap_or_else(|e| panic!("{w}x{h} {t}: {e}"));
                assert!(e.peak_memory_bytes <= limits.max_memory_bytes);
            }
        }
        // Half size of a 24 MP photo, a full-size blur and a turn of a 24 MP photo.
        for t in ["w-0.5", "bl-5", "rt-90"] {
            render(&rgb(6000, 4000), t).unwrap_or_else(|e| panic!("{t}: {e}"));
        }
    }

    #[test]
    fn the_estimate_follows_the_buffers() {
        // 1000×500 RGB to w-100: decode 1.5 MB, then 1.5 MB + 1000×50×16 + 100×50×3.
        let e = render(&rgb(1000, 500), "w-100").expect("fits");
        assert_eq!((e.width, e.height), (100, 50));
        assert_eq!(e.peak_memory_bytes, 1_500_000 + 800_000 + 15_000);
        // A quarter turn from EXIF doubles the decoded picture for a moment (3 MB), and the
        // encoder holds the picture, an 8-bit copy and the encoded bytes (3 + 4 + 4 a pixel).
        let turned = SourceImage {
            orientation: Some(6),
            ..rgb(1000, 500)
        };
        let e = render(&turned, "rt-0").expect("fits");
        assert_eq!((e.width, e.height), (500, 1000));
        assert_eq!(e.peak_memory_bytes, 5_500_000);
        // A blur keeps two working copies (3 × 3 bytes a pixel), less than encoding; the file
        // is held throughout.
        let held = SourceImage {
            file_bytes: 7,
            ..rgb(100, 100)
        };
        assert_eq!(
            render(&held, "bl-3").expect("fits").peak_memory_bytes,
            110_007
        );
        let wide = SourceImage {
            bytes_per_pixel: 16,
            ..rgb(100, 100)
        };
        assert_eq!(
            render(&wide, "bl-3").expect("fits").peak_memory_bytes,
            480_000
        );
        // The lower bound never exceeds an exact estimate.
        let low = SourceImage::lower_bound(1000, 500, None);
        assert!(render(&low, "w-100").expect("fits").peak_memory_bytes < 1_500_000 + 815_000);
    }

    #[test]
    fn thumbnails_have_no_float_intermediate() {
        // A 11000² RGB PNG thumbnails within budget: 363 MB decoded + a 300×300 output.
        let e =
            estimate_thumbnail(&rgb(11_000, 11_000), 300, &RenderLimits::default()).expect("fits");
        assert_eq!((e.width, e.height), (300, 300));
        assert!(e.peak_memory_bytes < 364 * 1000 * 1000);
        // Small images are not resized.
        let e = estimate_thumbnail(&rgb(20, 10), 300, &RenderLimits::default()).expect("fits");
        assert_eq!((e.width, e.height), (20, 10));
    }

    fn any_step() -> impl Strategy<Value = String> {
        let size = prop_oneof![
            (1u32..=8192).prop_map(|v| v.to_string()),
            (1u32..=999).prop_map(|v| format!("0.{v:03}")),
        ];
        (
            proptest::option::of(size.clone()),
            proptest::option::of(size),
            proptest::option::of((1u32..=20, 1u32..=20)),
            proptest::option::of(0usize..4),
            proptest::option::of(0usize..4),
            proptest::option::of(1u8..=100),
        )
            .prop_map(|(w, h, ar, c, rt, bl)| {
                let mut parts = Vec::new();
                if let Some(w) = w {
                    parts.push(format!("w-{w}"));
                }
                if let Some(h) = h {
                    parts.push(format!("h-{h}"));
                }
                if let Some((a, b)) = ar {
                    parts.push(format!("ar-{a}-{b}"));
                }
                if let Some(c) = c {
                    parts.push(
                        ["c-maintain_ratio", "c-force", "c-at_max", "c-at_least"][c].to_owned(),
                    );
                }
                if let Some(r) = rt {
                    parts.push(format!("rt-{}", [0, 90, 180, 270][r]));
                }
                if let Some(b) = bl {
                    parts.push(format!("bl-{b}"));
                }
                if parts.is_empty() {
                    parts.push("q-80".to_owned());
                }
                parts.join(",")
            })
    }

    proptest! {
        /// Any header and chain: no panic, no overflow, and an accepted estimate is within
        /// every limit.
        #[test]
        fn estimates_are_total_and_within_limits(
            w in 1u32..=40_000, h in 1u32..=40_000, b in 1u64..=16, extra in 0u64..=8,
            orientation in proptest::option::of(1u16..=8),
            steps in proptest::collection::vec(any_step(), 1..=6),
            max_side in 1u32..=2000,
        ) {
            let limits = RenderLimits::default();
            let source = SourceImage {
                width: w, height: h, bytes_per_pixel: b, decoder_bytes_per_pixel: extra,
                file_bytes: 1000, orientation,
            };
            let t = Transformation::parse(&steps.join(":")).expect("generated steps parse");
            for e in [estimate_render(&source, &t, &limits), estimate_thumbnail(&source, max_side, &limits)]
                .into_iter()
                .flatten()
            {
                prop_assert!(e.peak_memory_bytes <= limits.max_memory_bytes);
                prop_assert!(e.work <= limits.max_work);
                prop_assert!(pixels(e.width, e.height) <= limits.max_output_pixels);
                prop_assert!(pixels(w, h) <= limits.max_input_pixels);
            }
        }

        /// More bytes per pixel never makes a render cheaper: the catalog's lower bound is sound.
        #[test]
        fn the_lower_bound_is_a_lower_bound(
            w in 1u32..=12_000, h in 1u32..=12_000, b in 1u64..=16,
            step in any_step(),
        ) {
            let limits = RenderLimits::default();
            let t = Transformation::parse(&step).expect("generated step parses");
            let exact = SourceImage { bytes_per_pixel: b, file_bytes: 10, ..SourceImage::lower_bound(w, h, None) };
            if estimate_render(&exact, &t, &limits).is_ok() {
                prop_assert!(estimate_render(&SourceImage::lower_bound(w, h, None), &t, &limits).is_ok());
            }
        }
    }
}
