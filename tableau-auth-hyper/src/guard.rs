//! Scoped sign-in for async code: what TSC's `with server.auth.sign_in(auth):` block does.
//!
//! Rust has no async drop, so a scope's sign-out is certain only when it is awaited:
//! [`Client::with_sign_in`] runs a body between a sign-in and an awaited sign-out (also when the
//! body fails or panics), and [`SignOutGuard::sign_out`] ends a guard's scope explicitly. A
//! [`SignOutGuard`] dropped without either (an early `return`, a `?`, a cancelled task) signs
//! out on a task it spawns on the current tokio runtime: best effort, since a runtime that
//! shuts down right after may never run it.
//!
//! Either way the sign-out is the core's [`Call::EndScope`]: it ends the session that the
//! scope's own sign-in began (renewed or re-signed-in since, it is still that session), and
//! never a session the client signed in anew after it — a late sign-out cannot end the next
//! scope's session ([`SignOut::Replaced`]).

use std::future::Future;
use std::ops::Deref;
use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;
use tableau_auth_proto::{Call, CallId, Event, Intent, Outcome, SignIn, SignOut, SignedIn};

use crate::client::Client;
use crate::error::Error;
use crate::shared::{NoRequest, unexpected};

/// Signs out when the scope it guards ends ([`Client::sign_in_guard`]). Derefs to the
/// [`Client`], so the session is used through it.
///
/// Await [`SignOutGuard::sign_out`] to end the scope and see how it went; dropping the guard
/// instead signs out on a spawned task (needs a tokio runtime that outlives it; without a
/// runtime nothing is sent). [`SignOutGuard::keep`] keeps the session open.
#[derive(Debug)]
#[must_use = "dropping the guard signs out at once"]
pub struct SignOutGuard {
    client: Client,
    scope: CallId,
    signed_in: SignedIn,
    armed: bool,
}

impl SignOutGuard {
    /// What the scope's sign-in returned (site, user, API version).
    pub fn signed_in(&self) -> &SignedIn {
        &self.signed_in
    }

    /// Ends the scope now: signs out the session its sign-in began, and reports how
    /// ([`SignOut::Replaced`] when the client has signed in anew since: that session is kept).
    pub async fn sign_out(mut self) -> Result<SignOut, Error> {
        self.armed = false;
        end_scope(&self.client, self.scope).await
    }

    /// Keeps the session open: the guard will not sign out. Returns the client.
    pub fn keep(mut self) -> Client {
        self.armed = false;
        self.client.clone()
    }
}

impl Deref for SignOutGuard {
    type Target = Client;

    fn deref(&self) -> &Client {
        &self.client
    }
}

impl Drop for SignOutGuard {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        // A drop cannot wait: the sign-out runs on a task of its own. It never reaches the
        // caller, whose own result (or panic) this drop must not replace.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let (client, scope) = (self.client.clone(), self.scope);
            runtime.spawn(async move {
                if let Err(e) = end_scope(&client, scope).await {
                    tracing::warn!(error = %e, "a dropped sign-in guard could not sign out");
                }
            });
        } else {
            tracing::warn!("a sign-in guard was dropped outside a tokio runtime: not signed out");
        }
    }
}

impl Client {
    /// Signs in, and returns a guard that signs out when its scope ends (TSC's
    /// `with server.auth.sign_in(auth):`). See [`SignOutGuard`]: await its
    /// [`SignOutGuard::sign_out`], or use [`Client::with_sign_in`], for a sign-out that is
    /// certain to be sent before you go on.
    pub async fn sign_in_guard(&self, sign_in: SignIn) -> Result<SignOutGuard, Error> {
        let shared = self.shared();
        let scope = shared.begin(Call::Intent(Intent::SignIn(sign_in)));
        // Boxed: the driver's future is large, and a sign-in is rare.
        let outcome = Box::pin(shared.run_begun(scope, &mut NoRequest, None))
            .await?
            .outcome()?;
        match outcome {
            Outcome::Event(Event::SignedIn(signed_in)) => Ok(SignOutGuard {
                client: self.clone(),
                scope,
                signed_in,
                armed: true,
            }),
            other => Err(unexpected(&other)),
        }
    }

    /// Signs in, runs `body` with the client, then signs out, awaited, whatever the body did:
    /// succeeded, failed (its error is returned, never replaced by the sign-out's) or panicked
    /// (the panic goes on after the sign-out). If the body succeeded but the sign-out failed,
    /// the body's value is still returned and the failure is logged (`tracing`, warn): the
    /// work is done, and a session the server already dropped is no failure at all.
    ///
    /// When this future itself is dropped midway (a timeout around it), the guard's
    /// best-effort sign-out on a spawned task applies ([`SignOutGuard`]).
    ///
    /// ```
    /// use tableau_auth_hyper::{Client, Error, http, proto::{Credentials, SignIn}};
    ///
    /// # use tableau_auth_fake::{FakeConfig, FakeOptions, FakeServer, sample};
    /// # tokio::runtime::Runtime::new()?.block_on(async {
    /// # let fake = FakeServer::start(FakeConfig::sample(), FakeOptions::default()).await?;
    /// # let (server, ca_pem) = (fake.base_url(), fake.ca_pem().unwrap_or_default());
    /// # let (pat_name, secret) = (sample::USER_PAT_NAME, sample::USER_PAT_SECRET.to_owned());
    /// let client = Client::builder(server).ca_pem(ca_pem).build()?;
    /// let sign_in = SignIn::new(Credentials::personal_access_token(pat_name, secret), "");
    /// let status = client
    ///     .with_sign_in(sign_in, |client| async move {
    ///         let uri = client.api_url("sessions/current")?;
    ///         let request = http::Request::get(uri).body(Vec::new()).expect("a valid request");
    ///         Ok::<_, Error>(client.send(request).await?.status())
    ///     })
    ///     .await?;
    /// assert!(status.is_success());
    /// assert!(!client.is_signed_in(), "signed out when the body ended");
    /// # Ok::<(), Box<dyn std::error::Error>>(()) })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn with_sign_in<T, E, F, Fut>(&self, sign_in: SignIn, body: F) -> Result<T, E>
    where
        F: FnOnce(Self) -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: From<Error>,
    {
        let guard = self.sign_in_guard(sign_in).await?;
        let ran = AssertUnwindSafe(body(self.clone())).catch_unwind().await;
        let signed_out = guard.sign_out().await;
        match ran {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(Err(e)) => Err(e),
            Ok(Ok(value)) => {
                if let Err(e) = signed_out {
                    tracing::warn!(error = %e, "the sign-out at the end of with_sign_in failed");
                }
                Ok(value)
            }
        }
    }
}

/// Runs [`Call::EndScope`] for the scope begun by the sign-in call `scope`.
async fn end_scope(client: &Client, scope: CallId) -> Result<SignOut, Error> {
    let outcome = Box::pin(
        client
            .shared()
            .run(Call::EndScope(scope), &mut NoRequest, None),
    )
    .await?
    .outcome()?;
    match outcome {
        Outcome::Event(Event::SignedOut(signed_out)) => Ok(signed_out),
        other => Err(unexpected(&other)),
    }
}
