//! The `checks` expression language (spec §7): parser, type checker and evaluator.

use folio_contract::{
    parse_checks, parse_upload_params_with, CheckContext, Checks, ChecksError, CustomFieldType,
    Folder, ParamError, SizeKnowledge, Verdict, MAX_CHECKS_BYTES,
};
use serde_json::{json, Map, Value};

use crate::text::lossy;

/// The custom metadata fields the expressions may name: one of every type.
fn schemas(name: &str) -> Option<CustomFieldType> {
    Some(match name {
        "brand" => CustomFieldType::Text,
        "notes" => CustomFieldType::Textarea,
        "qty" => CustomFieldType::Number,
        "launch" => CustomFieldType::Date,
        "featured" => CustomFieldType::Boolean,
        "size" => CustomFieldType::SingleSelect,
        "tuple" => CustomFieldType::MultiSelect,
        _ => return None,
    })
}

/// The whole input as a `checks` value, with the custom fields of [`schemas`].
///
/// A refusal is the one wire error, pointing inside the text; nothing over
/// [`MAX_CHECKS_BYTES`] parses, and `parse_upload_params` agrees with `parse_checks`. An
/// accepted expression prints in a canonical form that parses back to it (when it fits the
/// length limit), and evaluates on several contexts without panicking, with the guarantees
/// the server builds on: a decided streaming (partial) verdict is the final one, an
/// expression of request values only is decided before the file arrives, and one of file
/// facts only does not depend on the request.
pub fn checks(data: &[u8]) {
    let text = lossy(data);
    let parsed = parse_checks(&text, &schemas);

    let fields = [("fileName", "a.jpg"), ("checks", &*text)];
    let via_params = parse_upload_params_with(&fields, &schemas).map(|p| p.checks);
    match (&parsed, via_params) {
        (_, Ok(None)) => assert!(text.is_empty(), "checks ignored"),
        (Ok(checks), Ok(Some(again))) => assert_eq!(checks, &again),
        (Err(_), Err(e)) => assert_eq!(e, ParamError::ChecksSyntax),
        (parsed, via_params) => panic!("{parsed:?} but parse_upload_params: {via_params:?}"),
    }

    let checks = match parsed {
        Ok(checks) => checks,
        Err(ChecksError::Syntax(e)) => {
            assert!(e.offset() <= text.len(), "{text:?}: {e:?}");
            assert!(!e.reason().is_empty());
            return;
        }
        Err(other) => panic!("parse_checks returned {other:?}"),
    };
    assert!(text.len() <= MAX_CHECKS_BYTES);
    assert!(!text.trim().is_empty());

    // The canonical form can be longer than the input (`'1mb'` prints as 1048576, `NOT=` as
    // `NOT =`), so near the length limit it may no longer be accepted; below it, it must
    // re-parse to the same expression.
    let printed = checks.to_string();
    match parse_checks(&printed, &schemas) {
        Ok(reparsed) => {
            assert_eq!(reparsed, checks, "{text:?} printed as {printed:?}");
            assert_eq!(reparsed.to_string(), printed, "not a fixed point");
        }
        Err(_) if printed.len() > MAX_CHECKS_BYTES => {}
        Err(e) => panic!("{text:?} printed as {printed:?}, which does not parse: {e:?}"),
    }

    evaluate(&checks);
}

fn evaluate(checks: &Checks) {
    let folder = Folder::parse("/marketing/2024/").unwrap_or_default();
    let tags = vec!["summer".to_string(), "sale".to_string()];
    let metadata = metadata();
    let mut ctx = CheckContext::new("photo_Kp3x9QzLm.jpg", &folder, &metadata);
    ctx.tags = Some(&tags);
    ctx.webhook_url = Some("https://hooks.example.com/x");

    // Before the first byte of the file.
    let before = checks.evaluate_partial(&ctx);
    // Streaming: 600 KiB received, nothing sniffed.
    ctx.file_size = SizeKnowledge::AtLeast(600 << 10);
    let streaming = checks.evaluate_partial(&ctx);
    assert_eq!(checks.is_certainly_false(&ctx), streaming == Verdict::False);

    // Final: a 1.5 MiB 1920x1080 H.264 video.
    ctx.file_size = SizeKnowledge::Exactly(1_572_864);
    ctx.file_mime = Some("video/mp4");
    ctx.width = Some(1920);
    ctx.height = Some(1080);
    ctx.duration = Some(12.5);
    ctx.video_codec = Some("h264");
    ctx.audio_codec = Some("aac");
    ctx.bit_rate = Some(1_000_000);
    let verdict = checks.final_verdict(&ctx);
    assert_eq!(checks.verify(&ctx).is_ok(), verdict);
    for partial in [before, streaming] {
        match partial {
            Verdict::True => assert!(verdict, "{checks}: partial True, final false"),
            Verdict::False => assert!(!verdict, "{checks}: partial False, final true"),
            Verdict::Unknown => {}
        }
    }
    if checks.references_only_request() {
        assert_ne!(
            before,
            Verdict::Unknown,
            "{checks}: request values only, undecided"
        );
    }

    // The same file with other request values: an expression of file facts only cannot
    // tell the difference.
    let other_folder = Folder::root();
    let other_metadata = Map::new();
    let mut other = CheckContext::new("x", &other_folder, &other_metadata);
    other.use_unique_file_name = false;
    other.is_private_file = true;
    other.custom_coordinates = Some("10,10,20,20");
    other.file_size = ctx.file_size;
    other.file_mime = ctx.file_mime;
    other.width = ctx.width;
    other.height = ctx.height;
    other.duration = ctx.duration;
    other.video_codec = ctx.video_codec;
    other.audio_codec = ctx.audio_codec;
    other.bit_rate = ctx.bit_rate;
    if checks.references_only_file() {
        assert_eq!(checks.final_verdict(&other), verdict, "{checks}");
    }

    // An image without media facts: absent values, every comparison on them false but
    // `NOT =` / `NOT IN`. Only robustness here.
    other.file_mime = Some("image/png");
    other.duration = None;
    other.video_codec = None;
    other.audio_codec = None;
    other.bit_rate = None;
    let _ = checks.final_verdict(&other);
    let _ = (
        checks.references_file_size(),
        checks.references_file_mime(),
        checks.references_media(),
        checks.references_file_name(),
    );
}

fn metadata() -> Map<String, Value> {
    match json!({
        "brand": "Nike", "notes": "a\nb", "qty": 250, "launch": "2024-01-01T12:00:00Z",
        "featured": true, "size": "M", "tuple": ["luxury", 500, true],
    }) {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}
