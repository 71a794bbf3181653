//! Spec-driven tests of the whole `checks` pipeline: parse, type, evaluate, print.

use serde_json::{json, Map, Value};

use super::*;
use crate::Folder;

const SYNTAX: &str = "Your request contains invalid syntax for the checks parameter.";
const FAILED: &str = "Your request failed 'checks' validation.";

/// The custom metadata fields the tests' account defines.
fn schemas(name: &str) -> Option<CustomFieldType> {
    Some(match name {
        "quantitySold" => CustomFieldType::Number,
        "tuple" => CustomFieldType::MultiSelect,
        "brand" => CustomFieldType::Text,
        "notes" => CustomFieldType::Textarea,
        "launch" => CustomFieldType::Date,
        "featured" => CustomFieldType::Boolean,
        "size" => CustomFieldType::SingleSelect,
        "with.dot" | "it's" => CustomFieldType::Text,
        _ => return None,
    })
}

fn parse(text: &str) -> Result<Checks, ChecksError> {
    parse_checks(text, &schemas)
}

fn ok(text: &str) -> Checks {
    match parse(text) {
        Ok(checks) => checks,
        Err(ChecksError::Syntax(detail)) => panic!("{text:?} refused: {detail}"),
        Err(other) => panic!("{text:?}: {other:?}"),
    }
}

#[track_caller]
fn syntax(text: &str) {
    match parse(text) {
        Ok(checks) => panic!("{text:?} accepted as {checks}"),
        Err(e) => {
            assert!(matches!(e, ChecksError::Syntax(_)), "{text:?}: {e:?}");
            assert_eq!(e.message(), SYNTAX);
        }
    }
}

/// Owns what a [`CheckContext`] borrows.
struct Fx {
    file_name: String,
    folder: Folder,
    tags: Option<Vec<String>>,
    metadata: Map<String, Value>,
}

impl Fx {
    fn new() -> Fx {
        Fx {
            file_name: "photo.jpg".to_string(),
            folder: Folder::root(),
            tags: None,
            metadata: Map::new(),
        }
    }

    fn folder(mut self, raw: &str) -> Fx {
        self.folder = match Folder::parse(raw) {
            Ok(folder) => folder,
            Err(e) => panic!("{raw:?}: {e}"),
        };
        self
    }

    fn tags(mut self, tags: &[&str]) -> Fx {
        self.tags = Some(tags.iter().map(|t| t.to_string()).collect());
        self
    }

    fn meta(mut self, value: Value) -> Fx {
        match value {
            Value::Object(map) => self.metadata = map,
            other => panic!("not an object: {other}"),
        }
        self
    }

    fn name(mut self, name: &str) -> Fx {
        self.file_name = name.to_string();
        self
    }

    /// A finished 1000-byte 800×600 JPEG upload with the request defaults.
    fn ctx(&self) -> CheckContext<'_> {
        let mut ctx = CheckContext::new(&self.file_name, &self.folder, &self.metadata);
        ctx.tags = self.tags.as_deref();
        ctx.file_size = SizeKnowledge::Exactly(1000);
        ctx.file_mime = Some("image/jpeg");
        ctx.width = Some(800);
        ctx.height = Some(600);
        ctx
    }

    /// The same request with nothing known about the file yet.
    fn streaming(&self) -> CheckContext<'_> {
        let mut ctx = self.ctx();
        ctx.file_size = SizeKnowledge::AtLeast(0);
        ctx.file_mime = None;
        ctx.width = None;
        ctx.height = None;
        ctx
    }
}

#[track_caller]
fn holds(text: &str, ctx: &CheckContext<'_>) -> bool {
    ok(text).final_verdict(ctx)
}

// ---------------------------------------------------------------------------------------------
// Spec §7.5

#[test]
fn spec_examples_parse() {
    for text in [
        "\"request.folder\" : \"marketing/\"",
        "'file.size' < '1mb'",
        "\"file.size\" < 1024",
        "'file.mime' IN ['image/jpeg', 'image/png', 'image/svg+xml']",
        "\"file.mime\" : \"video/\"",
        "'mediaMetadata.height' <= 300 AND 'mediaMetadata.width' <= 500",
        "\"request.useUniqueFileName\" = true",
        "\"request.tags\" NOT IN [\"big-banner\"]",
        "\"request.fileName\" : \"screenshot\"",
        "(\"file.size\" < \"5mb\" AND \"file.mime\" : \"image\") OR \"request.folder\" = \"videos\"",
        "\"request.customMetadata.quantitySold\" > 200",
        "\"request.customMetadata.tuple\" IN [\"luxury\", 500, true]",
        // The curl example's spelling and the SDK tests' trailing newline.
        "'file.size' < '1MB'",
        "\"request.folder\" : \"marketing/\"\n",
    ] {
        ok(text);
    }
}

#[test]
fn spec_syntax_error_examples() {
    syntax("file.size < 1mb");
    syntax("\"file.size\" : \"1mb\"");
    // Appendix A item 15.
    syntax("file.size < 1mb");
    // §11 Q24: bare words are errors, even where the docs' table uses one.
    syntax("\"file.mime\" : image");
}

#[test]
fn spec_examples_evaluate() {
    let fx = Fx::new();
    let base = fx.ctx();

    let marketing = Fx::new().folder("/marketing/2024/");
    let elsewhere = Fx::new().folder("/sales/");
    let text = "\"request.folder\" : \"marketing/\"";
    assert!(holds(text, &marketing.ctx()));
    assert!(!holds(text, &elsewhere.ctx()));

    let mut ctx = base.clone();
    for (size, expected) in [(1_048_575, true), (1_048_576, false), (2 << 20, false)] {
        ctx.file_size = SizeKnowledge::Exactly(size);
        assert_eq!(holds("'file.size' < '1mb'", &ctx), expected, "{size}");
    }
    for (size, expected) in [(1023, true), (1024, false)] {
        ctx.file_size = SizeKnowledge::Exactly(size);
        assert_eq!(holds("\"file.size\" < 1024", &ctx), expected, "{size}");
    }

    let text = "'file.mime' IN ['image/jpeg', 'image/png', 'image/svg+xml']";
    let mut ctx = base.clone();
    for (mime, expected) in [
        ("image/jpeg", true),
        ("image/svg+xml", true),
        ("image/webp", false),
        ("IMAGE/JPEG", false),
    ] {
        ctx.file_mime = Some(mime);
        assert_eq!(holds(text, &ctx), expected, "{mime}");
    }
    ctx.file_mime = Some("video/mp4");
    assert!(holds("\"file.mime\" : \"video/\"", &ctx));
    ctx.file_mime = Some("image/png");
    assert!(!holds("\"file.mime\" : \"video/\"", &ctx));

    let text = "'mediaMetadata.height' <= 300 AND 'mediaMetadata.width' <= 500";
    let mut ctx = base.clone();
    for (w, h, expected) in [
        (500, 300, true),
        (501, 300, false),
        (500, 301, false),
        (10, 10, true),
    ] {
        ctx.width = Some(w);
        ctx.height = Some(h);
        assert_eq!(holds(text, &ctx), expected, "{w}x{h}");
    }

    let mut ctx = base.clone();
    assert!(holds("\"request.useUniqueFileName\" = true", &ctx));
    ctx.use_unique_file_name = false;
    assert!(!holds("\"request.useUniqueFileName\" = true", &ctx));

    let text = "\"request.tags\" NOT IN [\"big-banner\"]";
    assert!(holds(text, &base));
    assert!(holds(text, &Fx::new().tags(&["small"]).ctx()));
    assert!(!holds(
        text,
        &Fx::new().tags(&["small", "big-banner"]).ctx()
    ));

    let text = "\"request.fileName\" : \"screenshot\"";
    assert!(holds(
        text,
        &Fx::new().name("screenshot_2024_Kp3x9QzLm.png").ctx()
    ));
    assert!(!holds(text, &Fx::new().name("my_screenshot.png").ctx()));

    let text =
        "(\"file.size\" < \"5mb\" AND \"file.mime\" : \"image\") OR \"request.folder\" = \"videos\"";
    let videos = Fx::new().folder("videos");
    let mut big_video = videos.ctx();
    big_video.file_size = SizeKnowledge::Exactly(50 << 20);
    big_video.file_mime = Some("video/mp4");
    assert!(holds(text, &big_video));
    let other = Fx::new().folder("other");
    let mut big_video_elsewhere = other.ctx();
    big_video_elsewhere.file_size = SizeKnowledge::Exactly(50 << 20);
    big_video_elsewhere.file_mime = Some("video/mp4");
    assert!(!holds(text, &big_video_elsewhere));
    assert!(holds(text, &other.ctx()));

    let text = "\"request.customMetadata.quantitySold\" > 200";
    assert!(holds(
        text,
        &Fx::new().meta(json!({"quantitySold": 201})).ctx()
    ));
    assert!(!holds(
        text,
        &Fx::new().meta(json!({"quantitySold": 200})).ctx()
    ));
    assert!(!holds(text, &base));

    let text = "\"request.customMetadata.tuple\" IN [\"luxury\", 500, true]";
    assert!(holds(
        text,
        &Fx::new().meta(json!({"tuple": ["cheap", 500]})).ctx()
    ));
    assert!(holds(text, &Fx::new().meta(json!({"tuple": [true]})).ctx()));
    assert!(!holds(
        text,
        &Fx::new()
            .meta(json!({"tuple": ["cheap", "500", false]}))
            .ctx()
    ));
}

#[test]
fn verify_maps_false_to_the_failed_message() {
    let fx = Fx::new();
    let checks = ok("'file.size' < '1mb'");
    let mut ctx = fx.ctx();
    assert_eq!(checks.verify(&ctx), Ok(()));
    ctx.file_size = SizeKnowledge::Exactly(2 << 20);
    let err = checks.verify(&ctx).err();
    assert_eq!(err, Some(ChecksError::Failed));
    assert_eq!(err.map(|e| e.message()).as_deref(), Some(FAILED));
}

// ---------------------------------------------------------------------------------------------
// Typing: every operator against every field kind (spec §7.3)

const OPERATORS: [&str; 9] = ["=", "NOT =", ":", "<", "<=", ">", ">=", "IN", "NOT IN"];

/// The spec's table, restated: field, allowed operators, a literal of the right kind.
const BUILT_IN: [(&str, &[&str], &str); 20] = [
    (
        "request.fileName",
        &["=", "NOT =", ":", "IN", "NOT IN"],
        "'a'",
    ),
    ("request.useUniqueFileName", &["=", "NOT ="], "true"),
    ("request.tags", &["IN", "NOT IN"], "'a'"),
    (
        "request.folder",
        &["=", "NOT =", ":", "IN", "NOT IN"],
        "'a'",
    ),
    ("request.isPrivateFile", &["=", "NOT ="], "false"),
    ("request.isPublished", &["=", "NOT ="], "true"),
    (
        "request.customCoordinates",
        &["=", "NOT =", ":", "IN", "NOT IN"],
        "'1,2,3,4'",
    ),
    (
        "request.webhookUrl",
        &["=", "NOT =", ":", "IN", "NOT IN"],
        "'https://'",
    ),
    ("request.overwriteFile", &["=", "NOT ="], "true"),
    ("request.overwriteAITags", &["=", "NOT ="], "true"),
    ("request.overwriteTags", &["=", "NOT ="], "true"),
    ("request.overwriteCustomMetadata", &["=", "NOT ="], "true"),
    ("file.size", &["=", "<", "<=", ">", ">="], "10"),
    (
        "file.mime",
        &["=", "NOT =", ":", "IN", "NOT IN"],
        "'image/png'",
    ),
    ("mediaMetadata.width", &["=", "<", "<=", ">", ">="], "10"),
    ("mediaMetadata.height", &["=", "<", "<=", ">", ">="], "10"),
    (
        "mediaMetadata.duration",
        &["=", "<", "<=", ">", ">="],
        "1.5",
    ),
    (
        "mediaMetadata.videoCodec",
        &["=", "NOT =", ":", "IN", "NOT IN"],
        "'h264'",
    ),
    (
        "mediaMetadata.audioCodec",
        &["=", "NOT =", ":", "IN", "NOT IN"],
        "'aac'",
    ),
    (
        "mediaMetadata.bitRate",
        &["=", "<", "<=", ">", ">="],
        "1000",
    ),
];

fn condition(field: &str, op: &str, literal: &str) -> String {
    if op.ends_with("IN") {
        format!("\"{field}\" {op} [{literal}]")
    } else {
        format!("\"{field}\" {op} {literal}")
    }
}

#[test]
fn every_operator_on_every_built_in_field() {
    for (field, allowed, literal) in BUILT_IN {
        for op in OPERATORS {
            let text = condition(field, op, literal);
            if allowed.contains(&op) {
                ok(&text);
            } else {
                // Refused whatever the literal.
                for other in ["'a'", "1", "true", "'1mb'", "'2024-01-01'"] {
                    syntax(&condition(field, op, other));
                }
            }
        }
    }
}

#[test]
fn every_operator_on_every_custom_field_type() {
    let table: [(&str, &[&str], &str); 7] = [
        ("brand", &["=", "NOT =", "IN", "NOT IN", ":"], "'Nike'"),
        ("notes", &["=", "NOT =", "IN", "NOT IN", ":"], "'x'"),
        (
            "launch",
            &["=", "NOT =", "IN", "NOT IN", ">", ">=", "<", "<="],
            "'2024-01-01'",
        ),
        (
            "quantitySold",
            &["=", "NOT =", "IN", "NOT IN", ">", ">=", "<", "<="],
            "5",
        ),
        ("featured", &["=", "NOT ="], "true"),
        (
            "size",
            &["=", "NOT =", "IN", "NOT IN", ":", ">", ">=", "<", "<="],
            "",
        ),
        ("tuple", &["IN", "NOT IN"], "'luxury'"),
    ];
    for (name, allowed, literal) in table {
        let field = format!("request.customMetadata.{name}");
        for op in OPERATORS {
            // SingleSelect's literal depends on the operator.
            let literal = match (name, op) {
                ("size", ":") => "'M'",
                ("size", _) => "3",
                _ => literal,
            };
            let text = condition(&field, op, literal);
            if allowed.contains(&op) {
                ok(&text);
            } else {
                for other in ["'a'", "1", "true", "'2024-01-01'"] {
                    syntax(&condition(&field, op, other));
                }
            }
        }
    }
}

#[test]
fn literal_kinds_per_field_kind() {
    // String fields: strings only, lists of strings only.
    ok("'request.fileName' = 'a'");
    syntax("'request.fileName' = 1");
    syntax("'request.fileName' = true");
    syntax("'request.fileName' IN ['a', 1]");
    syntax("'request.fileName' IN ['a', false]");
    syntax("'request.folder' : 1");
    syntax("'file.mime' : 5");
    // Boolean fields: booleans only; the quoted word is a string.
    ok("'request.isPrivateFile' = FALSE");
    syntax("'request.isPrivateFile' = 'true'");
    syntax("'request.isPrivateFile' = 1");
    // Tags: list of strings.
    ok("'request.tags' IN ['a', 'b']");
    syntax("'request.tags' IN ['a', 2]");
    syntax("'request.tags' IN [true]");
    // Numeric media fields: numbers only (a size string only for file.size).
    ok("'mediaMetadata.width' < 550");
    syntax("'mediaMetadata.width' < '550'");
    syntax("'mediaMetadata.width' < '1mb'");
    syntax("'mediaMetadata.duration' > true");
    // file.size: number or size string, nothing else.
    ok("'file.size' <= '50mb'");
    ok("'file.size' <= '1024'");
    ok("'file.size' >= -1");
    syntax("'file.size' < 'big'");
    syntax("'file.size' < '1 mb'");
    syntax("'file.size' < '1tb'");
    syntax("'file.size' < true");
    // Custom types.
    ok("'request.customMetadata.quantitySold' IN [1, 2.5, -3]");
    syntax("'request.customMetadata.quantitySold' = '5'");
    syntax("'request.customMetadata.quantitySold' IN [1, '2']");
    syntax("'request.customMetadata.brand' = 5");
    syntax("'request.customMetadata.notes' : true");
    ok("'request.customMetadata.featured' NOT = true");
    syntax("'request.customMetadata.featured' = 'true'");
    ok("'request.customMetadata.launch' IN ['2024-01-01', '2024-01-02T10:00:00']");
    syntax("'request.customMetadata.launch' > 20240101");
    syntax("'request.customMetadata.launch' > 'yesterday'");
    syntax("'request.customMetadata.launch' IN ['2024-01-01', '2024-13-01']");
    ok("'request.customMetadata.size' = 'M'");
    ok("'request.customMetadata.size' = 3");
    ok("'request.customMetadata.size' = true");
    ok("'request.customMetadata.size' IN ['M', 3, true]");
    ok("'request.customMetadata.size' : 'M'");
    syntax("'request.customMetadata.size' : 3");
    syntax("'request.customMetadata.size' : true");
    ok("'request.customMetadata.size' >= 3");
    syntax("'request.customMetadata.size' >= 'M'");
    syntax("'request.customMetadata.size' < true");
    ok("'request.customMetadata.tuple' NOT IN ['a', 1, false]");
}

#[test]
fn unknown_fields() {
    for field in [
        "file.name",
        "File.size",
        "FILE.SIZE",
        "request.filename",
        "request.customMetadata",
        "request.customMetadata.",
        "request.customMetadata.undefined",
        "request.customMetadata.Brand",
        "mediaMetadata.depth",
        "size",
        "",
        " file.size",
    ] {
        syntax(&format!("\"{field}\" = 1"));
        syntax(&format!("\"{field}\" = 'a'"));
    }
    // With a name containing dots, the whole remainder is the name.
    ok("\"request.customMetadata.with.dot\" = 'x'");
    // Without any custom fields, every custom reference is unknown.
    assert!(parse_checks("'request.customMetadata.brand' = 'x'", &NoCustomFields).is_err());
}

// ---------------------------------------------------------------------------------------------
// Lexical details

#[test]
fn both_quote_styles_and_escapes() {
    let fx = Fx::new().name("it's \"quoted\" \\ ok");
    let ctx = fx.ctx();
    assert!(holds(
        r#""request.fileName" = "it's \"quoted\" \\ ok""#,
        &ctx
    ));
    assert!(holds(
        r#"'request.fileName' = 'it\'s "quoted" \\ ok'"#,
        &ctx
    ));
    assert!(holds(
        r#"'request.fileName' = "it\'s \"quoted\" \\ ok""#,
        &ctx
    ));
    assert!(!holds(
        r#"'request.fileName' = 'it\'s "quoted" \\\\ ok'"#,
        &ctx
    ));
    // Mixed quote styles within one expression and one condition.
    ok(r#"'request.fileName' = "a" AND "request.folder" = 'b'"#);
    // A field name is just a string, so it may use escapes too.
    let escaped = ok(r#"'request.customMetadata.it\'s' = 'x'"#);
    assert_eq!(escaped, ok(r#""request.customMetadata.it's" = "x""#));
    assert_eq!(
        escaped.to_string(),
        r#""request.customMetadata.it's" = "x""#
    );
    syntax(r#""request.fileName" = "a\nb""#);
    syntax(r#""request.fileName" = "unterminated"#);
    syntax(r#""request.fileName" = 'mismatched""#);
}

#[test]
fn whitespace_and_newlines() {
    for text in [
        "'file.size'<'1mb'",
        "  'file.size'   <   '1mb'  ",
        "\n'file.size'\n<\n'1mb'\n",
        "\t'file.size'\t<\t'1mb'\r\n",
        "'request.tags'NOT IN['a']",
        "'request.tags' NOT\n\tIN ['a' ,'b' , 'c']",
        "'request.fileName'NOT='a'",
        "('file.size'<1)OR('file.size'>2)",
    ] {
        ok(text);
    }
    // Only space, tab, CR and LF are whitespace.
    syntax("'file.size'\u{a0}< 1");
    syntax("'file.size' <\u{2003}1");
    syntax("\u{feff}'file.size' < 1");
    // `<=` is one token; `< =` is two.
    syntax("'file.size' < = 1");
    syntax("'file.size' > = 1");
    // Empty and blank expressions.
    syntax("");
    syntax("   \n ");
}

#[test]
fn keywords_and_booleans_are_case_insensitive() {
    let fx = Fx::new().tags(&["x"]);
    let ctx = fx.ctx();
    for text in [
        "'request.tags' in ['x'] and 'request.isPublished' = TRUE",
        "'request.tags' In ['x'] And 'request.isPublished' = True",
        "'request.tags' not in ['y'] or 'request.isPublished' = false",
        "'request.tags' NoT iN ['y'] oR 'request.isPublished' = FaLsE",
        "'request.isPrivateFile' not = true",
        "'request.isPrivateFile' Not= TRUE",
    ] {
        assert!(holds(text, &ctx), "{text}");
    }
}

#[test]
fn grammar_errors() {
    for text in [
        // Operands and operators.
        "'file.size'",
        "'file.size' <",
        "'file.size' 1",
        "'file.size' == 1",
        "'file.size' != 1",
        "'file.size' =< 1",
        "'file.size' => 1",
        "'request.fileName' NOT 'a'",
        "'request.fileName' NOT",
        "'request.fileName' NOT NOT = 'a'",
        "'request.fileName' IN 'a'",
        "'request.fileName' = ['a']",
        "'request.fileName' : ['a']",
        "'request.fileName' IN []",
        "'request.fileName' IN ['a',]",
        "'request.fileName' IN [,'a']",
        "'request.fileName' IN ['a' 'b']",
        "'request.fileName' IN ['a'",
        "'request.fileName' IN [['a']]",
        "'request.fileName' IN [('a')]",
        "'request.fileName' IN ['a', AND]",
        "'request.fileName' = AND",
        // The field must come first and be a string.
        "'a' = 'request.fileName'",
        "1 = 'file.size'",
        "true = 'request.isPublished'",
        "IN ['a']",
        // Connectives.
        "'file.size' < 1 'file.size' > 0",
        "'file.size' < 1 AND",
        "AND 'file.size' < 1",
        "'file.size' < 1 OR OR 'file.size' > 2",
        "'file.size' < 1 AND OR 'file.size' > 2",
        "'file.size' < 1 && 'file.size' > 0",
        // Parentheses.
        "()",
        "('file.size' < 1",
        "'file.size' < 1)",
        "(('file.size' < 1)",
        "('file.size' < 1))",
        "('file.size') < 1",
        "'file.size' (< 1)",
        // No unary NOT on sub-expressions.
        "NOT 'file.size' < 1",
        "NOT ('file.size' < 1)",
        "'file.size' NOT < 1",
        // Bare words anywhere.
        "file.size < 1",
        "'file.size' < 1mb",
        "'file.mime' = image",
        "'file.mime' IN [image]",
        "'file.size' < 1 XOR 'file.size' > 2",
    ] {
        syntax(text);
    }
}

#[test]
fn syntax_detail_points_at_the_problem() {
    let detail = |text: &str| match parse(text) {
        Err(ChecksError::Syntax(detail)) => detail,
        other => panic!("{text:?}: {other:?}"),
    };
    assert_eq!(detail("'file.size' < 1mb").offset(), 14);
    assert_eq!(detail("'file.size' : '1mb'").offset(), 12);
    assert_eq!(
        detail("'file.size' : '1mb'").reason(),
        "operator not allowed for this field"
    );
    assert_eq!(detail("'file.size' < 'x'").offset(), 14);
    assert_eq!(
        detail("'file.size' < 'x'").reason(),
        "value of the wrong kind for this field"
    );
    assert_eq!(detail("'nope' = 1").offset(), 0);
    assert_eq!(detail("'nope' = 1").reason(), "unknown field");
    assert_eq!(detail("'file.size' <").offset(), 13);
}

// ---------------------------------------------------------------------------------------------
// Structure: precedence, parentheses, limits

#[test]
fn and_binds_tighter_than_or() {
    // a, b, c = isPrivateFile, isPublished, overwriteFile.
    let fx = Fx::new();
    for bits in 0..8u8 {
        let (a, b, c) = (bits & 1 != 0, bits & 2 != 0, bits & 4 != 0);
        let mut ctx = fx.ctx();
        ctx.is_private_file = a;
        ctx.is_published = b;
        ctx.overwrite_file = c;
        let (pa, pb, pc) = (
            "'request.isPrivateFile' = true",
            "'request.isPublished' = true",
            "'request.overwriteFile' = true",
        );
        assert_eq!(
            holds(&format!("{pa} OR {pb} AND {pc}"), &ctx),
            a || (b && c)
        );
        assert_eq!(
            holds(&format!("{pa} AND {pb} OR {pc}"), &ctx),
            (a && b) || c
        );
        assert_eq!(
            holds(&format!("({pa} OR {pb}) AND {pc}"), &ctx),
            (a || b) && c
        );
        assert_eq!(
            holds(&format!("{pa} AND ({pb} OR {pc})"), &ctx),
            a && (b || c)
        );
        assert_eq!(
            holds(
                &format!("{pa} AND {pb} OR {pb} AND {pc} OR {pc} AND {pa}"),
                &ctx
            ),
            // Written as "any pair holds" so that it is not the same formula as the input.
            [a && b, b && c, c && a].contains(&true)
        );
    }
}

#[test]
fn canonical_tree_shapes() {
    let p = "'request.isPrivateFile' = true";
    let q = "'request.isPublished' = true";
    let r = "'request.overwriteFile' = true";
    // `p OR q AND r` groups the AND.
    assert_eq!(
        ok(&format!("{p} OR {q} AND {r}")),
        ok(&format!("{p} OR ({q} AND {r})"))
    );
    assert_ne!(
        ok(&format!("{p} OR {q} AND {r}")),
        ok(&format!("({p} OR {q}) AND {r}"))
    );
    // Redundant parentheses vanish; associativity makes grouping of equal connectives moot.
    assert_eq!(ok(&format!("(({p}))")), ok(p));
    assert_eq!(
        ok(&format!("({p} AND {q}) AND {r}")),
        ok(&format!("{p} AND ({q} AND {r})"))
    );
    assert_eq!(
        ok(&format!("{p} OR ({q} OR ({r}))")),
        ok(&format!("{p} OR {q} OR {r}"))
    );
}

#[test]
fn nested_parentheses_up_to_the_limit() {
    let leaf = "'file.size' > 0";
    let nest = |depth: usize| format!("{}{leaf}{}", "(".repeat(depth), ")".repeat(depth));
    let fx = Fx::new();
    assert!(holds(&nest(MAX_CHECKS_DEPTH), &fx.ctx()));
    syntax(&nest(MAX_CHECKS_DEPTH + 1));
    // Alternating connectives at every level.
    let mut text = leaf.to_string();
    for level in 0..MAX_CHECKS_DEPTH {
        let connective = if level % 2 == 0 { "AND" } else { "OR" };
        text = format!("({text} {connective} {leaf})");
    }
    assert!(holds(&text, &fx.ctx()));
    syntax(&format!("({text} AND {leaf})"));
    // Hostile depth far beyond the limit fails cleanly instead of overflowing the stack.
    syntax(&"(".repeat(5_000));
}

#[test]
fn length_limit() {
    let base = "'file.size' >= 0";
    let padding = MAX_CHECKS_BYTES - base.len();
    let at_limit = format!("{base}{}", " ".repeat(padding));
    assert_eq!(at_limit.len(), MAX_CHECKS_BYTES);
    ok(&at_limit);
    syntax(&format!("{at_limit} "));
    // A long flat chain within the limit parses and evaluates without recursion trouble.
    let chain = vec!["'file.size'>0"; 500].join(" AND ");
    assert!(chain.len() <= MAX_CHECKS_BYTES);
    let fx = Fx::new();
    assert!(holds(&chain, &fx.ctx()));
    syntax(&"x".repeat(1_000_000));
}

// ---------------------------------------------------------------------------------------------
// Values

#[test]
fn size_units() {
    let fx = Fx::new();
    let mut ctx = fx.ctx();
    let cases: [(&str, u64); 10] = [
        ("'1mb'", 1_048_576),
        ("'1MB'", 1_048_576),
        ("\"10kb\"", 10_240),
        ("'10KB'", 10_240),
        ("'50mb'", 52_428_800),
        ("'1.5mb'", 1_572_864),
        ("'2gb'", 2_147_483_648),
        ("'100b'", 100),
        ("'100'", 100),
        ("100", 100),
    ];
    for (literal, bytes) in cases {
        let lt = format!("'file.size' < {literal}");
        let eq = format!("'file.size' = {literal}");
        let le = format!("'file.size' <= {literal}");
        ctx.file_size = SizeKnowledge::Exactly(bytes - 1);
        assert!(
            holds(&lt, &ctx) && holds(&le, &ctx) && !holds(&eq, &ctx),
            "{literal}"
        );
        ctx.file_size = SizeKnowledge::Exactly(bytes);
        assert!(
            !holds(&lt, &ctx) && holds(&le, &ctx) && holds(&eq, &ctx),
            "{literal}"
        );
        ctx.file_size = SizeKnowledge::Exactly(bytes + 1);
        assert!(
            !holds(&lt, &ctx) && !holds(&le, &ctx) && !holds(&eq, &ctx),
            "{literal}"
        );
    }
    // 1.3 kb = 1331.2 bytes: no file has exactly that size; comparisons are mathematical.
    ctx.file_size = SizeKnowledge::Exactly(1331);
    assert!(holds("'file.size' < '1.3kb'", &ctx));
    assert!(!holds("'file.size' = '1.3kb'", &ctx));
    ctx.file_size = SizeKnowledge::Exactly(1332);
    assert!(holds("'file.size' > '1.3kb'", &ctx));
    // Docs' loose prose aside, `<=` means at most (spec §7.4).
    ctx.file_size = SizeKnowledge::Exactly(50 << 20);
    assert!(holds("\"file.size\" <= \"50mb\"", &ctx));
}

#[test]
fn folder_normalisation() {
    let cases: [(&str, &str, bool); 28] = [
        // `=`: both sides without leading/trailing slashes.
        ("/engineering/", "= 'engineering'", true),
        ("/engineering/", "= '/engineering/'", true),
        ("/engineering/", "= 'engineering/'", true),
        ("/engineering/", "= '//engineering//'", true),
        ("/engineering/sub/", "= 'engineering'", false),
        ("/engineering/sub/", "= 'engineering/sub'", true),
        ("/", "= ''", true),
        ("/", "= '/'", true),
        ("/a/", "= ''", false),
        ("/a/", "= 'A'", false),
        // NOT =.
        ("/engineering/", "NOT = 'engineering'", false),
        ("/engineering/", "NOT = 'marketing'", true),
        // IN / NOT IN, docs example.
        ("/cars/", "IN ['apparels', 'cars']", true),
        ("/cars/", "IN ['/apparels/', '/cars/']", true),
        ("/cars/x/", "IN ['apparels', 'cars']", false),
        ("/", "IN ['apparels', '/']", true),
        ("/cars/", "NOT IN ['apparels', 'cars']", false),
        ("/boats/", "NOT IN ['apparels', 'cars']", true),
        // `:` on the trailing-slash form, literal's leading slash stripped.
        ("/marketing/", ": 'marketing/'", true),
        ("/marketing/2024/", ": 'marketing/'", true),
        ("/marketing-old/", ": 'marketing/'", false),
        ("/marketing/", ": '/marketing/'", true),
        ("/marketing/", ": 'marketing'", true),
        ("/marketing-old/", ": 'marketing'", true),
        ("/", ": 'marketing/'", false),
        ("/", ": ''", true),
        ("/", ": '/'", true),
        ("/offsites/q1/", ": 'offsites/q1/'", true),
    ];
    for (folder, tail, expected) in cases {
        let fx = Fx::new().folder(folder);
        let text = format!("'request.folder' {tail}");
        assert_eq!(holds(&text, &fx.ctx()), expected, "{folder} {tail}");
    }
}

#[test]
fn string_fields() {
    let fx = Fx::new().name("Report_2024.pdf");
    let mut ctx = fx.ctx();
    // Case-sensitive equality and prefix.
    assert!(holds("'request.fileName' = 'Report_2024.pdf'", &ctx));
    assert!(!holds("'request.fileName' = 'report_2024.pdf'", &ctx));
    assert!(holds("'request.fileName' : 'Rep'", &ctx));
    assert!(holds("'request.fileName' : ''", &ctx));
    assert!(!holds("'request.fileName' : 'rep'", &ctx));
    assert!(holds(
        "'request.fileName' IN ['x', 'Report_2024.pdf']",
        &ctx
    ));
    assert!(holds("'request.fileName' NOT IN ['x', 'y']", &ctx));
    // webhookUrl: present.
    ctx.webhook_url = Some("https://hooks.example.com/x");
    assert!(holds("'request.webhookUrl' : 'https://'", &ctx));
    ctx.webhook_url = Some("http://hooks.example.com/x");
    assert!(!holds("'request.webhookUrl' : 'https://'", &ctx));
    // Codecs.
    ctx.video_codec = Some("h264");
    ctx.audio_codec = Some("aac");
    assert!(holds("'mediaMetadata.videoCodec' IN ['h264', 'vp8']", &ctx));
    assert!(holds("'mediaMetadata.audioCodec' NOT = 'mp3'", &ctx));
    assert!(holds("'mediaMetadata.videoCodec' : 'h26'", &ctx));
}

#[test]
fn custom_coordinates_missing_reads_as_empty_string() {
    let fx = Fx::new();
    let mut ctx = fx.ctx();
    assert!(holds("'request.customCoordinates' = ''", &ctx));
    assert!(holds("'request.customCoordinates' : ''", &ctx));
    assert!(holds(
        "'request.customCoordinates' NOT = '10,10,100,100'",
        &ctx
    ));
    assert!(holds("'request.customCoordinates' IN ['']", &ctx));
    ctx.custom_coordinates = Some("10,10,100,100");
    assert!(holds("'request.customCoordinates' = '10,10,100,100'", &ctx));
    assert!(holds("'request.customCoordinates' : '10,'", &ctx));
    assert!(!holds("'request.customCoordinates' = ''", &ctx));
}

#[test]
fn tags_overlap_rules() {
    let none = Fx::new();
    let empty = Fx::new().tags(&[]);
    let some = Fx::new().tags(&["summer", "sale"]);
    for (fx, in_result, not_in_result) in [
        (&none, false, true),
        (&empty, false, true),
        (&some, true, false),
    ] {
        let ctx = fx.ctx();
        assert_eq!(
            holds("'request.tags' IN ['sale', 'winter']", &ctx),
            in_result
        );
        assert_eq!(
            holds("'request.tags' NOT IN ['sale', 'winter']", &ctx),
            not_in_result
        );
    }
    let ctx = some.ctx();
    assert!(!holds("'request.tags' IN ['Sale']", &ctx));
    assert!(holds("'request.tags' NOT IN ['winter']", &ctx));
}

#[test]
fn booleans() {
    let fx = Fx::new();
    let mut ctx = fx.ctx();
    let fields = [
        "request.useUniqueFileName",
        "request.isPrivateFile",
        "request.isPublished",
        "request.overwriteFile",
        "request.overwriteAITags",
        "request.overwriteTags",
        "request.overwriteCustomMetadata",
    ];
    // Effective defaults of spec §3.2.
    let defaults = [true, false, true, true, true, true, true];
    for (field, default) in fields.iter().zip(defaults) {
        assert_eq!(
            holds(&format!("'{field}' = true"), &ctx),
            default,
            "{field}"
        );
        assert_eq!(
            holds(&format!("'{field}' NOT = true"), &ctx),
            !default,
            "{field}"
        );
        assert_eq!(
            holds(&format!("'{field}' = false"), &ctx),
            !default,
            "{field}"
        );
    }
    ctx.use_unique_file_name = false;
    ctx.is_private_file = true;
    ctx.is_published = false;
    ctx.overwrite_file = false;
    ctx.overwrite_ai_tags = false;
    ctx.overwrite_tags = false;
    ctx.overwrite_custom_metadata = false;
    for (field, default) in fields.iter().zip(defaults) {
        assert_eq!(
            holds(&format!("'{field}' = true"), &ctx),
            !default,
            "{field}"
        );
    }
}

#[test]
fn numeric_media_fields() {
    let fx = Fx::new();
    let mut ctx = fx.ctx();
    ctx.duration = Some(12.5);
    ctx.bit_rate = Some(128_000);
    assert!(holds("'mediaMetadata.width' = 800", &ctx));
    assert!(holds("'mediaMetadata.width' = 800.0", &ctx));
    assert!(!holds("'mediaMetadata.width' = 800.5", &ctx));
    assert!(holds(
        "'mediaMetadata.width' >= 800 AND 'mediaMetadata.width' > 799.9",
        &ctx
    ));
    assert!(holds("'mediaMetadata.height' < 600.5", &ctx));
    assert!(!holds("'mediaMetadata.height' > 600", &ctx));
    assert!(holds("'mediaMetadata.width' > -1", &ctx));
    assert!(holds(
        "'mediaMetadata.duration' > 12 AND 'mediaMetadata.duration' < 13",
        &ctx
    ));
    assert!(holds("'mediaMetadata.duration' = 12.5", &ctx));
    assert!(holds("'mediaMetadata.bitRate' <= 128000", &ctx));
    ctx.duration = Some(f64::NAN);
    assert!(!holds("'mediaMetadata.duration' > 0", &ctx));
    assert!(!holds("'mediaMetadata.duration' <= 0", &ctx));
}

#[test]
fn missing_values() {
    // A still image: no duration, codecs or bit rate; no webhook; custom fields unset.
    let fx = Fx::new().meta(json!({"brand": null}));
    let mut ctx = fx.ctx();
    ctx.width = None;
    ctx.height = None;
    ctx.file_mime = None;
    let refused = [
        "'mediaMetadata.duration' = 0",
        "'mediaMetadata.duration' < 100",
        "'mediaMetadata.duration' >= 0",
        "'mediaMetadata.width' > 0",
        "'mediaMetadata.width' <= 100000",
        "'mediaMetadata.bitRate' < 1",
        "'mediaMetadata.videoCodec' = 'h264'",
        "'mediaMetadata.videoCodec' : ''",
        "'mediaMetadata.audioCodec' IN ['aac']",
        "'file.mime' : ''",
        "'request.webhookUrl' = ''",
        "'request.webhookUrl' : ''",
        "'request.webhookUrl' IN ['https://x']",
        "'request.customMetadata.brand' = 'Nike'",
        "'request.customMetadata.brand' : ''",
        "'request.customMetadata.quantitySold' < 0",
        "'request.customMetadata.quantitySold' >= 0",
        "'request.customMetadata.launch' < '9999-12-31'",
        "'request.customMetadata.featured' = false",
        "'request.customMetadata.size' = 'M'",
        "'request.customMetadata.tuple' IN ['luxury']",
        "'request.tags' IN ['a']",
    ];
    for text in refused {
        assert!(!holds(text, &ctx), "{text}");
    }
    let allowed = [
        "'mediaMetadata.videoCodec' NOT = 'h264'",
        "'mediaMetadata.audioCodec' NOT IN ['aac']",
        "'file.mime' NOT = 'image/png'",
        "'request.webhookUrl' NOT = 'https://x'",
        "'request.webhookUrl' NOT IN ['https://x']",
        "'request.customMetadata.brand' NOT = 'Nike'",
        "'request.customMetadata.quantitySold' NOT = 0",
        "'request.customMetadata.quantitySold' NOT IN [0]",
        "'request.customMetadata.launch' NOT = '2024-01-01'",
        "'request.customMetadata.featured' NOT = true",
        "'request.customMetadata.featured' NOT = false",
        "'request.customMetadata.size' NOT IN ['M']",
        "'request.customMetadata.tuple' NOT IN ['luxury']",
        "'request.tags' NOT IN ['a']",
    ];
    for text in allowed {
        assert!(holds(text, &ctx), "{text}");
    }
}

#[test]
fn custom_text_number_boolean() {
    let fx = Fx::new().meta(json!({
        "brand": "Nike Air",
        "notes": "line1\nline2",
        "quantitySold": 250,
        "featured": true,
    }));
    let ctx = fx.ctx();
    assert!(holds("'request.customMetadata.brand' = 'Nike Air'", &ctx));
    assert!(holds("'request.customMetadata.brand' : 'Nike'", &ctx));
    assert!(!holds("'request.customMetadata.brand' : 'nike'", &ctx));
    assert!(holds(
        "'request.customMetadata.brand' IN ['Adidas', 'Nike Air']",
        &ctx
    ));
    assert!(holds(
        "'request.customMetadata.notes' = \"line1\nline2\"",
        &ctx
    ));
    assert!(holds("'request.customMetadata.quantitySold' > 200", &ctx));
    assert!(holds("'request.customMetadata.quantitySold' = 250.0", &ctx));
    assert!(holds(
        "'request.customMetadata.quantitySold' IN [1, 250]",
        &ctx
    ));
    assert!(holds(
        "'request.customMetadata.quantitySold' NOT IN [1, 2]",
        &ctx
    ));
    assert!(holds(
        "'request.customMetadata.quantitySold' NOT = 251",
        &ctx
    ));
    assert!(holds("'request.customMetadata.featured' = true", &ctx));
    assert!(!holds("'request.customMetadata.featured' NOT = true", &ctx));

    let fx = Fx::new().meta(json!({"quantitySold": -2.5}));
    let ctx = fx.ctx();
    assert!(holds("'request.customMetadata.quantitySold' < -2", &ctx));
    assert!(holds("'request.customMetadata.quantitySold' >= -2.5", &ctx));
    let fx = Fx::new().meta(json!({"quantitySold": -7}));
    assert!(holds(
        "'request.customMetadata.quantitySold' = -7",
        &fx.ctx()
    ));

    // A value of the wrong JSON type (refused by step E2 before checks run) is simply unequal.
    let fx = Fx::new().meta(json!({"quantitySold": "250", "brand": 5}));
    let ctx = fx.ctx();
    assert!(!holds("'request.customMetadata.quantitySold' = 250", &ctx));
    assert!(!holds("'request.customMetadata.quantitySold' > 1", &ctx));
    assert!(holds(
        "'request.customMetadata.quantitySold' NOT = 250",
        &ctx
    ));
    assert!(!holds("'request.customMetadata.brand' : ''", &ctx));
}

#[test]
fn custom_dates_compare_as_instants() {
    let fx = Fx::new().meta(json!({"launch": "2024-01-01T12:12:12"}));
    let ctx = fx.ctx();
    assert!(holds(
        "'request.customMetadata.launch' > '2024-01-01'",
        &ctx
    ));
    assert!(holds(
        "'request.customMetadata.launch' >= '2024-01-01T12:12:12'",
        &ctx
    ));
    assert!(holds(
        "'request.customMetadata.launch' = '2024-01-01T12:12:12Z'",
        &ctx
    ));
    assert!(holds(
        "'request.customMetadata.launch' = '2024-01-01T14:12:12+02:00'",
        &ctx
    ));
    assert!(holds(
        "'request.customMetadata.launch' = '2024-01-01T12:12:12.000'",
        &ctx
    ));
    assert!(!holds(
        "'request.customMetadata.launch' = '2024-01-01'",
        &ctx
    ));
    assert!(holds(
        "'request.customMetadata.launch' < '2024-01-02'",
        &ctx
    ));
    assert!(holds(
        "'request.customMetadata.launch' <= '2024-01-01T12:12:12'",
        &ctx
    ));
    assert!(!holds(
        "'request.customMetadata.launch' < '2024-01-01T12:12:12'",
        &ctx
    ));
    assert!(holds(
        "'request.customMetadata.launch' IN ['2023-05-05', '2024-01-01T12:12:12']",
        &ctx
    ));
    assert!(holds(
        "'request.customMetadata.launch' NOT IN ['2023-05-05']",
        &ctx
    ));
    assert!(holds(
        "'request.customMetadata.launch' NOT = '2024-01-01'",
        &ctx
    ));

    // A date-only stored value is midnight UTC.
    let fx = Fx::new().meta(json!({"launch": "2024-01-01"}));
    let ctx = fx.ctx();
    assert!(holds(
        "'request.customMetadata.launch' = '2024-01-01T00:00:00'",
        &ctx
    ));
    assert!(holds(
        "'request.customMetadata.launch' = '2024-01-01T01:00+01:00'",
        &ctx
    ));
    assert!(holds(
        "'request.customMetadata.launch' < '2024-01-01T00:00:01'",
        &ctx
    ));

    // An unreadable stored date (refused by E2 in practice) is a missing value.
    let fx = Fx::new().meta(json!({"launch": "soon"}));
    let ctx = fx.ctx();
    assert!(!holds(
        "'request.customMetadata.launch' < '9999-12-31'",
        &ctx
    ));
    assert!(holds(
        "'request.customMetadata.launch' NOT = '2024-01-01'",
        &ctx
    ));
}

#[test]
fn single_select() {
    let text = Fx::new().meta(json!({"size": "M"}));
    let number = Fx::new().meta(json!({"size": 42}));
    let boolean = Fx::new().meta(json!({"size": true}));
    let (t, n, b) = (text.ctx(), number.ctx(), boolean.ctx());
    // Equality is type and value.
    assert!(holds("'request.customMetadata.size' = 'M'", &t));
    assert!(!holds("'request.customMetadata.size' = 'm'", &t));
    assert!(holds("'request.customMetadata.size' = 42", &n));
    assert!(!holds("'request.customMetadata.size' = '42'", &n));
    assert!(holds("'request.customMetadata.size' NOT = '42'", &n));
    assert!(holds("'request.customMetadata.size' = true", &b));
    assert!(!holds("'request.customMetadata.size' = 'true'", &b));
    assert!(holds(
        "'request.customMetadata.size' IN ['S', 42, false]",
        &n
    ));
    assert!(!holds(
        "'request.customMetadata.size' IN ['S', 42, false]",
        &b
    ));
    assert!(holds(
        "'request.customMetadata.size' NOT IN ['S', 42, false]",
        &b
    ));
    // Ordering only has meaning for a numeric value.
    assert!(holds("'request.customMetadata.size' > 41.5", &n));
    assert!(!holds("'request.customMetadata.size' > 41.5", &t));
    assert!(!holds("'request.customMetadata.size' <= 41.5", &t));
    assert!(!holds("'request.customMetadata.size' < 1", &b));
    // Prefix only has meaning for a string value.
    assert!(holds("'request.customMetadata.size' : 'M'", &t));
    assert!(holds("'request.customMetadata.size' : ''", &t));
    assert!(!holds("'request.customMetadata.size' : '4'", &n));
}

#[test]
fn multi_select() {
    let fx = Fx::new().meta(json!({"tuple": ["luxury", 500, true]}));
    let ctx = fx.ctx();
    assert!(holds("'request.customMetadata.tuple' IN ['luxury']", &ctx));
    assert!(holds("'request.customMetadata.tuple' IN [500]", &ctx));
    assert!(holds("'request.customMetadata.tuple' IN [500.0]", &ctx));
    assert!(holds("'request.customMetadata.tuple' IN [true]", &ctx));
    assert!(holds(
        "'request.customMetadata.tuple' IN ['x', 'y', true]",
        &ctx
    ));
    assert!(!holds(
        "'request.customMetadata.tuple' IN ['500', 'true', false, 'Luxury']",
        &ctx
    ));
    assert!(holds(
        "'request.customMetadata.tuple' NOT IN ['500', 'true', false]",
        &ctx
    ));
    assert!(!holds(
        "'request.customMetadata.tuple' NOT IN ['cheap', 500]",
        &ctx
    ));
    // An empty selection overlaps nothing.
    let fx = Fx::new().meta(json!({"tuple": []}));
    let ctx = fx.ctx();
    assert!(!holds("'request.customMetadata.tuple' IN ['luxury']", &ctx));
    assert!(holds(
        "'request.customMetadata.tuple' NOT IN ['luxury']",
        &ctx
    ));
    // A non-array value (refused by E2) is missing.
    let fx = Fx::new().meta(json!({"tuple": "luxury"}));
    let ctx = fx.ctx();
    assert!(!holds("'request.customMetadata.tuple' IN ['luxury']", &ctx));
    assert!(holds(
        "'request.customMetadata.tuple' NOT IN ['luxury']",
        &ctx
    ));
}

// ---------------------------------------------------------------------------------------------
// Streaming: partial evaluation

#[test]
fn size_lower_bound_decides_less_than_early() {
    let fx = Fx::new();
    let checks = ok("'file.size' < '1mb'");
    let mut ctx = fx.streaming();
    ctx.file_size = SizeKnowledge::AtLeast(1000);
    assert_eq!(checks.evaluate_partial(&ctx), Verdict::Unknown);
    assert!(!checks.is_certainly_false(&ctx));
    ctx.file_size = SizeKnowledge::AtLeast(1_048_575);
    assert_eq!(checks.evaluate_partial(&ctx), Verdict::Unknown);
    // Exactly 1 MiB received: the final size is >= 1 MiB, so `< 1 MiB` is impossible.
    ctx.file_size = SizeKnowledge::AtLeast(1_048_576);
    assert_eq!(checks.evaluate_partial(&ctx), Verdict::False);
    ctx.file_size = SizeKnowledge::AtLeast(1_048_577);
    assert_eq!(checks.evaluate_partial(&ctx), Verdict::False);
    assert!(checks.is_certainly_false(&ctx));
}

#[test]
fn size_lower_bound_per_operator() {
    let fx = Fx::new();
    let mut ctx = fx.streaming();
    let verdict = |text: &str, ctx: &CheckContext<'_>| ok(text).evaluate_partial(ctx);
    use Verdict::{False as F, True as T, Unknown as U};
    // (operator, verdict at n = 99, 100, 101) for the limit 100.
    for (op, expected) in [
        ("<", [U, F, F]),
        ("<=", [U, U, F]),
        (">", [U, U, T]),
        (">=", [U, T, T]),
        ("=", [U, U, F]),
    ] {
        for (n, want) in [99, 100, 101].into_iter().zip(expected) {
            ctx.file_size = SizeKnowledge::AtLeast(n);
            assert_eq!(
                verdict(&format!("'file.size' {op} 100"), &ctx),
                want,
                "{op} n={n}"
            );
        }
    }
    // A fractional size can never be equalled.
    ctx.file_size = SizeKnowledge::AtLeast(0);
    assert_eq!(verdict("'file.size' = '1.3kb'", &ctx), F);
    // Negative limits.
    assert_eq!(verdict("'file.size' > -1", &ctx), T);
    assert_eq!(verdict("'file.size' < 0", &ctx), F);
    assert_eq!(verdict("'file.size' >= 0", &ctx), T);
}

#[test]
fn or_with_a_known_request_value_is_decided_immediately() {
    let fx = Fx::new().folder("x");
    let ctx = fx.streaming();
    let checks = ok("'file.size' > '1mb' OR \"request.folder\" = \"x\"");
    assert_eq!(checks.evaluate_partial(&ctx), Verdict::True);
    let other = Fx::new().folder("y");
    assert_eq!(
        checks.evaluate_partial(&other.streaming()),
        Verdict::Unknown
    );
    // AND with a false request condition is decided just as early.
    let checks = ok("'file.mime' : 'image/' AND \"request.folder\" = \"x\"");
    assert_eq!(checks.evaluate_partial(&other.streaming()), Verdict::False);
}

#[test]
fn unknown_file_facts() {
    let fx = Fx::new();
    let ctx = fx.streaming();
    for text in [
        "'file.mime' = 'image/png'",
        "'file.mime' NOT = 'image/png'",
        "'file.mime' NOT IN ['image/png']",
        "'mediaMetadata.width' < 100",
        "'mediaMetadata.duration' = 1",
        "'mediaMetadata.videoCodec' NOT = 'h264'",
        "'mediaMetadata.bitRate' > 1",
    ] {
        assert_eq!(ok(text).evaluate_partial(&ctx), Verdict::Unknown, "{text}");
    }
    // Once sniffed, the MIME type decides.
    let mut ctx = fx.streaming();
    ctx.file_mime = Some("application/pdf");
    assert_eq!(
        ok("'file.mime' : 'image/'").evaluate_partial(&ctx),
        Verdict::False
    );
    assert_eq!(
        ok("'file.mime' NOT = 'x'").evaluate_partial(&ctx),
        Verdict::True
    );
    // Kleene tables: False AND Unknown = False, True OR Unknown = True.
    let f = "'request.isPrivateFile' = true";
    let t = "'request.isPublished' = true";
    let u = "'mediaMetadata.width' > 1";
    let cases = [
        (format!("{f} AND {u}"), Verdict::False),
        (format!("{u} AND {f}"), Verdict::False),
        (format!("{t} AND {u}"), Verdict::Unknown),
        (format!("{t} OR {u}"), Verdict::True),
        (format!("{u} OR {t}"), Verdict::True),
        (format!("{f} OR {u}"), Verdict::Unknown),
        (format!("{u} AND {u}"), Verdict::Unknown),
        (format!("{u} OR {u}"), Verdict::Unknown),
        (format!("({f} OR {u}) AND {f}"), Verdict::False),
        (format!("({t} AND {u}) OR {t}"), Verdict::True),
    ];
    let ctx = fx.streaming();
    for (text, expected) in cases {
        assert_eq!(ok(&text).evaluate_partial(&ctx), expected, "{text}");
    }
}

#[test]
fn final_verdict_reads_none_as_absent_and_fails_closed_on_unfinished_size() {
    let fx = Fx::new();
    let mut ctx = fx.streaming();
    ctx.file_size = SizeKnowledge::Exactly(10);
    assert!(ok("'file.mime' NOT = 'image/png'").final_verdict(&ctx));
    assert!(!ok("'file.mime' = 'image/png'").final_verdict(&ctx));
    // The size is not final: an undecided size condition cannot pass.
    ctx.file_size = SizeKnowledge::AtLeast(10);
    assert!(!ok("'file.size' < 100").final_verdict(&ctx));
    // A decided one can.
    assert!(ok("'file.size' > 5").final_verdict(&ctx));
}

#[test]
fn references() {
    let c = ok("'request.folder' = 'a'");
    assert!(!c.references_file_size() && !c.references_file_mime() && !c.references_media());
    assert!(c.references_only_request() && !c.references_file_name());
    let c = ok("'request.folder' = 'a' OR ('file.mime' : 'image' AND 'request.fileName' : 'x')");
    assert!(c.references_file_mime() && !c.references_media() && !c.references_file_size());
    assert!(c.references_file_name() && !c.references_only_request());
    assert!(!c.references_only_file());
    let c = ok("'file.size' < 5");
    assert!(c.references_file_size() && !c.references_only_request());
    assert!(c.references_only_file());
    assert!(ok("'file.mime' : 'image/' AND 'mediaMetadata.width' < 9").references_only_file());
    assert!(!ok("'file.size' < 5 OR 'request.folder' = 'a'").references_only_file());
    for media in [
        "'mediaMetadata.width' > 1",
        "'mediaMetadata.height' > 1",
        "'mediaMetadata.duration' > 1",
        "'mediaMetadata.bitRate' > 1",
        "'mediaMetadata.videoCodec' = 'x'",
        "'mediaMetadata.audioCodec' = 'x'",
    ] {
        let c = ok(&format!(
            "'request.isPublished' = true AND ({media} OR 'file.size' > 1)"
        ));
        assert!(c.references_media() && !c.references_file_mime(), "{media}");
    }
}

#[test]
fn context_from_upload_params() {
    let params = match crate::parse_upload_params(&[
        ("fileName", "a b.jpg"),
        ("folder", "x/y"),
        ("tags", "t1,t2"),
        ("isPrivateFile", "true"),
        ("overwriteTags", "false"),
        ("customCoordinates", "1,2,3,4"),
    ]) {
        Ok(params) => params,
        Err(e) => panic!("{e}"),
    };
    let metadata = Map::new();
    let ctx = CheckContext::for_upload(&params, "a_b_Kp3x9QzLm.jpg", &metadata);
    for text in [
        "'request.fileName' = 'a_b_Kp3x9QzLm.jpg'",
        "'request.folder' = 'x/y'",
        "'request.tags' IN ['t2']",
        "'request.isPrivateFile' = true",
        "'request.overwriteTags' = false",
        "'request.overwriteFile' = true",
        "'request.useUniqueFileName' = true",
        "'request.customCoordinates' = '1,2,3,4'",
    ] {
        assert_eq!(ok(text).evaluate_partial(&ctx), Verdict::True, "{text}");
    }
}

// ---------------------------------------------------------------------------------------------
// Printing

#[test]
fn display_is_canonical_and_reparses() {
    let cases = [
        ("'file.size' < '1mb'", "\"file.size\" < 1048576"),
        ("'file.size' < '1.5KB'", "\"file.size\" < 1536"),
        (
            "'file.mime' in ['image/jpeg','image/png']",
            "\"file.mime\" IN [\"image/jpeg\", \"image/png\"]",
        ),
        ("'request.fileName' not= 'it\\'s'", "\"request.fileName\" NOT = \"it's\""),
        ("'request.fileName' = 'say \"hi\" \\\\'", "\"request.fileName\" = \"say \\\"hi\\\" \\\\\""),
        (
            "'request.isPublished' = TRUE or ('request.isPrivateFile' = False and 'request.tags' not in ['a'])",
            "\"request.isPublished\" = true OR \"request.isPrivateFile\" = false AND \"request.tags\" NOT IN [\"a\"]",
        ),
        (
            "('request.isPublished' = true or 'request.isPrivateFile' = false) and 'file.size' > 0",
            "(\"request.isPublished\" = true OR \"request.isPrivateFile\" = false) AND \"file.size\" > 0",
        ),
        ("((('file.size' >= -0.5)))", "\"file.size\" >= -0.5"),
        (
            "'request.customMetadata.launch' >= '2024-01-01T10:00:00Z'",
            "\"request.customMetadata.launch\" >= \"2024-01-01T10:00:00Z\"",
        ),
        (
            "'request.customMetadata.tuple' NOT IN ['a', 5, true]",
            "\"request.customMetadata.tuple\" NOT IN [\"a\", 5, true]",
        ),
        ("'mediaMetadata.duration' = 007.50", "\"mediaMetadata.duration\" = 7.5"),
    ];
    for (input, printed) in cases {
        let checks = ok(input);
        assert_eq!(checks.to_string(), printed, "{input}");
        assert_eq!(ok(printed), checks, "{input}");
    }
}

#[test]
fn printed_form_may_outgrow_the_length_limit() {
    // Each `'1mb'` (5 bytes) prints as `1048576` (7 bytes).
    let condition = "'file.size'<'1mb'";
    let count = MAX_CHECKS_BYTES / (condition.len() + 4);
    let text = vec![condition; count].join(" OR ");
    assert!(text.len() <= MAX_CHECKS_BYTES);
    let printed = ok(&text).to_string();
    assert!(printed.len() > MAX_CHECKS_BYTES);
    syntax(&printed);
}
