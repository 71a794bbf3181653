//! Transformations: the `tr:` string of delivery URLs and of the upload's `pre`/`post`, and
//! the upload's `transformation` JSON parameter.

use folio_contract::{
    parse_transformation, parse_upload_params, AbsProtocol, ParamError, PostKind,
};
use folio_media::{
    Size, Step, TransformError, Transformation, MAX_OUTPUT_DIMENSION, MAX_TRANSFORMATION_LEN,
};

use crate::text::lossy;

/// The whole input as a transformation string (what follows `tr:` in a delivery URL, the
/// `tr` query parameter, or a `pre`/`post` value) and as the upload's `transformation` JSON.
///
/// A parsed chain has one step per `:`-separated group, none empty, every value within the
/// documented ranges; its canonical form (the rendition cache key) parses back to the same
/// chain and is a fixed point. A refusal names a parameter that is in the text. The JSON
/// parameter's structure rules hold for what it accepts, `parse_upload_params` agrees with it,
/// and its `pre` and `post` values go through the string parser as the server plans them.
pub fn transformation(data: &[u8]) {
    let text = lossy(data);
    check_chain(&text);
    check_upload_param(&text);
}

fn check_chain(text: &str) {
    let chain = match Transformation::parse(text) {
        Ok(chain) => chain,
        Err(e) => {
            check_refusal(text, &e);
            return;
        }
    };
    assert!(text.len() <= MAX_TRANSFORMATION_LEN);
    assert_eq!(chain.steps().len(), text.split(':').count(), "{text:?}");
    for step in chain.steps() {
        check_step(text, step);
    }
    assert_eq!(
        chain.format(),
        chain.steps().iter().rev().find_map(|s| s.format)
    );

    // The canonical form names the same chain. It can be longer than the text (`w-.5` prints
    // as `w-0.500`), so near the length limit it may itself be too long to parse, as
    // folio-contract documents for the canonical form of `checks`.
    let canonical = chain.to_string();
    match Transformation::parse(&canonical) {
        Ok(again) => {
            assert_eq!(again, chain, "{text:?} printed as {canonical:?}");
            assert_eq!(
                again.to_string(),
                canonical,
                "canonical form is not a fixed point"
            );
        }
        Err(TransformError::TooLong) if canonical.len() > MAX_TRANSFORMATION_LEN => {}
        Err(e) => panic!("{text:?} printed as {canonical:?}, which does not parse: {e:?}"),
    }
}

fn check_step(text: &str, step: &Step) {
    assert_ne!(step, &Step::default(), "{text:?} parsed to an empty step");
    for size in [step.width, step.height].into_iter().flatten() {
        match size {
            Size::Pixels(px) => assert!((1..=MAX_OUTPUT_DIMENSION).contains(&px), "{text:?}"),
            Size::Permille(m) => assert!((1..1000).contains(&m), "{text:?}"),
        }
    }
    if let Some((a, b)) = step.aspect {
        assert!(
            (1..=10_000).contains(&a) && (1..=10_000).contains(&b),
            "{text:?}"
        );
    }
    for percent in [step.quality, step.blur].into_iter().flatten() {
        assert!((1..=100).contains(&percent), "{text:?}");
    }
    if let Some(degrees) = step.rotate {
        assert!([0, 90, 180, 270].contains(&degrees), "{text:?}");
    }
}

fn check_refusal(text: &str, error: &TransformError) {
    match error {
        TransformError::Empty => {
            assert!(text.split(':').any(str::is_empty), "{text:?}: {error:?}");
        }
        TransformError::TooLong => {
            assert!(text.len() > MAX_TRANSFORMATION_LEN || text.split(':').count() > 1);
        }
        TransformError::Unknown(name) | TransformError::Repeated(name) => {
            assert!(text.contains(name.as_str()), "{text:?}: {error:?}");
        }
        TransformError::Malformed(param) => {
            assert!(
                !param.is_empty() && text.contains(param.as_str()),
                "{text:?}: {error:?}"
            );
        }
        TransformError::UnsupportedFormat(format) => assert!(
            ["auto", "gif", "svg", "mp4", "webm", "orig"].contains(&format.as_str()),
            "{text:?}: {error:?}"
        ),
    }
}

fn check_upload_param(text: &str) {
    let parsed = parse_transformation(text);
    let via_params = parse_upload_params(&[("fileName", "a.jpg"), ("transformation", text)])
        .map(|p| p.transformation);
    match &parsed {
        // An empty field is an absent parameter.
        _ if text.is_empty() => assert_eq!(via_params, Ok(None)),
        Ok(param) => assert_eq!(via_params.as_ref(), Ok(&Some(param.clone()))),
        Err(e) => assert_eq!(via_params.as_ref(), Err(e)),
    }
    let param = match parsed {
        Ok(param) => param,
        Err(e) => {
            assert_eq!(e, ParamError::TransformationInvalid);
            return;
        }
    };
    assert!(param.pre.is_some() || !param.post.is_empty(), "{text:?}");
    if let Some(pre) = &param.pre {
        assert!(!pre.trim().is_empty());
        check_chain(pre);
    }
    for post in &param.post {
        assert_eq!(
            post.protocol.is_some(),
            post.kind == PostKind::Abs,
            "{text:?}"
        );
        assert!(matches!(
            post.protocol,
            None | Some(AbsProtocol::Hls | AbsProtocol::Dash)
        ));
        if matches!(post.kind, PostKind::Transformation | PostKind::Abs) {
            assert!(post.value.as_deref().is_some_and(|v| !v.trim().is_empty()));
        }
        if let Some(value) = &post.value {
            check_chain(value);
        }
    }
}
