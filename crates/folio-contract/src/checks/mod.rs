//! The `checks` expression language (spec §7): parse once at phase P7, evaluate at E6 — and,
//! beyond ImageKit, evaluate *partially* while the file is still streaming so the server can
//! reject an upload as soon as its size or type makes the expression impossible.
//!
//! ```
//! use folio_contract::{parse_checks, CheckContext, Folder, NoCustomFields, SizeKnowledge, Verdict};
//!
//! // Phase P7: syntax, field names, operators and literal kinds are all checked here.
//! let checks = parse_checks("'file.size' < '1mb' AND \"file.mime\" : \"image/\"", &NoCustomFields)?;
//! assert!(checks.references_file_mime() && !checks.references_media());
//!
//! let folder = Folder::root();
//! let metadata = serde_json::Map::new();
//! let mut ctx = CheckContext::new("photo_Kp3x9QzLm.jpg", &folder, &metadata);
//!
//! // Streaming: 1000 bytes in, type not sniffed yet: nothing decided.
//! ctx.file_size = SizeKnowledge::AtLeast(1000);
//! assert_eq!(checks.evaluate_partial(&ctx), Verdict::Unknown);
//! // Past 1 MiB the expression can no longer hold: stop reading and reject.
//! ctx.file_size = SizeKnowledge::AtLeast(1_048_577);
//! assert!(checks.is_certainly_false(&ctx));
//!
//! // Phase E6, everything known.
//! ctx.file_size = SizeKnowledge::Exactly(52_000);
//! ctx.file_mime = Some("image/jpeg");
//! assert!(checks.verify(&ctx).is_ok());
//! # Ok::<(), folio_contract::ChecksError>(())
//! ```
//!
//! Semantics that the spec leaves open are documented where they are implemented:
//! [`parse_checks`] (limits, field-name case), [`SizeKnowledge`] (when a lower bound is
//! sound), [`CheckContext`] (what `None` means), [`Checks::evaluate_partial`].

mod ast;
mod context;
pub(crate) mod error;
mod eval;
pub(crate) mod lexer;
mod parser;
mod schema;
pub(crate) mod values;

#[cfg(test)]
mod tests;

use std::fmt;

pub use context::{CheckContext, SizeKnowledge};
pub use error::{ChecksError, SyntaxError};
pub use eval::Verdict;
pub use schema::{CustomFieldSchemas, CustomFieldType, NoCustomFields};

/// Reads an ISO 8601 date (`2024-01-01`) or date-time the way `checks` reads `Date` literals
/// (spec §7.3): nanoseconds since the Unix epoch, no zone = UTC. `None` when not such a date.
pub fn parse_iso_instant(text: &str) -> Option<i128> {
    values::parse_instant(text)
}

use ast::{Expr, Field};
use eval::Mode;

/// Longest accepted expression, in bytes (UTF-8). Longer is a syntax error, checked before any
/// other work. Real expressions are a few hundred bytes; the cap bounds the cost of parsing
/// and evaluating whatever a client sends.
pub const MAX_CHECKS_BYTES: usize = 10_000;

/// Deepest accepted nesting of parentheses. Deeper is a syntax error. Parentheses are the only
/// source of recursion in the parser and the evaluator, so this bounds their stack use.
pub const MAX_CHECKS_DEPTH: usize = 64;

/// A parsed, type-checked `checks` expression.
///
/// `Display` prints it in a canonical form (double quotes, upper-case keywords, minimal
/// parentheses, `file.size` sizes in bytes) that parses back to an equal `Checks` given the
/// same custom field schemas — provided the printed text fits [`MAX_CHECKS_BYTES`]: the
/// canonical form can be longer than what the client sent (`'1mb'` prints as `1048576`), so
/// an input near the limit may print to something `parse_checks` refuses as too long.
#[derive(Debug, Clone, PartialEq)]
pub struct Checks {
    expr: Expr,
}

/// Parses a `checks` value (phase P7, spec §7.1–§7.3).
///
/// Any problem — lexical, grammatical, an unknown field, an operator the field does not allow,
/// a literal of the wrong kind — is [`ChecksError::Syntax`], whose message is the one wire text
/// of spec §7. The error never depends on the request's other values, only on `text` and on
/// which custom metadata fields `schemas` defines.
///
/// Choices where the spec is silent:
/// * at most [`MAX_CHECKS_BYTES`] bytes and [`MAX_CHECKS_DEPTH`] nested parentheses;
/// * an empty or whitespace-only `text` is a syntax error (the caller treats an *empty*
///   parameter as absent before calling this, spec §3.1);
/// * field names are case-sensitive (`"File.Size"` is unknown), keywords and booleans are not;
/// * a string may hold any character, including raw line breaks; a backslash must start one of
///   the escapes `\"`, `\'`, `\\`;
/// * numbers so long that they overflow `f64` are refused; otherwise numbers are read as
///   `f64` and compared exactly with integer values;
/// * `file.size` size strings are `"<number><unit>"` with no space, and may be fractional
///   (`"1.3kb"` = 1331.2 bytes);
/// * `Date` literals: `YYYY-MM-DD`, optionally `Thh:mm[:ss[.fraction]]`, optionally `Z` or
///   `±hh:mm`; without a zone, UTC.
///
/// ```
/// use folio_contract::{parse_checks, NoCustomFields};
/// assert!(parse_checks("\"request.folder\" : \"marketing/\"\n", &NoCustomFields).is_ok());
/// assert!(parse_checks("\"file.size\" : \"1mb\"", &NoCustomFields).is_err());
/// ```
pub fn parse_checks(text: &str, schemas: &dyn CustomFieldSchemas) -> Result<Checks, ChecksError> {
    let expr = parser::parse(text, schemas)?;
    Ok(Checks { expr })
}

impl Checks {
    /// Evaluates with possibly incomplete file facts (see [`CheckContext`]: here `None` file
    /// facts are *unknown*), combining with Kleene logic (`False AND Unknown = False`,
    /// `True OR Unknown = True`, otherwise `Unknown` spreads).
    ///
    /// `file.size` with [`SizeKnowledge::AtLeast`]`(n)` is decided when it is decided for every
    /// final size `>= n`: `<`, `<=` and `=` can become False early (`< v` once `n >= v`), `>`
    /// and `>=` can become True early (`> v` once `n > v`), never the other way round.
    ///
    /// Guarantee (tested as a property): if this returns `True` or `False`, then
    /// [`Checks::final_verdict`] on any completion of `ctx` — same request values, the known
    /// file facts unchanged, the unknown ones set to anything, the size any value `>= n` —
    /// agrees. That makes `False` a safe reason to abort the upload early. `True` is not a
    /// reason to skip E6: the final stored name (unique-suffix collisions) and a `pre`
    /// transformation can still change the facts the final evaluation sees.
    pub fn evaluate_partial(&self, ctx: &CheckContext<'_>) -> Verdict {
        eval::evaluate(&self.expr, ctx, Mode::Partial)
    }

    /// Whether the expression can no longer hold, whatever the unknown facts turn out to be:
    /// the streaming server's cue to stop reading and answer `Failed`.
    pub fn is_certainly_false(&self, ctx: &CheckContext<'_>) -> bool {
        self.evaluate_partial(ctx) == Verdict::False
    }

    /// The E6 verdict (spec §7.4): `None` file facts are *absent* values, so comparisons on
    /// them are false except `NOT =` and `NOT IN`.
    ///
    /// `ctx.file_size` should be [`SizeKnowledge::Exactly`]. Given `AtLeast`, size conditions
    /// that the lower bound does not decide make the result fail closed (`false`).
    pub fn final_verdict(&self, ctx: &CheckContext<'_>) -> bool {
        eval::evaluate(&self.expr, ctx, Mode::Final) == Verdict::True
    }

    /// [`Checks::final_verdict`] as the E6 step: `Err(ChecksError::Failed)` when it is false.
    pub fn verify(&self, ctx: &CheckContext<'_>) -> Result<(), ChecksError> {
        if self.final_verdict(ctx) {
            Ok(())
        } else {
            Err(ChecksError::Failed)
        }
    }

    /// Whether any condition reads `file.size`.
    pub fn references_file_size(&self) -> bool {
        self.references(|field| *field == Field::FileSize)
    }

    /// Whether any condition reads `file.mime`: if not, the server need not wait for content
    /// sniffing before a partial evaluation can be decisive.
    pub fn references_file_mime(&self) -> bool {
        self.references(|field| *field == Field::FileMime)
    }

    /// Whether any condition reads a `mediaMetadata.*` field, which needs the file probed.
    pub fn references_media(&self) -> bool {
        self.references(Field::is_media)
    }

    /// Whether any condition reads `request.fileName`, which depends on the final stored
    /// name (unique suffix included, spec Q22).
    pub fn references_file_name(&self) -> bool {
        self.references(|field| *field == Field::FileName)
    }

    /// Whether the expression reads only request values, so that a partial evaluation before
    /// any byte of the file arrives is already final.
    pub fn references_only_request(&self) -> bool {
        !self.references(|field| {
            *field == Field::FileSize || *field == Field::FileMime || field.is_media()
        })
    }

    /// Whether the expression reads only facts of the file (`file.*`, `mediaMetadata.*`), so
    /// that request values, including fields that have not arrived yet, cannot change it.
    pub fn references_only_file(&self) -> bool {
        !self.references(|field| {
            !(*field == Field::FileSize || *field == Field::FileMime || field.is_media())
        })
    }

    fn references(&self, wanted: impl Fn(&Field) -> bool) -> bool {
        fn walk(expr: &Expr, wanted: &dyn Fn(&Field) -> bool) -> bool {
            match expr {
                Expr::Condition(condition) => wanted(&condition.field),
                Expr::And(children) | Expr::Or(children) => {
                    children.iter().any(|child| walk(child, wanted))
                }
            }
        }
        walk(&self.expr, &wanted)
    }
}

impl fmt::Display for Checks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.expr.fmt(f)
    }
}
