//! What the fake server knows: sites, users, PATs, connected apps and server settings.
//!
//! [`FakeConfig::sample`] builds a ready-made configuration whose names and secrets are the
//! constants of [`sample`]; [`FakeConfig::builder`] builds one from nothing. Every struct here is
//! `#[non_exhaustive]`: build it with its builder (or `new`), then edit its public fields freely.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::error::ControlError;
use super::version::ApiVersion;

/// A site. The Default site has `content_url == ""`. Built with [`SiteConfig::new`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SiteConfig {
    /// Display name (`Default` for the default site).
    pub name: String,
    /// The site's URL name, what sign-in and switch-site take.
    pub content_url: String,
    /// Site LUID.
    pub id: String,
}

/// A user. Built with [`UserConfig::builder`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct UserConfig {
    /// User name (what password sign-in and JWT `sub` carry). Case-sensitive.
    pub name: String,
    /// User LUID.
    pub id: String,
    /// Password; `None` = a user without one (SSO only): password sign-in always fails.
    #[serde(default)]
    pub password: Option<String>,
    /// Site role per site `content_url`. A role of `Unlicensed` counts as "not on the site".
    #[serde(default)]
    pub site_roles: BTreeMap<String, String>,
    /// Server administrators can sign in to every site and may impersonate.
    #[serde(default)]
    pub server_admin: bool,
    /// Display name (`fullName` in Query User); `None` = the attribute is left out.
    #[serde(default)]
    pub full_name: Option<String>,
    /// E-mail address (`email` in Query User); `None` = the attribute is left out.
    #[serde(default)]
    pub email: Option<String>,
    /// `externalAuthUserId` in Query User (the SSO identity; empty for local users).
    #[serde(default)]
    pub external_auth_user_id: String,
    /// `<domain name>` in Query User (`local` for users of the local identity store).
    #[serde(default = "local_domain")]
    pub domain: String,
}

pub(crate) fn local_domain() -> String {
    "local".to_owned()
}

/// A workbook (listed by `GET sites/{site}/workbooks`; its views open after a trusted-ticket
/// redemption at `/[t/{site}/]views/{content_url}/{view}`). Built with
/// [`WorkbookConfig::builder`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WorkbookConfig {
    /// Workbook LUID.
    pub id: String,
    /// Display name.
    pub name: String,
    /// URL name (the `{workbook}` of a view URL).
    pub content_url: String,
    /// `content_url` of the site the workbook is on.
    #[serde(default)]
    pub site: String,
    /// Project LUID.
    pub project_id: String,
    /// Project name.
    #[serde(default = "default_project")]
    pub project_name: String,
    /// Owner's user name.
    pub owner: String,
    /// URL names of the workbook's views (the `{view}` of a view URL).
    #[serde(default)]
    pub views: Vec<String>,
}

pub(crate) fn default_project() -> String {
    "Default".to_owned()
}

/// What `GET /[t/{site}/]views/...` answers without a valid `workgroup_session_id` cookie
/// (Tableau documents no answer for a REST-only fake; see the crate's README, "The fake's
/// choices").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ViewWithoutSession {
    /// 302 to the sign-in page, `/#/signin?redirect=<the view path>` (the default).
    #[default]
    RedirectToSignin,
    /// 401 with a small HTML page.
    Unauthorized,
}

/// What a page number past the last page answers. The evidence points to `Error`: TSC 0.42's
/// docstring for Get Users (Tableau's method reference) lists 400006 for a page number "greater
/// than the final page number", and TSC issue 1304 quotes a Tableau Server 2022.1 answering
/// 400006 to a page past the items it returned; `Empty` stays the default for the existing tests
/// (the crate's README, "The fake's choices").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum PastLastPage {
    /// 200 with an empty list and the real `totalAvailable` (the default).
    #[default]
    Empty,
    /// 400 `400006` (invalid page number).
    Error,
}

/// A personal access token. Built with [`PatConfig::builder`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PatConfig {
    /// Token name (`personalAccessTokenName`).
    pub name: String,
    /// Token secret (`personalAccessTokenSecret`).
    pub secret: String,
    /// Owner's user name.
    pub owner: String,
    /// Revoked tokens fail sign-in with 401001.
    #[serde(default)]
    pub revoked: bool,
    /// Expiry (Unix seconds, compared with the fake clock); `None` = does not expire (then the
    /// sign-in response carries no `estimatedTimeToExpiration`).
    #[serde(default)]
    pub expires_at_unix: Option<u64>,
}

/// A direct-trust connected app (HS256 shared secret). Built with
/// [`ConnectedAppConfig::builder`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ConnectedAppConfig {
    /// Client ID (JWT `iss`).
    pub client_id: String,
    /// Secret ID (JWT header `kid`).
    pub secret_id: String,
    /// Secret value (HMAC key: the string's bytes).
    pub secret_value: String,
    /// Disabled apps fail with connected-app error 10090.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// `content_url` of the site the app belongs to.
    #[serde(default)]
    pub site: String,
}

fn yes() -> bool {
    true
}

/// The whole configuration of a fake server (serde JSON; every field has a default, so a
/// configuration written for an older fake still loads). Built with [`FakeConfig::builder`] or
/// [`FakeConfig::sample`]; its fields are public, so a built configuration can be edited in
/// place (and a running fake's with [`FakeControl::update_config`](crate::FakeControl::update_config)).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct FakeConfig {
    /// Sites.
    pub sites: Vec<SiteConfig>,
    /// Users.
    pub users: Vec<UserConfig>,
    /// Personal access tokens.
    pub pats: Vec<PatConfig>,
    /// Connected apps.
    pub connected_apps: Vec<ConnectedAppConfig>,
    /// Highest REST API version the server implements (`X.Y`); URLs above it get 404 404003.
    pub rest_api_version: String,
    /// `productVersion` text.
    pub product_version: String,
    /// `productVersion/@build`.
    pub build: String,
    /// Session idle limit (default 240 minutes).
    pub idle_limit_secs: u64,
    /// Optional absolute session lifetime.
    pub lifetime_limit_secs: Option<u64>,
    /// Peer IPs allowed to request trusted tickets.
    pub trusted_hosts: Vec<String>,
    /// `tsm authentication pat-impersonation enable`.
    pub pat_impersonation_enabled: bool,
    /// A pre-10.1 server: `serverinfo` answers 404 404003 and `GET /auth?format=xml` answers the
    /// legacy `<authinfo>` document.
    pub legacy_server: bool,
    /// Trusted-ticket redemption window (default 180 s).
    pub ticket_timeout_secs: u64,
    /// Longest accepted JWT lifetime (`exp` - now), default 600 s.
    pub jwt_max_lifetime_secs: u64,
    /// Workbooks (none by default; [`FakeConfig::sample`] has two per site).
    pub workbooks: Vec<WorkbookConfig>,
    /// Page size of list methods without `pageSize` (Tableau: 100).
    pub default_page_size: u32,
    /// Largest accepted `pageSize`; above it, 403 `403014` (Tableau: 1000).
    pub max_page_size: u32,
    /// A `pageNumber` past the last page: an empty page (default) or 400 `400006`.
    pub past_last_page: PastLastPage,
    /// A view URL without a valid session cookie: redirect to sign-in (default) or 401.
    pub view_without_session: ViewWithoutSession,
}

impl Default for FakeConfig {
    /// No users, no PATs, no apps; only the Default site.
    fn default() -> Self {
        Self {
            sites: vec![SiteConfig {
                name: "Default".into(),
                content_url: String::new(),
                id: sample::DEFAULT_SITE_ID.into(),
            }],
            users: Vec::new(),
            pats: Vec::new(),
            connected_apps: Vec::new(),
            rest_api_version: sample::REST_API_VERSION.into(),
            product_version: sample::PRODUCT_VERSION.into(),
            build: sample::BUILD.into(),
            idle_limit_secs: 240 * 60,
            lifetime_limit_secs: None,
            trusted_hosts: vec!["127.0.0.1".into()],
            pat_impersonation_enabled: false,
            legacy_server: false,
            ticket_timeout_secs: 180,
            jwt_max_lifetime_secs: 600,
            workbooks: Vec::new(),
            default_page_size: 100,
            max_page_size: 1000,
            past_last_page: PastLastPage::Empty,
            view_without_session: ViewWithoutSession::RedirectToSignin,
        }
    }
}

/// Names, LUIDs and secrets of [`FakeConfig::sample`].
pub mod sample {
    /// REST API version of the sample server.
    pub const REST_API_VERSION: &str = "3.25";
    /// Product version of the sample server.
    pub const PRODUCT_VERSION: &str = "2025.1.3";
    /// Build of the sample server.
    pub const BUILD: &str = "20251.25.0318.0917";

    /// Default site LUID (`contentUrl=""`, name `Default`).
    pub const DEFAULT_SITE_ID: &str = "a946d998-2ead-4894-bb50-1054a91dcab3";
    /// Default site display name.
    pub const DEFAULT_SITE_NAME: &str = "Default";
    /// Finance site `contentUrl`.
    pub const FINANCE_SITE: &str = "Finance";
    /// Finance site display name.
    pub const FINANCE_SITE_NAME: &str = "Finance Team";
    /// Finance site LUID.
    pub const FINANCE_SITE_ID: &str = "6b7179ba-b82b-4f0f-91ed-812074ac5da6";

    /// Server administrator (on both sites, may impersonate).
    pub const ADMIN_NAME: &str = "admin";
    /// Admin LUID.
    pub const ADMIN_ID: &str = "dd2239f6-ddf1-4107-981a-4cf94e415794";
    /// Admin password: contains XML/JSON special characters and a non-ASCII letter on purpose.
    pub const ADMIN_PASSWORD: &str = "p&<\"'ä>ss\\word";

    /// Normal user: Creator on Default, Explorer on Finance.
    pub const USER_NAME: &str = "jsmith";
    /// Normal user LUID.
    pub const USER_ID: &str = "1a96d216-e9b8-497b-a82a-0b899a965e01";
    /// Normal user password.
    pub const USER_PASSWORD: &str = "s3cr3t!";

    /// A user on the Finance site only (Viewer).
    pub const FINANCE_USER_NAME: &str = "fin.analyst@example.com";
    /// Finance user LUID.
    pub const FINANCE_USER_ID: &str = "5de011f8-5aa9-4d5b-b991-f462c8dd6bb7";
    /// Finance user password.
    pub const FINANCE_USER_PASSWORD: &str = "ledger-2025";

    /// A user without a password (SSO only; Viewer on Default): password sign-in fails.
    pub const SSO_USER_NAME: &str = "sso.only";
    /// SSO user LUID.
    pub const SSO_USER_ID: &str = "7c3b4f12-0e9d-4a6b-8c2f-3d5e6f7a8b9c";

    /// The admin's PAT (expires 365 days after `sample()` was called).
    pub const ADMIN_PAT_NAME: &str = "admin-pat";
    /// The admin's PAT secret (contains `+`, `/`, `=` and `:`).
    pub const ADMIN_PAT_SECRET: &str = "q9Zp+4mK/2bT7wX1cV5nRg==:Wm3aB6eF9hJ2kN5pQ8tV1xY4";
    /// The normal user's PAT (expires 180 days after `sample()` was called).
    pub const USER_PAT_NAME: &str = "nightly-etl";
    /// The normal user's PAT secret.
    pub const USER_PAT_SECRET: &str = "Hx7Lq2Vt9Rb4Nc8Pd1Ks6Jw==:Zf3Ga5Hu7Ij9Ko1Lp2Mq4Nr6";
    /// A revoked PAT of the normal user.
    pub const REVOKED_PAT_NAME: &str = "revoked-pat";
    /// The revoked PAT's secret.
    pub const REVOKED_PAT_SECRET: &str = "Rv0k3dRv0k3dRv0k3dRv0g==:Rv0k3dRv0k3dRv0k3dRv0k3d";
    /// An expired PAT of the normal user (expired one day before `sample()` was called).
    pub const EXPIRED_PAT_NAME: &str = "expired-pat";
    /// The expired PAT's secret.
    pub const EXPIRED_PAT_SECRET: &str = "Exp1r3dExp1r3dExp1r3dEw==:Exp1r3dExp1r3dExp1r3dExp";

    /// Enabled connected app (on the Default site).
    pub const APP_CLIENT_ID: &str = "0f6a2c9e-2b4d-4f1a-9c3e-7d8b6a5f4e3d";
    /// Its secret ID (`kid`).
    pub const APP_SECRET_ID: &str = "3b1f5e7a-9c2d-4e6f-8a1b-2c3d4e5f6a7b";
    /// Its secret value (HMAC-SHA256 key, used as raw string bytes).
    pub const APP_SECRET_VALUE: &str = "Kp9vXw2Rt7Ls4Qm1Zn8Yb5Hc3Jd6Fg0Ae2Wu+Vi/Ox=";
    /// Disabled connected app (on the Finance site).
    pub const DISABLED_APP_CLIENT_ID: &str = "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b";
    /// Its secret ID.
    pub const DISABLED_APP_SECRET_ID: &str = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d";
    /// Its secret value.
    pub const DISABLED_APP_SECRET_VALUE: &str = "disabled-app-secret-value-0123456789";
}

impl FakeConfig {
    /// The ready-made configuration described by the constants in [`sample`].
    pub fn sample() -> Self {
        use sample::*;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_secs();
        let day = 86_400;
        let roles = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(site, role)| ((*site).to_owned(), (*role).to_owned()))
                .collect()
        };
        let user =
            |name: &str,
             id: &str,
             password: Option<&str>,
             site_roles,
             server_admin,
             (full_name, email, external): (&str, &str, &str)| UserConfig {
                name: name.into(),
                id: id.into(),
                password: password.map(Into::into),
                site_roles,
                server_admin,
                full_name: Some(full_name.into()),
                email: Some(email.into()),
                external_auth_user_id: external.into(),
                domain: local_domain(),
            };
        let pat = |name: &str, secret: &str, owner: &str, revoked, expires| PatConfig {
            name: name.into(),
            secret: secret.into(),
            owner: owner.into(),
            revoked,
            expires_at_unix: expires,
        };
        Self {
            sites: vec![
                SiteConfig {
                    name: DEFAULT_SITE_NAME.into(),
                    content_url: String::new(),
                    id: DEFAULT_SITE_ID.into(),
                },
                SiteConfig {
                    name: FINANCE_SITE_NAME.into(),
                    content_url: FINANCE_SITE.into(),
                    id: FINANCE_SITE_ID.into(),
                },
            ],
            users: vec![
                user(
                    ADMIN_NAME,
                    ADMIN_ID,
                    Some(ADMIN_PASSWORD),
                    roles(&[
                        ("", "ServerAdministrator"),
                        (FINANCE_SITE, "ServerAdministrator"),
                    ]),
                    true,
                    ("Ada Admin", "admin@example.com", ""),
                ),
                user(
                    USER_NAME,
                    USER_ID,
                    Some(USER_PASSWORD),
                    roles(&[("", "Creator"), (FINANCE_SITE, "Explorer")]),
                    false,
                    ("Jane Smith", "jsmith@example.com", ""),
                ),
                user(
                    FINANCE_USER_NAME,
                    FINANCE_USER_ID,
                    Some(FINANCE_USER_PASSWORD),
                    roles(&[(FINANCE_SITE, "Viewer")]),
                    false,
                    ("Finn Analyst", FINANCE_USER_NAME, ""),
                ),
                user(
                    SSO_USER_NAME,
                    SSO_USER_ID,
                    None,
                    roles(&[("", "Viewer")]),
                    false,
                    (
                        "Sam Single-Sign-On",
                        "sso.only@example.com",
                        "sso.only@idp.example.com",
                    ),
                ),
            ],
            pats: vec![
                pat(
                    ADMIN_PAT_NAME,
                    ADMIN_PAT_SECRET,
                    ADMIN_NAME,
                    false,
                    Some(now + 365 * day),
                ),
                pat(
                    USER_PAT_NAME,
                    USER_PAT_SECRET,
                    USER_NAME,
                    false,
                    Some(now + 180 * day),
                ),
                pat(REVOKED_PAT_NAME, REVOKED_PAT_SECRET, USER_NAME, true, None),
                pat(
                    EXPIRED_PAT_NAME,
                    EXPIRED_PAT_SECRET,
                    USER_NAME,
                    false,
                    Some(now.saturating_sub(day)),
                ),
            ],
            connected_apps: vec![
                ConnectedAppConfig {
                    client_id: APP_CLIENT_ID.into(),
                    secret_id: APP_SECRET_ID.into(),
                    secret_value: APP_SECRET_VALUE.into(),
                    enabled: true,
                    site: String::new(),
                },
                ConnectedAppConfig {
                    client_id: DISABLED_APP_CLIENT_ID.into(),
                    secret_id: DISABLED_APP_SECRET_ID.into(),
                    secret_value: DISABLED_APP_SECRET_VALUE.into(),
                    enabled: false,
                    site: FINANCE_SITE.into(),
                },
            ],
            workbooks: [(DEFAULT_SITE_ID, ""), (FINANCE_SITE_ID, FINANCE_SITE)]
                .into_iter()
                .flat_map(|(site_id, site)| sample_workbooks(site_id, site))
                .collect(),
            ..Self::default()
        }
    }

    /// Checks the parts the server relies on (the version string, the uniqueness of site URL
    /// names, user names, PAT names and workbook LUIDs, page sizes of at least 1) and returns the
    /// server's REST API version.
    pub fn validate(&self) -> Result<ApiVersion, ControlError> {
        let version = ApiVersion::parse(&self.rest_api_version)
            .ok_or_else(|| ControlError::ApiVersion(self.rest_api_version.clone()))?;
        let mut seen = std::collections::BTreeSet::new();
        for site in &self.sites {
            if !seen.insert(("site-url", site.content_url.clone())) {
                return Err(ControlError::DuplicateSite(site.content_url.clone()));
            }
        }
        for user in &self.users {
            if !seen.insert(("user", user.name.clone())) {
                return Err(ControlError::DuplicateUser(user.name.clone()));
            }
        }
        for pat in &self.pats {
            if !seen.insert(("pat", pat.name.clone())) {
                return Err(ControlError::DuplicatePat(pat.name.clone()));
            }
        }
        for workbook in &self.workbooks {
            if !seen.insert(("workbook", workbook.id.clone())) {
                return Err(ControlError::DuplicateWorkbook(workbook.id.clone()));
            }
        }
        if self.default_page_size == 0 || self.max_page_size == 0 {
            return Err(ControlError::PageSize);
        }
        Ok(version)
    }

    /// The site with this `contentUrl` (exact, case-sensitive).
    pub fn site_by_content_url(&self, content_url: &str) -> Option<&SiteConfig> {
        self.sites.iter().find(|s| s.content_url == content_url)
    }

    /// The site with this LUID.
    pub fn site_by_id(&self, id: &str) -> Option<&SiteConfig> {
        self.sites.iter().find(|s| s.id == id)
    }

    /// The user with this name (exact, case-sensitive).
    pub fn user_by_name(&self, name: &str) -> Option<&UserConfig> {
        self.users.iter().find(|u| u.name == name)
    }

    /// The user with this LUID.
    pub fn user_by_id(&self, id: &str) -> Option<&UserConfig> {
        self.users.iter().find(|u| u.id == id)
    }

    /// The PAT with this name.
    pub fn pat_by_name(&self, name: &str) -> Option<&PatConfig> {
        self.pats.iter().find(|p| p.name == name)
    }

    /// The workbooks of a site (by `content_url`), in configuration order.
    pub fn workbooks_on<'a>(&'a self, site: &'a str) -> impl Iterator<Item = &'a WorkbookConfig> {
        self.workbooks.iter().filter(move |w| w.site == site)
    }

    /// The connected app with this client ID.
    pub fn app_by_client_id(&self, client_id: &str) -> Option<&ConnectedAppConfig> {
        self.connected_apps
            .iter()
            .find(|a| a.client_id == client_id)
    }
}

/// The sample's two workbooks of a site; their LUIDs end with the site LUID's last 12 digits.
fn sample_workbooks(site_id: &str, site: &str) -> [WorkbookConfig; 2] {
    let hex: Vec<char> = site_id.chars().filter(char::is_ascii_hexdigit).collect();
    let tail: String = hex[hex.len().saturating_sub(12)..].iter().collect();
    let project = format!("1f2e3d4c-0000-4000-8000-{tail}");
    let workbook = |n: u32, name: &str, content_url: &str, views: &[&str]| WorkbookConfig {
        id: format!("3a1b2c3d-{n:04}-4000-8000-{tail}"),
        name: name.into(),
        content_url: content_url.into(),
        site: site.into(),
        project_id: project.clone(),
        project_name: default_project(),
        owner: sample::ADMIN_NAME.into(),
        views: views.iter().map(|v| (*v).to_owned()).collect(),
    };
    [
        workbook(
            1,
            "Superstore",
            "Superstore",
            &["Overview", "Product", "Customers"],
        ),
        workbook(2, "Regional Sales", "RegionalSales", &["Sales", "Forecast"]),
    ]
}

impl UserConfig {
    /// The user's role on a site, or `None` if the user cannot use that site. Server
    /// administrators are `ServerAdministrator` on every site; `Unlicensed` counts as absent.
    pub fn role_on(&self, content_url: &str) -> Option<&str> {
        match self.site_roles.get(content_url).map(String::as_str) {
            Some("Unlicensed") => None,
            Some(role) => Some(role),
            None if self.server_admin => Some("ServerAdministrator"),
            None => None,
        }
    }

    /// Whether the user administers the site: a server administrator, or a site role starting
    /// with `SiteAdministrator` (`SiteAdministratorCreator`, `SiteAdministratorExplorer`, …).
    pub fn is_admin_on(&self, content_url: &str) -> bool {
        self.server_admin
            || self
                .role_on(content_url)
                .is_some_and(|r| r.starts_with("SiteAdministrator") || r == "ServerAdministrator")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_is_valid_and_round_trips() {
        let config = FakeConfig::sample();
        assert_eq!(config.validate(), Ok(ApiVersion::new(3, 25)));
        let json = serde_json::to_string(&config).expect("serialize");
        let back: FakeConfig = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(back, config);
        let minimal: FakeConfig = serde_json::from_str("{}").expect("defaults");
        assert_eq!(minimal.idle_limit_secs, 240 * 60);
        assert_eq!(minimal.trusted_hosts, vec!["127.0.0.1".to_owned()]);
    }

    #[test]
    fn roles() {
        let config = FakeConfig::sample();
        let fin = config
            .user_by_name(sample::FINANCE_USER_NAME)
            .expect("user");
        assert_eq!(fin.role_on(""), None);
        assert_eq!(fin.role_on(sample::FINANCE_SITE), Some("Viewer"));
        let admin = config.user_by_name(sample::ADMIN_NAME).expect("admin");
        assert_eq!(admin.role_on("Elsewhere"), Some("ServerAdministrator"));
    }
}
