//! Every `tracing` event emitted while the client signs in with each credential kind, loses its
//! session, fails to renew, is throttled and signs out is captured (by a small subscriber of our
//! own, installed globally so that worker threads are seen too) and searched for every secret.

mod common;

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use common::*;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// Writes every event and span field, with its target and level, into one string.
#[derive(Clone, Default)]
struct Capture {
    text: Arc<Mutex<String>>,
    next: Arc<AtomicU64>,
}

struct Fields<'a>(&'a mut String);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, " {}={value:?}", field.name());
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        let _ = write!(self.0, " {}={value}", field.name());
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut text = self.text.lock().unwrap();
        let _ = write!(text, "\nspan {}", span.metadata().name());
        span.record(&mut Fields(&mut text));
        Id::from_u64(self.next.fetch_add(1, Ordering::Relaxed) + 1)
    }

    fn record(&self, _: &Id, values: &Record<'_>) {
        values.record(&mut Fields(&mut self.text.lock().unwrap()));
    }

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut text = self.text.lock().unwrap();
        let meta = event.metadata();
        let _ = write!(text, "\n{} {}:", meta.level(), meta.target());
        event.record(&mut Fields(&mut text));
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_tracing_event_carries_a_secret() {
    let capture = Capture::default();
    tracing::subscriber::set_global_default(capture.clone()).expect("the only subscriber");
    let fake = start().await;
    let mut secrets = vec![
        sample::USER_PASSWORD.to_owned(),
        sample::USER_PAT_SECRET.to_owned(),
        sample::APP_SECRET_VALUE.to_owned(),
    ];
    for kind in KINDS_EXCEPT_MINTED {
        let sign_in = sign_in(&fake, kind);
        if let Credentials::Jwt { jwt, .. } = sign_in.credentials() {
            secrets.push(jwt.expose_secret().to_owned());
        }
        let client = builder(&fake).sign_in(sign_in).build().expect("client");
        whoami_lazily(&client, &fake).await;
        secrets.push(token_of(&client));
        // Dropped by the server: superseded, renewed, replayed (not with a ready-made JWT: its
        // `jti` is single-use).
        if kind != Kind::ReadyJwt {
            fake.control().drop_sessions(None);
            whoami_lazily(&client, &fake).await;
            secrets.push(token_of(&client));
        }
        // Throttled once.
        fake.control()
            .add_fault(FaultRule::exact(CURRENT, status(429, Some("0"))).once());
        whoami_lazily(&client, &fake).await;
        client.sign_out().await.expect("sign out");
    }
    // A renewal that fails (the password changed), with the old password echoed back.
    let client = builder(&fake).sign_in(password()).build().expect("client");
    whoami_lazily(&client, &fake).await;
    secrets.push(token_of(&client));
    fake.control().drop_sessions(None);
    fake.control().add_fault(
        FaultRule::exact(
            SIGNIN,
            Fault::Status {
                status: 401,
                retry_after: None,
                body: Some(tableau_error_xml(
                    "401001",
                    "Signin Error",
                    sample::USER_PASSWORD,
                )),
            },
        )
        .once(),
    );
    let err = client
        .send(get_as(Format::Xml, current_url(&fake)))
        .await
        .expect_err("the renewal fails");
    assert_eq!(err.code(), Some("401001"));

    let text = capture.text.lock().unwrap().clone();
    for needle in [
        "signed in",
        "session superseded",
        "session renewed",
        "throttled",
        "renewal failed",
        "signed out",
    ] {
        assert!(text.contains(needle), "no {needle:?} event in:{text}");
    }
    for secret in &secrets {
        assert!(
            !text.contains(secret.as_str()),
            "a secret in the traces:{text}"
        );
    }
}

async fn whoami_lazily(client: &Client, fake: &FakeServer) {
    let response = client
        .send(get_as(Format::Xml, current_url(fake)))
        .await
        .expect("a call");
    assert_eq!(parse_me(response.body()).user_id, sample::USER_ID);
}
