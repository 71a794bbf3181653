//! `fileName` and `folder` (spec §3.4, §3.5): what becomes a path in the library and a URL.

use folio_contract::{
    parse_file_name, parse_upload_params, sanitize_file_name, unique_name, url_path_encode,
    with_suffix, Folder, ParamError, MAX_FILE_NAME_BYTES, SUFFIX_LEN,
};
use rand::rngs::StdRng;
use rand::SeedableRng;

use crate::text::{is_letter_mark_or_number, is_url_path_encoding_of, lossy};

/// A `fileName` value (the whole input).
///
/// The sanitised name has as many characters as the input and only letters, marks, numerals,
/// `.`, `-` and `_`: no `/`, `\`, `%`, space or control character can survive. Sanitising is
/// idempotent. `parse_file_name` (and `parse_upload_params`, which the server calls) refuses
/// exactly the empty input, the dot-segments `.` and `..`, and names over
/// [`MAX_FILE_NAME_BYTES`]; an accepted name, with or without the unique suffix, is one path
/// segment of its `filePath`, and the URL encodes that path unambiguously.
pub fn file_name(data: &[u8]) {
    let raw = lossy(data);
    let sanitised = sanitize_file_name(&raw);
    assert_eq!(sanitised.chars().count(), raw.chars().count());
    assert!(
        sanitised.chars().all(is_file_name_char),
        "{raw:?} sanitised to {sanitised:?}"
    );
    assert_eq!(sanitize_file_name(&sanitised), sanitised, "not idempotent");

    let parsed = parse_file_name(&raw);
    let via_params = parse_upload_params(&[("fileName", &*raw)]).map(|p| p.file_name);
    assert_eq!(parsed, via_params, "parse_upload_params disagrees");
    match parsed {
        Ok(name) => {
            assert_eq!(name, sanitised);
            assert!(!name.is_empty() && name != "." && name != "..");
            assert!(name.len() <= MAX_FILE_NAME_BYTES);
            assert_eq!(parse_file_name(&name), Ok(name.clone()), "not idempotent");
            check_stored_names(&name);
        }
        Err(ParamError::Missing("fileName")) => assert!(raw.is_empty()),
        Err(ParamError::Invalid("fileName")) => assert!(
            sanitised.len() > MAX_FILE_NAME_BYTES || sanitised == "." || sanitised == "..",
            "{raw:?} refused"
        ),
        Err(other) => panic!("{raw:?}: unexpected {other:?}"),
    }
}

/// The characters a sanitised file name may hold (`_` being the replacement).
fn is_file_name_char(c: char) -> bool {
    c == '.' || c == '-' || c == '_' || is_letter_mark_or_number(c)
}

/// The names a parsed `fileName` is stored under, and the paths and URLs made of them.
fn check_stored_names(name: &str) {
    let suffixed = with_suffix(name, "_Kp3x9QzLm");
    let unique = unique_name(name, &mut StdRng::seed_from_u64(name.len() as u64));
    for stored in [name, &suffixed, &unique] {
        assert!(stored.chars().all(is_file_name_char), "{stored:?}");
        assert!(stored != "." && stored != "..");
        assert_eq!(sanitize_file_name(stored), stored);
    }
    for stored in [&suffixed, &unique] {
        assert_eq!(stored.len(), name.len() + SUFFIX_LEN + 1);
        // The suffix is inserted, never replacing a character of the name.
        let mut rest = stored.chars();
        assert!(name.chars().all(|c| rest.any(|r| r == c)), "{stored:?}");
    }

    let folder = Folder::parse("products/summer").unwrap_or_default();
    for stored in [name, &unique] {
        let file_path = folder.file_path(stored);
        let segments: Vec<&str> = file_path.split('/').collect();
        assert_eq!(segments, ["", "products", "summer", stored]);
        let url = url_path_encode(&file_path);
        assert!(is_url_path_encoding_of(&url, &file_path), "{url:?}");
        assert_eq!(url.matches('/').count(), 3, "{url:?}");
    }
}

/// A `folder` value (the whole input).
///
/// A parsed folder has at most [`Folder::MAX_DEPTH`] non-empty segments of at most
/// [`Folder::MAX_SEGMENT_BYTES`] bytes, made only of letters, marks, numerals, `_` and `-`
/// (so no `.`/`..` segment, no `\`, no control character); its path is `/` or `/a/b/`, parses
/// back to the same folder, and names the same folder as the segments the spec's rules give
/// (split at `/`, drop empty pieces, replace every other character by `_`). It is refused
/// exactly when those rules exceed a limit. `parse_upload_params` agrees.
pub fn folder(data: &[u8]) {
    let raw = lossy(data);
    let expected: Vec<String> = raw
        .split('/')
        .filter(|piece| !piece.is_empty())
        .map(|piece| {
            piece
                .chars()
                .map(|c| if is_folder_char(c) { c } else { '_' })
                .collect()
        })
        .collect();
    let over_limit = expected.len() > Folder::MAX_DEPTH
        || expected.iter().any(|s| s.len() > Folder::MAX_SEGMENT_BYTES);

    let parsed = Folder::parse(&raw);
    let via_params =
        parse_upload_params(&[("fileName", "a.jpg"), ("folder", &*raw)]).map(|p| p.folder);
    assert_eq!(parsed, via_params, "parse_upload_params disagrees");
    let folder = match parsed {
        Ok(folder) => folder,
        Err(e) => {
            assert_eq!(e, ParamError::Invalid("folder"));
            assert!(over_limit, "{raw:?} refused within the limits");
            return;
        }
    };
    assert!(!over_limit, "{raw:?} accepted beyond the limits");
    assert_eq!(folder.segments(), expected);
    assert_eq!(folder.depth(), expected.len());
    for segment in folder.segments() {
        assert!(!segment.is_empty() && segment.chars().all(is_folder_char));
    }

    let path = folder.path();
    assert!(path.starts_with('/') && path.ends_with('/'));
    assert_eq!(folder.is_root(), path == "/");
    assert!(path == "/" || !path.contains("//"), "{path:?}");
    assert_eq!(folder.to_string(), path);
    assert_eq!(Folder::parse(&path).as_ref(), Ok(&folder), "{path:?}");

    // Building the ancestors costs depth² segment copies; their logic does not depend on
    // the depth, so deep folders (which cost the fuzzer most) skip it.
    if folder.depth() <= 8 {
        let ancestors: Vec<Folder> = folder.ancestors().collect();
        assert_eq!(ancestors.len(), folder.depth());
        assert_eq!(ancestors.last().unwrap_or(&Folder::root()), &folder);
        for (depth, ancestor) in ancestors.iter().enumerate() {
            assert_eq!(ancestor.segments(), &folder.segments()[..=depth]);
        }
    }
    assert_eq!(folder.parent().map(|p| p.depth() + 1), {
        let depth = folder.depth();
        (depth > 0).then_some(depth)
    });

    let file_path = folder.file_path("x.jpg");
    assert_eq!(file_path, format!("{path}x.jpg"));
    assert!(file_path
        .split('/')
        .all(|segment| segment != "." && segment != ".."));
    assert!(is_url_path_encoding_of(
        &url_path_encode(&file_path),
        &file_path
    ));
}

/// The characters a folder segment may hold.
fn is_folder_char(c: char) -> bool {
    c == '_' || c == '-' || is_letter_mark_or_number(c)
}
