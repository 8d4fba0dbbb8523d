//! One session for a fleet: real OS processes running the `load` example's code with `--redis`
//! share one PAT session through a real `redis-server` (started on a free loopback port and
//! stopped by each test), against the fake Tableau server.
//!
//! The workers are this test binary run again (`worker`, with its arguments in
//! `TABLEAU_AUTH_FLEET_WORKER`): separate processes, each with its own client, runtime and Redis
//! connection; each prints the example's JSON report on a line of its own.

mod common;

#[path = "../examples/load.rs"]
#[allow(dead_code)]
mod load;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use tableau_auth_tests::redis_server::RedisServer;

const WORKER: &str = "TABLEAU_AUTH_FLEET_WORKER";

/// One fleet at a time: each test starts six processes, and the timing of a run (a session
/// dropped mid-run, a lock's TTL) should not depend on how many other fleets share the cores.
static ONE_FLEET: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
const REPORT: &str = "FLEET-REPORT ";
/// Processes, and tasks in each: the floor.
const PROCESSES: usize = 6;
const TASKS: usize = 20;

fn env(name: &str) -> Option<String> {
    match name {
        "TABLEAU_PAT_NAME" => Some(sample::USER_PAT_NAME.to_owned()),
        "TABLEAU_PAT_SECRET" => Some(sample::USER_PAT_SECRET.to_owned()),
        _ => None,
    }
}

/// A worker process: runs the load example with the arguments it was given and prints its
/// report. Run as a plain test, it checks that a worker's arguments parse.
#[test]
fn worker() {
    let Ok(args) = std::env::var(WORKER) else {
        let args = worker_args(
            "https://127.0.0.1:1",
            None,
            "redis://127.0.0.1:1",
            1,
            1,
            0,
            &[],
        );
        let parsed = load::parse_args(args, env).expect("a worker's arguments");
        assert_eq!(parsed.redis.as_deref(), Some("redis://127.0.0.1:1"));
        return;
    };
    let args: Vec<String> = serde_json::from_str(&args).expect("the worker's arguments");
    let args = load::parse_args(args, env).expect("the worker's arguments parse");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let report = runtime.block_on(load::run(args)).expect("the load runs");
    println!("\n{REPORT}{}", report.to_json());
}

fn worker_args(
    server: &str,
    ca_file: Option<&str>,
    redis: &str,
    tasks: usize,
    requests: usize,
    interval_ms: u64,
    extra: &[&str],
) -> Vec<String> {
    let mut args: Vec<String> = [
        "--server",
        server,
        "--redis",
        redis,
        "--tasks",
        &tasks.to_string(),
        "--requests",
        &requests.to_string(),
        "--interval-ms",
        &interval_ms.to_string(),
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    if let Some(ca) = ca_file {
        args.extend(["--ca-file".to_owned(), ca.to_owned()]);
    }
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    args
}

/// A worker's report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Report {
    ok: u64,
    failed: u64,
    sign_ins: u64,
    adopted: u64,
    store_round_trips: u64,
}

impl std::ops::Add for Report {
    type Output = Self;
    fn add(self, o: Self) -> Self {
        Self {
            ok: self.ok + o.ok,
            failed: self.failed + o.failed,
            sign_ins: self.sign_ins + o.sign_ins,
            adopted: self.adopted + o.adopted,
            store_round_trips: self.store_round_trips + o.store_round_trips,
        }
    }
}

/// The fake (TLS) and a Redis, for one test.
struct World {
    fake: FakeServer,
    redis: RedisServer,
}

impl World {
    async fn start() -> Self {
        Self {
            fake: start().await,
            redis: RedisServer::start(),
        }
    }

    /// Waits for the other fleets to finish (see [`ONE_FLEET`]).
    async fn alone() -> tokio::sync::MutexGuard<'static, ()> {
        ONE_FLEET.lock().await
    }

    /// Starts `n` workers of `tasks` tasks making `requests` calls `interval_ms` apart.
    fn spawn(
        &self,
        n: usize,
        tasks: usize,
        requests: usize,
        interval_ms: u64,
        extra: &[&str],
    ) -> Vec<Child> {
        let ca = self.fake.ca_file().expect("a CA file");
        let args = worker_args(
            self.fake.base_url(),
            Some(&ca.to_string_lossy()),
            &self.redis.url(),
            tasks,
            requests,
            interval_ms,
            extra,
        );
        let args = serde_json::to_string(&args).expect("JSON");
        (0..n)
            .map(|_| {
                Command::new(std::env::current_exe().expect("this test binary"))
                    .args(["--exact", "worker", "--nocapture", "--test-threads", "1"])
                    .env(WORKER, &args)
                    .stdout(Stdio::piped())
                    .stderr(Stdio::inherit())
                    .spawn()
                    .expect("a worker process")
            })
            .collect()
    }

    /// The fleet's sign-ins as the fake saw them (answered or not).
    fn sign_ins(&self) -> usize {
        sign_ins(&self.fake.request_log())
    }

    /// Waits until the fake has answered at least `n` authorized calls.
    async fn calls_answered(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let answered = self
                .fake
                .request_log()
                .iter()
                .filter(|r| r.path.ends_with("/sessions/current") && r.status == Some(200))
                .count();
            if answered >= n {
                return;
            }
            assert!(Instant::now() < deadline, "only {answered} calls answered");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Waits for every worker and adds up their reports.
async fn join(children: Vec<Child>) -> Report {
    tokio::task::spawn_blocking(move || {
        children
            .into_iter()
            .map(|mut child| {
                let stdout = child.stdout.take().expect("piped");
                // Read to the end: the worker's harness prints more after the report.
                let lines: Vec<String> = BufReader::new(stdout)
                    .lines()
                    .map_while(Result::ok)
                    .collect();
                let line = lines
                    .iter()
                    // libtest may print "test worker ... " on the same line first.
                    .find_map(|l| l.split_once(REPORT).map(|(_, json)| json.to_owned()));
                let status = child.wait().expect("the worker ends");
                let line = line.unwrap_or_else(|| panic!("a worker printed no report ({status})"));
                let json: serde_json::Value = serde_json::from_str(&line).expect("JSON");
                let n = |k: &str| json[k].as_u64().unwrap_or_else(|| panic!("{k} in {line}"));
                Report {
                    ok: n("ok"),
                    failed: n("failed"),
                    sign_ins: n("sign_ins"),
                    adopted: n("adopted"),
                    store_round_trips: n("store_round_trips"),
                }
            })
            .fold(Report::default(), |a, b| a + b)
    })
    .await
    .expect("the workers")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_of_processes_signs_in_once() {
    let _alone = World::alone().await;
    let world = World::start().await;
    let report = join(world.spawn(PROCESSES, TASKS, 10, 0, &[])).await;
    assert_eq!(report.failed, 0, "{report:?}");
    assert_eq!(report.ok, (PROCESSES * TASKS * 10) as u64);
    assert_eq!(report.sign_ins, 1, "one sign-in for the fleet: {report:?}");
    assert_eq!(report.adopted, PROCESSES as u64 - 1, "{report:?}");
    assert_eq!(world.sign_ins(), 1);
    // The hot path never touches Redis: a few round trips per process, not one per call.
    assert!(
        report.store_round_trips < (PROCESSES * 20) as u64,
        "{report:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_the_server_drops_mid_run_costs_the_fleet_one_sign_in() {
    let _alone = World::alone().await;
    let world = World::start().await;
    let workers = world.spawn(PROCESSES, TASKS, 30, 30, &[]);
    world.calls_answered(PROCESSES * TASKS).await;
    assert!(world.fake.control().drop_sessions(None) >= 1);
    let report = join(workers).await;
    assert_eq!(report.failed, 0, "{report:?}");
    assert_eq!(report.sign_ins, 2, "exactly one more: {report:?}");
    assert_eq!(world.sign_ins(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_past_the_idle_limit_costs_the_fleet_one_sign_in() {
    let _alone = World::alone().await;
    let world = World::start().await;
    let workers = world.spawn(PROCESSES, TASKS, 30, 30, &[]);
    world.calls_answered(PROCESSES * TASKS).await;
    // The server's clock moves past its idle limit: every session of the fleet lapses at once.
    world.fake.control().advance(Duration::from_secs(5 * 3600));
    let report = join(workers).await;
    assert_eq!(report.failed, 0, "{report:?}");
    assert_eq!(report.sign_ins, 2, "exactly one more: {report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outsider_signing_in_with_the_pat_costs_the_fleet_one_sign_in() {
    let _alone = World::alone().await;
    let world = World::start().await;
    let workers = world.spawn(PROCESSES, TASKS, 30, 30, &[]);
    world.calls_answered(PROCESSES * TASKS).await;
    // A cron job without the store signs in with the same PAT: the fleet's session ends.
    let outsider = builder(&world.fake).build().expect("a client");
    outsider
        .sign_in(SignIn::new(
            Credentials::personal_access_token(sample::USER_PAT_NAME, sample::USER_PAT_SECRET),
            "",
        ))
        .await
        .expect("the outsider signs in");
    let report = join(workers).await;
    assert_eq!(report.failed, 0, "{report:?}");
    assert_eq!(
        report.sign_ins, 2,
        "one re-sign-in by the fleet: {report:?}"
    );
    assert_eq!(world.sign_ins(), 3, "the fleet's two and the outsider's");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_stopped_mid_run_fails_no_call() {
    let _alone = World::alone().await;
    let mut world = World::start().await;
    let workers = world.spawn(PROCESSES, TASKS, 30, 30, &[]);
    world.calls_answered(PROCESSES * TASKS).await;
    world.redis.stop();
    let report = join(workers).await;
    assert_eq!(report.failed, 0, "{report:?}");
    assert_eq!(report.sign_ins, 1, "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restarted_empty_then_a_dropped_session_costs_one_sign_in() {
    let _alone = World::alone().await;
    let mut world = World::start().await;
    let workers = world.spawn(PROCESSES, TASKS, 40, 30, &[]);
    world.calls_answered(PROCESSES * TASKS).await;
    world.redis.restart();
    world.calls_answered(2 * PROCESSES * TASKS).await;
    assert!(world.fake.control().drop_sessions(None) >= 1);
    let report = join(workers).await;
    assert_eq!(report.failed, 0, "{report:?}");
    assert_eq!(report.sign_ins, 2, "exactly one more: {report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_holding_the_lock_is_taken_over_after_its_ttl() {
    let _alone = World::alone().await;
    let world = World::start().await;
    // The first sign-in never gets an answer: its worker holds the lock when it is killed.
    world
        .fake
        .control()
        .add_fault(FaultRule::exact(SIGNIN, Fault::Hang).method("POST").once());
    let mut holder = world.spawn(1, 1, 1, 0, &["--lock-ttl-ms", "2000"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while world.sign_ins() == 0 {
        assert!(
            Instant::now() < deadline,
            "the first worker never signed in"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for child in &mut holder {
        child.kill().expect("SIGKILL");
        child.wait().expect("reaped");
    }
    let started = Instant::now();
    let report = join(world.spawn(PROCESSES, TASKS, 5, 0, &["--lock-ttl-ms", "2000"])).await;
    assert_eq!(report.failed, 0, "{report:?}");
    assert_eq!(report.sign_ins, 1, "one takes over: {report:?}");
    assert_eq!(world.sign_ins(), 2, "the killed one's and the take-over");
    assert!(
        started.elapsed() >= Duration::from_millis(1000),
        "the others waited for the lock to expire"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_cancelled_holding_the_lock_releases_it_for_the_others() {
    // The common case of a lock left behind: a task dropped by its caller's own timeout while
    // its sign-in hangs. The lock's TTL is the default 30 s; the others must not wait it out.
    let _alone = World::alone().await;
    let world = World::start().await;
    let fleet_client = || {
        let store = tableau_auth_redis::RedisStore::open(&world.redis.url()).expect("a store");
        builder(&world.fake)
            .sign_in(pat())
            .session_store(store, proto::FleetConfig::new())
            .build()
            .expect("a client")
    };
    let (holder, other) = (fleet_client(), fleet_client());
    holder.server_info().await.expect("server info");
    world
        .fake
        .control()
        .add_fault(FaultRule::exact(SIGNIN, Fault::Hang).method("POST").once());
    let cancelled =
        tokio::time::timeout(Duration::from_millis(500), holder.current_or_sign_in()).await;
    assert!(cancelled.is_err(), "the hung sign-in was cancelled");
    assert_eq!(
        world.sign_ins(),
        1,
        "the holder's sign-in reached the server"
    );
    let started = Instant::now();
    other
        .current_or_sign_in()
        .await
        .expect("the other process signs in");
    let waited = started.elapsed();
    assert!(
        waited < Duration::from_secs(15),
        "the other process waited {waited:?}, as for the lock's 30 s TTL"
    );
    assert_eq!(
        world.sign_ins(),
        2,
        "the other process signed in for the fleet"
    );
    let answer = other
        .send(current_request(&other))
        .await
        .expect("the other process's call");
    assert_eq!(answer.status(), 200);
    // And the holder's process adopts that session instead of signing in again.
    holder
        .current_or_sign_in()
        .await
        .expect("the holder adopts");
    assert_eq!(world.sign_ins(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_holds_no_token_secret_pat_name_or_user_name() {
    let _alone = World::alone().await;
    let world = World::start().await;
    let report = join(world.spawn(2, 4, 3, 0, &[])).await;
    assert_eq!((report.failed, report.sign_ins), (0, 1), "{report:?}");
    let tokens: Vec<String> = world
        .fake
        .request_log()
        .iter()
        .filter_map(|r| r.headers.get("x-tableau-auth").cloned())
        .collect();
    assert!(!tokens.is_empty());
    // Everything Redis holds, raw.
    let mut raw = Vec::new();
    let keys = world.redis.query(&[b"KEYS", b"*"]);
    assert!(!keys.items().is_empty(), "the fleet's record is there");
    for key in keys.items() {
        let key = key.bytes().expect("a key");
        raw.extend_from_slice(key);
        raw.extend(world.redis.command(&[b"HGETALL", key]));
        raw.extend(world.redis.command(&[b"GET", key]));
    }
    let raw = String::from_utf8_lossy(&raw);
    for secret in tokens.iter().map(String::as_str).chain([
        sample::USER_PAT_SECRET,
        sample::USER_PAT_NAME,
        sample::USER_NAME,
        sample::USER_ID,
    ]) {
        assert!(!raw.contains(secret), "Redis holds {secret:?} in clear");
    }
}
