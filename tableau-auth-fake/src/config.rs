//! What the fake server knows: sites, users, PATs, connected apps, server settings, and (in
//! Tableau Cloud mode) UAT configurations.
//!
//! [`FakeConfig::sample`] builds a ready-made configuration whose names and secrets are the
//! constants of [`sample`] ([`FakeConfig::sample_cloud`]: the same world as Tableau Cloud);
//! [`FakeConfig::builder`] builds one from nothing. Every struct here is
//! `#[non_exhaustive]`: build it with its builder (or `new`), then edit its public fields freely.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::error::ControlError;
use super::uat_key;
use super::version::{ApiVersion, since};

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

/// Tableau Cloud mode ([`FakeConfig::cloud`]): the server accepts unified access tokens
/// (`isUat="true"` sign-ins, REST API 3.27 and later) and verifies them against its UAT
/// configurations. Built with [`CloudConfig::builder`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct CloudConfig {
    /// The UAT configurations (Tableau Cloud Manager's), found by the token's `kid`.
    pub uat_configurations: Vec<UatConfig>,
    /// How far a UAT's `exp` may lie in the past, and its `nbf` and `iat` in the future, on the
    /// fake's clock (default 60 s).
    pub uat_clock_skew_secs: u64,
}

impl Default for CloudConfig {
    /// No UAT configuration (every UAT is refused: unknown `kid`), a skew allowance of 60 s.
    fn default() -> Self {
        Self {
            uat_configurations: Vec::new(),
            uat_clock_skew_secs: 60,
        }
    }
}

/// A unified-access-token configuration of Tableau Cloud Manager: the issuer, tenant, public
/// key and scopes a UAT is checked against. Built with [`UatConfig::builder`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct UatConfig {
    /// The issuer URI (the token's `iss`).
    pub issuer: String,
    /// The tenant ID (the token's `https://tableau.com/tenantId`).
    pub tenant_id: String,
    /// The key's ID (the token header's `kid`); unique among the configurations.
    pub key_id: String,
    /// The RSA public key (2048 to 8192 bits) as PEM: `-----BEGIN PUBLIC KEY-----`
    /// (SubjectPublicKeyInfo, what `openssl pkey -pubout` writes) or `-----BEGIN RSA PUBLIC
    /// KEY-----` (PKCS#1; [`UatConfig::rsa_public_key_pem`] wraps PKCS#1 DER in it).
    pub public_key_pem: String,
    /// The claim that carries the user name (default `email`).
    #[serde(default = "default_username_claim")]
    pub username_claim: String,
    /// The scopes a token may carry: its `scp` must be a non-empty subset. An entry ending with
    /// `*` allows every scope that starts with what precedes it (`tableau:content:*`). Empty:
    /// every token is refused.
    #[serde(default)]
    pub scopes: Vec<String>,
}

pub(crate) fn default_username_claim() -> String {
    "email".to_owned()
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
    /// Tableau Cloud mode: `None` (the default) is a Tableau Server, which refuses unified
    /// access tokens; `Some` accepts and verifies them, and needs `rest_api_version` 3.27 or
    /// later.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cloud: Option<CloudConfig>,
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
            cloud: None,
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

    /// REST API version of the sample Tableau Cloud
    /// ([`FakeConfig::sample_cloud`](crate::FakeConfig::sample_cloud)): the first with unified
    /// access tokens.
    pub const CLOUD_REST_API_VERSION: &str = "3.27";
    /// Product version of the sample Tableau Cloud.
    pub const CLOUD_PRODUCT_VERSION: &str = "2025.3.0";
    /// Build of the sample Tableau Cloud (an invented number).
    pub const CLOUD_BUILD: &str = "20253.25.1203.0942";
    /// The sample UAT configuration's issuer URI (`iss`).
    pub const UAT_ISSUER: &str = "https://uat-issuer.example.com";
    /// The sample UAT configuration's tenant ID (`https://tableau.com/tenantId`).
    pub const UAT_TENANT_ID: &str = "c4f2b1de-8a9e-4f57-b0d3-7e6a5c4b3a21";
    /// The sample UAT configuration's key ID (`kid`).
    pub const UAT_KEY_ID: &str = "f1e2d3c4-b5a6-4978-8a9b-0c1d2e3f4a5b";
    /// The scopes the sample UAT configuration allows.
    pub const UAT_SCOPES: [&str; 4] = [
        "tableau:content:read",
        "tableau:workbooks:read",
        "tableau:sites:read",
        "tableau:users:read",
    ];
    /// The sample UAT configuration's public key (RSA 2048, SubjectPublicKeyInfo PEM). Its
    /// private half is the test key `tests/fixtures/uat-test-key.pem` of this crate (it
    /// protects nothing).
    pub const UAT_PUBLIC_KEY_PEM: &str = "\
-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA557ATSi9azHeeyKOYSaW
xzhQRyF366irvMxGAzu44YLxhUg8NqBD0H3w7MD2QTHeBQDc00RmST6NzEu1KaZ1
ACdpu62WsGON1OtSu4Cg7P2QyAy6ZJ8525hIN7RDZKYefYif5pjGL6LK6mDXk1W8
GCg6AZP9N8yOpfw1rd9qYXQ2RN+C0Ab4rQyXJXQfT34ukTtmyr7UWs1BJhh73Qbq
OqfUDWrY2qbj8zRe+dekDRoHNaHDax8p58AwJYymqHsx2bnoCdrmnyArDieaZ8Vi
uU0fYz+joPILULElKXiuMekAT/8mHO35Dyb1ooZWEtfTNAaOk2Be9yE68PVLLXct
nwIDAQAB
-----END PUBLIC KEY-----\n";
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

    /// The sample world as a Tableau Cloud ([`FakeConfig::cloud`]): [`FakeConfig::sample`] at
    /// REST API 3.27 ([`sample::CLOUD_REST_API_VERSION`], product version and build
    /// [`sample::CLOUD_PRODUCT_VERSION`], [`sample::CLOUD_BUILD`]) with one UAT configuration:
    /// issuer [`sample::UAT_ISSUER`], tenant [`sample::UAT_TENANT_ID`], key
    /// [`sample::UAT_KEY_ID`] ([`sample::UAT_PUBLIC_KEY_PEM`]), user name in `email`, scopes
    /// [`sample::UAT_SCOPES`].
    ///
    /// ```
    /// use tableau_auth_fake::{FakeConfig, sample};
    ///
    /// let config = FakeConfig::sample_cloud();
    /// let cloud = config.cloud.as_ref().expect("Tableau Cloud mode");
    /// assert_eq!(cloud.uat_configurations[0].key_id, sample::UAT_KEY_ID);
    /// assert_eq!(config.rest_api_version, "3.27");
    /// assert!(config.validate().is_ok());
    /// ```
    pub fn sample_cloud() -> Self {
        let uat = UatConfig::builder(
            sample::UAT_ISSUER,
            sample::UAT_TENANT_ID,
            sample::UAT_KEY_ID,
            sample::UAT_PUBLIC_KEY_PEM,
        )
        .scopes(sample::UAT_SCOPES)
        .build();
        Self {
            rest_api_version: sample::CLOUD_REST_API_VERSION.into(),
            product_version: sample::CLOUD_PRODUCT_VERSION.into(),
            build: sample::CLOUD_BUILD.into(),
            cloud: Some(CloudConfig::builder().uat(uat).build()),
            ..Self::sample()
        }
    }

    /// Checks the parts the server relies on (the version string, the uniqueness of site URL
    /// names, user names, PAT names and workbook LUIDs, page sizes of at least 1; in Tableau
    /// Cloud mode a version of at least 3.27, UAT key IDs unique and their public keys usable)
    /// and returns the server's REST API version.
    pub fn validate(&self) -> Result<ApiVersion, ControlError> {
        let version = ApiVersion::parse(&self.rest_api_version)
            .ok_or_else(|| ControlError::ApiVersion(self.rest_api_version.clone()))?;
        if let Some(cloud) = &self.cloud {
            if version < since::UAT {
                return Err(ControlError::CloudApiVersion(self.rest_api_version.clone()));
            }
            let mut kids = std::collections::BTreeSet::new();
            for uat in &cloud.uat_configurations {
                if !kids.insert(uat.key_id.as_str()) {
                    return Err(ControlError::DuplicateUatKeyId(uat.key_id.clone()));
                }
                uat_key::rsa_public_key_der(&uat.public_key_pem).map_err(|reason| {
                    ControlError::UatPublicKey {
                        key_id: uat.key_id.clone(),
                        reason: reason.to_owned(),
                    }
                })?;
            }
        }
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
