//! Recursive descent over the shared lexer's tokens ([`Dialect::Search`]), typing each
//! condition by its field as soon as it is read.

use super::dates::{parse_date, parse_duration_seconds};
use super::{
    Cmp, Condition, Expr, Field, Op, SearchError, Value, BUILT_IN_FIELDS, CUSTOM_PREFIX,
    EMBEDDED_PREFIX, MAX_CONDITIONS, MAX_LIST_VALUES, MAX_SEARCH_BYTES, MAX_SEARCH_DEPTH,
};
use crate::checks::lexer::{tokenize_in, Dialect, Spanned, Token};
use crate::checks::values::parse_size;
use crate::checks::CustomFieldSchemas;
use crate::{CustomFieldType, Folder};

pub(super) fn parse(
    text: &str,
    schemas: &dyn CustomFieldSchemas,
    now_ms: i64,
) -> Result<Expr, SearchError> {
    if text.len() > MAX_SEARCH_BYTES {
        return Err(SearchError::new(format!(
            "the query is longer than {MAX_SEARCH_BYTES} bytes"
        )));
    }
    if text.trim().is_empty() {
        return Err(SearchError::new("the query is empty"));
    }
    let tokens = tokenize_in(text, Dialect::Search)
        .map_err(|e| SearchError::new(format!("{} at position {}", e.reason(), e.offset())))?;
    let mut parser = Parser {
        tokens: &tokens,
        position: 0,
        end: text.len(),
        schemas,
        now_ms,
        conditions: 0,
    };
    let expr = parser.expr(0)?;
    match parser.peek() {
        None => Ok(expr),
        Some(_) => Err(parser.error("unexpected input after the expression")),
    }
}

struct Parser<'t, 's> {
    tokens: &'t [Spanned],
    position: usize,
    end: usize,
    schemas: &'s dyn CustomFieldSchemas,
    now_ms: i64,
    conditions: usize,
}

/// A literal as written.
#[derive(Debug)]
enum Raw {
    Str(String),
    Num(f64),
    Bool(bool),
}

/// Which operator was written (before the operand is typed).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Written {
    Cmp(Cmp),
    Prefix,
    In,
    NotIn,
    Has,
    Exists,
    NotExists,
}

impl Written {
    fn spelling(self) -> &'static str {
        match self {
            Written::Cmp(cmp) => cmp.spelling(),
            Written::Prefix => ":",
            Written::In => "IN",
            Written::NotIn => "NOT IN",
            Written::Has => "HAS",
            Written::Exists => "EXISTS",
            Written::NotExists => "NOT EXISTS",
        }
    }
}

impl Parser<'_, '_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.position).map(|t| &t.token)
    }

    fn offset(&self) -> usize {
        self.tokens
            .get(self.position)
            .map_or(self.end, |t| t.offset)
    }

    fn error(&self, what: &str) -> SearchError {
        if self.position >= self.tokens.len() {
            SearchError::new(format!("{what}: the query ends too early"))
        } else {
            SearchError::new(format!("{what} at position {}", self.offset()))
        }
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.position).map(|t| t.token.clone());
        if token.is_some() {
            self.position += 1;
        }
        token
    }

    fn eat(&mut self, wanted: &Token) -> bool {
        if self.peek() == Some(wanted) {
            self.position += 1;
            true
        } else {
            false
        }
    }

    fn expr(&mut self, depth: usize) -> Result<Expr, SearchError> {
        let mut children = Vec::new();
        loop {
            match self.and_expr(depth)? {
                Expr::Or(inner) => children.extend(inner),
                other => children.push(other),
            }
            if !self.eat(&Token::Or) {
                break;
            }
        }
        Ok(single_or(children, Expr::Or))
    }

    fn and_expr(&mut self, depth: usize) -> Result<Expr, SearchError> {
        let mut children = Vec::new();
        loop {
            match self.term(depth)? {
                Expr::And(inner) => children.extend(inner),
                other => children.push(other),
            }
            if !self.eat(&Token::And) {
                break;
            }
        }
        Ok(single_or(children, Expr::And))
    }

    fn term(&mut self, depth: usize) -> Result<Expr, SearchError> {
        if self.eat(&Token::LParen) {
            if depth >= MAX_SEARCH_DEPTH {
                return Err(SearchError::new(format!(
                    "parentheses are nested deeper than {MAX_SEARCH_DEPTH} levels"
                )));
            }
            let inner = self.expr(depth + 1)?;
            if !self.eat(&Token::RParen) {
                return Err(self.error("expected `)`"));
            }
            return Ok(inner);
        }
        self.conditions += 1;
        if self.conditions > MAX_CONDITIONS {
            return Err(SearchError::new(format!(
                "the query has more than {MAX_CONDITIONS} conditions"
            )));
        }
        self.condition().map(Expr::Cond)
    }

    fn condition(&mut self) -> Result<Condition, SearchError> {
        let field = match self.peek() {
            Some(Token::Word(word)) => {
                let word = word.clone();
                if word.starts_with(CUSTOM_PREFIX) || word.starts_with(EMBEDDED_PREFIX) {
                    return Err(SearchError::new(format!(
                        "metadata field names must be quoted: \"{word}\""
                    )));
                }
                self.position += 1;
                self.resolve_field(&word)?
            }
            Some(Token::Str(name)) => {
                let name = name.clone();
                self.position += 1;
                self.resolve_field(&name)?
            }
            _ => return Err(self.error("expected a field name")),
        };
        let written = match self.next() {
            Some(Token::Eq) => Written::Cmp(Cmp::Eq),
            Some(Token::Lt) => Written::Cmp(Cmp::Lt),
            Some(Token::Le) => Written::Cmp(Cmp::Le),
            Some(Token::Gt) => Written::Cmp(Cmp::Gt),
            Some(Token::Ge) => Written::Cmp(Cmp::Ge),
            Some(Token::Colon) => Written::Prefix,
            Some(Token::In) => Written::In,
            Some(Token::Has) => Written::Has,
            Some(Token::Exists) => Written::Exists,
            Some(Token::Not) => match self.next() {
                Some(Token::Eq) => Written::Cmp(Cmp::Ne),
                Some(Token::In) => Written::NotIn,
                Some(Token::Exists) => Written::NotExists,
                _ => {
                    self.position = self.position.saturating_sub(1);
                    return Err(self.error("expected `=`, `IN` or `EXISTS` after NOT"));
                }
            },
            _ => {
                self.position = self.position.saturating_sub(1);
                return Err(self.error(&format!("expected an operator after `{field}`")));
            }
        };
        if !allows(&field, written) {
            return Err(SearchError::new(format!(
                "operator `{}` is not allowed for field `{field}`",
                written.spelling()
            )));
        }
        let op = match written {
            Written::Exists => Op::Exists(true),
            Written::NotExists => Op::Exists(false),
            Written::In | Written::NotIn => {
                let raws = self.list()?;
                let values = raws
                    .into_iter()
                    .map(|raw| self.typed(&field, written, raw))
                    .collect::<Result<Vec<_>, _>>()?;
                Op::In {
                    negated: written == Written::NotIn,
                    values,
                }
            }
            Written::Prefix => {
                let raw = self.scalar_raw()?;
                match self.typed(&field, written, raw)? {
                    Value::Str(text) => Op::Prefix(text),
                    _ => return Err(wrong_value(&field, written)),
                }
            }
            Written::Has => match self.scalar_raw()? {
                Raw::Str(text) => {
                    let words: Vec<String> = text
                        .split(|c: char| !c.is_alphanumeric())
                        .filter(|w| !w.is_empty())
                        .map(str::to_lowercase)
                        .collect();
                    if words.is_empty() {
                        return Err(SearchError::new(format!(
                            "`HAS` on `{field}` needs at least one word"
                        )));
                    }
                    Op::Has(words)
                }
                _ => return Err(wrong_value(&field, written)),
            },
            Written::Cmp(cmp) => {
                let raw = self.scalar_raw()?;
                Op::Cmp(cmp, self.typed(&field, written, raw)?)
            }
        };
        Ok(Condition { field, op })
    }

    fn scalar_raw(&mut self) -> Result<Raw, SearchError> {
        match self.peek() {
            Some(Token::Str(s)) => {
                let s = s.clone();
                self.position += 1;
                Ok(Raw::Str(s))
            }
            Some(Token::Num(n)) => {
                let n = *n;
                self.position += 1;
                Ok(Raw::Num(n))
            }
            Some(Token::Bool(b)) => {
                let b = *b;
                self.position += 1;
                Ok(Raw::Bool(b))
            }
            Some(Token::Word(w)) => Err(SearchError::new(format!(
                "the value `{w}` must be quoted (position {})",
                self.offset()
            ))),
            _ => Err(self.error("expected a value")),
        }
    }

    fn list(&mut self) -> Result<Vec<Raw>, SearchError> {
        if !self.eat(&Token::LBracket) {
            return Err(self.error("expected `[`"));
        }
        let mut items = vec![self.scalar_raw()?];
        while self.eat(&Token::Comma) {
            if items.len() == MAX_LIST_VALUES {
                return Err(SearchError::new(format!(
                    "a list has more than {MAX_LIST_VALUES} values"
                )));
            }
            items.push(self.scalar_raw()?);
        }
        if !self.eat(&Token::RBracket) {
            return Err(self.error("expected `,` or `]`"));
        }
        Ok(items)
    }

    fn resolve_field(&self, name: &str) -> Result<Field, SearchError> {
        if let Some(custom) = name.strip_prefix(CUSTOM_PREFIX) {
            return match self.schemas.field_type(custom) {
                Some(kind) => Ok(Field::Custom {
                    name: custom.to_owned(),
                    kind,
                }),
                None => Err(SearchError::new(format!(
                    "unknown custom metadata field `{custom}`"
                ))),
            };
        }
        if let Some(embedded) = name.strip_prefix(EMBEDDED_PREFIX) {
            if embedded.is_empty() {
                return Err(SearchError::new("unknown field `embeddedMetadata.`"));
            }
            if embedded == "LocationTaken" {
                return Err(SearchError::new(
                    "`embeddedMetadata.LocationTaken` is not supported by this server",
                ));
            }
            return Ok(Field::Embedded(embedded.to_owned()));
        }
        BUILT_IN_FIELDS
            .iter()
            .find(|(spelling, _)| *spelling == name)
            .map(|(_, field)| field.clone())
            .ok_or_else(|| SearchError::new(format!("unknown field `{name}`")))
    }

    /// The value `raw` means for `field` under operator `written`.
    fn typed(&self, field: &Field, written: Written, raw: Raw) -> Result<Value, SearchError> {
        let wrong = || wrong_value(field, written);
        let num = |n: f64| Ok(Value::Num(n));
        match (kind_of(field, written), raw) {
            (Kind::Str, Raw::Str(s)) => Ok(Value::Str(s)),
            (Kind::Type, Raw::Str(s)) if ["file", "file-version", "folder"].contains(&s.as_str()) => {
                Ok(Value::Str(s))
            }
            (Kind::Format, Raw::Str(s)) => {
                let lower = s.to_ascii_lowercase();
                if FORMATS.contains(&lower.as_str()) {
                    Ok(Value::Str(lower))
                } else {
                    Err(SearchError::new(format!(
                        "`{s}` is not a format (one of {})",
                        FORMATS.join(", ")
                    )))
                }
            }
            (Kind::Path, Raw::Str(s)) => {
                let folder = Folder::parse(&s)
                    .map_err(|_| SearchError::new(format!("`{s}` is not a folder path")))?;
                Ok(Value::Str(folder.path()))
            }
            (Kind::Num, Raw::Num(n)) => num(n),
            (Kind::Size, Raw::Num(n)) => num(n),
            (Kind::Size, Raw::Str(s)) => parse_size(&s)
                .map(Value::Num)
                .ok_or_else(|| SearchError::new(format!("`{s}` is not a size such as \"10kb\""))),
            (Kind::Duration, Raw::Num(n)) => num(n),
            (Kind::Duration, Raw::Str(s)) => parse_duration_seconds(&s)
                .map(Value::Num)
                .ok_or_else(|| SearchError::new(format!("`{s}` is not a duration such as \"1.5min\""))),
            (Kind::Bool, Raw::Bool(b)) => Ok(Value::Bool(b)),
            (Kind::Date, Raw::Str(s)) => parse_date(&s, self.now_ms).map(Value::Date).ok_or_else(|| {
                SearchError::new(format!(
                    "`{s}` is not a date (ISO 8601 such as \"2024-01-31\", or relative such as \"7d\")"
                ))
            }),
            (Kind::Scalar, Raw::Str(s)) => Ok(Value::Str(s)),
            (Kind::Scalar, Raw::Num(n)) => num(n),
            (Kind::Scalar, Raw::Bool(b)) => Ok(Value::Bool(b)),
            (Kind::StrOrNum, Raw::Str(s)) => Ok(Value::Str(s)),
            (Kind::StrOrNum, Raw::Num(n)) => num(n),
            _ => Err(wrong()),
        }
    }
}

fn wrong_value(field: &Field, written: Written) -> SearchError {
    SearchError::new(format!(
        "wrong value for `{field} {}`: {}",
        written.spelling(),
        expected_text(kind_of(field, written))
    ))
}

fn expected_text(kind: Kind) -> &'static str {
    match kind {
        Kind::Str => "expected a quoted string",
        Kind::Type => "expected \"file\", \"file-version\" or \"folder\"",
        Kind::Format => "expected a quoted format such as \"jpg\"",
        Kind::Path => "expected a quoted folder path",
        Kind::Num => "expected a number",
        Kind::Size => "expected a number of bytes or a size such as \"1mb\"",
        Kind::Duration => "expected seconds or a duration such as \"30sec\"",
        Kind::Bool => "expected unquoted true or false",
        Kind::Date => "expected a quoted date",
        Kind::Scalar => "expected a string, number or boolean",
        Kind::StrOrNum => "expected a string or a number",
    }
}

/// The formats spec §8.9 lists, and those Folio detects besides (`bmp`, `tiff`).
pub(super) const FORMATS: [&str; 24] = [
    "jpg", "webp", "png", "gif", "svg", "avif", "pdf", "js", "woff2", "woff", "ttf", "otf", "eot",
    "css", "txt", "mp4", "webm", "mov", "swf", "ts", "m3u8", "ico", "bmp", "tiff",
];

/// What a field's values must be.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Str,
    Type,
    Format,
    Path,
    Num,
    Size,
    Duration,
    Bool,
    Date,
    /// Any scalar (select fields).
    Scalar,
    /// Embedded metadata: strings or numbers.
    StrOrNum,
}

fn kind_of(field: &Field, written: Written) -> Kind {
    match field {
        Field::Name | Field::Tags | Field::Id => Kind::Str,
        Field::Type => Kind::Type,
        Field::Format => Kind::Format,
        Field::Path => Kind::Path,
        Field::CreatedAt | Field::UpdatedAt => Kind::Date,
        Field::Height | Field::Width => Kind::Num,
        Field::Size => Kind::Size,
        Field::VideoDuration => Kind::Duration,
        Field::Private | Field::Published | Field::Transparency => Kind::Bool,
        Field::Embedded(name) if name == "DateTimeOriginal" => Kind::Date,
        Field::Embedded(_) => match written {
            Written::Prefix => Kind::Str,
            _ => Kind::StrOrNum,
        },
        Field::Custom { kind, .. } => match kind {
            CustomFieldType::Text | CustomFieldType::Textarea => Kind::Str,
            CustomFieldType::Number => Kind::Num,
            CustomFieldType::Date => Kind::Date,
            CustomFieldType::Boolean => Kind::Bool,
            CustomFieldType::SingleSelect | CustomFieldType::MultiSelect => match written {
                // Spec §7.3: ordering only with numbers, `:` only with strings.
                Written::Cmp(Cmp::Lt | Cmp::Le | Cmp::Gt | Cmp::Ge) => Kind::Num,
                Written::Prefix => Kind::Str,
                _ => Kind::Scalar,
            },
        },
    }
}

/// The operators each field takes (spec §8.9's table, media-api §3, §7.3 for custom fields).
fn allows(field: &Field, written: Written) -> bool {
    use Cmp::{Eq, Ge, Gt, Le, Lt, Ne};
    use Written as W;
    let equality = matches!(written, W::Cmp(Eq | Ne) | W::In | W::NotIn);
    let ordered = equality || matches!(written, W::Cmp(Lt | Le | Gt | Ge));
    let exists = matches!(written, W::Exists | W::NotExists);
    match field {
        Field::Name => equality || matches!(written, W::Prefix | W::Has),
        Field::Tags => matches!(written, W::In | W::NotIn) || exists,
        Field::Type | Field::Id => equality,
        Field::Path => equality || written == W::Prefix,
        Field::CreatedAt | Field::UpdatedAt | Field::Size => ordered,
        Field::Height | Field::Width | Field::VideoDuration => ordered || exists,
        Field::Format => matches!(written, W::Cmp(Eq) | W::In),
        Field::Private | Field::Published | Field::Transparency => written == W::Cmp(Eq),
        Field::Embedded(name) if name == "Keywords" => {
            matches!(written, W::In | W::NotIn) || exists
        }
        Field::Embedded(name) if name == "DateTimeOriginal" => ordered || exists,
        Field::Embedded(_) => ordered || written == W::Prefix || exists,
        Field::Custom { kind, .. } => {
            exists
                || match kind {
                    CustomFieldType::Text | CustomFieldType::Textarea => {
                        equality || matches!(written, W::Prefix | W::Has)
                    }
                    CustomFieldType::Number | CustomFieldType::Date => ordered,
                    CustomFieldType::Boolean => matches!(written, W::Cmp(Eq | Ne)),
                    CustomFieldType::SingleSelect => ordered || written == W::Prefix,
                    CustomFieldType::MultiSelect => matches!(written, W::In | W::NotIn),
                }
        }
    }
}

fn single_or(mut children: Vec<Expr>, node: fn(Vec<Expr>) -> Expr) -> Expr {
    if children.len() == 1 {
        if let Some(only) = children.pop() {
            return only;
        }
    }
    node(children)
}
