//! XMP: properties of `rdf:Description` nodes, in either RDF form (child
//! elements or attributes), mapped to exiftool-style names for the
//! properties people search by.

use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;
use quick_xml::XmlVersion;
use serde_json::{Map, Value as Json};

const RDF: &[u8] = b"http://www.w3.org/1999/02/22-rdf-syntax-ns#";
const XML: &[u8] = b"http://www.w3.org/XML/1998/namespace";
const DC: &[u8] = b"http://purl.org/dc/elements/1.1/";
const XMP: &[u8] = b"http://ns.adobe.com/xap/1.0/";
const PHOTOSHOP: &[u8] = b"http://ns.adobe.com/photoshop/1.0/";
const XMP_RIGHTS: &[u8] = b"http://ns.adobe.com/xap/1.0/rights/";
const LIGHTROOM: &[u8] = b"http://ns.adobe.com/lightroom/1.0/";
const IPTC_CORE: &[u8] = b"http://iptc.org/std/Iptc4xmpCore/1.0/xmlns/";

/// Element nesting we are willing to follow; real packets are shallow, and
/// the cap keeps a hostile packet from growing our stack of open elements.
const MAX_DEPTH: usize = 64;

#[derive(Clone, Copy, PartialEq)]
enum Shape {
    /// plain text value
    Text,
    /// `rdf:Bag`/`rdf:Seq` list, always emitted as an array
    List,
    /// number when it parses as one (xmp:Rating)
    Number,
}

/// (namespace, local name) → (output name, shape). Only these properties are
/// reported: XMP also carries editing history and tool state that has no
/// place in a search-oriented metadata map.
fn property(ns: &[u8], local: &[u8]) -> Option<(&'static str, Shape)> {
    use Shape::*;
    Some(match (ns, local) {
        (DC, b"title") => ("Title", Text),
        (DC, b"description") => ("Description", Text),
        (DC, b"subject") => ("Keywords", List),
        (DC, b"creator") => ("Creator", List),
        (DC, b"rights") => ("Rights", Text),
        (XMP, b"Rating") => ("Rating", Number),
        (XMP, b"Label") => ("Label", Text),
        (XMP, b"CreateDate") => ("CreateDate", Text),
        (XMP, b"ModifyDate") => ("ModifyDate", Text),
        (XMP, b"MetadataDate") => ("MetadataDate", Text),
        (XMP, b"CreatorTool") => ("CreatorTool", Text),
        (PHOTOSHOP, b"Headline") => ("Headline", Text),
        (PHOTOSHOP, b"City") => ("City", Text),
        (PHOTOSHOP, b"State") => ("State", Text),
        (PHOTOSHOP, b"Country") => ("Country", Text),
        (PHOTOSHOP, b"Credit") => ("Credit", Text),
        (PHOTOSHOP, b"Source") => ("Source", Text),
        (PHOTOSHOP, b"Instructions") => ("Instructions", Text),
        (PHOTOSHOP, b"DateCreated") => ("DateCreated", Text),
        (PHOTOSHOP, b"AuthorsPosition") => ("AuthorsPosition", Text),
        (PHOTOSHOP, b"CaptionWriter") => ("CaptionWriter", Text),
        (XMP_RIGHTS, b"UsageTerms") => ("UsageTerms", Text),
        (XMP_RIGHTS, b"WebStatement") => ("WebStatement", Text),
        (LIGHTROOM, b"hierarchicalSubject") => ("HierarchicalSubject", List),
        (IPTC_CORE, b"Location") => ("Location", Text),
        (IPTC_CORE, b"CountryCode") => ("CountryCode", Text),
        _ => return None,
    })
}

/// A property being collected: which one, at which depth it was opened, and
/// the `rdf:li` items / text seen inside it.
struct Open {
    name: &'static str,
    shape: Shape,
    depth: usize,
    items: Vec<(bool, String)>,
    text: String,
    in_li: Option<bool>,
}

pub(crate) fn to_json(packet: &[u8]) -> Map<String, Json> {
    let mut out = Map::new();
    let mut reader = NsReader::from_reader(packet);
    let mut depth = 0usize;
    // Depths at which an rdf:Description is open.
    let mut descriptions: Vec<usize> = Vec::new();
    let mut open: Option<Open> = None;

    loop {
        let (ns, event) = match reader.read_resolved_event() {
            Ok((ResolveResult::Bound(ns), ev)) => (Some(ns.into_inner().to_vec()), ev),
            Ok((_, ev)) => (None, ev),
            // Keep what was collected before the packet broke off.
            Err(_) => break,
        };
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let is_empty = matches!(event, Event::Empty(_));
                depth += 1;
                if depth > MAX_DEPTH {
                    break;
                }
                let local = e.local_name();
                let ns = ns.as_deref().unwrap_or(&[]);
                if ns == RDF && local.as_ref() == b"Description" {
                    // Attribute form: <rdf:Description dc:format="..." xmp:Rating="5"/>
                    for attr in e.attributes().flatten() {
                        let (ans, alocal) = reader.resolver().resolve_attribute(attr.key);
                        let ResolveResult::Bound(ans) = ans else {
                            continue;
                        };
                        if let Some((name, shape)) = property(ans.as_ref(), alocal.as_ref()) {
                            if let Ok(v) = attr.normalized_value(XmlVersion::Implicit1_0) {
                                emit(&mut out, name, shape, vec![v.trim().to_string()]);
                            }
                        }
                    }
                    if !is_empty {
                        descriptions.push(depth);
                    }
                } else if let Some(o) = open.as_mut() {
                    if ns == RDF && local.as_ref() == b"li" {
                        let lang = e.attributes().flatten().find_map(|a| {
                            let (ans, alocal) = reader.resolver().resolve_attribute(a.key);
                            let is_lang = matches!(ans, ResolveResult::Bound(n) if n.as_ref() == XML)
                                && alocal.as_ref() == b"lang";
                            is_lang.then(|| a.value.as_ref() == b"x-default")
                        });
                        if is_empty {
                            o.items.push((lang.unwrap_or(false), String::new()));
                        } else {
                            o.in_li = Some(lang.unwrap_or(false));
                            o.text.clear();
                        }
                    }
                } else if descriptions.last() == Some(&(depth - 1)) && !is_empty {
                    if let Some((name, shape)) = property(ns, local.as_ref()) {
                        open = Some(Open {
                            name,
                            shape,
                            depth,
                            items: Vec::new(),
                            text: String::new(),
                            in_li: None,
                        });
                    }
                }
                if is_empty {
                    depth -= 1;
                }
            }
            Event::Text(t) => {
                if let (Some(o), Ok(s)) = (open.as_mut(), t.xml_content(XmlVersion::Implicit1_0)) {
                    o.text.push_str(&s);
                }
            }
            Event::CData(t) => {
                if let (Some(o), Ok(s)) = (open.as_mut(), t.decode()) {
                    o.text.push_str(&s);
                }
            }
            Event::GeneralRef(r) => {
                if let Some(o) = open.as_mut() {
                    if let Some(c) = entity(&r) {
                        o.text.push(c);
                    }
                }
            }
            Event::End(_) => {
                if let Some(o) = open.as_mut() {
                    if depth == o.depth {
                        if let Some(o) = open.take() {
                            finish(&mut out, o);
                        }
                    } else if let Some(is_default) = o.in_li.take() {
                        let text = std::mem::take(&mut o.text);
                        o.items.push((is_default, text));
                    }
                }
                if descriptions.last() == Some(&depth) {
                    descriptions.pop();
                }
                depth = depth.saturating_sub(1);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    out
}

/// Predefined XML entities and character references.
fn entity(r: &quick_xml::events::BytesRef<'_>) -> Option<char> {
    if let Ok(Some(c)) = r.resolve_char_ref() {
        return Some(c);
    }
    match r.as_ref() {
        b"amp" => Some('&'),
        b"lt" => Some('<'),
        b"gt" => Some('>'),
        b"quot" => Some('"'),
        b"apos" => Some('\''),
        _ => None,
    }
}

fn finish(out: &mut Map<String, Json>, o: Open) {
    let values: Vec<String> = if o.items.is_empty() {
        vec![o.text.trim().to_string()]
    } else if o.shape == Shape::List {
        o.items
            .into_iter()
            .map(|(_, t)| t.trim().to_string())
            .collect()
    } else {
        // rdf:Alt (language alternatives): the x-default entry, else the first.
        let pick = o.items.iter().position(|(d, _)| *d).unwrap_or(0);
        o.items
            .into_iter()
            .nth(pick)
            .map(|(_, t)| vec![t.trim().to_string()])
            .unwrap_or_default()
    };
    emit(out, o.name, o.shape, values);
}

fn emit(out: &mut Map<String, Json>, name: &str, shape: Shape, values: Vec<String>) {
    let values: Vec<String> = values.into_iter().filter(|v| !v.is_empty()).collect();
    let Some(first) = values.first() else {
        return;
    };
    let v = match shape {
        Shape::List => Json::Array(values.iter().cloned().map(Json::String).collect()),
        Shape::Number => first
            .parse::<f64>()
            .ok()
            .and_then(crate::exif_data::num)
            .unwrap_or_else(|| Json::String(first.clone())),
        Shape::Text => Json::String(first.clone()),
    };
    out.entry(name.to_string()).or_insert(v);
}

#[cfg(test)]
mod tests {
    use super::*;

    const PACKET: &str = r#"<?xpacket begin='' id='W5M0MpCehiHzreSzNTczkc9d'?>
<x:xmpmeta xmlns:x='adobe:ns:meta/'>
<rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'>
 <rdf:Description rdf:about='' xmlns:dc='http://purl.org/dc/elements/1.1/'
   xmlns:xmp='http://ns.adobe.com/xap/1.0/' xmp:Rating='4'>
  <dc:title><rdf:Alt>
    <rdf:li xml:lang='fr'>Titre</rdf:li>
    <rdf:li xml:lang='x-default'>Fish &amp; chips &#x2764;</rdf:li>
  </rdf:Alt></dc:title>
  <dc:subject><rdf:Bag><rdf:li>summer</rdf:li><rdf:li>dress</rdf:li></rdf:Bag></dc:subject>
  <dc:creator><rdf:Seq><rdf:li>Ann</rdf:li></rdf:Seq></dc:creator>
  <dc:format>image/jpeg</dc:format>
 </rdf:Description>
</rdf:RDF>
</x:xmpmeta>
<?xpacket end='w'?>"#;

    #[test]
    fn properties() {
        let m = to_json(PACKET.as_bytes());
        assert_eq!(m["Title"], "Fish & chips \u{2764}");
        assert_eq!(m["Keywords"], serde_json::json!(["summer", "dress"]));
        assert_eq!(m["Creator"], serde_json::json!(["Ann"]));
        assert_eq!(m["Rating"], 4);
        assert!(!m.contains_key("format"));
    }

    #[test]
    fn broken_packets_keep_what_parsed() {
        let cut = &PACKET.as_bytes()[..PACKET.find("<dc:creator>").unwrap_or(0)];
        let m = to_json(cut);
        assert_eq!(m["Keywords"], serde_json::json!(["summer", "dress"]));
        assert!(to_json(b"\xFF\xFE garbage <<<").is_empty());
        let deep = "<a>".repeat(10_000);
        assert!(to_json(deep.as_bytes()).is_empty());
    }
}
