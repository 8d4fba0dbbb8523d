//! Sentinel secrets and a leak checker, for the "secrets never leak" suites.
//!
//! [`config`] is the fake's sample configuration with a recognisable sentinel in place of every
//! password, personal-access-token secret and connected-app secret (so every JWT minted for the
//! enabled app is signed with a sentinel). Each sentinel is long, unique, and carries characters
//! that XML, JSON and URLs escape (`<&"'>\/+=:`) and non-ASCII letters, so that a secret leaking
//! through any encoding is still recognisable.
//!
//! [`cloud_config`] is the same in Tableau Cloud mode, whose UAT configuration's private key is
//! the test key [`UAT_KEY_FILE`]: the lines of that key (and of [`OTHER_UAT_KEY_FILE`]) are
//! secrets too.
//!
//! [`Leaks`] holds the static sentinels and the UAT keys' lines plus the values a run only learns
//! as it goes (session tokens, JWTs and UATs, tickets: [`Leaks::register`],
//! [`Leaks::register_from_log`]) and checks texts for
//! any of them: raw, XML-escaped (several serializers' styles), JSON-escaped, Rust-`Debug`-escaped,
//! percent-encoded or form-encoded, and also any fragment of 8 characters or more of any of these
//! forms. A leak is reported by the *label* of the secret and where it was found, never by its
//! value; the excerpt shown masks every matching fragment.

use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::sync::Mutex;

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use tableau_auth_proto::{ConnectedApp, Credentials, SignIn, UserId};

use crate::fake::{FakeConfig, FakeServer, LoggedRequest, sample, sign_hs256};
use crate::support::{SCOPE, jti};

/// The length of the shortest fragment of a secret that counts as a leak.
pub const FRAGMENT: usize = 8;

/// The normal user's (`jsmith`) password.
pub const PASSWORD: &str = "pwJs7Hq2Vx9Lm<Ra&Tb\"Uc'Wdä€Xe>\\Yf/+=:ñZg4Kp8Nw3Bt";
/// The administrator's password.
pub const ADMIN_PASSWORD: &str = "pwAd5Gm1Rk6Zt<Qb&Sc\"Vd'Xeö☃Yf>\\Zg/+=:çAh7Lu2Ev9Cy";
/// The normal user's PAT secret (`nightly-etl`).
pub const PAT_SECRET: &str = "ptJs3Fw8Kd2Ny<Mc&Pd\"Re'Sfü✓Tg>\\Uh/+=:éVi5Qo1Hx6Gz";
/// The administrator's PAT secret (`admin-pat`).
pub const ADMIN_PAT_SECRET: &str = "ptAd9Lc4Wz7Eq<Nd&Qe\"Sf'Tgß♞Uh>\\Vi/+=:åWj2Rp6Jm3Dk";
/// The revoked PAT's secret.
pub const REVOKED_PAT_SECRET: &str = "ptRv2Hd8Mx5Ka<Ld&Ne\"Pf'Qgø♣Rh>\\Si/+=:íTj6Wn1Zc4Fy";
/// The expired PAT's secret.
pub const EXPIRED_PAT_SECRET: &str = "ptEx8Bn3Qs6Uw<Ke&Mf\"Ng'Phœ♠Qi>\\Rj/+=:óSk3Yt7Lv2Gx";
/// The enabled connected app's secret value (every JWT minted for it is signed with it).
pub const APP_SECRET: &str = "apSe6Tx1Hb8Ov<Oe&Rf\"Tg'Uhø♦Vi>\\Wj/+=:îXk4Sn9Fq2Iw";
/// The disabled connected app's secret value.
pub const DISABLED_APP_SECRET: &str = "apDs4Jr9Fc2Ym<Pg&Sh\"Ti'Ujþ♥Wk>\\Xl/+=:ôYm8Rb5Nd1Hu";
/// A wrong password (for jsmith).
pub const WRONG_PASSWORD: &str = "wpXx2Ka7Mf5Cr<Ph&Si\"Tj'Vkæ♥Wl>\\Xm/+=:ûYn8Tm3Gs6Ju";
/// A wrong secret for jsmith's PAT.
pub const WRONG_PAT_SECRET: &str = "wtQq6Lb1Ng4Ds<Qi&Tj\"Uk'Wlð♪Xm>\\Yn/+=:úZo2Ur7Hp5Kv";
/// A wrong connected-app secret value: JWTs signed with it are refused.
pub const WRONG_APP_SECRET: &str = "waZz1Mc6Oh3Et<Rj&Uk\"Vl'Xmþ♫Yn>\\Zo/+=:ìAp9Vs4Iq8Lw";
/// Something given as a JWT that is not one.
pub const FORGED_JWT: &str = "jwFg3Np7Yh1Qa<Sk&Vl\"Wm'Ynä☂Zo>\\Ap/+=:ëBq5Wt2Jr9Mx";
/// A session token nobody issued (plain ASCII, so that it can go in a header).
pub const STALE_TOKEN: &str = "tkSt4Le9Wq2Xr7Bn5Mc8Vz1Pd6Hy3JaK";

/// Every static sentinel with its label.
pub const STATIC: [(&str, &str); 13] = [
    ("jsmith's password", PASSWORD),
    ("admin's password", ADMIN_PASSWORD),
    ("jsmith's PAT secret", PAT_SECRET),
    ("admin's PAT secret", ADMIN_PAT_SECRET),
    ("revoked PAT secret", REVOKED_PAT_SECRET),
    ("expired PAT secret", EXPIRED_PAT_SECRET),
    ("connected-app secret", APP_SECRET),
    ("disabled connected-app secret", DISABLED_APP_SECRET),
    ("wrong password", WRONG_PASSWORD),
    ("wrong PAT secret", WRONG_PAT_SECRET),
    ("wrong connected-app secret", WRONG_APP_SECRET),
    ("forged JWT", FORGED_JWT),
    ("stale token", STALE_TOKEN),
];

/// The private key of [`cloud_config`]'s UAT configuration.
pub use crate::support::UAT_KEY_FILE;
/// A private key no configuration knows (its UATs are refused: bad signature).
pub const OTHER_UAT_KEY_FILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tableau-auth-fake/tests/fixtures/other-uat-key.pem"
);

/// The base64 lines of a PEM key file (its secret part), labelled by file and line.
fn key_lines(label: &str, path: &str) -> Vec<(String, String)> {
    let pem = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{label}: {e}"));
    let lines: Vec<(String, String)> = pem
        .lines()
        .filter(|l| !l.starts_with("-----") && !l.trim().is_empty())
        .enumerate()
        .map(|(n, l)| (format!("{label}, line {}", n + 1), l.trim().to_owned()))
        .collect();
    assert!(lines.len() > 20, "{label}: not a 2048-bit PEM key");
    lines
}

/// [`config`] as a Tableau Cloud (REST API 3.27) with the sample UAT configuration, whose
/// private key is [`UAT_KEY_FILE`].
pub fn cloud_config() -> FakeConfig {
    let cloud = FakeConfig::sample_cloud();
    let mut config = config();
    config.cloud = cloud.cloud;
    config.rest_api_version = cloud.rest_api_version;
    config
}

/// The sample configuration with a sentinel in every secret, and PAT impersonation enabled.
pub fn config() -> FakeConfig {
    let mut config = FakeConfig::sample();
    for user in &mut config.users {
        match user.name.as_str() {
            sample::USER_NAME => user.password = Some(PASSWORD.into()),
            sample::ADMIN_NAME => user.password = Some(ADMIN_PASSWORD.into()),
            _ => {}
        }
    }
    for pat in &mut config.pats {
        pat.secret = match pat.name.as_str() {
            sample::USER_PAT_NAME => PAT_SECRET,
            sample::ADMIN_PAT_NAME => ADMIN_PAT_SECRET,
            sample::REVOKED_PAT_NAME => REVOKED_PAT_SECRET,
            sample::EXPIRED_PAT_NAME => EXPIRED_PAT_SECRET,
            _ => continue,
        }
        .into();
    }
    for app in &mut config.connected_apps {
        app.secret_value = if app.enabled {
            APP_SECRET
        } else {
            DISABLED_APP_SECRET
        }
        .into();
    }
    config.pat_impersonation_enabled = true;
    config
}

/// Every way of signing in (or failing to) that the suites use, with the sentinels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cred {
    /// jsmith's password.
    Password,
    /// jsmith's PAT.
    Pat,
    /// A JWT for jsmith signed here with the app's sentinel secret.
    HandJwt,
    /// A JWT for jsmith minted by the core's [`ConnectedApp::mint`] outside any session.
    MintedJwt,
    /// The connected app: the core mints a fresh JWT for every sign-in.
    App,
    /// The admin's password, impersonating jsmith.
    ImpersonatePassword,
    /// The admin's PAT, impersonating jsmith.
    ImpersonatePat,
    /// The connected app signing in as the admin, impersonating jsmith.
    ImpersonateApp,
    /// jsmith with a wrong password.
    WrongPassword,
    /// jsmith's PAT with a wrong secret.
    WrongPat,
    /// The revoked PAT.
    RevokedPat,
    /// The expired PAT.
    ExpiredPat,
    /// A JWT signed with a wrong secret.
    WrongKeyJwt,
    /// A connected app with a wrong secret value.
    WrongApp,
    /// The disabled connected app.
    DisabledApp,
    /// Something that is not a JWT.
    ForgedJwt,
    /// jsmith's password, impersonating the admin (jsmith may not).
    NonAdminImpersonation,
}

impl Cred {
    /// The ways that sign in.
    pub const GOOD: [Self; 8] = [
        Self::Password,
        Self::Pat,
        Self::HandJwt,
        Self::MintedJwt,
        Self::App,
        Self::ImpersonatePassword,
        Self::ImpersonatePat,
        Self::ImpersonateApp,
    ];

    /// The static secret these credentials carry (for echoes), if any.
    pub fn secret(self) -> Option<&'static str> {
        Some(match self {
            Self::Password | Self::NonAdminImpersonation => PASSWORD,
            Self::Pat => PAT_SECRET,
            Self::ImpersonatePassword => ADMIN_PASSWORD,
            Self::ImpersonatePat => ADMIN_PAT_SECRET,
            Self::App | Self::ImpersonateApp => APP_SECRET,
            Self::WrongPassword => WRONG_PASSWORD,
            Self::WrongPat => WRONG_PAT_SECRET,
            Self::RevokedPat => REVOKED_PAT_SECRET,
            Self::ExpiredPat => EXPIRED_PAT_SECRET,
            Self::WrongApp => WRONG_APP_SECRET,
            Self::DisabledApp => DISABLED_APP_SECRET,
            Self::ForgedJwt => FORGED_JWT,
            Self::HandJwt | Self::MintedJwt | Self::WrongKeyJwt => return None,
        })
    }

    /// The sign-in (to the Default site). JWTs made here are registered with `leaks`.
    pub fn sign_in(self, fake: &FakeServer, leaks: &Leaks) -> SignIn {
        self.sign_in_and_secret(fake, leaks).0
    }

    /// The sign-in, and the secret it carries (for a server to echo): the static sentinel, or
    /// the JWT made here (registered with `leaks`).
    pub fn sign_in_and_secret(self, fake: &FakeServer, leaks: &Leaks) -> (SignIn, String) {
        let made = std::cell::RefCell::new(None::<String>);
        let jsmith = || UserId::parse(sample::USER_ID).expect("a LUID");
        let admin = || UserId::parse(sample::ADMIN_ID).expect("a LUID");
        let jwt = |label: &str, jwt: String| {
            leaks.register(label, &jwt);
            *made.borrow_mut() = Some(jwt.clone());
            Credentials::jwt(jwt)
        };
        let (credentials, impersonate) = match self {
            Self::Password => (password(sample::USER_NAME, PASSWORD), None),
            Self::Pat => (pat(sample::USER_PAT_NAME, PAT_SECRET), None),
            Self::HandJwt => (
                jwt(
                    "hand-signed JWT",
                    hand_jwt(fake, sample::USER_NAME, APP_SECRET),
                ),
                None,
            ),
            Self::MintedJwt => (
                jwt("core-minted JWT", minted_jwt(sample::USER_NAME, APP_SECRET)),
                None,
            ),
            Self::App => (
                Credentials::ConnectedApp(app(sample::USER_NAME, APP_SECRET)),
                None,
            ),
            Self::ImpersonatePassword => {
                (password(sample::ADMIN_NAME, ADMIN_PASSWORD), Some(jsmith()))
            }
            Self::ImpersonatePat => (
                pat(sample::ADMIN_PAT_NAME, ADMIN_PAT_SECRET),
                Some(jsmith()),
            ),
            Self::ImpersonateApp => (
                Credentials::ConnectedApp(app(sample::ADMIN_NAME, APP_SECRET)),
                Some(jsmith()),
            ),
            Self::WrongPassword => (password(sample::USER_NAME, WRONG_PASSWORD), None),
            Self::WrongPat => (pat(sample::USER_PAT_NAME, WRONG_PAT_SECRET), None),
            Self::RevokedPat => (pat(sample::REVOKED_PAT_NAME, REVOKED_PAT_SECRET), None),
            Self::ExpiredPat => (pat(sample::EXPIRED_PAT_NAME, EXPIRED_PAT_SECRET), None),
            Self::WrongKeyJwt => (
                jwt(
                    "wrongly signed JWT",
                    hand_jwt(fake, sample::USER_NAME, WRONG_APP_SECRET),
                ),
                None,
            ),
            Self::WrongApp => (
                Credentials::ConnectedApp(app(sample::USER_NAME, WRONG_APP_SECRET)),
                None,
            ),
            Self::DisabledApp => (
                Credentials::ConnectedApp(
                    ConnectedApp::new(
                        sample::DISABLED_APP_CLIENT_ID,
                        sample::DISABLED_APP_SECRET_ID,
                        DISABLED_APP_SECRET,
                        sample::USER_NAME,
                    )
                    .scope(SCOPE),
                ),
                None,
            ),
            Self::ForgedJwt => (Credentials::jwt(FORGED_JWT), None),
            Self::NonAdminImpersonation => (password(sample::USER_NAME, PASSWORD), Some(admin())),
        };
        let sign_in = SignIn::new(credentials, "");
        let sign_in = match impersonate {
            Some(user) => sign_in.impersonate(user),
            None => sign_in,
        };
        let secret = made
            .into_inner()
            .or_else(|| self.secret().map(str::to_owned))
            .unwrap_or_default();
        (sign_in, secret)
    }
}

fn password(user: &str, password: &str) -> Credentials {
    Credentials::password(user, password)
}

fn pat(name: &str, secret: &str) -> Credentials {
    Credentials::personal_access_token(name, secret)
}

/// The enabled connected app (with `secret` as its secret value) signing in as `user`.
pub fn app(user: &str, secret: &str) -> ConnectedApp {
    ConnectedApp::new(sample::APP_CLIENT_ID, sample::APP_SECRET_ID, secret, user).scope(SCOPE)
}

/// A direct-trust JWT for `user` signed here with `secret`, valid on the fake's clock.
pub fn hand_jwt(fake: &FakeServer, user: &str, secret: &str) -> String {
    let now = fake.control().now_unix();
    let header = serde_json::json!({
        "alg": "HS256", "typ": "JWT",
        "kid": sample::APP_SECRET_ID, "iss": sample::APP_CLIENT_ID,
    });
    let claims = serde_json::json!({
        "iss": sample::APP_CLIENT_ID, "sub": user, "aud": "tableau",
        "exp": now + 300, "iat": now, "jti": jti(), "scp": [SCOPE],
    });
    sign_hs256(&header, &claims, secret)
}

/// A JWT minted by the core for `user`, signed with `secret`.
pub fn minted_jwt(user: &str, secret: &str) -> String {
    use tableau_auth_proto::MintInputs;
    use tableau_auth_proto::secret::ExposeSecret as _;
    let mut random = [0u8; 16];
    let id = jti();
    for (slot, byte) in random.iter_mut().zip(id.bytes().rev()) {
        *slot = byte;
    }
    app(user, secret)
        .mint(MintInputs {
            issued_at: std::time::SystemTime::now(),
            random,
        })
        .expect("the core mints a JWT")
        .expose_secret()
        .to_owned()
}

// ---------------------------------------------------------------------------------------------
// The checker

/// One way a secret may be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// As is.
    Raw,
    /// XML-escaped as the core writes it (`&amp; &lt; &gt; &quot;`).
    Xml,
    /// XML-escaped by a stricter serializer (`&apos;` too, non-ASCII as `&#NNN;`).
    XmlStrict,
    /// XML-escaped with hexadecimal character references (`&#x27;`, `&#xE4;`).
    XmlHex,
    /// Inside a JSON string.
    Json,
    /// JSON with every non-ASCII character as `\uXXXX`.
    JsonAscii,
    /// Inside a Rust `Debug` string.
    Debug,
    /// Percent-encoded (every non-alphanumeric byte).
    Percent,
    /// `application/x-www-form-urlencoded`.
    Form,
}

impl Form {
    const ALL: [Self; 9] = [
        Self::Raw,
        Self::Xml,
        Self::XmlStrict,
        Self::XmlHex,
        Self::Json,
        Self::JsonAscii,
        Self::Debug,
        Self::Percent,
        Self::Form,
    ];

    /// `secret` written in this form.
    pub fn apply(self, secret: &str) -> String {
        match self {
            Self::Raw => secret.to_owned(),
            Self::Xml => xml(secret, |c| match c {
                '&' => Some("&amp;".into()),
                '<' => Some("&lt;".into()),
                '>' => Some("&gt;".into()),
                '"' => Some("&quot;".into()),
                _ => None,
            }),
            Self::XmlStrict => xml(secret, |c| match c {
                '&' => Some("&amp;".into()),
                '<' => Some("&lt;".into()),
                '>' => Some("&gt;".into()),
                '"' => Some("&quot;".into()),
                '\'' => Some("&apos;".into()),
                c if !c.is_ascii() => Some(format!("&#{};", u32::from(c))),
                _ => None,
            }),
            Self::XmlHex => xml(secret, |c| match c {
                '&' | '<' | '>' | '"' | '\'' => Some(format!("&#x{:X};", u32::from(c))),
                c if !c.is_ascii() => Some(format!("&#x{:X};", u32::from(c))),
                _ => None,
            }),
            Self::Json => {
                let quoted = serde_json::to_string(secret).unwrap_or_default();
                quoted[1..quoted.len() - 1].to_owned()
            }
            Self::JsonAscii => {
                let mut out = String::new();
                for c in Self::Json.apply(secret).chars() {
                    if c.is_ascii() {
                        out.push(c);
                    } else {
                        let mut units = [0u16; 2];
                        for unit in c.encode_utf16(&mut units) {
                            let _ = write!(out, "\\u{unit:04x}");
                        }
                    }
                }
                out
            }
            Self::Debug => secret.escape_debug().to_string(),
            Self::Percent => utf8_percent_encode(secret, NON_ALPHANUMERIC).to_string(),
            Self::Form => form_urlencoded::byte_serialize(secret.as_bytes()).collect(),
        }
    }
}

fn xml(text: &str, escape: impl Fn(char) -> Option<String>) -> String {
    let mut out = String::new();
    for c in text.chars() {
        match escape(c) {
            Some(e) => out.push_str(&e),
            None => out.push(c),
        }
    }
    out
}

/// Where a secret was found in a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leak {
    /// The secret's label.
    pub label: String,
    /// The form the found text is a fragment of (or a whole of, for a short secret).
    pub form: Form,
    /// The character offset in the text.
    pub at: usize,
    /// The text around it, every fragment of any secret masked with `█`.
    pub excerpt: String,
}

impl fmt::Display for Leak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the secret `{}` ({:?} form, or a {FRAGMENT}+ character fragment of it) at character \
             {}; masked excerpt: {:?}",
            self.label, self.form, self.at, self.excerpt
        )
    }
}

#[derive(Default)]
struct Inner {
    labels: Vec<String>,
    values: Vec<String>,
    /// Every `FRAGMENT`-character window of every form of every secret → (secret, form).
    windows: HashMap<String, (usize, Form)>,
    /// Forms shorter than `FRAGMENT` characters, looked for whole.
    short: Vec<(String, usize, Form)>,
    checked: usize,
}

/// The secrets of a run, and the checks of every text against them. Shareable across threads.
pub struct Leaks {
    inner: Mutex<Inner>,
}

impl fmt::Debug for Leaks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = self.lock();
        f.debug_struct("Leaks")
            .field("secrets", &inner.labels)
            .field("checked", &inner.checked)
            .finish()
    }
}

impl Default for Leaks {
    fn default() -> Self {
        Self::new()
    }
}

impl Leaks {
    /// A checker that knows the static sentinels and the lines of the UAT keys.
    pub fn new() -> Self {
        let leaks = Self::empty();
        for (label, value) in STATIC {
            leaks.register(label, value);
        }
        for (label, path) in [
            ("the UAT private key", UAT_KEY_FILE),
            ("the other UAT private key", OTHER_UAT_KEY_FILE),
        ] {
            for (label, line) in key_lines(label, path) {
                leaks.register(label, &line);
            }
        }
        leaks
    }

    /// A checker that knows no secret yet.
    pub fn empty() -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a secret learnt during the run (a token, a JWT, a ticket). Empty values and values
    /// already known are ignored.
    pub fn register(&self, label: impl Into<String>, value: &str) {
        let mut inner = self.lock();
        if value.is_empty() || inner.values.iter().any(|v| v == value) {
            return;
        }
        let index = inner.labels.len();
        inner.labels.push(label.into());
        inner.values.push(value.to_owned());
        for form in Form::ALL {
            let written = form.apply(value);
            let chars: Vec<(usize, char)> = written.char_indices().collect();
            if chars.len() < FRAGMENT {
                inner.short.push((written, index, form));
                continue;
            }
            for start in 0..=chars.len() - FRAGMENT {
                let from = chars[start].0;
                let to = chars.get(start + FRAGMENT).map_or(written.len(), |c| c.0);
                inner
                    .windows
                    .entry(written[from..to].to_owned())
                    .or_insert((index, form));
            }
        }
    }

    /// Registers what the fake saw: every `X-Tableau-Auth` token and every JWT (or UAT) of a
    /// sign-in body.
    pub fn register_from_log(&self, log: &[LoggedRequest]) {
        for entry in log {
            if let Some(token) = entry.token() {
                self.register("a session token the fake received", token.trim());
            }
            if entry.is_signin() {
                let body = entry.body_str();
                for start in ["jwt=\"", "\"jwt\":\""] {
                    if let Some(rest) = body.split(start).nth(1)
                        && let Some(jwt) = rest.split('"').next()
                    {
                        self.register("a JWT the fake received", jwt);
                    }
                }
            }
        }
    }

    /// How many secrets are known.
    pub fn len(&self) -> usize {
        self.lock().labels.len()
    }

    /// Whether no secret is known.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many texts were checked.
    pub fn checked(&self) -> usize {
        self.lock().checked
    }

    /// The first secret in `text`, if any.
    pub fn find(&self, text: &str) -> Option<Leak> {
        let mut inner = self.lock();
        inner.checked += 1;
        let chars: Vec<(usize, char)> = text.char_indices().collect();
        let mut first: Option<(usize, usize, Form)> = None;
        if chars.len() >= FRAGMENT {
            for start in 0..=chars.len() - FRAGMENT {
                let from = chars[start].0;
                let to = chars.get(start + FRAGMENT).map_or(text.len(), |c| c.0);
                if let Some(&(index, form)) = inner.windows.get(&text[from..to]) {
                    first = Some((start, index, form));
                    break;
                }
            }
        }
        for (written, index, form) in &inner.short {
            if let Some(byte) = text.find(written.as_str()) {
                let at = text[..byte].chars().count();
                if first.is_none_or(|(f, _, _)| at < f) {
                    first = Some((at, *index, *form));
                }
            }
        }
        let (at, index, form) = first?;
        Some(Leak {
            label: inner.labels[index].clone(),
            form,
            at,
            excerpt: masked_excerpt(&inner, text, at),
        })
    }

    /// Panics (naming `what` and the secret's label, never its value) if `text` holds a secret.
    pub fn assert_clean(&self, what: &str, text: &str) {
        if let Some(leak) = self.find(text) {
            panic!("{what} leaks {leak}");
        }
    }

    /// Checks `Debug` and `{:#?}` of `value`.
    pub fn assert_debug_clean<T: fmt::Debug + ?Sized>(&self, what: &str, value: &T) {
        self.assert_clean(&format!("{what} (Debug)"), &format!("{value:?}"));
        self.assert_clean(&format!("{what} ({{:#?}})"), &format!("{value:#?}"));
    }

    /// Checks `Display`, `Debug` and `{:#?}` of `value`.
    pub fn assert_shown_clean<T: fmt::Debug + fmt::Display + ?Sized>(&self, what: &str, value: &T) {
        self.assert_clean(&format!("{what} (Display)"), &value.to_string());
        self.assert_debug_clean(what, value);
    }

    /// Checks `Display`, `Debug` and `{:#?}` of `error` and of every error in its `source()`
    /// chain (an `io::Error` is looked into too). Returns every text checked, joined.
    pub fn assert_error_clean(
        &self,
        what: &str,
        error: &(dyn std::error::Error + 'static),
    ) -> String {
        let mut all = String::new();
        let mut next = Some(error);
        let mut depth = 0;
        while let Some(e) = next {
            let texts = [e.to_string(), format!("{e:?}"), format!("{e:#?}")];
            for (text, how) in texts.iter().zip(["Display", "Debug", "{:#?}"]) {
                self.assert_clean(&format!("{what} (source #{depth}, {how})"), text);
                all.push_str(text);
                all.push('\n');
            }
            next = match e.downcast_ref::<std::io::Error>() {
                Some(io) => io
                    .get_ref()
                    .map(|inner| inner as &(dyn std::error::Error + 'static)),
                None => e.source(),
            };
            depth += 1;
            assert!(depth < 32, "{what}: a source chain longer than 32");
        }
        all
    }
}

/// Up to 80 characters either side of `at`, with every character covered by a fragment of a
/// secret replaced by `█`.
fn masked_excerpt(inner: &Inner, text: &str, at: usize) -> String {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut masked = vec![false; chars.len()];
    if chars.len() >= FRAGMENT {
        for start in 0..=chars.len() - FRAGMENT {
            let from = chars[start].0;
            let to = chars.get(start + FRAGMENT).map_or(text.len(), |c| c.0);
            if inner.windows.contains_key(&text[from..to]) {
                masked[start..start + FRAGMENT].fill(true);
            }
        }
    }
    for (written, _, _) in &inner.short {
        for (byte, _) in text.match_indices(written.as_str()) {
            let start = text[..byte].chars().count();
            let len = written.chars().count();
            masked[start..start + len].fill(true);
        }
    }
    let from = at.saturating_sub(80);
    let to = (at + 80).min(chars.len());
    (from..to)
        .map(|i| if masked[i] { '█' } else { chars[i].1 })
        .collect()
}
