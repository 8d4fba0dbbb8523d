//! `ClientBuilder::proxy` and the CLI's `--proxy`: the blocking client through an HTTP
//! `CONNECT` proxy, over loopback only (`tableau_auth_tests::connect_proxy`, the proxy the async
//! client's tests use too). TLS runs end to end with the fake, so the proxy must see only
//! `CONNECT host:port` and TLS records; its own credentials go in `Proxy-Authorization` and are
//! never shown.
//!
//! Elapsed times are only checked against an upper bound tied to a configured limit.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use tableau_auth_tests::connect_proxy::*;

fn proxy(mode: Mode) -> ConnectProxy {
    runtime().block_on(ConnectProxy::start(mode))
}

/// Sign-in, a call and sign-out through the proxy: every request reached the server, the
/// proxy saw only `CONNECT`s to the fake with its credentials in `Proxy-Authorization`, and
/// TLS bytes with no password, token or proxy credential in them.
#[test]
fn sign_in_send_and_sign_out_go_through_a_connect_tunnel() {
    let fake = start();
    let proxy = proxy(Mode::Tunnel);
    let url = format!(
        "http://{PROXY_USER}:{PROXY_PASSWORD_ENCODED}@{}",
        proxy.addr
    );
    let mut client = builder(&fake).proxy(url).build().expect("client");
    client
        .sign_in(password())
        .expect("sign-in through the proxy");
    let token = token_of(&client);
    whoami(&mut client).expect("a call through the proxy");
    client.sign_out().expect("sign-out through the proxy");
    assert_eq!(
        describe(&fake.request_log()),
        [
            "GET /api/2.4/serverinfo 200",
            "POST /api/3.25/auth/signin 200",
            "GET /api/3.25/sessions/current 200",
            "POST /api/3.25/auth/signout 204",
        ],
        "every request reached the server"
    );

    let heads = proxy.heads();
    assert!(!heads.is_empty(), "the proxy saw nothing");
    let target = target(&fake);
    for head in &heads {
        assert!(
            head.starts_with(&format!("CONNECT {target} HTTP/1.1\r\n")),
            "only tunnels to the fake: {heads:?}"
        );
        let basic = head
            .lines()
            .filter_map(|l| l.split_once(':'))
            .filter(|(name, _)| name.eq_ignore_ascii_case("proxy-authorization"))
            .map(|(_, value)| value.trim().to_owned())
            .collect::<Vec<_>>();
        assert_eq!(basic, [format!("Basic {PROXY_BASIC}")], "{head}");
    }
    let copied = proxy.copied();
    assert!(copied.starts_with(&[0x16, 0x03]), "TLS from the first byte");
    for secret in proxy_secrets().into_iter().chain([
        PROXY_USER,
        sample::USER_PASSWORD,
        token.as_str(),
        "/api/",
    ]) {
        assert!(!contains(&copied, secret), "the tunnel carried {secret:?}");
    }
    let shown = format!("{client:?}");
    for secret in proxy_secrets() {
        assert!(!shown.contains(secret), "Debug shows {secret:?}");
    }
}

/// A proxy that refuses (`407`) or closes is a typed transport error at once; one that never
/// answers, a timeout within the connect limit. Nothing reached the server, no credential is
/// in the error, and the client is still idle.
#[test]
fn a_refusing_proxy_is_a_typed_error_in_time_and_leaks_nothing() {
    let fake = start();
    for mode in [Mode::Refuse407, Mode::Close, Mode::Silent] {
        let proxy = proxy(mode);
        let url = format!(
            "http://{PROXY_USER}:{PROXY_PASSWORD_ENCODED}@{}",
            proxy.addr
        );
        let connect = Duration::from_millis(500);
        let mut client = builder(&fake)
            .proxy(url)
            .connect_timeout(connect)
            .build()
            .expect("client");
        let started = Instant::now();
        let e = client
            .sign_in(password())
            .expect_err("no sign-in through a refusing proxy");
        assert_within(started, Duration::from_secs(5), "a refusing proxy");
        match (mode, &e) {
            (Mode::Refuse407 | Mode::Close, Error::Transport(text)) => {
                assert!(text.contains("proxy"), "{mode:?}: {text}");
            }
            (Mode::Silent, e) => assert!(e.is_timeout(), "{e:?}"),
            (mode, other) => panic!("{mode:?}: unexpected error {other:?}"),
        }
        let shown = format!("{e} {e:?}");
        for secret in proxy_secrets()
            .into_iter()
            .chain([PROXY_USER, sample::USER_PASSWORD])
        {
            assert!(
                !shown.contains(secret),
                "{mode:?}: the error shows {secret:?}"
            );
        }
        assert!(!client.session().is_signed_in());
        assert!(!proxy.heads().is_empty(), "{mode:?}: the proxy was asked");
        assert!(proxy.copied().is_empty(), "{mode:?}: nothing was tunnelled");
    }
    assert!(fake.request_log().is_empty(), "nothing reached the server");
}

/// The CLI's `--proxy` (and `TABLEAU_PROXY`): `sign-in` through the tunnel; the proxy's
/// password is on no output, not even when the proxy refuses.
#[test]
fn the_cli_signs_in_through_a_proxy_and_never_shows_its_password() {
    let fake = start();
    let ca = fake.ca_file().expect("a CA file");
    for (mode, via_env) in [
        (Mode::Tunnel, false),
        (Mode::Tunnel, true),
        (Mode::Refuse407, false),
    ] {
        let proxy = proxy(mode);
        let url = format!(
            "http://{PROXY_USER}:{PROXY_PASSWORD_ENCODED}@{}",
            proxy.addr
        );
        let mut cli = Command::new(env!("CARGO_BIN_EXE_tableau-auth"));
        cli.args(["--server", fake.base_url(), "--ca-file"])
            .arg(ca)
            .args(["--username", sample::USER_NAME, "--json", "sign-in"])
            .env("TABLEAU_PASSWORD", sample::USER_PASSWORD)
            .env_remove("TABLEAU_PROXY");
        if via_env {
            cli.env("TABLEAU_PROXY", &url);
        } else {
            cli.args(["--proxy", &url]);
        }
        let out = cli.output().expect("the CLI runs");
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        match mode {
            Mode::Tunnel => {
                assert!(out.status.success(), "{stdout}{stderr}");
                assert!(
                    proxy.heads().iter().all(|h| h.starts_with("CONNECT ")),
                    "{:?}",
                    proxy.heads()
                );
                assert!(!proxy.heads().is_empty());
            }
            _ => {
                assert_eq!(out.status.code(), Some(4), "{stdout}{stderr}");
                assert!(stdout.contains("proxy"), "{stdout}");
            }
        }
        for secret in proxy_secrets().into_iter().chain([sample::USER_PASSWORD]) {
            assert!(
                !stdout.contains(secret) && !stderr.contains(secret),
                "{mode:?}: the CLI printed {secret:?}"
            );
        }
    }
}
