//! Trusted tickets (Tableau Server only): the ticket a trusted web server asks for, and the URL
//! that redeems it for a view.

use std::fmt;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use secrecy::{ExposeSecret, SecretString};

use crate::intent::SiteContentUrl;
use crate::secret::{REDACTED, TicketValue};

/// What stays literal in a path segment: RFC 3986 unreserved characters and `:` (the separator
/// of 10.2+ tickets). Everything else, `+ / =` included, is percent-encoded.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b':');

/// The longest ticket accepted (10.2+ tickets are 49 characters).
pub(crate) const MAX_TICKET_LEN: usize = 256;

/// A one-time ticket, valid for about 3 minutes (`vizqlserver.trustedticket.timeout_in_seconds`).
#[derive(Clone)]
pub struct TrustedTicket {
    value: TicketValue,
    site: SiteContentUrl,
    base_url: String,
}

impl TrustedTicket {
    pub(crate) fn new(value: TicketValue, site: SiteContentUrl, base_url: String) -> Self {
        Self {
            value,
            site,
            base_url,
        }
    }

    /// The ticket itself.
    pub fn value(&self) -> &TicketValue {
        &self.value
    }

    /// The site it was issued for.
    pub fn site(&self) -> &SiteContentUrl {
        &self.site
    }

    /// The URL that redeems the ticket for the view `workbook/view` on the ticket's site:
    /// `{server}/trusted/{ticket}[/t/{site}]/views/{workbook}/{view}`. Every segment is
    /// percent-encoded. The URL contains the ticket, so it is a secret too; append view
    /// parameters (`?:embed=yes`) after it.
    pub fn redemption_url(&self, workbook: &str, view: &str) -> SecretString {
        let mut url = String::with_capacity(128);
        url.push_str(&self.base_url);
        url.push_str("/trusted/");
        url.extend(utf8_percent_encode(self.value.expose_secret(), SEGMENT));
        if !self.site.is_default() {
            url.push_str("/t/");
            url.extend(utf8_percent_encode(self.site.as_str(), SEGMENT));
        }
        url.push_str("/views/");
        url.extend(utf8_percent_encode(workbook, SEGMENT));
        url.push('/');
        url.extend(utf8_percent_encode(view, SEGMENT));
        SecretString::from(url)
    }
}

impl fmt::Debug for TrustedTicket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrustedTicket")
            .field("value", &REDACTED)
            .field("site", &self.site)
            .finish()
    }
}

/// Whether a trimmed `/trusted` body looks like a ticket (and not an HTML page or an error).
pub(crate) fn is_ticket_shaped(text: &str) -> bool {
    (1..=MAX_TICKET_LEN).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_+/=:".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redemption_url_encodes_ticket_site_and_view() {
        let t = TrustedTicket::new(
            TicketValue::new("Zk3v+Q9a/LTyW1sBc8R2dXhA==:pL7tN2wQ9eR4yU6iO8aS1dF3"),
            SiteContentUrl::new("Sales EMEA"),
            "https://tableau.example.com".into(),
        );
        assert_eq!(
            t.redemption_url("Sales Report", "Q1/Overview")
                .expose_secret(),
            "https://tableau.example.com/trusted/Zk3v%2BQ9a%2FLTyW1sBc8R2dXhA%3D%3D:pL7tN2wQ9eR4yU6iO8aS1dF3\
             /t/Sales%20EMEA/views/Sales%20Report/Q1%2FOverview"
        );
        let default_site = TrustedTicket::new(
            TicketValue::new("abc"),
            SiteContentUrl::default_site(),
            "https://h".into(),
        );
        assert_eq!(
            default_site.redemption_url("W", "V").expose_secret(),
            "https://h/trusted/abc/views/W/V"
        );
        assert!(!format!("{t:?}").contains("Zk3v"));
    }

    #[test]
    fn ticket_shapes() {
        assert!(is_ticket_shaped(
            "Zk3vQ9aLTyW1sBc8R2dXhA==:pL7tN2wQ9eR4yU6iO8aS1dF3"
        ));
        assert!(is_ticket_shaped("Qw8_Lp3ZtR2-mX9vKc4NbH7s"));
        assert!(!is_ticket_shaped(""));
        assert!(!is_ticket_shaped("<html>"));
        assert!(!is_ticket_shaped(&"a".repeat(MAX_TICKET_LEN + 1)));
    }
}
