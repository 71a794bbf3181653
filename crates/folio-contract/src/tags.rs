//! The `tags` parameter (spec §3.6).

use std::collections::HashSet;

use crate::error::ParamError;
use crate::field;

/// Upper bound on the combined length of all tags, in Unicode characters.
pub const MAX_TAG_CHARS: usize = 500;

/// Parses a `tags` value into the list to store.
///
/// Splits on `,`, trims surrounding whitespace (Unicode `White_Space`) from each entry, drops
/// empty entries and removes exact (case-sensitive) duplicates, keeping the first occurrence.
///
/// Errors (`Invalid("tags")`):
/// * a `%` anywhere in the value, including inside entries that would be dropped;
/// * the sum of the character counts of the resulting tags exceeds [`MAX_TAG_CHARS`]. The sum is
///   taken over the tags as stored (after trimming and de-duplication; commas and dropped
///   whitespace do not count), because that is what the limit protects.
///
/// An empty `Vec` is a valid result (e.g. `" , "`): the request *has* tags, and they are none.
///
/// ```
/// use folio_contract::{parse_tags, ParamError};
/// assert_eq!(parse_tags(" summer , sale,,summer")?, ["summer", "sale"]);
/// assert_eq!(parse_tags("50%off"), Err(ParamError::Invalid("tags")));
/// # Ok::<(), ParamError>(())
/// ```
pub fn parse_tags(raw: &str) -> Result<Vec<String>, ParamError> {
    if raw.contains('%') {
        return Err(ParamError::Invalid(field::TAGS));
    }
    let mut seen = HashSet::new();
    let mut tags = Vec::new();
    let mut total_chars = 0usize;
    for tag in raw.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        if !seen.insert(tag) {
            continue;
        }
        total_chars += tag.chars().count();
        // Stop early: the value is already rejected, no need to look at the rest.
        if total_chars > MAX_TAG_CHARS {
            return Err(ParamError::Invalid(field::TAGS));
        }
        tags.push(tag.to_owned());
    }
    Ok(tags)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_trim_drop_dedupe() {
        assert_eq!(
            parse_tags("tag1,tag2"),
            Ok(vec!["tag1".into(), "tag2".into()])
        );
        assert_eq!(
            parse_tags("  a ,\tb\n, ,,a,B,b"),
            Ok(vec!["a".into(), "b".into(), "B".into()])
        );
        // Whitespace inside a tag is kept.
        assert_eq!(parse_tags("new york"), Ok(vec!["new york".into()]));
        assert_eq!(parse_tags(","), Ok(vec![]));
        assert_eq!(parse_tags(" \u{3000} "), Ok(vec![])); // ideographic space trims
    }

    #[test]
    fn percent_anywhere_is_invalid() {
        for raw in ["%", "a%", "%a", "a,b%c", "a,%,b", "a, % ,b", "100%"] {
            assert_eq!(parse_tags(raw), Err(ParamError::Invalid("tags")), "{raw:?}");
        }
    }

    #[test]
    fn five_hundred_characters_are_fine_five_hundred_one_are_not() {
        // Appendix A item 12, with a single tag...
        assert_eq!(parse_tags(&"a".repeat(500)).map(|t| t.len()), Ok(1));
        assert_eq!(
            parse_tags(&"a".repeat(501)),
            Err(ParamError::Invalid("tags"))
        );
        // ...and spread over several tags: commas do not count.
        let fifty_tags: Vec<String> = (0..50).map(|i| format!("{i:010}")).collect();
        assert_eq!(parse_tags(&fifty_tags.join(",")).map(|t| t.len()), Ok(50));
        let mut fifty_one = fifty_tags.clone();
        fifty_one.push("x".into());
        assert_eq!(
            parse_tags(&fifty_one.join(",")),
            Err(ParamError::Invalid("tags"))
        );
    }

    #[test]
    fn limit_counts_characters_not_bytes() {
        // 500 two-byte characters (1000 bytes) are within the limit.
        assert!(parse_tags(&"é".repeat(500)).is_ok());
        assert_eq!(
            parse_tags(&"é".repeat(501)),
            Err(ParamError::Invalid("tags"))
        );
    }

    #[test]
    fn limit_counts_stored_tags_only() {
        // Duplicates and surrounding whitespace are not stored, so they do not count.
        let tag = "a".repeat(300);
        assert!(parse_tags(&format!("{tag}, {tag} ,{tag}")).is_ok());
        assert!(parse_tags(&format!("   {}   ", "b".repeat(500))).is_ok());
    }
}
