//! Walkers over the raster containers we extract facts from. Each walker
//! reads only what the head holds and stops quietly at the first
//! inconsistency: a truncated or corrupt file yields fewer facts, never an
//! error or a panic.

use crate::bmff;
use crate::detect::Kind;

/// Metadata blocks found in a file, borrowed from the head.
#[derive(Debug, Default)]
pub(crate) struct Blocks<'a> {
    /// TIFF-structured EXIF data (starting with the byte-order mark).
    pub exif: Option<&'a [u8]>,
    /// XMP packet (RDF/XML).
    pub xmp: Option<&'a [u8]>,
    /// IPTC-IIM records.
    pub iptc: Option<&'a [u8]>,
    pub has_icc: bool,
    /// Pixel density in dots per inch, when the container declares it.
    pub density: Option<f64>,
}

/// Image facts read from the container structure itself.
#[derive(Debug, Default)]
pub(crate) struct Raster<'a> {
    pub dims: Option<(u32, u32)>,
    pub has_alpha: Option<bool>,
    pub blocks: Blocks<'a>,
}

fn u16_be(d: &[u8], at: usize) -> Option<u16> {
    let b = d.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([b[0], b[1]]))
}

fn u32_be(d: &[u8], at: usize) -> Option<u32> {
    let b = d.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

fn u16_le(d: &[u8], at: usize) -> Option<u16> {
    let b = d.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes([b[0], b[1]]))
}

fn u24_le(d: &[u8], at: usize) -> Option<u32> {
    let b = d.get(at..at.checked_add(3)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], 0]))
}

fn u32_le(d: &[u8], at: usize) -> Option<u32> {
    let b = d.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

fn nonzero(w: u32, h: u32) -> Option<(u32, u32)> {
    (w > 0 && h > 0).then_some((w, h))
}

pub(crate) fn read(kind: Kind, head: &[u8]) -> Raster<'_> {
    match kind {
        Kind::Jpeg => jpeg(head),
        Kind::Png => png(head),
        Kind::Gif => gif(head),
        Kind::WebP => webp(head),
        Kind::Bmp => bmp(head),
        Kind::Tiff => Raster {
            // TIFF *is* an EXIF structure; dimensions, alpha and the embedded
            // XMP/IPTC/ICC blocks are tags of its first IFD (see `exif`).
            dims: imagesize_dims(head),
            has_alpha: None,
            blocks: Blocks {
                exif: Some(head),
                ..Blocks::default()
            },
        },
        Kind::Ico => Raster {
            dims: imagesize_dims(head),
            // Every icon image has an AND mask or an alpha channel.
            has_alpha: Some(true),
            blocks: Blocks::default(),
        },
        Kind::Heif => Raster {
            dims: imagesize_dims(head),
            has_alpha: Some(bmff::heif_has_alpha(head)),
            blocks: Blocks {
                xmp: bmff::find_xmp_packet(head),
                has_icc: bmff::heif_has_icc(head),
                ..Blocks::default()
            },
        },
        Kind::Svg | Kind::IsoMedia | Kind::Matroska | Kind::Other => Raster::default(),
    }
}

fn imagesize_dims(head: &[u8]) -> Option<(u32, u32)> {
    let s = imagesize::blob_size(head).ok()?;
    nonzero(u32::try_from(s.width).ok()?, u32::try_from(s.height).ok()?)
}

// ---------------------------------------------------------------- JPEG

const EXIF_ID: &[u8] = b"Exif\0\0";
const XMP_ID: &[u8] = b"http://ns.adobe.com/xap/1.0/\0";
const ICC_ID: &[u8] = b"ICC_PROFILE\0";
const PHOTOSHOP_ID: &[u8] = b"Photoshop 3.0\0";

fn jpeg(head: &[u8]) -> Raster<'_> {
    let mut r = Raster {
        has_alpha: Some(false),
        ..Raster::default()
    };
    let mut p = 2usize;
    loop {
        // Markers may be preceded by any number of 0xFF fill bytes.
        if head.get(p) != Some(&0xFF) {
            break;
        }
        while head.get(p) == Some(&0xFF) {
            p += 1;
        }
        let Some(&marker) = head.get(p) else { break };
        p += 1;
        match marker {
            // stand-alone markers carry no length
            0x01 | 0xD0..=0xD7 => continue,
            // end of image, start of scan: all metadata precedes these
            0xD9 | 0xDA => break,
            _ => {}
        }
        let Some(len) = u16_be(head, p) else { break };
        let Some(seg) = (len >= 2)
            .then(|| head.get(p + 2..p + usize::from(len)))
            .flatten()
        else {
            break;
        };
        p += usize::from(len);
        match marker {
            // SOFn (not DHT C4, JPG C8, DAC CC): precision, height, width
            0xC0..=0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF if r.dims.is_none() => {
                r.dims = u16_be(seg, 1)
                    .zip(u16_be(seg, 3))
                    .and_then(|(h, w)| nonzero(u32::from(w), u32::from(h)));
            }
            0xE0 if seg.starts_with(b"JFIF\0") => {
                // units: 1 = dots per inch, 2 = dots per cm; 0 = aspect only
                let units = seg.get(7).copied();
                let x = u16_be(seg, 8).map(f64::from);
                r.blocks.density = match (units, x) {
                    (Some(1), Some(x)) if x > 0.0 => Some(x),
                    (Some(2), Some(x)) if x > 0.0 => Some(x * 2.54),
                    _ => r.blocks.density,
                };
            }
            0xE1 if seg.starts_with(EXIF_ID) && r.blocks.exif.is_none() => {
                r.blocks.exif = Some(&seg[EXIF_ID.len()..]);
            }
            0xE1 if seg.starts_with(XMP_ID) && r.blocks.xmp.is_none() => {
                r.blocks.xmp = Some(&seg[XMP_ID.len()..]);
            }
            0xE2 if seg.starts_with(ICC_ID) => r.blocks.has_icc = true,
            0xED if seg.starts_with(PHOTOSHOP_ID) && r.blocks.iptc.is_none() => {
                r.blocks.iptc = photoshop_iptc(&seg[PHOTOSHOP_ID.len()..]);
            }
            _ => {}
        }
    }
    r
}

/// Photoshop image resource blocks: `8BIM`, id, padded Pascal name, size,
/// data (padded to even length). Resource 0x0404 holds the IPTC-IIM records.
fn photoshop_iptc(mut d: &[u8]) -> Option<&[u8]> {
    while d.len() >= 12 {
        if !matches!(&d[..4], b"8BIM" | b"PHUT" | b"AgHg" | b"DCSR") {
            return None;
        }
        let id = u16_be(d, 4)?;
        let name_len = usize::from(*d.get(6)?);
        // the name's length byte plus the name, padded to an even total
        let name_total = (1 + name_len + 1) & !1;
        let size_at = 6 + name_total;
        let size = usize::try_from(u32_be(d, size_at)?).ok()?;
        let data_at = size_at + 4;
        let data = d.get(data_at..data_at.checked_add(size)?)?;
        if id == 0x0404 {
            return Some(data);
        }
        let next = data_at + size + (size & 1);
        d = d.get(next..)?;
    }
    None
}

// ---------------------------------------------------------------- PNG

fn png(head: &[u8]) -> Raster<'_> {
    let mut r = Raster::default();
    let mut p = 8usize;
    let mut color_alpha = false;
    let mut trns = false;
    while let (Some(len), Some(kind)) = (u32_be(head, p), head.get(p + 4..p + 8)) {
        let Ok(len) = usize::try_from(len) else { break };
        let data_at = p + 8;
        let Some(data) = data_at
            .checked_add(len)
            .and_then(|end| head.get(data_at..end))
        else {
            break;
        };
        match kind {
            b"IHDR" => {
                r.dims = u32_be(data, 0)
                    .zip(u32_be(data, 4))
                    .and_then(|(w, h)| nonzero(w, h));
                // colour types 4 (grey+alpha) and 6 (RGBA)
                color_alpha = matches!(data.get(9), Some(4 | 6));
            }
            b"tRNS" => trns = true,
            b"iCCP" => r.blocks.has_icc = true,
            b"eXIf" if r.blocks.exif.is_none() => r.blocks.exif = Some(data),
            b"iTXt" if r.blocks.xmp.is_none() => r.blocks.xmp = png_xmp(data),
            // unit 1 = per metre
            b"pHYs" if data.get(8) == Some(&1) => {
                r.blocks.density = u32_be(data, 0)
                    .filter(|x| *x > 0)
                    .map(|x| (f64::from(x) * 0.0254).round());
            }
            b"IEND" => break,
            _ => {}
        }
        // chunk header (8) + data + CRC (4)
        p = data_at + len + 4;
    }
    if r.dims.is_some() {
        r.has_alpha = Some(color_alpha || trns);
    }
    r
}

/// iTXt: keyword NUL, compression flag, method, language NUL, translated
/// keyword NUL, text. Compressed XMP is rare and needs inflate; it is skipped.
fn png_xmp(data: &[u8]) -> Option<&[u8]> {
    let kw = b"XML:com.adobe.xmp\0";
    let rest = data.strip_prefix(kw.as_slice())?;
    if rest.first() != Some(&0) {
        return None;
    }
    let rest = rest.get(2..)?;
    let lang_end = rest.iter().position(|b| *b == 0)?;
    let rest = rest.get(lang_end + 1..)?;
    let tr_end = rest.iter().position(|b| *b == 0)?;
    rest.get(tr_end + 1..)
}

// ---------------------------------------------------------------- GIF

fn gif(head: &[u8]) -> Raster<'_> {
    let mut r = Raster {
        dims: u16_le(head, 6)
            .zip(u16_le(head, 8))
            .and_then(|(w, h)| nonzero(u32::from(w), u32::from(h))),
        ..Raster::default()
    };
    r.has_alpha = gif_transparency(head);
    r
}

/// Walks the GIF block structure looking for a graphic control extension
/// with the transparency flag. `None` when the head ends before a verdict.
fn gif_transparency(d: &[u8]) -> Option<bool> {
    let flags = *d.get(10)?;
    let mut p = 13usize;
    if flags & 0x80 != 0 {
        p += 3 << ((flags & 7) + 1);
    }
    loop {
        match *d.get(p)? {
            0x21 => {
                let label = *d.get(p + 1)?;
                if label == 0xF9 && d.get(p + 2) == Some(&4) && d.get(p + 3)? & 1 != 0 {
                    return Some(true);
                }
                p = skip_sub_blocks(d, p + 2)?;
            }
            0x2C => {
                let local = *d.get(p + 9)?;
                p += 10;
                if local & 0x80 != 0 {
                    p += 3 << ((local & 7) + 1);
                }
                // LZW minimum code size, then the image data sub-blocks
                p = skip_sub_blocks(d, p + 1)?;
            }
            0x3B => return Some(false),
            _ => return None,
        }
    }
}

fn skip_sub_blocks(d: &[u8], mut p: usize) -> Option<usize> {
    loop {
        let n = usize::from(*d.get(p)?);
        p += 1;
        if n == 0 {
            return Some(p);
        }
        p += n;
    }
}

// ---------------------------------------------------------------- WebP

fn webp(head: &[u8]) -> Raster<'_> {
    let mut r = Raster::default();
    let mut p = 12usize;
    while let (Some(kind), Some(len)) = (head.get(p..p + 4), u32_le(head, p + 4)) {
        let Ok(len) = usize::try_from(len) else { break };
        let data_at = p + 8;
        let end = data_at.saturating_add(len);
        // A truncated chunk still lets us read its leading fields.
        let data = head.get(data_at..end.min(head.len())).unwrap_or(&[]);
        let complete = end <= head.len();
        match kind {
            b"VP8X" => {
                // flags byte, 3 reserved, then canvas width-1 and height-1 (24 bit)
                r.has_alpha = data.first().map(|f| f & 0x10 != 0);
                r.dims = u24_le(data, 4)
                    .zip(u24_le(data, 7))
                    .map(|(w, h)| (w + 1, h + 1));
            }
            b"VP8 " if r.dims.is_none() => {
                // frame tag (3), start code 9D 01 2A, then 14-bit sizes
                if data.get(3..6) == Some(&[0x9D, 0x01, 0x2A]) {
                    r.dims = u16_le(data, 6)
                        .zip(u16_le(data, 8))
                        .and_then(|(w, h)| nonzero(u32::from(w & 0x3FFF), u32::from(h & 0x3FFF)));
                }
                r.has_alpha.get_or_insert(false);
            }
            // signature 0x2F, then 14-bit width-1, 14-bit height-1, alpha hint
            b"VP8L" if r.dims.is_none() && data.first() == Some(&0x2F) => {
                if let Some(bits) = u32_le(data, 1) {
                    r.dims = Some(((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1));
                    r.has_alpha = Some(bits & (1 << 28) != 0);
                }
            }
            b"ICCP" => r.blocks.has_icc = true,
            b"EXIF" if complete => {
                // Some writers keep the JPEG-style "Exif\0\0" prefix.
                r.blocks.exif = Some(data.strip_prefix(EXIF_ID).unwrap_or(data));
            }
            b"XMP " if complete => r.blocks.xmp = Some(data),
            _ => {}
        }
        if !complete {
            break;
        }
        p = end + (len & 1);
    }
    r
}

// ---------------------------------------------------------------- BMP

fn bmp(head: &[u8]) -> Raster<'_> {
    let mut r = Raster::default();
    let Some(dib) = u32_le(head, 14) else {
        return r;
    };
    if dib == 12 {
        // OS/2 BITMAPCOREHEADER: unsigned 16-bit sizes
        r.dims = u16_le(head, 18)
            .zip(u16_le(head, 20))
            .and_then(|(w, h)| nonzero(u32::from(w), u32::from(h)));
        r.has_alpha = Some(false);
        return r;
    }
    // BITMAPINFOHEADER and later: signed 32-bit, negative height = top-down
    r.dims = u32_le(head, 18)
        .zip(u32_le(head, 22))
        .and_then(|(w, h)| nonzero((w as i32).unsigned_abs(), (h as i32).unsigned_abs()));
    let bpp = u16_le(head, 28);
    // V3+ headers (>= 56 bytes) have an alpha mask at offset 14 + 52.
    let alpha_mask = (dib >= 56).then(|| u32_le(head, 66)).flatten();
    r.has_alpha = Some(bpp == Some(32) && alpha_mask.is_some_and(|m| m != 0));
    if dib >= 108 {
        // V4/V5: colour space type "MBED" (embedded) or "LINK" is a profile
        r.blocks.has_icc = matches!(head.get(70..74), Some(b"DEBM" | b"KNIL"));
    }
    // pixels per metre
    r.blocks.density = u32_le(head, 38)
        .filter(|x| *x > 0)
        .map(|x| (f64::from(x) * 0.0254).round());
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn photoshop_irb() {
        let mut d = b"8BIM".to_vec();
        d.extend_from_slice(&0x0404u16.to_be_bytes());
        d.extend_from_slice(&[0, 0]); // empty name, padded
        d.extend_from_slice(&3u32.to_be_bytes());
        d.extend_from_slice(&[1, 2, 3, 0]);
        assert_eq!(photoshop_iptc(&d), Some(&[1u8, 2, 3][..]));
        assert_eq!(photoshop_iptc(&d[..12]), None);
    }

    #[test]
    fn jpeg_fill_bytes_and_truncation() {
        // SOI, fill bytes, SOF0 for 3x2, EOI
        let mut d = vec![
            0xFF, 0xD8, 0xFF, 0xFF, 0xC0, 0, 11, 8, 0, 2, 0, 3, 1, 1, 0x11, 0,
        ];
        assert_eq!(jpeg(&d).dims, Some((3, 2)));
        d.truncate(10);
        assert_eq!(jpeg(&d).dims, None);
    }

    #[test]
    fn bmp_top_down() {
        let mut d = vec![0u8; 54];
        d[..2].copy_from_slice(b"BM");
        d[14..18].copy_from_slice(&40u32.to_le_bytes());
        d[18..22].copy_from_slice(&10i32.to_le_bytes());
        d[22..26].copy_from_slice(&(-7i32).to_le_bytes());
        assert_eq!(bmp(&d).dims, Some((10, 7)));
    }
}
