//! URL building: the API and site URLs of the caller's own calls, and the paths of the core's
//! requests.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::Session;
use crate::error::{Error, Misuse};
use crate::version::ApiVersion;

/// What is percent-encoded in a query parameter's name or value: everything except RFC 3986's
/// unreserved characters (`A-Z a-z 0-9 - . _ ~`) and the few characters a query carries as data
/// that Tableau's syntax uses (`:` and `,` in `filter=name:eq:Finance,tags:in:[a,b]`, `@`, `/`,
/// `!`, `$`, `'`, `(`, `)`, `*`). A space becomes `%20`, never `+`: a `+` is a literal plus in
/// RFC 3986, and only HTML form decoding reads it as a space. `&`, `=`, `+`, `;`, `#`, `%`, `?`,
/// the brackets and every non-ASCII byte are encoded.
const QUERY_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b':')
    .remove(b',')
    .remove(b'@')
    .remove(b'/')
    .remove(b'!')
    .remove(b'$')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*');

impl Session {
    /// `{base}/api/{version}/{path}` for the caller's own calls (not site-scoped).
    ///
    /// `path` may carry a query that is already percent-encoded (`"sites?pageSize=100"`); to
    /// add query parameters as they are (with spaces, `&`, non-ASCII text), use
    /// [`Session::api_url_with`], which encodes them. A path with a character that cannot be
    /// sent as it is (a space, a control character, `"`, `<`, `>`, `` ` ``, or `#`, which would
    /// cut the URL short) is refused with [`Misuse::Unencoded`], which names the character.
    pub fn api_url(&self, path: &str) -> Result<http::Uri, Error> {
        self.api_url_with(path, NO_QUERY)
    }

    /// [`Session::api_url`] with query parameters, each name and value percent-encoded (RFC
    /// 3986: a space is `%20`, as Tableau's filter syntax wants, never the `+` of HTML forms;
    /// see the repository's `docs/protocol.md`, "Query strings"). They follow any query already
    /// in `path`, in order.
    ///
    /// ```
    /// # use tableau_auth_proto::{ApiVersion, Config, Session};
    /// # let session = Session::new(
    /// #     Config::builder("https://tableau.example.com").api_version(ApiVersion::new(3, 25)).build()?,
    /// # );
    /// let url = session.api_url_with(
    ///     "sites",
    ///     [("filter", "name:eq:Regional Sales"), ("pageSize", "100")],
    /// )?;
    /// assert_eq!(
    ///     url,
    ///     "https://tableau.example.com/api/3.25/sites?filter=name:eq:Regional%20Sales&pageSize=100"
    /// );
    /// # Ok::<(), tableau_auth_proto::Error>(())
    /// ```
    pub fn api_url_with<I, K, V>(&self, path: &str, query: I) -> Result<http::Uri, Error>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        build_url(&self.api_prefix()?, path, query)
    }

    /// `{base}/api/{version}/`, the prefix of [`Session::api_url`].
    pub(crate) fn api_prefix(&self) -> Result<String, Error> {
        let version = self
            .active
            .as_ref()
            .map(|a| a.info.api_version)
            .or(self.version)
            .ok_or(Misuse::NotSignedIn)?;
        Ok(self.api_path(version, "/"))
    }

    /// `{base}/api/{version}/sites/{site-luid}/`, the prefix of [`Session::site_url`].
    pub(crate) fn site_prefix(&self) -> Result<String, Error> {
        let active = self.active.as_ref().ok_or(Misuse::NotSignedIn)?;
        Ok(self.api_path(
            active.info.api_version,
            &format!("/sites/{}/", active.info.site_id),
        ))
    }

    /// `{base}/api/{version}/sites/{site-luid}/{path}` for the caller's site-scoped calls. `path`
    /// is checked as in [`Session::api_url`].
    pub fn site_url(&self, path: &str) -> Result<http::Uri, Error> {
        self.site_url_with(path, NO_QUERY)
    }

    /// [`Session::site_url`] with query parameters, percent-encoded as by
    /// [`Session::api_url_with`].
    ///
    /// ```
    /// # use tableau_auth_proto::Session;
    /// # fn demo(session: &Session) -> Result<(), tableau_auth_proto::Error> {
    /// let url = session.site_url_with("workbooks", [("filter", "tags:in:[finance,Q1 2026]")])?;
    /// assert!(url.to_string().ends_with("/workbooks?filter=tags:in:%5Bfinance,Q1%202026%5D"));
    /// # Ok(()) }
    /// ```
    pub fn site_url_with<I, K, V>(&self, path: &str, query: I) -> Result<http::Uri, Error>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        build_url(&self.site_prefix()?, path, query)
    }

    pub(super) fn api_path(&self, version: ApiVersion, path: &str) -> String {
        self.base.join(&format!("/api/{version}{path}"))
    }
}

/// No query parameters (for the URL builders without `_with`).
pub(crate) const NO_QUERY: [(&str, &str); 0] = [];

/// `{prefix}{path}` (the path's leading slashes dropped; `prefix` ends with `/`), then the query
/// parameters, percent-encoded, after `?` or after the path's own query.
pub(crate) fn build_url<I, K, V>(prefix: &str, path: &str, query: I) -> Result<http::Uri, Error>
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: AsRef<str>,
{
    let path = path.trim_start_matches('/');
    if let Some(character) = path.chars().find(|&c| must_be_encoded(c)) {
        return Err(Misuse::Unencoded {
            what: "API path",
            character,
        }
        .into());
    }
    let mut url = format!("{prefix}{path}");
    let mut separator = match path.find('?') {
        None => '?',
        Some(_) if path.ends_with(['?', '&']) => '\0',
        Some(_) => '&',
    };
    for (name, value) in query {
        if separator != '\0' {
            url.push(separator);
        }
        separator = '&';
        url.extend(utf8_percent_encode(name.as_ref(), QUERY_COMPONENT));
        url.push('=');
        url.extend(utf8_percent_encode(value.as_ref(), QUERY_COMPONENT));
    }
    url.parse().map_err(|_| {
        if url.len() >= usize::from(u16::MAX) {
            Misuse::UrlTooLong.into()
        } else {
            // Unreachable with the checks above and a base that parsed; kept as a refusal.
            Misuse::InvalidCharacter("API path").into()
        }
    })
}

/// Whether `c` cannot appear in a URL as it is: what `http::Uri` refuses in a path or a query
/// (controls, space, `<`, `>`; `"` in a query, `` ` `` in a path), and `#`, which would silently
/// cut the URL short (a fragment is never sent). Characters `http::Uri` lets through for
/// compatibility (`{`, `}`, `|`, `\`, `^`, non-ASCII text as UTF-8) pass, as before.
fn must_be_encoded(c: char) -> bool {
    c.is_ascii_control() || matches!(c, ' ' | '"' | '<' | '>' | '`' | '#')
}

pub(super) const LEGACY_PROBE_PATH: &str = "/auth?format=xml";

pub(super) fn server_info_path() -> String {
    format!("/api/{}/serverinfo", ApiVersion::SERVER_INFO_PROBE)
}

/// The sign-in path, kept apart from the base so that a followed redirect can reuse it.
pub(super) fn sign_in_path(version: ApiVersion) -> String {
    format!("/api/{version}/auth/signin")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    const PREFIX: &str = "https://tableau.example.com/api/3.25/";

    fn url<'a>(path: &str, query: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
        build_url(PREFIX, path, query).unwrap().to_string()
    }

    #[test]
    fn query_parameters_are_percent_encoded_with_a_space_as_percent_20() {
        assert_eq!(
            url(
                "sites",
                [("filter", "name:eq:Regional Sales"), ("pageSize", "100")]
            ),
            format!("{PREFIX}sites?filter=name:eq:Regional%20Sales&pageSize=100")
        );
        // What would break the query apart, or be read as a space by form decoding, is encoded.
        assert_eq!(
            url("w", [("a b", "x&y=z+1;#%?"), ("é", "[1,2]")]),
            format!("{PREFIX}w?a%20b=x%26y%3Dz%2B1%3B%23%25%3F&%C3%A9=%5B1,2%5D")
        );
        // Tableau's syntax characters stay readable.
        assert_eq!(
            url(
                "w",
                [("fields", "_default_,owner.name"), ("sort", "name:asc")]
            ),
            format!("{PREFIX}w?fields=_default_,owner.name&sort=name:asc")
        );
    }

    #[test]
    fn parameters_follow_a_query_already_in_the_path() {
        assert_eq!(
            url("/sites?pageSize=10", [("pageNumber", "2")]),
            format!("{PREFIX}sites?pageSize=10&pageNumber=2")
        );
        assert_eq!(url("sites?", [("a", "1")]), format!("{PREFIX}sites?a=1"));
        assert_eq!(url("sites", []), format!("{PREFIX}sites"));
        assert_eq!(url("", []), PREFIX);
    }

    #[test]
    fn a_path_that_needs_encoding_is_refused_naming_the_character() {
        for (path, character) in [
            ("workbooks?filter=name:eq:Regional Sales", ' '),
            ("work\nbooks", '\n'),
            ("workbooks#top", '#'),
            ("a<b", '<'),
        ] {
            let err = build_url(PREFIX, path, NO_QUERY).unwrap_err();
            assert!(
                matches!(err, Error::Misuse(Misuse::Unencoded { what: "API path", character: c }) if c == character),
                "{path:?}: {err:?}"
            );
        }
        let message = build_url(PREFIX, "a b", NO_QUERY).unwrap_err().to_string();
        assert!(message.contains("a space"), "{message}");
        assert!(message.contains("%20"), "{message}");
        assert!(!message.contains("control character"), "{message}");
        let message = build_url(PREFIX, "a\u{7}", NO_QUERY)
            .unwrap_err()
            .to_string();
        assert!(message.contains("control character \\u{7}"), "{message}");
    }

    #[test]
    fn what_http_uri_accepted_before_still_passes() {
        for path in [
            "workbooks?filter=tags:in:[a,b]",
            "x|y{z}",
            "caf\u{e9}",
            "a%20b",
        ] {
            assert!(build_url(PREFIX, path, NO_QUERY).is_ok(), "{path}");
        }
    }

    #[test]
    fn an_overlong_url_is_refused_as_such() {
        let long = "x".repeat(70_000);
        let err = build_url(PREFIX, "w", [("q", long.as_str())]).unwrap_err();
        assert!(matches!(err, Error::Misuse(Misuse::UrlTooLong)), "{err:?}");
    }

    #[test]
    fn the_session_builds_api_urls_with_queries() {
        let config = Config::builder("https://tableau.example.com/prefix")
            .api_version(ApiVersion::new(3, 25))
            .build()
            .unwrap();
        let session = Session::new(config);
        assert_eq!(
            session
                .api_url_with("sites", [("filter", "name:eq:Regional Sales")])
                .unwrap(),
            "https://tableau.example.com/prefix/api/3.25/sites?filter=name:eq:Regional%20Sales"
        );
        assert_eq!(
            session.api_url("/serverinfo").unwrap(),
            "https://tableau.example.com/prefix/api/3.25/serverinfo"
        );
        assert!(matches!(
            session.site_url_with("workbooks", NO_QUERY),
            Err(Error::Misuse(Misuse::NotSignedIn))
        ));
    }
}
