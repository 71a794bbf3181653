//! Three-valued evaluation (spec §7.4, plus the streaming extension).
//!
//! Each condition yields True, False or Unknown; `AND`/`OR` combine them with Kleene's strong
//! logic. Unknown is produced only by facts the caller has not learnt yet, and a condition's
//! True/False is produced only when it holds for **every** value the unknown facts could still
//! take. AND and OR are monotone in that order (Unknown below True and False), so a decided
//! partial verdict can never be contradicted by the final one.

use std::cmp::Ordering;

use serde_json::Value;

use super::ast::{Condition, Expr, Field, Literal, Operand, Operator};
use super::context::{CheckContext, SizeKnowledge};
use super::schema::CustomFieldType;
use super::values::{compare_u64, parse_instant, Instant, Number};

/// The result of evaluating an expression with possibly incomplete knowledge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// Holds whatever the still-unknown facts turn out to be.
    True,
    /// Fails whatever the still-unknown facts turn out to be: the upload can be rejected now.
    False,
    /// Depends on facts not known yet.
    Unknown,
}

impl From<bool> for Verdict {
    fn from(value: bool) -> Self {
        if value {
            Verdict::True
        } else {
            Verdict::False
        }
    }
}

/// How `None` file facts read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// `None` = not known yet.
    Partial,
    /// `None` = absent.
    Final,
}

pub(crate) fn evaluate(expr: &Expr, ctx: &CheckContext<'_>, mode: Mode) -> Verdict {
    match expr {
        Expr::Condition(condition) => evaluate_condition(condition, ctx, mode),
        Expr::And(children) => {
            let mut result = Verdict::True;
            for child in children {
                match evaluate(child, ctx, mode) {
                    // False absorbs: the rest cannot change the result.
                    Verdict::False => return Verdict::False,
                    Verdict::Unknown => result = Verdict::Unknown,
                    Verdict::True => {}
                }
            }
            result
        }
        Expr::Or(children) => {
            let mut result = Verdict::False;
            for child in children {
                match evaluate(child, ctx, mode) {
                    Verdict::True => return Verdict::True,
                    Verdict::Unknown => result = Verdict::Unknown,
                    Verdict::False => {}
                }
            }
            result
        }
    }
}

/// A field's value as the comparison sees it.
enum Subject<'a> {
    Known(FieldValue<'a>),
    /// Absent (spec §7.4): only `NOT =` / `NOT IN` hold.
    Missing,
    /// Not known yet (partial evaluation only).
    Unknown,
}

/// A known value.
enum FieldValue<'a> {
    Scalar(Scalar<'a>),
    /// An array field (`request.tags`, `MultiSelect`): `IN` means overlap.
    Set(Vec<Scalar<'a>>),
    /// `request.folder`, compared with the normalisation rules of spec §7.4.
    Folder(String),
}

#[derive(Clone, Copy)]
enum Scalar<'a> {
    Str(&'a str),
    Num(Number),
    Bool(bool),
    Instant(Instant),
}

fn fact<'a, T>(value: Option<T>, mode: Mode, wrap: impl FnOnce(T) -> Scalar<'a>) -> Subject<'a> {
    match (value, mode) {
        (Some(value), _) => Subject::Known(FieldValue::Scalar(wrap(value))),
        (None, Mode::Partial) => Subject::Unknown,
        (None, Mode::Final) => Subject::Missing,
    }
}

fn known(scalar: Scalar<'_>) -> Subject<'_> {
    Subject::Known(FieldValue::Scalar(scalar))
}

fn evaluate_condition(condition: &Condition, ctx: &CheckContext<'_>, mode: Mode) -> Verdict {
    let subject = match &condition.field {
        Field::FileName => known(Scalar::Str(ctx.file_name)),
        Field::UseUniqueFileName => known(Scalar::Bool(ctx.use_unique_file_name)),
        Field::Tags => match ctx.tags {
            Some(tags) => Subject::Known(FieldValue::Set(
                tags.iter().map(|tag| Scalar::Str(tag)).collect(),
            )),
            None => Subject::Missing,
        },
        Field::Folder => {
            // The field value of spec §7.4: no leading slash, trailing slash, root = "".
            let path = ctx.folder.path();
            let value = path.strip_prefix('/').unwrap_or(&path).to_owned();
            Subject::Known(FieldValue::Folder(value))
        }
        Field::IsPrivateFile => known(Scalar::Bool(ctx.is_private_file)),
        Field::IsPublished => known(Scalar::Bool(ctx.is_published)),
        Field::CustomCoordinates => known(Scalar::Str(ctx.custom_coordinates.unwrap_or(""))),
        Field::WebhookUrl => match ctx.webhook_url {
            Some(url) => known(Scalar::Str(url)),
            None => Subject::Missing,
        },
        Field::OverwriteFile => known(Scalar::Bool(ctx.overwrite_file)),
        Field::OverwriteAiTags => known(Scalar::Bool(ctx.overwrite_ai_tags)),
        Field::OverwriteTags => known(Scalar::Bool(ctx.overwrite_tags)),
        Field::OverwriteCustomMetadata => known(Scalar::Bool(ctx.overwrite_custom_metadata)),
        Field::CustomMetadata { name, kind } => {
            custom_subject(ctx.custom_metadata.get(name), *kind)
        }
        Field::FileSize => match ctx.file_size {
            SizeKnowledge::Exactly(size) => known(Scalar::Num(Number::Unsigned(size))),
            SizeKnowledge::AtLeast(received) => return size_lower_bound(condition, received),
        },
        Field::FileMime => fact(ctx.file_mime, mode, Scalar::Str),
        Field::Width => fact(ctx.width, mode, |v| Scalar::Num(Number::Unsigned(v))),
        Field::Height => fact(ctx.height, mode, |v| Scalar::Num(Number::Unsigned(v))),
        Field::Duration => match ctx.duration {
            // NaN has no order; reading it as absent keeps every comparison well defined.
            Some(d) if d.is_nan() => Subject::Missing,
            other => fact(other, mode, |v| Scalar::Num(Number::Float(v))),
        },
        Field::VideoCodec => fact(ctx.video_codec, mode, Scalar::Str),
        Field::AudioCodec => fact(ctx.audio_codec, mode, Scalar::Str),
        Field::BitRate => fact(ctx.bit_rate, mode, |v| Scalar::Num(Number::Unsigned(v))),
    };
    match subject {
        Subject::Unknown => Verdict::Unknown,
        Subject::Missing => condition.op.holds_on_missing().into(),
        Subject::Known(value) => apply(&value, condition.op, &condition.operand).into(),
    }
}

/// Reads a custom metadata value by the field's schema type. Values of another JSON type
/// (which the upload's metadata validation, step E2, refuses before checks run) compare unequal
/// to every literal rather than failing the evaluation.
fn custom_subject(value: Option<&Value>, kind: CustomFieldType) -> Subject<'_> {
    match (value, kind) {
        // Spec §9.3 rule 2: null = not provided.
        (None | Some(Value::Null), _) => Subject::Missing,
        (Some(Value::String(text)), CustomFieldType::Date) => match parse_instant(text) {
            Some(instant) => known(Scalar::Instant(instant)),
            None => Subject::Missing,
        },
        (Some(Value::Array(items)), CustomFieldType::MultiSelect) => Subject::Known(
            FieldValue::Set(items.iter().filter_map(json_scalar).collect()),
        ),
        (Some(_), CustomFieldType::MultiSelect) => Subject::Missing,
        (Some(value), _) => match json_scalar(value) {
            Some(scalar) => known(scalar),
            None => Subject::Missing,
        },
    }
}

fn json_scalar(value: &Value) -> Option<Scalar<'_>> {
    match value {
        Value::String(text) => Some(Scalar::Str(text)),
        Value::Number(number) => Number::from_json(number).map(Scalar::Num),
        Value::Bool(b) => Some(Scalar::Bool(*b)),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

/// Type-and-value equality (spec §9.3's rule for select options, and plain equality for every
/// other field, whose literals the parser already made the right kind).
fn equals(value: Scalar<'_>, literal: &Literal) -> bool {
    match (value, literal) {
        (Scalar::Str(v), Literal::Str(l)) => v == l,
        (Scalar::Num(v), Literal::Num(l)) => v.compare(*l) == Some(Ordering::Equal),
        (Scalar::Bool(v), Literal::Bool(l)) => v == *l,
        (Scalar::Instant(v), Literal::Date { instant, .. }) => v == *instant,
        _ => false,
    }
}

fn order(value: Scalar<'_>, literal: &Literal) -> Option<Ordering> {
    match (value, literal) {
        (Scalar::Num(v), Literal::Num(l)) => v.compare(*l),
        (Scalar::Instant(v), Literal::Date { instant, .. }) => Some(v.cmp(instant)),
        _ => None,
    }
}

fn ordering_holds(op: Operator, ordering: Option<Ordering>) -> bool {
    match (op, ordering) {
        (Operator::Lt, Some(o)) => o == Ordering::Less,
        (Operator::Le, Some(o)) => o != Ordering::Greater,
        (Operator::Gt, Some(o)) => o == Ordering::Greater,
        (Operator::Ge, Some(o)) => o != Ordering::Less,
        _ => false,
    }
}

fn apply(value: &FieldValue<'_>, op: Operator, operand: &Operand) -> bool {
    // The parser pairs list operators with lists and the others with scalars; an impossible
    // pairing evaluates to false so a bug fails closed instead of letting an upload through.
    let (scalar, list): (Option<&Literal>, &[Literal]) = match operand {
        Operand::Scalar(literal) => (Some(literal), &[]),
        Operand::List(items) => (None, items),
    };
    match value {
        FieldValue::Folder(folder) => apply_folder(folder, op, scalar, list),
        FieldValue::Scalar(v) => match op {
            Operator::Eq => scalar.is_some_and(|l| equals(*v, l)),
            Operator::NotEq => scalar.is_some_and(|l| !equals(*v, l)),
            Operator::Prefix => match (v, scalar) {
                (Scalar::Str(v), Some(Literal::Str(prefix))) => v.starts_with(prefix.as_str()),
                _ => false,
            },
            Operator::Lt | Operator::Le | Operator::Gt | Operator::Ge => {
                ordering_holds(op, scalar.and_then(|l| order(*v, l)))
            }
            Operator::In => list.iter().any(|l| equals(*v, l)),
            Operator::NotIn => !list.is_empty() && !list.iter().any(|l| equals(*v, l)),
        },
        // Array fields only take IN / NOT IN (spec §7.3): any overlap / no overlap.
        FieldValue::Set(items) => {
            let overlap = || items.iter().any(|v| list.iter().any(|l| equals(*v, l)));
            match op {
                Operator::In => overlap(),
                Operator::NotIn => !list.is_empty() && !overlap(),
                _ => false,
            }
        }
    }
}

/// `request.folder` (spec §7.4). `value` is the normalised folder with a trailing slash and
/// without a leading one (`"a/b/"`, root `""`).
fn apply_folder(value: &str, op: Operator, scalar: Option<&Literal>, list: &[Literal]) -> bool {
    let bare = value.trim_end_matches('/');
    let same = |literal: &Literal| match literal {
        Literal::Str(text) => text.trim_matches('/') == bare,
        _ => false,
    };
    match op {
        Operator::Eq => scalar.is_some_and(same),
        Operator::NotEq => scalar.is_some_and(|l| !same(l)),
        Operator::In => list.iter().any(same),
        Operator::NotIn => !list.is_empty() && !list.iter().any(same),
        Operator::Prefix => match scalar {
            Some(Literal::Str(text)) => value.starts_with(text.trim_start_matches('/')),
            _ => false,
        },
        Operator::Lt | Operator::Le | Operator::Gt | Operator::Ge => false,
    }
}

/// `file.size` while the file is still arriving: the final size `s` is some integer `>= n`.
/// A condition is decided only if it holds for all such `s` (True) or for none (False).
fn size_lower_bound(condition: &Condition, received: u64) -> Verdict {
    let Operand::Scalar(Literal::Num(limit)) = &condition.operand else {
        return Verdict::False;
    };
    // n compared with the limit v.
    let n_vs_limit = compare_u64(received, *limit);
    match condition.op {
        // s < v for no s >= n  <=>  n >= v. It can never hold for all s (s is unbounded).
        Operator::Lt if n_vs_limit != Ordering::Less => Verdict::False,
        // s <= v for no s >= n  <=>  n > v.
        Operator::Le if n_vs_limit == Ordering::Greater => Verdict::False,
        // s > v for all s >= n  <=>  n > v; it cannot fail for all s.
        Operator::Gt if n_vs_limit == Ordering::Greater => Verdict::True,
        // s >= v for all s >= n  <=>  n >= v.
        Operator::Ge if n_vs_limit != Ordering::Less => Verdict::True,
        // s = v for no s >= n  <=>  v < n, or v is not a whole number of bytes.
        Operator::Eq if n_vs_limit == Ordering::Greater || limit.fract() != 0.0 => Verdict::False,
        Operator::Lt | Operator::Le | Operator::Gt | Operator::Ge | Operator::Eq => {
            Verdict::Unknown
        }
        // Not allowed on file.size by the parser; fail closed.
        _ => Verdict::False,
    }
}
