//! Errors of the `checks` parameter and their exact wire texts (spec §7, §5.2).

use std::fmt;

/// Why a `checks` expression was refused (`parse_checks`) or an upload failed it
/// ([`super::Checks::verify`]). Both are answered with HTTP `400`; [`ChecksError::message`] is
/// the wire text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChecksError {
    /// The expression does not parse, names an unknown field, or uses an operator or literal
    /// the field's kind does not allow (phase P7). The payload says where and why, for logs
    /// only: the client always gets the one fixed message.
    #[error("Your request contains invalid syntax for the checks parameter.")]
    Syntax(SyntaxError),
    /// The expression evaluated to false (phase E6).
    #[error("Your request failed 'checks' validation.")]
    Failed,
}

impl ChecksError {
    /// The exact `message` of the JSON error body, byte for byte.
    ///
    /// ```
    /// use folio_contract::{parse_checks, ChecksError, NoCustomFields};
    /// let err = parse_checks("file.size < 1mb", &NoCustomFields).unwrap_err();
    /// assert_eq!(err.message(), "Your request contains invalid syntax for the checks parameter.");
    /// assert_eq!(ChecksError::Failed.message(), "Your request failed 'checks' validation.");
    /// ```
    pub fn message(&self) -> String {
        self.to_string()
    }
}

/// Where and why an expression was refused. Not part of the wire response (which never
/// explains, spec §7), but worth logging: "bare word at byte 13" saves a support round trip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyntaxError {
    offset: usize,
    reason: &'static str,
}

impl SyntaxError {
    pub(crate) fn new(offset: usize, reason: &'static str) -> Self {
        SyntaxError { offset, reason }
    }

    /// Byte offset in the expression text where the problem was found (the text's length when
    /// the expression ended too early).
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// A short English description such as `"bare word"` or `"operator not allowed for this
    /// field"`. Not stable: for logs, not for matching.
    pub fn reason(&self) -> &'static str {
        self.reason
    }
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.reason, self.offset)
    }
}

impl From<SyntaxError> for ChecksError {
    fn from(detail: SyntaxError) -> Self {
        ChecksError::Syntax(detail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_byte_exact() {
        assert_eq!(
            ChecksError::Syntax(SyntaxError::new(3, "bare word")).message(),
            "Your request contains invalid syntax for the checks parameter."
        );
        assert_eq!(
            ChecksError::Failed.message(),
            "Your request failed 'checks' validation."
        );
    }

    #[test]
    fn detail_is_for_logs() {
        let detail = SyntaxError::new(13, "bare word");
        assert_eq!(detail.to_string(), "bare word at byte 13");
        assert_eq!(detail.offset(), 13);
        assert_eq!(detail.reason(), "bare word");
    }
}
