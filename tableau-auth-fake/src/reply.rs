//! What a handler answers, independent of the wire format (rendered by `render`).

/// A `tsResponse` error (`<error code><summary/><detail/></error>`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub(crate) status: u16,
    pub(crate) code: String,
    pub(crate) summary: String,
    pub(crate) detail: String,
    /// The `Allow` header of a 405.
    pub(crate) allow: Option<&'static str>,
}

impl ApiError {
    pub(crate) fn new(status: u16, code: &str, summary: &str, detail: impl Into<String>) -> Self {
        Self {
            status,
            code: code.to_owned(),
            summary: summary.to_owned(),
            detail: detail.into(),
            allow: None,
        }
    }

    /// 400 400000: missing or malformed body.
    pub(crate) fn bad_request(why: &str) -> Self {
        Self::new(
            400,
            "400000",
            "Bad Request",
            format!("There was a problem parsing the request body: {why}"),
        )
    }

    /// 401 401000: no `X-Tableau-Auth`. Wording as in Tableau's knowledge-base article
    /// "Intermittent HTTP 401 or 403 Errors Using the Tableau REST API" (no final period).
    pub(crate) fn no_credentials() -> Self {
        Self::new(
            401,
            "401000",
            "Unauthorized Access",
            "No authentication credentials were provided",
        )
    }

    /// 401 401001: sign-in rejected (generic).
    pub(crate) fn signin() -> Self {
        Self::new(
            401,
            "401001",
            "Signin Error",
            "Error signing in to Tableau Server",
        )
    }

    /// 401 401001 with a connected-app error number in the detail.
    pub(crate) fn signin_jwt(number: u32) -> Self {
        Self::new(
            401,
            "401001",
            "Signin Error",
            format!("Error signing in to Tableau Server ({number})"),
        )
    }

    /// 401 401001 for a refused unified access token: the reason in the detail (the fake's
    /// own wording).
    pub(crate) fn signin_uat(reason: &str) -> Self {
        Self::new(
            401,
            "401001",
            "Signin Error",
            format!("Error signing in to Tableau Server (unified access token: {reason})"),
        )
    }

    /// 401 401002: token unknown, expired, signed out or superseded.
    pub(crate) fn invalid_credentials() -> Self {
        Self::new(
            401,
            "401002",
            "Unauthorized Access",
            "Invalid authentication credentials were provided.",
        )
    }

    /// 403 403070: switch-site to the current site.
    pub(crate) fn already_on_site(content_url: &str) -> Self {
        Self::new(
            403,
            "403070",
            "Forbidden",
            format!("The user is already signed in to site '{content_url}'."),
        )
    }

    /// 403 403010: the URL's site LUID is an existing site, but not the token's.
    pub(crate) fn wrong_site(site_luid: &str) -> Self {
        Self::new(
            403,
            "403010",
            "Forbidden",
            format!("The credentials do not grant access to site '{site_luid}'."),
        )
    }

    /// 404 404000: the URL's site LUID names no site.
    pub(crate) fn site_not_found(site_luid: &str) -> Self {
        Self::new(
            404,
            "404000",
            "Resource Not Found",
            format!("Site '{site_luid}' could not be found."),
        )
    }

    /// 403 403004: the caller of a server-administrator method is not one (Revoke
    /// Administrator Personal Access Tokens; the detail is the fake's own wording).
    pub(crate) fn not_server_admin() -> Self {
        Self::new(
            403,
            "403004",
            "Forbidden",
            "Only server administrators may revoke the personal access tokens of server \
             administrators.",
        )
    }

    /// 404 404000: a Tableau Server method asked of Tableau Cloud (the fake's own wording).
    pub(crate) fn not_on_cloud(resource: &str) -> Self {
        Self::new(
            404,
            "404000",
            "Resource Not Found",
            format!("'{resource}' is not available on Tableau Cloud."),
        )
    }

    /// 403 403133: a non-administrator asked for another user.
    pub(crate) fn user_query_forbidden(user: &str) -> Self {
        Self::new(
            403,
            "403133",
            "Forbidden",
            format!("The caller does not have permission to query user '{user}'."),
        )
    }

    /// 400 400006: `pageNumber` is not a positive integer (or past the last page, if so
    /// configured). Wording as a Tableau Server 2022.1 answered a page past the items it
    /// returned (`400006: Bad Request` / `Invalid page number '5'`, quoted in TSC issue 1304).
    pub(crate) fn invalid_page_number(value: &str) -> Self {
        Self::new(
            400,
            "400006",
            "Bad Request",
            format!("Invalid page number '{value}'"),
        )
    }

    /// 400 400007: `pageSize` is not a positive integer.
    pub(crate) fn invalid_page_size(value: &str) -> Self {
        Self::new(
            400,
            "400007",
            "Invalid page size",
            format!("The page size '{value}' is not valid."),
        )
    }

    /// 403 403014: `pageSize` above the limit (1000 on Tableau).
    pub(crate) fn page_size_limit(value: u64, max: u32) -> Self {
        Self::new(
            403,
            "403014",
            "Page Size Limit Exceeded",
            format!("The page size '{value}' is larger than the maximum page size ({max})."),
        )
    }

    /// 404 404003: unknown resource (also: method newer than the URL version).
    pub(crate) fn unknown_resource(resource: &str) -> Self {
        Self::new(
            404,
            "404003",
            "Resource Not Found",
            format!("Unknown resource '{resource}' specified in URI."),
        )
    }

    /// 404 404002: user not found on the site.
    pub(crate) fn user_not_found(user: &str) -> Self {
        Self::new(
            404,
            "404002",
            "Resource Not Found",
            format!("User '{user}' could not be found."),
        )
    }

    /// 405 405000: wrong HTTP method; `allow` becomes the `Allow` header (RFC 9110).
    pub(crate) fn method_not_allowed(method: &str, allow: &'static str) -> Self {
        Self {
            allow: Some(allow),
            ..Self::new(
                405,
                "405000",
                "Method Not Allowed",
                format!("The HTTP method '{method}' is not supported for the given resource"),
            )
        }
    }
}

/// Sign-in / switch-site success.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CredentialsReply {
    pub(crate) token: String,
    pub(crate) site_id: String,
    pub(crate) content_url: String,
    pub(crate) user_id: String,
    /// `D:HH:MM`, PAT sign-ins only.
    pub(crate) estimated_time_to_expiration: Option<String>,
}

/// `GET serverinfo`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ServerInfoReply {
    pub(crate) product_version: String,
    pub(crate) build: String,
    pub(crate) rest_api_version: String,
}

/// `GET sessions/current` and `GET sites/{id}/users/{id}`: a site (optional) and a user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SessionReply {
    pub(crate) site_id: String,
    pub(crate) site_name: String,
    pub(crate) content_url: String,
    pub(crate) user_id: String,
    pub(crate) user_name: String,
    pub(crate) site_role: String,
}

/// `pagination` of a list answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Page {
    pub(crate) number: u64,
    pub(crate) size: u64,
    pub(crate) total: usize,
}

/// Query User (`GET sites/{id}/users/{id}`) and one entry of Get Users on Site.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct UserReply {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) site_role: String,
    pub(crate) full_name: Option<String>,
    pub(crate) email: Option<String>,
    /// `YYYY-MM-DDTHH:MM:SSZ`; absent for a user who never signed in.
    pub(crate) last_login: Option<String>,
    pub(crate) external_auth_user_id: String,
    pub(crate) domain: String,
}

/// One site of Query Sites.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SiteReply {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) content_url: String,
}

/// One workbook.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Workbook {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) content_url: String,
    pub(crate) project_id: String,
    pub(crate) project_name: String,
    pub(crate) owner_id: String,
}

/// A handler's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Reply {
    Credentials(CredentialsReply),
    ServerInfo(ServerInfoReply),
    Session(SessionReply),
    User(UserReply),
    Users(Page, Vec<UserReply>),
    Sites(Page, Vec<SiteReply>),
    Workbooks(Page, Vec<Workbook>),
    Error(ApiError),
    /// 204, empty body.
    NoContent,
    /// A non-`tsResponse` answer (tickets, legacy `/auth`, HTML pages, control endpoints).
    Raw {
        status: u16,
        content_type: &'static str,
        body: String,
        headers: Vec<(&'static str, String)>,
    },
}

impl From<ApiError> for Reply {
    fn from(e: ApiError) -> Self {
        Self::Error(e)
    }
}

impl Reply {
    pub(crate) fn text(status: u16, body: impl Into<String>) -> Self {
        Self::Raw {
            status,
            content_type: "text/plain;charset=UTF-8",
            body: body.into(),
            headers: Vec::new(),
        }
    }

    pub(crate) fn json(status: u16, body: impl Into<String>) -> Self {
        Self::Raw {
            status,
            content_type: "application/json;charset=UTF-8",
            body: body.into(),
            headers: Vec::new(),
        }
    }

    pub(crate) fn html(status: u16, title: &str) -> Self {
        Self::Raw {
            status,
            content_type: "text/html;charset=UTF-8",
            body: format!(
                "<!DOCTYPE html><html><head><title>{title}</title></head><body><h1>{title}</h1></body></html>"
            ),
            headers: Vec::new(),
        }
    }

    /// The HTTP status this reply will be sent with.
    pub(crate) fn status(&self) -> u16 {
        match self {
            Self::Error(e) => e.status,
            Self::NoContent => 204,
            Self::Raw { status, .. } => *status,
            _ => 200,
        }
    }
}
