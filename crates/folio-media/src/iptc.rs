//! IPTC-IIM application records (the "IPTC" block of JPEG/TIFF files).

use serde_json::{Map, Value as Json};

/// Dataset names (exiftool spelling) of record 2 and whether the dataset is
/// repeatable (repeatable ones are always emitted as arrays).
fn dataset(number: u8) -> Option<(&'static str, bool)> {
    Some(match number {
        0 => ("ApplicationRecordVersion", false),
        5 => ("ObjectName", false),
        7 => ("EditStatus", false),
        10 => ("Urgency", false),
        15 => ("Category", false),
        20 => ("SupplementalCategories", true),
        25 => ("Keywords", true),
        40 => ("SpecialInstructions", false),
        55 => ("DateCreated", false),
        60 => ("TimeCreated", false),
        65 => ("OriginatingProgram", false),
        80 => ("By-line", true),
        85 => ("By-lineTitle", true),
        90 => ("City", false),
        92 => ("Sub-location", false),
        95 => ("Province-State", false),
        100 => ("Country-PrimaryLocationCode", false),
        101 => ("Country-PrimaryLocationName", false),
        103 => ("OriginalTransmissionReference", false),
        105 => ("Headline", false),
        110 => ("Credit", false),
        115 => ("Source", false),
        116 => ("CopyrightNotice", false),
        118 => ("Contact", true),
        120 => ("Caption-Abstract", false),
        122 => ("Writer-Editor", true),
        _ => return None,
    })
}

/// One IIM dataset: (record, dataset number, data).
fn records(mut d: &[u8]) -> impl Iterator<Item = (u8, u8, &[u8])> {
    std::iter::from_fn(move || {
        // Each dataset starts with the tag marker 0x1C.
        if d.len() < 5 || d[0] != 0x1C {
            return None;
        }
        let (record, number) = (d[1], d[2]);
        let raw_len = u16::from_be_bytes([d[3], d[4]]);
        let (len, header) = if raw_len & 0x8000 == 0 {
            (usize::from(raw_len), 5usize)
        } else {
            // Extended dataset: the low 15 bits give the size of the length field.
            let n = usize::from(raw_len & 0x7FFF);
            if n == 0 || n > 8 {
                return None;
            }
            let bytes = d.get(5..5 + n)?;
            let len = bytes.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
            (usize::try_from(len).ok()?, 5 + n)
        };
        let data = d.get(header..header.checked_add(len)?)?;
        d = &d[header + len..];
        Some((record, number, data))
    })
}

/// Decodes text per the envelope's coded character set: UTF-8 when declared
/// (ESC % G) or when the bytes are valid UTF-8, Latin-1 otherwise.
fn text(b: &[u8], utf8_declared: bool) -> String {
    let s = match std::str::from_utf8(b) {
        Ok(s) => s.to_string(),
        Err(_) if utf8_declared => String::from_utf8_lossy(b).into_owned(),
        Err(_) => b.iter().map(|c| char::from(*c)).collect(),
    };
    s.trim_matches(|c: char| c == '\0' || c.is_whitespace())
        .to_string()
}

/// `CCYYMMDD` → `CCYY:MM:DD` and `HHMMSS±HHMM` → `HH:MM:SS±HH:MM`, the EXIF
/// style used for the other dates in the map.
fn format_date(s: &str) -> String {
    if s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit()) {
        return format!("{}:{}:{}", &s[..4], &s[4..6], &s[6..]);
    }
    s.to_string()
}

fn format_time(s: &str) -> String {
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|x| x.iter().all(u8::is_ascii_digit));
    if s.len() == 11 && digits(0..6) && matches!(b[6], b'+' | b'-') && digits(7..11) {
        return format!(
            "{}:{}:{}{}{}:{}",
            &s[..2],
            &s[2..4],
            &s[4..6],
            &s[6..7],
            &s[7..9],
            &s[9..]
        );
    }
    if s.len() == 6 && digits(0..6) {
        return format!("{}:{}:{}", &s[..2], &s[2..4], &s[4..]);
    }
    s.to_string()
}

pub(crate) fn to_json(iptc: &[u8]) -> Map<String, Json> {
    // Record 1 dataset 90 declares the character set; ESC % G is UTF-8.
    let utf8_declared = records(iptc).any(|(r, n, d)| r == 1 && n == 90 && d == b"\x1B%G");
    let mut out = Map::new();
    for (record, number, data) in records(iptc) {
        if record != 2 {
            continue;
        }
        let Some((name, repeatable)) = dataset(number) else {
            continue;
        };
        let value = match number {
            // binary 16-bit version number
            0 if data.len() == 2 => Json::from(u16::from_be_bytes([data[0], data[1]])),
            0 => continue,
            55 => Json::String(format_date(&text(data, utf8_declared))),
            60 => Json::String(format_time(&text(data, utf8_declared))),
            _ => Json::String(text(data, utf8_declared)),
        };
        if value.as_str() == Some("") {
            continue;
        }
        if repeatable {
            let entry = out.entry(name).or_insert_with(|| Json::Array(Vec::new()));
            if let Json::Array(items) = entry {
                items.push(value);
            }
        } else {
            out.entry(name).or_insert(value);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ds(record: u8, number: u8, data: &[u8]) -> Vec<u8> {
        let mut v = vec![0x1C, record, number];
        v.extend_from_slice(&(data.len() as u16).to_be_bytes());
        v.extend_from_slice(data);
        v
    }

    #[test]
    fn keywords_and_dates() {
        let mut d = ds(1, 90, b"\x1B%G");
        d.extend(ds(2, 0, &[0, 4]));
        d.extend(ds(2, 25, b"summer"));
        d.extend(ds(2, 25, "d\u{e9}t\u{e9}".as_bytes()));
        d.extend(ds(2, 5, b"Title"));
        d.extend(ds(2, 55, b"20240501"));
        d.extend(ds(2, 60, b"123456+0200"));
        let m = to_json(&d);
        assert_eq!(m["ApplicationRecordVersion"], 4);
        assert_eq!(
            m["Keywords"],
            serde_json::json!(["summer", "d\u{e9}t\u{e9}"])
        );
        assert_eq!(m["ObjectName"], "Title");
        assert_eq!(m["DateCreated"], "2024:05:01");
        assert_eq!(m["TimeCreated"], "12:34:56+02:00");
    }

    #[test]
    fn latin1_and_truncation() {
        let d = ds(2, 120, b"caf\xE9");
        assert_eq!(to_json(&d)["Caption-Abstract"], "caf\u{e9}");
        assert!(to_json(&d[..6]).is_empty());
        // extended length field claiming more than available
        let bad = [0x1C, 2, 25, 0x80, 0x04, 0xFF, 0xFF, 0xFF, 0xFF, b'x'];
        assert!(to_json(&bad).is_empty());
    }
}
