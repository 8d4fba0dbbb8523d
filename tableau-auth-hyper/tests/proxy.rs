//! `ClientBuilder::proxy`: the async client through an HTTP proxy, over loopback only (the
//! test proxy is `tableau_auth_tests::connect_proxy`, which the blocking client's tests use too).
//!
//! Elapsed times are only checked against an upper bound tied to a configured limit.

mod common;

use std::time::{Duration, Instant};

use common::*;
use tableau_auth_tests::connect_proxy::*;

/// A password sign-in, a `send`, a JWT sign-in (which signs the first session out), another
/// `send` and a sign-out, all through the proxy: it saw only `CONNECT`s to the fake's host:port,
/// and the bytes it copied are TLS, with no password, token or JWT in them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_send_and_sign_out_go_through_a_connect_tunnel() {
    let fake = start().await;
    let proxy = ConnectProxy::start(Mode::Tunnel).await;
    let client = builder(&fake)
        .proxy(proxy.url())
        .build()
        .expect("the client builds");

    client
        .sign_in(password())
        .await
        .expect("password sign-in through the proxy");
    let first_token = token_of(&client);
    let me = whoami(&client, Format::Xml).await.expect("send");
    assert_eq!(me.user_id, sample::USER_ID);

    let jwt = hand_jwt(&fake, sample::USER_NAME);
    client
        .sign_in(SignIn::new(Credentials::jwt(jwt.clone()), ""))
        .await
        .expect("JWT sign-in through the proxy");
    let second_token = token_of(&client);
    assert_ne!(first_token, second_token);
    let me = whoami(&client, Format::Json).await.expect("send");
    assert_eq!(me.user_id, sample::USER_ID);
    assert_eq!(
        client.sign_out().await.expect("sign-out"),
        SignOut::Confirmed
    );

    assert_eq!(
        describe(&fake.request_log()),
        [
            "GET /api/2.4/serverinfo 200",
            "POST /api/3.25/auth/signin 200",
            "GET /api/3.25/sessions/current 200",
            "POST /api/3.25/auth/signout 204",
            "POST /api/3.25/auth/signin 200",
            "GET /api/3.25/sessions/current 200",
            "POST /api/3.25/auth/signout 204",
        ],
        "every request reached the server"
    );

    let target = target(&fake);
    let heads = proxy.heads();
    assert!(!heads.is_empty(), "the proxy saw nothing");
    for head in &heads {
        let mut lines = head.lines();
        assert_eq!(
            lines.next(),
            Some(format!("CONNECT {target} HTTP/1.1").as_str()),
            "only tunnels to the fake: {heads:?}"
        );
        let headers: Vec<String> = lines
            .filter(|l| !l.is_empty())
            .map(str::to_ascii_lowercase)
            .collect();
        assert_eq!(headers, [format!("host: {target}")], "{heads:?}");
    }

    let copied = proxy.copied();
    assert!(
        copied.starts_with(&[0x16, 0x03]),
        "the tunnel starts with a TLS handshake record"
    );
    for secret in [
        sample::USER_PASSWORD,
        &first_token,
        &second_token,
        &jwt,
        "X-Tableau-Auth",
        "x-tableau-auth",
        "/api/",
    ] {
        assert!(
            !contains(&copied, secret),
            "the proxy saw something in clear text"
        );
        assert!(!heads.iter().any(|h| h.contains(secret)));
    }
}

/// Credentials in the proxy URL become `Proxy-Authorization: Basic` on the `CONNECT` (decoded
/// from percent-encoding first); `Debug` of the builder and of the client never shows them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_credentials_are_basic_auth_on_connect_and_never_shown() {
    let fake = start().await;
    let proxy = ConnectProxy::start(Mode::Tunnel).await;
    let url = format!(
        "http://{PROXY_USER}:{PROXY_PASSWORD_ENCODED}@{}",
        proxy.addr
    );
    let builder = builder(&fake).proxy(&url).sign_in(pat());
    let debug = format!("{builder:?}");
    assert!(debug.contains(&proxy.addr.to_string()), "{debug}");
    let client = builder.build().expect("the client builds");
    // The first `send` signs in with the builder's PAT on the way.
    let response = client
        .send(get_as(Format::Xml, current_url(&fake)))
        .await
        .expect("send");
    assert_eq!(parse_me(response.body()).user_id, sample::USER_ID);
    client.sign_out().await.expect("sign-out");

    let heads = proxy.heads();
    assert!(!heads.is_empty(), "the proxy saw nothing");
    for head in &heads {
        let auth: Vec<&str> = head
            .lines()
            .filter(|l| l.to_ascii_lowercase().starts_with("proxy-authorization:"))
            .collect();
        assert_eq!(
            auth.len(),
            1,
            "one Proxy-Authorization per CONNECT: {}",
            head.lines().next().unwrap_or_default()
        );
        let value = auth[0]
            .split_once(':')
            .map(|(_, v)| v.trim())
            .unwrap_or_default();
        assert!(
            value == format!("Basic {PROXY_BASIC}"),
            "not the Basic value"
        );
    }
    let copied = proxy.copied();
    for secret in proxy_secrets()
        .into_iter()
        .chain([PROXY_USER, sample::USER_PAT_SECRET])
    {
        assert!(!contains(&copied, secret), "a secret crossed the tunnel");
    }
    let shown = format!("{debug} {client:?} {:?}", client.hyper_client());
    for secret in proxy_secrets() {
        assert!(!shown.contains(secret), "Debug shows a proxy secret");
    }
}

/// A proxy that refuses the tunnel with `407`, or closes, is a typed transport error at once; one
/// that never answers is a `connect` timeout bounded by the connect timeout. Nothing reached the
/// server, and no proxy credential is in the error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusing_proxy_is_a_typed_error_in_time_and_leaks_nothing() {
    let fake = start().await;
    for mode in [Mode::Refuse407, Mode::Close, Mode::Silent] {
        let proxy = ConnectProxy::start(mode).await;
        let url = format!(
            "http://{PROXY_USER}:{PROXY_PASSWORD_ENCODED}@{}",
            proxy.addr
        );
        let connect = Duration::from_millis(500);
        let client = builder(&fake)
            .proxy(&url)
            .connect_timeout(connect)
            .build()
            .expect("the client builds");
        let started = Instant::now();
        let e = client
            .sign_in(password())
            .await
            .expect_err("no sign-in through a refusing proxy");
        assert_within(started, Duration::from_secs(5), "a refusing proxy");
        match (mode, &e) {
            (Mode::Refuse407, Error::Transport(text)) => {
                assert!(text.contains("proxy authorization required"), "{text}");
            }
            (Mode::Close, Error::Transport(text)) => {
                assert!(text.contains("tunnel error"), "{text}");
            }
            (Mode::Silent, Error::Timeout { phase, limit }) => {
                assert_eq!((*phase, *limit), ("connect", connect));
            }
            (mode, other) => panic!("{mode:?}: unexpected error {other:?}"),
        }
        let shown = format!("{e} {e:?}");
        for secret in proxy_secrets()
            .into_iter()
            .chain([PROXY_USER, sample::USER_PASSWORD])
        {
            assert!(
                !shown.contains(secret),
                "{mode:?}: the error shows a secret"
            );
        }
        assert!(!client.is_signed_in());
        let heads = proxy.heads();
        assert!(!heads.is_empty(), "{mode:?}: the proxy was asked");
        assert!(
            heads
                .iter()
                .all(|h| h.starts_with(&format!("CONNECT {} ", target(&fake)))),
            "{mode:?}: only CONNECTs"
        );
        assert!(
            proxy.copied().is_empty(),
            "{mode:?}: nothing went through a tunnel"
        );
    }
    assert!(fake.request_log().is_empty(), "nothing reached the server");
}

/// An unusable proxy URL fails `build` with `Error::Config`, whose text (and the builder's
/// `Debug`) never repeats the URL's password.
#[test]
fn an_invalid_proxy_url_is_a_config_error_that_does_not_echo_credentials() {
    for url in [
        "not a url at all",
        "proxy.corp:3128",
        "https://svc:pw-secret-1@proxy.corp:3128",
        "socks5://svc:pw-secret-1@proxy.corp:1080",
        "http://svc:pw-secret-1@proxy.corp:3128/some/path",
        "http://svc:pw-secret-1@proxy.corp:3128/?q=1",
        "http://svc:pw secret-1@proxy.corp:3128",
        "http://svc:pw-secret-1@:3128",
        "",
    ] {
        let builder = Client::builder("https://tableau.example.com").proxy(url);
        let debug = format!("{builder:?}");
        let e = builder
            .build()
            .expect_err("an unusable proxy URL is refused");
        assert!(matches!(e, Error::Config(_)), "not a config error: {e:?}");
        let shown = format!("{e} {e:?} {debug}");
        assert!(shown.contains("proxy"), "{shown}");
        assert!(
            !shown.contains("secret-1"),
            "the error repeats the password"
        );
    }
    // A good one builds, with or without credentials; only the host and port are shown.
    for url in [
        "http://proxy.corp:3128",
        "http://proxy.corp",
        "http://svc:pw-secret-1@proxy.corp:3128/",
        "http://[::1]:3128",
    ] {
        let builder = Client::builder("https://tableau.example.com").proxy(url);
        let debug = format!("{builder:?}");
        assert!(!debug.contains("secret-1"), "{debug}");
        let client = builder.build().expect("a usable proxy URL");
        let debug = format!("{client:?} {:?}", client.hyper_client());
        assert!(!debug.contains("secret-1"), "{debug}");
    }
}
