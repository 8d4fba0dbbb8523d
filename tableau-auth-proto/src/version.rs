//! REST API versions and the minimum version of each feature the core gates on.

use std::fmt;
use std::str::FromStr;

/// A Tableau REST API version, `major.minor` (for example `3.25`).
///
/// Patch-level schema numbers (`2.0.1`) are never put in URLs, so they are dropped on parsing.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ApiVersion {
    major: u16,
    minor: u16,
}

impl ApiVersion {
    /// The version used for the anonymous `serverinfo` probe: the oldest one that has it (2.4).
    pub const SERVER_INFO_PROBE: Self = Self::new(2, 4);

    /// Makes a version from its two parts.
    pub const fn new(major: u16, minor: u16) -> Self {
        Self { major, minor }
    }

    /// The major part (`3` in `3.25`).
    pub const fn major(self) -> u16 {
        self.major
    }

    /// The minor part (`25` in `3.25`).
    pub const fn minor(self) -> u16 {
        self.minor
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl fmt::Debug for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiVersion({self})")
    }
}

/// A version string that is not `major.minor[.patch]` with decimal numbers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a REST API version (expected major.minor, e.g. 3.25)")]
pub struct InvalidApiVersion(String);

impl FromStr for ApiVersion {
    type Err = InvalidApiVersion;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = || InvalidApiVersion(s.chars().take(32).collect());
        let mut parts = s.trim().split('.');
        let mut number = || -> Result<u16, InvalidApiVersion> {
            let part = parts.next().ok_or_else(invalid)?;
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid());
            }
            part.parse().map_err(|_| invalid())
        };
        let major = number()?;
        let minor = number()?;
        // An optional patch level is accepted and dropped.
        if let Some(patch) = parts.next()
            && (patch.is_empty() || !patch.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(invalid());
        }
        if parts.next().is_some() {
            return Err(invalid());
        }
        Ok(Self::new(major, minor))
    }
}

/// A feature of the REST API that the core refuses to use below its minimum version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Feature {
    /// `GET serverinfo` (API 2.4, Tableau Server 10.1).
    ServerInfo,
    /// JSON request and response bodies (API 2.5).
    Json,
    /// `POST auth/switchSite` (API 2.6, Tableau Server only).
    SwitchSite,
    /// Sign-in with a personal access token (API 3.6, Tableau Server 2019.4).
    PersonalAccessToken,
    /// Impersonation while signing in with a personal access token (API 3.11, Server 2021.1).
    PersonalAccessTokenImpersonation,
    /// Sign-in with a connected-app JWT (API 3.17; TSC gates it at the same version).
    Jwt,
    /// Sign-in with a Unified Access Token, `isUat` (API 3.27, Tableau Cloud).
    UnifiedAccessToken,
    /// Trusted-authentication tickets (`POST /trusted`, Tableau Server only).
    TrustedTicket,
    /// `GET sessions/current` (API 3.1, per PSTableauREST: believed, not seen in Tableau's own
    /// documentation).
    CurrentSession,
    /// `DELETE auth/serverAdminAccessTokens`: revoking the server administrators' personal
    /// access tokens (API 3.11, Tableau Server only).
    RevokeServerAdminTokens,
}

impl Feature {
    /// The oldest REST API version that has the feature.
    pub const fn min_version(self) -> ApiVersion {
        match self {
            Self::ServerInfo => ApiVersion::new(2, 4),
            Self::Json => ApiVersion::new(2, 5),
            Self::SwitchSite => ApiVersion::new(2, 6),
            Self::PersonalAccessToken => ApiVersion::new(3, 6),
            Self::PersonalAccessTokenImpersonation => ApiVersion::new(3, 11),
            Self::Jwt => ApiVersion::new(3, 17),
            Self::UnifiedAccessToken => ApiVersion::new(3, 27),
            // Not versioned: trusted tickets live outside the REST API.
            Self::TrustedTicket => ApiVersion::new(0, 0),
            // Believed (docs/protocol.md, "Version gates"): PSTableauREST gates it at 3.1, as the fake server does.
            Self::CurrentSession => ApiVersion::new(3, 1),
            // Documented at 3.11 (TSC gates its own, undocumented variant at 3.10).
            Self::RevokeServerAdminTokens => ApiVersion::new(3, 11),
        }
    }
}

impl fmt::Display for Feature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::ServerInfo => "server info",
            Self::Json => "the JSON wire format",
            Self::SwitchSite => "switching site",
            Self::PersonalAccessToken => "sign-in with a personal access token",
            Self::PersonalAccessTokenImpersonation => "impersonation with a personal access token",
            Self::Jwt => "sign-in with a connected-app JWT",
            Self::UnifiedAccessToken => "sign-in with a unified access token (isUat)",
            Self::TrustedTicket => "trusted tickets",
            Self::CurrentSession => "reading the current session (sessions/current)",
            Self::RevokeServerAdminTokens => {
                "revoking the server administrators' personal access tokens"
            }
        })
    }
}

/// Maps a pre-REST product version (from the legacy `/auth?format=xml` probe) to the REST API
/// version it spoke, as TSC does: 10.0 → 2.3, 9.3 → 2.2, 9.2 → 2.1, 9.1 and 9.0 → 2.0, else 2.3.
pub(crate) fn legacy_product_to_api(product_version: &str) -> ApiVersion {
    let mut parts = product_version.trim().split('.');
    let major = parts.next().unwrap_or_default();
    let minor = parts.next().unwrap_or_default();
    match (major, minor) {
        ("9", "0" | "1") => ApiVersion::new(2, 0),
        ("9", "2") => ApiVersion::new(2, 1),
        ("9", "3") => ApiVersion::new(2, 2),
        _ => ApiVersion::new(2, 3),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_orders_versions() {
        let v: ApiVersion = "3.25".parse().unwrap();
        assert_eq!(v, ApiVersion::new(3, 25));
        assert!(
            v > "3.6".parse().unwrap(),
            "3.25 > 3.6 numerically, not as text"
        );
        assert_eq!(
            "2.0.1".parse::<ApiVersion>().unwrap(),
            ApiVersion::new(2, 0)
        );
        assert_eq!(v.to_string(), "3.25");
        for bad in [
            "",
            "3",
            "3.",
            ".3",
            "a.b",
            "3.25.1.1",
            "-3.1",
            "3.+1",
            "99999999.1",
        ] {
            assert!(bad.parse::<ApiVersion>().is_err(), "{bad:?} must not parse");
        }
    }

    #[test]
    fn legacy_mapping_follows_tsc() {
        assert_eq!(legacy_product_to_api("9.3"), ApiVersion::new(2, 2));
        assert_eq!(legacy_product_to_api("9.0.1"), ApiVersion::new(2, 0));
        assert_eq!(legacy_product_to_api("10.0"), ApiVersion::new(2, 3));
        assert_eq!(legacy_product_to_api("garbage"), ApiVersion::new(2, 3));
    }
}
