//! Property tests: the byte parsers never panic, on random bytes and — more
//! usefully, since random bytes rarely get past the magic numbers — on real
//! fixtures with corrupted bytes and random truncation.

use folio_media::{
    embedded_metadata, legacy_metadata, probe, smallest_file, thumbnail, verify_decodes,
    RenderLimits,
};
use proptest::prelude::*;

const FIXTURES: &[&str] = &[
    "alpha.png",
    "animated.gif",
    "gray.png",
    "image.avif",
    "image.bmp",
    "image.ico",
    "image.tiff",
    "image.webp",
    "photo-exif.jpg",
    "tiny.jpg",
    "video.mp4",
    "video.webm",
    "sized.svg",
    "document.pdf",
];

fn fixture(i: usize) -> Vec<u8> {
    let name = FIXTURES[i % FIXTURES.len()];
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn exercise(bytes: &[u8], name: &str) {
    let facts = probe(bytes, bytes.len() as u64, name);
    let _ = embedded_metadata(bytes);
    let legacy = legacy_metadata(&facts, bytes, bytes.len() as u64);
    assert!(legacy.is_object());
    // serialising must not fail either (e.g. no NaN in numbers)
    assert!(serde_json::to_string(&legacy).is_ok());
    assert!(serde_json::to_string(&facts).is_ok());
    if let Some(w) = facts.width {
        assert!(w > 0);
    }
    if let Some(o) = facts.orientation {
        assert!((1..=8).contains(&o));
    }
    let _ = verify_decodes(bytes, &RenderLimits::default());
}

#[test]
fn every_raster_fixture_decodes_and_fits_its_size() {
    for name in [
        "alpha.png",
        "animated.gif",
        "gray.png",
        "image.bmp",
        "image.ico",
        "image.tiff",
        "image.webp",
        "photo-exif.jpg",
        "tiny.jpg",
    ] {
        let i = FIXTURES.iter().position(|f| *f == name).expect("listed");
        let bytes = fixture(i);
        verify_decodes(&bytes, &RenderLimits::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
        let facts = probe(&bytes, bytes.len() as u64, name);
        let (w, h) = (facts.width.expect("width"), facts.height.expect("height"));
        if let Some(floor) = smallest_file(&facts.mime, w, h) {
            assert!(
                bytes.len() as u64 >= floor,
                "{name}: {} < {floor}",
                bytes.len()
            );
        }
    }
    // Truncated to its header, a JPEG no longer decodes.
    let photo = fixture(
        FIXTURES
            .iter()
            .position(|f| *f == "photo-exif.jpg")
            .expect("listed"),
    );
    let header_only = &photo[..photo.len() / 3];
    assert!(matches!(
        verify_decodes(header_only, &RenderLimits::default()),
        Err(folio_media::MediaError::Decode(_))
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..4096), name in "[a-z]{0,6}(\\.[a-z]{1,4})?") {
        exercise(&bytes, &name);
    }

    #[test]
    fn arbitrary_bytes_behind_magic(
        magic in prop::sample::select(vec![
            &b"\xFF\xD8\xFF"[..], b"\x89PNG\r\n\x1a\n", b"GIF89a", b"RIFF\0\0\0\0WEBP",
            b"II*\0", b"MM\0*", b"\0\0\x01\0\x01\0", b"\x1A\x45\xDF\xA3",
            b"\0\0\0\x18ftypisom", b"\0\0\0\x18ftypavif", b"<svg ",
        ]),
        rest in proptest::collection::vec(any::<u8>(), 0..2048),
    ) {
        let mut bytes = magic.to_vec();
        bytes.extend_from_slice(&rest);
        exercise(&bytes, "x");
    }

    #[test]
    fn corrupted_fixtures(
        which in 0usize..FIXTURES.len(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..16),
        keep in any::<prop::sample::Index>(),
    ) {
        let mut bytes = fixture(which);
        for (at, value) in edits {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        let cut = keep.index(bytes.len() + 1);
        exercise(&bytes[..cut], FIXTURES[which]);
        exercise(&bytes, FIXTURES[which]);
    }
}

proptest! {
    // Decoding is slower; fewer cases.
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn thumbnail_of_corrupted_images(
        which in 0usize..10,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let mut bytes = fixture(which);
        for (at, value) in edits {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        if let Ok((out, _)) = thumbnail(&bytes, 32, &RenderLimits::default()) {
            let img = image::load_from_memory(&out).expect("our own output decodes");
            prop_assert!(img.width() <= 32 && img.height() <= 32);
        }
    }
}
