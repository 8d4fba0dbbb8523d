//! The tour (`cargo run -p tableau-auth-tests --example tour`), run in-process: every flow's
//! step is printed for both adapters and in order, the summary agrees with the fake servers'
//! request logs, and no secret (the sample's passwords, PAT secrets and connected-app secret,
//! nor any token, JWT or ticket the fakes received) appears in the output.

#[allow(dead_code)]
#[path = "../examples/tour.rs"]
mod tour;

use percent_encoding::percent_decode_str;
use tableau_auth_tests::fake::{FakeServer, LoggedRequest, sample};

/// The step titles printed for `part` (`[1.3] sign in: …` → `sign in: …`), in order.
fn titles(output: &str, part: usize) -> Vec<String> {
    let prefix = format!("[{part}.");
    output
        .lines()
        .filter(|line| line.starts_with(&prefix))
        .filter_map(|line| line.split_once("] "))
        .map(|(_, rest)| {
            // The title, without the right-aligned timing.
            rest.rsplit_once(" ms")
                .and_then(|(head, _)| head.trim_end().rsplit_once(' '))
                .map_or(rest, |(title, _)| title)
                .trim_end()
                .to_owned()
        })
        .collect()
}

/// JWTs (`eyJ….….…`) in `text`.
fn jwts(text: &str) -> Vec<String> {
    let is_jwt_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("eyJ") {
        let tail = &rest[at..];
        let end = tail.find(|c| !is_jwt_char(c)).unwrap_or(tail.len());
        let candidate = &tail[..end];
        if candidate.split('.').count() == 3 {
            found.push(candidate.to_owned());
        }
        rest = &tail[end..];
    }
    found
}

/// Every secret a fake's log shows: session tokens, JWTs (whole, and their signatures) and
/// trusted tickets (as sent in the redemption path, and decoded).
fn secrets_in_log(log: &[LoggedRequest]) -> Vec<String> {
    let mut secrets = Vec::new();
    for entry in log {
        if let Some(token) = entry.token() {
            secrets.push(token.to_owned());
        }
        for jwt in jwts(&entry.body_str()) {
            if let Some((_, signature)) = jwt.rsplit_once('.') {
                secrets.push(signature.to_owned());
            }
            secrets.push(jwt);
        }
        if let Some(rest) = entry.path.strip_prefix("/trusted/") {
            let raw = rest.split('/').next().unwrap_or_default();
            secrets.push(raw.to_owned());
            secrets.push(percent_decode_str(raw).decode_utf8_lossy().into_owned());
        }
    }
    secrets
}

/// The sample's own secrets, raw and as JSON would escape them.
fn sample_secrets() -> Vec<String> {
    let mut secrets = Vec::new();
    for secret in [
        sample::USER_PASSWORD,
        sample::ADMIN_PASSWORD,
        sample::FINANCE_USER_PASSWORD,
        sample::USER_PAT_SECRET,
        sample::ADMIN_PAT_SECRET,
        sample::APP_SECRET_VALUE,
    ] {
        secrets.push(secret.to_owned());
        let json = serde_json::to_string(secret).expect("a JSON string");
        secrets.push(json.trim_matches('"').to_owned());
    }
    secrets
}

fn assert_no_secret(output: &str, secrets: &[String]) {
    for secret in secrets {
        assert!(
            secret.len() >= 6,
            "too short to search for: {} bytes",
            secret.len()
        );
        assert!(
            !output.contains(secret.as_str()),
            "the output shows a secret ({} bytes):\n{output}",
            secret.len()
        );
    }
}

fn start() -> FakeServer {
    tour::start_fake().expect("the fake server starts")
}

#[test]
fn the_tour_walks_every_flow_with_both_adapters_and_prints_no_secret() {
    let (blocking, nonblocking) = (start(), start());
    let mut out = Vec::new();
    let result = tour::run_on(&blocking, &nonblocking, &mut out);
    let output = String::from_utf8(out).expect("UTF-8 output");
    let summary = result.unwrap_or_else(|e| panic!("the tour failed: {e}\n{output}"));

    // Every flow, in order, for both adapters (part 2 adds the tower layer before signing out).
    let part1: Vec<&str> = tour::STEPS.to_vec();
    let mut part2 = part1.clone();
    part2.insert(8, tour::TOWER_STEP);
    assert_eq!(titles(&output, 1), part1, "{output}");
    assert_eq!(titles(&output, 2), part2, "{output}");

    // What each step shows, in each part.
    let (first, second) = output
        .split_once("== Part 2")
        .expect("part 2 has a heading");
    for needle in [
        "REST API 3.25",
        "→ GET /api/2.4/serverinfo  [200]",
        "→ POST /api/3.25/auth/signin  [200]",
        "token ******** (32 bytes)",
        "the PAT expires in",
        "the session belongs to jsmith (1a96d216…), not to admin",
        "→ POST /api/3.25/auth/switchSite  [200]",
        "user jsmith (1a96d216…, Explorer) on site \"Finance Team\" (contentUrl \"Finance\"",
        "sign-ins seen by the fake: 4 → 5",
        "sign-out: confirmed (204)",
        "the old token is refused: 401 401002",
        "ticket ******** (49 bytes)",
        "first redemption: 302 Found with a session cookie",
        "second redemption: 401",
    ] {
        assert!(first.contains(needle), "part 1 lacks {needle:?}:\n{output}");
        assert!(
            second.contains(needle),
            "part 2 lacks {needle:?}:\n{output}"
        );
    }
    // Part 1's ticket is for the Default site, part 2's for Finance; the ticket is masked.
    assert!(first.contains("/trusted/********/views/Superstore/Overview"));
    assert!(second.contains("/trusted/********/t/Finance/views/Superstore/Overview"));
    assert!(output.contains("TableauAuthLayer over client.hyper_client(): 200 OK"));
    assert!(
        output.contains("event: session renewed (generation 6"),
        "{output}"
    );

    // The summary agrees with what the fakes received.
    let expected_steps = [part1.len(), part2.len()];
    for ((part, fake), steps) in summary
        .parts
        .iter()
        .zip([&blocking, &nonblocking])
        .zip(expected_steps)
    {
        let log = fake.request_log();
        let sign_ins: Vec<&LoggedRequest> = log.iter().filter(|e| e.is_signin()).collect();
        assert_eq!(part.steps, steps, "{part:?}");
        assert_eq!(part.requests, log.len(), "{part:?}");
        assert_eq!(part.sign_ins, sign_ins.len(), "{part:?}");
        // Password, PAT, connected app, impersonation, and the renewal after the expiry.
        assert_eq!(part.sign_ins, 5, "{part:?}");
        assert_eq!(part.renewal_sign_ins, 1, "{part:?}");
        assert!(sign_ins.iter().all(|e| e.status == Some(200)), "{part:?}");
        let bodies: Vec<String> = sign_ins.iter().map(|e| e.body_str().into_owned()).collect();
        let with = |needle: &str| bodies.iter().filter(|b| b.contains(needle)).count();
        assert_eq!(with("personalAccessTokenSecret"), 1, "{part:?}");
        assert_eq!(with("jwt"), 1, "one connected-app sign-in: {part:?}");
        // The impersonation, and its renewal after the site switch (on Finance).
        assert_eq!(with(sample::USER_ID), 2, "{part:?}");
        assert_eq!(with(sample::FINANCE_SITE), 1, "{part:?}");
        let count = |method: &str, path: &str, status: u16| {
            log.iter()
                .filter(|e| e.method == method && e.path == path && e.status == Some(status))
                .count()
        };
        assert_eq!(count("GET", "/api/2.4/serverinfo", 200), 1);
        assert_eq!(count("POST", "/api/3.25/auth/switchSite", 200), 1);
        // Three implicit sign-outs (before each new sign-in) and the explicit one.
        assert_eq!(count("POST", "/api/3.25/auth/signout", 204), 4);
        assert_eq!(count("POST", "/trusted", 200), 1);
        let redemptions: Vec<Option<u16>> = log
            .iter()
            .filter(|e| e.path.starts_with("/trusted/"))
            .map(|e| e.status)
            .collect();
        assert_eq!(redemptions, [Some(302), Some(401)], "{part:?}");
        // The expiry was seen (401s on sessions/current), and so was the old token after the
        // sign-out.
        assert!(
            count("GET", "/api/3.25/sessions/current", 401) >= 2,
            "{part:?}"
        );
        assert_eq!(fake.control().live_sessions(), 0, "everything signed out");
    }
    assert_eq!(summary.parts[0].adapter, "tableau-auth-ureq");
    assert_eq!(summary.parts[1].adapter, "tableau-auth-hyper");

    // No secret: neither the sample's nor any token, JWT or ticket the fakes saw.
    let mut secrets = sample_secrets();
    let seen_blocking = secrets_in_log(&blocking.request_log());
    let seen_nonblocking = secrets_in_log(&nonblocking.request_log());
    // Tokens of 5 sign-ins + 1 switch per part were used; the JWTs and tickets were found.
    for seen in [&seen_blocking, &seen_nonblocking] {
        assert!(
            seen.len() >= 8,
            "the log holds the secrets: {} found",
            seen.len()
        );
        assert!(seen.iter().any(|s| s.starts_with("eyJ")), "a JWT was found");
    }
    secrets.extend(seen_blocking);
    secrets.extend(seen_nonblocking);
    assert_no_secret(&output, &secrets);
    assert!(
        !output.contains("workgroup_session_id"),
        "no session cookie"
    );
}

#[test]
fn a_failing_flow_stops_the_tour_with_a_clear_error_and_still_no_secret() {
    let (blocking, nonblocking) = (start(), start());
    // The PAT was revoked: the tour stops at that step.
    blocking
        .control()
        .update_config(|c| {
            for pat in &mut c.pats {
                pat.revoked = true;
            }
        })
        .expect("config");
    let mut out = Vec::new();
    let err = match tour::run_on(&blocking, &nonblocking, &mut out) {
        Ok(summary) => panic!("the tour should fail: {summary:?}"),
        Err(e) => e.to_string(),
    };
    let output = String::from_utf8(out).expect("UTF-8 output");
    assert!(err.starts_with("sign in: personal access token: "), "{err}");
    assert!(err.contains("401001"), "{err}");
    assert_eq!(titles(&output, 1), tour::STEPS[..2].to_vec(), "{output}");
    assert!(titles(&output, 2).is_empty(), "part 2 never started");
    let mut secrets = sample_secrets();
    secrets.extend(secrets_in_log(&blocking.request_log()));
    assert_no_secret(&output, &secrets);
    assert_no_secret(&err, &secrets);
}
