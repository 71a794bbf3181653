//! The parameter-phase error and its exact wire text.

/// Why the parameter phase (spec §2.5, steps P2–P7) rejected a request.
///
/// Every variant is answered with HTTP `400`; the server maps it. The payload is the
/// parameter's wire name (e.g. `"fileName"`), which is always one of the constants in
/// [`crate::field`], so it is `&'static str` rather than an owned copy of client input.
///
/// Marked `#[non_exhaustive]` because the `transformation` (P6) and `checks` (P7) rules will
/// bring their own messages when they are implemented, and adding them must not break the
/// server's `match`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum ParamError {
    /// A required parameter is absent or empty.
    #[error("Your request is missing {0} parameter.")]
    Missing(&'static str),
    /// A parameter is present but its value breaks the rule for that parameter.
    #[error("Your request contains invalid {0} parameter.")]
    Invalid(&'static str),
    /// A parameter this server does not implement yet was sent with a non-empty value.
    /// Rejecting is deliberate: silently ignoring e.g. `checks` would let through uploads the
    /// caller meant to forbid.
    #[error("The {0} parameter is not supported by this server yet.")]
    Unsupported(&'static str),
    /// `checks` does not parse or is ill-typed (step P7, spec §7). Its own variant because the
    /// wire text is not the `invalid <name> parameter` template. Produced from
    /// [`crate::parse_checks`]'s error, which carries the log detail this `Copy` type drops.
    #[error("Your request contains invalid syntax for the checks parameter.")]
    ChecksSyntax,
    /// `transformation` breaks the structure of spec §3.8 (step P6), or (at step E1) names a
    /// transformation the server cannot render.
    #[error("The file could not be uploaded because the transformation field is invalid.")]
    TransformationInvalid,
}

impl ParamError {
    /// The exact `message` string of the JSON error body (spec §5.2), byte for byte.
    ///
    /// ```
    /// use folio_contract::ParamError;
    /// assert_eq!(
    ///     ParamError::Missing("fileName").message(),
    ///     "Your request is missing fileName parameter."
    /// );
    /// ```
    pub fn message(&self) -> String {
        self.to_string()
    }

    /// The wire name of the parameter the error is about.
    pub fn param(&self) -> &'static str {
        match *self {
            ParamError::Missing(name)
            | ParamError::Invalid(name)
            | ParamError::Unsupported(name) => name,
            ParamError::ChecksSyntax => crate::field::CHECKS,
            ParamError::TransformationInvalid => crate::field::TRANSFORMATION,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_byte_exact() {
        assert_eq!(
            ParamError::Missing("fileName").message(),
            "Your request is missing fileName parameter."
        );
        assert_eq!(
            ParamError::Invalid("folder").message(),
            "Your request contains invalid folder parameter."
        );
        assert_eq!(
            ParamError::Invalid("useUniqueFileName").message(),
            "Your request contains invalid useUniqueFileName parameter."
        );
        assert_eq!(
            ParamError::Unsupported("checks").message(),
            "The checks parameter is not supported by this server yet."
        );
        assert_eq!(
            ParamError::Unsupported("webhookUrl").message(),
            "The webhookUrl parameter is not supported by this server yet."
        );
    }

    #[test]
    fn checks_syntax_message() {
        assert_eq!(
            ParamError::ChecksSyntax.message(),
            "Your request contains invalid syntax for the checks parameter."
        );
        assert_eq!(ParamError::ChecksSyntax.param(), "checks");
        let from_parser = crate::parse_checks("file.size < 1mb", &crate::NoCustomFields)
            .err()
            .map(|e| e.message());
        assert_eq!(from_parser, Some(ParamError::ChecksSyntax.message()));
    }

    #[test]
    fn param_returns_the_wire_name() {
        assert_eq!(ParamError::Missing("fileName").param(), "fileName");
        assert_eq!(ParamError::Invalid("tags").param(), "tags");
        assert_eq!(ParamError::Unsupported("extensions").param(), "extensions");
    }
}
