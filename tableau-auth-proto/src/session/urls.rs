//! URL building: the API and site URLs of the caller's own calls, and the paths of the core's
//! requests.

use super::Session;
use crate::error::{Error, Misuse};
use crate::version::ApiVersion;

impl Session {
    /// `{base}/api/{version}/{path}` for the caller's own calls (not site-scoped).
    pub fn api_url(&self, path: &str) -> Result<http::Uri, Error> {
        let version = self
            .active
            .as_ref()
            .map(|a| a.info.api_version)
            .or(self.version)
            .ok_or(Misuse::NotSignedIn)?;
        let url = self.api_path(version, &format!("/{}", path.trim_start_matches('/')));
        url.parse()
            .map_err(|_| Misuse::InvalidCharacter("API path").into())
    }

    /// `{base}/api/{version}/sites/{site-luid}/{path}` for the caller's site-scoped calls.
    pub fn site_url(&self, path: &str) -> Result<http::Uri, Error> {
        let active = self.active.as_ref().ok_or(Misuse::NotSignedIn)?;
        let url = self.api_path(
            active.info.api_version,
            &format!(
                "/sites/{}/{}",
                active.info.site_id,
                path.trim_start_matches('/')
            ),
        );
        url.parse()
            .map_err(|_| Misuse::InvalidCharacter("API path").into())
    }

    pub(super) fn api_path(&self, version: ApiVersion, path: &str) -> String {
        self.base.join(&format!("/api/{version}{path}"))
    }
}

pub(super) const LEGACY_PROBE_PATH: &str = "/auth?format=xml";

pub(super) fn server_info_path() -> String {
    format!("/api/{}/serverinfo", ApiVersion::SERVER_INFO_PROBE)
}

/// The sign-in path, kept apart from the base so that a followed redirect can reuse it.
pub(super) fn sign_in_path(version: ApiVersion) -> String {
    format!("/api/{version}/auth/signin")
}
