//! Reads the answer to `GET /api/{v}/sessions/current` (protocol §6.1), XML or JSON:
//!
//! ```text
//! <tsResponse><session><site id name contentUrl/><user id name siteRole/></session></tsResponse>
//! {"session": {"site": {"id", "name", "contentUrl"}, "user": {"id", "name", "siteRole"}}}
//! ```
//!
//! The ureq crate has serde_json but no XML parser, so the XML side is a small, strict reader
//! of start tags and attributes: enough for this flat document, never panicking on any input.
//! Errors describe the structure only, never the content of the body.

use serde_json::Value;

/// Who and where the session is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CurrentSession {
    pub(crate) site_id: String,
    pub(crate) site_content_url: String,
    pub(crate) user_id: String,
    pub(crate) user_name: String,
    /// Optional in the documented schema.
    pub(crate) site_role: Option<String>,
}

/// The deepest element nesting accepted.
const MAX_DEPTH: usize = 32;

/// Parses the body, JSON when it starts with `{`, XML otherwise (whatever was asked for).
pub(crate) fn parse(body: &[u8]) -> Result<CurrentSession, String> {
    let text = std::str::from_utf8(body).map_err(|_| "the body is not UTF-8".to_owned())?;
    let text = text.trim_start_matches('\u{feff}').trim_start();
    if text.starts_with('{') {
        parse_json(text)
    } else {
        parse_xml(text)
    }
}

fn parse_json(text: &str) -> Result<CurrentSession, String> {
    let doc: Value = serde_json::from_str(text).map_err(|e| {
        format!(
            "the JSON is invalid at line {} column {}",
            e.line(),
            e.column()
        )
    })?;
    let session = doc
        .get("session")
        .ok_or_else(|| "the response has no `session`".to_owned())?;
    let part = |name: &str| {
        session
            .get(name)
            .filter(|v| v.is_object())
            .ok_or_else(|| format!("the response has no `session.{name}` object"))
    };
    let (site, user) = (part("site")?, part("user")?);
    let field = |object: &Value, path: &str, key: &str| -> Result<Option<String>, String> {
        match object.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(format!("`session.{path}.{key}` is not a string")),
        }
    };
    let required = |object: &Value, path: &str, key: &str| {
        field(object, path, key)?
            .ok_or_else(|| format!("the response has no `session.{path}.{key}`"))
    };
    Ok(CurrentSession {
        site_id: required(site, "site", "id")?,
        site_content_url: required(site, "site", "contentUrl")?,
        user_id: required(user, "user", "id")?,
        user_name: required(user, "user", "name")?,
        site_role: field(user, "user", "siteRole")?,
    })
}

/// One start tag: its local name (namespace prefix dropped) and its attributes, unescaped.
struct StartTag<'a> {
    name: &'a str,
    attributes: Vec<(&'a str, String)>,
    self_closing: bool,
}

impl StartTag<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    }
}

fn parse_xml(text: &str) -> Result<CurrentSession, String> {
    let mut stack: Vec<&str> = Vec::new();
    let mut seen_root = false;
    let mut site: Option<StartTag<'_>> = None;
    let mut user: Option<StartTag<'_>> = None;
    let mut rest = text;
    while let Some(at) = rest.find('<') {
        let markup = rest.get(at..).unwrap_or_default();
        if let Some(after) = markup.strip_prefix("<?") {
            rest = skip_past(after, "?>", "a processing instruction")?;
        } else if let Some(after) = markup.strip_prefix("<!--") {
            rest = skip_past(after, "-->", "a comment")?;
        } else if let Some(after) = markup.strip_prefix("<![CDATA[") {
            rest = skip_past(after, "]]>", "a CDATA section")?;
        } else if markup.starts_with("<!") {
            return Err("the XML has a DOCTYPE: not a Tableau response".to_owned());
        } else if let Some(after) = markup.strip_prefix("</") {
            let (name, tail) = after
                .split_once('>')
                .ok_or_else(|| "an end tag is not closed".to_owned())?;
            if stack.pop() != Some(local(name.trim())) {
                return Err("the XML's end tags do not match its start tags".to_owned());
            }
            rest = tail;
        } else {
            let after = markup.get(1..).unwrap_or_default();
            let (tag, tail) = start_tag(after)?;
            rest = tail;
            let (name, self_closing) = (tag.name, tag.self_closing);
            match stack.as_slice() {
                [] if seen_root => return Err("the XML has more than one root".to_owned()),
                [] if name != "tsResponse" => {
                    return Err("the root element is not tsResponse".to_owned());
                }
                [] => seen_root = true,
                ["tsResponse"] if name == "error" => {
                    return Err("the response is a Tableau error".to_owned());
                }
                ["tsResponse", "session"] if name == "site" && site.is_none() => site = Some(tag),
                ["tsResponse", "session"] if name == "user" && user.is_none() => user = Some(tag),
                _ => {}
            }
            if !self_closing {
                if stack.len() >= MAX_DEPTH {
                    return Err("the XML is nested too deeply".to_owned());
                }
                stack.push(name);
            }
        }
    }
    if !seen_root || !stack.is_empty() {
        return Err("the XML document is incomplete".to_owned());
    }
    let site = site.ok_or_else(|| "the response has no session/site element".to_owned())?;
    let user = user.ok_or_else(|| "the response has no session/user element".to_owned())?;
    let required = |tag: &StartTag<'_>, element: &str, key: &str| {
        tag.get(key)
            .map(str::to_owned)
            .ok_or_else(|| format!("the session's {element} has no `{key}` attribute"))
    };
    Ok(CurrentSession {
        site_id: required(&site, "site", "id")?,
        site_content_url: required(&site, "site", "contentUrl")?,
        user_id: required(&user, "user", "id")?,
        user_name: required(&user, "user", "name")?,
        site_role: user.get("siteRole").map(str::to_owned),
    })
}

/// The text after the first `end`.
fn skip_past<'a>(text: &'a str, end: &str, what: &str) -> Result<&'a str, String> {
    text.split_once(end)
        .map(|(_, tail)| tail)
        .ok_or_else(|| format!("{what} is not closed"))
}

/// `ts:session` → `session`.
fn local(name: &str) -> &str {
    name.rsplit(':').next().unwrap_or(name)
}

fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, ':' | '_' | '-' | '.')
}

/// Reads a start tag from just after its `<`; returns it and the text after its `>`.
fn start_tag(text: &str) -> Result<(StartTag<'_>, &str), String> {
    let name_end = text
        .find(|c: char| !is_name_char(c))
        .ok_or_else(|| "a start tag is not closed".to_owned())?;
    let (name, mut rest) = text.split_at(name_end);
    if name.is_empty() {
        return Err("a start tag has no name".to_owned());
    }
    let mut attributes = Vec::new();
    loop {
        rest = rest.trim_start();
        if let Some(tail) = rest.strip_prefix("/>") {
            return Ok((
                StartTag {
                    name: local(name),
                    attributes,
                    self_closing: true,
                },
                tail,
            ));
        }
        if let Some(tail) = rest.strip_prefix('>') {
            return Ok((
                StartTag {
                    name: local(name),
                    attributes,
                    self_closing: false,
                },
                tail,
            ));
        }
        let (key, tail) = rest
            .split_once('=')
            .ok_or_else(|| "a start tag is malformed".to_owned())?;
        let key = key.trim_end();
        if key.is_empty() || !key.chars().all(is_name_char) {
            return Err("an attribute name is malformed".to_owned());
        }
        let tail = tail.trim_start();
        let Some(quote @ ('"' | '\'')) = tail.chars().next() else {
            return Err("an attribute value is not quoted".to_owned());
        };
        let (raw, after) = tail
            .get(1..)
            .and_then(|t| t.split_once(quote))
            .ok_or_else(|| "an attribute value is not closed".to_owned())?;
        if raw.contains('<') {
            return Err("an attribute value contains `<`".to_owned());
        }
        if attributes.iter().any(|(k, _)| *k == key) {
            return Err("an attribute is repeated".to_owned());
        }
        attributes.push((key, unescape(raw)?));
        rest = after;
    }
}

/// Resolves the five predefined entities and character references.
fn unescape(raw: &str) -> Result<String, String> {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(at) = rest.find('&') {
        let (before, from_amp) = rest.split_at(at);
        out.push_str(before);
        let (entity, tail) = from_amp
            .get(1..)
            .and_then(|t| t.split_once(';'))
            .ok_or_else(|| "an entity reference is not closed".to_owned())?;
        let c = match entity {
            "lt" => '<',
            "gt" => '>',
            "amp" => '&',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                let code = if let Some(hex) = entity
                    .strip_prefix("#x")
                    .or_else(|| entity.strip_prefix("#X"))
                {
                    u32::from_str_radix(hex, 16).ok()
                } else if let Some(dec) = entity.strip_prefix('#') {
                    dec.parse::<u32>().ok()
                } else {
                    None
                };
                code.filter(|c| *c != 0)
                    .and_then(char::from_u32)
                    .ok_or_else(|| "an entity reference is unknown or invalid".to_owned())?
            }
        };
        out.push(c);
        rest = tail;
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const XML: &str = r#"<?xml version='1.0' encoding='UTF-8'?>
<tsResponse xmlns="http://tableau.com/api" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <!-- a comment with <tags> -->
  <session>
    <site id="6b7179ba-b82b-4f0f-91ed-812074ac5da6" name="Finance &amp; Co" contentUrl="Finance"/>
    <user id="1a96d216-e9b8-497b-a82a-0b899a965e01" name='j&quot;smith&#233;&#xE9;'
          siteRole="Creator" lastLogin="2025-05-02T08:14:55Z" authSetting="ServerDefault"/>
  </session>
</tsResponse>"#;

    #[test]
    fn reads_xml() {
        let s = parse(XML.as_bytes()).unwrap();
        assert_eq!(s.site_id, "6b7179ba-b82b-4f0f-91ed-812074ac5da6");
        assert_eq!(s.site_content_url, "Finance");
        assert_eq!(s.user_id, "1a96d216-e9b8-497b-a82a-0b899a965e01");
        assert_eq!(s.user_name, "j\"smithéé");
        assert_eq!(s.site_role.as_deref(), Some("Creator"));
    }

    #[test]
    fn reads_prefixed_xml_and_empty_content_url() {
        let xml = r#"<ts:tsResponse xmlns:ts="http://tableau.com/api"><ts:session><ts:site id="a" contentUrl=""></ts:site><ts:user id="b" name="c"/></ts:session></ts:tsResponse>"#;
        let s = parse(xml.as_bytes()).unwrap();
        assert_eq!(s.site_content_url, "");
        assert_eq!(s.user_name, "c");
        assert_eq!(s.site_role, None);
    }

    #[test]
    fn reads_json() {
        let json = r#"{"session":{"site":{"id":"a","name":"Default","contentUrl":""},"user":{"id":"b","name":"admin","siteRole":"ServerAdministrator"}}}"#;
        let s = parse(json.as_bytes()).unwrap();
        assert_eq!(s.site_id, "a");
        assert_eq!(s.site_content_url, "");
        assert_eq!(s.user_name, "admin");
        assert_eq!(s.site_role.as_deref(), Some("ServerAdministrator"));
    }

    #[test]
    fn refuses_odd_input_without_panicking() {
        let bad: &[&[u8]] = &[
            b"",
            b"\xff\xfe",
            b"<",
            b"<>",
            b"</x>",
            b"<tsResponse",
            b"<tsResponse><session><site id=\"a\" contentUrl=\"\"/><user id=\"b\"/></session></tsResponse>",
            b"<tsResponse><session><site id=\"a\" contentUrl=\"\"/></session></tsResponse>",
            b"<tsResponse><session><site id=a/></session></tsResponse>",
            b"<tsResponse><session><site id=\"a&bogus;\"/></session></tsResponse>",
            b"<tsResponse><session><site id=\"&#0;\"/></session></tsResponse>",
            b"<tsResponse><session><site id=\"&#xD800;\"/></session></tsResponse>",
            b"<tsResponse><session></tsResponse></session>",
            b"<tsResponse><error code=\"401002\"/></tsResponse>",
            b"<!DOCTYPE html><html><body>gateway</body></html>",
            b"<html><body>gateway</body></html>",
            b"<tsResponse/><tsResponse/>",
            b"{",
            b"{}",
            b"{\"session\":{\"site\":[],\"user\":{}}}",
            b"{\"session\":{\"site\":{\"id\":1,\"contentUrl\":\"\"},\"user\":{\"id\":\"b\",\"name\":\"c\"}}}",
        ];
        for body in bad {
            assert!(parse(body).is_err(), "{}", String::from_utf8_lossy(body));
        }
        let deep = "<tsResponse>".to_owned() + &"<a>".repeat(100);
        assert!(parse(deep.as_bytes()).is_err());
        // Every prefix of a good document is refused or read, never a panic.
        for end in 0..=XML.len() {
            if let Some(prefix) = XML.get(..end) {
                let _ = parse(prefix.as_bytes());
            }
        }
    }
}
