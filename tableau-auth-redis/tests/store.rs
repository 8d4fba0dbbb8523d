//! The store against a real `redis-server` (never a mock): the contract of each
//! [`StoreOp`], what Redis holds, records that do not open, garbage, Redis down or silent, the
//! async API, and keys for ready-made JWTs.
//!
//! Needs `redis-server` on PATH: `scripts/ensure-redis.sh` installs it.

use std::net::{Ipv4Addr, TcpListener};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tableau_auth_proto::{
    Credentials, FleetScope, LockOwner, SharedSession, SignIn, StoreOp, StoreReply, StoreRequest,
    Version,
};
use tableau_auth_redis::{RedisStore, StoreError};
use tableau_auth_tests::redis_server::{RedisServer, Resp};

const ORIGIN: &str = "https://tableau.example.com";
const PAT_NAME: &str = "SENTINEL-pat-name";
const PAT_SECRET: &str = "SENTINEL-pat-secret";
const USER_NAME: &str = "SENTINEL-user-name";
const PASSWORD: &str = "SENTINEL-password";
const SITE: &str = "SENTINEL-site-name";
const REDIS_PASSWORD: &str = "SENTINEL-redis-pw";

fn pat_scope() -> Arc<FleetScope> {
    Arc::new(FleetScope::new(
        ORIGIN,
        &SignIn::new(
            Credentials::personal_access_token(PAT_NAME, PAT_SECRET),
            SITE,
        ),
    ))
}

fn password_scope() -> Arc<FleetScope> {
    Arc::new(FleetScope::new(
        ORIGIN,
        &SignIn::new(Credentials::password(USER_NAME, PASSWORD), SITE),
    ))
}

fn other_scope() -> Arc<FleetScope> {
    Arc::new(FleetScope::new(
        ORIGIN,
        &SignIn::new(
            Credentials::personal_access_token(PAT_NAME, "another-secret"),
            "Sales",
        ),
    ))
}

fn jwt_scope() -> Arc<FleetScope> {
    Arc::new(FleetScope::new(
        ORIGIN,
        &SignIn::new(Credentials::jwt("SENTINEL.jwt.value"), SITE),
    ))
}

/// A session whose every field is a sentinel.
fn session(n: u32) -> SharedSession {
    let json = format!(
        r#"{{"v":1,"token":"SENTINEL-token-{n}","site":"SENTINEL-site-luid","content_url":"{SITE}","user":"SENTINEL-user-luid","api":"3.25","signed_in":1700000000}}"#
    );
    SharedSession::decode(json.as_bytes()).expect("a valid encoded session")
}

/// A lock owner with these bytes.
fn owner(seed: u8) -> LockOwner {
    LockOwner::from_bytes([seed; 16])
}

fn acquire(scope: &Arc<FleetScope>, seen: Option<Version>, owner: LockOwner) -> StoreRequest {
    acquire_for(scope, seen, owner, Duration::from_secs(30))
}

fn acquire_for(
    scope: &Arc<FleetScope>,
    seen: Option<Version>,
    owner: LockOwner,
    ttl: Duration,
) -> StoreRequest {
    StoreRequest {
        scope: scope.clone(),
        op: StoreOp::Acquire { seen, owner, ttl },
    }
}

fn publish(
    scope: &Arc<FleetScope>,
    seen: Option<Version>,
    owner: LockOwner,
    new_epoch: u128,
    session: Option<SharedSession>,
) -> StoreRequest {
    StoreRequest {
        scope: scope.clone(),
        op: StoreOp::Publish {
            seen,
            owner,
            new_epoch,
            session,
        },
    }
}

fn release(scope: &Arc<FleetScope>, owner: LockOwner) -> StoreRequest {
    StoreRequest {
        scope: scope.clone(),
        op: StoreOp::Release { owner },
    }
}

/// A reply as text, with the session's encoded bytes compared through `expect`.
fn describe(reply: &StoreReply) -> String {
    match reply {
        StoreReply::Moved(None) => "moved(none)".into(),
        StoreReply::Moved(Some(record)) => format!(
            "moved({:032x}/{}, {})",
            record.version.epoch,
            record.version.generation,
            match &record.session {
                None => "no session".to_owned(),
                Some(s) => format!("{} bytes", s.encode().len()),
            }
        ),
        StoreReply::Acquired => "acquired".into(),
        StoreReply::Busy => "busy".into(),
        StoreReply::Published(v) => format!("published({:032x}/{})", v.epoch, v.generation),
        StoreReply::Released => "released".into(),
        other => format!("{other:?}"),
    }
}

fn run(store: &RedisStore, request: &StoreRequest) -> StoreReply {
    store
        .execute_blocking(request)
        .unwrap_or_else(|e| panic!("the operation failed: {e}"))
}

fn published(reply: StoreReply) -> Version {
    match reply {
        StoreReply::Published(v) => v,
        other => panic!("expected Published, got {}", describe(&other)),
    }
}

fn moved(reply: StoreReply) -> Option<tableau_auth_proto::Record> {
    match reply {
        StoreReply::Moved(record) => record,
        other => panic!("expected Moved, got {}", describe(&other)),
    }
}

fn store_for(server: &RedisServer) -> RedisStore {
    RedisStore::open(&server.url())
        .expect("a valid URL")
        .timeout(Duration::from_secs(2))
}

const EPOCH: u128 = 0x0011_2233_4455_6677_8899_aabb_ccdd_eeff;

#[test]
fn the_lock_and_the_record_follow_the_contract() {
    let server = RedisServer::start();
    let store = store_for(&server);
    let scope = pat_scope();
    let (a, b, c) = (owner(1), owner(2), owner(3));

    assert!(matches!(
        run(&store, &acquire(&scope, None, a)),
        StoreReply::Acquired
    ));
    assert!(matches!(
        run(&store, &acquire(&scope, None, b)),
        StoreReply::Busy
    ));
    // The lock's holder may ask again (an acquire sent twice, its first answer lost): it
    // still holds it; the other is still refused.
    assert!(matches!(
        run(&store, &acquire(&scope, None, a)),
        StoreReply::Acquired
    ));
    assert!(matches!(
        run(&store, &acquire(&scope, None, b)),
        StoreReply::Busy
    ));

    let v1 = published(run(
        &store,
        &publish(&scope, None, a, EPOCH, Some(session(1))),
    ));
    assert_eq!(
        v1,
        Version {
            epoch: EPOCH,
            generation: 1
        }
    );

    // A process that saw nothing finds the record, and opens the session.
    let record = moved(run(&store, &acquire(&scope, None, b))).expect("a record");
    assert_eq!(record.version, v1);
    let opened = record.session.expect("the session opens");
    assert_eq!(*opened.encode(), *session(1).encode());

    // Publishing released the lock: the next sign-in may take it.
    assert!(matches!(
        run(&store, &acquire(&scope, Some(v1), c)),
        StoreReply::Acquired
    ));
    // A slow sign-in that saw no record cannot overwrite the newer one.
    let stale = moved(run(&store, &publish(&scope, None, b, 7, Some(session(9)))));
    assert_eq!(stale.expect("the record").version, v1);
    // The next generation keeps the epoch.
    let v2 = published(run(
        &store,
        &publish(&scope, Some(v1), c, 99, Some(session(2))),
    ));
    assert_eq!(
        v2,
        Version {
            epoch: EPOCH,
            generation: 2
        }
    );
    // A publish against the old version is refused with the current record.
    let current = moved(run(
        &store,
        &publish(&scope, Some(v1), c, 99, Some(session(3))),
    ))
    .expect("the record");
    assert_eq!(current.version, v2);
    assert_eq!(
        *current.session.expect("opens").encode(),
        *session(2).encode()
    );

    // Release by a non-owner leaves the lock; by its owner frees it.
    assert!(matches!(
        run(&store, &acquire(&scope, Some(v2), a)),
        StoreReply::Acquired
    ));
    assert!(matches!(
        run(&store, &release(&scope, b)),
        StoreReply::Released
    ));
    assert!(matches!(
        run(&store, &acquire(&scope, Some(v2), b)),
        StoreReply::Busy
    ));
    assert!(matches!(
        run(&store, &release(&scope, a)),
        StoreReply::Released
    ));
    assert!(matches!(
        run(&store, &acquire(&scope, Some(v2), b)),
        StoreReply::Acquired
    ));

    // Retiring writes a record without a session.
    let v3 = published(run(&store, &publish(&scope, Some(v2), b, 0, None)));
    assert_eq!(
        v3,
        Version {
            epoch: EPOCH,
            generation: 3
        }
    );
    let retired = moved(run(&store, &acquire(&scope, Some(v2), a))).expect("a record");
    assert_eq!(retired.version, v3);
    assert!(retired.session.is_none());
    // ... and it is replaced like any other.
    assert!(matches!(
        run(&store, &acquire(&scope, Some(v3), a)),
        StoreReply::Acquired
    ));
    let v4 = published(run(
        &store,
        &publish(&scope, Some(v3), a, 0, Some(session(4))),
    ));
    assert_eq!(v4.generation, 4);

    // Another fleet's record and lock are apart.
    let other = other_scope();
    assert!(matches!(
        run(&store, &acquire(&other, None, a)),
        StoreReply::Acquired
    ));
}

#[test]
fn the_lock_expires_with_its_time_to_live() {
    let server = RedisServer::start();
    let store = store_for(&server);
    let scope = pat_scope();
    let ttl = Duration::from_secs(1);
    assert!(matches!(
        run(&store, &acquire_for(&scope, None, owner(1), ttl)),
        StoreReply::Acquired
    ));
    assert!(matches!(
        run(&store, &acquire_for(&scope, None, owner(2), ttl)),
        StoreReply::Busy
    ));
    std::thread::sleep(Duration::from_millis(1200));
    assert!(matches!(
        run(&store, &acquire_for(&scope, None, owner(2), ttl)),
        StoreReply::Acquired
    ));
    // A sub-millisecond TTL is still a lock (at least 1 ms), not an error.
    let other = other_scope();
    assert!(matches!(
        run(&store, &acquire_for(&other, None, owner(3), Duration::ZERO)),
        StoreReply::Acquired
    ));
}

/// Everything the server holds, raw: every key's name, type and contents.
fn dump(server: &RedisServer) -> Vec<u8> {
    let mut raw = server.command(&[b"KEYS", b"*"]);
    for key in server.query(&[b"KEYS", b"*"]).items() {
        let key = key.bytes().expect("a key name");
        let kind = server.query(&[b"TYPE", key]);
        raw.extend_from_slice(&server.command(&[b"TYPE", key]));
        match kind {
            Resp::Simple(t) if t == "hash" => raw.extend(server.command(&[b"HGETALL", key])),
            Resp::Simple(t) if t == "string" => raw.extend(server.command(&[b"GET", key])),
            other => panic!("an unexpected key type {other:?}"),
        }
    }
    raw
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn redis_holds_nothing_in_clear() {
    let server = RedisServer::start();
    let store = store_for(&server);
    let mut locks = Vec::new();
    for (i, scope) in [pat_scope(), password_scope()].iter().enumerate() {
        let seed = u8::try_from(i).unwrap() + 1;
        let n = u32::from(seed);
        let v = published(run(
            &store,
            &publish(scope, None, owner(seed), EPOCH, Some(session(n))),
        ));
        // Another call takes the lock and keeps it, so that the lock is in the dump too.
        assert!(matches!(
            run(&store, &acquire(scope, Some(v), owner(seed + 10))),
            StoreReply::Acquired
        ));
        locks.push((store.keys_for(scope).unwrap(), owner(seed + 10)));
    }
    let raw = dump(&server);
    for sentinel in [
        "SENTINEL",
        PAT_NAME,
        PAT_SECRET,
        USER_NAME,
        PASSWORD,
        SITE,
        "tableau.example.com",
        "token",
    ] {
        assert!(
            !contains(&raw, sentinel.as_bytes()),
            "Redis holds {sentinel:?} in clear"
        );
    }
    // The keys are the documented ones, the lock holds its owner's hex.
    let keys = server.query(&[b"KEYS", b"*"]);
    assert_eq!(keys.items().len(), 4);
    for ((record, lock), owner) in locks {
        for key in [&record, &lock] {
            assert!(
                keys.items()
                    .iter()
                    .any(|k| k.bytes() == Some(key.as_bytes())),
                "{key}"
            );
        }
        let name = record
            .strip_prefix("tableau-auth:{")
            .and_then(|r| r.strip_suffix("}:session"))
            .expect("tableau-auth:{name}:session");
        assert_eq!(name.len(), 64);
        assert!(name.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')));
        assert_eq!(lock, format!("tableau-auth:{{{name}}}:lock"));
        let value = server.query(&[b"GET", lock.as_bytes()]);
        assert_eq!(value.bytes(), Some(owner.to_hex().as_bytes()));
        let fields = server.query(&[b"HGETALL", record.as_bytes()]);
        let mut names: Vec<&[u8]> = fields
            .items()
            .iter()
            .step_by(2)
            .filter_map(Resp::bytes)
            .collect();
        names.sort_unstable();
        assert_eq!(names, [&b"blob"[..], b"epoch", b"gen"]);
        let epoch = server.query(&[b"HGET", record.as_bytes(), b"epoch"]);
        assert_eq!(epoch.bytes(), Some(format!("{EPOCH:032x}").as_bytes()));
    }
    // The prefix is the operator's.
    let custom = store.clone().key_prefix("fleet-7");
    let (record, lock) = custom.keys_for(&pat_scope()).unwrap();
    assert!(record.starts_with("fleet-7:{") && lock.starts_with("fleet-7:{"));
}

fn record_key(store: &RedisStore, scope: &FleetScope) -> Vec<u8> {
    store.keys_for(scope).unwrap().0.into_bytes()
}

fn blob(server: &RedisServer, key: &[u8]) -> Vec<u8> {
    server
        .query(&[b"HGET", key, b"blob"])
        .bytes()
        .expect("a blob")
        .to_vec()
}

#[test]
fn records_that_do_not_open_come_back_without_their_session() {
    let server = RedisServer::start();
    let store = store_for(&server);
    let scope = pat_scope();
    let other = other_scope();
    let v1 = published(run(
        &store,
        &publish(&scope, None, owner(1), EPOCH, Some(session(1))),
    ));
    published(run(
        &store,
        &publish(&other, None, owner(2), EPOCH, Some(session(2))),
    ));
    let key = record_key(&store, &scope);
    let original = blob(&server, &key);

    let expect_unopened = |what: &str| {
        let record = moved(run(&store, &acquire(&scope, None, owner(3)))).expect(what);
        assert_eq!(record.version, v1, "{what}");
        assert!(record.session.is_none(), "{what} opened");
    };

    // A flipped byte, anywhere.
    for at in [0, 3, 10, 20, original.len() - 1] {
        let mut tampered = original.clone();
        tampered[at] ^= 0x40;
        server.command(&[b"HSET", &key, b"blob", &tampered]);
        expect_unopened(&format!("a blob with byte {at} flipped"));
    }
    // Another fleet's blob copied under this fleet's key.
    let copied = blob(&server, &record_key(&store, &other));
    server.command(&[b"HSET", &key, b"blob", &copied]);
    expect_unopened("another fleet's blob");
    // A record sealed with another key (another store's with_key) under this key.
    let keyed = store.clone().with_key([9_u8; 32]).unwrap();
    published(run(
        &keyed,
        &publish(&scope, None, owner(4), EPOCH, Some(session(4))),
    ));
    let sealed_elsewhere = blob(&server, &record_key(&keyed, &scope));
    server.command(&[b"HSET", &key, b"blob", &sealed_elsewhere]);
    expect_unopened("a blob sealed with another key");
    // Plain garbage.
    server.command(&[b"HSET", &key, b"blob", b"TA1 not sealed at all"]);
    expect_unopened("garbage");

    // The original opens again: nothing was cached.
    server.command(&[b"HSET", &key, b"blob", &original]);
    let record = moved(run(&store, &acquire(&scope, None, owner(3)))).unwrap();
    assert_eq!(
        *record.session.expect("opens").encode(),
        *session(1).encode()
    );
}

#[test]
fn garbage_in_redis_is_no_record_and_a_publish_replaces_it() {
    let server = RedisServer::start();
    let store = store_for(&server);
    let scope = pat_scope();
    let key = record_key(&store, &scope);
    let (_, lock) = store.keys_for(&scope).unwrap();
    let good_epoch = format!("{EPOCH:032x}");
    let big = vec![b'x'; 1 << 20];

    let cases: Vec<(&str, Vec<Vec<&[u8]>>)> = vec![
        ("a string", vec![vec![b"SET", &key, b"SENTINEL-garbage"]]),
        ("a list", vec![vec![b"RPUSH", &key, b"a", b"b"]]),
        (
            "a bad epoch",
            vec![vec![
                b"HSET", &key, b"epoch", b"XYZ", b"gen", b"1", b"blob", b"",
            ]],
        ),
        (
            "an upper-case epoch",
            vec![vec![
                b"HSET",
                &key,
                b"epoch",
                b"0011223344556677889900AABBCCDDEE",
                b"gen",
                b"1",
            ]],
        ),
        (
            "gen abc",
            vec![vec![
                b"HSET",
                &key,
                b"epoch",
                good_epoch.as_bytes(),
                b"gen",
                b"abc",
            ]],
        ),
        (
            "gen 16 digits",
            vec![vec![
                b"HSET",
                &key,
                b"epoch",
                good_epoch.as_bytes(),
                b"gen",
                b"1000000000000000",
            ]],
        ),
        (
            "no gen",
            vec![vec![b"HSET", &key, b"epoch", good_epoch.as_bytes()]],
        ),
    ];
    for (what, commands) in cases {
        server.command(&[b"FLUSHALL"]);
        for command in &commands {
            server.command(command);
        }
        // No record: an Acquire that saw none takes the lock, a Publish writes generation 1.
        let reply = run(&store, &acquire(&scope, None, owner(1)));
        assert!(
            matches!(reply, StoreReply::Acquired),
            "{what}: {}",
            describe(&reply)
        );
        let v = published(run(
            &store,
            &publish(&scope, None, owner(1), EPOCH, Some(session(1))),
        ));
        assert_eq!(
            v,
            Version {
                epoch: EPOCH,
                generation: 1
            },
            "{what}"
        );
        let record = moved(run(&store, &acquire(&scope, None, owner(2)))).unwrap();
        assert!(record.session.is_some(), "{what}");
    }

    // A valid version with a 1 MiB blob: a record without a session, replaced by the next
    // publish.
    server.command(&[b"FLUSHALL"]);
    server.command(&[
        b"HSET",
        &key,
        b"epoch",
        good_epoch.as_bytes(),
        b"gen",
        b"41",
        b"blob",
        &big,
    ]);
    let record = moved(run(&store, &acquire(&scope, None, owner(1)))).unwrap();
    assert_eq!(
        record.version,
        Version {
            epoch: EPOCH,
            generation: 41
        }
    );
    assert!(record.session.is_none());
    let v = published(run(
        &store,
        &publish(&scope, Some(record.version), owner(1), 5, Some(session(1))),
    ));
    assert_eq!(
        v,
        Version {
            epoch: EPOCH,
            generation: 42
        }
    );

    // A lock that is not one of ours (another type, or no expiry) does not block sign-ins.
    for garbage in [
        vec![&b"HSET"[..], lock.as_bytes(), b"f", b"v"],
        vec![&b"SET"[..], lock.as_bytes(), b"forever"],
    ] {
        server.command(&[b"DEL", lock.as_bytes()]);
        server.command(&garbage);
        assert!(matches!(
            run(&store, &release(&scope, owner(7))),
            StoreReply::Released
        ));
        let reply = run(&store, &acquire(&scope, Some(v), owner(7)));
        assert!(matches!(reply, StoreReply::Acquired), "{garbage:?}");
        assert!(matches!(
            run(&store, &release(&scope, owner(7))),
            StoreReply::Released
        ));
    }
    // A Publish tolerates a lock of another type too.
    server.command(&[b"DEL", lock.as_bytes()]);
    server.command(&[b"RPUSH", lock.as_bytes(), b"x"]);
    published(run(&store, &publish(&scope, Some(v), owner(8), 0, None)));
}

#[test]
fn scripts_that_redis_forgot_are_sent_again() {
    let server = RedisServer::start();
    let store = store_for(&server);
    let scope = pat_scope();
    assert_eq!(store.round_trips(), 0);
    assert!(matches!(
        run(&store, &acquire(&scope, None, owner(1))),
        StoreReply::Acquired
    ));
    // A connection, an EVALSHA that Redis does not know, the EVAL.
    assert_eq!(store.round_trips(), 3);
    assert!(matches!(
        run(&store, &acquire(&scope, None, owner(2))),
        StoreReply::Busy
    ));
    assert_eq!(store.round_trips(), 4);
    server.command(&[b"SCRIPT", b"FLUSH"]);
    assert!(matches!(
        run(&store, &release(&scope, owner(1))),
        StoreReply::Released
    ));
    assert!(matches!(
        run(&store, &acquire(&scope, None, owner(2))),
        StoreReply::Acquired
    ));
    // Clones count together.
    let clone = store.clone();
    assert!(matches!(
        run(&clone, &release(&scope, owner(2))),
        StoreReply::Released
    ));
    assert_eq!(store.round_trips(), clone.round_trips());
    assert_eq!(store.round_trips(), 4 + 2 + 2 + 1);
}

fn assert_down(error: &StoreError, within: Duration, started: Instant) {
    assert!(
        matches!(
            error,
            StoreError::Connect { .. } | StoreError::Timeout { .. }
        ),
        "{error:?}"
    );
    assert!(started.elapsed() < within, "took {:?}", started.elapsed());
    for shown in [error.to_string(), format!("{error:?}")] {
        assert!(!shown.contains("SENTINEL"), "{shown}");
    }
}

#[test]
fn redis_down_fails_within_the_timeout_and_a_restart_recovers() {
    let mut server = RedisServer::start_with_password(REDIS_PASSWORD);
    let url = format!("redis://:{REDIS_PASSWORD}@127.0.0.1:{}", server.port());
    let timeout = Duration::from_millis(800);
    let store = RedisStore::open(&url).unwrap().timeout(timeout);
    assert!(!format!("{store:?}").contains("SENTINEL"), "{store:?}");
    let scope = pat_scope();
    assert!(matches!(
        run(&store, &acquire(&scope, None, owner(1))),
        StoreReply::Acquired
    ));

    server.stop();
    for _ in 0..3 {
        let started = Instant::now();
        let error = store
            .execute_blocking(&acquire(&scope, None, owner(2)))
            .unwrap_err();
        assert_down(&error, timeout + Duration::from_secs(1), started);
    }

    server.restart();
    // The same store (and its clones) connect again; the restarted server is empty.
    assert!(matches!(
        run(&store, &acquire(&scope, None, owner(2))),
        StoreReply::Acquired
    ));
    assert!(matches!(
        run(&store.clone(), &release(&scope, owner(2))),
        StoreReply::Released
    ));

    // A wrong password: refused, and neither password shows.
    let wrong = format!("redis://:SENTINEL-wrong@127.0.0.1:{}", server.port());
    let store = RedisStore::open(&wrong).unwrap().timeout(timeout);
    let started = Instant::now();
    let error = store
        .execute_blocking(&acquire(&scope, None, owner(3)))
        .unwrap_err();
    assert!(matches!(error, StoreError::Connect { .. }), "{error:?}");
    assert_down(&error, timeout + Duration::from_secs(1), started);
    // With a user name too.
    let named = format!(
        "redis://SENTINEL-user:{REDIS_PASSWORD}@127.0.0.1:{}",
        server.port()
    );
    let store = RedisStore::open(&named).unwrap().timeout(timeout);
    assert!(!format!("{store:?}").contains("SENTINEL"));
    let error = store
        .execute_blocking(&acquire(&scope, None, owner(3)))
        .unwrap_err();
    assert_down(&error, timeout + Duration::from_secs(2), started);
}

/// A server that accepts connections and never answers: kept until the test ends.
fn silent_server() -> (u16, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    let handle = std::thread::spawn(move || {
        let mut held = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline && held.len() < 16 {
            match listener.accept() {
                Ok((stream, _)) => held.push(stream),
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    });
    (port, handle)
}

#[test]
fn a_server_that_never_answers_times_out() {
    let (port, _silent) = silent_server();
    let timeout = Duration::from_millis(500);
    let store = RedisStore::open(&format!("redis://127.0.0.1:{port}"))
        .unwrap()
        .timeout(timeout);
    for _ in 0..2 {
        let started = Instant::now();
        let error = store
            .execute_blocking(&acquire(&pat_scope(), None, owner(1)))
            .unwrap_err();
        assert!(matches!(error, StoreError::Timeout { .. }), "{error:?}");
        assert!(started.elapsed() < timeout + Duration::from_secs(1));
        assert!(error.to_string().contains("within"), "{error}");
    }
}

#[test]
fn a_ready_made_jwt_needs_a_key_of_the_store() {
    let server = RedisServer::start();
    let store = store_for(&server);
    let scope = jwt_scope();
    assert!(matches!(store.keys_for(&scope), Err(StoreError::NoKey)));
    let error = store
        .execute_blocking(&acquire(&scope, None, owner(1)))
        .unwrap_err();
    assert!(matches!(error, StoreError::NoKey), "{error:?}");
    assert!(error.to_string().contains("with_key"));
    assert!(matches!(
        store.clone().with_key(b"too short".to_vec()),
        Err(StoreError::KeyTooShort)
    ));

    let key = b"a fleet key of at least 32 bytes, shared by every process".to_vec();
    let keyed = store.with_key(key.clone()).unwrap();
    let v = published(run(
        &keyed,
        &publish(&scope, None, owner(1), EPOCH, Some(session(1))),
    ));
    // Another process with the same key opens it; one with another key does not.
    let same = store_for(&server).with_key(key).unwrap();
    let record = moved(run(&same, &acquire(&scope, None, owner(2)))).unwrap();
    assert_eq!(record.version, v);
    assert_eq!(*record.session.unwrap().encode(), *session(1).encode());
    let other = store_for(&server).with_key([0_u8; 32]).unwrap();
    assert!(matches!(
        run(&other, &acquire(&scope, None, owner(2))),
        StoreReply::Acquired
    ));
    assert!(!format!("{keyed:?}").contains("fleet key"));
}

/// The async API (feature `tokio`): the same answers, the same limits.
#[cfg(feature = "tokio")]
mod async_api {
    use super::*;

    /// One sequence of operations, the same for both APIs.
    fn sequence() -> Vec<StoreRequest> {
        let scope = pat_scope();
        let v1 = Version {
            epoch: EPOCH,
            generation: 1,
        };
        let v2 = Version {
            epoch: EPOCH,
            generation: 2,
        };
        vec![
            acquire(&scope, None, owner(1)),
            acquire(&scope, None, owner(2)),
            release(&scope, owner(2)),
            publish(&scope, Some(v1), owner(1), EPOCH, Some(session(1))),
            publish(&scope, None, owner(1), EPOCH, Some(session(1))),
            acquire(&scope, None, owner(2)),
            acquire(&scope, Some(v1), owner(2)),
            publish(&scope, Some(v1), owner(2), 3, None),
            acquire(&scope, Some(v1), owner(3)),
            acquire(&scope, Some(v2), owner(3)),
            release(&scope, owner(3)),
            acquire(&jwt_scope(), None, owner(4)),
        ]
    }

    fn outcome(result: Result<StoreReply, StoreError>) -> String {
        match result {
            Ok(reply) => describe(&reply),
            Err(e) => format!("error: {e}"),
        }
    }

    #[tokio::test]
    async fn a_server_that_never_answers_times_out_async() {
        let (port, _silent) = silent_server();
        let timeout = Duration::from_millis(500);
        let store = RedisStore::open(&format!("redis://127.0.0.1:{port}"))
            .unwrap()
            .timeout(timeout);
        for _ in 0..2 {
            let started = Instant::now();
            let error = store
                .execute(&acquire(&pat_scope(), None, owner(1)))
                .await
                .unwrap_err();
            assert!(matches!(error, StoreError::Timeout { .. }), "{error:?}");
            assert!(started.elapsed() < timeout + Duration::from_secs(1));
        }
    }

    #[tokio::test]
    async fn the_async_api_answers_as_the_blocking_one() {
        let blocking_server = RedisServer::start();
        let async_server = RedisServer::start();
        let blocking = store_for(&blocking_server);
        let asynchronous = store_for(&async_server);
        let mut expected = Vec::new();
        let mut got = Vec::new();
        for request in sequence() {
            expected.push(outcome(blocking.execute_blocking(&request)));
            got.push(outcome(asynchronous.execute(&request).await));
        }
        assert_eq!(got, expected);
        assert!(
            expected
                .iter()
                .any(|o| o.starts_with("moved(") && o.ends_with("bytes)"))
        );
        assert!(expected.iter().any(|o| o.contains("no session")));
        assert_eq!(
            expected.last().map(String::as_str),
            Some(
                "error: the credential has no secret to seal the fleet's session with (a ready-made JWT): give the store a key with RedisStore::with_key"
            )
        );
        assert_eq!(blocking.round_trips(), asynchronous.round_trips());
    }

    #[tokio::test]
    async fn the_async_store_recovers_after_a_restart() {
        let mut server = RedisServer::start();
        let timeout = Duration::from_millis(800);
        let store = store_for(&server).timeout(timeout);
        let scope = pat_scope();
        let reply = store
            .execute(&acquire(&scope, None, owner(1)))
            .await
            .unwrap();
        assert!(matches!(reply, StoreReply::Acquired));
        server.stop();
        let started = Instant::now();
        let error = store
            .execute(&acquire(&scope, None, owner(2)))
            .await
            .unwrap_err();
        assert_down(&error, timeout + Duration::from_secs(1), started);
        server.restart();
        let reply = store
            .execute(&acquire(&scope, None, owner(2)))
            .await
            .unwrap();
        assert!(matches!(reply, StoreReply::Acquired));
    }
}
