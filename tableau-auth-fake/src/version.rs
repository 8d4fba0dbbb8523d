//! REST API version numbers (`major.minor`).

use std::fmt;

/// A REST API version as used in URLs (`/api/3.25/...`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ApiVersion {
    /// Major number (`3` in `3.25`).
    pub major: u32,
    /// Minor number (`25` in `3.25`).
    pub minor: u32,
}

impl ApiVersion {
    /// Builds a version from its two numbers.
    pub const fn new(major: u32, minor: u32) -> Self {
        Self { major, minor }
    }

    /// Parses `X.Y` (digits only, no sign, no patch level). Returns `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        let (major, minor) = text.split_once('.')?;
        let digits =
            |s: &str| !s.is_empty() && s.len() <= 6 && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(major) || !digits(minor) {
            return None;
        }
        Some(Self::new(major.parse().ok()?, minor.parse().ok()?))
    }

    /// The XSD file name Tableau puts in `xsi:schemaLocation` for this version.
    pub(crate) fn xsd(self) -> String {
        format!("ts-api_{}_{}.xsd", self.major, self.minor)
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// Versions at which the fake starts to accept a feature.
pub(crate) mod since {
    use super::ApiVersion;

    /// Oldest REST API version.
    pub(crate) const REST: ApiVersion = ApiVersion::new(2, 0);
    /// `GET serverinfo`.
    pub(crate) const SERVER_INFO: ApiVersion = ApiVersion::new(2, 4);
    /// JSON request and response bodies.
    pub(crate) const JSON: ApiVersion = ApiVersion::new(2, 5);
    /// `POST auth/switchSite`.
    pub(crate) const SWITCH_SITE: ApiVersion = ApiVersion::new(2, 6);
    /// `GET sessions/current` (3.1 per PSTableauREST).
    pub(crate) const SESSIONS_CURRENT: ApiVersion = ApiVersion::new(3, 1);
    /// Personal access token sign-in.
    pub(crate) const PAT: ApiVersion = ApiVersion::new(3, 6);
    /// Impersonation with a PAT.
    pub(crate) const PAT_IMPERSONATION: ApiVersion = ApiVersion::new(3, 11);
    /// `DELETE auth/serverAdminAccessTokens` (Revoke Administrator Personal Access Tokens).
    pub(crate) const REVOKE_ADMIN_PATS: ApiVersion = ApiVersion::new(3, 11);
    /// Connected-app JWT sign-in (Cloud June 2022 = 3.16; Server 2022.3 = 3.17).
    pub(crate) const JWT: ApiVersion = ApiVersion::new(3, 16);
    /// Unified access tokens (`isUat`; Tableau Cloud, December 2025).
    pub(crate) const UAT: ApiVersion = ApiVersion::new(3, 27);
}

#[cfg(test)]
mod tests {
    use super::ApiVersion;

    #[test]
    fn parse_and_order() {
        assert_eq!(ApiVersion::parse("3.25"), Some(ApiVersion::new(3, 25)));
        assert!(ApiVersion::parse("3.9") < ApiVersion::parse("3.10"));
        for bad in ["3", "3.", ".5", "3.2.1", "-3.1", "a.b", "", "3.+1"] {
            assert_eq!(ApiVersion::parse(bad), None, "{bad}");
        }
        assert_eq!(ApiVersion::new(3, 4).xsd(), "ts-api_3_4.xsd");
    }
}
