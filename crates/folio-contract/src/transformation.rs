//! The `transformation` upload parameter (spec §3.8), structure only (step P6).
//!
//! Whether the transformation strings are in the subset the server renders, and whether the
//! post types fit the detected file type, is decided later (step E1) by the server.

use serde_json::Value;

use crate::error::ParamError;

/// Kind of a post-transformation (spec §3.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostKind {
    Transformation,
    GifToVideo,
    Thumbnail,
    Abs,
}

impl PostKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PostKind::Transformation => "transformation",
            PostKind::GifToVideo => "gif-to-video",
            PostKind::Thumbnail => "thumbnail",
            PostKind::Abs => "abs",
        }
    }
}

/// Streaming protocol of an `abs` post-transformation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AbsProtocol {
    Hls,
    Dash,
}

/// One element of `post`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostTransformation {
    pub kind: PostKind,
    /// Required (non-empty) for `transformation` and `abs`, optional for the others.
    pub value: Option<String>,
    /// Present exactly for `abs`.
    pub protocol: Option<AbsProtocol>,
}

/// A structurally valid `transformation` parameter: at least one of `pre` and `post`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransformationParam {
    /// Non-empty transformation string.
    pub pre: Option<String>,
    /// Possibly empty only when `pre` is present.
    pub post: Vec<PostTransformation>,
}

/// Parses the JSON text of the `transformation` field.
///
/// Rules (our reading of §3.8): a JSON object whose only keys are `pre` and `post`, at least one
/// present; `pre` a non-empty string; `post` an array of objects with keys among `type`, `value`,
/// `protocol`; `type` one of the four kinds; `value`, when present, a string, non-empty for
/// `transformation` and `abs`; `protocol` `hls` or `dash`, required for `abs` and refused
/// elsewhere. `post: []` alone counts as no transformation at all and is refused.
///
/// ```
/// use folio_contract::{parse_transformation, PostKind};
/// let t = parse_transformation(r#"{"pre":"w-100","post":[{"type":"thumbnail"}]}"#).unwrap();
/// assert_eq!(t.pre.as_deref(), Some("w-100"));
/// assert_eq!(t.post[0].kind, PostKind::Thumbnail);
/// assert!(parse_transformation(r#"{"post":[{"type":"abs","value":"sr-240_360"}]}"#).is_err());
/// ```
pub fn parse_transformation(text: &str) -> Result<TransformationParam, ParamError> {
    let invalid = ParamError::TransformationInvalid;
    let value: Value = serde_json::from_str(text).map_err(|_| invalid)?;
    let object = value.as_object().ok_or(invalid)?;
    if object.keys().any(|k| k != "pre" && k != "post") {
        return Err(invalid);
    }
    let pre = match object.get("pre") {
        None => None,
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
        Some(_) => return Err(invalid),
    };
    let post = match object.get("post") {
        None => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(parse_post)
            .collect::<Result<Vec<_>, _>>()?,
        Some(_) => return Err(invalid),
    };
    if pre.is_none() && post.is_empty() {
        return Err(invalid);
    }
    Ok(TransformationParam { pre, post })
}

fn parse_post(item: &Value) -> Result<PostTransformation, ParamError> {
    let invalid = ParamError::TransformationInvalid;
    let object = item.as_object().ok_or(invalid)?;
    if object
        .keys()
        .any(|k| k != "type" && k != "value" && k != "protocol")
    {
        return Err(invalid);
    }
    let kind = match object.get("type").and_then(Value::as_str) {
        Some("transformation") => PostKind::Transformation,
        Some("gif-to-video") => PostKind::GifToVideo,
        Some("thumbnail") => PostKind::Thumbnail,
        Some("abs") => PostKind::Abs,
        _ => return Err(invalid),
    };
    let value = match object.get("value") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(invalid),
    };
    let needs_value = matches!(kind, PostKind::Transformation | PostKind::Abs);
    if needs_value && value.as_deref().is_none_or(|v| v.trim().is_empty()) {
        return Err(invalid);
    }
    let protocol = match object.get("protocol") {
        None => None,
        Some(Value::String(p)) if p == "hls" => Some(AbsProtocol::Hls),
        Some(Value::String(p)) if p == "dash" => Some(AbsProtocol::Dash),
        Some(_) => return Err(invalid),
    };
    if (kind == PostKind::Abs) != protocol.is_some() {
        return Err(invalid);
    }
    Ok(PostTransformation {
        kind,
        value,
        protocol,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_documented_shapes() {
        let t = parse_transformation(
            r#"{"pre":"w-100","post":[{"type":"transformation","value":"h-50"},
                {"type":"gif-to-video"},{"type":"thumbnail","value":"w-10"},
                {"type":"abs","value":"sr-240_360","protocol":"hls"}]}"#,
        )
        .expect("valid");
        assert_eq!(t.post.len(), 4);
        assert_eq!(t.post[3].protocol, Some(AbsProtocol::Hls));
        let t =
            parse_transformation(r#"{"post":[{"type":"abs","value":"sr-240","protocol":"dash"}]}"#)
                .expect("valid");
        assert_eq!(t.pre, None);
    }

    #[test]
    fn refuses_structural_violations() {
        for raw in [
            "x",
            "[]",
            "{}",
            "null",
            r#"{"pre":""}"#,
            r#"{"pre":5}"#,
            r#"{"pre":"w-1","other":1}"#,
            r#"{"post":[]}"#,
            r#"{"post":{}}"#,
            r#"{"post":["x"]}"#,
            r#"{"post":[{}]}"#,
            r#"{"post":[{"type":"resize","value":"w-1"}]}"#,
            r#"{"post":[{"type":"transformation"}]}"#,
            r#"{"post":[{"type":"transformation","value":""}]}"#,
            r#"{"post":[{"type":"transformation","value":5}]}"#,
            r#"{"post":[{"type":"abs","value":"sr-240_360"}]}"#,
            r#"{"post":[{"type":"abs","value":"sr-240","protocol":"rtmp"}]}"#,
            r#"{"post":[{"type":"thumbnail","protocol":"hls"}]}"#,
            r#"{"post":[{"type":"thumbnail","extra":1}]}"#,
        ] {
            assert_eq!(
                parse_transformation(raw),
                Err(ParamError::TransformationInvalid),
                "{raw}"
            );
        }
    }
}
