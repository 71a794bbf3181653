//! Property tests of the `checks` language: robustness on arbitrary input, print/parse round
//! trips, and the soundness of streaming (partial) evaluation.

use folio_contract::{
    parse_checks, CheckContext, Checks, CustomFieldType, Folder, SizeKnowledge, Verdict,
};
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{json, Map, Value};

fn schemas(name: &str) -> Option<CustomFieldType> {
    Some(match name {
        "brand" => CustomFieldType::Text,
        "qty" => CustomFieldType::Number,
        "launch" => CustomFieldType::Date,
        "featured" => CustomFieldType::Boolean,
        "size" => CustomFieldType::SingleSelect,
        "tuple" => CustomFieldType::MultiSelect,
        _ => return None,
    })
}

fn parse(text: &str) -> Option<Checks> {
    parse_checks(text, &schemas).ok()
}

// ------------------------------------------------------------------------------------------
// Generators of valid expression text, with the lexical freedom the language allows: either
// quote style, escapes, any keyword case, varied whitespace, redundant parentheses.

/// Quotes `text` in the given style, escaping what must be escaped and, sometimes, what may be.
fn quote(text: &str, double: bool, escape_other: bool) -> String {
    let (q, other) = if double { ('"', '\'') } else { ('\'', '"') };
    let mut out = String::from(q);
    for c in text.chars() {
        if c == q || c == '\\' || (escape_other && c == other) {
            out.push('\\');
        }
        out.push(c);
    }
    out.push(q);
    out
}

fn quoted(values: &'static [&'static str]) -> impl Strategy<Value = String> {
    (select(values), any::<bool>(), any::<bool>()).prop_map(|(v, d, e)| quote(v, d, e))
}

fn ws() -> impl Strategy<Value = &'static str> {
    select(&[" ", " ", "  ", "\n", "\t", "\r\n ", ""][..])
}

fn any_case(word: &'static str) -> impl Strategy<Value = String> {
    proptest::collection::vec(any::<bool>(), word.len()).prop_map(move |upper| {
        word.chars()
            .zip(upper)
            .map(|(c, u)| {
                if u {
                    c.to_ascii_uppercase()
                } else {
                    c.to_ascii_lowercase()
                }
            })
            .collect()
    })
}

fn boolean() -> impl Strategy<Value = String> {
    prop_oneof![any_case("true"), any_case("false")]
}

fn number() -> impl Strategy<Value = String> {
    "-?[0-9]{1,4}(\\.[0-9]{1,3})?"
}

fn list(item: BoxedStrategy<String>) -> impl Strategy<Value = String> {
    (proptest::collection::vec((item, ws()), 1..4), ws()).prop_map(|(items, end)| {
        let body: Vec<String> = items.into_iter().map(|(i, w)| format!("{w}{i}")).collect();
        format!("[{}{end}]", body.join(","))
    })
}

fn operator(ops: &'static [&'static str]) -> impl Strategy<Value = String> {
    (select(ops), any_case("not"), ws()).prop_map(|(op, not, gap)| {
        // `NOT` is a keyword (any case) and the gap before `=` / `IN` is optional.
        match op.strip_prefix("NOT ") {
            Some(rest) => {
                let gap = if gap.is_empty() && rest == "IN" {
                    " "
                } else {
                    gap
                };
                format!("{not}{gap}{rest}")
            }
            None => op.to_string(),
        }
    })
}

const STRINGS: &[&str] = &[
    "",
    "a",
    "a/",
    "/a/",
    "marketing/",
    "image/",
    "image/png",
    "video/mp4",
    "x'y",
    "q\"z",
    "b\\c",
    "h264",
    "ünï",
    "https://",
    "1,2,3,4",
];
const DATES: &[&str] = &[
    "2024-01-01",
    "2024-01-01T12:12:12",
    "2023-12-31T23:00:00Z",
    "2024-01-01T01:00:00+01:00",
    "2000-02-29T00:00:00.5",
];
const SIZES: &[&str] = &[
    "0", "100", "1kb", "1.5mb", "10KB", "1MB", "2gb", "7b", "1.3kb",
];

/// One condition, with the operator and literal kinds of spec §7.3.
fn condition() -> BoxedStrategy<String> {
    let string_fields = select(
        &[
            "request.fileName",
            "request.folder",
            "request.customCoordinates",
            "request.webhookUrl",
            "file.mime",
            "mediaMetadata.videoCodec",
            "mediaMetadata.audioCodec",
            "request.customMetadata.brand",
        ][..],
    );
    let scalar_string = (
        string_fields.clone(),
        operator(&["=", "NOT =", ":"]),
        quoted(STRINGS),
    )
        .prop_map(|(f, op, v)| (f, op, v));
    let list_string = (
        prop_oneof![string_fields, Just("request.tags")],
        operator(&["IN", "NOT IN"]),
        list(quoted(STRINGS).boxed()),
    );
    let booleans = (
        select(
            &[
                "request.useUniqueFileName",
                "request.isPrivateFile",
                "request.isPublished",
                "request.overwriteFile",
                "request.overwriteAITags",
                "request.overwriteTags",
                "request.overwriteCustomMetadata",
                "request.customMetadata.featured",
            ][..],
        ),
        operator(&["=", "NOT ="]),
        boolean(),
    );
    let numbers = (
        select(
            &[
                "mediaMetadata.width",
                "mediaMetadata.height",
                "mediaMetadata.duration",
                "mediaMetadata.bitRate",
                "file.size",
            ][..],
        ),
        operator(&["=", "<", "<=", ">", ">="]),
        number(),
    );
    let sizes = (
        Just("file.size"),
        operator(&["=", "<", "<=", ">", ">="]),
        quoted(SIZES),
    );
    let custom_numbers = prop_oneof![
        (
            Just("request.customMetadata.qty"),
            operator(&["=", "NOT =", "<", "<=", ">", ">="]),
            number().boxed()
        ),
        (
            Just("request.customMetadata.qty"),
            operator(&["IN", "NOT IN"]),
            list(number().boxed()).boxed()
        ),
    ];
    let dates = prop_oneof![
        (
            Just("request.customMetadata.launch"),
            operator(&["=", "NOT =", "<", "<=", ">", ">="]),
            quoted(DATES).boxed()
        ),
        (
            Just("request.customMetadata.launch"),
            operator(&["IN", "NOT IN"]),
            list(quoted(DATES).boxed()).boxed()
        ),
    ];
    let any_scalar = prop_oneof![quoted(STRINGS), number().boxed(), boolean()].boxed();
    let selects = prop_oneof![
        (
            Just("request.customMetadata.size"),
            operator(&["=", "NOT ="]),
            any_scalar.clone()
        ),
        (
            Just("request.customMetadata.size"),
            operator(&["<", "<=", ">", ">="]),
            number().boxed()
        ),
        (
            Just("request.customMetadata.size"),
            operator(&[":"]),
            quoted(STRINGS).boxed()
        ),
        (
            prop_oneof![
                Just("request.customMetadata.size"),
                Just("request.customMetadata.tuple")
            ],
            operator(&["IN", "NOT IN"]),
            list(any_scalar).boxed()
        ),
    ];
    prop_oneof![
        scalar_string.prop_map(|(f, o, v)| (f, o, v)).boxed(),
        list_string.prop_map(|(f, o, v)| (f, o, v)).boxed(),
        booleans.boxed(),
        numbers.prop_map(|(f, o, v)| (f, o, v)).boxed(),
        sizes.boxed(),
        custom_numbers.boxed(),
        dates.boxed(),
        selects.boxed(),
    ]
    .prop_flat_map(|(field, op, value)| {
        (any::<bool>(), any::<bool>(), ws(), ws()).prop_map(move |(double, esc, w1, w2)| {
            // A keyword operator needs a separator from a following bare keyword such as
            // `true`; quotes, brackets and digits delimit themselves.
            let w2 = if w2.is_empty() && value.starts_with(|c: char| c.is_alphabetic()) {
                " "
            } else {
                w2
            };
            let w1 = if w1.is_empty() && op.starts_with(|c: char| c.is_alphabetic()) {
                " "
            } else {
                w1
            };
            format!("{}{w1}{op}{w2}{value}", quote(field, double, esc))
        })
    })
    .boxed()
}

fn expression() -> impl Strategy<Value = String> {
    condition().prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            (inner.clone(), any_case("and"), inner.clone())
                .prop_map(|(a, k, b)| format!("{a} {k} {b}")),
            (inner.clone(), any_case("or"), inner.clone())
                .prop_map(|(a, k, b)| format!("{a} {k} {b}")),
            (inner, ws(), ws()).prop_map(|(e, w1, w2)| format!("({w1}{e}{w2})")),
        ]
    })
}

/// Sequences of the language's tokens and near-misses: reaches deep parser states that
/// arbitrary Unicode rarely does.
fn token_soup() -> impl Strategy<Value = String> {
    let token = select(
        &[
            "'file.size'",
            "\"file.mime\"",
            "'request.folder'",
            "'request.tags'",
            "'request.customMetadata.size'",
            "'request.customMetadata.tuple'",
            "'request.customMetadata.launch'",
            "'1mb'",
            "'image/'",
            "'2024-01-01'",
            "1",
            "-2.5",
            "true",
            "FALSE",
            "AND",
            "or",
            "IN",
            "NOT",
            "=",
            ":",
            "<",
            "<=",
            ">",
            ">=",
            "(",
            ")",
            "[",
            "]",
            ",",
            " ",
            "\n",
            "'",
            "\"",
            "\\",
            "x",
            "1mb",
            "..",
            "!",
            "é",
        ][..],
    );
    proptest::collection::vec(token, 0..40).prop_map(|tokens| tokens.concat())
}

// ------------------------------------------------------------------------------------------
// Contexts

struct Request {
    folder: Folder,
    tags: Vec<String>,
    metadata: Map<String, Value>,
}

fn request() -> impl Strategy<Value = (u8, u8, bool)> {
    (0..4u8, 0..4u8, any::<bool>())
}

impl Request {
    fn new((folder, metadata, _): (u8, u8, bool)) -> Request {
        let folder = ["/", "/a/", "/marketing/2024/", "/image/"][usize::from(folder)];
        let metadata = [
            json!({}),
            json!({"brand": "a/", "qty": 100, "launch": "2024-01-01", "size": "image/", "tuple": ["a", 100, true]}),
            json!({"qty": -1.5, "featured": true, "size": 1000, "tuple": []}),
            json!({"brand": null, "launch": "2024-01-01T12:12:12", "size": false}),
        ][usize::from(metadata)]
        .clone();
        Request {
            folder: Folder::parse(folder).unwrap_or_default(),
            tags: vec!["a".into(), "image/png".into()],
            metadata: metadata.as_object().cloned().unwrap_or_default(),
        }
    }

    fn ctx(&self, with_tags: bool) -> CheckContext<'_> {
        let mut ctx = CheckContext::new("image/png", &self.folder, &self.metadata);
        if with_tags {
            ctx.tags = Some(&self.tags);
        }
        ctx.webhook_url = Some("https://hooks");
        ctx
    }
}

/// One possible truth about the file: every fact `Some` or absent.
#[derive(Debug, Clone)]
struct FileFacts {
    mime: Option<&'static str>,
    width: Option<u64>,
    duration: Option<f64>,
    codec: Option<&'static str>,
}

fn file_facts() -> impl Strategy<Value = FileFacts> {
    (
        proptest::option::of(select(&["image/png", "video/mp4", "image/", "a/"][..])),
        proptest::option::of(0..2000u64),
        proptest::option::of(select(&[0.0, 1.5, 100.0, 1234.5][..])),
        proptest::option::of(select(&["h264", "", "aac"][..])),
    )
        .prop_map(|(mime, width, duration, codec)| FileFacts {
            mime,
            width,
            duration,
            codec,
        })
}

/// Which facts the streaming server already knows.
#[derive(Debug, Clone, Copy)]
struct Knowledge {
    mime: bool,
    width: bool,
    duration: bool,
    codec: bool,
}

fn knowledge() -> impl Strategy<Value = Knowledge> {
    (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()).prop_map(
        |(mime, width, duration, codec)| Knowledge {
            mime,
            width,
            duration,
            codec,
        },
    )
}

fn set_facts(ctx: &mut CheckContext<'_>, facts: &FileFacts, known: Option<Knowledge>) {
    let all = Knowledge {
        mime: true,
        width: true,
        duration: true,
        codec: true,
    };
    let known = known.unwrap_or(all);
    ctx.file_mime = facts.mime.filter(|_| known.mime);
    ctx.width = facts.width.filter(|_| known.width);
    ctx.height = facts.width.filter(|_| known.width);
    ctx.duration = facts.duration.filter(|_| known.duration);
    ctx.video_codec = facts.codec.filter(|_| known.codec);
    ctx.audio_codec = facts.codec.filter(|_| known.codec);
    ctx.bit_rate = facts.width.filter(|_| known.width);
}

/// Final sizes to try for a lower bound `n`: the bound itself, its neighbours, the literal
/// values the generators use (and theirs), and far beyond.
fn final_sizes(n: u64) -> Vec<u64> {
    let mut sizes = vec![
        n,
        n + 1,
        n + 2,
        n + 99,
        n + 1000,
        n + (1 << 20),
        u64::MAX / 2,
    ];
    for limit in [
        0u64,
        7,
        100,
        1024,
        1331,
        1332,
        1536,
        1 << 20,
        1_572_864,
        2 << 30,
    ] {
        for s in [limit.saturating_sub(1), limit, limit + 1] {
            if s >= n {
                sizes.push(s);
            }
        }
    }
    sizes
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(768))]

    #[test]
    fn parser_never_panics_on_arbitrary_text(text in any::<String>()) {
        let _ = parse_checks(&text, &schemas);
    }

    #[test]
    fn parser_never_panics_on_token_soup(text in token_soup()) {
        if let Some(checks) = parse(&text) {
            // Whatever parses also prints and re-parses to the same tree.
            let printed = checks.to_string();
            prop_assert_eq!(parse(&printed), Some(checks), "{:?} -> {:?}", text, printed);
        }
    }

    #[test]
    fn generated_expressions_parse_and_round_trip(text in expression()) {
        let checks = parse(&text);
        prop_assert!(checks.is_some(), "refused: {:?}", text);
        let checks = checks.unwrap_or_else(|| unreachable!());
        let printed = checks.to_string();
        let reparsed = parse(&printed);
        prop_assert_eq!(reparsed.as_ref(), Some(&checks), "{:?} -> {:?}", text, printed);
        // Printing is canonical: printing the re-parsed tree gives the same text.
        prop_assert_eq!(reparsed.map(|c| c.to_string()), Some(printed));
    }

    #[test]
    fn printed_form_evaluates_like_the_original(
        text in expression(),
        req in request(),
        facts in file_facts(),
        size in 0..3_000_000u64,
    ) {
        let Some(checks) = parse(&text) else { return Err(TestCaseError::fail("refused")) };
        let reparsed = parse(&checks.to_string());
        prop_assert!(reparsed.is_some());
        let reparsed = reparsed.unwrap_or_else(|| unreachable!());
        let request = Request::new(req);
        let mut ctx = request.ctx(req.2);
        set_facts(&mut ctx, &facts, None);
        ctx.file_size = SizeKnowledge::Exactly(size);
        prop_assert_eq!(checks.final_verdict(&ctx), reparsed.final_verdict(&ctx));
    }

    /// With every fact known, the partial evaluation is decided and equals the final verdict.
    #[test]
    fn partial_with_everything_known_is_final(
        text in expression(),
        req in request(),
        facts in file_facts(),
        size in 0..3_000_000u64,
    ) {
        let Some(checks) = parse(&text) else { return Err(TestCaseError::fail("refused")) };
        let request = Request::new(req);
        let mut ctx = request.ctx(req.2);
        set_facts(&mut ctx, &facts, None);
        ctx.file_size = SizeKnowledge::Exactly(size);
        let everything_present = ctx.file_mime.is_some()
            && ctx.width.is_some()
            && ctx.duration.is_some()
            && ctx.video_codec.is_some();
        let partial = checks.evaluate_partial(&ctx);
        if everything_present {
            prop_assert_ne!(partial, Verdict::Unknown);
            prop_assert_eq!(partial == Verdict::True, checks.final_verdict(&ctx));
        }
    }

    /// The streaming guarantee: a decided partial verdict is never contradicted by the final
    /// verdict of any completion (known facts kept, unknown facts anything, size >= n).
    #[test]
    fn partial_evaluation_never_contradicts_the_final_verdict(
        text in expression(),
        req in request(),
        truth in file_facts(),
        known in knowledge(),
        other in proptest::collection::vec(file_facts(), 3),
        n in prop_oneof![0..2000u64, 1_000_000..1_100_000u64, Just(1_572_864u64)],
    ) {
        let Some(checks) = parse(&text) else { return Err(TestCaseError::fail("refused")) };
        let request = Request::new(req);
        let mut partial_ctx = request.ctx(req.2);
        set_facts(&mut partial_ctx, &truth, Some(known));
        partial_ctx.file_size = SizeKnowledge::AtLeast(n);
        let partial = checks.evaluate_partial(&partial_ctx);
        if partial == Verdict::Unknown {
            return Ok(());
        }
        let expected = partial == Verdict::True;
        // Completions: the unknown facts take the true values or any of a few others.
        for completion in std::iter::once(&truth).chain(&other) {
            let merged = FileFacts {
                mime: if known.mime { truth.mime } else { completion.mime },
                width: if known.width { truth.width } else { completion.width },
                duration: if known.duration { truth.duration } else { completion.duration },
                codec: if known.codec { truth.codec } else { completion.codec },
            };
            for size in final_sizes(n) {
                let mut final_ctx = request.ctx(req.2);
                set_facts(&mut final_ctx, &merged, None);
                final_ctx.file_size = SizeKnowledge::Exactly(size);
                prop_assert_eq!(
                    checks.final_verdict(&final_ctx),
                    expected,
                    "{} : partial {:?} at n={}, final size {}, facts {:?}",
                    checks, partial, n, size, merged
                );
            }
        }
    }
}
