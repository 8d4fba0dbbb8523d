//! Secret values: redacted in `Debug`, zeroized on drop, exposed only on request.
//!
//! Every credential the core touches (passwords, personal-access-token secrets, JWTs, connected-app
//! secret values, session tokens, trusted tickets) lives in a [`SecretString`] or in one of the
//! newtypes below. None of them prints its value; the only way to read one is
//! [`ExposeSecret::expose_secret`], which makes every read visible in review.

use std::borrow::Cow;
use std::fmt;
use std::fmt::Write as _;

pub use secrecy::{ExposeSecret, SecretString};
use std::sync::OnceLock;

use zeroize::{Zeroize, Zeroizing};

/// The text put in place of a secret wherever one would otherwise be shown.
pub(crate) const REDACTED: &str = "[redacted]";

macro_rules! secret_newtype {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone)]
        pub struct $name(SecretString);

        impl $name {
            /// Wraps a secret value.
            pub fn new(value: impl Into<String>) -> Self {
                Self(SecretString::from(value.into()))
            }
        }

        impl ExposeSecret<str> for $name {
            /// Returns the secret value.
            ///
            /// # Security warning
            /// Whatever receives this string must not log, print or store it.
            fn expose_secret(&self) -> &str {
                self.0.expose_secret()
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), REDACTED)
            }
        }

        impl From<SecretString> for $name {
            fn from(value: SecretString) -> Self {
                Self(value)
            }
        }
    };
}

secret_newtype!(
    /// The session token (`X-Tableau-Auth`) a sign-in or a site switch returned.
    AuthToken
);

secret_newtype!(
    /// A one-time trusted-authentication ticket (Tableau Server only), see
    /// [`crate::ticket::TrustedTicket`] for the redemption URL.
    TicketValue
);

/// Turns text borrowed from (or decoded out of) a response body into a secret, wiping any
/// temporary copy.
pub(crate) fn secret_from_cow(value: Cow<'_, str>) -> SecretString {
    match value {
        Cow::Borrowed(text) => SecretString::from(text.to_owned()),
        Cow::Owned(mut text) => {
            let secret = SecretString::from(text.as_str().to_owned());
            text.zeroize();
            secret
        }
    }
}

/// Secrets shorter than this are not cut out of server text; the text is withheld instead.
const MIN_SCRUBBED_LEN: usize = 6;

/// What server text becomes when it contains a secret too short to cut out.
pub(crate) const WITHHELD: &str = "[text withheld: it contains a secret]";

/// A secret as it may appear in server text: escaped as the core sent it (XML attribute, JSON
/// string), then raw. Longer forms first, so that a form containing the raw secret goes whole.
fn wire_forms(secret: &str) -> Vec<Zeroizing<String>> {
    let mut forms = vec![
        Zeroizing::new(xml_escaped(secret)),
        // A server re-serializing what it got may escape more than the core did.
        Zeroizing::new(xml_escaped_strict(secret, false)),
        Zeroizing::new(xml_escaped_strict(secret, true)),
    ];
    if let Ok(json) = serde_json::to_string(secret) {
        let json = Zeroizing::new(json);
        let inner = json
            .get(1..json.len().saturating_sub(1))
            .unwrap_or_default();
        // Sized for the worst case (`\uXXXX` per 2-byte character), so the buffer never moves
        // and leaves no copy behind; written in place, without temporary strings.
        let mut ascii = Zeroizing::new(String::with_capacity(inner.len() * 3));
        for c in inner.chars() {
            if c.is_ascii() {
                ascii.push(c);
            } else {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(ascii, "\\u{unit:04x}");
                }
            }
        }
        forms.push(ascii);
        forms.push(Zeroizing::new(inner.to_owned()));
    }
    forms.push(Zeroizing::new(secret.to_owned()));
    forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
    forms.dedup();
    forms
}

fn xml_escaped(text: &str) -> String {
    // Sized for the worst case (`&quot;` per byte): the buffer never moves, leaving no copy.
    let mut out = String::with_capacity(text.len() * 6);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
    out
}

/// XML-escaped as stricter serializers write it: `'` too, and every non-ASCII character as a
/// character reference (decimal, or hexadecimal with `hex`, which also writes the five specials
/// as references).
fn xml_escaped_strict(text: &str, hex: bool) -> String {
    // Sized for the worst case (`&#x27;` per byte), so the buffer never moves and leaves no copy
    // of the secret behind; written in place, without temporary strings.
    let mut out = String::with_capacity(text.len() * 6);
    for c in text.chars() {
        let _ = match c {
            '&' | '<' | '>' | '"' | '\'' if hex => write!(out, "&#x{:X};", u32::from(c)),
            '\'' => out.write_str("&apos;"),
            '&' => out.write_str("&amp;"),
            '<' => out.write_str("&lt;"),
            '>' => out.write_str("&gt;"),
            '"' => out.write_str("&quot;"),
            '\t' | '\n' | '\r' => write!(out, "&#{};", u32::from(c)),
            c if !c.is_ascii() && hex => write!(out, "&#x{:X};", u32::from(c)),
            c if !c.is_ascii() => write!(out, "&#{};", u32::from(c)),
            c => out.write_char(c),
        };
    }
    out
}

/// Replaces every occurrence of known secrets in text that came from a server (an error detail,
/// the snippet of an HTML page), so a server echoing a request can never make us print a secret.
#[derive(Default)]
pub(crate) struct Redactor {
    secrets: Vec<SecretString>,
    /// The secrets' wire forms, derived at the first scrub (errors only) and kept for the next.
    forms: OnceLock<Vec<Zeroizing<String>>>,
}

impl Redactor {
    /// Adds a secret. Scrubbing also catches the escaped forms the core puts on the wire (XML
    /// attribute, JSON string), so that a server echoing the request body is caught too; those
    /// forms are only computed when there is text to scrub (an error), never on the hot path.
    pub(crate) fn push(&mut self, secret: &str) {
        if !secret.is_empty() {
            self.secrets.push(SecretString::from(secret.to_owned()));
            self.forms = OnceLock::new();
        }
    }

    pub(crate) fn extend(&mut self, other: &Self) {
        self.secrets.extend(other.secrets.iter().cloned());
        self.forms = OnceLock::new();
    }

    pub(crate) fn scrub(&self, text: String) -> String {
        let mut text = text;
        if self.secrets.is_empty() {
            return text;
        }
        let forms = self.forms.get_or_init(|| {
            let mut all: Vec<_> = self
                .secrets
                .iter()
                .flat_map(|s| wire_forms(s.expose_secret()))
                .collect();
            all.sort_by_key(|f| std::cmp::Reverse(f.len()));
            all
        });
        {
            for form in forms {
                if !text.contains(form.as_str()) {
                    continue;
                }
                if form.len() < MIN_SCRUBBED_LEN {
                    // Replacing a very short secret everywhere would garble the text and show
                    // the secret by where the holes are: withhold the text instead.
                    text.zeroize();
                    return WITHHELD.to_owned();
                }
                let mut replaced = text.replace(form.as_str(), REDACTED);
                std::mem::swap(&mut text, &mut replaced);
                replaced.zeroize();
            }
        }
        text
    }
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Redactor({} secrets)", self.secrets.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newtypes_redact_debug_and_expose_on_request() {
        let token = AuthToken::new("tok-SENTINEL");
        assert_eq!(format!("{token:?}"), "AuthToken([redacted])");
        assert_eq!(token.expose_secret(), "tok-SENTINEL");
    }

    #[test]
    fn escaped_forms_are_scrubbed_too() {
        let mut r = Redactor::default();
        r.push("p&<\"ss\\word");
        assert_eq!(
            r.scrub("xml p&amp;&lt;&quot;ss\\word".into()),
            "xml [redacted]"
        );
        assert_eq!(r.scrub("json p&<\\\"ss\\\\word".into()), "json [redacted]");
        assert_eq!(r.scrub("raw p&<\"ss\\word".into()), "raw [redacted]");
        // Re-escaped by a stricter serializer than the core's.
        let mut r = Redactor::default();
        r.push("p'ä&ss");
        assert_eq!(r.scrub("p&apos;&#228;&amp;ss".into()), "[redacted]");
        assert_eq!(r.scrub("p&#x27;&#xE4;&#x26;ss".into()), "[redacted]");
        assert_eq!(r.scrub("p'\\u00e4&ss".into()), "[redacted]");
    }

    #[test]
    fn short_secrets_withhold_the_whole_text() {
        let mut r = Redactor::default();
        r.push("p");
        assert_eq!(r.scrub("expected value".into()), WITHHELD);
        assert_eq!(r.scrub("no match here".into()), "no match here");
    }

    #[test]
    fn redactor_scrubs_every_occurrence() {
        let mut r = Redactor::default();
        r.push("hunter2");
        r.push("");
        assert_eq!(
            r.scrub("bad password hunter2, hunter2!".into()),
            "bad password [redacted], [redacted]!"
        );
    }
}
