//! The fuzz targets' checks on generated inputs: arbitrary bytes, and generators that stay
//! near each grammar so that most cases get past the first parse error. CI runs these; the
//! long runs are `scripts/fuzz.sh`.

use folio_fuzz::{NOW, PRIVATE_KEY, PUBLIC_KEY};
use proptest::prelude::*;
use proptest::sample::select;

/// Cases per property: enough to reach every generator branch, small enough for a debug build.
fn config() -> ProptestConfig {
    ProptestConfig::with_cases(256)
}

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..200)
}

/// Text biased towards what names and paths care about, mixed with arbitrary Unicode.
fn tricky_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9 ./\\\\_%,:;#?&=+\\-~]{0,40}",
        "[/.a\u{e9}\u{301}\u{1F600}\u{0}\u{a0}\u{200b}\u{2116}\u{663}\u{2162}\t ]{0,40}",
        any::<String>(),
    ]
}

fn lines(parts: &[String]) -> Vec<u8> {
    parts.join("\n").into_bytes()
}

// ------------------------------------------------------------------------------------------
// jwt

fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn header() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => Just(format!(r#"{{"alg":"HS256","typ":"JWT","kid":"{PUBLIC_KEY}"}}"#)),
        1 => Just(format!(r#"{{"alg":"HS256","kid":"{PUBLIC_KEY}"}}"#)),
        1 => select(&[
            r#"{"alg":"HS256","typ":"JWS","kid":"k"}"#,
            r#"{"alg":"none","kid":"k"}"#,
            r#"{"alg":"HS256"}"#,
            r#"{"alg":"HS256","kid":7}"#,
            r#"{"alg":"HS256","kid":"a","kid":"b"}"#,
            r#"["alg","HS256"]"#,
        ][..]).prop_map(str::to_owned),
        1 => any::<String>(),
    ]
}

/// `iat` and `exp`: mostly a lifetime around the allowed one from an `iat` around [`NOW`], so
/// that many tokens verify; sometimes odd JSON.
fn times() -> impl Strategy<Value = (String, String)> {
    let odd = || {
        prop_oneof![
            any::<i64>().prop_map(|t| t.to_string()),
            select(&["1735689600.0", "\"1735689600\"", "1e9", "null", "-0"][..])
                .prop_map(str::to_owned),
        ]
    };
    prop_oneof![
        6 => (-4000i64..100, -10i64..3700)
            .prop_map(|(iat, lifetime)| ((NOW + iat).to_string(), (NOW + iat + lifetime).to_string())),
        1 => (odd(), odd()),
        1 => ((-100i64..100).prop_map(|t| (NOW + t).to_string()), odd()),
    ]
}

fn not_before() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        3 => Just(None),
        1 => (-100i64..100).prop_map(|t| Some((NOW + t).to_string())),
        1 => select(&["1.5", "\"0\"", "null"][..]).prop_map(|t| Some(t.to_owned())),
    ]
}

fn param_value() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-z0-9,./ ]{0,8}".prop_map(|s| serde_json::Value::from(s).to_string()),
        1 => select(&["1", "true", "null", "[]", "{}"][..]).prop_map(str::to_owned),
    ]
}

/// Claims JSON, then form fields that match them, miss one, change one or add one.
fn claims_and_fields() -> impl Strategy<Value = Vec<u8>> {
    (
        header(),
        proptest::collection::btree_map("[a-zA-Z]{1,6}", param_value(), 0..5),
        times(),
        not_before(),
        0..6u8,
    )
        .prop_map(|(header, params, (iat, exp), nbf, edit)| {
            let mut members: Vec<String> = params
                .iter()
                .map(|(name, value)| format!("\"{name}\":{value}"))
                .collect();
            members.push(format!("\"iat\":{iat}"));
            members.push(format!("\"exp\":{exp}"));
            if let Some(nbf) = nbf {
                members.push(format!("\"nbf\":{nbf}"));
            }
            let payload = format!("{{{}}}", members.join(","));
            let mut fields: Vec<String> = params
                .iter()
                .map(|(name, value)| {
                    let text = serde_json::from_str::<serde_json::Value>(value)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_else(|| value.clone());
                    format!("{name}={text}")
                })
                .collect();
            match edit {
                3 => drop(fields.pop()),
                4 => {
                    if let Some(first) = fields.first_mut() {
                        first.push('x');
                    }
                }
                5 => fields.push("extra=".to_owned()),
                _ => {}
            }
            let mut all = vec![header, payload];
            all.extend(fields);
            lines(&all)
        })
}

/// Real tokens minted by folio-token, some with one byte changed.
fn minted_token() -> impl Strategy<Value = Vec<u8>> {
    (
        proptest::collection::btree_map("[a-zA-Z]{1,6}", "[a-z0-9 ]{0,6}", 0..4),
        -4000i64..100,
        1i64..3700,
        proptest::option::of((any::<prop::sample::Index>(), any::<u8>())),
    )
        .prop_map(|(params, issued, lifetime, edit)| {
            let mut token = folio_token::UploadToken::new(PUBLIC_KEY, PRIVATE_KEY)
                .issued_at(NOW + issued)
                .expires_in(lifetime.min(3600));
            for (name, value) in &params {
                token = token.param(name.as_str(), value.as_str());
            }
            let mut bytes = token.sign().map(String::into_bytes).unwrap_or_default();
            if let (Some((at, byte)), false) = (edit, bytes.is_empty()) {
                let at = at.index(bytes.len());
                bytes[at] = byte;
            }
            bytes
        })
}

fn token_shaped() -> impl Strategy<Value = Vec<u8>> {
    (
        any::<String>(),
        any::<String>(),
        proptest::collection::vec(any::<u8>(), 0..40),
    )
        .prop_map(|(h, p, s)| format!("{}.{}.{}", b64(h.as_bytes()), b64(p.as_bytes()), b64(&s)))
        .prop_map(String::into_bytes)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn jwt_bytes(data in bytes()) {
        folio_fuzz::jwt(&data);
    }

    #[test]
    fn jwt_structured(data in prop_oneof![claims_and_fields(), minted_token(), token_shaped()]) {
        folio_fuzz::jwt(&data);
    }
}

// ------------------------------------------------------------------------------------------
// v1_fields

fn nonce() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{11}0",
        "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
        "[a-z0-9]{0,4}[0-9]{0,4}",
        "[^\n]{0,20}",
    ]
}

fn expire(now: i64) -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (-10i64..3700).prop_map(move |ahead| now.saturating_add(ahead).to_string()),
        1 => (0i64..3700, "0{1,3}").prop_map(move |(ahead, zeros)| format!("{zeros}{}", now + ahead)),
        1 => (0i64..3700, select(&["+", "-", " ", "\t"][..]))
            .prop_map(move |(ahead, sign)| format!("{sign}{}", now + ahead)),
        1 => (0i64..3700).prop_map(move |ahead| format!("{}000", now + ahead)),
        1 => "[0-9]{0,22}",
        1 => "[^\n]{0,12}",
    ]
}

fn v1_input() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => Just(NOW),
        1 => 0i64..100,
        1 => any::<i64>(),
    ]
    .prop_flat_map(|now| (nonce(), expire(now), 0..4u8, Just(now)))
    .prop_map(|(token, expire, signature, now)| {
        let correct = folio_token::v1_signature(PRIVATE_KEY, &token, &expire);
        let signature = match signature {
            0 | 1 => correct,
            2 => correct.to_ascii_uppercase(),
            _ => folio_token::v1_signature("private_other", &token, &expire),
        };
        lines(&[token, expire, signature, now.to_string()])
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn v1_fields_bytes(data in bytes()) {
        folio_fuzz::v1_fields(&data);
    }

    #[test]
    fn v1_fields_structured(data in v1_input()) {
        folio_fuzz::v1_fields(&data);
    }
}

// ------------------------------------------------------------------------------------------
// file_name and folder

/// Strings around a byte limit: `unit` repeated `count` times.
fn around_limit(limit: usize) -> impl Strategy<Value = String> {
    (
        select(&["a", "é", "😀", ".", "日", "_", "a b"][..]),
        0..8usize,
    )
        .prop_map(move |(unit, slack)| {
            let count = (limit / unit.len()).saturating_sub(4) + slack;
            unit.repeat(count)
        })
}

fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[a-zA-Z0-9_-]{1,8}",
        2 => select(&[".", "..", "...", " ", "a.b", "%2e%2e", "\\", "\u{0}", "😀", "e\u{301}"][..])
            .prop_map(str::to_owned),
        1 => around_limit(255),
        1 => tricky_text(),
    ]
}

fn folder_text() -> impl Strategy<Value = String> {
    (
        proptest::collection::vec((segment(), select(&["/", "//", "///"][..])), 0..56),
        any::<bool>(),
    )
        .prop_map(|(segments, leading)| {
            let mut text = if leading {
                "/".to_owned()
            } else {
                String::new()
            };
            for (segment, slash) in segments {
                text.push_str(&segment);
                text.push_str(slash);
            }
            text
        })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn file_name_bytes(data in bytes()) {
        folio_fuzz::file_name(&data);
    }

    #[test]
    fn file_name_structured(
        text in prop_oneof![
            3 => tricky_text(),
            1 => around_limit(folio_contract::MAX_FILE_NAME_BYTES),
            1 => select(&[".", "..", "", "...", ".env", "a."][..]).prop_map(str::to_owned),
        ]
    ) {
        folio_fuzz::file_name(text.as_bytes());
    }

    #[test]
    fn folder_bytes(data in bytes()) {
        folio_fuzz::folder(&data);
    }

    #[test]
    fn folder_structured(text in prop_oneof![3 => folder_text(), 1 => tricky_text()]) {
        folio_fuzz::folder(text.as_bytes());
    }
}

// ------------------------------------------------------------------------------------------
// transformation

/// A parameter of the subset with a valid value.
fn tr_param() -> impl Strategy<Value = String> {
    let size = prop_oneof![
        (1u32..=8192).prop_map(|px| px.to_string()),
        "0?\\.[0-9]{0,2}[1-9]",
    ];
    prop_oneof![
        (select(&["w", "h"][..]), size).prop_map(|(n, v)| format!("{n}-{v}")),
        (1u32..=10_000, 1u32..=10_000).prop_map(|(a, b)| format!("ar-{a}-{b}")),
        select(&["maintain_ratio", "force", "at_max", "at_least"][..])
            .prop_map(|c| format!("c-{c}")),
        (select(&["q", "bl"][..]), 1u8..=100).prop_map(|(n, v)| format!("{n}-{v}")),
        select(&["jpg", "jpeg", "png", "webp"][..]).prop_map(|f| format!("f-{f}")),
        select(&["0", "90", "180", "270"][..]).prop_map(|r| format!("rt-{r}")),
    ]
}

/// A parameter just outside the subset, or outside its ranges.
fn tr_near_miss() -> impl Strategy<Value = String> {
    prop_oneof![
        (
            select(&["w", "h", "q", "bl", "rt", "ar", "c", "f"][..]),
            select(
                &[
                    "0",
                    "8193",
                    "101",
                    "1.5",
                    "-1",
                    "",
                    "00100",
                    "45",
                    "4",
                    "4-0",
                    "pad_resize",
                    "avif",
                    "gif",
                    "0.0001",
                    "1e3"
                ][..]
            ),
        )
            .prop_map(|(n, v)| format!("{n}-{v}")),
        select(
            &[
                "n-ik_ml_thumbnail",
                "oi-logo.png",
                "w",
                "",
                "e-grayscale",
                "W-100"
            ][..]
        )
        .prop_map(str::to_owned),
    ]
}

fn chain() -> impl Strategy<Value = String> {
    let param = prop_oneof![12 => tr_param(), 1 => tr_near_miss()];
    let step = proptest::collection::vec(param, 1..4).prop_map(|params| params.join(","));
    let steps = prop_oneof![
        6 => proptest::collection::vec(step.clone(), 1..4),
        1 => proptest::collection::vec(step, 14..19),
    ];
    steps.prop_map(|steps| steps.join(":"))
}

fn upload_param() -> impl Strategy<Value = String> {
    let kind = select(
        &[
            "transformation",
            "gif-to-video",
            "thumbnail",
            "abs",
            "resize",
        ][..],
    );
    let post = (
        kind,
        proptest::option::of(chain()),
        proptest::option::of(select(&["hls", "dash", "rtmp"][..])),
    )
        .prop_map(|(kind, value, protocol)| {
            let mut item = serde_json::json!({ "type": kind });
            if let Some(value) = value {
                item["value"] = value.into();
            }
            if let Some(protocol) = protocol {
                item["protocol"] = protocol.into();
            }
            item
        });
    (
        proptest::option::of(chain()),
        proptest::option::of(proptest::collection::vec(post, 0..3)),
    )
        .prop_map(|(pre, post)| {
            let mut param = serde_json::json!({});
            if let Some(pre) = pre {
                param["pre"] = pre.into();
            }
            if let Some(post) = post {
                param["post"] = post.into();
            }
            param.to_string()
        })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn transformation_bytes(data in bytes()) {
        folio_fuzz::transformation(&data);
    }

    #[test]
    fn transformation_structured(text in prop_oneof![3 => chain(), 1 => upload_param()]) {
        folio_fuzz::transformation(text.as_bytes());
    }
}

// ------------------------------------------------------------------------------------------
// checks

const STRING_FIELDS: &[&str] = &[
    "request.fileName",
    "request.folder",
    "request.customCoordinates",
    "request.webhookUrl",
    "file.mime",
    "mediaMetadata.videoCodec",
    "mediaMetadata.audioCodec",
    "request.customMetadata.brand",
    "request.customMetadata.notes",
];
const BOOLEAN_FIELDS: &[&str] = &[
    "request.useUniqueFileName",
    "request.isPrivateFile",
    "request.isPublished",
    "request.overwriteFile",
    "request.overwriteAITags",
    "request.overwriteTags",
    "request.overwriteCustomMetadata",
    "request.customMetadata.featured",
];
const NUMBER_FIELDS: &[&str] = &[
    "mediaMetadata.width",
    "mediaMetadata.height",
    "mediaMetadata.duration",
    "mediaMetadata.bitRate",
];
const STRING_OPS: &[&str] = &["=", "NOT =", "not=", ":", "IN", "not in"];
const ARRAY_OPS: &[&str] = &["IN", "NOT IN", "in"];
const NUMBER_OPS: &[&str] = &["=", "<", "<=", ">", ">="];
const ORDERED_OPS: &[&str] = &["=", "NOT =", "IN", "NOT IN", "<", "<=", ">", ">="];

fn string_literal() -> impl Strategy<Value = String> {
    prop_oneof![
        select(
            &[
                "image/",
                "video/mp4",
                "marketing/",
                "photo",
                "h264",
                "Nike",
                "https://"
            ][..]
        )
        .prop_map(str::to_owned),
        "[a-zA-Z0-9/ .'\\\\]{0,8}",
    ]
    .prop_map(|s| serde_json::Value::from(s).to_string())
}

fn number_literal() -> impl Strategy<Value = String> {
    prop_oneof![9 => "-?[0-9]{1,7}(\\.[0-9]{1,2})?", 1 => Just("1e3".to_owned())]
}

fn size_literal() -> impl Strategy<Value = String> {
    prop_oneof![
        number_literal(),
        "[0-9]{1,4}(\\.[0-9])?(b|kb|mb|gb|KB|Mb)".prop_map(|s| format!("'{s}'")),
    ]
}

fn date_literal() -> impl Strategy<Value = String> {
    "20[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9])(T[01][0-9]:[0-5][0-9](:[0-5][0-9](\\.[0-9]{1,3})?)?(Z|[+-]0[0-9]:[03]0)?)?"
        .prop_map(|s| format!("'{s}'"))
}

fn any_literal() -> BoxedStrategy<String> {
    prop_oneof![
        string_literal(),
        number_literal(),
        select(&["true", "FALSE"][..]).prop_map(str::to_owned),
    ]
    .boxed()
}

fn list_of(item: BoxedStrategy<String>) -> impl Strategy<Value = String> {
    proptest::collection::vec(item, 1..4).prop_map(|items| format!("[{}]", items.join(", ")))
}

/// `field op literal`, the literal a list for `IN` / `NOT IN`.
fn typed_condition(
    fields: &'static [&'static str],
    ops: &'static [&'static str],
    literal: BoxedStrategy<String>,
) -> impl Strategy<Value = String> {
    let list = list_of(literal.clone());
    (select(fields), select(ops), literal, list, any::<bool>()).prop_map(
        |(field, op, scalar, list, double)| {
            let quote = if double { '"' } else { '\'' };
            let operand = if op.ends_with("IN") || op.ends_with("in") {
                list
            } else {
                scalar
            };
            format!("{quote}{field}{quote} {op} {operand}")
        },
    )
}

/// A condition that type-checks most of the time: a field, one of its operators and a literal
/// of its kind (a list for `IN`).
fn condition() -> impl Strategy<Value = String> {
    let string = || string_literal().boxed();
    prop_oneof![
        3 => typed_condition(STRING_FIELDS, STRING_OPS, string()),
        1 => typed_condition(BOOLEAN_FIELDS, &["=", "NOT ="],
            select(&["true", "false", "TRUE"][..]).prop_map(str::to_owned).boxed()),
        1 => typed_condition(&["request.tags"], ARRAY_OPS, string()),
        2 => typed_condition(&["file.size"], NUMBER_OPS, size_literal().boxed()),
        1 => typed_condition(NUMBER_FIELDS, NUMBER_OPS, number_literal().boxed()),
        1 => typed_condition(&["request.customMetadata.qty"], ORDERED_OPS,
            number_literal().boxed()),
        1 => typed_condition(&["request.customMetadata.launch"], ORDERED_OPS,
            date_literal().boxed()),
        1 => typed_condition(&["request.customMetadata.size"], ORDERED_OPS, any_literal()),
        1 => typed_condition(&["request.customMetadata.tuple"], ARRAY_OPS, any_literal()),
        1 => typed_condition(&["File.Size", "request.customMetadata.missing", "file.size"],
            &[":", "==", "IN", "<"], any_literal()),
    ]
}

fn expression() -> impl Strategy<Value = String> {
    combined(
        condition(),
        &[
            " AND ", " OR ", " and ", " Or ", "\nAND\t", " AND ", " OR ", " ",
        ],
    )
}

/// Conditions from `leaf` joined by one of `joiners`, sometimes in parentheses, a few levels
/// deep: the shape both expression languages (`checks`, `searchQuery`) share.
fn combined(
    leaf: impl Strategy<Value = String> + 'static,
    joiners: &'static [&'static str],
) -> impl Strategy<Value = String> {
    leaf.prop_recursive(4, 16, 3, move |inner| {
        (
            proptest::collection::vec(inner, 2..4),
            select(joiners),
            any::<bool>(),
        )
            .prop_map(|(children, joiner, parens)| {
                let joined = children.join(joiner);
                if parens {
                    format!("({joined})")
                } else {
                    joined
                }
            })
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn checks_bytes(data in bytes()) {
        folio_fuzz::checks(&data);
    }

    #[test]
    fn checks_structured(text in expression()) {
        folio_fuzz::checks(text.as_bytes());
    }
}

// ------------------------------------------------------------------------------------------
// multipart, urlencoded

/// Chunk sizes, then a body: the layout of the two intake targets after their first line.
fn sizes() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>().prop_filter("no newline", |b| *b != b'\n'), 0..6)
}

/// A multipart body near the framing the guard follows: parts with short or long header
/// blocks, delimiter look-alikes in the content, padding, preambles and epilogues.
fn multipart_body(boundary: &'static str) -> impl Strategy<Value = Vec<u8>> {
    let header = prop_oneof![
        Just("Content-Disposition: form-data; name=\"fileName\"".to_owned()),
        Just("Content-Disposition: form-data; name=\"file\"; filename=\"a\"\r\nContent-Type: image/png".to_owned()),
        "[a-z: =\"-]{0,80}",
    ];
    let content = prop_oneof![
        "[a-z0-9]{0,60}",
        Just(format!("--{boundary} \r\n-{boundary}\n")),
        proptest::collection::vec(any::<u8>(), 0..40)
            .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
    ];
    let part = (header, content, select(&["", " ", "\t  "][..]))
        .prop_map(move |(h, c, pad)| format!("--{boundary}{pad}\r\n{h}\r\n\r\n{c}\r\n"));
    (
        "[a-z\r\n]{0,90}",
        proptest::collection::vec(part, 0..4),
        select(&["--", "", "--\r\nepilogue"][..]),
    )
        .prop_map(move |(preamble, parts, end)| {
            let mut body = preamble;
            for part in parts {
                body.push_str(&part);
            }
            body.push_str(&format!("--{boundary}{end}"));
            body.into_bytes()
        })
}

/// A form-encoded body near the grammar: names (`file` among them), escapes valid and not,
/// `+`, empty pairs.
fn form_body() -> impl Strategy<Value = Vec<u8>> {
    let text = || "([a-zA-Z0-9+.]|%[0-9a-fA-F]{2}|%[g-z]?){0,24}";
    let pair = prop_oneof![
        (text(), text()).prop_map(|(n, v)| format!("{n}={v}")),
        text().prop_map(|v| format!("file={v}")),
        text(),
        Just(String::new()),
    ];
    proptest::collection::vec(pair, 0..8).prop_map(|pairs| pairs.join("&").into_bytes())
}

fn layout(first: &[u8], sizes: &[u8], body: &[u8]) -> Vec<u8> {
    let mut data = first.to_vec();
    data.push(b'\n');
    data.extend_from_slice(sizes);
    data.push(b'\n');
    data.extend_from_slice(body);
    data
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn multipart_bytes(data in bytes()) {
        folio_fuzz::multipart(&data);
    }

    #[test]
    fn multipart_structured(sizes in sizes(), body in multipart_body("XyZ")) {
        // `boundary_from` maps each byte into the boundary alphabet: these three bytes give
        // "XyZ" ('X' = 33, 'y' = 60, 'Z' = 35 in it).
        folio_fuzz::multipart(&layout(&[33, 60, 35], &sizes, &body));
    }

    #[test]
    fn urlencoded_bytes(data in bytes()) {
        folio_fuzz::urlencoded(&data);
    }

    #[test]
    fn urlencoded_structured(sizes in sizes(), body in form_body()) {
        let mut data = sizes;
        data.push(b'\n');
        data.extend_from_slice(&body);
        folio_fuzz::urlencoded(&data);
    }
}

// ------------------------------------------------------------------------------------------
// signed_url

/// The path part of a relative target: plain, with a `tr:` segment, escapes, or anything.
fn target_path() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("a.png".to_owned()),
        "(tr:[a-z0-9,:-]{1,12}/)?[a-zA-Z0-9%._/-]{1,30}",
        tricky_text().prop_map(|t| t.replace(['?', '\n'], "")),
    ]
}

/// A query pair: ordinary, empty, or one of the signature parameters, well or badly formed.
fn query_pair() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[a-z]{1,5}=[a-zA-Z0-9,.%+:-]{0,8}",
        1 => Just(String::new()),
        1 => (0u64..=10_000_000_001).prop_map(|t| format!("ik-t={t}")),
        1 => select(&[
            "ik-t=", "ik-t=0", "ik-t=01735690000", "ik-t=+1735690000", "ik-t=1e10",
            "ik-s", "ik-s=", "IK-S=ab", "ik-s=zz", "ik-s==",
        ][..]).prop_map(str::to_owned),
        1 => "[0-9a-f]{40}".prop_map(|s| format!("ik-s={s}")),
        1 => "[0-9a-fA-F]{38,42}".prop_map(|s| format!("ik-s={s}")),
    ]
}

/// A relative target, often signed with the fuzz key (without or with an expiry around the
/// clock) so that many verify, sometimes tampered after signing; then the clock.
fn signed_url_input() -> impl Strategy<Value = Vec<u8>> {
    use folio::delivery::signed_url::signed_url;
    let target =
        (target_path(), proptest::collection::vec(query_pair(), 0..4)).prop_map(|(path, pairs)| {
            if pairs.is_empty() {
                path
            } else {
                format!("{path}?{}", pairs.join("&"))
            }
        });
    let signing = prop_oneof![
        1 => Just(None),
        2 => Just(Some(None)),
        2 => (-50i64..50).prop_map(|d| Some(Some((NOW + d) as u64))),
    ];
    let tamper = prop_oneof![
        4 => Just(None),
        1 => (any::<u8>(), "[a-z0-9&=?:,%]{0,3}").prop_map(Some),
    ];
    let clock = prop_oneof![3 => Just(NOW), 1 => -100i64..100i64, 1 => any::<i64>()];
    (target, signing, tamper, clock).prop_map(|(target, signing, tamper, clock)| {
        let mut text = match signing {
            None => target,
            Some(expiry) => {
                let url = signed_url(PRIVATE_KEY, "https://e/x", &target, expiry);
                url["https://e/x/".len()..].to_owned()
            }
        };
        if let Some((at, insert)) = tamper {
            let mut at = usize::from(at) % (text.len() + 1);
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            text.insert_str(at, &insert);
        }
        let clock = if clock.abs() < 100 {
            NOW + clock
        } else {
            clock
        };
        format!("{text}\n{clock}").into_bytes()
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn signed_url_bytes(data in bytes()) {
        folio_fuzz::signed_url(&data);
    }

    #[test]
    fn signed_url_structured(data in signed_url_input()) {
        folio_fuzz::signed_url(&data);
    }
}

// ------------------------------------------------------------------------------------------
// search

/// A search condition that type-checks most of the time.
fn search_condition() -> impl Strategy<Value = String> {
    let string = || string_literal().boxed();
    let pick = |items: &'static [&'static str]| select(items).prop_map(str::to_owned).boxed();
    let cond = |fields: &'static [&'static str],
                ops: &'static [&'static str],
                value: BoxedStrategy<String>| {
        (
            select(fields),
            select(ops),
            value,
            proptest::collection::vec(string_literal(), 1..3),
        )
            .prop_map(|(field, op, value, list)| {
                if op.ends_with("IN") {
                    format!("{field} {op} [{}]", list.join(", "))
                } else if op.ends_with("EXISTS") {
                    format!("{field} {op}")
                } else {
                    format!("{field} {op} {value}")
                }
            })
    };
    prop_oneof![
        3 => cond(&["name", "'name'", "id", "path"], &["=", "NOT =", ":", "IN", "NOT IN", "HAS"], string()),
        2 => cond(&["tags"], &["IN", "NOT IN", "EXISTS", "NOT EXISTS"], string()),
        2 => cond(&["size", "width", "height", "videoDuration"], &["=", "<", "<=", ">", ">=", "NOT =", "EXISTS"],
            prop_oneof![number_literal(), size_literal(), pick(&["'30sec'", "'1.5min'", "'2hr'"])].boxed()),
        2 => cond(&["createdAt", "updatedAt", "\"customMetadata.launch\""], &["=", "<", ">=", "NOT ="],
            prop_oneof![date_literal(), pick(&["'1h'", "'2d'", "'3w'", "'4m'", "'2y'"])].boxed()),
        1 => cond(&["type"], &["=", "NOT =", "IN", "NOT IN"], pick(&["'file'", "'file-version'", "'folder'", "'image'"])),
        1 => cond(&["format"], &["=", "IN"], pick(&["'jpg'", "'PNG'", "'exe'"])),
        1 => cond(&["private", "published", "transparency"], &["=", "NOT ="], pick(&["true", "false", "'true'"])),
        1 => cond(&["\"customMetadata.size\"", "\"customMetadata.tuple\"", "\"customMetadata.qty\"", "'embeddedMetadata.Make'"],
            &["=", "IN", "NOT IN", "<", ":", "EXISTS"], any_literal()),
        1 => cond(&["colour", "\"customMetadata.missing\"", "customMetadata.qty"], &["=", ":", "=="], any_literal()),
    ]
}

fn search_expression() -> impl Strategy<Value = String> {
    combined(
        search_condition(),
        &[" AND ", " OR ", " and ", " or ", "\nAND\t", " "],
    )
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn search_bytes(data in bytes()) {
        folio_fuzz::search(&data);
    }

    #[test]
    fn search_structured(text in search_expression()) {
        folio_fuzz::search(text.as_bytes());
    }
}
