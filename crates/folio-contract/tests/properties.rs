//! Property tests: invariants that must hold for every input, not just the spec's examples.

use std::collections::HashSet;

use folio_contract::{
    parse_tags, parse_upload_params, sanitize_file_name, unique_name, url_path_encode, Folder,
    ParamError, MAX_FILE_NAME_BYTES, MAX_TAG_CHARS, SUFFIX_LEN,
};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::SeedableRng;
use unicode_general_category::get_general_category;

/// Independent statement of spec §3.4's allowed set, written against the category table
/// directly rather than through the crate's helper.
fn allowed_in_file_name(c: char) -> bool {
    let abbreviation = get_general_category(c).abbreviation();
    c == '.'
        || c == '-'
        || abbreviation.starts_with('L')
        || abbreviation.starts_with('M')
        || abbreviation.starts_with('N')
}

/// Strings biased towards the characters the rules care about, mixed with arbitrary Unicode.
fn tricky_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9 ./\\\\_%,:;#?&=+\\-]{0,80}",
        "[/.a\u{e9}\u{301}\u{1F600}\u{0} ]{0,80}",
        any::<String>(),
    ]
}

fn percent_decode(encoded: &str) -> Option<Vec<u8>> {
    let bytes = encoded.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = encoded.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}

const KNOWN_NAMES: [&str; 22] = [
    "fileName",
    "useUniqueFileName",
    "tags",
    "folder",
    "isPrivateFile",
    "isPublished",
    "customCoordinates",
    "responseFields",
    "extensions",
    "webhookUrl",
    "overwriteFile",
    "overwriteAITags",
    "overwriteTags",
    "overwriteCustomMetadata",
    "customMetadata",
    "transformation",
    "checks",
    "description",
    "file",
    "token",
    "signature",
    "publicKey",
];

fn field_name() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(&KNOWN_NAMES[..]).prop_map(str::to_owned),
        1 => any::<String>(),
    ]
}

fn field_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("true".to_owned()),
        Just("FALSE".to_owned()),
        Just("1,2,3,4".to_owned()),
        tricky_text(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn sanitized_names_keep_length_and_only_allowed_chars(raw in tricky_text()) {
        let sanitized = sanitize_file_name(&raw);
        prop_assert_eq!(sanitized.chars().count(), raw.chars().count());
        for (before, after) in raw.chars().zip(sanitized.chars()) {
            prop_assert!(allowed_in_file_name(after) || after == '_');
            if allowed_in_file_name(before) {
                prop_assert_eq!(before, after);
            } else {
                prop_assert_eq!(after, '_');
            }
        }
        // Sanitising is idempotent, so re-sanitising a stored name never renames it.
        prop_assert_eq!(sanitize_file_name(&sanitized), sanitized);
    }

    #[test]
    fn folder_paths_are_normalised(raw in tricky_text()) {
        if let Ok(folder) = Folder::parse(&raw) {
            let path = folder.path();
            prop_assert!(path.starts_with('/') && path.ends_with('/'));
            prop_assert!(!path.contains(".."));
            prop_assert!(!path.contains("//"));
            prop_assert!(!path.contains('.'));
            prop_assert!(!path.contains('\\'));
            prop_assert!(folder.depth() <= Folder::MAX_DEPTH);
            prop_assert!(folder.segments().iter().all(|s| !s.is_empty() && s.len() <= Folder::MAX_SEGMENT_BYTES));
            // The normal form is a fixed point.
            prop_assert_eq!(Folder::parse(&path), Ok(folder.clone()));
            let ancestors: Vec<Folder> = folder.ancestors().collect();
            prop_assert_eq!(ancestors.len(), folder.depth());
            prop_assert_eq!(ancestors.last(), if folder.is_root() { None } else { Some(&folder) });
        }
    }

    #[test]
    fn folder_depth_limit(depth in 0usize..120, slashes in 1usize..4) {
        let sep = "/".repeat(slashes);
        let raw = vec!["seg"; depth].join(&sep);
        let parsed = Folder::parse(&raw);
        if depth <= Folder::MAX_DEPTH {
            prop_assert_eq!(parsed.map(|f| f.depth()), Ok(depth));
        } else {
            prop_assert_eq!(parsed, Err(ParamError::Invalid("folder")));
        }
    }

    #[test]
    fn unique_name_keeps_the_extension(raw in tricky_text(), seed in any::<u64>()) {
        let name = sanitize_file_name(&raw);
        let mut rng = StdRng::seed_from_u64(seed);
        let unique = unique_name(&name, &mut rng);
        prop_assert_eq!(unique.len(), name.len() + SUFFIX_LEN + 1);
        match name.rfind('.') {
            Some(dot) if dot > 0 => {
                let (stem, extension) = name.split_at(dot);
                prop_assert!(unique.starts_with(stem));
                prop_assert!(unique.ends_with(extension));
                let suffix = &unique[stem.len()..unique.len() - extension.len()];
                prop_assert!(suffix.starts_with('_'));
                prop_assert!(suffix.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'));
            }
            _ => {
                prop_assert!(unique.starts_with(name.as_str()));
            }
        }
        // A unique name of a sanitised name is itself a valid sanitised name.
        prop_assert_eq!(sanitize_file_name(&unique), unique);
    }

    #[test]
    fn url_path_encode_is_ascii_and_reversible(raw in tricky_text()) {
        let encoded = url_path_encode(&raw);
        prop_assert!(encoded.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~/%".contains(&b)));
        prop_assert_eq!(percent_decode(&encoded), Some(raw.into_bytes()));
    }

    #[test]
    fn parsed_tags_are_clean(raw in tricky_text()) {
        if let Ok(tags) = parse_tags(&raw) {
            prop_assert!(!raw.contains('%'));
            let mut seen = HashSet::new();
            let mut total = 0;
            for tag in &tags {
                prop_assert!(!tag.is_empty());
                prop_assert_eq!(tag.trim(), tag.as_str());
                prop_assert!(!tag.contains(','));
                prop_assert!(seen.insert(tag.clone()));
                total += tag.chars().count();
            }
            prop_assert!(total <= MAX_TAG_CHARS);
        } else {
            prop_assert_eq!(parse_tags(&raw), Err(ParamError::Invalid("tags")));
        }
    }

    #[test]
    fn parse_upload_params_never_panics(
        fields in proptest::collection::vec((field_name(), field_value()), 0..12)
    ) {
        match parse_upload_params(&fields) {
            Ok(params) => {
                prop_assert!(!params.file_name.is_empty());
                prop_assert!(params.file_name.len() <= MAX_FILE_NAME_BYTES);
                prop_assert!(params.file_name != "." && params.file_name != "..");
                prop_assert!(params.file_name.chars().all(|c| allowed_in_file_name(c) || c == '_'));
                prop_assert!(!params.folder.path().contains('.'));
                if let Some(tags) = &params.tags {
                    prop_assert!(tags.iter().all(|t| !t.is_empty() && !t.contains('%')));
                }
            }
            Err(e) => {
                let message = e.message();
                prop_assert!(message.contains(e.param()));
                prop_assert!(message.ends_with('.'));
            }
        }
    }
}
