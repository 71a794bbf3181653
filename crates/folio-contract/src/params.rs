//! Phase P of spec §2.5: from text fields to [`UploadParams`].

use rand::Rng;

use crate::checks::{parse_checks, Checks, CustomFieldSchemas, NoCustomFields};
use crate::coordinates::CustomCoordinates;
use crate::error::ParamError;
use crate::field;
use crate::file_name::{parse_file_name, unique_name};
use crate::folder::Folder;
use crate::response_fields::ResponseFields;
use crate::tags::parse_tags;
use crate::transformation::{parse_transformation, TransformationParam};

/// Upper bound on `description`, in Unicode characters (spec Q36, our choice).
pub const MAX_DESCRIPTION_CHARS: usize = 10_000;

/// The validated parameters of one upload request (everything but `file` and authentication).
///
/// Obtained only from [`parse_upload_params`]: the struct is `#[non_exhaustive]`, so other crates
/// can read the fields but cannot build one with a struct literal, and every value they see
/// has passed the rules of spec §3. (It also lets later issues add `custom_metadata`,
/// `transformation`, `checks`, ... without breaking readers.)
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct UploadParams {
    /// Sanitised `fileName` (spec §3.4), without the unique suffix; non-empty, at most
    /// [`crate::MAX_FILE_NAME_BYTES`] bytes, never `.` or `..`.
    pub file_name: String,
    /// `useUniqueFileName`, default `true`.
    pub use_unique_file_name: bool,
    /// `tags`: `None` when the parameter was absent (or empty); `Some` otherwise, possibly an
    /// empty list (e.g. `tags=" , "`), which the server stores as `null` but which still counts
    /// as "the request has tags" for the overwrite rules of spec §3.10.
    pub tags: Option<Vec<String>>,
    /// `folder`, default the root.
    pub folder: Folder,
    /// `isPrivateFile`, default `false`.
    pub is_private_file: bool,
    /// `isPublished`, default `true`.
    pub is_published: bool,
    /// `customCoordinates`, verbatim (already checked by [`CustomCoordinates::parse`]).
    pub custom_coordinates: Option<String>,
    /// `responseFields`, default empty.
    pub response_fields: ResponseFields,
    /// `overwriteFile`, default `true`.
    pub overwrite_file: bool,
    /// `overwriteAITags`, default `true`.
    pub overwrite_ai_tags: bool,
    /// `overwriteTags`, default `true`.
    pub overwrite_tags: bool,
    /// `overwriteCustomMetadata`, default `true`.
    pub overwrite_custom_metadata: bool,
    /// `description`, verbatim, at most [`MAX_DESCRIPTION_CHARS`] characters.
    pub description: Option<String>,
    /// `customMetadata`: a JSON object (P5), not yet checked against the account's field
    /// definitions (that is step E2, the server's job). `None` when absent or empty.
    pub custom_metadata: Option<serde_json::Map<String, serde_json::Value>>,
    /// `transformation`, structurally valid (P6, spec §3.8); its strings and the fit with the
    /// file type are the server's step E1.
    pub transformation: Option<TransformationParam>,
    /// `checks`, parsed and type-checked (spec §7); evaluated by the server once the file's
    /// facts are known (step E6).
    pub checks: Option<Checks>,
    /// `webhookUrl`: an absolute `http`/`https` URL (P4, checked by [`parse_webhook_url`]).
    pub webhook_url: Option<String>,
    /// `extensions` (P5, [`parse_extensions`]): empty when absent, empty or `[]`.
    pub extensions: Vec<Extension>,
}

/// One element of `extensions` (spec §3.9).
#[derive(Debug, Clone, PartialEq)]
pub struct Extension {
    /// The element's `name`.
    pub name: String,
    /// The element's other members, verbatim (`minConfidence` and `maxTags` of the
    /// auto-tagging extensions, `options` of `remove-bg`, ...).
    pub options: serde_json::Map<String, serde_json::Value>,
}

/// P4 rule of `webhookUrl` (our choice, spec §3.2): `http://` or `https://` (any ASCII case),
/// a non-empty authority, no whitespace or control characters, at most 2048 bytes.
pub fn parse_webhook_url(raw: &str) -> Result<String, ParamError> {
    let invalid = ParamError::Invalid(crate::field::WEBHOOK_URL);
    let lower = raw.get(..8).unwrap_or(raw).to_ascii_lowercase();
    let rest = if lower.starts_with("https://") {
        &raw[8..]
    } else if lower.starts_with("http://") {
        &raw[7..]
    } else {
        return Err(invalid);
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit('@').next().unwrap_or_default();
    if raw.len() > 2048
        || host.is_empty()
        || host.starts_with(':')
        || raw.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(invalid);
    }
    Ok(raw.to_owned())
}

/// P5 rule of `extensions` (spec §3.9, our exact choices):
///
/// * a JSON array of objects, each with a non-empty string `name`; a name appears once;
/// * `google-auto-tagging` / `aws-auto-tagging`: `minConfidence` an integer 0–100 and `maxTags`
///   an integer ≥ 1, both required;
/// * `remove-bg`: `options`, when present, is an object;
/// * other names: accepted as they are (the server reports what it cannot run as `failed`).
///
/// `[]` is accepted and means no extension.
pub fn parse_extensions(raw: &str) -> Result<Vec<Extension>, ParamError> {
    let invalid = ParamError::Invalid(crate::field::EXTENSIONS);
    let Ok(serde_json::Value::Array(items)) = serde_json::from_str::<serde_json::Value>(raw) else {
        return Err(invalid);
    };
    let mut out: Vec<Extension> = Vec::with_capacity(items.len());
    for item in items {
        let serde_json::Value::Object(mut object) = item else {
            return Err(invalid);
        };
        let name = match object.remove("name") {
            Some(serde_json::Value::String(name)) if !name.is_empty() => name,
            _ => return Err(invalid),
        };
        if out.iter().any(|e| e.name == name) {
            return Err(invalid);
        }
        let valid = match name.as_str() {
            "google-auto-tagging" | "aws-auto-tagging" => {
                let confidence = object.get("minConfidence").and_then(|v| v.as_u64());
                let max_tags = object.get("maxTags").and_then(|v| v.as_u64());
                confidence.is_some_and(|c| c <= 100) && max_tags.is_some_and(|m| m >= 1)
            }
            "remove-bg" => object.get("options").is_none_or(|o| o.is_object()),
            _ => true,
        };
        if !valid {
            return Err(invalid);
        }
        out.push(Extension {
            name,
            options: object,
        });
    }
    Ok(out)
}

impl UploadParams {
    /// The name to store under: [`unique_name`] of `file_name` when `use_unique_file_name`,
    /// else `file_name` itself. Call again to get a new suffix after a path collision.
    pub fn stored_name<R: Rng + ?Sized>(&self, rng: &mut R) -> String {
        if self.use_unique_file_name {
            unique_name(&self.file_name, rng)
        } else {
            self.file_name.clone()
        }
    }
}

/// Read access to the request's text fields with the §3.1 rule built in: an empty value is the
/// same as no field.
struct Fields<'a, K, V>(&'a [(K, V)]);

impl<'a, K: AsRef<str>, V: AsRef<str>> Fields<'a, K, V> {
    /// The value of `name`, or `None` when absent or empty. Names are matched exactly
    /// (multipart field names are case-sensitive). Should a name occur twice despite the
    /// caller's guarantee, the first occurrence is the one used.
    fn get(&self, name: &str) -> Option<&'a str> {
        self.0
            .iter()
            .find(|(key, _)| key.as_ref() == name)
            .map(|(_, value)| value.as_ref())
            .filter(|value| !value.is_empty())
    }

    /// A boolean parameter: `true` / `false` in any ASCII case; absent → `default`.
    fn boolean(&self, name: &'static str, default: bool) -> Result<bool, ParamError> {
        match self.get(name) {
            None => Ok(default),
            Some(value) if value.eq_ignore_ascii_case("true") => Ok(true),
            Some(value) if value.eq_ignore_ascii_case("false") => Ok(false),
            Some(_) => Err(ParamError::Invalid(name)),
        }
    }
}

/// Runs phase P (spec §2.5, steps P2–P7) over the request's text fields.
///
/// `fields` are the text fields in arrival order, `file` excluded or not (it is never read
/// here), authentication and unknown fields included (they are ignored). The caller has
/// already rejected repeated names (phase T) and checked `file` (P1).
///
/// Steps and, within a step, the order in which parameters are checked — the first failure is
/// returned:
///
/// | Step | Parameters, in order |
/// | --- | --- |
/// | P2 | `fileName` present and non-empty → else `Missing("fileName")` |
/// | P3 | `useUniqueFileName`, `isPrivateFile`, `isPublished`, `overwriteFile`, `overwriteAITags`, `overwriteTags`, `overwriteCustomMetadata` |
/// | P4 | `tags`, `folder`, `customCoordinates`, `responseFields` (cannot fail), `webhookUrl`, `description`, `fileName` (length / dot-segment) |
/// | P5 | `customMetadata`, `extensions` |
/// | P6 | `transformation` |
/// | P7 | `checks` |
///
/// ```
/// use folio_contract::{parse_upload_params, ParamError, ResponseField};
///
/// let fields = [
///     ("token", "eyJ..."),            // authentication: ignored here
///     ("fileName", "my photo (1).jpg"),
///     ("folder", "/products//summer"),
///     ("tags", "summer,sale"),
///     ("useUniqueFileName", "FALSE"),
///     ("isPrivateFile", ""),           // empty = absent
///     ("responseFields", "tags"),
/// ];
/// let params = parse_upload_params(&fields)?;
/// assert_eq!(params.file_name, "my_photo__1_.jpg");
/// assert_eq!(params.folder.file_path(&params.file_name), "/products/summer/my_photo__1_.jpg");
/// assert_eq!(params.tags.as_deref(), Some(&["summer".to_string(), "sale".to_string()][..]));
/// assert!(!params.use_unique_file_name && !params.is_private_file && params.is_published);
/// assert!(params.response_fields.contains(ResponseField::Tags));
///
/// let err = parse_upload_params(&[("fileName", "a.jpg"), ("isPublished", "yes")]).unwrap_err();
/// assert_eq!(err.message(), "Your request contains invalid isPublished parameter.");
/// # Ok::<(), ParamError>(())
/// ```
pub fn parse_upload_params<K, V>(fields: &[(K, V)]) -> Result<UploadParams, ParamError>
where
    K: AsRef<str>,
    V: AsRef<str>,
{
    parse_upload_params_with(fields, &NoCustomFields)
}

/// [`parse_upload_params`] with the account's custom metadata fields, which type the
/// `request.customMetadata.<name>` references of `checks`.
pub fn parse_upload_params_with<K, V>(
    fields: &[(K, V)],
    schemas: &dyn CustomFieldSchemas,
) -> Result<UploadParams, ParamError>
where
    K: AsRef<str>,
    V: AsRef<str>,
{
    let fields = Fields(fields);

    // P2
    let raw_file_name = fields
        .get(field::FILE_NAME)
        .ok_or(ParamError::Missing(field::FILE_NAME))?;

    // P3, in the order of the spec's parameter table.
    let use_unique_file_name = fields.boolean(field::USE_UNIQUE_FILE_NAME, true)?;
    let is_private_file = fields.boolean(field::IS_PRIVATE_FILE, false)?;
    let is_published = fields.boolean(field::IS_PUBLISHED, true)?;
    let overwrite_file = fields.boolean(field::OVERWRITE_FILE, true)?;
    let overwrite_ai_tags = fields.boolean(field::OVERWRITE_AI_TAGS, true)?;
    let overwrite_tags = fields.boolean(field::OVERWRITE_TAGS, true)?;
    let overwrite_custom_metadata = fields.boolean(field::OVERWRITE_CUSTOM_METADATA, true)?;

    // P4, in the order of the P4 row of spec §2.5.
    let tags = fields.get(field::TAGS).map(parse_tags).transpose()?;
    let folder = match fields.get(field::FOLDER) {
        Some(raw) => Folder::parse(raw)?,
        None => Folder::root(),
    };
    let custom_coordinates = match fields.get(field::CUSTOM_COORDINATES) {
        Some(raw) => {
            CustomCoordinates::parse(raw)?;
            Some(raw.to_owned())
        }
        None => None,
    };
    let response_fields = fields
        .get(field::RESPONSE_FIELDS)
        .map(ResponseFields::parse)
        .unwrap_or_default();
    let webhook_url = fields
        .get(field::WEBHOOK_URL)
        .map(parse_webhook_url)
        .transpose()?;
    let description = match fields.get(field::DESCRIPTION) {
        // `nth` stops after MAX + 1 characters instead of counting a huge value to the end.
        Some(raw) if raw.chars().nth(MAX_DESCRIPTION_CHARS).is_some() => {
            return Err(ParamError::Invalid(field::DESCRIPTION));
        }
        Some(raw) => Some(raw.to_owned()),
        None => None,
    };
    let file_name = parse_file_name(raw_file_name)?;

    // P5
    let custom_metadata = match fields.get(field::CUSTOM_METADATA) {
        Some(raw) => match serde_json::from_str::<serde_json::Value>(raw) {
            Ok(serde_json::Value::Object(map)) => Some(map),
            _ => return Err(ParamError::Invalid(field::CUSTOM_METADATA)),
        },
        None => None,
    };
    let extensions = fields
        .get(field::EXTENSIONS)
        .map(parse_extensions)
        .transpose()?
        .unwrap_or_default();
    // P6
    let transformation = fields
        .get(field::TRANSFORMATION)
        .map(parse_transformation)
        .transpose()?;
    // P7
    let checks = fields
        .get(field::CHECKS)
        .map(|text| parse_checks(text, schemas))
        .transpose()
        .map_err(|_| ParamError::ChecksSyntax)?;

    Ok(UploadParams {
        file_name,
        use_unique_file_name,
        tags,
        folder,
        is_private_file,
        is_published,
        custom_coordinates,
        response_fields,
        overwrite_file,
        overwrite_ai_tags,
        overwrite_tags,
        overwrite_custom_metadata,
        description,
        custom_metadata,
        transformation,
        checks,
        webhook_url,
        extensions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ResponseField;

    const BOOLEANS: [&str; 7] = [
        "useUniqueFileName",
        "isPrivateFile",
        "isPublished",
        "overwriteFile",
        "overwriteAITags",
        "overwriteTags",
        "overwriteCustomMetadata",
    ];

    fn parse(fields: &[(&str, &str)]) -> Result<UploadParams, ParamError> {
        parse_upload_params(fields)
    }

    fn parse_ok(fields: &[(&str, &str)]) -> UploadParams {
        match parse(fields) {
            Ok(params) => params,
            Err(e) => panic!("{fields:?} rejected: {}", e.message()),
        }
    }

    fn err(fields: &[(&str, &str)]) -> String {
        match parse(fields) {
            Ok(params) => panic!("{fields:?} accepted: {params:?}"),
            Err(e) => e.message(),
        }
    }

    #[test]
    fn defaults() {
        let p = parse_ok(&[("fileName", "a.jpg")]);
        assert_eq!(p.file_name, "a.jpg");
        assert!(p.use_unique_file_name);
        assert_eq!(p.tags, None);
        assert!(p.folder.is_root());
        assert!(!p.is_private_file);
        assert!(p.is_published);
        assert_eq!(p.custom_coordinates, None);
        assert!(p.response_fields.is_empty());
        assert!(p.overwrite_file);
        assert!(p.overwrite_ai_tags);
        assert!(p.overwrite_tags);
        assert!(p.overwrite_custom_metadata);
        assert_eq!(p.description, None);
    }

    #[test]
    fn every_field_set() {
        let p = parse_ok(&[
            ("fileName", "my photo (1).jpg"),
            ("useUniqueFileName", "false"),
            ("tags", "a, b ,a"),
            ("folder", "x//y/"),
            ("isPrivateFile", "true"),
            ("isPublished", "false"),
            ("customCoordinates", "10,10,100,100"),
            ("responseFields", "tags,isPrivateFile"),
            ("overwriteFile", "false"),
            ("overwriteAITags", "false"),
            ("overwriteTags", "false"),
            ("overwriteCustomMetadata", "false"),
            ("description", "A photo."),
        ]);
        assert_eq!(p.file_name, "my_photo__1_.jpg");
        assert!(!p.use_unique_file_name);
        assert_eq!(p.tags, Some(vec!["a".to_string(), "b".to_string()]));
        assert_eq!(p.folder.path(), "/x/y/");
        assert!(p.is_private_file);
        assert!(!p.is_published);
        assert_eq!(p.custom_coordinates.as_deref(), Some("10,10,100,100"));
        let requested: Vec<ResponseField> = p.response_fields.iter().collect();
        assert_eq!(
            requested,
            [ResponseField::Tags, ResponseField::IsPrivateFile]
        );
        assert!(!p.overwrite_file);
        assert!(!p.overwrite_ai_tags);
        assert!(!p.overwrite_tags);
        assert!(!p.overwrite_custom_metadata);
        assert_eq!(p.description.as_deref(), Some("A photo."));
    }

    #[test]
    fn file_name_missing_or_empty() {
        assert_eq!(err(&[]), "Your request is missing fileName parameter.");
        assert_eq!(
            err(&[("fileName", "")]),
            "Your request is missing fileName parameter."
        );
        // Field names are case-sensitive: `filename` is an unknown field.
        assert_eq!(
            err(&[("filename", "a.jpg")]),
            "Your request is missing fileName parameter."
        );
    }

    #[test]
    fn booleans_any_ascii_case() {
        for name in BOOLEANS {
            for (raw, expected) in [
                ("true", true),
                ("TRUE", true),
                ("True", true),
                ("tRuE", true),
                ("false", false),
                ("FALSE", false),
                ("False", false),
            ] {
                let p = parse_ok(&[("fileName", "a"), (name, raw)]);
                let got = match name {
                    "useUniqueFileName" => p.use_unique_file_name,
                    "isPrivateFile" => p.is_private_file,
                    "isPublished" => p.is_published,
                    "overwriteFile" => p.overwrite_file,
                    "overwriteAITags" => p.overwrite_ai_tags,
                    "overwriteTags" => p.overwrite_tags,
                    "overwriteCustomMetadata" => p.overwrite_custom_metadata,
                    _ => unreachable!(),
                };
                assert_eq!(got, expected, "{name}={raw}");
            }
        }
    }

    #[test]
    fn booleans_reject_other_words() {
        for name in BOOLEANS {
            for raw in [
                "yes", "no", "1", "0", "on", " true", "true ", "t", "truee", "null",
            ] {
                assert_eq!(
                    err(&[("fileName", "a"), (name, raw)]),
                    format!("Your request contains invalid {name} parameter."),
                    "{name}={raw:?}"
                );
            }
        }
    }

    #[test]
    fn empty_value_is_absent_for_every_optional_parameter() {
        let mut fields = vec![("fileName", "a.jpg")];
        for name in BOOLEANS {
            fields.push((name, ""));
        }
        for name in [
            "tags",
            "folder",
            "customCoordinates",
            "responseFields",
            "webhookUrl",
            "description",
            "customMetadata",
            "extensions",
            "transformation",
            "checks",
        ] {
            fields.push((name, ""));
        }
        assert_eq!(parse(&fields), parse(&[("fileName", "a.jpg")]));
    }

    #[test]
    fn auth_and_unknown_fields_are_ignored() {
        let p = parse_ok(&[
            ("token", "not-a-jwt"),
            ("signature", "xyz"),
            ("expire", "soon"),
            ("publicKey", "public_abc"),
            ("file", "whatever"),
            ("somethingElse", "%%%"),
            ("Tags", "%"),
            ("fileName", "a.jpg"),
        ]);
        assert_eq!(p.file_name, "a.jpg");
        assert_eq!(p.tags, None);
    }

    #[test]
    fn tags_present_but_empty_is_some_empty() {
        assert_eq!(
            parse_ok(&[("fileName", "a"), ("tags", " , ,")]).tags,
            Some(vec![])
        );
    }

    #[test]
    fn per_parameter_rules_surface() {
        let invalid = |name: &str| format!("Your request contains invalid {name} parameter.");
        assert_eq!(err(&[("fileName", "a"), ("tags", "50%")]), invalid("tags"));
        let long_tags = "t".repeat(501);
        assert_eq!(
            err(&[("fileName", "a"), ("tags", &long_tags)]),
            invalid("tags")
        );
        let deep = vec!["d"; 51].join("/");
        assert_eq!(
            err(&[("fileName", "a"), ("folder", &deep)]),
            invalid("folder")
        );
        assert_eq!(
            err(&[("fileName", "a"), ("customCoordinates", "1,2,3")]),
            invalid("customCoordinates")
        );
        let long_description = "é".repeat(MAX_DESCRIPTION_CHARS + 1);
        assert_eq!(
            err(&[("fileName", "a"), ("description", &long_description)]),
            invalid("description")
        );
        let long_name = "n".repeat(1025);
        assert_eq!(err(&[("fileName", &long_name)]), invalid("fileName"));
        assert_eq!(err(&[("fileName", "..")]), invalid("fileName"));
    }

    #[test]
    fn description_limit_is_in_characters() {
        let at_limit = "é".repeat(MAX_DESCRIPTION_CHARS);
        let p = parse_ok(&[("fileName", "a"), ("description", &at_limit)]);
        assert_eq!(p.description.as_deref(), Some(at_limit.as_str()));
        // Stored verbatim: no trimming.
        let p = parse_ok(&[("fileName", "a"), ("description", "  two\nlines ")]);
        assert_eq!(p.description.as_deref(), Some("  two\nlines "));
    }

    #[test]
    fn custom_coordinates_stored_verbatim() {
        let p = parse_ok(&[("fileName", "a"), ("customCoordinates", "010,0,5,5")]);
        assert_eq!(p.custom_coordinates.as_deref(), Some("010,0,5,5"));
    }

    #[test]
    fn transformation_is_structurally_checked() {
        let p = parse_ok(&[("fileName", "a"), ("transformation", r#"{"pre":"w-100"}"#)]);
        assert_eq!(
            p.transformation.and_then(|t| t.pre).as_deref(),
            Some("w-100")
        );
        assert_eq!(
            err(&[
                ("fileName", "a"),
                (
                    "transformation",
                    r#"{"post":[{"type":"abs","value":"sr-240_360"}]}"#
                )
            ]),
            "The file could not be uploaded because the transformation field is invalid."
        );
    }

    #[test]
    fn webhook_url_rule() {
        for ok in [
            "https://example.com/hook",
            "HTTP://127.0.0.1:9000/x?y=1",
            "http://user@host",
        ] {
            assert_eq!(
                parse_ok(&[("fileName", "a"), ("webhookUrl", ok)])
                    .webhook_url
                    .as_deref(),
                Some(ok)
            );
        }
        for bad in [
            "x",
            "/relative",
            "ftp://example.com",
            "https://",
            "https:///path",
            "http://:80/",
            "https://exa mple.com",
            "https//example.com",
        ] {
            assert_eq!(
                err(&[("fileName", "a"), ("webhookUrl", bad)]),
                "Your request contains invalid webhookUrl parameter.",
                "{bad}"
            );
        }
    }

    #[test]
    fn extensions_rule() {
        let p = parse_ok(&[("fileName", "a"), ("extensions", "[]")]);
        assert!(p.extensions.is_empty());
        let p = parse_ok(&[
            ("fileName", "a"),
            (
                "extensions",
                r#"[{"name":"google-auto-tagging","minConfidence":80,"maxTags":5},
                    {"name":"remove-bg","options":{"add_shadow":true}},{"name":"remove-bg-x"},
                    {"name":"aws-auto-tagging","minConfidence":0,"maxTags":1}]"#,
            ),
        ]);
        let names: Vec<&str> = p.extensions.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "google-auto-tagging",
                "remove-bg",
                "remove-bg-x",
                "aws-auto-tagging"
            ]
        );
        assert_eq!(
            p.extensions[0].options.get("maxTags"),
            Some(&serde_json::json!(5))
        );
        assert!(!p.extensions[0].options.contains_key("name"));
        for bad in [
            "x",
            "{}",
            r#"{"name":"remove-bg"}"#,
            "[1]",
            "[{}]",
            r#"[{"name":""}]"#,
            r#"[{"name":3}]"#,
            r#"[{"name":"remove-bg"},{"name":"remove-bg"}]"#,
            r#"[{"name":"remove-bg","options":3}]"#,
            r#"[{"name":"google-auto-tagging"}]"#,
            r#"[{"name":"google-auto-tagging","minConfidence":80}]"#,
            r#"[{"name":"aws-auto-tagging","minConfidence":80.5,"maxTags":5}]"#,
            r#"[{"name":"aws-auto-tagging","minConfidence":101,"maxTags":5}]"#,
            r#"[{"name":"aws-auto-tagging","minConfidence":80,"maxTags":0}]"#,
            r#"[{"name":"aws-auto-tagging","minConfidence":"80","maxTags":5}]"#,
        ] {
            assert_eq!(
                err(&[("fileName", "a"), ("extensions", bad)]),
                "Your request contains invalid extensions parameter.",
                "{bad}"
            );
        }
    }

    #[test]
    fn custom_metadata_is_a_json_object() {
        let p = parse_ok(&[
            ("fileName", "a"),
            ("customMetadata", r#"{"price": 5, "x": null}"#),
        ]);
        let map = p.custom_metadata.expect("custom metadata");
        assert_eq!(map.get("price"), Some(&serde_json::json!(5)));
        assert_eq!(map.get("x"), Some(&serde_json::Value::Null));
        for raw in ["x", "[]", "5", "null", "\"s\"", "{"] {
            assert_eq!(
                err(&[("fileName", "a"), ("customMetadata", raw)]),
                "Your request contains invalid customMetadata parameter.",
                "{raw}"
            );
        }
    }

    #[test]
    fn first_failing_step_wins() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            // P2 before P3.
            (
                &[("isPublished", "yes")],
                "Your request is missing fileName parameter.",
            ),
            // P2 before P7.
            (
                &[("checks", "x"), ("fileName", "")],
                "Your request is missing fileName parameter.",
            ),
            // P3 before P4, whatever the arrival order.
            (
                &[("tags", "%"), ("fileName", "a"), ("overwriteTags", "yes")],
                "Your request contains invalid overwriteTags parameter.",
            ),
            // P3 before the P4 fileName rule.
            (
                &[("fileName", ".."), ("isPrivateFile", "1")],
                "Your request contains invalid isPrivateFile parameter.",
            ),
            // P4 before P5, P6, P7.
            (
                &[
                    ("checks", "x"),
                    ("transformation", "x"),
                    ("customMetadata", "x"),
                    ("folder", "/a"),
                    ("customCoordinates", "x"),
                    ("fileName", "a"),
                ],
                "Your request contains invalid customCoordinates parameter.",
            ),
            // The P4 fileName length rule before P5.
            (
                &[("customMetadata", "{}"), ("fileName", "..")],
                "Your request contains invalid fileName parameter.",
            ),
            // P5 before P6 before P7.
            (
                &[
                    ("checks", "x"),
                    ("transformation", "x"),
                    ("extensions", "x"),
                    ("fileName", "a"),
                ],
                "Your request contains invalid extensions parameter.",
            ),
            (
                &[("checks", "x"), ("transformation", "x"), ("fileName", "a")],
                "The file could not be uploaded because the transformation field is invalid.",
            ),
            // P7 last.
            (
                &[("checks", "file.size < 1mb"), ("fileName", "a")],
                "Your request contains invalid syntax for the checks parameter.",
            ),
        ];
        for (fields, expected) in cases {
            assert_eq!(&err(fields), expected, "{fields:?}");
        }
    }

    #[test]
    fn order_within_p3_follows_the_table() {
        // Bad values for all seven booleans: the first in table order is reported; removing it
        // moves the report to the next one.
        let mut fields: Vec<(&str, &str)> = vec![("fileName", "a")];
        // Arrival order reversed on purpose: it must not matter.
        for name in BOOLEANS.iter().rev() {
            fields.push((name, "maybe"));
        }
        for name in BOOLEANS {
            assert_eq!(
                err(&fields),
                format!("Your request contains invalid {name} parameter.")
            );
            fields.retain(|(n, _)| *n != name);
        }
        assert!(parse(&fields).is_ok());
    }

    #[test]
    fn order_within_p4_follows_the_p4_row() {
        let long_description = "d".repeat(MAX_DESCRIPTION_CHARS + 1);
        let long_name = "n".repeat(2000);
        let deep = "/x".repeat(60);
        let mut fields: Vec<(&str, &str)> = vec![
            ("fileName", long_name.as_str()),
            ("description", long_description.as_str()),
            ("webhookUrl", "ftp://example.com/hook"),
            ("responseFields", "tags"),
            ("customCoordinates", "nope"),
            ("folder", deep.as_str()),
            ("tags", "%"),
        ];
        for (name, expected) in [
            ("tags", "Your request contains invalid tags parameter."),
            ("folder", "Your request contains invalid folder parameter."),
            (
                "customCoordinates",
                "Your request contains invalid customCoordinates parameter.",
            ),
            (
                "webhookUrl",
                "Your request contains invalid webhookUrl parameter.",
            ),
            (
                "description",
                "Your request contains invalid description parameter.",
            ),
        ] {
            assert_eq!(err(&fields), expected);
            fields.retain(|(n, _)| *n != name);
        }
        assert_eq!(
            err(&fields),
            "Your request contains invalid fileName parameter."
        );
    }

    #[test]
    fn works_with_owned_strings() {
        let fields = vec![
            ("fileName".to_string(), "a b".to_string()),
            ("folder".to_string(), "x".to_string()),
        ];
        let p = parse_upload_params(&fields);
        assert_eq!(
            p.map(|p| p.folder.file_path(&p.file_name)),
            Ok("/x/a_b".to_string())
        );
    }

    #[test]
    fn stored_name_honours_use_unique_file_name() {
        let mut rng = rand::rng();
        let fixed = parse_ok(&[("fileName", "a.jpg"), ("useUniqueFileName", "false")]);
        assert_eq!(fixed.stored_name(&mut rng), "a.jpg");
        let unique = parse_ok(&[("fileName", "a.jpg")]);
        let name = unique.stored_name(&mut rng);
        assert!(name.starts_with("a_") && name.ends_with(".jpg") && name.len() == 15);
    }
}
