//! `fileName` sanitising and the unique suffix (spec §3.4).

use rand::Rng;
use unicode_general_category::get_general_category;

use crate::error::ParamError;
use crate::field;

/// Upper bound on a sanitised `fileName`, in UTF-8 bytes (spec §3.2 / Q36, our choice).
/// Counted without the unique suffix, which adds [`SUFFIX_LEN`] + 1 bytes.
pub const MAX_FILE_NAME_BYTES: usize = 1024;

/// Number of random characters after the `_` of a unique suffix.
pub const SUFFIX_LEN: usize = 9;

/// The suffix alphabet `[A-Za-z0-9_-]`: 64 symbols, so each character carries 6 bits.
const SUFFIX_ALPHABET: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";

/// Whether a `fileName` character survives sanitising unchanged: Unicode letters, marks and
/// numerals (general categories `L*`, `M*`, `N*`), `.` and `-`.
pub(crate) fn is_file_name_char(c: char) -> bool {
    c == '.' || c == '-' || is_letter_mark_or_number(c)
}

/// `L*`, `M*` or `N*`. Matching on the category abbreviation's first letter keeps us correct
/// without listing every subcategory (and without depending on the enum being exhaustive).
pub(crate) fn is_letter_mark_or_number(c: char) -> bool {
    // ASCII fast path: the common case never needs the table lookup.
    if c.is_ascii() {
        return c.is_ascii_alphanumeric();
    }
    matches!(
        get_general_category(c).abbreviation().as_bytes().first(),
        Some(b'L' | b'M' | b'N')
    )
}

/// Sanitises a `fileName` value (spec §3.4).
///
/// Every character that is not a Unicode letter, mark or numeral, `.` or `-` is replaced by one
/// `_`, so the output has exactly as many characters as the input and a non-empty name stays
/// non-empty. This is also what makes a name safe as a single path segment: `/` and `\` cannot
/// survive.
///
/// ```
/// use folio_contract::sanitize_file_name;
/// assert_eq!(sanitize_file_name("my photo (1).jpg"), "my_photo__1_.jpg");
/// assert_eq!(sanitize_file_name("../etc/passwd"), ".._etc_passwd");
/// // Letters of any script stay; symbols such as `№` (category So) do not.
/// assert_eq!(sanitize_file_name("café-№1.png"), "café-_1.png");
/// ```
pub fn sanitize_file_name(raw: &str) -> String {
    raw.chars()
        .map(|c| if is_file_name_char(c) { c } else { '_' })
        .collect()
}

/// Turns a raw `fileName` value into the stored base name (without suffix): sanitises it and
/// applies the length rule.
///
/// Errors:
/// * empty input → `Missing("fileName")` (P2);
/// * more than [`MAX_FILE_NAME_BYTES`] bytes after sanitising → `Invalid("fileName")`;
/// * a sanitised name of exactly `.` or `..` → `Invalid("fileName")` (our choice): `.` survives
///   sanitising, and those two names are dot-segments that URL resolvers and file systems treat as
///   "this/parent directory", so `filePath` and `url` would not name the file.
///
/// ```
/// use folio_contract::{parse_file_name, ParamError};
/// assert_eq!(parse_file_name("a b.txt"), Ok("a_b.txt".to_string()));
/// assert_eq!(parse_file_name(".."), Err(ParamError::Invalid("fileName")));
/// ```
pub fn parse_file_name(raw: &str) -> Result<String, ParamError> {
    if raw.is_empty() {
        return Err(ParamError::Missing(field::FILE_NAME));
    }
    let name = sanitize_file_name(raw);
    if name.len() > MAX_FILE_NAME_BYTES || name == "." || name == ".." {
        return Err(ParamError::Invalid(field::FILE_NAME));
    }
    Ok(name)
}

/// A fresh unique suffix: `_` followed by [`SUFFIX_LEN`] characters of `[A-Za-z0-9_-]`.
///
/// ```
/// let s = folio_contract::random_suffix(&mut rand::rng());
/// assert_eq!(s.len(), 10);
/// assert!(s.starts_with('_'));
/// ```
pub fn random_suffix<R: Rng + ?Sized>(rng: &mut R) -> String {
    let mut suffix = String::with_capacity(SUFFIX_LEN + 1);
    suffix.push('_');
    for _ in 0..SUFFIX_LEN {
        // The alphabet has exactly 64 entries, so masking 6 bits is uniform and the index is
        // always in range.
        let index = (rng.next_u32() & 63) as usize;
        suffix.push(char::from(SUFFIX_ALPHABET[index]));
    }
    suffix
}

/// Inserts `suffix` into `name` where spec §3.4 puts the unique suffix: before the last `.`,
/// or at the end when there is no `.` or the only `.` is the first character (a dot-file such as
/// `.env` has no extension to protect).
///
/// Deterministic, so the placement rule can be tested and reused with a known suffix.
///
/// ```
/// use folio_contract::with_suffix;
/// assert_eq!(with_suffix("archive.tar.gz", "_X"), "archive.tar_X.gz");
/// assert_eq!(with_suffix(".env", "_X"), ".env_X");
/// assert_eq!(with_suffix("README", "_X"), "README_X");
/// ```
pub fn with_suffix(name: &str, suffix: &str) -> String {
    let mut out = String::with_capacity(name.len() + suffix.len());
    match name.rfind('.') {
        // rfind == 0 means the first character is the only `.`.
        Some(dot) if dot > 0 => {
            let (stem, extension) = name.split_at(dot);
            out.push_str(stem);
            out.push_str(suffix);
            out.push_str(extension);
        }
        _ => {
            out.push_str(name);
            out.push_str(suffix);
        }
    }
    out
}

/// The stored name for `useUniqueFileName=true`: `sanitised` with a fresh [`random_suffix`]
/// placed by [`with_suffix`]. On a collision with an existing path the caller simply calls this
/// again (spec §3.4).
///
/// ```
/// let name = folio_contract::unique_name("photo.jpg", &mut rand::rng());
/// assert_eq!(name.len(), "photo.jpg".len() + 10);
/// assert!(name.starts_with("photo_") && name.ends_with(".jpg"));
/// ```
pub fn unique_name<R: Rng + ?Sized>(sanitised: &str, rng: &mut R) -> String {
    with_suffix(sanitised, &random_suffix(rng))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn spec_example_my_photo() {
        // Spec §3.4 and Appendix A item 10.
        assert_eq!(sanitize_file_name("my photo (1).jpg"), "my_photo__1_.jpg");
    }

    #[test]
    fn keeps_letters_marks_numbers_dot_dash() {
        assert_eq!(sanitize_file_name("AZaz09.-"), "AZaz09.-");
        // Lo, Lu/Ll with diacritics (precomposed), Nd (Arabic-Indic), Nl (Roman numeral), No.
        assert_eq!(sanitize_file_name("日本語"), "日本語");
        assert_eq!(sanitize_file_name("Ärger"), "Ärger");
        assert_eq!(sanitize_file_name("٣Ⅻ½"), "٣Ⅻ½");
        // A combining mark (Mn) after a base letter stays.
        assert_eq!(sanitize_file_name("e\u{301}"), "e\u{301}");
        // Devanagari spacing mark (Mc).
        assert_eq!(sanitize_file_name("कि"), "कि");
    }

    #[test]
    fn replaces_everything_else_one_for_one() {
        assert_eq!(sanitize_file_name("a_b"), "a_b");
        assert_eq!(sanitize_file_name("a/b\\c"), "a_b_c");
        assert_eq!(sanitize_file_name("x\u{0}\n\t"), "x___");
        assert_eq!(sanitize_file_name("smile😀.png"), "smile_.png");
        assert_eq!(sanitize_file_name("a+b=c&d?e#f%g"), "a_b_c_d_e_f_g");
        assert_eq!(sanitize_file_name("\u{a0}\u{200b}"), "__"); // Zs and Cf
        assert_eq!(sanitize_file_name("   "), "___");
        // Symbols of every kind: So, Sc, Sm, Sk.
        assert_eq!(sanitize_file_name("№©€+^"), "_____");
        assert_eq!(sanitize_file_name(""), "");
    }

    #[test]
    fn parse_file_name_rules() {
        assert_eq!(parse_file_name(""), Err(ParamError::Missing("fileName")));
        assert_eq!(parse_file_name("."), Err(ParamError::Invalid("fileName")));
        assert_eq!(parse_file_name(".."), Err(ParamError::Invalid("fileName")));
        assert_eq!(parse_file_name("..."), Ok("...".to_string()));
        assert_eq!(parse_file_name(".env"), Ok(".env".to_string()));
        // `/.` sanitises to `_.`, which is harmless.
        assert_eq!(parse_file_name("/."), Ok("_.".to_string()));
    }

    #[test]
    fn file_name_length_is_counted_in_bytes_after_sanitising() {
        let exact = "a".repeat(MAX_FILE_NAME_BYTES);
        assert_eq!(parse_file_name(&exact), Ok(exact.clone()));
        let over = "a".repeat(MAX_FILE_NAME_BYTES + 1);
        assert_eq!(parse_file_name(&over), Err(ParamError::Invalid("fileName")));
        // 342 × 'é' (2 bytes) = 684 bytes: fine. 513 × 'é' = 1026 bytes: too long.
        assert!(parse_file_name(&"é".repeat(342)).is_ok());
        assert_eq!(
            parse_file_name(&"é".repeat(513)),
            Err(ParamError::Invalid("fileName"))
        );
        // 1024 emoji are 4096 input bytes but sanitise to 1024 `_`: accepted, because the rule
        // applies to the stored (sanitised) name.
        assert_eq!(parse_file_name(&"😀".repeat(1024)), Ok("_".repeat(1024)));
    }

    #[test]
    fn suffix_placement_examples() {
        // Spec §3.4 examples, with the spec's sample suffix.
        let s = "_Kp3x9QzLm";
        assert_eq!(with_suffix("photo.jpg", s), "photo_Kp3x9QzLm.jpg");
        assert_eq!(with_suffix("archive.tar.gz", s), "archive.tar_Kp3x9QzLm.gz");
        assert_eq!(with_suffix("README", s), "README_Kp3x9QzLm");
        assert_eq!(with_suffix(".env", s), ".env_Kp3x9QzLm");
        // A dot-file with an extension: the last `.` is not the first character.
        assert_eq!(with_suffix(".env.local", s), ".env_Kp3x9QzLm.local");
        assert_eq!(with_suffix("name.", s), "name_Kp3x9QzLm.");
        assert_eq!(with_suffix("..", s), "._Kp3x9QzLm.");
    }

    #[test]
    fn random_suffix_shape() {
        let mut rng = StdRng::seed_from_u64(7);
        for _ in 0..200 {
            let s = random_suffix(&mut rng);
            assert_eq!(s.chars().count(), SUFFIX_LEN + 1);
            let mut chars = s.chars();
            assert_eq!(chars.next(), Some('_'));
            assert!(chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'));
        }
    }

    #[test]
    fn random_suffix_uses_the_whole_alphabet() {
        // 64 symbols over 9000 draws: missing one is astronomically unlikely unless the mapping
        // is broken (e.g. an off-by-one that never yields `-`).
        let mut rng = StdRng::seed_from_u64(42);
        let mut seen = [false; 64];
        for _ in 0..1000 {
            for b in random_suffix(&mut rng).bytes().skip(1) {
                if let Some(i) = SUFFIX_ALPHABET.iter().position(|&a| a == b) {
                    seen[i] = true;
                }
            }
        }
        assert!(seen.iter().all(|&s| s));
    }

    #[test]
    fn unique_names_differ() {
        let mut rng = StdRng::seed_from_u64(1);
        let a = unique_name("photo.jpg", &mut rng);
        let b = unique_name("photo.jpg", &mut rng);
        assert_ne!(a, b);
        assert!(a.starts_with("photo_") && a.ends_with(".jpg"));
        assert_eq!(a.len(), "photo.jpg".len() + SUFFIX_LEN + 1);
    }
}
