//! The names of the environment variables that hold credentials, and
//! [`Credentials::from_lookup`], which builds credentials from them.
//!
//! The core reads no environment itself: the caller passes a lookup function, normally
//! `|name| std::env::var(name).ok()`, or a map in tests. The names are those the adapters'
//! examples use (`tableau-auth-ureq/examples/embed_drive.rs`, `pat_script.rs`) and, except for the
//! connected app's secret value, the `tableau-auth` command-line tool.
//!
//! | Kind | Variables (all required) |
//! | --- | --- |
//! | Personal access token | [`PAT_NAME`], [`PAT_SECRET`] |
//! | Connected app, direct trust (feature `jwt`) | [`CLIENT_ID`], [`SECRET_ID`], [`SECRET_VALUE`], [`USERNAME`] (the JWT `sub`) |
//! | Ready-made JWT | [`JWT`] |
//! | User name and password | [`USERNAME`], [`PASSWORD`] |
//!
//! **One kind at a time.** A kind counts as set when any of its own variables is set
//! ([`USERNAME`] is shared by two kinds, so it alone sets neither). When none is set the lookup
//! fails with [`CredentialsLookupError::NotSet`]; when variables of two kinds or more are set it
//! fails with [`CredentialsLookupError::Ambiguous`] instead of picking one, so that a forgotten
//! `TABLEAU_PASSWORD` never silently wins over (or loses to) the PAT meant to replace it. A
//! variable that is empty (or only whitespace) counts as unset. Values are used as they are,
//! except a JWT, whose surrounding whitespace is dropped. Errors name variables, never values.

use std::fmt;

use crate::intent::Credentials;
#[cfg(feature = "jwt")]
use crate::jwt::ConnectedApp;

/// The name of a personal access token (its secret is [`PAT_SECRET`]).
pub const PAT_NAME: &str = "TABLEAU_PAT_NAME";
/// The secret of the personal access token [`PAT_NAME`].
pub const PAT_SECRET: &str = "TABLEAU_PAT_SECRET";
/// The user name: of a password sign-in, or the user a connected app's JWTs sign in as (`sub`).
pub const USERNAME: &str = "TABLEAU_USERNAME";
/// The password of [`USERNAME`].
pub const PASSWORD: &str = "TABLEAU_PASSWORD";
/// A ready-made JWT (connected app, EAS); leading and trailing whitespace is dropped.
pub const JWT: &str = "TABLEAU_JWT";
/// A connected app's client ID (the JWT's `iss`).
pub const CLIENT_ID: &str = "TABLEAU_CLIENT_ID";
/// The ID of the connected app's secret (the JWT's `kid`).
pub const SECRET_ID: &str = "TABLEAU_SECRET_ID";
/// The value of the connected app's secret, which signs the JWTs.
pub const SECRET_VALUE: &str = "TABLEAU_SECRET_VALUE";

/// The scope a connected app from [`Credentials::from_lookup`] asks for; add more with
/// [`ConnectedApp::scope`] on the returned [`Credentials::ConnectedApp`].
pub const DEFAULT_SCOPE: &str = "tableau:content:read";

/// The kinds of credentials, in the order they are described in messages, with their own
/// variables (those that make the kind count as set) and all the variables they need.
const KINDS: [(Kind, &[&str], &[&str]); 4] = [
    (
        Kind::PersonalAccessToken,
        &[PAT_NAME, PAT_SECRET],
        &[PAT_NAME, PAT_SECRET],
    ),
    (
        Kind::ConnectedApp,
        &[CLIENT_ID, SECRET_ID, SECRET_VALUE],
        &[CLIENT_ID, SECRET_ID, SECRET_VALUE, USERNAME],
    ),
    (Kind::Jwt, &[JWT], &[JWT]),
    (Kind::Password, &[PASSWORD], &[USERNAME, PASSWORD]),
];

/// A kind of credentials that can come from the environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Kind {
    /// [`PAT_NAME`] and [`PAT_SECRET`].
    PersonalAccessToken,
    /// [`CLIENT_ID`], [`SECRET_ID`], [`SECRET_VALUE`] and [`USERNAME`].
    ConnectedApp,
    /// [`JWT`].
    Jwt,
    /// [`USERNAME`] and [`PASSWORD`].
    Password,
}

impl Kind {
    /// The variables this kind needs, all of them.
    pub fn variables(self) -> &'static [&'static str] {
        KINDS
            .iter()
            .find(|(kind, ..)| *kind == self)
            .map_or(&[], |(_, _, needs)| needs)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Self::PersonalAccessToken => "a personal access token",
            Self::ConnectedApp => "a connected app",
            Self::Jwt => "a ready-made JWT",
            Self::Password => "a user name and password",
        };
        write!(f, "{name} ({})", self.variables().join(", "))
    }
}

/// Why [`Credentials::from_lookup`] found no credentials. Names variables, never values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialsLookupError {
    /// No kind of credentials is set.
    #[error(
        "no Tableau credentials in the environment: set one of {}",
        describe_all()
    )]
    NotSet,
    /// Variables of more than one kind are set.
    #[error(
        "Tableau credentials of more than one kind are set in the environment: {}; unset all but one",
        .0.iter().map(Kind::to_string).collect::<Vec<_>>().join(" and ")
    )]
    Ambiguous(Vec<Kind>),
    /// The kind is set, but one of the variables it needs is not.
    #[error("{variable} is not set (or empty), and {kind} needs it")]
    Missing {
        /// The kind whose variables are set.
        kind: Kind,
        /// The first variable it needs that is missing.
        variable: &'static str,
    },
    /// Connected-app variables are set, but the core was built without the `jwt` feature, which
    /// mints the JWTs.
    #[error(
        "connected-app credentials are set in the environment, but tableau-auth-proto was built \
         without its `jwt` feature, which mints the JWTs"
    )]
    ConnectedAppUnavailable,
}

fn describe_all() -> String {
    KINDS
        .iter()
        .map(|(kind, ..)| kind.to_string())
        .collect::<Vec<_>>()
        .join(", or ")
}

impl Credentials {
    /// Credentials from the environment variables of the [`env`](crate::env) module, read
    /// through `lookup` (the core reads no environment itself):
    ///
    /// ```
    /// use tableau_auth_proto::Credentials;
    /// # let vars = std::collections::HashMap::from([
    /// #     ("TABLEAU_PAT_NAME", "etl"), ("TABLEAU_PAT_SECRET", "s3cret")]);
    /// # let lookup = |name: &str| vars.get(name).map(|v| v.to_string());
    /// // In a program: Credentials::from_lookup(|name| std::env::var(name).ok())
    /// let credentials = Credentials::from_lookup(lookup)?;
    /// assert_eq!(credentials.kind(), "personal access token");
    /// # Ok::<(), tableau_auth_proto::env::CredentialsLookupError>(())
    /// ```
    ///
    /// Exactly one kind must be set (see the module's table); otherwise the error says which
    /// variables to set, or which kinds clash. A connected app signs in as [`env::USERNAME`]
    /// with the scope [`env::DEFAULT_SCOPE`], the default lifetime and no user attributes.
    ///
    /// [`env::USERNAME`]: crate::env::USERNAME
    /// [`env::DEFAULT_SCOPE`]: crate::env::DEFAULT_SCOPE
    pub fn from_lookup(
        mut lookup: impl FnMut(&str) -> Option<String>,
    ) -> Result<Self, CredentialsLookupError> {
        let mut get = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        let set: Vec<Kind> = KINDS
            .iter()
            .filter(|(_, own, _)| own.iter().any(|name| get(name).is_some()))
            .map(|(kind, ..)| *kind)
            .collect();
        let kind = match set.as_slice() {
            [] => return Err(CredentialsLookupError::NotSet),
            [kind] => *kind,
            _ => return Err(CredentialsLookupError::Ambiguous(set)),
        };
        let mut values = kind.variables().iter().map(|&variable| {
            get(variable).ok_or(CredentialsLookupError::Missing { kind, variable })
        });
        let mut next = || values.next().unwrap_or(Err(CredentialsLookupError::NotSet));
        Ok(match kind {
            Kind::PersonalAccessToken => {
                let name = next()?;
                Self::personal_access_token(name, next()?)
            }
            Kind::Jwt => Self::jwt(next()?.trim()),
            Kind::Password => {
                let name = next()?;
                Self::password(name, next()?)
            }
            #[cfg(feature = "jwt")]
            Kind::ConnectedApp => {
                let (client_id, secret_id, secret_value) = (next()?, next()?, next()?);
                Self::ConnectedApp(
                    ConnectedApp::new(client_id, secret_id, secret_value, next()?)
                        .scope(DEFAULT_SCOPE),
                )
            }
            #[cfg(not(feature = "jwt"))]
            Kind::ConnectedApp => return Err(CredentialsLookupError::ConnectedAppUnavailable),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn lookup(vars: &[(&str, &str)]) -> Result<Credentials, CredentialsLookupError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Credentials::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn each_kind_comes_from_its_variables() {
        let pat = lookup(&[(PAT_NAME, "etl"), (PAT_SECRET, "SENTINEL-pat")]).unwrap();
        assert!(matches!(&pat, Credentials::PersonalAccessToken { name, .. } if name == "etl"));
        let password = lookup(&[(USERNAME, "jsmith"), (PASSWORD, "SENTINEL-pw")]).unwrap();
        assert!(matches!(&password, Credentials::Password { name, .. } if name == "jsmith"));
        let jwt = lookup(&[(JWT, " a.b.c\n")]).unwrap();
        let Credentials::Jwt { jwt, is_uat } = jwt else {
            panic!("a JWT")
        };
        assert_eq!(secrecy::ExposeSecret::expose_secret(&jwt), "a.b.c");
        assert!(!is_uat);
    }

    #[cfg(feature = "jwt")]
    #[test]
    fn a_connected_app_signs_in_as_the_user_name_with_the_default_scope() {
        let app = lookup(&[
            (CLIENT_ID, "client"),
            (SECRET_ID, "kid"),
            (SECRET_VALUE, "SENTINEL-value"),
            (USERNAME, "jsmith@example.com"),
        ])
        .unwrap();
        let Credentials::ConnectedApp(app) = app else {
            panic!("a connected app")
        };
        assert_eq!(app.username(), "jsmith@example.com");
        let jwt = app
            .mint(crate::MintInputs {
                issued_at: std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_767_225_600),
                random: [1; 16],
            })
            .unwrap();
        let claims = secrecy::ExposeSecret::expose_secret(&jwt)
            .split('.')
            .nth(1)
            .unwrap()
            .to_owned();
        use base64::Engine;
        let claims = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(claims)
            .unwrap();
        let claims: serde_json::Value = serde_json::from_slice(&claims).unwrap();
        assert_eq!(claims["scp"], serde_json::json!([DEFAULT_SCOPE]));
        assert_eq!(claims["iss"], "client");
    }

    #[cfg(not(feature = "jwt"))]
    #[test]
    fn a_connected_app_needs_the_jwt_feature() {
        let err = lookup(&[(CLIENT_ID, "c"), (SECRET_ID, "k"), (SECRET_VALUE, "v")]);
        assert_eq!(
            err.unwrap_err(),
            CredentialsLookupError::ConnectedAppUnavailable
        );
    }

    #[test]
    fn a_missing_variable_is_named_and_no_value_is_shown() {
        let err = lookup(&[(PAT_NAME, "etl")]).unwrap_err();
        assert_eq!(
            err,
            CredentialsLookupError::Missing {
                kind: Kind::PersonalAccessToken,
                variable: PAT_SECRET
            }
        );
        let message = err.to_string();
        assert!(
            message.starts_with("TABLEAU_PAT_SECRET is not set"),
            "{message}"
        );
        assert!(!message.contains("etl"), "{message}");

        let err = lookup(&[(PASSWORD, "SENTINEL-pw")]).unwrap_err();
        assert_eq!(
            err,
            CredentialsLookupError::Missing {
                kind: Kind::Password,
                variable: USERNAME
            }
        );
        assert!(!err.to_string().contains("SENTINEL"), "{err}");
        #[cfg(feature = "jwt")]
        assert_eq!(
            lookup(&[(CLIENT_ID, "c"), (SECRET_ID, "k"), (SECRET_VALUE, "v")]).unwrap_err(),
            CredentialsLookupError::Missing {
                kind: Kind::ConnectedApp,
                variable: USERNAME
            }
        );
    }

    #[test]
    fn none_set_lists_every_kind() {
        for vars in [
            &[][..],
            &[(USERNAME, "jsmith")],
            &[(PAT_NAME, ""), (JWT, "  ")],
        ] {
            let err = lookup(vars).unwrap_err();
            assert_eq!(err, CredentialsLookupError::NotSet, "{vars:?}");
            let message = err.to_string();
            for name in [
                PAT_NAME,
                PAT_SECRET,
                CLIENT_ID,
                SECRET_ID,
                SECRET_VALUE,
                JWT,
                USERNAME,
                PASSWORD,
            ] {
                assert!(message.contains(name), "{name}: {message}");
            }
        }
    }

    #[test]
    fn two_kinds_are_ambiguous_whatever_they_are() {
        let err = lookup(&[
            (PAT_NAME, "etl"),
            (PAT_SECRET, "SENTINEL-pat"),
            (USERNAME, "jsmith"),
            (PASSWORD, "SENTINEL-pw"),
        ])
        .unwrap_err();
        assert_eq!(
            err,
            CredentialsLookupError::Ambiguous(vec![Kind::PersonalAccessToken, Kind::Password])
        );
        let message = err.to_string();
        assert!(message.contains("TABLEAU_PAT_NAME") && message.contains("TABLEAU_PASSWORD"));
        assert!(!message.contains("SENTINEL"), "{message}");
        // A user name alone sets no kind: here it rides along with a JWT, unused.
        assert!(matches!(
            lookup(&[(JWT, "a.b.c"), (USERNAME, "jsmith")]),
            Ok(Credentials::Jwt { .. })
        ));
        assert_eq!(
            lookup(&[(JWT, "a.b.c"), (SECRET_VALUE, "v")]).unwrap_err(),
            CredentialsLookupError::Ambiguous(vec![Kind::ConnectedApp, Kind::Jwt])
        );
    }
}
