//! The two wire formats: request bodies out, response documents in.
//!
//! One set of document types reads both formats: XML attributes are `@name`, JSON members are
//! `name`, and serde aliases map one onto the other. Responses are parsed by sniffing the body,
//! not by trusting `Content-Type`: error pages arrive as XML, JSON or HTML whatever was asked.
//! Text is borrowed from the body where it needs no unescaping, so secrets are not copied more
//! than once.

pub(crate) mod json;
pub(crate) mod xml;

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use crate::config::Format;
use crate::error::Error;

/// The request bodies the core sends, before encoding.
pub(crate) enum Body<'a> {
    SignIn {
        credentials: CredentialFields<'a>,
        site: &'a str,
        impersonate: Option<&'a str>,
    },
    SwitchSite {
        site: &'a str,
    },
}

/// The attributes of `<credentials>`, one credential kind.
pub(crate) enum CredentialFields<'a> {
    Password { name: &'a str, password: &'a str },
    PersonalAccessToken { name: &'a str, secret: &'a str },
    Jwt { jwt: &'a str, is_uat: bool },
}

impl Body<'_> {
    /// Encodes the body, refusing characters the format cannot carry.
    pub(crate) fn encode(&self, format: Format) -> Result<Vec<u8>, Error> {
        match format {
            Format::Xml => xml::encode(self),
            Format::Json => json::encode(self),
        }
    }
}

/// A `tsResponse` (XML) or the top-level object (JSON).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Document<'a> {
    #[serde(borrow, default)]
    pub(crate) credentials: Option<CredentialsDoc<'a>>,
    #[serde(default)]
    pub(crate) error: Option<ErrorDoc>,
    #[serde(rename = "serverInfo", borrow, default)]
    pub(crate) server_info: Option<ServerInfoDoc<'a>>,
    #[serde(borrow, default)]
    pub(crate) session: Option<SessionDoc<'a>>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct CredentialsDoc<'a> {
    #[serde(rename = "@token", alias = "token", borrow)]
    pub(crate) token: Cow<'a, str>,
    #[serde(
        rename = "@estimatedTimeToExpiration",
        alias = "estimatedTimeToExpiration",
        borrow,
        default
    )]
    pub(crate) estimated_time_to_expiration: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(crate) site: SiteDoc<'a>,
    #[serde(borrow)]
    pub(crate) user: UserDoc<'a>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct SiteDoc<'a> {
    #[serde(rename = "@id", alias = "id", borrow)]
    pub(crate) id: Cow<'a, str>,
    #[serde(rename = "@contentUrl", alias = "contentUrl", borrow, default)]
    pub(crate) content_url: Cow<'a, str>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct UserDoc<'a> {
    #[serde(rename = "@id", alias = "id", borrow)]
    pub(crate) id: Cow<'a, str>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ErrorDoc {
    #[serde(rename = "@code", alias = "code", deserialize_with = "lenient_text")]
    pub(crate) code: String,
    // Free text, read leniently: an odd summary must not hide the code (a 401001 misread as
    // "not a Tableau body" would be retried as if the session had expired).
    #[serde(default, deserialize_with = "lenient_text")]
    pub(crate) summary: String,
    #[serde(default, deserialize_with = "lenient_text")]
    pub(crate) detail: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ServerInfoDoc<'a> {
    #[serde(rename = "productVersion", borrow)]
    pub(crate) product_version: ProductVersionDoc<'a>,
    #[serde(rename = "restApiVersion", deserialize_with = "lenient_text")]
    pub(crate) rest_api_version: String,
    #[serde(borrow, default)]
    pub(crate) platform: Option<Cow<'a, str>>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ProductVersionDoc<'a> {
    #[serde(rename = "$text", alias = "value", borrow, default)]
    pub(crate) value: Cow<'a, str>,
    #[serde(rename = "@build", alias = "build", borrow, default)]
    pub(crate) build: Option<Cow<'a, str>>,
}

impl Document<'_> {
    /// Whether the document holds anything Tableau sends (an HTML page deserialises into an
    /// empty document, since serde does not look at the root element's name).
    pub(crate) fn is_tableau(&self) -> bool {
        self.credentials.is_some()
            || self.error.is_some()
            || self.server_info.is_some()
            || self.session.is_some()
    }
}

/// A document that must hold `credentials` (the 200 answer to a sign-in or a site switch).
/// Deserialising into it skips the optional members a [`Document`] tries, which is the fast
/// path of every sign-in; anything else falls back to [`parse`].
#[derive(Debug, Deserialize)]
pub(crate) struct CredentialsOnly<'a> {
    #[serde(borrow)]
    pub(crate) credentials: CredentialsDoc<'a>,
}

/// Reads the credentials of a successful sign-in or site switch, fast when the body is what
/// Tableau sends; `None` means "not that", and the caller asks [`parse`] what it is instead.
pub(crate) fn parse_credentials(body: &[u8]) -> Option<CredentialsDoc<'_>> {
    match sniff(body) {
        Sniffed::Json => json::parse_fast::<CredentialsOnly<'_>>(body).map(|d| d.credentials),
        Sniffed::Xml => xml::parse_fast::<CredentialsOnly<'_>>(body).map(|d| d.credentials),
        Sniffed::Other => None,
    }
}

/// The answer to `GET sessions/current` (docs/protocol.md, "Who and where"): `<session><site/><user/></session>`.
#[derive(Debug, Deserialize)]
pub(crate) struct SessionDoc<'a> {
    #[serde(borrow)]
    pub(crate) site: SessionSiteDoc<'a>,
    #[serde(borrow)]
    pub(crate) user: SessionUserDoc<'a>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct SessionSiteDoc<'a> {
    #[serde(rename = "@id", alias = "id", borrow)]
    pub(crate) id: Cow<'a, str>,
    #[serde(rename = "@name", alias = "name", borrow)]
    pub(crate) name: Cow<'a, str>,
    // Required by the schema, but read leniently like the sign-in's: absent means `""`.
    #[serde(rename = "@contentUrl", alias = "contentUrl", borrow, default)]
    pub(crate) content_url: Cow<'a, str>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct SessionUserDoc<'a> {
    #[serde(rename = "@id", alias = "id", borrow)]
    pub(crate) id: Cow<'a, str>,
    #[serde(rename = "@name", alias = "name", borrow)]
    pub(crate) name: Cow<'a, str>,
    #[serde(rename = "@siteRole", alias = "siteRole", borrow, default)]
    pub(crate) site_role: Option<Cow<'a, str>>,
    #[serde(rename = "@fullName", alias = "fullName", borrow, default)]
    pub(crate) full_name: Option<Cow<'a, str>>,
    #[serde(rename = "@email", alias = "email", borrow, default)]
    pub(crate) email: Option<Cow<'a, str>>,
    #[serde(rename = "@lastLogin", alias = "lastLogin", borrow, default)]
    pub(crate) last_login: Option<Cow<'a, str>>,
    #[serde(rename = "@authSetting", alias = "authSetting", borrow, default)]
    pub(crate) auth_setting: Option<Cow<'a, str>>,
    #[serde(
        rename = "@externalAuthUserId",
        alias = "externalAuthUserId",
        borrow,
        default
    )]
    pub(crate) external_auth_user_id: Option<Cow<'a, str>>,
    #[serde(rename = "@locale", alias = "locale", borrow, default)]
    pub(crate) locale: Option<Cow<'a, str>>,
    #[serde(rename = "@language", alias = "language", borrow, default)]
    pub(crate) language: Option<Cow<'a, str>>,
}

/// A document that must hold `session` (the 200 answer to `sessions/current`); the fast path,
/// as [`CredentialsOnly`] is for sign-in.
#[derive(Debug, Deserialize)]
pub(crate) struct SessionOnly<'a> {
    #[serde(borrow)]
    pub(crate) session: SessionDoc<'a>,
}

/// Reads the answer to `sessions/current`, fast when the body is what Tableau sends; `None`
/// means "not that", and the caller asks [`parse`] what it is instead.
pub(crate) fn parse_session(body: &[u8]) -> Option<SessionDoc<'_>> {
    match sniff(body) {
        Sniffed::Json => json::parse_fast::<SessionOnly<'_>>(body).map(|d| d.session),
        Sniffed::Xml => xml::parse_fast::<SessionOnly<'_>>(body).map(|d| d.session),
        Sniffed::Other => None,
    }
}

/// The legacy (pre-10.1) `/auth?format=xml` document: `<authinfo><version><product_version>`.
#[derive(Debug, Deserialize)]
pub(crate) struct AuthInfoDoc {
    pub(crate) version: AuthInfoVersion,
}

#[derive(Debug, Deserialize)]
pub(crate) struct AuthInfoVersion {
    pub(crate) product_version: String,
}

/// What a response body turned out to be. Lives only for one parse, on the stack.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub(crate) enum Parsed<'a> {
    /// A Tableau document (XML `tsResponse` or a JSON object).
    Tableau(Document<'a>),
    /// The legacy `authinfo` document.
    Legacy(AuthInfoDoc),
    /// Empty, HTML, plain text or anything else.
    Foreign,
}

/// Parses a response body of either format.
pub(crate) fn parse(body: &[u8]) -> Result<Parsed<'_>, Error> {
    match sniff(body) {
        Sniffed::Json => json::parse(body).map(Parsed::Tableau),
        Sniffed::Xml => xml::parse(body),
        Sniffed::Other => Ok(Parsed::Foreign),
    }
}

enum Sniffed {
    Xml,
    Json,
    Other,
}

fn sniff(body: &[u8]) -> Sniffed {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => Sniffed::Json,
        Some(b'<') => Sniffed::Xml,
        _ => Sniffed::Other,
    }
}

/// Wraps a serde error with its path into [`Error::Decode`], keeping the message short.
pub(crate) fn decode_error<E: fmt::Display>(
    format: Format,
    err: serde_path_to_error::Error<E>,
) -> Error {
    let path = err.path().to_string();
    let message: String = elide_quoted(&err.inner().to_string())
        .chars()
        .take(200)
        .collect();
    Error::Decode {
        format,
        path,
        message,
    }
}

/// Replaces the contents of double-quoted strings by `…`: serde quotes the offending value in
/// its messages (`invalid type: string "…"`), and that value may be a secret.
fn elide_quoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut chars = message.chars();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '"' {
            let mut escaped = false;
            for inner in chars.by_ref() {
                match (escaped, inner) {
                    (false, '\\') => escaped = true,
                    (false, '"') => break,
                    _ => escaped = false,
                }
            }
            out.push_str("…\"");
        }
    }
    out
}

/// Reads any scalar, or an element's text, as a trimmed string: `"401002"` and `401002` alike
/// (some proxies and old servers send numbers), and `<restApiVersion>3.25</restApiVersion>`,
/// which quick-xml presents as a map holding `$text`. Anything else (an array, an element
/// without text) reads as the empty string: callers check what they require.
fn lenient_text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = String;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("text")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
            Ok(v.trim().to_owned())
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_unit<E: de::Error>(self) -> Result<String, E> {
            Ok(String::new())
        }
        fn visit_none<E: de::Error>(self) -> Result<String, E> {
            Ok(String::new())
        }
        fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<String, A::Error> {
            while seq.next_element::<de::IgnoredAny>()?.is_some() {}
            Ok(String::new())
        }
        fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<String, A::Error> {
            let mut text = String::new();
            while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                if key == "$text" || key == "value" {
                    let part = map.next_value::<Cow<'de, str>>()?;
                    if !text.is_empty() {
                        text.push(' ');
                    }
                    text.push_str(part.trim());
                } else {
                    map.next_value::<de::IgnoredAny>()?;
                }
            }
            Ok(text)
        }
    }
    d.deserialize_any(V)
}

/// Parses `estimatedTimeToExpiration`, believed to be `days:hours:minutes` (docs/protocol.md,
/// "The response" and "Open questions" 1: captured values such as `173:21:12` and third-party
/// parsers agree).
pub(crate) fn parse_estimated_time_to_expiration(value: &str) -> Option<std::time::Duration> {
    // Three runs of at most nine digits, separated by ':'; read by hand, byte by byte (this
    // runs on every sign-in).
    let mut parts = [0u64; 3];
    let mut digits = [0usize; 3];
    let mut field = 0;
    for b in value.trim().bytes() {
        match b {
            b':' if field < 2 => field += 1,
            b'0'..=b'9' => {
                let (part, count) = (parts.get_mut(field)?, digits.get_mut(field)?);
                *count += 1;
                if *count > 9 {
                    return None;
                }
                *part = *part * 10 + u64::from(b - b'0');
            }
            _ => return None,
        }
    }
    let [days, hours, minutes] = parts;
    if field != 2 || digits.contains(&0) || hours >= 24 || minutes >= 60 {
        return None;
    }
    Some(std::time::Duration::from_secs(
        days * 86_400 + hours * 3_600 + minutes * 60,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimated_time_to_expiration_is_believed_days_hours_minutes() {
        assert_eq!(
            parse_estimated_time_to_expiration("173:21:12"),
            Some(std::time::Duration::from_secs(
                173 * 86_400 + 21 * 3_600 + 12 * 60
            ))
        );
        for bad in [
            "",
            "1:2",
            "1:2:3:4",
            "a:b:c",
            "1:24:00",
            "1:00:60",
            "-1:00:00",
            "9999999999:00:00",
        ] {
            assert_eq!(parse_estimated_time_to_expiration(bad), None, "{bad}");
        }
    }

    #[test]
    fn quoted_values_are_elided_from_decode_messages() {
        assert_eq!(
            elide_quoted(r#"invalid type: string "se\"cret", expected struct SiteDoc"#),
            r#"invalid type: string "…", expected struct SiteDoc"#
        );
        assert_eq!(elide_quoted("missing field `site`"), "missing field `site`");
        assert_eq!(elide_quoted(r#"unterminated "abc"#), r#"unterminated "…""#);
    }

    #[test]
    fn sniffs_formats() {
        assert!(matches!(sniff(b"\xEF\xBB\xBF  <x/>"), Sniffed::Xml));
        assert!(matches!(sniff(b"\n{}"), Sniffed::Json));
        assert!(matches!(sniff(b"-1"), Sniffed::Other));
        assert!(matches!(sniff(b""), Sniffed::Other));
    }
}
