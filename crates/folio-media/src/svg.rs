//! SVG: recognised by its root element, sized by the root's `width`/`height`.

use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;
use quick_xml::XmlVersion;

/// Returns the root element when it is `<svg>` (any prefix), skipping the XML
/// declaration, comments, processing instructions and a DOCTYPE.
fn svg_root(head: &[u8]) -> Option<BytesStart<'_>> {
    let body = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let mut reader = Reader::from_reader(body);
    // The prologue of real files is tiny; cap the events we are willing to
    // skip so a head full of comments cannot make us scan forever.
    for _ in 0..10_000 {
        match reader.read_event().ok()? {
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) | Event::DocType(_) => {}
            Event::Text(t) if t.iter().all(u8::is_ascii_whitespace) => {}
            Event::Start(e) | Event::Empty(e) => {
                return (e.local_name().as_ref() == b"svg").then_some(e);
            }
            _ => return None,
        }
    }
    None
}

pub(crate) fn is_svg(head: &[u8]) -> bool {
    svg_root(head).is_some()
}

/// Pixel size declared by the root element. Per CSS, `px` is the unit when
/// none is written, and physical units convert at 96 px per inch. Relative
/// lengths (`%`, `em`, ...) depend on the embedding context, so they give no
/// size. When only one of width/height is absolute and a `viewBox` is present,
/// the other follows from the viewBox aspect ratio, as browsers do.
pub(crate) fn dimensions(head: &[u8]) -> Option<(u32, u32)> {
    let root = svg_root(head)?;
    let mut width = None;
    let mut height = None;
    let mut view_box = None;
    for attr in root.attributes().flatten() {
        let Ok(value) = attr.normalized_value(XmlVersion::Implicit1_0) else {
            continue;
        };
        // Attributes in another namespace (e.g. `foo:width`) are not the SVG
        // presentation attributes we want.
        if attr.key.prefix().is_some() {
            continue;
        }
        match attr.key.local_name().as_ref() {
            b"width" => width = parse_length(&value),
            b"height" => height = parse_length(&value),
            b"viewBox" => view_box = parse_view_box(&value),
            _ => {}
        }
    }
    let (w, h) = match (width, height, view_box) {
        (Some(w), Some(h), _) => (w, h),
        (Some(w), None, Some((vw, vh))) => (w, w * vh / vw),
        (None, Some(h), Some((vw, vh))) => (h * vw / vh, h),
        _ => return None,
    };
    Some((to_px(w)?, to_px(h)?))
}

fn to_px(v: f64) -> Option<u32> {
    let r = v.round();
    (r.is_finite() && r >= 1.0 && r <= f64::from(u32::MAX)).then_some(r as u32)
}

fn parse_length(s: &str) -> Option<f64> {
    let s = s.trim();
    let split = s
        .find(|c: char| c.is_ascii_alphabetic() || c == '%')
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.trim().parse().ok()?;
    let factor = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "px" => 1.0,
        "in" => 96.0,
        "cm" => 96.0 / 2.54,
        "mm" => 96.0 / 25.4,
        "q" => 96.0 / 101.6,
        "pt" => 96.0 / 72.0,
        "pc" => 16.0,
        _ => return None,
    };
    let v = n * factor;
    (v.is_finite() && v > 0.0).then_some(v)
}

fn parse_view_box(s: &str) -> Option<(f64, f64)> {
    let nums: Vec<f64> = s
        .split(|c: char| c.is_ascii_whitespace() || c == ',')
        .filter(|p| !p.is_empty())
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    match nums.as_slice() {
        [_, _, w, h] if w.is_finite() && h.is_finite() && *w > 0.0 && *h > 0.0 => Some((*w, *h)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_detection() {
        assert!(is_svg(b"<svg xmlns='http://www.w3.org/2000/svg'/>"));
        assert!(is_svg(
            b"\xEF\xBB\xBF<?xml version='1.0'?>\n<!-- c -->\n<!DOCTYPE svg PUBLIC \"-//W3C//DTD SVG 1.1//EN\" \"x\">\n<svg:svg xmlns:svg='http://www.w3.org/2000/svg'></svg:svg>"
        ));
        assert!(!is_svg(b"<html><body><svg></svg></body></html>"));
        assert!(!is_svg(b"hello <svg>"));
        assert!(!is_svg(b""));
    }

    #[test]
    fn sizes() {
        let d = |s: &str| dimensions(s.as_bytes());
        assert_eq!(d("<svg width='200' height='100'/>"), Some((200, 100)));
        assert_eq!(d("<svg width='200px' height='1in'/>"), Some((200, 96)));
        assert_eq!(d("<svg width='72pt' height='2.54cm'/>"), Some((96, 96)));
        assert_eq!(d("<svg viewBox='0 0 10 20'/>"), None);
        assert_eq!(
            d("<svg width='100%' height='100%' viewBox='0 0 10 20'/>"),
            None
        );
        assert_eq!(d("<svg width='50' viewBox='0 0 10 20'/>"), Some((50, 100)));
        assert_eq!(d("<svg width='-5' height='10'/>"), None);
        assert_eq!(d("<svg width='1e400' height='10'/>"), None);
    }
}
