//! The `customCoordinates` parameter (spec §3.7).

use crate::error::ParamError;
use crate::field;

/// An area of interest `x,y,width,height`, in pixels.
///
/// The request value is stored and returned verbatim (spec §3.7), so
/// [`crate::UploadParams::custom_coordinates`] keeps the string; this type is for code that needs
/// the numbers (e.g. a `fo-custom` crop), and parsing it is the validation rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CustomCoordinates {
    /// Left edge.
    pub x: u32,
    /// Top edge.
    pub y: u32,
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
}

impl CustomCoordinates {
    /// Parses `^\d+,\d+,\d+,\d+$` where `\d` is an ASCII digit only, and each number must fit
    /// in a `u32` (our choice: no image has a side of 2^32 pixels, and a bounded type lets later
    /// arithmetic be infallible). Leading zeros are allowed. No spaces, signs, trailing newline
    /// or other digits (e.g. `٣`). Anything else is `Invalid("customCoordinates")`.
    ///
    /// ```
    /// use folio_contract::{CustomCoordinates, ParamError};
    /// let c = CustomCoordinates::parse("10,10,100,100")?;
    /// assert_eq!((c.x, c.y, c.width, c.height), (10, 10, 100, 100));
    /// assert!(CustomCoordinates::parse("10, 10,100,100").is_err());
    /// # Ok::<(), ParamError>(())
    /// ```
    pub fn parse(raw: &str) -> Result<Self, ParamError> {
        let invalid = ParamError::Invalid(field::CUSTOM_COORDINATES);
        let mut numbers = [0u32; 4];
        let mut parts = raw.split(',');
        for slot in &mut numbers {
            let part = parts.next().ok_or(invalid)?;
            // `u32::from_str` alone would accept a leading `+`; the grammar does not.
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid);
            }
            *slot = part.parse().map_err(|_| invalid)?;
        }
        if parts.next().is_some() {
            return Err(invalid);
        }
        let [x, y, width, height] = numbers;
        Ok(CustomCoordinates {
            x,
            y,
            width,
            height,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVALID: ParamError = ParamError::Invalid("customCoordinates");

    #[test]
    fn accepts_the_grammar() {
        assert_eq!(
            CustomCoordinates::parse("10,10,100,100"),
            Ok(CustomCoordinates {
                x: 10,
                y: 10,
                width: 100,
                height: 100
            })
        );
        assert!(CustomCoordinates::parse("0,0,0,0").is_ok());
        assert!(CustomCoordinates::parse("007,0,1,2").is_ok());
        assert!(CustomCoordinates::parse("4294967295,0,0,4294967295").is_ok());
    }

    #[test]
    fn rejects_everything_else() {
        for raw in [
            "10,10,100",
            "10,10,100,100,5",
            "10,10,100,",
            ",10,10,100",
            "10,,10,100",
            "10, 10,100,100",
            " 10,10,100,100",
            "10,10,100,100\n",
            "+10,10,100,100",
            "-10,10,100,100",
            "1.5,10,100,100",
            "a,b,c,d",
            "٣,1,1,1",
            "１,1,1,1", // fullwidth digit
            "10;10;100;100",
            "4294967296,0,0,0",
            "99999999999999999999,0,0,0",
            ",,,",
        ] {
            assert_eq!(CustomCoordinates::parse(raw), Err(INVALID), "{raw:?}");
        }
    }
}
