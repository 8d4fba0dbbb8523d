//! Request bodies (`tsRequest` XML or the equivalent JSON) read into one small element tree,
//! so the handlers see the same structure whichever format the client used.

use std::collections::BTreeMap;

use quick_xml::XmlVersion;
use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;

/// Maximum element nesting accepted (deeper documents are rejected as malformed).
const MAX_DEPTH: usize = 32;

/// An element: local name, attributes (local names), child elements. Text is ignored (the
/// auth requests carry everything in attributes).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Elem {
    pub(crate) name: String,
    pub(crate) attrs: BTreeMap<String, String>,
    pub(crate) children: Vec<Self>,
}

impl Elem {
    fn named(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            ..Self::default()
        }
    }

    /// The attribute's value.
    pub(crate) fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.get(name).map(String::as_str)
    }

    /// All children with this local name.
    pub(crate) fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Self> {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The only child with this name: `Ok(None)` if absent, `Err` if repeated.
    pub(crate) fn single<'a>(&'a self, name: &'a str) -> Result<Option<&'a Self>, ()> {
        let mut it = self.children_named(name);
        let first = it.next();
        if it.next().is_some() {
            return Err(());
        }
        Ok(first)
    }
}

/// Reads a `tsRequest` XML document. The namespace, XML declaration and prefixes are optional
/// (matching is on local names); DOCTYPEs, unbalanced tags, bad escapes and duplicate
/// attributes are errors. Returns the root element.
pub(crate) fn from_xml(bytes: &[u8]) -> Result<Elem, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8: {e}"))?;
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Elem> = Vec::new();
    let mut root: Option<Elem> = None;
    loop {
        let event = reader.read_event().map_err(|e| e.to_string())?;
        match event {
            Event::Start(start) => {
                if root.is_some() {
                    return Err("content after the root element".into());
                }
                if stack.len() >= MAX_DEPTH {
                    return Err("too deep".into());
                }
                stack.push(element(&start)?);
            }
            Event::Empty(start) => {
                if root.is_some() {
                    return Err("content after the root element".into());
                }
                let elem = element(&start)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(elem),
                    None => root = Some(elem),
                }
            }
            Event::End(_) => {
                let elem = stack.pop().ok_or("unbalanced end tag")?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(elem),
                    None => root = Some(elem),
                }
            }
            Event::Text(t) => {
                let raw = t.into_inner();
                if stack.is_empty() && !raw.trim().is_empty() {
                    return Err("text outside the root element".into());
                }
            }
            Event::CData(_) | Event::GeneralRef(_) => {
                if stack.is_empty() {
                    return Err("text outside the root element".into());
                }
            }
            Event::DocType(_) => return Err("DOCTYPE not allowed".into()),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err("unclosed element".into());
    }
    root.ok_or_else(|| "empty document".into())
}

fn element(start: &BytesStart<'_>) -> Result<Elem, String> {
    let name = start.local_name().as_ref().to_owned();
    let mut elem = Elem::named(&name);
    let mut attributes = start.attributes();
    attributes.with_checks(true);
    for attr in attributes {
        let attr = attr.map_err(|e| e.to_string())?;
        let key = attr.key;
        if key.as_ref() == "xmlns" || key.as_ref().starts_with("xmlns:") {
            continue;
        }
        let local = key.local_name().as_ref().to_owned();
        let value = attr
            .normalized_value(XmlVersion::Implicit1_0)
            .map_err(|e| e.to_string())?
            .into_owned();
        if elem.attrs.insert(local.clone(), value).is_some() {
            return Err(format!("duplicate attribute {local}"));
        }
    }
    Ok(elem)
}

/// Reads the JSON form: the top-level object's members become the children of a synthetic
/// `tsRequest` root; string, number and boolean members become attributes; objects become
/// child elements; arrays of objects become repeated children. `null` members are ignored.
pub(crate) fn from_json(bytes: &[u8]) -> Result<Elem, String> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    let serde_json::Value::Object(map) = value else {
        return Err("top level is not an object".into());
    };
    let mut root = Elem::named("tsRequest");
    fill_from_json(&mut root, &map, 0)?;
    Ok(root)
}

fn fill_from_json(
    elem: &mut Elem,
    map: &serde_json::Map<String, serde_json::Value>,
    depth: usize,
) -> Result<(), String> {
    use serde_json::Value;
    if depth >= MAX_DEPTH {
        return Err("too deep".into());
    }
    for (key, value) in map {
        match value {
            Value::Null => {}
            Value::Bool(b) => {
                elem.attrs.insert(key.clone(), b.to_string());
            }
            Value::Number(n) => {
                elem.attrs.insert(key.clone(), n.to_string());
            }
            Value::String(s) => {
                elem.attrs.insert(key.clone(), s.clone());
            }
            Value::Object(inner) => {
                let mut child = Elem::named(key);
                fill_from_json(&mut child, inner, depth + 1)?;
                elem.children.push(child);
            }
            Value::Array(items) => {
                for item in items {
                    let Value::Object(inner) = item else {
                        return Err(format!("array {key} holds a non-object"));
                    };
                    let mut child = Elem::named(key);
                    fill_from_json(&mut child, inner, depth + 1)?;
                    elem.children.push(child);
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_with_and_without_namespace() {
        for doc in [
            r#"<tsRequest><credentials name="a&amp;b" password="&#228;&lt;&quot;"><site contentUrl="" /></credentials></tsRequest>"#,
            r#"<?xml version="1.0"?><ts:tsRequest xmlns:ts="http://tableau.com/api"><ts:credentials ts:name="a&amp;b" password="ä&lt;&quot;"><ts:site contentUrl=""/></ts:credentials></ts:tsRequest>"#,
        ] {
            let root = from_xml(doc.as_bytes()).expect(doc);
            assert_eq!(root.name, "tsRequest");
            let creds = root.single("credentials").expect("one").expect("present");
            assert_eq!(creds.attr("name"), Some("a&b"));
            assert_eq!(creds.attr("password"), Some("ä<\""));
            let site = creds.single("site").expect("one").expect("present");
            assert_eq!(site.attr("contentUrl"), Some(""));
        }
    }

    #[test]
    fn xml_rejects() {
        for doc in [
            "",
            "not xml",
            "<tsRequest>",
            "<a></b>",
            "<a x='1' x='2'/>",
            "<!DOCTYPE a [<!ENTITY e 'x'>]><a/>",
            "<a/><b/>",
            "<a b='&bogus;'/>",
        ] {
            assert!(from_xml(doc.as_bytes()).is_err(), "{doc}");
        }
        let deep = "<a>".repeat(100) + &"</a>".repeat(100);
        assert!(from_xml(deep.as_bytes()).is_err());
    }

    #[test]
    fn json_maps_to_the_same_tree() {
        let root = from_json(
            br#"{"credentials":{"jwt":"x.y.z","isUat":true,"site":{"contentUrl":"Finance"},"user":{"id":"u"}}}"#,
        )
        .expect("json");
        let creds = root.single("credentials").expect("one").expect("present");
        assert_eq!(creds.attr("isUat"), Some("true"));
        assert_eq!(
            creds
                .single("user")
                .expect("one")
                .and_then(|u| u.attr("id")),
            Some("u")
        );
        assert!(from_json(b"[1]").is_err());
        assert!(from_json(b"{").is_err());
    }
}
