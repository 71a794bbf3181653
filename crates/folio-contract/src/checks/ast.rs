//! The typed syntax tree of a parsed expression, and its canonical text form.
//!
//! The tree is kept canonical so that printing and re-parsing gives back an equal tree:
//! `AND`/`OR` are n-ary (the operators are associative, so left-associativity needs no
//! nesting), an `And` never directly contains an `And` and an `Or` never an `Or` (redundant
//! parentheses are flattened away), and neither ever has fewer than two children.

use std::fmt;

use super::schema::CustomFieldType;
use super::values::Instant;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Condition(Condition),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Condition {
    pub field: Field,
    pub op: Operator,
    pub operand: Operand,
}

/// The fields of spec §7.3.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Field {
    FileName,
    UseUniqueFileName,
    Tags,
    Folder,
    IsPrivateFile,
    IsPublished,
    CustomCoordinates,
    WebhookUrl,
    OverwriteFile,
    OverwriteAiTags,
    OverwriteTags,
    OverwriteCustomMetadata,
    /// `request.customMetadata.<name>`, with the type the schema lookup gave at parse time.
    CustomMetadata {
        name: String,
        kind: CustomFieldType,
    },
    FileSize,
    FileMime,
    Width,
    Height,
    Duration,
    VideoCodec,
    AudioCodec,
    BitRate,
}

pub(crate) const CUSTOM_METADATA_PREFIX: &str = "request.customMetadata.";

/// The built-in fields and their spellings. Field names are matched case-sensitively, like
/// the parameter names they mirror.
pub(crate) const BUILT_IN_FIELDS: [(&str, Field); 20] = [
    ("request.fileName", Field::FileName),
    ("request.useUniqueFileName", Field::UseUniqueFileName),
    ("request.tags", Field::Tags),
    ("request.folder", Field::Folder),
    ("request.isPrivateFile", Field::IsPrivateFile),
    ("request.isPublished", Field::IsPublished),
    ("request.customCoordinates", Field::CustomCoordinates),
    ("request.webhookUrl", Field::WebhookUrl),
    ("request.overwriteFile", Field::OverwriteFile),
    ("request.overwriteAITags", Field::OverwriteAiTags),
    ("request.overwriteTags", Field::OverwriteTags),
    (
        "request.overwriteCustomMetadata",
        Field::OverwriteCustomMetadata,
    ),
    ("file.size", Field::FileSize),
    ("file.mime", Field::FileMime),
    ("mediaMetadata.width", Field::Width),
    ("mediaMetadata.height", Field::Height),
    ("mediaMetadata.duration", Field::Duration),
    ("mediaMetadata.videoCodec", Field::VideoCodec),
    ("mediaMetadata.audioCodec", Field::AudioCodec),
    ("mediaMetadata.bitRate", Field::BitRate),
];

impl Field {
    pub(crate) fn is_media(&self) -> bool {
        matches!(
            self,
            Field::Width
                | Field::Height
                | Field::Duration
                | Field::VideoCodec
                | Field::AudioCodec
                | Field::BitRate
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operator {
    Eq,
    NotEq,
    /// `:`, "starts with".
    Prefix,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    NotIn,
}

impl Operator {
    pub(crate) fn takes_list(self) -> bool {
        matches!(self, Operator::In | Operator::NotIn)
    }

    /// The result of the operator on a missing value (spec §7.4): only the negations hold.
    pub(crate) fn holds_on_missing(self) -> bool {
        matches!(self, Operator::NotEq | Operator::NotIn)
    }

    fn spelling(self) -> &'static str {
        match self {
            Operator::Eq => "=",
            Operator::NotEq => "NOT =",
            Operator::Prefix => ":",
            Operator::Lt => "<",
            Operator::Le => "<=",
            Operator::Gt => ">",
            Operator::Ge => ">=",
            Operator::In => "IN",
            Operator::NotIn => "NOT IN",
        }
    }
}

/// A literal after typing.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Literal {
    Str(String),
    /// Always finite. `file.size` size strings are stored here already converted to bytes.
    Num(f64),
    Bool(bool),
    /// A literal compared with a `Date` custom field: the text as written (for printing) and
    /// the instant it denotes.
    Date {
        text: String,
        instant: Instant,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Operand {
    Scalar(Literal),
    /// Non-empty.
    List(Vec<Literal>),
}

/// Writes `text` as a double-quoted string literal, escaping what §7.1 lets us escape.
fn write_quoted(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    f.write_str("\"")?;
    for c in text.chars() {
        if c == '"' || c == '\\' {
            f.write_str("\\")?;
        }
        write!(f, "{c}")?;
    }
    f.write_str("\"")
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Field::CustomMetadata { name, .. } = self {
            return write_quoted(f, &format!("{CUSTOM_METADATA_PREFIX}{name}"));
        }
        let spelling = BUILT_IN_FIELDS
            .iter()
            .find(|(_, field)| field == self)
            .map_or("", |(spelling, _)| spelling);
        write_quoted(f, spelling)
    }
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Str(text) | Literal::Date { text, .. } => write_quoted(f, text),
            // `f64`'s Display never uses exponent notation and prints the shortest digits that
            // read back as the same value, which is exactly the language's number syntax.
            Literal::Num(value) => write!(f, "{value}"),
            Literal::Bool(value) => write!(f, "{value}"),
        }
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} ", self.field, self.op.spelling())?;
        match &self.operand {
            Operand::Scalar(literal) => write!(f, "{literal}"),
            Operand::List(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
        }
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Condition(condition) => write!(f, "{condition}"),
            Expr::Or(children) => {
                for (i, child) in children.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" OR ")?;
                    }
                    // Children of a canonical Or are conditions or Ands, which bind tighter.
                    write!(f, "{child}")?;
                }
                Ok(())
            }
            Expr::And(children) => {
                for (i, child) in children.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" AND ")?;
                    }
                    match child {
                        Expr::Or(_) => write!(f, "({child})")?,
                        _ => write!(f, "{child}")?,
                    }
                }
                Ok(())
            }
        }
    }
}
