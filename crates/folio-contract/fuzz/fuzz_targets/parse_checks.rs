//! Fuzz target: `parse_checks` on arbitrary UTF-8, and whatever parses is evaluated and
//! round-tripped through its printed form.
//!
//! Beyond "no panic", it asserts the invariants the server relies on:
//! * the printed form re-parses to an equal expression (when it fits the length limit);
//! * a decided partial verdict agrees with the final verdict of the same, completed context.

#![no_main]

use folio_contract::{
    parse_checks, CheckContext, CustomFieldType, Folder, SizeKnowledge, Verdict, MAX_CHECKS_BYTES,
};
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Map, Value};

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

fn metadata() -> Map<String, Value> {
    match json!({
        "brand": "Nike", "notes": "a\nb", "qty": 250, "launch": "2024-01-01T12:00:00Z",
        "featured": true, "size": "M", "tuple": ["luxury", 500, true],
    }) {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(checks) = parse_checks(text, &schemas) else {
        return;
    };

    // The canonical form can be longer than the input (`'1mb'` prints as 1048576, `NOT=` as
    // `NOT =`), so near the length limit it may no longer be accepted; below it, it must
    // re-parse to the same expression.
    let printed = checks.to_string();
    match parse_checks(&printed, &schemas) {
        Ok(reparsed) => assert_eq!(reparsed, checks, "{text:?} printed as {printed:?}"),
        Err(_) if printed.len() > MAX_CHECKS_BYTES => {}
        Err(e) => panic!("{text:?} printed as {printed:?}, which does not parse: {e:?}"),
    }

    let folder = Folder::parse("/marketing/2024/").unwrap_or_default();
    let tags = vec!["summer".to_string(), "sale".to_string()];
    let metadata = metadata();
    let mut ctx = CheckContext::new("photo_Kp3x9QzLm.jpg", &folder, &metadata);
    ctx.tags = Some(&tags);
    ctx.webhook_url = Some("https://hooks.example.com/x");

    // Streaming: 600 KiB received, nothing sniffed.
    ctx.file_size = SizeKnowledge::AtLeast(600 << 10);
    let partial = checks.evaluate_partial(&ctx);

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
    match partial {
        Verdict::True => assert!(verdict, "{checks}: partial True, final false"),
        Verdict::False => assert!(!verdict, "{checks}: partial False, final true"),
        Verdict::Unknown => {}
    }
    let _ = checks.references_file_mime();
    let _ = checks.references_media();
});
