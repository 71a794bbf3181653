//! Date and duration literals of `searchQuery`: ISO 8601 dates (read as `checks` reads them),
//! relative dates (`"7d"` = seven days before now), and video durations (`"1.5min"`).

use crate::checks::values::{days_from_civil, days_in_month, parse_instant};

const MS_PER_DAY: i64 = 86_400_000;

/// Reads a date literal into Unix milliseconds: an ISO 8601 date or date-time (no zone = UTC;
/// sub-millisecond digits are dropped), or `<n><unit>` meaning that long before `now_ms`, with
/// unit `h` (hours), `d` (days), `w` (weeks), `m` (calendar months) or `y` (calendar years);
/// a month or year step that lands on a day the month lacks (Mar 31 − 1m) takes its last day.
/// `None` when it is neither, or lands before year 0.
///
/// ```
/// use folio_contract::search::parse_date;
/// let now = 1_709_251_200_000; // 2024-03-01T00:00:00Z
/// assert_eq!(parse_date("2024-03-01", now), Some(now));
/// assert_eq!(parse_date("1d", now), Some(now - 86_400_000));
/// assert_eq!(parse_date("1m", now), parse_date("2024-02-01", now));
/// assert_eq!(parse_date("yesterday", now), None);
/// ```
pub fn parse_date(text: &str, now_ms: i64) -> Option<i64> {
    if let Some(ns) = parse_instant(text) {
        return i64::try_from(ns.div_euclid(1_000_000)).ok();
    }
    let unit_at = text.find(|c: char| !c.is_ascii_digit())?;
    let (digits, unit) = text.split_at(unit_at);
    if digits.is_empty() || digits.len() > 6 {
        return None;
    }
    let n: i64 = digits.parse().ok()?;
    let back = match unit {
        "h" | "H" => n.checked_mul(3_600_000)?,
        "d" | "D" => n.checked_mul(MS_PER_DAY)?,
        "w" | "W" => n.checked_mul(7 * MS_PER_DAY)?,
        "m" | "M" => return months_before(now_ms, n),
        "y" | "Y" => return months_before(now_ms, n.checked_mul(12)?),
        _ => return None,
    };
    let at = now_ms.checked_sub(back)?;
    (at >= MIN_MS).then_some(at)
}

/// 0000-01-01T00:00:00Z, the earliest instant the ISO reader accepts.
const MIN_MS: i64 = -62_167_219_200_000;

fn months_before(now_ms: i64, months: i64) -> Option<i64> {
    let days = now_ms.div_euclid(MS_PER_DAY);
    let time_of_day = now_ms.rem_euclid(MS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    let index = year
        .checked_mul(12)?
        .checked_add(i64::from(month) - 1)?
        .checked_sub(months)?;
    if index < 0 {
        return None;
    }
    let year = u32::try_from(index / 12).ok()?;
    let month = u32::try_from(index % 12).ok()? + 1;
    let day = day.min(days_in_month(year, month));
    Some(days_from_civil(year, month, day) * MS_PER_DAY + time_of_day)
}

/// The proleptic Gregorian date of a day count from 1970-01-01 (inverse of `days_from_civil`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `YYYY-MM-DDTHH:mm:ss.sssZ`, the API's timestamp form (spec §8.1).
pub fn format_millis(ms: i64) -> String {
    let (year, month, day) = civil_from_days(ms.div_euclid(MS_PER_DAY));
    let rest = ms.rem_euclid(MS_PER_DAY);
    let (h, m, s, milli) = (
        rest / 3_600_000,
        rest / 60_000 % 60,
        rest / 1000 % 60,
        rest % 1000,
    );
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{milli:03}Z")
}

/// Reads a `videoDuration` string into seconds: `<number>` followed by `sec`/`s`, `min`/`m`,
/// `hr`/`h` or nothing (seconds), case-insensitive, e.g. `"30sec"`, `"1.5min"`, `"2hr"`.
///
/// ```
/// use folio_contract::search::parse_duration_seconds;
/// assert_eq!(parse_duration_seconds("1.5min"), Some(90.0));
/// assert_eq!(parse_duration_seconds("2hr"), Some(7200.0));
/// assert_eq!(parse_duration_seconds("2 days"), None);
/// ```
pub fn parse_duration_seconds(text: &str) -> Option<f64> {
    let unit_at = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(unit_at);
    let (integer, fraction) = number.split_once('.').unwrap_or((number, "0"));
    let digits = |s: &str| !s.is_empty() && s.len() <= 12 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(integer) || !digits(fraction) {
        return None;
    }
    let value: f64 = number.parse().ok()?;
    let factor = match unit.to_ascii_lowercase().as_str() {
        "" | "s" | "sec" => 1.0,
        "m" | "min" => 60.0,
        "h" | "hr" => 3600.0,
        _ => return None,
    };
    Some(value * factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip() {
        for days in (-719_528..3_000_000).step_by(997) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y as u32, m, d), days, "{y}-{m}-{d}");
        }
    }

    #[test]
    fn formats_and_reads_back() {
        assert_eq!(format_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_millis(1_704_067_200_123), "2024-01-01T00:00:00.123Z");
        assert_eq!(format_millis(-1), "1969-12-31T23:59:59.999Z");
        for ms in [0, 1, -1, 1_704_067_200_123, MIN_MS, 253_402_300_799_999] {
            assert_eq!(parse_date(&format_millis(ms), 0), Some(ms));
        }
    }

    #[test]
    fn relative_dates() {
        let now = parse_date("2024-03-31T10:00:00", 0).unwrap_or_default();
        let at = |t: &str| parse_date(t, now).map(format_millis);
        assert_eq!(at("2h").as_deref(), Some("2024-03-31T08:00:00.000Z"));
        assert_eq!(at("2d").as_deref(), Some("2024-03-29T10:00:00.000Z"));
        assert_eq!(at("3w").as_deref(), Some("2024-03-10T10:00:00.000Z"));
        assert_eq!(at("1m").as_deref(), Some("2024-02-29T10:00:00.000Z"));
        assert_eq!(at("13m").as_deref(), Some("2023-02-28T10:00:00.000Z"));
        assert_eq!(at("2y").as_deref(), Some("2022-03-31T10:00:00.000Z"));
        assert_eq!(at("0d").as_deref(), Some("2024-03-31T10:00:00.000Z"));
        for bad in [
            "", "d", "1", "1x", "1dd", "-1d", "1.5d", " 1d", "9999999d", "3000y", "1 d",
        ] {
            assert_eq!(at(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration_seconds("30sec"), Some(30.0));
        assert_eq!(parse_duration_seconds("30"), Some(30.0));
        assert_eq!(parse_duration_seconds("30S"), Some(30.0));
        assert_eq!(parse_duration_seconds("0.5hr"), Some(1800.0));
        for bad in [
            "", "sec", ".5min", "1.min", "1..2", "1 min", "-1sec", "1day",
        ] {
            assert_eq!(parse_duration_seconds(bad), None, "{bad:?}");
        }
    }
}
