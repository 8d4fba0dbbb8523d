//! Name resolution at wire speed, still bounded.
//!
//! ureq's own resolver looks the host up on *every* request, pooled connection or not, and
//! whenever the lookup has a deadline (which the client's whole-exchange limit always gives it)
//! it does so on a freshly spawned thread, even for an IP literal. On a loaded machine that
//! thread costs more than the rest of a loopback exchange.
//!
//! This resolver answers IP literals at once, keeps a name's addresses for a short while
//! ([`ClientBuilder::dns_cache`](crate::ClientBuilder::dns_cache)), and runs a real lookup on a
//! helper thread only when the cache has no fresh answer. The caller waits for that thread no
//! longer than the phase's deadline, then fails with ureq's `Timeout` (the client's typed
//! [`Error::Timeout`](crate::Error::Timeout)). The helper threads are bounded: at most one
//! lookup of a host and port runs at a time, and every caller that needs it meanwhile waits on
//! that one (a hung DNS server does not make a thread per request).
//!
//! It plugs into ureq through `ureq::unversioned::resolver`, which is outside ureq's semver:
//! the workspace pins ureq's minor version for it.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use ureq::config::Config;
use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::NextTimeout;

/// The caller's own name lookup: host (no brackets) and port in, addresses out.
pub(crate) type LookupFn = dyn Fn(&str, u16) -> io::Result<Vec<SocketAddr>> + Send + Sync;

/// How long a name's addresses are kept by default.
pub(crate) const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(30);

/// The caller's lookup, if any; `Debug` without showing the closure.
#[derive(Clone, Default)]
pub(crate) struct Lookup(pub(crate) Option<Arc<LookupFn>>);

impl fmt::Debug for Lookup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "Custom(..)"
        } else {
            "System"
        })
    }
}

/// The outcome of one lookup, shareable among the callers that waited for it.
type Answer = Result<Arc<[SocketAddr]>, (io::ErrorKind, String)>;

/// A lookup running on a helper thread, and the callers' place to wait for it.
#[derive(Default)]
struct Pending {
    answer: Mutex<Option<Answer>>,
    done: Condvar,
}

enum Entry {
    /// Addresses still fresh until `until`.
    Ready {
        addrs: Arc<[SocketAddr]>,
        until: Instant,
    },
    /// A lookup of this host is running.
    Running(Arc<Pending>),
}

/// The client's resolver: IP literals at once, names from a short cache, or from one bounded
/// helper thread per host.
pub(crate) struct CachingResolver {
    lookup: Lookup,
    ttl: Duration,
    entries: Arc<Mutex<HashMap<String, Entry>>>,
}

impl fmt::Debug for CachingResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachingResolver")
            .field("lookup", &self.lookup)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing here can leave the data half-updated: a panic elsewhere does not poison meaning.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl CachingResolver {
    pub(crate) fn new(lookup: Lookup, ttl: Duration) -> Self {
        Self {
            lookup,
            ttl,
            entries: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// The addresses of `host:port`, from the cache or from a lookup, within `timeout`.
    fn addresses(
        &self,
        host: &str,
        port: u16,
        timeout: NextTimeout,
    ) -> Result<Arc<[SocketAddr]>, ureq::Error> {
        let key = format!("{}:{port}", host.to_ascii_lowercase());
        let pending = {
            let mut entries = lock(&self.entries);
            match entries.get(&key) {
                Some(Entry::Ready { addrs, until }) if Instant::now() < *until => {
                    return Ok(addrs.clone());
                }
                Some(Entry::Running(pending)) => pending.clone(),
                _ => {
                    let pending = Arc::new(Pending::default());
                    self.spawn_lookup(&key, host, port, pending.clone())?;
                    entries.insert(key, Entry::Running(pending.clone()));
                    pending
                }
            }
        };
        wait(&pending, timeout)
    }

    /// Starts the one lookup of `key` on a helper thread, which files its answer.
    fn spawn_lookup(
        &self,
        key: &str,
        host: &str,
        port: u16,
        pending: Arc<Pending>,
    ) -> Result<(), ureq::Error> {
        let (key, host) = (key.to_owned(), host.to_owned());
        let lookup = self.lookup.0.clone();
        let entries = Arc::downgrade(&self.entries);
        let ttl = self.ttl;
        std::thread::Builder::new()
            .name("tableau-auth-resolve".to_owned())
            .spawn(move || {
                let result = match &lookup {
                    Some(lookup) => lookup(&host, port),
                    None => (host.as_str(), port)
                        .to_socket_addrs()
                        .map(Iterator::collect),
                };
                let answer: Answer = result.map(Arc::from).map_err(|e| (e.kind(), e.to_string()));
                // File the answer for the next callers (a failure is not kept), then wake the
                // waiting ones. The client may be gone by now: then there is nothing to file.
                if let Some(entries) = entries.upgrade() {
                    let mut entries = lock(&entries);
                    match &answer {
                        Ok(addrs) if !ttl.is_zero() => {
                            let until = Instant::now() + ttl;
                            let addrs = addrs.clone();
                            entries.insert(key, Entry::Ready { addrs, until });
                        }
                        _ => {
                            entries.remove(&key);
                        }
                    }
                }
                *lock(&pending.answer) = Some(answer);
                pending.done.notify_all();
            })
            .map(drop)
            .map_err(ureq::Error::Io)
    }
}

/// Waits for `pending` until the phase's deadline.
fn wait(pending: &Pending, timeout: NextTimeout) -> Result<Arc<[SocketAddr]>, ureq::Error> {
    let deadline = (!timeout.after.is_not_happening())
        .then(|| Instant::now().checked_add(*timeout.after))
        .flatten();
    let mut answer = lock(&pending.answer);
    loop {
        if let Some(answer) = &*answer {
            return answer
                .clone()
                .map_err(|(kind, message)| ureq::Error::Io(io::Error::new(kind, message)));
        }
        answer = match deadline {
            None => pending
                .done
                .wait(answer)
                .unwrap_or_else(PoisonError::into_inner),
            Some(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(ureq::Error::Timeout(timeout.reason));
                }
                pending
                    .done
                    .wait_timeout(answer, left)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0
            }
        };
    }
}

/// `host` without the brackets of an IPv6 literal.
fn unbracketed(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

impl Resolver for CachingResolver {
    fn resolve(
        &self,
        uri: &Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let (Some(scheme), Some(authority)) = (uri.scheme(), uri.authority()) else {
            return Err(ureq::Error::BadUri(format!("{uri} is not a full URL")));
        };
        // ureq's own rule for the port (http, https and the proxy schemes' defaults).
        let port = match authority.port_u16() {
            Some(port) => port,
            None => DefaultResolver::host_and_port(scheme, authority)
                .and_then(|hp| hp.rsplit_once(':').and_then(|(_, p)| p.parse().ok()))
                .ok_or_else(|| ureq::Error::BadUri(format!("unknown scheme: {scheme}")))?,
        };
        let host = unbracketed(authority.host());
        let mut result = self.empty();
        let mut keep = |addrs: &mut dyn Iterator<Item = SocketAddr>| {
            for addr in config.ip_family().keep_wanted(addrs) {
                if result.try_push(addr).is_err() {
                    break;
                }
            }
        };
        if let Ok(ip) = host.parse() {
            // An IP literal: nothing to look up, no thread.
            keep(&mut std::iter::once(SocketAddr::new(ip, port)));
        } else {
            keep(&mut self.addresses(host, port, timeout)?.iter().copied());
        }
        if result.is_empty() {
            Err(ureq::Error::HostNotFound)
        } else {
            Ok(result)
        }
    }
}
