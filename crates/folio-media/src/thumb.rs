//! Thumbnails for raster images, decoded under hard resource limits.

use std::io::Cursor;

use image::metadata::Orientation;
use image::{DynamicImage, ImageError, ImageFormat, ImageReader, Limits};

use crate::detect::{self, Kind};
use crate::transform::{self, OutputFormat};
use crate::{exif_data, raster, MediaError};

/// Largest width or height we agree to decode. Legitimate photos and
/// panoramas stay well below; decompression bombs declare far more.
pub const MAX_DECODE_DIMENSION: u32 = 32_768;
/// Upper bound on the memory the decoder may allocate for one image.
pub const MAX_DECODE_ALLOC: u64 = 512 * 1024 * 1024;
/// JPEG quality of the generated thumbnails: small files, no visible blocking
/// at thumbnail sizes.
const JPEG_QUALITY: u8 = 82;

pub(crate) fn thumbnail(
    bytes: &[u8],
    max_side: u32,
) -> Result<(Vec<u8>, &'static str), MediaError> {
    if max_side == 0 {
        return Err(MediaError::InvalidSize);
    }
    let (image, _, orientation) = decode(bytes)?;
    let image = if image.width() > max_side || image.height() > max_side {
        // `thumbnail` keeps the aspect ratio and uses a fast box filter, which
        // is what a large downscale wants.
        image.thumbnail(max_side, max_side)
    } else {
        image
    };
    let mut image = image;
    // Orientation is applied after the resize: the box is square, so the fit
    // is the same, and rotating the small image is cheaper.
    if let Some(o) = orientation {
        image.apply_orientation(o);
    }
    encode(image)
}

/// Decodes a raster image under the limits, returning its format and EXIF orientation (not
/// applied).
fn decode(bytes: &[u8]) -> Result<(DynamicImage, ImageFormat, Option<Orientation>), MediaError> {
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

    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_DECODE_DIMENSION);
    limits.max_image_height = Some(MAX_DECODE_DIMENSION);
    limits.max_alloc = Some(MAX_DECODE_ALLOC);
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(limits);
    let image = reader.decode().map_err(decode_error)?;
    let o = orientation(detected.kind, head).and_then(Orientation::from_exif);
    Ok((image, format, o))
}

/// [`decode`] with the EXIF orientation applied: the upright picture.
pub(crate) fn decode_oriented(bytes: &[u8]) -> Result<(DynamicImage, ImageFormat), MediaError> {
    let (mut image, format, orientation) = decode(bytes)?;
    if let Some(o) = orientation {
        image.apply_orientation(o);
    }
    Ok((image, format))
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
