//! XML: `<tsRequest>` bodies out, `<tsResponse>` documents in.
//!
//! Requests carry no XML declaration and no namespace, as TSC and Tableau's samples send them.
//! Responses are matched on local names; the namespace (`http://tableau.com/api`, or the 9.0
//! `http://tableausoftware.com/api`) and the schema location are ignored.

use quick_xml::Reader;
use quick_xml::events::Event as XmlEvent;

use super::{Body, CredentialFields, Parsed, decode_error};
use crate::config::Format;
use crate::error::{Error, Misuse};

pub(crate) fn encode(body: &Body<'_>) -> Result<Vec<u8>, Error> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(b"<tsRequest>");
    match body {
        Body::SignIn {
            credentials,
            site,
            impersonate,
        } => {
            out.extend_from_slice(b"<credentials");
            match credentials {
                CredentialFields::Password { name, password } => {
                    attribute(&mut out, "name", name, "user name")?;
                    attribute(&mut out, "password", password, "password")?;
                }
                CredentialFields::PersonalAccessToken { name, secret } => {
                    attribute(&mut out, "personalAccessTokenName", name, "token name")?;
                    attribute(
                        &mut out,
                        "personalAccessTokenSecret",
                        secret,
                        "token secret",
                    )?;
                }
                CredentialFields::Jwt { jwt, is_uat } => {
                    attribute(&mut out, "jwt", jwt, "JWT")?;
                    if *is_uat {
                        out.extend_from_slice(b" isUat=\"true\"");
                    }
                }
            }
            out.push(b'>');
            site_element(&mut out, site)?;
            if let Some(user) = impersonate {
                out.extend_from_slice(b"<user");
                attribute(&mut out, "id", user, "user id")?;
                out.extend_from_slice(b"/>");
            }
            out.extend_from_slice(b"</credentials>");
        }
        Body::SwitchSite { site } => site_element(&mut out, site)?,
    }
    out.extend_from_slice(b"</tsRequest>");
    Ok(out)
}

fn site_element(out: &mut Vec<u8>, site: &str) -> Result<(), Error> {
    out.extend_from_slice(b"<site");
    attribute(out, "contentUrl", site, "site contentUrl")?;
    out.extend_from_slice(b"/>");
    Ok(())
}

/// Writes ` name="value"`, escaping markup and the white space that attribute-value
/// normalisation would otherwise turn into spaces (a password with a newline stays intact).
fn attribute(out: &mut Vec<u8>, name: &str, value: &str, what: &'static str) -> Result<(), Error> {
    out.push(b' ');
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"=\"");
    // XML 1.0 cannot carry control characters other than these three, nor U+FFFE / U+FFFF
    // (encoded EF BF BE / EF BF BF).
    if value
        .bytes()
        .any(|b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r'))
        || value.contains(['\u{FFFE}', '\u{FFFF}'])
    {
        return Err(Misuse::InvalidCharacter(what).into());
    }
    // Every character to escape is ASCII, so runs between them are copied whole.
    let bytes = value.as_bytes();
    let mut start = 0;
    for (i, b) in bytes.iter().enumerate() {
        let escaped: &[u8] = match b {
            b'&' => b"&amp;",
            b'<' => b"&lt;",
            b'>' => b"&gt;",
            b'"' => b"&quot;",
            b'\t' => b"&#9;",
            b'\n' => b"&#10;",
            b'\r' => b"&#13;",
            _ => continue,
        };
        out.extend_from_slice(bytes.get(start..i).unwrap_or_default());
        out.extend_from_slice(escaped);
        start = i + 1;
    }
    out.extend_from_slice(bytes.get(start..).unwrap_or_default());
    out.push(b'"');
    Ok(())
}

enum Root {
    TsResponse,
    AuthInfo,
    Other,
}

/// The local name of the document element, skipping the declaration, comments, processing
/// instructions, a doctype and white space.
fn root(text: &str) -> Root {
    let mut reader = Reader::from_str(text);
    loop {
        match reader.read_event() {
            Ok(XmlEvent::Start(e) | XmlEvent::Empty(e)) => {
                return match e.local_name().into_inner() {
                    "tsResponse" => Root::TsResponse,
                    "authinfo" => Root::AuthInfo,
                    _ => Root::Other,
                };
            }
            Ok(XmlEvent::Text(t)) => {
                if !t.into_inner().trim().is_empty() {
                    return Root::Other;
                }
            }
            Ok(
                XmlEvent::Decl(_) | XmlEvent::Comment(_) | XmlEvent::PI(_) | XmlEvent::DocType(_),
            ) => {}
            // Cut off inside the root tag: let the deserializer say where it broke.
            Ok(XmlEvent::Eof) | Err(_) if text.contains("<tsResponse") => return Root::TsResponse,
            _ => return Root::Other,
        }
    }
}

/// Deserialises without tracking the path or checking the root element (the common case).
pub(crate) fn parse_fast<'a, T: serde::Deserialize<'a>>(body: &'a [u8]) -> Option<T> {
    let text = std::str::from_utf8(body).ok()?;
    quick_xml::de::from_str(text).ok()
}

pub(crate) fn parse(body: &[u8]) -> Result<Parsed<'_>, Error> {
    if let Some(doc) = parse_fast::<super::Document<'_>>(body)
        && doc.is_tableau()
    {
        return Ok(Parsed::Tableau(doc));
    }
    let text = std::str::from_utf8(body).map_err(|e| Error::Decode {
        format: Format::Xml,
        path: ".".to_owned(),
        message: format!("the body is not UTF-8 ({e})"),
    })?;
    match root(text) {
        Root::TsResponse => {
            let mut de = quick_xml::de::Deserializer::from_str(text);
            serde_path_to_error::deserialize(&mut de)
                .map(Parsed::Tableau)
                .map_err(|e| decode_error(Format::Xml, e))
        }
        Root::AuthInfo => {
            let mut de = quick_xml::de::Deserializer::from_str(text);
            serde_path_to_error::deserialize(&mut de)
                .map(Parsed::Legacy)
                .map_err(|e| decode_error(Format::Xml, e))
        }
        Root::Other => Ok(Parsed::Foreign),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign_in(credentials: CredentialFields<'_>, impersonate: Option<&str>) -> String {
        let body = Body::SignIn {
            credentials,
            site: "Fin&ance",
            impersonate,
        };
        String::from_utf8(encode(&body).unwrap()).unwrap()
    }

    #[test]
    fn encodes_sign_in_with_escaping() {
        let xml = sign_in(
            CredentialFields::Password {
                name: "a\"b",
                password: "p<w>&\n'",
            },
            Some("dd2239f6-ddf1-4107-981a-4cf94e415794"),
        );
        assert_eq!(
            xml,
            "<tsRequest><credentials name=\"a&quot;b\" password=\"p&lt;w&gt;&amp;&#10;'\">\
             <site contentUrl=\"Fin&amp;ance\"/><user id=\"dd2239f6-ddf1-4107-981a-4cf94e415794\"/>\
             </credentials></tsRequest>"
        );
    }

    #[test]
    fn refuses_control_characters() {
        let body = Body::SwitchSite { site: "a\u{1}b" };
        assert!(matches!(
            encode(&body),
            Err(Error::Misuse(Misuse::InvalidCharacter("site contentUrl")))
        ));
    }

    #[test]
    fn non_tableau_documents_are_foreign() {
        for body in [
            "<!DOCTYPE html><html><body>proxy</body></html>",
            "<?xml version='1.0'?><!-- c --><html/>",
            "junk <tsResponse/>",
        ] {
            assert!(
                matches!(parse(body.as_bytes()), Ok(Parsed::Foreign)),
                "{body}"
            );
        }
        assert!(matches!(
            parse(b"<tsResponse>"),
            Err(Error::Decode { .. }) | Ok(Parsed::Tableau(_))
        ));
        assert!(matches!(
            parse(b"<tsResponse>\xff</tsResponse>"),
            Err(Error::Decode { .. })
        ));
    }
}
