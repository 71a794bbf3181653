//! Table-driven checks of `probe`, `embedded_metadata`, `legacy_metadata` and
//! `thumbnail` against `tests/fixtures/manifest.json` (copied from the
//! project's shared fixtures together with the files it describes).
//!
//! Manifest facts checked: `mime`, `fileType`, `size` (sanity of the copy),
//! `width`/`height` (present and equal, or absent on both sides),
//! `orientation`, the video keys `duration` (whole seconds), `videoCodec`,
//! `audioCodec`, and `embedded` (each listed key must come out equal).
//! Not checked: `frames` (animated GIF frame count) — `probe` does not count
//! frames, the API has no key for it.

use std::path::{Path, PathBuf};

use folio_media::{
    embedded_metadata, legacy_metadata, probe, thumbnail, FileType, MediaError, RenderLimits,
    SNIFF_LEN,
};
use serde_json::{json, Map, Value};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn manifest() -> Map<String, Value> {
    let text = std::fs::read_to_string(dir().join("manifest.json")).expect("manifest.json");
    match serde_json::from_str(&text).expect("manifest is JSON") {
        Value::Object(m) => m,
        other => panic!("manifest is not an object: {other}"),
    }
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn head(bytes: &[u8]) -> &[u8] {
    &bytes[..bytes.len().min(SNIFF_LEN)]
}

fn opt_u64(v: &Value, key: &str) -> Option<u64> {
    v.get(key)
        .map(|x| x.as_u64().unwrap_or_else(|| panic!("{key} not an integer")))
}

fn opt_str<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key)
        .map(|x| x.as_str().unwrap_or_else(|| panic!("{key} not a string")))
}

#[test]
fn every_fixture_matches_the_manifest() {
    let manifest = manifest();
    assert!(manifest.len() >= 20, "manifest looks incomplete");
    let mut failures = Vec::new();
    for (name, want) in &manifest {
        let bytes = read(name);
        let size = bytes.len() as u64;
        assert_eq!(
            Some(size),
            opt_u64(want, "size"),
            "{name}: fixture copy differs"
        );
        let facts = probe(head(&bytes), size, name);
        let mut check = |what: &str, ok: bool, got: String| {
            if !ok {
                failures.push(format!("{name}: {what}: got {got}, manifest {want}"));
            }
        };
        check(
            "mime",
            Some(facts.mime.as_str()) == opt_str(want, "mime"),
            facts.mime.clone(),
        );
        check(
            "fileType",
            Some(facts.file_type.as_str()) == opt_str(want, "fileType"),
            facts.file_type.to_string(),
        );
        check(
            "width",
            facts.width.map(u64::from) == opt_u64(want, "width"),
            format!("{:?}", facts.width),
        );
        check(
            "height",
            facts.height.map(u64::from) == opt_u64(want, "height"),
            format!("{:?}", facts.height),
        );
        // The manifest lists orientation only where it is not the default;
        // a file that explicitly declares 1 (image.tiff does) agrees with it.
        let orientation_ok = match opt_u64(want, "orientation") {
            Some(o) => facts.orientation.map(u64::from) == Some(o),
            None => matches!(facts.orientation, None | Some(1)),
        };
        check(
            "orientation",
            orientation_ok,
            format!("{:?}", facts.orientation),
        );

        let wants_video = want.get("videoCodec").is_some();
        check(
            "is_video",
            facts.is_video() == wants_video,
            facts.mime.clone(),
        );
        if wants_video {
            let v = facts.video.clone().unwrap_or_default();
            check(
                "duration",
                v.duration_whole_secs() == opt_u64(want, "duration"),
                format!("{:?}", v.duration_secs),
            );
            check(
                "videoCodec",
                v.video_codec.as_deref() == opt_str(want, "videoCodec"),
                format!("{:?}", v.video_codec),
            );
            check(
                "audioCodec",
                v.audio_codec.as_deref() == opt_str(want, "audioCodec"),
                format!("{:?}", v.audio_codec),
            );
            check(
                "bitRate",
                v.bit_rate.is_some_and(|b| b > 0),
                format!("{:?}", v.bit_rate),
            );
        }

        let embedded = embedded_metadata(head(&bytes));
        if let Some(Value::Object(expected)) = want.get("embedded") {
            for (k, v) in expected {
                check(
                    &format!("embedded.{k}"),
                    embedded.get(k) == Some(v),
                    format!("{:?}", embedded.get(k)),
                );
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn fixtures_dir_and_manifest_agree() {
    let manifest = manifest();
    for entry in std::fs::read_dir(dir()).expect("fixtures dir") {
        let name = entry.expect("dir entry").file_name();
        let name = name.to_string_lossy();
        if name != "manifest.json" {
            assert!(
                manifest.contains_key(name.as_ref()),
                "{name} not in manifest"
            );
        }
    }
}

#[test]
fn content_wins_over_name() {
    let png = read("png-named.jpg");
    for name in ["x.jpg", "x.txt", "x", "x.svg"] {
        assert_eq!(probe(&png, png.len() as u64, name).mime, "image/png");
    }
    // text is typed by name only
    let txt = read("note.txt");
    assert_eq!(probe(&txt, 12, "note.css").mime, "text/css");
    assert_eq!(probe(&txt, 12, "note").mime, "application/octet-stream");
    // an SVG is an image whatever its name
    let svg = read("sized.svg");
    let f = probe(&svg, svg.len() as u64, "drawing.txt");
    assert_eq!(
        (f.mime.as_str(), f.file_type),
        ("image/svg+xml", FileType::Image)
    );
}

#[test]
fn photo_exif_embedded_and_legacy() {
    let bytes = read("photo-exif.jpg");
    let m = embedded_metadata(&bytes);
    assert_eq!(m["Orientation"], 6);
    assert_eq!(m["Copyright"], "Fixture copyright");
    assert_eq!(m["GPSLatitudeRef"], "N");
    let lat = m["GPSLatitude"].as_f64().expect("latitude is a number");
    let lon = m["GPSLongitude"].as_f64().expect("longitude is a number");
    assert!((lat - 48.8566).abs() < 1e-4, "{lat}");
    assert!((lon - 2.3522).abs() < 1e-4, "{lon}");
    assert!(
        !m.contains_key("ExifOffset"),
        "pointers are layout, not metadata"
    );

    let facts = probe(&bytes, bytes.len() as u64, "p.jpg");
    let legacy = legacy_metadata(&facts, &bytes, bytes.len() as u64);
    assert_eq!(legacy["width"], 640);
    assert_eq!(legacy["height"], 480);
    assert_eq!(legacy["size"], bytes.len());
    assert_eq!(legacy["format"], "jpg");
    assert_eq!(legacy["hasTransparency"], false);
    assert_eq!(legacy["hasColorProfile"], false);
    let exif = &legacy["exif"];
    assert_eq!(exif["image"]["Make"], "Folio Test Cam");
    assert_eq!(exif["image"]["Orientation"], 6);
    assert_eq!(exif["exif"]["DateTimeOriginal"], "2024:05:01 12:34:56");
    assert_eq!(exif["exif"]["ExifVersion"], "0232");
    assert_eq!(exif["gps"]["GPSVersionID"], json!([2, 3, 0, 0]));
    assert_eq!(exif["gps"]["GPSLatitude"], json!([48, 51, 23.76]));
    assert_eq!(exif["makernote"], json!({}));
}

#[test]
fn legacy_for_other_kinds() {
    let mp4 = read("video.mp4");
    let f = probe(&mp4, mp4.len() as u64, "v.mp4");
    let l = legacy_metadata(&f, &mp4, mp4.len() as u64);
    assert_eq!(l["format"], "mp4");
    assert_eq!(l["duration"], 1);
    assert_eq!(l["videoCodec"], "h264");
    assert_eq!(l["audioCodec"], "aac");
    assert_eq!(l["bitRate"], mp4.len() as u64 * 8);
    assert!(l.get("exif").is_none());

    let png = read("alpha.png");
    let f = probe(&png, png.len() as u64, "a.png");
    assert_eq!(f.has_alpha, Some(true));
    let l = legacy_metadata(&f, &png, png.len() as u64);
    assert_eq!(l["hasTransparency"], true);
    assert_eq!(l["exif"], json!({}));

    let pdf = read("document.pdf");
    let f = probe(&pdf, pdf.len() as u64, "d.pdf");
    let l = legacy_metadata(&f, &pdf, pdf.len() as u64);
    assert_eq!(l, json!({"size": pdf.len(), "format": "pdf"}));
}

#[test]
fn alpha_facts() {
    for (name, alpha) in [
        ("alpha.png", Some(true)),
        ("gray.png", Some(false)),
        ("tiny.jpg", Some(false)),
        ("image.bmp", Some(false)),
        ("image.ico", Some(true)),
        ("image.tiff", Some(false)),
        ("image.webp", Some(false)),
        ("image.avif", Some(false)),
        ("sized.svg", None),
    ] {
        let b = read(name);
        assert_eq!(probe(&b, b.len() as u64, name).has_alpha, alpha, "{name}");
    }
}

#[test]
fn no_metadata_means_empty_map() {
    for name in [
        "tiny.jpg",
        "document.pdf",
        "note.txt",
        "random.bin",
        "video.mp4",
        "sized.svg",
    ] {
        assert_eq!(embedded_metadata(&read(name)), Map::new(), "{name}");
    }
}

/// Every prefix of every fixture (densely for the first bytes, where the
/// headers are, then sparsely) must be handled without panicking, and the
/// type of a binary fixture must not change once its magic is in.
#[test]
fn truncated_heads_never_panic() {
    for name in manifest().keys() {
        let bytes = read(name);
        let full = probe(&bytes, bytes.len() as u64, name);
        let mut cuts: Vec<usize> = (0..bytes.len().min(1024)).collect();
        cuts.extend((1024..bytes.len()).step_by(97));
        for cut in cuts {
            let h = &bytes[..cut];
            let f = probe(h, bytes.len() as u64, name);
            let _ = embedded_metadata(h);
            let _ = legacy_metadata(&f, h, bytes.len() as u64);
            if cut >= 64 && full.mime.starts_with("image/") && full.mime != "image/svg+xml" {
                assert_eq!(f.mime, full.mime, "{name} cut at {cut}");
            }
        }
    }
}

fn raster_fixtures() -> Vec<&'static str> {
    vec![
        "alpha.png",
        "animated.gif",
        "gray.png",
        "image.bmp",
        "image.ico",
        "image.tiff",
        "image.webp",
        "large-dims.jpg",
        "photo-exif.jpg",
        "png-named.jpg",
        "tiny.jpg",
    ]
}

#[test]
fn thumbnails_fit_the_box() {
    const BOX: u32 = 64;
    for name in raster_fixtures() {
        let bytes = read(name);
        let facts = probe(&bytes, bytes.len() as u64, name);
        let (thumb, mime) = thumbnail(&bytes, BOX, &RenderLimits::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let img = image::load_from_memory(&thumb).unwrap_or_else(|e| panic!("{name}: {e}"));
        let (w, h) = (img.width(), img.height());
        assert!(w <= BOX && h <= BOX && w > 0 && h > 0, "{name}: {w}x{h}");
        let (sw, sh) = (facts.width.unwrap_or(0), facts.height.unwrap_or(0));
        // fills the box on its long side unless the source is smaller
        assert_eq!(
            w.max(h),
            sw.max(sh).min(BOX),
            "{name}: {w}x{h} from {sw}x{sh}"
        );
        // PNG only for sources that can be transparent; whether an alpha
        // channel (ICO, GIF) is actually used is decided on the pixels.
        if facts.has_alpha != Some(true) {
            assert_eq!(mime, "image/jpeg", "{name}");
        }
        if name == "alpha.png" {
            assert_eq!(mime, "image/png", "{name}");
        }
        let decoded_as = image::guess_format(&thumb).expect("thumbnail format");
        assert_eq!(decoded_as.to_mime_type(), mime, "{name}");
    }
}

#[test]
fn thumbnail_never_upscales() {
    let (thumb, _) =
        thumbnail(&read("tiny.jpg"), 500, &RenderLimits::default()).expect("tiny thumbnail");
    let img = image::load_from_memory(&thumb).expect("decodes");
    assert_eq!((img.width(), img.height()), (1, 1));
}

#[test]
fn thumbnail_applies_exif_orientation() {
    // stored 640x480 landscape with orientation 6 (rotate 90° CW)
    let (thumb, mime) =
        thumbnail(&read("photo-exif.jpg"), 100, &RenderLimits::default()).expect("thumbnail");
    assert_eq!(mime, "image/jpeg");
    let img = image::load_from_memory(&thumb).expect("decodes");
    assert_eq!((img.width(), img.height()), (75, 100));
}

#[test]
fn thumbnail_of_large_dims_jpeg() {
    let (thumb, _) = thumbnail(&read("large-dims.jpg"), 256, &RenderLimits::default())
        .expect("4000x3000 is allowed");
    let img = image::load_from_memory(&thumb).expect("decodes");
    assert_eq!((img.width(), img.height()), (256, 192));
}

#[test]
fn thumbnail_unsupported_types() {
    for name in [
        "sized.svg",
        "image.avif",
        "document.pdf",
        "video.mp4",
        "note.txt",
    ] {
        match thumbnail(&read(name), 64, &RenderLimits::default()) {
            Err(MediaError::Unsupported { .. }) => {}
            other => panic!("{name}: {other:?}"),
        }
    }
    assert!(matches!(
        thumbnail(&read("tiny.jpg"), 0, &RenderLimits::default()),
        Err(MediaError::InvalidSize)
    ));
}

#[test]
fn thumbnail_of_truncated_images_fails_cleanly() {
    for name in raster_fixtures() {
        if name == "large-dims.jpg" {
            continue; // slow to decode repeatedly; covered by the others
        }
        let bytes = read(name);
        for cut in [
            0,
            1,
            8,
            16,
            30,
            60,
            bytes.len() / 2,
            bytes.len().saturating_sub(1),
        ] {
            // Decoders may recover a partial image; either way no panic.
            let _ = thumbnail(&bytes[..cut.min(bytes.len())], 32, &RenderLimits::default());
        }
    }
}

// ------------------------------------------------------------ decompression bombs

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for b in data {
        crc ^= u32::from(*b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn png_with_size(w: u32, h: u32) -> Vec<u8> {
    let mut png = read("gray.png");
    // IHDR data starts at 16; its CRC covers type + data (bytes 12..29).
    png[16..20].copy_from_slice(&w.to_be_bytes());
    png[20..24].copy_from_slice(&h.to_be_bytes());
    let crc = crc32(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
    png
}

fn jpeg_with_size(w: u16, h: u16) -> Vec<u8> {
    let mut jpg = read("tiny.jpg");
    let sof = jpg
        .windows(2)
        .position(|p| p == [0xFF, 0xC0])
        .expect("tiny.jpg has SOF0");
    // marker (2), length (2), precision (1), height (2), width (2)
    jpg[sof + 5..sof + 7].copy_from_slice(&h.to_be_bytes());
    jpg[sof + 7..sof + 9].copy_from_slice(&w.to_be_bytes());
    jpg
}

#[test]
fn decompression_bombs_are_refused() {
    let bomb = jpeg_with_size(60_000, 60_000);
    // probe still reports what the header claims
    let f = probe(&bomb, bomb.len() as u64, "bomb.jpg");
    assert_eq!((f.width, f.height), (Some(60_000), Some(60_000)));
    match thumbnail(&bomb, 64, &RenderLimits::default()) {
        Err(MediaError::TooLarge(_) | MediaError::OverBudget(_)) => {}
        other => panic!("jpeg bomb: {other:?}"),
    }
    for (w, h) in [(60_000, 60_000), (40_000, 10), (20_000, 20_000)] {
        // the last one is within the dimension cap but over the memory cap
        let bomb = png_with_size(w, h);
        assert_eq!(
            probe(&bomb, bomb.len() as u64, "b.png").width,
            Some(w),
            "crafted header is read"
        );
        match thumbnail(&bomb, 64, &RenderLimits::default()) {
            Err(MediaError::TooLarge(_) | MediaError::OverBudget(_)) => {}
            other => panic!("png bomb {w}x{h}: {other:?}"),
        }
    }
}
