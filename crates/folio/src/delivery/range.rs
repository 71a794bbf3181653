//! The `Range` request header (RFC 9110 §14.1.2), single ranges only: a client that asks for
//! several gets the whole file, which the RFC allows.

use crate::error::AppError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    pub start: u64,
    pub end_exclusive: u64,
}

impl ByteRange {
    /// `Ok(None)`: serve the whole file (no usable range); `Err`: answer 416.
    pub fn parse(header: &str, size: u64) -> Result<Option<ByteRange>, AppError> {
        let Some(spec) = header.trim().strip_prefix("bytes=") else {
            return Ok(None);
        };
        if spec.contains(',') {
            return Ok(None);
        }
        let Some((first, last)) = spec.trim().split_once('-') else {
            return Ok(None);
        };
        let (first, last) = (first.trim(), last.trim());
        let unsatisfiable = AppError::RangeNotSatisfiable { size };
        let range = if first.is_empty() {
            // Suffix: the last N bytes.
            let Ok(n) = last.parse::<u64>() else {
                return Ok(None);
            };
            if n == 0 || size == 0 {
                return Err(unsatisfiable);
            }
            ByteRange {
                start: size.saturating_sub(n),
                end_exclusive: size,
            }
        } else {
            let Ok(start) = first.parse::<u64>() else {
                return Ok(None);
            };
            let end = if last.is_empty() {
                size
            } else {
                let Ok(last) = last.parse::<u64>() else {
                    return Ok(None);
                };
                if last < start {
                    return Ok(None);
                }
                last.saturating_add(1).min(size)
            };
            if start >= size {
                return Err(unsatisfiable);
            }
            ByteRange {
                start,
                end_exclusive: end,
            }
        };
        Ok(Some(range))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(start: u64, end_exclusive: u64) -> Option<ByteRange> {
        Some(ByteRange {
            start,
            end_exclusive,
        })
    }

    #[test]
    fn single_ranges() {
        assert_eq!(ByteRange::parse("bytes=0-9", 100).ok(), Some(r(0, 10)));
        assert_eq!(ByteRange::parse("bytes=90-", 100).ok(), Some(r(90, 100)));
        assert_eq!(ByteRange::parse("bytes=-10", 100).ok(), Some(r(90, 100)));
        assert_eq!(ByteRange::parse("bytes=-500", 100).ok(), Some(r(0, 100)));
        assert_eq!(ByteRange::parse("bytes=95-200", 100).ok(), Some(r(95, 100)));
    }

    #[test]
    fn ignored_and_unsatisfiable() {
        assert_eq!(ByteRange::parse("bytes=0-1,5-6", 100).ok(), Some(None));
        assert_eq!(ByteRange::parse("items=0-1", 100).ok(), Some(None));
        assert_eq!(ByteRange::parse("bytes=5-1", 100).ok(), Some(None));
        assert_eq!(ByteRange::parse("bytes=x-1", 100).ok(), Some(None));
        assert!(ByteRange::parse("bytes=100-", 100).is_err());
        assert!(ByteRange::parse("bytes=-0", 100).is_err());
    }
}
