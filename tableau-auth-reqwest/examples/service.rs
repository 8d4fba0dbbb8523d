//! A service with many tasks on one reqwest client: the Tableau middleware signs in once, on
//! first use, and every task's requests share that session.
//!
//! ```text
//! TABLEAU_SERVER=https://tableau.example.com TABLEAU_PAT_NAME=etl TABLEAU_PAT_SECRET=… \
//!   [TABLEAU_CA_FILE=corp-ca.pem] [TABLEAU_SITE=Finance] \
//!   cargo run -p tableau-auth-reqwest --example service -- 32
//! ```
//!
//! Runs N tasks (default 16); each asks `sessions/current` and lists the site's workbooks
//! through the middleware. Prints what it saw and the session's events; never a secret.

use std::sync::{Arc, Mutex};

use tableau_auth_reqwest::proto::{Credentials, SignIn};
use tableau_auth_reqwest::reqwest::{self, Certificate};
use tableau_auth_reqwest::reqwest_middleware::ClientBuilder;
use tableau_auth_reqwest::{Client, SessionEvent, TableauAuthMiddleware, use_ring};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Where and as whom.
pub(crate) struct Settings {
    pub(crate) server: String,
    pub(crate) site: String,
    pub(crate) pat_name: String,
    pub(crate) pat_secret: String,
    pub(crate) ca_pem: Option<Vec<u8>>,
    pub(crate) tasks: usize,
}

/// What the tasks saw.
#[derive(Debug, Default)]
pub(crate) struct Report {
    pub(crate) ok: usize,
    pub(crate) failed: usize,
    pub(crate) events: Vec<String>,
}

pub(crate) async fn run(settings: Settings) -> Result<Report, BoxError> {
    use_ring();
    let mut http = reqwest::Client::builder();
    if let Some(pem) = &settings.ca_pem {
        http = http.tls_certs_merge([Certificate::from_pem(pem)?]);
    }
    let http = http.build()?;
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let pat = Credentials::personal_access_token(settings.pat_name, settings.pat_secret);
    let session = Client::builder(settings.server.as_str())
        .sign_in(SignIn::new(pat, settings.site.as_str()))
        .on_event(move |e: &SessionEvent| sink.lock().unwrap().push(e.to_string()));
    let middleware = TableauAuthMiddleware::new(session, http.clone())?;
    let tableau = middleware.client().clone();
    let client = ClientBuilder::new(http).with(middleware).build();
    let tasks: Vec<_> = (0..settings.tasks)
        .map(|_| {
            let (client, tableau) = (client.clone(), tableau.clone());
            tokio::spawn(async move {
                // The site-scoped URL needs the session (its site's LUID): signs in on first use.
                let me = tableau.current_or_sign_in().await?;
                let current = client
                    .get(me.api_url("sessions/current")?.to_string())
                    .send();
                let workbooks = client.get(me.site_url("workbooks")?.to_string()).send();
                let (current, workbooks) = (current.await?, workbooks.await?);
                Ok::<bool, BoxError>(
                    current.status().is_success() && workbooks.status().is_success(),
                )
            })
        })
        .collect();
    let mut report = Report::default();
    for task in tasks {
        match task.await? {
            Ok(true) => report.ok += 1,
            Ok(false) | Err(_) => report.failed += 1,
        }
    }
    report.events = events.lock().unwrap().clone();
    Ok(report)
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let var = |name: &str| std::env::var(name).map_err(|_| format!("set {name}"));
    let settings = Settings {
        server: var("TABLEAU_SERVER")?,
        site: std::env::var("TABLEAU_SITE").unwrap_or_default(),
        pat_name: var("TABLEAU_PAT_NAME")?,
        pat_secret: var("TABLEAU_PAT_SECRET")?,
        ca_pem: std::env::var("TABLEAU_CA_FILE")
            .ok()
            .map(std::fs::read)
            .transpose()?,
        tasks: std::env::args()
            .nth(1)
            .map(|n| n.parse())
            .transpose()?
            .unwrap_or(16),
    };
    let report = run(settings).await?;
    println!("{} tasks ok, {} failed", report.ok, report.failed);
    for event in &report.events {
        println!("event: {event}");
    }
    Ok(())
}
