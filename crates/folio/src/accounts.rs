//! The rules of accounts and their keys that sit above the catalog: what a URL id may be (it is
//! the first path segment of every delivery URL of the account), and when a key expires.

/// First path segments the server's own routes use: an account named so would shadow them, or
/// be shadowed.
const RESERVED: &[&str] = &[
    "api", "v1", "v2", "healthz", "metrics", "demo", "console", "static",
];

/// Whether `url_id` can name an account: 1 to 64 lowercase ASCII letters, digits, `-` and `_`,
/// starting with a letter or digit, and not a segment of the server's own routes.
pub fn check_url_id(url_id: &str) -> Result<(), String> {
    let well_formed = (1..=64).contains(&url_id.len())
        && url_id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && url_id
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if !well_formed {
        return Err(format!(
            "`{url_id}` cannot be a URL id: use 1 to 64 lowercase letters, digits, - and _, \
             starting with a letter or a digit"
        ));
    }
    if RESERVED.contains(&url_id) {
        return Err(format!(
            "`{url_id}` is a path of the server's own routes; choose another URL id"
        ));
    }
    Ok(())
}

/// When a key made at `now` (Unix seconds) stops working: after a duration (`90d`, `12h`,
/// `30m`, `45s`) or at an RFC 3339 time (`2027-01-31T00:00:00Z`), which must be in the future.
pub fn parse_expiry(text: &str, now: i64) -> Result<i64, String> {
    let text = text.trim();
    let at = match text.char_indices().last() {
        Some((i, unit @ ('s' | 'm' | 'h' | 'd'))) if !text.contains('T') => {
            let count: i64 = text[..i].parse().map_err(|_| {
                format!("`{text}`: expected e.g. 90d, 12h, 30m or an RFC 3339 time")
            })?;
            let unit_secs = match unit {
                's' => 1,
                'm' => 60,
                'h' => 3600,
                _ => 86_400,
            };
            now.saturating_add(count.saturating_mul(unit_secs))
        }
        _ => time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
            .map(|t| t.unix_timestamp())
            .map_err(|_| format!("`{text}`: expected e.g. 90d, 12h, 30m or an RFC 3339 time"))?,
    };
    if at <= now {
        return Err(format!("`{text}` is not in the future"));
    }
    Ok(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_ids_are_path_segments_of_their_own() {
        for good in ["default", "shop", "shop-eu_2", "9lives"] {
            assert_eq!(check_url_id(good), Ok(()), "{good}");
        }
        for bad in ["", "Shop", "-shop", "a/b", "a.b", "é", &"x".repeat(65)] {
            assert!(check_url_id(bad).is_err(), "{bad}");
        }
        for reserved in ["api", "healthz", "v1"] {
            let refused = check_url_id(reserved).expect_err(reserved);
            assert!(refused.contains("own routes"), "{refused}");
        }
    }

    #[test]
    fn expiries_are_durations_or_times_in_the_future() {
        let now = 1_767_225_600; // 2026-01-01T00:00:00Z
        assert_eq!(parse_expiry("90d", now), Ok(now + 90 * 86_400));
        assert_eq!(parse_expiry("12h", now), Ok(now + 12 * 3600));
        assert_eq!(parse_expiry("30m", now), Ok(now + 1800));
        assert_eq!(parse_expiry("2s", now), Ok(now + 2));
        assert_eq!(parse_expiry("2026-01-02T00:00:00Z", now), Ok(now + 86_400));
        for bad in ["0s", "-5m", "2025-12-31T00:00:00Z", "soon", "5w", ""] {
            assert!(parse_expiry(bad, now).is_err(), "{bad}");
        }
    }
}
