//! Why the fake refused a configuration or a control request.

/// A configuration ([`FakeConfig::validate`], [`FakeServer::start`],
/// [`FakeControl::set_config`], [`FakeControl::update_config`], `POST /_fake/config`) or a
/// control request ([`FakeControl::set_redirect_status`], `POST /_fake/redirect`) the fake
/// refused. Nothing was changed. Over HTTP the answer is 400 with `{"error": "<this message>"}`.
///
/// [`FakeConfig::validate`]: crate::FakeConfig::validate
/// [`FakeServer::start`]: crate::FakeServer::start
/// [`FakeControl::set_config`]: crate::FakeControl::set_config
/// [`FakeControl::update_config`]: crate::FakeControl::update_config
/// [`FakeControl::set_redirect_status`]: crate::FakeControl::set_redirect_status
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ControlError {
    /// `rest_api_version` is not `X.Y` (two decimal numbers).
    #[error("rest_api_version {0:?} is not X.Y")]
    ApiVersion(String),
    /// Two sites have the same `content_url`.
    #[error("duplicate site contentUrl {0:?}")]
    DuplicateSite(String),
    /// Two users have the same name.
    #[error("duplicate user name {0:?}")]
    DuplicateUser(String),
    /// Two personal access tokens have the same name.
    #[error("duplicate PAT name {0:?}")]
    DuplicatePat(String),
    /// Two workbooks have the same LUID.
    #[error("duplicate workbook id {0:?}")]
    DuplicateWorkbook(String),
    /// `default_page_size` or `max_page_size` is 0.
    #[error("default_page_size and max_page_size must be at least 1")]
    PageSize,
    /// Tableau Cloud mode ([`FakeConfig::cloud`](crate::FakeConfig::cloud)) with a
    /// `rest_api_version` below 3.27 (unified access tokens came with 3.27).
    #[error("Tableau Cloud mode needs rest_api_version 3.27 or later, not {0:?}")]
    CloudApiVersion(String),
    /// Two UAT configurations have the same key ID.
    #[error("duplicate UAT key id {0:?}")]
    DuplicateUatKeyId(String),
    /// A UAT configuration's public key is not an RSA public key (2048 to 8192 bits) in PEM.
    #[error("the public key of the UAT configuration {key_id:?} is not usable: {reason}")]
    UatPublicKey {
        /// The configuration's key ID.
        key_id: String,
        /// Why.
        reason: String,
    },
    /// A redirect listener's status that is not 301, 302, 303, 307 or 308.
    #[error("{0} is not a redirect status")]
    RedirectStatus(u16),
}
