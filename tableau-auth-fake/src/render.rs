//! Rendering replies as `tsResponse` XML (namespace `http://tableau.com/api`) or as JSON (no
//! wrapper; attributes as string members, `value` for element text; error keys in the observed
//! order summary, detail, code).

use std::fmt::Write as _;

use super::reply::{
    ApiError, CredentialsReply, Page, Reply, ServerInfoReply, SessionReply, SiteReply, UserReply,
    Workbook,
};
use super::version::ApiVersion;

/// Response format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Format {
    /// JSON instead of XML.
    pub(crate) json: bool,
    /// URL version (for the XSD name); the configured version when the URL had none.
    pub(crate) version: ApiVersion,
}

/// A rendered reply.
pub(crate) struct Rendered {
    pub(crate) status: u16,
    pub(crate) content_type: Option<&'static str>,
    pub(crate) body: String,
    pub(crate) headers: Vec<(&'static str, String)>,
}

const XML_TYPE: &str = "application/xml;charset=UTF-8";
const JSON_TYPE: &str = "application/json;charset=UTF-8";

pub(crate) fn render(reply: &Reply, format: Format) -> Rendered {
    let status = reply.status();
    match reply {
        Reply::NoContent => Rendered {
            status,
            content_type: None,
            body: String::new(),
            headers: Vec::new(),
        },
        Reply::Raw {
            content_type,
            body,
            headers,
            ..
        } => Rendered {
            status,
            content_type: Some(content_type),
            body: body.clone(),
            headers: headers.clone(),
        },
        _ if format.json => Rendered {
            status,
            content_type: Some(JSON_TYPE),
            body: json_body(reply).to_string(),
            headers: error_headers(reply),
        },
        _ => Rendered {
            status,
            content_type: Some(XML_TYPE),
            body: xml_document(&xml_body(reply), format.version),
            headers: error_headers(reply),
        },
    }
}

/// `Allow` on a 405.
fn error_headers(reply: &Reply) -> Vec<(&'static str, String)> {
    match reply {
        Reply::Error(ApiError {
            allow: Some(allow), ..
        }) => vec![("allow", (*allow).to_owned())],
        _ => Vec::new(),
    }
}

// ---------------------------------------------------------------------------------------------
// XML

/// Escapes text for a (double-quoted) XML attribute value or a text node: `&`, `<`, `>`, `"`.
pub(crate) fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

fn xml_document(inner: &str, version: ApiVersion) -> String {
    format!(
        "<?xml version='1.0' encoding='UTF-8'?><tsResponse xmlns=\"http://tableau.com/api\" \
         xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" \
         xsi:schemaLocation=\"http://tableau.com/api https://help.tableau.com/samples/en-us/rest_api/{}\">{inner}</tsResponse>",
        version.xsd()
    )
}

fn attrs(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (k, v) in pairs {
        let _ = write!(out, " {k}=\"{}\"", xml_escape(v));
    }
    out
}

fn xml_body(reply: &Reply) -> String {
    match reply {
        Reply::Credentials(c) => xml_credentials(c),
        Reply::ServerInfo(s) => xml_server_info(s),
        Reply::Session(s) => format!(
            "<session><site{}/><user{}/></session>",
            attrs(&[
                ("id", &s.site_id),
                ("name", &s.site_name),
                ("contentUrl", &s.content_url)
            ]),
            user_attrs(s)
        ),
        Reply::User(u) => xml_user(u),
        Reply::Users(page, list) => xml_list(page, "users", list.iter().map(xml_user)),
        Reply::Sites(page, list) => xml_list(page, "sites", list.iter().map(xml_site)),
        Reply::Workbooks(page, list) => xml_list(page, "workbooks", list.iter().map(xml_workbook)),
        Reply::Error(e) => xml_error(e),
        Reply::NoContent | Reply::Raw { .. } => String::new(),
    }
}

fn user_attrs(s: &SessionReply) -> String {
    attrs(&[
        ("id", &s.user_id),
        ("name", &s.user_name),
        ("siteRole", &s.site_role),
        ("authSetting", "ServerDefault"),
    ])
}

fn xml_credentials(c: &CredentialsReply) -> String {
    let mut cred = vec![("token", c.token.as_str())];
    if let Some(e) = &c.estimated_time_to_expiration {
        cred.push(("estimatedTimeToExpiration", e));
    }
    format!(
        "<credentials{}><site{}/><user{}/></credentials>",
        attrs(&cred),
        attrs(&[("id", &c.site_id), ("contentUrl", &c.content_url)]),
        attrs(&[("id", &c.user_id)])
    )
}

fn xml_server_info(s: &ServerInfoReply) -> String {
    format!(
        "<serverInfo><productVersion{}>{}</productVersion><prepConductorVersion>{}</prepConductorVersion>\
         <restApiVersion>{}</restApiVersion><platform>linux</platform><serverSettings>\
         <oAuthEnabled>true</oAuthEnabled><sheetImageMaxAgeFloor>1</sheetImageMaxAgeFloor>\
         <sheetImageMaxAgeCeiling>60</sheetImageMaxAgeCeiling>\
         <offlineInteractionSupportedPhase>2</offlineInteractionSupportedPhase></serverSettings></serverInfo>",
        attrs(&[("build", &s.build)]),
        xml_escape(&s.product_version),
        xml_escape(&prep_version(&s.product_version)),
        xml_escape(&s.rest_api_version)
    )
}

/// `2025.1.3` → `2025.1.0`.
fn prep_version(product: &str) -> String {
    let mut parts: Vec<&str> = product.split('.').take(2).collect();
    parts.push("0");
    parts.join(".")
}

fn xml_list(page: &Page, wrapper: &str, items: impl Iterator<Item = String>) -> String {
    let mut out = format!(
        "<pagination pageNumber=\"{}\" pageSize=\"{}\" totalAvailable=\"{}\"/><{wrapper}>",
        page.number, page.size, page.total
    );
    for item in items {
        out.push_str(&item);
    }
    let _ = write!(out, "</{wrapper}>");
    out
}

fn xml_workbook(w: &Workbook) -> String {
    format!(
        "<workbook{}><project{}/><owner{}/></workbook>",
        attrs(&[
            ("id", &w.id),
            ("name", &w.name),
            ("contentUrl", &w.content_url)
        ]),
        attrs(&[("id", &w.project_id), ("name", &w.project_name)]),
        attrs(&[("id", &w.owner_id)])
    )
}

fn xml_site(site: &SiteReply) -> String {
    format!(
        "<site{}/>",
        attrs(&[
            ("id", &site.id),
            ("name", &site.name),
            ("contentUrl", &site.content_url),
            ("state", "Active"),
        ])
    )
}

/// The attributes of a Query User answer, in Tableau's documented order.
fn user_reply_attrs(u: &UserReply) -> Vec<(&'static str, &str)> {
    let mut pairs = vec![
        ("id", u.id.as_str()),
        ("name", u.name.as_str()),
        ("siteRole", u.site_role.as_str()),
        ("authSetting", "ServerDefault"),
    ];
    if let Some(full) = &u.full_name {
        pairs.push(("fullName", full));
    }
    if let Some(email) = &u.email {
        pairs.push(("email", email));
    }
    if let Some(last) = &u.last_login {
        pairs.push(("lastLogin", last));
    }
    pairs.push(("externalAuthUserId", &u.external_auth_user_id));
    pairs
}

fn xml_user(u: &UserReply) -> String {
    format!(
        "<user{}><domain{}/></user>",
        attrs(&user_reply_attrs(u)),
        attrs(&[("name", &u.domain)])
    )
}

fn xml_error(e: &ApiError) -> String {
    format!(
        "<error code=\"{}\"><summary>{}</summary><detail>{}</detail></error>",
        xml_escape(&e.code),
        xml_escape(&e.summary),
        xml_escape(&e.detail)
    )
}

// ---------------------------------------------------------------------------------------------
// JSON (ordered, hand-built: serde_json's map would sort the keys)

/// A JSON value with ordered object members.
pub(crate) enum J {
    Str(String),
    Bool(bool),
    Num(i64),
    Obj(Vec<(&'static str, Self)>),
    Arr(Vec<Self>),
}

fn s(text: &str) -> J {
    J::Str(text.to_owned())
}

impl std::fmt::Display for J {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Str(text) => {
                let quoted = serde_json::to_string(text).map_err(|_| std::fmt::Error)?;
                f.write_str(&quoted)
            }
            Self::Bool(b) => write!(f, "{b}"),
            Self::Num(n) => write!(f, "{n}"),
            Self::Obj(members) => {
                f.write_str("{")?;
                for (i, (k, v)) in members.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "\"{k}\":{v}")?;
                }
                f.write_str("}")
            }
            Self::Arr(items) => {
                f.write_str("[")?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
        }
    }
}

fn json_body(reply: &Reply) -> J {
    match reply {
        Reply::Credentials(c) => {
            let mut members = vec![
                (
                    "site",
                    J::Obj(vec![
                        ("id", s(&c.site_id)),
                        ("contentUrl", s(&c.content_url)),
                    ]),
                ),
                ("user", J::Obj(vec![("id", s(&c.user_id))])),
                ("token", s(&c.token)),
            ];
            if let Some(e) = &c.estimated_time_to_expiration {
                members.push(("estimatedTimeToExpiration", s(e)));
            }
            J::Obj(vec![("credentials", J::Obj(members))])
        }
        Reply::ServerInfo(i) => J::Obj(vec![(
            "serverInfo",
            J::Obj(vec![
                (
                    "productVersion",
                    J::Obj(vec![
                        ("value", s(&i.product_version)),
                        ("build", s(&i.build)),
                    ]),
                ),
                ("prepConductorVersion", s(&prep_version(&i.product_version))),
                ("restApiVersion", s(&i.rest_api_version)),
                ("platform", s("linux")),
                (
                    "serverSettings",
                    J::Obj(vec![
                        ("oAuthEnabled", J::Bool(true)),
                        ("sheetImageMaxAgeFloor", J::Num(1)),
                        ("sheetImageMaxAgeCeiling", J::Num(60)),
                        ("offlineInteractionSupportedPhase", J::Num(2)),
                    ]),
                ),
            ]),
        )]),
        Reply::Session(x) => J::Obj(vec![(
            "session",
            J::Obj(vec![
                (
                    "site",
                    J::Obj(vec![
                        ("id", s(&x.site_id)),
                        ("name", s(&x.site_name)),
                        ("contentUrl", s(&x.content_url)),
                    ]),
                ),
                ("user", json_user(x)),
            ]),
        )]),
        Reply::User(u) => J::Obj(vec![("user", json_user_reply(u))]),
        Reply::Users(page, list) => json_list(
            page,
            "users",
            "user",
            list.iter().map(json_user_reply).collect(),
        ),
        Reply::Sites(page, list) => json_list(
            page,
            "sites",
            "site",
            list.iter()
                .map(|site| {
                    J::Obj(vec![
                        ("id", s(&site.id)),
                        ("name", s(&site.name)),
                        ("contentUrl", s(&site.content_url)),
                        ("state", s("Active")),
                    ])
                })
                .collect(),
        ),
        Reply::Workbooks(page, list) => json_list(
            page,
            "workbooks",
            "workbook",
            list.iter()
                .map(|w| {
                    J::Obj(vec![
                        (
                            "project",
                            J::Obj(vec![("id", s(&w.project_id)), ("name", s(&w.project_name))]),
                        ),
                        ("owner", J::Obj(vec![("id", s(&w.owner_id))])),
                        ("id", s(&w.id)),
                        ("name", s(&w.name)),
                        ("contentUrl", s(&w.content_url)),
                    ])
                })
                .collect(),
        ),
        Reply::Error(e) => J::Obj(vec![(
            "error",
            J::Obj(vec![
                ("summary", s(&e.summary)),
                ("detail", s(&e.detail)),
                ("code", s(&e.code)),
            ]),
        )]),
        Reply::NoContent | Reply::Raw { .. } => J::Obj(Vec::new()),
    }
}

/// `{"pagination": {...}, "<wrapper>": {"<item>": [...]}}`; an empty list is `"<wrapper>": {}`.
fn json_list(page: &Page, wrapper: &'static str, item: &'static str, items: Vec<J>) -> J {
    let inner = if items.is_empty() {
        J::Obj(Vec::new())
    } else {
        J::Obj(vec![(item, J::Arr(items))])
    };
    J::Obj(vec![
        (
            "pagination",
            J::Obj(vec![
                ("pageNumber", s(&page.number.to_string())),
                ("pageSize", s(&page.size.to_string())),
                ("totalAvailable", s(&page.total.to_string())),
            ]),
        ),
        (wrapper, inner),
    ])
}

fn json_user_reply(u: &UserReply) -> J {
    let mut members: Vec<(&'static str, J)> = user_reply_attrs(u)
        .into_iter()
        .map(|(k, v)| (k, s(v)))
        .collect();
    members.push(("domain", J::Obj(vec![("name", s(&u.domain))])));
    J::Obj(members)
}

fn json_user(x: &SessionReply) -> J {
    J::Obj(vec![
        ("id", s(&x.user_id)),
        ("name", s(&x.user_name)),
        ("siteRole", s(&x.site_role)),
        ("authSetting", s("ServerDefault")),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(json: bool) -> Format {
        Format {
            json,
            version: ApiVersion::new(3, 25),
        }
    }

    #[test]
    fn error_shapes() {
        let reply = Reply::Error(ApiError::invalid_credentials());
        let xml = render(&reply, fmt(false));
        assert_eq!(xml.status, 401);
        assert!(
            xml.body
                .contains("<error code=\"401002\"><summary>Unauthorized Access</summary>")
        );
        assert!(xml.body.contains("xmlns=\"http://tableau.com/api\""));
        assert!(xml.body.contains("ts-api_3_25.xsd"));
        let json = render(&reply, fmt(true));
        assert_eq!(
            json.body,
            r#"{"error":{"summary":"Unauthorized Access","detail":"Invalid authentication credentials were provided.","code":"401002"}}"#
        );
    }

    #[test]
    fn escaping() {
        assert_eq!(xml_escape("a&<>\"'"), "a&amp;&lt;&gt;&quot;'");
        let j = J::Obj(vec![("k", s("q\"\\\n"))]);
        assert_eq!(j.to_string(), r#"{"k":"q\"\\\n"}"#);
        assert_eq!(prep_version("2025.1.3"), "2025.1.0");
    }
}
