//! The `searchQuery` language of the list API (spec §8.9, media-api §3): a pure parser from the
//! query text to a typed syntax tree, which the server compiles to SQL (never evaluated over
//! files in memory).
//!
//! It shares the lexer of [`crate::checks`] (the lexical rules are the same, plus unquoted
//! built-in field names and the `HAS` / `EXISTS` keywords), and, like `checks`, types every
//! condition while parsing: an unknown field, an operator the field does not take or a value of
//! the wrong kind is refused here, so a [`SearchQuery`] always compiles.
//!
//! ```
//! use folio_contract::search::{parse_search, Field, Op, Value};
//! use folio_contract::NoCustomFields;
//!
//! let now_ms = 1_735_689_600_000; // 2025-01-01T00:00:00Z
//! let query = parse_search(r#"(size < "1mb" AND width > 500) OR tags IN ["sale"]"#, &NoCustomFields, now_ms)?;
//! assert_eq!(query.to_string(), r#"size < 1048576 AND width > 500 OR tags IN ["sale"]"#);
//!
//! // Relative dates are resolved against `now_ms` at parse time.
//! let recent = parse_search(r#"createdAt > "7d""#, &NoCustomFields, now_ms)?;
//! assert_eq!(recent.to_string(), r#"createdAt > "2024-12-25T00:00:00.000Z""#);
//!
//! let err = parse_search("colour = 'red'", &NoCustomFields, now_ms).unwrap_err();
//! assert_eq!(err.message(), "Invalid search query - unknown field `colour`");
//! # Ok::<(), folio_contract::search::SearchError>(())
//! ```

mod dates;
mod parser;
#[cfg(test)]
mod tests;

use std::fmt;

use crate::checks::CustomFieldSchemas;
use crate::CustomFieldType;

pub use dates::{format_millis, parse_date, parse_duration_seconds};

/// Longest accepted query, in bytes (the `checks` cap: queries are short, and the cap bounds
/// parse and SQL size).
pub const MAX_SEARCH_BYTES: usize = crate::MAX_CHECKS_BYTES;

/// Deepest accepted nesting of parentheses (bounds the recursion of the parser and compilers).
pub const MAX_SEARCH_DEPTH: usize = crate::MAX_CHECKS_DEPTH;

/// Most values in one `IN [...]` list: each becomes one bind parameter, and PostgreSQL takes at
/// most 65 535 per statement.
pub const MAX_LIST_VALUES: usize = 1000;

/// Most conditions in one query, for the same reason.
pub const MAX_CONDITIONS: usize = 200;

/// Parses a `searchQuery` value. `schemas` types `"customMetadata.<name>"` fields (an
/// undefined or deleted field is unknown); `now_ms` (Unix milliseconds) resolves relative dates
/// such as `"7d"`.
pub fn parse_search(
    text: &str,
    schemas: &dyn CustomFieldSchemas,
    now_ms: i64,
) -> Result<SearchQuery, SearchError> {
    parser::parse(text, schemas, now_ms).map(|expr| SearchQuery { expr })
}

/// A parsed, typed `searchQuery`. `Display` prints a canonical form (built-in fields unquoted,
/// double quotes, sizes in bytes, durations in seconds, dates as absolute UTC instants, folder
/// paths normalised) that parses back to an equal query.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchQuery {
    pub expr: Expr,
}

/// `AND` / `OR` are n-ary and flattened: an `And` never directly holds an `And`, an `Or` never
/// an `Or`, and neither has fewer than two children.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Cond(Condition),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub field: Field,
    pub op: Op,
}

/// The searchable fields.
#[derive(Debug, Clone, PartialEq)]
pub enum Field {
    Name,
    /// `tags` or `AITags` names.
    Tags,
    Type,
    CreatedAt,
    UpdatedAt,
    Height,
    Width,
    /// Bytes.
    Size,
    Format,
    Private,
    Published,
    /// `hasAlpha`.
    Transparency,
    Id,
    /// The containing folder.
    Path,
    /// Seconds.
    VideoDuration,
    /// `"embeddedMetadata.<name>"`.
    Embedded(String),
    /// `"customMetadata.<name>"`, with the type the account's field has.
    Custom {
        name: String,
        kind: CustomFieldType,
    },
}

/// Built-in fields and their spellings (case-sensitive, like the API's keys).
pub const BUILT_IN_FIELDS: [(&str, Field); 15] = [
    ("name", Field::Name),
    ("tags", Field::Tags),
    ("type", Field::Type),
    ("createdAt", Field::CreatedAt),
    ("updatedAt", Field::UpdatedAt),
    ("height", Field::Height),
    ("width", Field::Width),
    ("size", Field::Size),
    ("format", Field::Format),
    ("private", Field::Private),
    ("published", Field::Published),
    ("transparency", Field::Transparency),
    ("id", Field::Id),
    ("path", Field::Path),
    ("videoDuration", Field::VideoDuration),
];

pub const CUSTOM_PREFIX: &str = "customMetadata.";
pub const EMBEDDED_PREFIX: &str = "embeddedMetadata.";

/// The comparison of a condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// `=`, `NOT =`, `<`, `<=`, `>`, `>=`.
    Cmp(Cmp, Value),
    /// `:` — starts with (`path`: the folder or any folder below it).
    Prefix(String),
    /// `IN [..]` (`negated`: `NOT IN`). Non-empty.
    In { negated: bool, values: Vec<Value> },
    /// `HAS "words"`: case-insensitive; every word but the last must be a whole token of the
    /// value, the last a token's prefix. Lower-cased, non-empty.
    Has(Vec<String>),
    /// `EXISTS` (`true`) / `NOT EXISTS` (`false`).
    Exists(bool),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    pub fn spelling(self) -> &'static str {
        match self {
            Cmp::Eq => "=",
            Cmp::Ne => "NOT =",
            Cmp::Lt => "<",
            Cmp::Le => "<=",
            Cmp::Gt => ">",
            Cmp::Ge => ">=",
        }
    }

    /// The SQL operator.
    pub fn sql(self) -> &'static str {
        match self {
            Cmp::Eq => "=",
            Cmp::Ne => "<>",
            Cmp::Lt => "<",
            Cmp::Le => "<=",
            Cmp::Gt => ">",
            Cmp::Ge => ">=",
        }
    }
}

/// A literal after typing by its field.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(String),
    /// Finite. Sizes are in bytes, durations in seconds.
    Num(f64),
    Bool(bool),
    /// Unix milliseconds (relative dates already resolved).
    Date(i64),
}

/// Why a query was refused: `400` with [`SearchError::message`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Invalid search query - {reason}")]
pub struct SearchError {
    reason: String,
}

impl SearchError {
    pub(crate) fn new(reason: impl Into<String>) -> Self {
        SearchError {
            reason: reason.into(),
        }
    }

    /// The wire text: `Invalid search query - <reason>`.
    pub fn message(&self) -> String {
        self.to_string()
    }

    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl SearchQuery {
    /// Whether any condition is on `field` (by kind, ignoring names of metadata fields).
    pub fn mentions(&self, wanted: impl Fn(&Field) -> bool) -> bool {
        fn walk(expr: &Expr, wanted: &dyn Fn(&Field) -> bool) -> bool {
            match expr {
                Expr::Cond(c) => wanted(&c.field),
                Expr::And(children) | Expr::Or(children) => {
                    children.iter().any(|e| walk(e, wanted))
                }
            }
        }
        walk(&self.expr, &wanted)
    }
}

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
        match self {
            Field::Embedded(name) => write_quoted(f, &format!("{EMBEDDED_PREFIX}{name}")),
            Field::Custom { name, .. } => write_quoted(f, &format!("{CUSTOM_PREFIX}{name}")),
            other => f.write_str(
                BUILT_IN_FIELDS
                    .iter()
                    .find(|(_, field)| field == other)
                    .map_or("", |(spelling, _)| spelling),
            ),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Str(text) => write_quoted(f, text),
            Value::Num(n) => write!(f, "{n}"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Date(ms) => write_quoted(f, &format_millis(*ms)),
        }
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ", self.field)?;
        match &self.op {
            Op::Cmp(cmp, value) => write!(f, "{} {value}", cmp.spelling()),
            Op::Prefix(text) => {
                f.write_str(": ")?;
                write_quoted(f, text)
            }
            Op::In { negated, values } => {
                f.write_str(if *negated { "NOT IN [" } else { "IN [" })?;
                for (i, v) in values.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
            Op::Has(words) => {
                f.write_str("HAS ")?;
                write_quoted(f, &words.join(" "))
            }
            Op::Exists(true) => f.write_str("EXISTS"),
            Op::Exists(false) => f.write_str("NOT EXISTS"),
        }
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Cond(c) => write!(f, "{c}"),
            Expr::Or(children) => {
                for (i, child) in children.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" OR ")?;
                    }
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

impl fmt::Display for SearchQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.expr.fmt(f)
    }
}
