//! Literal interpretations that need more than the lexer: size strings, ISO 8601 instants, and
//! exact comparison of integers with the `f64` the language's numbers are stored as.

use std::cmp::Ordering;

/// Parses a `file.size` string literal `"<number>[unit]"` (spec §7.3) into bytes.
///
/// `<number>` has the grammar of an unquoted number (`-?[0-9]+(\.[0-9]+)?`); `unit` is `b`,
/// `kb`, `mb` or `gb` in any case, absent meaning bytes, with nothing (not even a space)
/// between number and unit. Units are binary (spec Q20): 1 kb = 1024 bytes.
///
/// The result may be fractional (`"1.3kb"` is 1331.2 bytes) — comparisons are mathematical,
/// and no file has 1331.2 bytes, so `=` on it is simply never true.
pub(crate) fn parse_size(text: &str) -> Option<f64> {
    let digits_end = text
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || c == '.' || (i == 0 && c == '-')))
        .map_or(text.len(), |(i, _)| i);
    let (number, unit) = text.split_at(digits_end);
    if !is_number_literal(number) {
        return None;
    }
    let exponent = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "kb" => 10,
        "mb" => 20,
        "gb" => 30,
        _ => return None,
    };
    let value = number.parse::<f64>().ok()?;
    // Multiplying by a power of two is exact in binary floating point (short of overflow),
    // so "1.5mb" is exactly 1572864.
    let bytes = value * f64::from(1u32 << exponent);
    bytes.is_finite().then_some(bytes)
}

/// `-?[0-9]+(\.[0-9]+)?` exactly (the lexer's number rule, restated for size strings).
fn is_number_literal(text: &str) -> bool {
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let (integer, fraction) = match unsigned.split_once('.') {
        Some((integer, fraction)) => (integer, Some(fraction)),
        None => (unsigned, None),
    };
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    all_digits(integer) && fraction.is_none_or(all_digits)
}

/// Nanoseconds since 1970-01-01T00:00:00Z. `i128` because the supported years (0000–9999)
/// times 10^9 ns/s do not fit `i64`.
pub(crate) type Instant = i128;

const NANOS_PER_SECOND: i128 = 1_000_000_000;

/// Parses the ISO 8601 forms a `Date` custom field holds (spec §7.3, §9.3) into an instant.
///
/// Accepted: `YYYY-MM-DD` (midnight UTC), optionally followed by `T` and `hh:mm`, `hh:mm:ss`
/// or `hh:mm:ss.f` (1–9 fraction digits), optionally followed by a zone `Z` or `±hh:mm`. No
/// zone means UTC (spec §7.3). `t`/`z` are accepted in lower case as RFC 3339 allows; nothing
/// else (week dates, ordinal dates, basic format without `-`, a space instead of `T`) is,
/// because silently guessing at a date is worse than refusing it.
pub(crate) fn parse_instant(text: &str) -> Option<Instant> {
    let bytes = text.as_bytes();
    let year = digits(bytes, 0, 4)?;
    expect(bytes, 4, b'-')?;
    let month = digits(bytes, 5, 2)?;
    expect(bytes, 7, b'-')?;
    let day = digits(bytes, 8, 2)?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let mut seconds = days_from_civil(year, month, day) * 86_400;
    let mut nanos: i128 = 0;
    let mut at = 10;
    if at == bytes.len() {
        return Some(i128::from(seconds) * NANOS_PER_SECOND);
    }
    if !matches!(bytes.get(at), Some(b'T' | b't')) {
        return None;
    }
    let hour = digits(bytes, at + 1, 2)?;
    expect(bytes, at + 3, b':')?;
    let minute = digits(bytes, at + 4, 2)?;
    at += 6;
    let mut second = 0;
    if bytes.get(at) == Some(&b':') {
        second = digits(bytes, at + 1, 2)?;
        at += 3;
        if bytes.get(at) == Some(&b'.') {
            at += 1;
            let start = at;
            while bytes.get(at).is_some_and(u8::is_ascii_digit) {
                at += 1;
            }
            let count = at - start;
            if count == 0 || count > 9 {
                return None;
            }
            let fraction = digits(bytes, start, count)?;
            nanos = i128::from(fraction) * 10_i128.pow(9 - count as u32);
        }
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    seconds += i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second);
    match bytes.get(at) {
        None => {}
        Some(b'Z' | b'z') if at + 1 == bytes.len() => {}
        Some(&sign @ (b'+' | b'-')) if at + 6 == bytes.len() => {
            let offset_hours = digits(bytes, at + 1, 2)?;
            expect(bytes, at + 3, b':')?;
            let offset_minutes = digits(bytes, at + 4, 2)?;
            if offset_hours > 23 || offset_minutes > 59 {
                return None;
            }
            let offset = i64::from(offset_hours) * 3600 + i64::from(offset_minutes) * 60;
            // Local time = UTC + offset, so UTC = local - offset.
            seconds += if sign == b'+' { -offset } else { offset };
        }
        Some(_) => return None,
    }
    Some(i128::from(seconds) * NANOS_PER_SECOND + nanos)
}

/// `count` ASCII digits at `start`, as a number.
fn digits(bytes: &[u8], start: usize, count: usize) -> Option<u32> {
    let slice = bytes.get(start..start.checked_add(count)?)?;
    slice.iter().try_fold(0u32, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + u32::from(b - b'0'))
    })
}

fn expect(bytes: &[u8], at: usize, wanted: u8) -> Option<()> {
    (bytes.get(at) == Some(&wanted)).then_some(())
}

fn is_leap(year: u32) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

pub(crate) fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to the given proleptic Gregorian date. Counts whole 400-year cycles
/// (146 097 days each) from 0000-03-01, a year that starts in March so that the leap day is
/// the last day of the counted year.
pub(crate) fn days_from_civil(year: u32, month: u32, day: u32) -> i64 {
    let (year, month, day) = (i64::from(year), i64::from(month), i64::from(day));
    // Shift the year start to March: January and February belong to the previous year.
    let year = if month <= 2 { year - 1 } else { year };
    let cycle = year.div_euclid(400);
    let year_of_cycle = year.rem_euclid(400);
    let month_from_march = (month + 9) % 12; // March = 0 ... February = 11
                                             // 153 days per 5 months (31+30+31+30+31) is the March-based month-length pattern.
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_cycle = year_of_cycle * 365 + year_of_cycle / 4 - year_of_cycle / 100 + day_of_year;
    // 719 468 = days from 0000-03-01 to 1970-01-01.
    cycle * 146_097 + day_of_cycle - 719_468
}

/// An integer or float value of a field, kept in its own type so comparisons with a literal
/// are exact (a `u64` converted to `f64` rounds above 2^53).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Number {
    Unsigned(u64),
    Signed(i64),
    Float(f64),
}

impl Number {
    pub(crate) fn from_json(number: &serde_json::Number) -> Option<Number> {
        if let Some(u) = number.as_u64() {
            Some(Number::Unsigned(u))
        } else if let Some(i) = number.as_i64() {
            Some(Number::Signed(i))
        } else {
            number.as_f64().map(Number::Float)
        }
    }

    /// `self` compared with a literal; `None` when `self` is NaN (which a caller may hand in
    /// for a media fact; it is then treated like a missing value).
    pub(crate) fn compare(self, literal: f64) -> Option<Ordering> {
        match self {
            Number::Unsigned(value) => Some(compare_u64(value, literal)),
            Number::Signed(value) if value >= 0 => Some(compare_u64(value.unsigned_abs(), literal)),
            // value < 0: value ? literal  <=>  -literal ? -value, i.e. the reversed comparison
            // of the magnitudes.
            Number::Signed(value) => Some(compare_u64(value.unsigned_abs(), -literal).reverse()),
            Number::Float(value) => value.partial_cmp(&literal),
        }
    }
}

/// Exact comparison of an integer with a finite `f64`.
pub(crate) fn compare_u64(value: u64, literal: f64) -> Ordering {
    // 2^64 as f64 is exact; every f64 at or above it exceeds every u64.
    const TWO_POW_64: f64 = 18_446_744_073_709_551_616.0;
    if literal < 0.0 {
        return Ordering::Greater;
    }
    if literal >= TWO_POW_64 {
        return Ordering::Less;
    }
    // In [0, 2^64) the integer part of an f64 is exactly representable as u64.
    let whole = literal.trunc() as u64;
    match value.cmp(&whole) {
        Ordering::Equal if literal.fract() > 0.0 => Ordering::Less,
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_strings() {
        assert_eq!(parse_size("1mb"), Some(1_048_576.0));
        assert_eq!(parse_size("1MB"), Some(1_048_576.0));
        assert_eq!(parse_size("1Mb"), Some(1_048_576.0));
        assert_eq!(parse_size("10kb"), Some(10_240.0));
        assert_eq!(parse_size("50mb"), Some(52_428_800.0));
        assert_eq!(parse_size("1.5mb"), Some(1_572_864.0));
        assert_eq!(parse_size("2gb"), Some(2_147_483_648.0));
        assert_eq!(parse_size("0.5GB"), Some(536_870_912.0));
        assert_eq!(parse_size("100b"), Some(100.0));
        assert_eq!(parse_size("100B"), Some(100.0));
        assert_eq!(parse_size("1024"), Some(1024.0));
        assert_eq!(parse_size("0"), Some(0.0));
        assert_eq!(parse_size("1.3kb"), Some(1.3 * 1024.0));
        assert_eq!(parse_size("-1kb"), Some(-1024.0));
        for bad in [
            "", "mb", "1 mb", " 1mb", "1mb ", "1tb", "1kib", "1k", "1m", "1.mb", ".5mb", "1..5mb",
            "1,5mb", "+1mb", "1e3", "1mbb", "--1", "-", "1.5.5kb", "0x10",
        ] {
            assert_eq!(parse_size(bad), None, "{bad:?}");
        }
    }

    fn instant(text: &str) -> i128 {
        match parse_instant(text) {
            Some(i) => i,
            None => panic!("{text:?} refused"),
        }
    }

    const DAY: i128 = 86_400 * NANOS_PER_SECOND;
    const SECOND: i128 = NANOS_PER_SECOND;

    #[test]
    fn dates_are_instants_in_utc() {
        assert_eq!(instant("1970-01-01"), 0);
        assert_eq!(instant("1970-01-02"), DAY);
        assert_eq!(instant("1969-12-31"), -DAY);
        // 2024-01-01T00:00:00Z = 1704067200.
        assert_eq!(instant("2024-01-01"), 1_704_067_200 * SECOND);
        assert_eq!(instant("2024-01-01T00:00:00"), instant("2024-01-01"));
        assert_eq!(instant("2024-01-01T00:00"), instant("2024-01-01"));
        assert_eq!(instant("2024-01-01T00:00:00Z"), instant("2024-01-01"));
        assert_eq!(instant("2024-01-01t00:00:00z"), instant("2024-01-01"));
        assert_eq!(
            instant("2024-01-01T12:12:12"),
            (1_704_067_200 + 12 * 3600 + 12 * 60 + 12) * SECOND
        );
        assert_eq!(instant("2024-01-01T02:00:00+02:00"), instant("2024-01-01"));
        assert_eq!(instant("2023-12-31T22:30:00-01:30"), instant("2024-01-01"));
        assert_eq!(
            instant("2024-01-01T00:00:00.5"),
            instant("2024-01-01") + SECOND / 2
        );
        assert_eq!(
            instant("2024-01-01T00:00:00.123456789Z"),
            instant("2024-01-01") + 123_456_789
        );
        // 2000-03-01 = 11017 days after the epoch; checks leap-century handling.
        assert_eq!(instant("2000-03-01"), 11_017 * DAY);
        assert_eq!(instant("2000-02-29") + DAY, instant("2000-03-01"));
        assert_eq!(instant("2024-02-29") + DAY, instant("2024-03-01"));
        assert_eq!(instant("2023-12-31") + DAY, instant("2024-01-01"));
        // 0000-01-01 = -719528 days; 9999-12-31 = 2932896 days.
        assert_eq!(instant("0000-01-01"), -719_528 * DAY);
        assert_eq!(instant("9999-12-31"), 2_932_896 * DAY);
    }

    #[test]
    fn consecutive_days_are_one_day_apart() {
        // Walks a few leap cycles day by day, using the month table, against the day formula.
        let mut expected = instant("1899-01-01");
        for year in 1899..=1905 {
            for month in 1..=12 {
                for day in 1..=days_in_month(year, month) {
                    let text = format!("{year:04}-{month:02}-{day:02}");
                    assert_eq!(instant(&text), expected, "{text}");
                    expected += DAY;
                }
            }
        }
    }

    #[test]
    fn bad_dates() {
        for bad in [
            "",
            "2024",
            "2024-01",
            "2024-1-01",
            "24-01-01",
            "2024/01/01",
            "20240101",
            "2024-00-01",
            "2024-13-01",
            "2024-01-00",
            "2024-01-32",
            "2023-02-29",
            "1900-02-29",
            "2024-04-31",
            "2024-01-01 12:00:00",
            "2024-01-01T",
            "2024-01-01T12",
            "2024-01-01T24:00:00",
            "2024-01-01T12:60:00",
            "2024-01-01T12:00:60",
            "2024-01-01T12:00:00.",
            "2024-01-01T12:00:00.1234567890",
            "2024-01-01T12:00:00ZZ",
            "2024-01-01T12:00:00+0200",
            "2024-01-01T12:00:00+02",
            "2024-01-01T12:00:00+24:00",
            "2024-01-01Z",
            "2024-01-01x",
            " 2024-01-01",
            "2024-01-01 ",
            "+2024-01-01",
            "２０２４-01-01",
        ] {
            assert_eq!(parse_instant(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn exact_integer_comparison() {
        assert_eq!(compare_u64(5, 5.0), Ordering::Equal);
        assert_eq!(compare_u64(5, 5.5), Ordering::Less);
        assert_eq!(compare_u64(6, 5.5), Ordering::Greater);
        assert_eq!(compare_u64(0, -0.0), Ordering::Equal);
        assert_eq!(compare_u64(0, -0.5), Ordering::Greater);
        assert_eq!(compare_u64(u64::MAX, 1e30), Ordering::Less);
        assert_eq!(
            compare_u64(u64::MAX, 18_446_744_073_709_551_616.0),
            Ordering::Less
        );
        // 2^53 + 1 is not representable as f64; the comparison must still be exact.
        let big = (1u64 << 53) + 1;
        assert_eq!(compare_u64(big, (1u64 << 53) as f64), Ordering::Greater);
        assert_eq!(Number::Signed(-3).compare(-3.0), Some(Ordering::Equal));
        assert_eq!(Number::Signed(-3).compare(-2.5), Some(Ordering::Less));
        assert_eq!(Number::Signed(-3).compare(-3.5), Some(Ordering::Greater));
        assert_eq!(Number::Signed(-3).compare(1.0), Some(Ordering::Less));
        assert_eq!(
            Number::Signed(i64::MIN).compare(-1e30),
            Some(Ordering::Greater)
        );
        assert_eq!(Number::Float(2.5).compare(2.5), Some(Ordering::Equal));
        assert_eq!(Number::Float(f64::NAN).compare(2.5), None);
    }

    #[test]
    fn json_numbers() {
        let n = |text: &str| {
            serde_json::from_str::<serde_json::Number>(text)
                .ok()
                .and_then(|n| Number::from_json(&n))
        };
        assert_eq!(n("7"), Some(Number::Unsigned(7)));
        assert_eq!(n("-7"), Some(Number::Signed(-7)));
        assert_eq!(n("7.5"), Some(Number::Float(7.5)));
    }
}
