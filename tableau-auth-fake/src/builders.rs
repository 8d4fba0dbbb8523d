//! Builders of the configuration structs, which are `#[non_exhaustive]`: a new field with a
//! default is then not a breaking change.
//!
//! Each builder starts from the defaults the JSON form has (a field missing from JSON and a
//! setter not called give the same value); required values are the arguments of `builder`.

use super::config::{
    CloudConfig, ConnectedAppConfig, FakeConfig, PastLastPage, PatConfig, SiteConfig, UatConfig,
    UserConfig, ViewWithoutSession, WorkbookConfig, default_project, default_username_claim,
    local_domain,
};
use super::uat_key;
use super::version::{ApiVersion, since};

impl FakeConfig {
    /// A builder starting from [`FakeConfig::default`]: only the Default site, no users, no
    /// PATs, no connected apps, no workbooks, REST API 3.25, Tableau's limits.
    ///
    /// ```
    /// use tableau_auth_fake::{FakeConfig, SiteConfig, UserConfig};
    ///
    /// let config = FakeConfig::builder()
    ///     .site(SiteConfig::new("Sales", "Sales", "0c8e5b0a-6a55-4c8e-9d3b-2f7f1c0e4a11"))
    ///     .user(
    ///         UserConfig::builder("ana", "0b6b4f0e-1c8d-4a57-9f1e-5f2f7a3c9d10")
    ///             .password("pw")
    ///             .site_role("Sales", "Viewer")
    ///             .build(),
    ///     )
    ///     .idle_limit_secs(60)
    ///     .build();
    /// assert_eq!(config.sites.len(), 2);
    /// assert!(config.validate().is_ok());
    /// ```
    pub fn builder() -> FakeConfigBuilder {
        FakeConfigBuilder {
            config: Self::default(),
        }
    }

    /// A builder starting from this configuration (for instance [`FakeConfig::sample`]).
    pub fn into_builder(self) -> FakeConfigBuilder {
        FakeConfigBuilder { config: self }
    }
}

/// Builds a [`FakeConfig`] ([`FakeConfig::builder`], [`FakeConfig::into_builder`]). The
/// singular methods (`site`, `user`, …) add one item; the plural ones replace the list.
#[derive(Clone, Debug)]
#[must_use]
pub struct FakeConfigBuilder {
    config: FakeConfig,
}

impl FakeConfigBuilder {
    /// Adds a site.
    pub fn site(mut self, site: SiteConfig) -> Self {
        self.config.sites.push(site);
        self
    }

    /// Replaces the sites (the default has the Default site only).
    pub fn sites(mut self, sites: impl IntoIterator<Item = SiteConfig>) -> Self {
        self.config.sites = sites.into_iter().collect();
        self
    }

    /// Adds a user.
    pub fn user(mut self, user: UserConfig) -> Self {
        self.config.users.push(user);
        self
    }

    /// Replaces the users.
    pub fn users(mut self, users: impl IntoIterator<Item = UserConfig>) -> Self {
        self.config.users = users.into_iter().collect();
        self
    }

    /// Adds a personal access token.
    pub fn pat(mut self, pat: PatConfig) -> Self {
        self.config.pats.push(pat);
        self
    }

    /// Replaces the personal access tokens.
    pub fn pats(mut self, pats: impl IntoIterator<Item = PatConfig>) -> Self {
        self.config.pats = pats.into_iter().collect();
        self
    }

    /// Adds a connected app.
    pub fn connected_app(mut self, app: ConnectedAppConfig) -> Self {
        self.config.connected_apps.push(app);
        self
    }

    /// Replaces the connected apps.
    pub fn connected_apps(mut self, apps: impl IntoIterator<Item = ConnectedAppConfig>) -> Self {
        self.config.connected_apps = apps.into_iter().collect();
        self
    }

    /// Adds a workbook.
    pub fn workbook(mut self, workbook: WorkbookConfig) -> Self {
        self.config.workbooks.push(workbook);
        self
    }

    /// Replaces the workbooks.
    pub fn workbooks(mut self, workbooks: impl IntoIterator<Item = WorkbookConfig>) -> Self {
        self.config.workbooks = workbooks.into_iter().collect();
        self
    }

    /// Adds a peer IP allowed to request trusted tickets.
    pub fn trusted_host(mut self, ip: impl Into<String>) -> Self {
        self.config.trusted_hosts.push(ip.into());
        self
    }

    /// Replaces the peer IPs allowed to request trusted tickets (default `127.0.0.1`).
    pub fn trusted_hosts(mut self, ips: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.config.trusted_hosts = ips.into_iter().map(Into::into).collect();
        self
    }

    /// Highest REST API version the server implements, `X.Y` (default 3.25; checked when the
    /// fake starts or takes the configuration).
    pub fn rest_api_version(mut self, version: impl Into<String>) -> Self {
        self.config.rest_api_version = version.into();
        self
    }

    /// `productVersion` text of server info.
    pub fn product_version(mut self, version: impl Into<String>) -> Self {
        self.config.product_version = version.into();
        self
    }

    /// `productVersion/@build` of server info (the field `build`).
    pub fn product_build(mut self, build: impl Into<String>) -> Self {
        self.config.build = build.into();
        self
    }

    /// Session idle limit in seconds (default 240 minutes).
    pub fn idle_limit_secs(mut self, secs: u64) -> Self {
        self.config.idle_limit_secs = secs;
        self
    }

    /// Absolute session lifetime in seconds (default none).
    pub fn lifetime_limit_secs(mut self, secs: impl Into<Option<u64>>) -> Self {
        self.config.lifetime_limit_secs = secs.into();
        self
    }

    /// Whether PAT impersonation is enabled (`tsm authentication pat-impersonation enable`;
    /// default off).
    pub fn pat_impersonation_enabled(mut self, enabled: bool) -> Self {
        self.config.pat_impersonation_enabled = enabled;
        self
    }

    /// A pre-10.1 server: `serverinfo` answers 404 404003 and `GET /auth?format=xml` the legacy
    /// document (default off).
    pub fn legacy_server(mut self, legacy: bool) -> Self {
        self.config.legacy_server = legacy;
        self
    }

    /// Trusted-ticket redemption window in seconds (default 180).
    pub fn ticket_timeout_secs(mut self, secs: u64) -> Self {
        self.config.ticket_timeout_secs = secs;
        self
    }

    /// Longest accepted JWT lifetime (`exp` - now) in seconds (default 600).
    pub fn jwt_max_lifetime_secs(mut self, secs: u64) -> Self {
        self.config.jwt_max_lifetime_secs = secs;
        self
    }

    /// Page size of list methods without `pageSize` (default 100).
    pub fn default_page_size(mut self, size: u32) -> Self {
        self.config.default_page_size = size;
        self
    }

    /// Largest accepted `pageSize` (default 1000).
    pub fn max_page_size(mut self, size: u32) -> Self {
        self.config.max_page_size = size;
        self
    }

    /// What a `pageNumber` past the last page answers.
    pub fn past_last_page(mut self, answer: PastLastPage) -> Self {
        self.config.past_last_page = answer;
        self
    }

    /// What a view URL without a valid session cookie answers.
    pub fn view_without_session(mut self, answer: ViewWithoutSession) -> Self {
        self.config.view_without_session = answer;
        self
    }

    /// Tableau Cloud mode: the fake accepts unified access tokens and checks them against
    /// `cloud`'s UAT configurations. A `rest_api_version` below 3.27 is raised to 3.27 (set a
    /// later one after this call if wanted).
    pub fn cloud(mut self, cloud: CloudConfig) -> Self {
        self.config.cloud = Some(cloud);
        if ApiVersion::parse(&self.config.rest_api_version).is_some_and(|v| v < since::UAT) {
            self.config.rest_api_version = since::UAT.to_string();
        }
        self
    }

    /// The configuration. It is checked when a fake starts with it or takes it
    /// ([`FakeConfig::validate`] checks it earlier).
    #[must_use]
    pub fn build(self) -> FakeConfig {
        self.config
    }
}

impl CloudConfig {
    /// A builder: no UAT configuration yet, a clock-skew allowance of 60 s.
    ///
    /// ```
    /// use tableau_auth_fake::{CloudConfig, FakeConfig, UatConfig, sample};
    ///
    /// let uat = UatConfig::builder(
    ///     "https://issuer.example.com",
    ///     "tenant-1",
    ///     "key-1",
    ///     sample::UAT_PUBLIC_KEY_PEM,
    /// )
    /// .username_claim("upn")
    /// .scope("tableau:content:read")
    /// .build();
    /// let config = FakeConfig::sample()
    ///     .into_builder()
    ///     .cloud(CloudConfig::builder().uat(uat).uat_clock_skew_secs(5).build())
    ///     .build();
    /// assert_eq!(config.rest_api_version, "3.27");
    /// assert!(config.validate().is_ok());
    /// ```
    pub fn builder() -> CloudConfigBuilder {
        CloudConfigBuilder {
            cloud: Self::default(),
        }
    }
}

/// Builds a [`CloudConfig`] ([`CloudConfig::builder`]).
#[derive(Clone, Debug)]
#[must_use]
pub struct CloudConfigBuilder {
    cloud: CloudConfig,
}

impl CloudConfigBuilder {
    /// Adds a UAT configuration.
    pub fn uat(mut self, uat: UatConfig) -> Self {
        self.cloud.uat_configurations.push(uat);
        self
    }

    /// Replaces the UAT configurations.
    pub fn uats(mut self, uats: impl IntoIterator<Item = UatConfig>) -> Self {
        self.cloud.uat_configurations = uats.into_iter().collect();
        self
    }

    /// How far a UAT's `exp` may lie in the past, and its `nbf` and `iat` in the future, in
    /// seconds on the fake's clock (default 60).
    pub fn uat_clock_skew_secs(mut self, secs: u64) -> Self {
        self.cloud.uat_clock_skew_secs = secs;
        self
    }

    /// The Tableau Cloud settings.
    #[must_use]
    pub fn build(self) -> CloudConfig {
        self.cloud
    }
}

impl UatConfig {
    /// A builder for the UAT configuration of `issuer` (the token's `iss`) in the tenant
    /// `tenant_id`, whose tokens are signed by the key `key_id` (`kid`) with the public key
    /// `public_key_pem` (`PUBLIC KEY` or `RSA PUBLIC KEY` PEM): user name in `email`, no scope
    /// allowed yet.
    pub fn builder(
        issuer: impl Into<String>,
        tenant_id: impl Into<String>,
        key_id: impl Into<String>,
        public_key_pem: impl Into<String>,
    ) -> UatConfigBuilder {
        UatConfigBuilder {
            uat: Self {
                issuer: issuer.into(),
                tenant_id: tenant_id.into(),
                key_id: key_id.into(),
                public_key_pem: public_key_pem.into(),
                username_claim: default_username_claim(),
                scopes: Vec::new(),
            },
        }
    }

    /// A PKCS#1 `RSAPublicKey` in DER (what ring's `RsaKeyPair::public_key` gives) as
    /// `-----BEGIN RSA PUBLIC KEY-----` PEM, for [`UatConfig::builder`].
    pub fn rsa_public_key_pem(pkcs1_der: &[u8]) -> String {
        uat_key::pkcs1_pem(pkcs1_der)
    }
}

/// Builds a [`UatConfig`] ([`UatConfig::builder`]).
#[derive(Clone, Debug)]
#[must_use]
pub struct UatConfigBuilder {
    uat: UatConfig,
}

impl UatConfigBuilder {
    /// The claim that carries the user name (default `email`).
    pub fn username_claim(mut self, claim: impl Into<String>) -> Self {
        self.uat.username_claim = claim.into();
        self
    }

    /// Allows a scope (`tableau:content:read`; `tableau:content:*` allows every scope that
    /// starts with `tableau:content:`).
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.uat.scopes.push(scope.into());
        self
    }

    /// Allows scopes.
    pub fn scopes(mut self, scopes: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.uat.scopes.extend(scopes.into_iter().map(Into::into));
        self
    }

    /// The UAT configuration.
    #[must_use]
    pub fn build(self) -> UatConfig {
        self.uat
    }
}

impl SiteConfig {
    /// A site: display name, URL name (`""` for the Default site) and LUID.
    pub fn new(
        name: impl Into<String>,
        content_url: impl Into<String>,
        id: impl Into<String>,
    ) -> Self {
        Self {
            name: name.into(),
            content_url: content_url.into(),
            id: id.into(),
        }
    }
}

impl UserConfig {
    /// A builder for the user `name` (case-sensitive) with LUID `id`: no password, no site
    /// role, not an administrator, no full name or e-mail, domain `local`.
    pub fn builder(name: impl Into<String>, id: impl Into<String>) -> UserConfigBuilder {
        UserConfigBuilder {
            user: Self {
                name: name.into(),
                id: id.into(),
                password: None,
                site_roles: Default::default(),
                server_admin: false,
                full_name: None,
                email: None,
                external_auth_user_id: String::new(),
                domain: local_domain(),
            },
        }
    }
}

/// Builds a [`UserConfig`] ([`UserConfig::builder`]).
#[derive(Clone, Debug)]
#[must_use]
pub struct UserConfigBuilder {
    user: UserConfig,
}

impl UserConfigBuilder {
    /// The password (without one, password sign-in always fails: an SSO-only user).
    pub fn password(mut self, password: impl Into<String>) -> Self {
        self.user.password = Some(password.into());
        self
    }

    /// The user's site role on the site with URL name `site` (`""` for the Default site), for
    /// instance `Creator`, `Explorer`, `Viewer`, `SiteAdministratorCreator`; `Unlicensed` counts
    /// as not on the site.
    pub fn site_role(mut self, site: impl Into<String>, role: impl Into<String>) -> Self {
        self.user.site_roles.insert(site.into(), role.into());
        self
    }

    /// A server administrator: on every site, and may impersonate.
    pub fn server_admin(mut self, admin: bool) -> Self {
        self.user.server_admin = admin;
        self
    }

    /// `fullName` in Query User.
    pub fn full_name(mut self, full_name: impl Into<String>) -> Self {
        self.user.full_name = Some(full_name.into());
        self
    }

    /// `email` in Query User.
    pub fn email(mut self, email: impl Into<String>) -> Self {
        self.user.email = Some(email.into());
        self
    }

    /// `externalAuthUserId` in Query User (the SSO identity).
    pub fn external_auth_user_id(mut self, id: impl Into<String>) -> Self {
        self.user.external_auth_user_id = id.into();
        self
    }

    /// `<domain name>` in Query User (default `local`).
    pub fn domain(mut self, domain: impl Into<String>) -> Self {
        self.user.domain = domain.into();
        self
    }

    /// The user.
    #[must_use]
    pub fn build(self) -> UserConfig {
        self.user
    }
}

impl PatConfig {
    /// A builder for the personal access token `name` with `secret`, owned by the user named
    /// `owner`: not revoked, never expires.
    pub fn builder(
        name: impl Into<String>,
        secret: impl Into<String>,
        owner: impl Into<String>,
    ) -> PatConfigBuilder {
        PatConfigBuilder {
            pat: Self {
                name: name.into(),
                secret: secret.into(),
                owner: owner.into(),
                revoked: false,
                expires_at_unix: None,
            },
        }
    }
}

/// Builds a [`PatConfig`] ([`PatConfig::builder`]).
#[derive(Clone, Debug)]
#[must_use]
pub struct PatConfigBuilder {
    pat: PatConfig,
}

impl PatConfigBuilder {
    /// A revoked token fails sign-in with 401001.
    pub fn revoked(mut self, revoked: bool) -> Self {
        self.pat.revoked = revoked;
        self
    }

    /// Expiry in Unix seconds, compared with the fake clock (`None`: never).
    pub fn expires_at_unix(mut self, at: impl Into<Option<u64>>) -> Self {
        self.pat.expires_at_unix = at.into();
        self
    }

    /// The token.
    #[must_use]
    pub fn build(self) -> PatConfig {
        self.pat
    }
}

impl ConnectedAppConfig {
    /// A builder for the direct-trust connected app `client_id` (JWT `iss`) with the secret
    /// `secret_id` (JWT `kid`) and `secret_value` (the HMAC key's bytes): enabled, on the
    /// Default site.
    pub fn builder(
        client_id: impl Into<String>,
        secret_id: impl Into<String>,
        secret_value: impl Into<String>,
    ) -> ConnectedAppConfigBuilder {
        ConnectedAppConfigBuilder {
            app: Self {
                client_id: client_id.into(),
                secret_id: secret_id.into(),
                secret_value: secret_value.into(),
                enabled: true,
                site: String::new(),
            },
        }
    }
}

/// Builds a [`ConnectedAppConfig`] ([`ConnectedAppConfig::builder`]).
#[derive(Clone, Debug)]
#[must_use]
pub struct ConnectedAppConfigBuilder {
    app: ConnectedAppConfig,
}

impl ConnectedAppConfigBuilder {
    /// A disabled app fails sign-in with connected-app error 10090.
    pub fn enabled(mut self, enabled: bool) -> Self {
        self.app.enabled = enabled;
        self
    }

    /// URL name of the site the app belongs to (default `""`, the Default site).
    pub fn site(mut self, content_url: impl Into<String>) -> Self {
        self.app.site = content_url.into();
        self
    }

    /// The app.
    #[must_use]
    pub fn build(self) -> ConnectedAppConfig {
        self.app
    }
}

impl WorkbookConfig {
    /// A builder for the workbook with LUID `id`, display name `name` and URL name
    /// `content_url`: on the Default site, in the project `Default` (empty LUID unless
    /// [`project`](WorkbookConfigBuilder::project) sets one), no owner, no views.
    pub fn builder(
        id: impl Into<String>,
        name: impl Into<String>,
        content_url: impl Into<String>,
    ) -> WorkbookConfigBuilder {
        WorkbookConfigBuilder {
            workbook: Self {
                id: id.into(),
                name: name.into(),
                content_url: content_url.into(),
                site: String::new(),
                project_id: String::new(),
                project_name: default_project(),
                owner: String::new(),
                views: Vec::new(),
            },
        }
    }
}

/// Builds a [`WorkbookConfig`] ([`WorkbookConfig::builder`]).
#[derive(Clone, Debug)]
#[must_use]
pub struct WorkbookConfigBuilder {
    workbook: WorkbookConfig,
}

impl WorkbookConfigBuilder {
    /// URL name of the site the workbook is on (default `""`, the Default site).
    pub fn site(mut self, content_url: impl Into<String>) -> Self {
        self.workbook.site = content_url.into();
        self
    }

    /// The project's LUID and name.
    pub fn project(mut self, id: impl Into<String>, name: impl Into<String>) -> Self {
        self.workbook.project_id = id.into();
        self.workbook.project_name = name.into();
        self
    }

    /// The owner's user name.
    pub fn owner(mut self, user_name: impl Into<String>) -> Self {
        self.workbook.owner = user_name.into();
        self
    }

    /// Adds a view (its URL name, the `{view}` of a view URL).
    pub fn view(mut self, content_url: impl Into<String>) -> Self {
        self.workbook.views.push(content_url.into());
        self
    }

    /// Replaces the views.
    pub fn views(mut self, content_urls: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.workbook.views = content_urls.into_iter().map(Into::into).collect();
        self
    }

    /// The workbook.
    #[must_use]
    pub fn build(self) -> WorkbookConfig {
        self.workbook
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample;

    #[test]
    fn builders_match_the_json_defaults() {
        let built = FakeConfig::builder().build();
        let parsed: FakeConfig = serde_json::from_str("{}").expect("defaults");
        assert_eq!(built, parsed);

        let user = UserConfig::builder("u", "1").build();
        let parsed: UserConfig = serde_json::from_str(r#"{"name":"u","id":"1"}"#).expect("user");
        assert_eq!(user, parsed);

        let pat = PatConfig::builder("p", "s", "u").build();
        let parsed: PatConfig =
            serde_json::from_str(r#"{"name":"p","secret":"s","owner":"u"}"#).expect("pat");
        assert_eq!(pat, parsed);

        let app = ConnectedAppConfig::builder("c", "k", "v").build();
        let parsed: ConnectedAppConfig =
            serde_json::from_str(r#"{"client_id":"c","secret_id":"k","secret_value":"v"}"#)
                .expect("app");
        assert_eq!(app, parsed);

        let workbook = WorkbookConfig::builder("w", "W", "W").build();
        let parsed: WorkbookConfig = serde_json::from_str(
            r#"{"id":"w","name":"W","content_url":"W","project_id":"","owner":""}"#,
        )
        .expect("workbook");
        assert_eq!(workbook, parsed);

        let cloud = CloudConfig::builder().build();
        let parsed: CloudConfig = serde_json::from_str("{}").expect("cloud");
        assert_eq!(cloud, parsed);

        let uat = UatConfig::builder("i", "t", "k", "pem").build();
        let parsed: UatConfig = serde_json::from_str(
            r#"{"issuer":"i","tenant_id":"t","key_id":"k","public_key_pem":"pem"}"#,
        )
        .expect("uat");
        assert_eq!(uat, parsed);
        assert_eq!(uat.username_claim, "email");
    }

    #[test]
    fn the_cloud_mode_raises_an_old_version_only() {
        let cloud = || CloudConfig::builder().build();
        let raised = FakeConfig::builder().cloud(cloud()).build();
        assert_eq!(raised.rest_api_version, "3.27");
        let kept = FakeConfig::builder()
            .rest_api_version("3.28")
            .cloud(cloud())
            .build();
        assert_eq!(kept.rest_api_version, "3.28");
        let lowered = FakeConfig::builder()
            .cloud(cloud())
            .rest_api_version("3.26")
            .build();
        assert_eq!(
            lowered.validate(),
            Err(crate::ControlError::CloudApiVersion("3.26".into()))
        );
        // A Tableau Server (no cloud) serializes as before: no `cloud` key.
        let json = serde_json::to_value(FakeConfig::sample()).expect("json");
        assert!(json.get("cloud").is_none());
        let cloud_json = serde_json::to_string(&FakeConfig::sample_cloud()).expect("json");
        let back: FakeConfig = serde_json::from_str(&cloud_json).expect("back");
        assert_eq!(back, FakeConfig::sample_cloud());
    }

    #[test]
    fn builders_rebuild_the_sample() {
        let sample = FakeConfig::sample();
        let rebuilt = FakeConfig::builder()
            .sites(sample.sites.clone())
            .users(sample.users.clone())
            .pats(sample.pats.clone())
            .connected_apps(sample.connected_apps.clone())
            .workbooks(sample.workbooks.clone())
            .build();
        assert_eq!(rebuilt, sample);

        let jsmith = UserConfig::builder(sample::USER_NAME, sample::USER_ID)
            .password(sample::USER_PASSWORD)
            .site_role("", "Creator")
            .site_role(sample::FINANCE_SITE, "Explorer")
            .full_name("Jane Smith")
            .email("jsmith@example.com")
            .build();
        assert_eq!(sample.user_by_name(sample::USER_NAME), Some(&jsmith));

        let app = ConnectedAppConfig::builder(
            sample::DISABLED_APP_CLIENT_ID,
            sample::DISABLED_APP_SECRET_ID,
            sample::DISABLED_APP_SECRET_VALUE,
        )
        .enabled(false)
        .site(sample::FINANCE_SITE)
        .build();
        assert_eq!(sample.connected_apps[1], app);

        let superstore = WorkbookConfig::builder(
            "3a1b2c3d-0001-4000-8000-1054a91dcab3",
            "Superstore",
            "Superstore",
        )
        .project("1f2e3d4c-0000-4000-8000-1054a91dcab3", "Default")
        .owner(sample::ADMIN_NAME)
        .views(["Overview", "Product", "Customers"])
        .build();
        assert_eq!(sample.workbooks[0], superstore);

        let edited = sample
            .clone()
            .into_builder()
            .pat_impersonation_enabled(true)
            .lifetime_limit_secs(3_600)
            .build();
        assert!(edited.pat_impersonation_enabled);
        assert_eq!(edited.lifetime_limit_secs, Some(3_600));
        assert_eq!(edited.users, sample.users);
    }
}
