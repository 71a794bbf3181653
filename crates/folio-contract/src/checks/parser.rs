//! Recursive-descent parser for the grammar of spec §7.2, with the static typing of §7.3
//! applied to each condition as soon as it is read.

use super::ast::{
    Condition, Expr, Field, Literal, Operand, Operator, BUILT_IN_FIELDS, CUSTOM_METADATA_PREFIX,
};
use super::error::SyntaxError;
use super::lexer::{tokenize, Spanned, Token};
use super::schema::{CustomFieldSchemas, CustomFieldType};
use super::values::{parse_instant, parse_size};
use super::{MAX_CHECKS_BYTES, MAX_CHECKS_DEPTH};

pub(crate) fn parse(text: &str, schemas: &dyn CustomFieldSchemas) -> Result<Expr, SyntaxError> {
    // Checked before tokenising so a hostile multi-megabyte value costs nothing.
    if text.len() > MAX_CHECKS_BYTES {
        return Err(SyntaxError::new(MAX_CHECKS_BYTES, "expression too long"));
    }
    let tokens = tokenize(text)?;
    let mut parser = Parser {
        tokens: &tokens,
        position: 0,
        end: text.len(),
        schemas,
    };
    let expr = parser.expr(0)?;
    match parser.peek() {
        None => Ok(expr),
        Some(_) => Err(parser.error("unexpected token after the expression")),
    }
}

struct Parser<'t, 's> {
    tokens: &'t [Spanned],
    position: usize,
    /// Offset reported for errors at the end of input.
    end: usize,
    schemas: &'s dyn CustomFieldSchemas,
}

/// A literal as written, before the field decides what it means.
enum Raw {
    Str(String),
    Num(f64),
    Bool(bool),
}

enum RawOperand {
    Scalar(Raw),
    List(Vec<Raw>),
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

    fn error(&self, reason: &'static str) -> SyntaxError {
        SyntaxError::new(self.offset(), reason)
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

    /// `expr = and_expr { "OR" and_expr }`. `depth` counts enclosing parentheses; it is what
    /// bounds the recursion (AND/OR chains are loops, not recursion).
    fn expr(&mut self, depth: usize) -> Result<Expr, SyntaxError> {
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

    fn and_expr(&mut self, depth: usize) -> Result<Expr, SyntaxError> {
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

    fn term(&mut self, depth: usize) -> Result<Expr, SyntaxError> {
        if self.peek() == Some(&Token::LParen) {
            if depth >= MAX_CHECKS_DEPTH {
                return Err(self.error("parentheses nested too deeply"));
            }
            self.position += 1;
            let inner = self.expr(depth + 1)?;
            if !self.eat(&Token::RParen) {
                return Err(self.error("expected `)`"));
            }
            return Ok(inner);
        }
        self.condition().map(Expr::Condition)
    }

    fn condition(&mut self) -> Result<Condition, SyntaxError> {
        let field_offset = self.offset();
        let field = match self.next() {
            Some(Token::Str(name)) => self
                .resolve_field(&name)
                .ok_or(SyntaxError::new(field_offset, "unknown field"))?,
            _ => {
                return Err(SyntaxError::new(
                    field_offset,
                    "expected a quoted field name",
                ))
            }
        };
        let op_offset = self.offset();
        let op = match self.next() {
            Some(Token::Eq) => Operator::Eq,
            Some(Token::Colon) => Operator::Prefix,
            Some(Token::Lt) => Operator::Lt,
            Some(Token::Le) => Operator::Le,
            Some(Token::Gt) => Operator::Gt,
            Some(Token::Ge) => Operator::Ge,
            Some(Token::In) => Operator::In,
            Some(Token::Not) => match self.next() {
                Some(Token::Eq) => Operator::NotEq,
                Some(Token::In) => Operator::NotIn,
                _ => {
                    return Err(SyntaxError::new(
                        op_offset,
                        "expected `=` or `IN` after NOT",
                    ))
                }
            },
            _ => return Err(SyntaxError::new(op_offset, "expected an operator")),
        };
        let operand_offset = self.offset();
        let raw = if op.takes_list() {
            RawOperand::List(self.list()?)
        } else {
            RawOperand::Scalar(self.scalar()?)
        };
        let operand = type_check(&field, op, raw).map_err(|problem| {
            let offset = match problem {
                TypeProblem::Operator => op_offset,
                TypeProblem::Literal => operand_offset,
            };
            SyntaxError::new(offset, problem.reason())
        })?;
        Ok(Condition { field, op, operand })
    }

    fn scalar(&mut self) -> Result<Raw, SyntaxError> {
        let offset = self.offset();
        match self.next() {
            Some(Token::Str(s)) => Ok(Raw::Str(s)),
            Some(Token::Num(n)) => Ok(Raw::Num(n)),
            Some(Token::Bool(b)) => Ok(Raw::Bool(b)),
            _ => Err(SyntaxError::new(
                offset,
                "expected a string, number or boolean",
            )),
        }
    }

    fn list(&mut self) -> Result<Vec<Raw>, SyntaxError> {
        if !self.eat(&Token::LBracket) {
            return Err(self.error("expected `[`"));
        }
        let mut items = vec![self.scalar()?];
        while self.eat(&Token::Comma) {
            items.push(self.scalar()?);
        }
        if !self.eat(&Token::RBracket) {
            return Err(self.error("expected `,` or `]`"));
        }
        Ok(items)
    }

    fn resolve_field(&self, name: &str) -> Option<Field> {
        if let Some(custom) = name.strip_prefix(CUSTOM_METADATA_PREFIX) {
            let kind = self.schemas.field_type(custom)?;
            return Some(Field::CustomMetadata {
                name: custom.to_owned(),
                kind,
            });
        }
        BUILT_IN_FIELDS
            .iter()
            .find(|(spelling, _)| *spelling == name)
            .map(|(_, field)| field.clone())
    }
}

/// One child stands for itself; two or more make an n-ary node.
fn single_or(mut children: Vec<Expr>, node: fn(Vec<Expr>) -> Expr) -> Expr {
    if children.len() == 1 {
        if let Some(only) = children.pop() {
            return only;
        }
    }
    node(children)
}

enum TypeProblem {
    Operator,
    Literal,
}

impl TypeProblem {
    fn reason(&self) -> &'static str {
        match self {
            TypeProblem::Operator => "operator not allowed for this field",
            TypeProblem::Literal => "value of the wrong kind for this field",
        }
    }
}

/// What a field's literals must be.
#[derive(Clone, Copy)]
enum LiteralKind {
    Str,
    Num,
    Bool,
    /// A number, or a size string (`file.size` only).
    Size,
    /// An ISO 8601 string (`Date` custom fields).
    Date,
    /// Any scalar (select fields).
    Any,
}

use Operator::{Eq, Ge, Gt, In, Le, Lt, NotEq, NotIn, Prefix};

const STRING_OPS: &[Operator] = &[Eq, NotEq, Prefix, In, NotIn];
const BOOLEAN_OPS: &[Operator] = &[Eq, NotEq];
const ARRAY_OPS: &[Operator] = &[In, NotIn];
const NUMBER_OPS: &[Operator] = &[Eq, Lt, Le, Gt, Ge];
const CUSTOM_ORDERED_OPS: &[Operator] = &[Eq, NotEq, In, NotIn, Gt, Ge, Lt, Le];
const SINGLE_SELECT_OPS: &[Operator] = &[Eq, NotEq, In, NotIn, Prefix, Gt, Ge, Lt, Le];

/// The operators of spec §7.3 for `field`, and the literal kind its operands must have.
fn signature(field: &Field) -> (&'static [Operator], LiteralKind) {
    match field {
        Field::FileName
        | Field::Folder
        | Field::CustomCoordinates
        | Field::WebhookUrl
        | Field::FileMime
        | Field::VideoCodec
        | Field::AudioCodec => (STRING_OPS, LiteralKind::Str),
        Field::UseUniqueFileName
        | Field::IsPrivateFile
        | Field::IsPublished
        | Field::OverwriteFile
        | Field::OverwriteAiTags
        | Field::OverwriteTags
        | Field::OverwriteCustomMetadata => (BOOLEAN_OPS, LiteralKind::Bool),
        Field::Tags => (ARRAY_OPS, LiteralKind::Str),
        Field::FileSize => (NUMBER_OPS, LiteralKind::Size),
        Field::Width | Field::Height | Field::Duration | Field::BitRate => {
            (NUMBER_OPS, LiteralKind::Num)
        }
        Field::CustomMetadata { kind, .. } => match kind {
            CustomFieldType::Text | CustomFieldType::Textarea => (STRING_OPS, LiteralKind::Str),
            CustomFieldType::Date => (CUSTOM_ORDERED_OPS, LiteralKind::Date),
            CustomFieldType::Number => (CUSTOM_ORDERED_OPS, LiteralKind::Num),
            CustomFieldType::Boolean => (BOOLEAN_OPS, LiteralKind::Bool),
            CustomFieldType::SingleSelect => (SINGLE_SELECT_OPS, LiteralKind::Any),
            CustomFieldType::MultiSelect => (ARRAY_OPS, LiteralKind::Any),
        },
    }
}

fn type_check(field: &Field, op: Operator, raw: RawOperand) -> Result<Operand, TypeProblem> {
    let (operators, mut kind) = signature(field);
    if !operators.contains(&op) {
        return Err(TypeProblem::Operator);
    }
    // SingleSelect (spec §7.3): ordering only with numbers, `:` only with strings.
    if let LiteralKind::Any = kind {
        match op {
            Lt | Le | Gt | Ge => kind = LiteralKind::Num,
            Prefix => kind = LiteralKind::Str,
            _ => {}
        }
    }
    let typed = |raw: Raw| typed_literal(raw, kind).ok_or(TypeProblem::Literal);
    Ok(match raw {
        RawOperand::Scalar(raw) => Operand::Scalar(typed(raw)?),
        RawOperand::List(items) => {
            Operand::List(items.into_iter().map(typed).collect::<Result<_, _>>()?)
        }
    })
}

fn typed_literal(raw: Raw, kind: LiteralKind) -> Option<Literal> {
    match (kind, raw) {
        (LiteralKind::Str | LiteralKind::Any, Raw::Str(s)) => Some(Literal::Str(s)),
        (LiteralKind::Num | LiteralKind::Size | LiteralKind::Any, Raw::Num(n)) => {
            Some(Literal::Num(n))
        }
        (LiteralKind::Bool | LiteralKind::Any, Raw::Bool(b)) => Some(Literal::Bool(b)),
        (LiteralKind::Size, Raw::Str(s)) => parse_size(&s).map(Literal::Num),
        (LiteralKind::Date, Raw::Str(text)) => {
            let instant = parse_instant(&text)?;
            Some(Literal::Date { text, instant })
        }
        _ => None,
    }
}
