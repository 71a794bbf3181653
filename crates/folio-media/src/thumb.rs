//! Thumbnails for raster images, and the decoding both thumbnails and transformations use:
//! judged by the render budget from the header, then decoded under hard limits.

use std::io::Cursor;

use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader, Limits};

use crate::budget::{Refusal, RenderLimits, SourceImage};
use crate::detect::{self, Kind};
use crate::transform::{self, OutputFormat};
use crate::{exif_data, raster, MediaError};

/// Largest width or height we agree to decode. Legitimate photos and
/// panoramas stay well below; decompression bombs declare far more.
pub const MAX_DECODE_DIMENSION: u32 = 32_768;
/// JPEG quality of the generated thumbnails: small files, no visible blocking
/// at thumbnail sizes.
const JPEG_QUALITY: u8 = 82;

pub(crate) fn thumbnail(
    bytes: &[u8],
    max_side: u32,
    limits: &RenderLimits,
) -> Result<(Vec<u8>, &'static str), MediaError> {
    if max_side == 0 {
        return Err(MediaError::InvalidSize);
    }
    let decoded = decode_within(bytes, limits, |source| {
        crate::budget::estimate_thumbnail(source, max_side, limits)
    })?;
    let image = decoded.image;
    let mut image = if image.width() > max_side || image.height() > max_side {
        // `thumbnail` keeps the aspect ratio and uses a fast box filter (no float
        // intermediate), which is what a large downscale wants.
        image.thumbnail(max_side, max_side)
    } else {
        image
    };
    // Orientation is applied after the resize: the box is square, so the fit
    // is the same, and rotating the small image is cheaper.
    if let Some(o) = decoded.orientation {
        image.apply_orientation(o);
    }
    encode(image)
}

/// A decoded picture, with its format and EXIF orientation (not applied).
pub(crate) struct Decoded {
    pub image: DynamicImage,
    pub format: ImageFormat,
    pub orientation: Option<Orientation>,
}

/// Working memory of a decoder beyond its output, per pixel of output: JPEG keeps coefficient
/// planes, WebP its YUV planes, GIF a frame canvas, TIFF whole strips or tiles; PNG, BMP and
/// ICO write rows straight into the output.
fn decoder_bytes_per_pixel(format: ImageFormat, bytes_per_pixel: u64) -> u64 {
    match format {
        ImageFormat::Jpeg | ImageFormat::WebP | ImageFormat::Tiff => bytes_per_pixel,
        ImageFormat::Gif => 4,
        _ => 0,
    }
}

/// A raster image's decoder, opened (its header read) under the hard limits, with what the
/// header says.
struct Opened<'a> {
    decoder: Box<dyn ImageDecoder + 'a>,
    limits: Limits,
    source: SourceImage,
    format: ImageFormat,
    orientation: Option<u8>,
}

/// Reads the header of a raster image, without decoding any pixel.
fn open<'a>(bytes: &'a [u8], limits: &RenderLimits) -> Result<Opened<'a>, MediaError> {
    let head = &bytes[..bytes.len().min(crate::SNIFF_LEN)];
    // The name only matters for text formats, which are refused anyway.
    let detected = detect::detect(head, "");
    let format = match detected.kind {
        Kind::Jpeg => ImageFormat::Jpeg,
        Kind::Png => ImageFormat::Png,
        Kind::Gif => ImageFormat::Gif,
        Kind::WebP => ImageFormat::WebP,
        Kind::Bmp => ImageFormat::Bmp,
        Kind::Tiff => ImageFormat::Tiff,
        Kind::Ico => ImageFormat::Ico,
        _ => {
            return Err(MediaError::Unsupported {
                mime: detected.mime.to_string(),
            })
        }
    };
    let exif_orientation = orientation(detected.kind, head);

    let mut header_limits = Limits::default();
    header_limits.max_image_width = Some(MAX_DECODE_DIMENSION);
    header_limits.max_image_height = Some(MAX_DECODE_DIMENSION);
    header_limits.max_alloc = Some(limits.max_memory_bytes);
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(header_limits.clone());
    let decoder = reader.into_decoder().map_err(decode_error)?;
    let (width, height) = decoder.dimensions();
    let bytes_per_pixel = u64::from(decoder.color_type().bytes_per_pixel());
    let source = SourceImage {
        width,
        height,
        bytes_per_pixel,
        decoder_bytes_per_pixel: decoder_bytes_per_pixel(format, bytes_per_pixel),
        file_bytes: bytes.len() as u64,
        orientation: exif_orientation.map(u16::from),
    };
    Ok(Opened {
        decoder: Box::new(decoder),
        limits: header_limits,
        source,
        format,
        orientation: exif_orientation,
    })
}

/// What the header of a raster image says (for the render budget), without decoding it.
pub(crate) fn source_image(bytes: &[u8], limits: &RenderLimits) -> Result<SourceImage, MediaError> {
    open(bytes, limits).map(|opened| opened.source)
}

/// Reads the header of a raster image, lets `budget` judge the render from it, and only then
/// decodes, with the decoder's allocations capped at `limits.max_memory_bytes` (so a header
/// that understates the picture cannot get past the budget either).
pub(crate) fn decode_within(
    bytes: &[u8],
    limits: &RenderLimits,
    budget: impl FnOnce(&SourceImage) -> Result<crate::budget::Estimate, Refusal>,
) -> Result<Decoded, MediaError> {
    let Opened {
        mut decoder,
        limits: mut decode_limits,
        source,
        format,
        orientation,
    } = open(bytes, limits)?;
    budget(&source).map_err(MediaError::OverBudget)?;
    // What `ImageReader::decode` does: the output buffer counts against the allocation
    // limit, the decoder gets the rest.
    decode_limits
        .reserve(decoder.total_bytes())
        .map_err(decode_error)?;
    decoder.set_limits(decode_limits).map_err(decode_error)?;
    let image = DynamicImage::from_decoder(decoder).map_err(decode_error)?;
    Ok(Decoded {
        image,
        format,
        orientation: orientation.and_then(Orientation::from_exif),
    })
}

fn orientation(kind: Kind, head: &[u8]) -> Option<u8> {
    let blocks = raster::read(kind, head).blocks;
    let exif = exif_data::parse(blocks.exif?)?;
    exif_data::orientation(&exif).and_then(|o| u8::try_from(o).ok())
}

fn decode_error(e: ImageError) -> MediaError {
    match e {
        ImageError::Limits(l) => MediaError::TooLarge(l.to_string()),
        ImageError::Unsupported(u) => MediaError::Decode(u.to_string()),
        other => MediaError::Decode(other.to_string()),
    }
}

/// Decoders hand out an alpha channel for some formats whether or not the
/// file uses it (GIF always decodes to RGBA); only real transparency is worth
/// a PNG, which is several times larger than the JPEG.
fn has_transparent_pixels(image: &DynamicImage) -> bool {
    match image {
        DynamicImage::ImageLumaA8(i) => i.pixels().any(|p| p.0[1] != u8::MAX),
        DynamicImage::ImageRgba8(i) => i.pixels().any(|p| p.0[3] != u8::MAX),
        DynamicImage::ImageLumaA16(i) => i.pixels().any(|p| p.0[1] != u16::MAX),
        DynamicImage::ImageRgba16(i) => i.pixels().any(|p| p.0[3] != u16::MAX),
        DynamicImage::ImageRgba32F(i) => i.pixels().any(|p| p.0[3] < 1.0),
        other => other.color().has_alpha(),
    }
}

fn encode(image: DynamicImage) -> Result<(Vec<u8>, &'static str), MediaError> {
    // JPEG has no alpha channel; PNG keeps transparent areas transparent.
    let format = if has_transparent_pixels(&image) {
        OutputFormat::Png
    } else {
        OutputFormat::Jpeg
    };
    Ok((
        transform::encode(image, format, JPEG_QUALITY)?,
        format.mime(),
    ))
}
