//! JSON: the same documents without the `tsRequest`/`tsResponse` wrapper (API 2.5+).

use serde::Serialize;

use super::{Body, CredentialFields, Document, decode_error};
use crate::config::Format;
use crate::error::Error;

#[derive(Serialize)]
struct SignInRequest<'a> {
    credentials: CredentialsOut<'a>,
}

#[derive(Serialize)]
struct CredentialsOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    password: Option<&'a str>,
    #[serde(
        rename = "personalAccessTokenName",
        skip_serializing_if = "Option::is_none"
    )]
    pat_name: Option<&'a str>,
    #[serde(
        rename = "personalAccessTokenSecret",
        skip_serializing_if = "Option::is_none"
    )]
    pat_secret: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    jwt: Option<&'a str>,
    #[serde(rename = "isUat", skip_serializing_if = "Option::is_none")]
    is_uat: Option<bool>,
    site: SiteOut<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<UserOut<'a>>,
}

#[derive(Serialize)]
struct SiteOut<'a> {
    #[serde(rename = "contentUrl")]
    content_url: &'a str,
}

#[derive(Serialize)]
struct UserOut<'a> {
    id: &'a str,
}

#[derive(Serialize)]
struct SwitchSiteRequest<'a> {
    site: SiteOut<'a>,
}

pub(crate) fn encode(body: &Body<'_>) -> Result<Vec<u8>, Error> {
    let mut out = Vec::with_capacity(256);
    let written = match body {
        Body::SignIn {
            credentials,
            site,
            impersonate,
        } => {
            let mut c = CredentialsOut {
                name: None,
                password: None,
                pat_name: None,
                pat_secret: None,
                jwt: None,
                is_uat: None,
                site: SiteOut { content_url: site },
                user: impersonate.map(|id| UserOut { id }),
            };
            match credentials {
                CredentialFields::Password { name, password } => {
                    c.name = Some(name);
                    c.password = Some(password);
                }
                CredentialFields::PersonalAccessToken { name, secret } => {
                    c.pat_name = Some(name);
                    c.pat_secret = Some(secret);
                }
                CredentialFields::Jwt { jwt, is_uat } => {
                    c.jwt = Some(jwt);
                    c.is_uat = is_uat.then_some(true);
                }
            }
            serde_json::to_writer(&mut out, &SignInRequest { credentials: c })
        }
        Body::SwitchSite { site } => serde_json::to_writer(
            &mut out,
            &SwitchSiteRequest {
                site: SiteOut { content_url: site },
            },
        ),
    };
    // Serialising borrowed strings into a Vec cannot fail; map it anyway rather than panic.
    written.map_err(|e| Error::Decode {
        format: Format::Json,
        path: ".".to_owned(),
        message: e.to_string(),
    })?;
    Ok(out)
}

/// JSON forbids a byte-order mark, but some proxies add one; `sniff` already looked past it.
fn without_bom(body: &[u8]) -> &[u8] {
    body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body)
}

/// Deserialises without tracking the path (the common case costs nothing extra).
pub(crate) fn parse_fast<'a, T: serde::Deserialize<'a>>(body: &'a [u8]) -> Option<T> {
    serde_json::from_slice(without_bom(body)).ok()
}

pub(crate) fn parse(body: &[u8]) -> Result<Document<'_>, Error> {
    if let Some(doc) = parse_fast(body) {
        return Ok(doc);
    }
    // Only to say where it broke: the same parse again, with the path tracked.
    let body = without_bom(body);
    let mut de = serde_json::Deserializer::from_slice(body);
    let doc =
        serde_path_to_error::deserialize(&mut de).map_err(|e| decode_error(Format::Json, e))?;
    de.end().map_err(|e| Error::Decode {
        format: Format::Json,
        path: ".".to_owned(),
        message: e.to_string(),
    })?;
    Ok(doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_credentials_of_each_kind() {
        let enc = |credentials| {
            String::from_utf8(
                encode(&Body::SignIn {
                    credentials,
                    site: "",
                    impersonate: None,
                })
                .unwrap(),
            )
            .unwrap()
        };
        assert_eq!(
            enc(CredentialFields::PersonalAccessToken {
                name: "n",
                secret: "s\""
            }),
            r#"{"credentials":{"personalAccessTokenName":"n","personalAccessTokenSecret":"s\"","site":{"contentUrl":""}}}"#
        );
        assert_eq!(
            enc(CredentialFields::Jwt {
                jwt: "j",
                is_uat: true
            }),
            r#"{"credentials":{"jwt":"j","isUat":true,"site":{"contentUrl":""}}}"#
        );
        assert_eq!(
            enc(CredentialFields::Jwt {
                jwt: "j",
                is_uat: false
            }),
            r#"{"credentials":{"jwt":"j","site":{"contentUrl":""}}}"#
        );
    }

    #[test]
    fn trailing_garbage_is_a_decode_error() {
        assert!(parse(br#"{"error":{"code":"1"}} x"#).is_err());
    }
}
