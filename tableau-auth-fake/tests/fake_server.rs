//! Tests of the fake Tableau Server itself, through a minimal raw HTTP client (hyper's
//! connection-level client over TCP, with tokio-rustls trusting the fake's CA).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::{Value, json};
use tableau_auth_fake::{
    ControlError, FakeConfig, FakeOptions, FakeServer, Fault, FaultRule, Listener, PastLastPage,
    PatConfig, ServerCert, UserConfig, ViewWithoutSession, sample, sign_hs256,
};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

// -------------------------------------------------------------------------------------------
// A minimal client

struct Client {
    tls: Option<TlsConnector>,
}

struct Resp {
    status: u16,
    headers: http::HeaderMap,
    body: String,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    /// The error code, from an XML or a JSON error body.
    fn code(&self) -> String {
        xml_attr(&self.body, "error", "code")
            .or_else(|| self.json()["error"]["code"].as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    fn detail(&self) -> String {
        let b = &self.body;
        match (b.find("<detail>"), b.find("</detail>")) {
            (Some(s), Some(e)) if s < e => b[s + 8..e].to_owned(),
            _ => self.json()["error"]["detail"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        }
    }
}

impl Client {
    fn new(server: &FakeServer) -> Self {
        let tls = server.ca_pem().map(|pem| {
            let mut roots = rustls::RootCertStore::empty();
            let ca = CertificateDer::from_pem_slice(pem.as_bytes()).expect("CA pem");
            roots.add(ca).expect("add CA");
            let config = rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
            TlsConnector::from(Arc::new(config))
        });
        Self { tls }
    }

    /// Sends one request on a fresh connection and returns the response head + streaming body.
    async fn raw(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<hyper::Response<Incoming>, BoxError> {
        let (https, rest) = if let Some(r) = url.strip_prefix("https://") {
            (true, r)
        } else if let Some(r) = url.strip_prefix("http://") {
            (false, r)
        } else {
            return Err("bad url".into());
        };
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let path = if path.is_empty() { "/" } else { path };
        let tcp = TcpStream::connect(authority).await?;
        let req = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", authority);
        let req = headers
            .iter()
            .fold(req, |r, (k, v)| r.header(*k, *v))
            .body(Full::new(Bytes::copy_from_slice(body)))?;
        if https {
            let connector = self.tls.as_ref().ok_or("no CA for https")?;
            let name = ServerName::try_from("127.0.0.1")?.to_owned();
            let stream = connector.connect(name, tcp).await?;
            let (mut sender, conn) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
            tokio::spawn(conn);
            Ok(sender.send_request(req).await?)
        } else {
            let (mut sender, conn) =
                hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await?;
            tokio::spawn(conn);
            Ok(sender.send_request(req).await?)
        }
    }

    async fn call(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Resp, BoxError> {
        let resp = self.raw(method, url, headers, body).await?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await?.to_bytes();
        Ok(Resp {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        })
    }

    async fn get(&self, url: &str, headers: &[(&str, &str)]) -> Resp {
        self.call("GET", url, headers, b"").await.expect("GET")
    }

    async fn post(&self, url: &str, headers: &[(&str, &str)], body: &str) -> Resp {
        self.call("POST", url, headers, body.as_bytes())
            .await
            .expect("POST")
    }
}

/// `attr` of the first `<elem ...>` tag (no namespace prefix), unescaped for the basic entities.
fn xml_attr(body: &str, elem: &str, attr: &str) -> Option<String> {
    let open = format!("<{elem}");
    let mut from = 0;
    while let Some(pos) = body[from..].find(&open) {
        let start = from + pos;
        let after = &body[start + open.len()..];
        if after.starts_with([' ', '>', '/']) {
            let tag = &after[..after.find('>')?];
            let key = format!(" {attr}=\"");
            let v = tag.find(&key)? + key.len();
            let end = tag[v..].find('"')?;
            return Some(
                tag[v..v + end]
                    .replace("&quot;", "\"")
                    .replace("&lt;", "<")
                    .replace("&gt;", ">")
                    .replace("&apos;", "'")
                    .replace("&amp;", "&"),
            );
        }
        from = start + open.len();
    }
    None
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('"', "&quot;")
}

fn pw_xml(name: &str, password: &str, site: &str) -> String {
    format!(
        "<tsRequest><credentials name=\"{}\" password=\"{}\"><site contentUrl=\"{}\" /></credentials></tsRequest>",
        esc(name),
        esc(password),
        esc(site)
    )
}

fn pat_xml(name: &str, secret: &str, site: &str) -> String {
    format!(
        "<tsRequest><credentials personalAccessTokenName=\"{}\" personalAccessTokenSecret=\"{}\"><site contentUrl=\"{}\" /></credentials></tsRequest>",
        esc(name),
        esc(secret),
        esc(site)
    )
}

fn jwt_xml(jwt: &str, site: &str) -> String {
    format!(
        "<tsRequest><credentials jwt=\"{}\" isUat=\"false\"><site contentUrl=\"{}\" /></credentials></tsRequest>",
        esc(jwt),
        esc(site)
    )
}

fn with_user(body: &str, user_id: &str) -> String {
    body.replace(
        "</credentials>",
        &format!("<user id=\"{user_id}\" /></credentials>"),
    )
}

const V: &str = "3.25";

async fn start(options: FakeOptions) -> (FakeServer, Client) {
    let server = FakeServer::start(FakeConfig::sample(), options)
        .await
        .expect("start fake");
    let client = Client::new(&server);
    (server, client)
}

fn api(server: &FakeServer, path: &str) -> String {
    format!("{}/api/{V}/{path}", server.base_url())
}

/// Signs in with an XML body; returns (token, site id, user id).
async fn sign_in(server: &FakeServer, client: &Client, body: &str) -> (String, String, String) {
    let r = client.post(&api(server, "auth/signin"), &[], body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    (
        xml_attr(&r.body, "credentials", "token").expect("token"),
        xml_attr(&r.body, "site", "id").expect("site id"),
        xml_attr(&r.body, "user", "id").expect("user id"),
    )
}

fn mint(now: u64, edit: impl FnOnce(&mut Value, &mut Value)) -> String {
    let mut header = json!({"alg": "HS256", "typ": "JWT", "kid": sample::APP_SECRET_ID, "iss": sample::APP_CLIENT_ID});
    let mut payload = json!({
        "iss": sample::APP_CLIENT_ID,
        "sub": sample::USER_NAME,
        "aud": "tableau",
        "exp": now + 300,
        "iat": now - 5,
        "jti": format!("jti-{now}-{}", rand_suffix()),
        "scp": ["tableau:content:read"],
    });
    edit(&mut header, &mut payload);
    sign_hs256(&header, &payload, sample::APP_SECRET_VALUE)
}

fn rand_suffix() -> u128 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    u128::from(N.fetch_add(1, Ordering::Relaxed))
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
}

// -------------------------------------------------------------------------------------------
// Server info and versions

#[tokio::test]
async fn serverinfo_xml_json_and_version_gates() {
    let (server, client) = start(FakeOptions::default()).await;
    assert!(server.base_url().starts_with("https://127.0.0.1:"));
    let ca = server.ca_file().expect("ca file");
    assert!(
        std::fs::read_to_string(ca)
            .expect("read ca")
            .contains("BEGIN CERTIFICATE")
    );

    let r = client.get(&api(&server, "serverinfo"), &[]).await;
    assert_eq!(r.status, 200);
    assert!(
        r.header("content-type")
            .unwrap_or("")
            .starts_with("application/xml")
    );
    assert!(
        r.body.contains("xmlns=\"http://tableau.com/api\""),
        "{}",
        r.body
    );
    assert!(r.body.contains("<restApiVersion>3.25</restApiVersion>"));
    assert_eq!(
        xml_attr(&r.body, "productVersion", "build").as_deref(),
        Some(sample::BUILD)
    );

    let url = format!("{}/api/2.4/serverInfo", server.base_url());
    let r = client.get(&url, &[]).await;
    assert_eq!(r.status, 200, "camelCase path works");
    assert!(r.body.contains("ts-api_2_4.xsd"));

    let url = format!("{}/api/3.4/serverinfo", server.base_url());
    let r = client.get(&url, &[("accept", "application/json")]).await;
    let j = r.json();
    assert_eq!(j["serverInfo"]["restApiVersion"], "3.25");
    assert_eq!(
        j["serverInfo"]["productVersion"]["value"],
        sample::PRODUCT_VERSION
    );
    assert_eq!(j["serverInfo"]["serverSettings"]["oAuthEnabled"], true);

    for v in ["2.3", "3.26", "4.0", "x"] {
        let url = format!("{}/api/{v}/serverinfo", server.base_url());
        let r = client.get(&url, &[]).await;
        assert_eq!((r.status, r.code().as_str()), (404, "404003"), "{v}");
    }
    let r = client.post(&api(&server, "serverinfo"), &[], "").await;
    assert_eq!(r.code(), "405000");
    let r = client.get(&api(&server, "no/such/thing"), &[]).await;
    assert_eq!(r.code(), "404003");

    // A legacy (pre-10.1) server.
    server
        .control()
        .update_config(|c| {
            c.legacy_server = true;
            c.product_version = "9.3.4".into();
        })
        .expect("config");
    let r = client.get(&api(&server, "serverInfo"), &[]).await;
    assert_eq!((r.status, r.code().as_str()), (404, "404003"));
    let r = client
        .get(&format!("{}/auth?format=xml", server.base_url()), &[])
        .await;
    assert_eq!(r.status, 200);
    assert!(
        r.body.contains("<product_version>9.3</product_version>"),
        "{}",
        r.body
    );
}

// -------------------------------------------------------------------------------------------
// Sign-in

#[tokio::test]
async fn password_sign_in_xml_and_json() {
    let (server, client) = start(FakeOptions::default()).await;
    let signin = api(&server, "auth/signin");

    // XML, special characters in the password, Default site.
    let body = pw_xml(sample::ADMIN_NAME, sample::ADMIN_PASSWORD, "");
    let r = client
        .post(&signin, &[("content-type", "application/xml")], &body)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let token = xml_attr(&r.body, "credentials", "token").expect("token");
    assert_eq!(token.len(), 32);
    assert!(token.bytes().all(|b| b.is_ascii_alphanumeric()));
    assert_eq!(
        xml_attr(&r.body, "site", "id").as_deref(),
        Some(sample::DEFAULT_SITE_ID)
    );
    assert_eq!(xml_attr(&r.body, "site", "contentUrl").as_deref(), Some(""));
    assert_eq!(
        xml_attr(&r.body, "user", "id").as_deref(),
        Some(sample::ADMIN_ID)
    );
    assert!(xml_attr(&r.body, "credentials", "estimatedTimeToExpiration").is_none());

    // Numeric character references and a namespace prefix are fine too.
    let body = "<?xml version='1.0'?><t:tsRequest xmlns:t=\"http://tableau.com/api\"><t:credentials name=\"jsmith\" password=\"s3cr3t&#33;\"><t:site contentUrl=\"Finance\"/></t:credentials></t:tsRequest>";
    let r = client.post(&signin, &[], body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        xml_attr(&r.body, "site", "id").as_deref(),
        Some(sample::FINANCE_SITE_ID)
    );

    // JSON in, JSON out.
    let body = json!({"credentials": {"name": sample::USER_NAME, "password": sample::USER_PASSWORD, "site": {"contentUrl": "Finance"}}});
    let r = client
        .post(
            &signin,
            &[
                ("content-type", "application/json"),
                ("accept", "application/json"),
            ],
            &body.to_string(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let j = r.json();
    assert_eq!(j["credentials"]["site"]["id"], sample::FINANCE_SITE_ID);
    assert_eq!(j["credentials"]["site"]["contentUrl"], "Finance");
    assert_eq!(j["credentials"]["user"]["id"], sample::USER_ID);
    assert_eq!(j["credentials"]["token"].as_str().map(str::len), Some(32));

    // Rejections: 401001.
    let json_hdr = [("accept", "application/json")];
    for (body, why) in [
        (pw_xml(sample::USER_NAME, "wrong", ""), "wrong password"),
        (pw_xml("nobody", "x", ""), "unknown user"),
        (
            pw_xml(sample::USER_NAME, sample::USER_PASSWORD, "Nowhere"),
            "unknown site",
        ),
        (
            pw_xml(sample::USER_NAME, sample::USER_PASSWORD, "finance"),
            "site case",
        ),
        (
            pw_xml(sample::FINANCE_USER_NAME, sample::FINANCE_USER_PASSWORD, ""),
            "not on site",
        ),
        (pw_xml(sample::SSO_USER_NAME, "", ""), "no password"),
        (
            "<tsRequest><credentials><site contentUrl=\"\"/></credentials></tsRequest>".into(),
            "empty",
        ),
    ] {
        let r = client.post(&signin, &json_hdr, &body).await;
        assert_eq!(
            (r.status, r.code().as_str()),
            (401, "401001"),
            "{why}: {}",
            r.body
        );
        assert_eq!(r.json()["error"]["summary"], "Signin Error");
    }

    // Malformed: 400000.
    for (body, ct) in [
        ("", "application/xml"),
        (
            "<tsRequest><credentials name=\"a\" password=\"b\"></tsRequest>",
            "application/xml",
        ),
        (
            "<tsRequest><credentials name=\"a\" password=\"b\"/></tsRequest>",
            "application/xml",
        ),
        (
            "<tsRequest><credentials name=\"a\" password=\"b\"><site/></credentials></tsRequest>",
            "text/xml",
        ),
        ("<other/>", "application/xml"),
        ("{\"credentials\":", "application/json"),
        (
            "{\"credentials\":{\"name\":\"a\",\"password\":\"b\"}}",
            "application/json",
        ),
        (
            "<tsRequest><credentials name=\"a\" password=\"b\" jwt=\"c\"><site contentUrl=\"\"/></credentials></tsRequest>",
            "application/xml",
        ),
    ] {
        let r = client.post(&signin, &[("content-type", ct)], body).await;
        assert_eq!(
            (r.status, r.code().as_str()),
            (400, "400000"),
            "{body}: {}",
            r.body
        );
    }

    // GET → 405000.
    let r = client.get(&signin, &[]).await;
    assert_eq!((r.status, r.code().as_str()), (405, "405000"));

    // The log kept the password exactly as sent.
    let log = server.request_log();
    assert!(log[0].is_signin());
    assert!(log[0].body_str().contains("p&amp;&lt;&quot;'ä>ss\\word"));
    assert_eq!(log[0].listener, Listener::Https);
}

#[tokio::test]
async fn pat_sign_in_supersedes_previous_session() {
    let (server, client) = start(FakeOptions::default()).await;
    let signin = api(&server, "auth/signin");
    let body = pat_xml(sample::USER_PAT_NAME, sample::USER_PAT_SECRET, "");
    let r = client.post(&signin, &[], &body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let first = xml_attr(&r.body, "credentials", "token").expect("token");
    let eta = xml_attr(&r.body, "credentials", "estimatedTimeToExpiration").expect("eta");
    let parts: Vec<u64> = eta.split(':').map(|p| p.parse().expect("number")).collect();
    assert_eq!(parts.len(), 3);
    assert!(parts[0] == 179 || parts[0] == 180, "{eta}");

    let current = api(&server, "sessions/current");
    assert_eq!(
        client
            .get(&current, &[("x-tableau-auth", &first)])
            .await
            .status,
        200
    );

    // Same PAT again (other site): the first token dies.
    let body = pat_xml(
        sample::USER_PAT_NAME,
        sample::USER_PAT_SECRET,
        sample::FINANCE_SITE,
    );
    let (second, site, _) = sign_in(&server, &client, &body).await;
    assert_eq!(site, sample::FINANCE_SITE_ID);
    let r = client.get(&current, &[("x-tableau-auth", &first)]).await;
    assert_eq!((r.status, r.code().as_str()), (401, "401002"));
    assert_eq!(
        client
            .get(&current, &[("x-tableau-auth", &second)])
            .await
            .status,
        200
    );

    // JSON PAT sign-in (secret with + / = :).
    let body = json!({"credentials": {"personalAccessTokenName": sample::ADMIN_PAT_NAME, "personalAccessTokenSecret": sample::ADMIN_PAT_SECRET, "site": {"contentUrl": ""}}});
    let r = client
        .post(
            &signin,
            &[
                ("content-type", "application/json"),
                ("accept", "application/json"),
            ],
            &body.to_string(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.json()["credentials"]["estimatedTimeToExpiration"]
            .as_str()
            .is_some_and(|e| e.starts_with("364:") || e.starts_with("365:"))
    );

    for (name, secret, why) in [
        (
            sample::REVOKED_PAT_NAME,
            sample::REVOKED_PAT_SECRET,
            "revoked",
        ),
        (
            sample::EXPIRED_PAT_NAME,
            sample::EXPIRED_PAT_SECRET,
            "expired",
        ),
        (sample::USER_PAT_NAME, "wrong", "bad secret"),
        ("no-such-pat", "x", "unknown"),
    ] {
        let r = client.post(&signin, &[], &pat_xml(name, secret, "")).await;
        assert_eq!(r.code(), "401001", "{why}");
    }
    // PAT sign-in needs a 3.6 server, whatever the URL's version: TSC 0.42 signs in at 2.4.
    let pat = pat_xml(sample::USER_PAT_NAME, sample::USER_PAT_SECRET, "");
    for v in ["2.0", "2.4", "3.5"] {
        let url = format!("{}/api/{v}/auth/signin", server.base_url());
        let r = client.post(&url, &[], &pat).await;
        assert_eq!(r.status, 200, "PAT at /api/{v}: {}", r.body);
    }
    server
        .control()
        .update_config(|c| c.rest_api_version = "3.5".into())
        .expect("config");
    let old = format!("{}/api/2.4/auth/signin", server.base_url());
    let r = client.post(&old, &[], &pat).await;
    assert_eq!(r.code(), "401001", "a 3.5 server has no PATs");
    server
        .control()
        .update_config(|c| c.rest_api_version = "3.6".into())
        .expect("config");
    assert_eq!(client.post(&old, &[], &pat).await.status, 200);
    server
        .control()
        .update_config(|c| c.rest_api_version = V.into())
        .expect("config");
    // A PAT expires on the fake clock.
    server.control().advance(Duration::from_secs(181 * 86_400));
    let r = client
        .post(
            &signin,
            &[],
            &pat_xml(sample::USER_PAT_NAME, sample::USER_PAT_SECRET, ""),
        )
        .await;
    assert_eq!(r.code(), "401001");
}

#[tokio::test]
async fn jwt_sign_in_and_error_numbers() {
    let (server, client) = start(FakeOptions::plain()).await;
    let signin = api(&server, "auth/signin");
    let now = server.control().now_unix();

    let good = mint(now, |_, _| {});
    let r = client.post(&signin, &[], &jwt_xml(&good, "")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        xml_attr(&r.body, "user", "id").as_deref(),
        Some(sample::USER_ID)
    );
    let token = xml_attr(&r.body, "credentials", "token").expect("token");
    let r = client.post(&signin, &[], &jwt_xml(&good, "")).await;
    assert_eq!(
        r.detail(),
        "Error signing in to Tableau Server (16)",
        "replay"
    );

    // Scopes are enforced per call: content:read lists workbooks but cannot read users.
    let wb = api(
        &server,
        &format!("sites/{}/workbooks", sample::DEFAULT_SITE_ID),
    );
    assert_eq!(
        client.get(&wb, &[("x-tableau-auth", &token)]).await.status,
        200
    );
    let user = api(
        &server,
        &format!(
            "sites/{}/users/{}",
            sample::DEFAULT_SITE_ID,
            sample::USER_ID
        ),
    );
    let r = client.get(&user, &[("x-tableau-auth", &token)]).await;
    assert_eq!(r.code(), "401002");

    // JSON body, isUat false as a boolean.
    let body = json!({"credentials": {"jwt": mint(now, |_, _| {}), "isUat": false, "site": {"contentUrl": ""}}});
    let r = client
        .post(
            &signin,
            &[
                ("content-type", "application/json"),
                ("accept", "application/json"),
            ],
            &body.to_string(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);

    let other_secret = {
        let header =
            json!({"alg": "HS256", "kid": sample::APP_SECRET_ID, "iss": sample::APP_CLIENT_ID});
        let payload = json!({"iss": sample::APP_CLIENT_ID, "sub": sample::USER_NAME, "aud": "tableau", "exp": now + 60, "jti": "x1", "scp": ["a"]});
        sign_hs256(&header, &payload, "not the secret")
    };
    let disabled = {
        let header = json!({"alg": "HS256", "kid": sample::DISABLED_APP_SECRET_ID, "iss": sample::DISABLED_APP_CLIENT_ID});
        let payload = json!({"iss": sample::DISABLED_APP_CLIENT_ID, "sub": sample::USER_NAME, "aud": "tableau", "exp": now + 60, "jti": "x2", "scp": ["a"]});
        sign_hs256(&header, &payload, sample::DISABLED_APP_SECRET_VALUE)
    };
    let cases: Vec<(String, &str, u32)> = vec![
        ("not-a-jwt".into(), "", 10084),
        ("a.b.c".into(), "", 10084),
        (
            mint(now, |h, _| {
                h.as_object_mut().map(|o| o.remove("kid"));
            }),
            "",
            10083,
        ),
        (
            mint(now, |h, _| {
                h.as_object_mut().map(|o| o.remove("iss"));
            }),
            "",
            10083,
        ),
        (mint(now, |h, _| h["alg"] = json!("none")), "", 10087),
        (mint(now, |h, _| h["iss"] = json!("unknown-app")), "", 126),
        (
            mint(now, |_, p| p["iss"] = json!("someone-else")),
            "",
            10089,
        ),
        (disabled, sample::FINANCE_SITE, 10090),
        (mint(now, |h, _| h["kid"] = json!("other-kid")), "", 10085),
        (other_secret, "", 127),
        (mint(now, |_, p| p["aud"] = json!("tableau-cloud")), "", 16),
        // Well past the 600 s limit, so that a second ticking by during the test cannot matter.
        (mint(now, |_, p| p["exp"] = json!(now + 900)), "", 16),
        (mint(now, |_, p| p["exp"] = json!(now - 1)), "", 16),
        (
            mint(now, |_, p| {
                p.as_object_mut().map(|o| o.remove("exp"));
            }),
            "",
            16,
        ),
        (mint(now, |_, p| p["sub"] = json!("JSMITH")), "", 5),
        (mint(now, |_, p| p["scp"] = json!([])), "", 16),
        (
            mint(now, |_, p| p["scp"] = json!("tableau:content:read")),
            "",
            16,
        ),
        (
            mint(now, |_, p| {
                p.as_object_mut().map(|o| o.remove("jti"));
            }),
            "",
            16,
        ),
        // The app lives on the Default site: on Finance it is not found.
        (mint(now, |_, _| {}), sample::FINANCE_SITE, 126),
    ];
    for (jwt, site, number) in cases {
        let r = client.post(&signin, &[], &jwt_xml(&jwt, site)).await;
        assert_eq!(r.status, 401, "{number}: {}", r.body);
        assert_eq!(r.code(), "401001");
        assert_eq!(
            r.detail(),
            format!("Error signing in to Tableau Server ({number})")
        );
    }
    // A Tableau Server (no Cloud mode) refuses isUat=true (tests/uat.rs has the Cloud mode);
    // JWT needs a 3.16 server, at any URL version.
    let uat = jwt_xml(&mint(now, |_, _| {}), "").replace("isUat=\"false\"", "isUat=\"true\"");
    assert_eq!(client.post(&signin, &[], &uat).await.code(), "401001");
    for v in ["2.4", "3.15"] {
        let url = format!("{}/api/{v}/auth/signin", server.base_url());
        let r = client
            .post(&url, &[], &jwt_xml(&mint(now, |_, _| {}), ""))
            .await;
        assert_eq!(r.status, 200, "JWT at /api/{v}: {}", r.body);
    }
    server
        .control()
        .update_config(|c| c.rest_api_version = "3.15".into())
        .expect("config");
    let old = format!("{}/api/2.4/auth/signin", server.base_url());
    assert_eq!(
        client
            .post(&old, &[], &jwt_xml(&mint(now, |_, _| {}), ""))
            .await
            .code(),
        "401001",
        "a 3.15 server has no connected apps"
    );
    server
        .control()
        .update_config(|c| c.rest_api_version = V.into())
        .expect("config");

    // exp is checked against the fake clock.
    let jwt = mint(now, |_, _| {});
    server.control().advance(Duration::from_secs(301));
    assert_eq!(
        client.post(&signin, &[], &jwt_xml(&jwt, "")).await.detail(),
        "Error signing in to Tableau Server (16)"
    );
}

#[tokio::test]
async fn impersonation_rules() {
    let (server, client) = start(FakeOptions::plain()).await;
    let signin = api(&server, "auth/signin");
    let admin = pw_xml(sample::ADMIN_NAME, sample::ADMIN_PASSWORD, "");
    let (_, _, user) = sign_in(&server, &client, &with_user(&admin, sample::USER_ID)).await;
    assert_eq!(user, sample::USER_ID);
    // Target not on the site, unknown target, non-admin caller.
    for body in [
        with_user(&admin, sample::FINANCE_USER_ID),
        with_user(&admin, "00000000-0000-4000-8000-000000000000"),
        with_user(
            &pw_xml(sample::USER_NAME, sample::USER_PASSWORD, ""),
            sample::SSO_USER_ID,
        ),
    ] {
        assert_eq!(
            client.post(&signin, &[], &body).await.code(),
            "401001",
            "{body}"
        );
    }
    // PAT impersonation: off by default, then on (3.11+ only).
    let pat = with_user(
        &pat_xml(sample::ADMIN_PAT_NAME, sample::ADMIN_PAT_SECRET, ""),
        sample::USER_ID,
    );
    assert_eq!(client.post(&signin, &[], &pat).await.code(), "401001");
    server
        .control()
        .update_config(|c| c.pat_impersonation_enabled = true)
        .expect("config");
    let (_, _, user) = sign_in(&server, &client, &pat).await;
    assert_eq!(user, sample::USER_ID);
    // The 3.11 minimum is the server's: any URL version works on a 3.25 server...
    let old = format!("{}/api/2.4/auth/signin", server.base_url());
    let r = client.post(&old, &[], &pat).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        xml_attr(&r.body, "user", "id").as_deref(),
        Some(sample::USER_ID)
    );
    // ...and no URL version works on a 3.10 server.
    server
        .control()
        .update_config(|c| c.rest_api_version = "3.10".into())
        .expect("config");
    assert_eq!(client.post(&old, &[], &pat).await.code(), "401001");
    server
        .control()
        .update_config(|c| c.rest_api_version = V.into())
        .expect("config");
    // JWT impersonation: sub must be a server admin.
    let now = server.control().now_unix();
    let jwt = mint(now, |_, p| p["sub"] = json!(sample::ADMIN_NAME));
    let (_, _, user) = sign_in(
        &server,
        &client,
        &with_user(&jwt_xml(&jwt, ""), sample::SSO_USER_ID),
    )
    .await;
    assert_eq!(user, sample::SSO_USER_ID);
    let jwt = mint(now, |_, _| {});
    assert_eq!(
        client
            .post(
                &signin,
                &[],
                &with_user(&jwt_xml(&jwt, ""), sample::SSO_USER_ID)
            )
            .await
            .code(),
        "401001"
    );
}

// -------------------------------------------------------------------------------------------
// Sessions

#[tokio::test]
async fn sessions_current_resources_and_site_scoping() {
    let (server, client) = start(FakeOptions::plain()).await;
    let (token, site, _) = sign_in(
        &server,
        &client,
        &pw_xml(sample::USER_NAME, sample::USER_PASSWORD, ""),
    )
    .await;
    let auth = [("x-tableau-auth", token.as_str())];
    let r = client.get(&api(&server, "sessions/current"), &auth).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        xml_attr(&r.body, "site", "name").as_deref(),
        Some("Default")
    );
    assert_eq!(
        xml_attr(&r.body, "user", "name").as_deref(),
        Some(sample::USER_NAME)
    );
    assert_eq!(
        xml_attr(&r.body, "user", "siteRole").as_deref(),
        Some("Creator")
    );
    let r = client
        .get(
            &api(&server, "sessions/current"),
            &[("x-tableau-auth", &token), ("accept", "application/json")],
        )
        .await;
    assert_eq!(r.json()["session"]["user"]["id"], sample::USER_ID);
    let old = format!("{}/api/3.0/sessions/current", server.base_url());
    assert_eq!(client.get(&old, &auth).await.code(), "404003");

    let r = client
        .get(&api(&server, &format!("sites/{site}/workbooks")), &auth)
        .await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("totalAvailable=\"2\""));
    let r = client
        .get(
            &api(&server, &format!("sites/{site}/workbooks")),
            &[("x-tableau-auth", &token), ("accept", "application/json")],
        )
        .await;
    assert_eq!(
        r.json()["workbooks"]["workbook"].as_array().map(Vec::len),
        Some(2)
    );
    let r = client
        .get(
            &api(
                &server,
                &format!("sites/{}/workbooks", sample::FINANCE_SITE_ID),
            ),
            &auth,
        )
        .await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (403, "403010"),
        "another site"
    );
    // A non-administrator reads only themself.
    let r = client
        .get(
            &api(&server, &format!("sites/{site}/users/{}", sample::ADMIN_ID)),
            &auth,
        )
        .await;
    assert_eq!((r.status, r.code().as_str()), (403, "403133"));
    let r = client
        .get(
            &api(&server, &format!("sites/{site}/users/{}", sample::USER_ID)),
            &auth,
        )
        .await;
    assert_eq!(
        xml_attr(&r.body, "user", "name").as_deref(),
        Some(sample::USER_NAME)
    );
    let r = client
        .get(
            &api(
                &server,
                &format!("sites/{site}/users/{}", sample::FINANCE_USER_ID),
            ),
            &auth,
        )
        .await;
    assert_eq!((r.status, r.code().as_str()), (403, "403133"));

    let r = client.get(&api(&server, "sessions/current"), &[]).await;
    assert_eq!((r.status, r.code().as_str()), (401, "401000"));
    let r = client
        .get(
            &api(&server, "sessions/current"),
            &[("x-tableau-auth", "bogus")],
        )
        .await;
    assert_eq!((r.status, r.code().as_str()), (401, "401002"));
}

#[tokio::test]
async fn idle_and_absolute_expiry_follow_the_fake_clock() {
    let (server, client) = start(FakeOptions::plain()).await;
    let control = server.control();
    let current = api(&server, "sessions/current");
    let (token, _, _) = sign_in(
        &server,
        &client,
        &pw_xml(sample::USER_NAME, sample::USER_PASSWORD, ""),
    )
    .await;
    let auth = [("x-tableau-auth", token.as_str())];
    let idle = Duration::from_secs(240 * 60);
    // Each call refreshes the idle timer.
    control.advance(idle - Duration::from_secs(1));
    assert_eq!(client.get(&current, &auth).await.status, 200);
    control.advance(idle - Duration::from_secs(1));
    assert_eq!(client.get(&current, &auth).await.status, 200);
    control.advance(idle);
    let r = client.get(&current, &auth).await;
    assert_eq!((r.status, r.code().as_str()), (401, "401002"));
    assert!(!control.has_session(&token));

    // Absolute lifetime.
    control
        .update_config(|c| c.lifetime_limit_secs = Some(3_600))
        .expect("config");
    let (token, _, _) = sign_in(
        &server,
        &client,
        &pw_xml(sample::USER_NAME, sample::USER_PASSWORD, ""),
    )
    .await;
    let auth = [("x-tableau-auth", token.as_str())];
    control.advance(Duration::from_secs(1_800));
    assert_eq!(client.get(&current, &auth).await.status, 200);
    control.advance(Duration::from_secs(1_800));
    assert_eq!(client.get(&current, &auth).await.code(), "401002");
}

#[tokio::test]
async fn switch_site_and_sign_out() {
    let (server, client) = start(FakeOptions::default()).await;
    let switch = api(&server, "auth/switchSite");
    let (token, _, user) = sign_in(
        &server,
        &client,
        &pw_xml(sample::USER_NAME, sample::USER_PASSWORD, ""),
    )
    .await;
    let to_finance = "<tsRequest><site contentUrl=\"Finance\" /></tsRequest>";

    let r = client
        .post(&switch, &[("x-tableau-auth", &token)], to_finance)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let new_token = xml_attr(&r.body, "credentials", "token").expect("token");
    assert_ne!(new_token, token);
    assert_eq!(
        xml_attr(&r.body, "site", "id").as_deref(),
        Some(sample::FINANCE_SITE_ID)
    );
    assert_eq!(xml_attr(&r.body, "user", "id"), Some(user));
    let current = api(&server, "sessions/current");
    assert_eq!(
        client
            .get(&current, &[("x-tableau-auth", &token)])
            .await
            .code(),
        "401002"
    );

    let r = client
        .post(&switch, &[("x-tableau-auth", &new_token)], to_finance)
        .await;
    assert_eq!((r.status, r.code().as_str()), (403, "403070"));
    let r = client
        .post(
            &switch,
            &[("x-tableau-auth", &new_token)],
            "<tsRequest><site contentUrl=\"Nowhere\"/></tsRequest>",
        )
        .await;
    assert_eq!((r.status, r.code().as_str()), (401, "401001"));
    let r = client
        .post(&switch, &[("x-tableau-auth", &new_token)], "<tsRequest/>")
        .await;
    assert_eq!(r.code(), "400000");
    let r = client.post(&switch, &[], to_finance).await;
    assert_eq!(r.code(), "401000");
    let r = client
        .post(&switch, &[("x-tableau-auth", &token)], to_finance)
        .await;
    assert_eq!(r.code(), "401002");
    let old = format!("{}/api/2.5/auth/switchSite", server.base_url());
    let r = client
        .post(&old, &[("x-tableau-auth", &new_token)], to_finance)
        .await;
    assert_eq!(r.code(), "404003");

    // JSON back to Default.
    let r = client
        .post(
            &switch,
            &[
                ("x-tableau-auth", &new_token),
                ("content-type", "application/json"),
                ("accept", "application/json"),
            ],
            r#"{"site":{"contentUrl":""}}"#,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let third = r.json()["credentials"]["token"]
        .as_str()
        .expect("token")
        .to_owned();

    // A Finance-only user cannot switch to Default.
    let (fin, _, _) = sign_in(
        &server,
        &client,
        &pw_xml(
            sample::FINANCE_USER_NAME,
            sample::FINANCE_USER_PASSWORD,
            "Finance",
        ),
    )
    .await;
    let r = client
        .post(
            &switch,
            &[("x-tableau-auth", &fin)],
            "<tsRequest><site contentUrl=\"\"/></tsRequest>",
        )
        .await;
    assert_eq!(r.code(), "401001");

    // Sign-out: 204, then 401002; no header: 401000.
    let signout = api(&server, "auth/signout");
    let r = client
        .post(&signout, &[("x-tableau-auth", &third)], "")
        .await;
    assert_eq!(r.status, 204);
    assert!(r.body.is_empty());
    let r = client
        .post(&signout, &[("x-tableau-auth", &third)], "")
        .await;
    assert_eq!((r.status, r.code().as_str()), (401, "401002"));
    let r = client.post(&signout, &[], "").await;
    assert_eq!((r.status, r.code().as_str()), (401, "401000"));
    let log = server.control().request_log();
    assert_eq!(
        log.iter()
            .filter(|e| e.path_ends_with("/auth/signout"))
            .count(),
        3
    );
    assert_eq!(
        log.iter().rev().nth(1).and_then(|e| e.token()),
        Some(third.as_str())
    );
}

// -------------------------------------------------------------------------------------------
// Trusted tickets

#[tokio::test]
async fn trusted_tickets() {
    let (server, client) = start(FakeOptions::default()).await;
    let url = format!("{}/trusted", server.base_url());
    let form = [(
        "content-type",
        "application/x-www-form-urlencoded; charset=UTF-8",
    )];
    let ticket = client
        .post(
            &url,
            &form,
            "username=jsmith&target_site=&client_ip=203.0.113.25",
        )
        .await;
    assert_eq!(ticket.status, 200);
    let t = ticket.body.clone();
    assert_eq!(t.len(), 49, "{t}");
    assert!(t[..24].ends_with("=="));
    assert_eq!(&t[24..25], ":");
    let enc = |t: &str| {
        t.replace('+', "%2B")
            .replace('/', "%2F")
            .replace('=', "%3D")
    };
    let redeem = format!(
        "{}/trusted/{}/views/Superstore/Overview?:embed=yes",
        server.base_url(),
        enc(&t)
    );
    let r = client.get(&redeem, &[]).await;
    assert_eq!(r.status, 302);
    assert_eq!(
        r.header("location"),
        Some("/views/Superstore/Overview?:embed=yes")
    );
    assert!(
        r.header("set-cookie")
            .is_some_and(|c| c.starts_with("workgroup_session_id=") && c.contains("Secure"))
    );
    assert_eq!(client.get(&redeem, &[]).await.status, 401, "single use");

    // Named site.
    let t = client
        .post(
            &url,
            &form,
            "username=fin.analyst%40example.com&target_site=Finance",
        )
        .await
        .body;
    let wrong = format!("{}/trusted/{}/views/A/B", server.base_url(), enc(&t));
    assert_eq!(
        client.get(&wrong, &[]).await.status,
        401,
        "ticket for Finance used on Default"
    );
    let t = client
        .post(
            &url,
            &form,
            "username=fin.analyst%40example.com&target_site=Finance",
        )
        .await
        .body;
    let ok = format!(
        "{}/trusted/{}/t/Finance/views/A/B",
        server.base_url(),
        enc(&t)
    );
    let r = client.get(&ok, &[]).await;
    assert_eq!(r.status, 302);
    assert_eq!(r.header("location"), Some("/t/Finance/views/A/B"));

    // Expiry after 180 s on the fake clock.
    let t = client.post(&url, &form, "username=jsmith").await.body;
    server.control().advance(Duration::from_secs(181));
    let late = format!("{}/trusted/{}/views/A/B", server.base_url(), enc(&t));
    assert_eq!(client.get(&late, &[]).await.status, 401);

    // -1 cases, all HTTP 200.
    for (headers, body) in [
        (&form[..], "username=nobody"),
        (&form[..], "username=fin.analyst%40example.com"),
        (&form[..], "username=jsmith&target_site=Nowhere"),
        (&form[..], "target_site="),
        (&[("content-type", "text/plain")][..], "username=jsmith"),
        (&[][..], "username=jsmith"),
    ] {
        let r = client.post(&url, headers, body).await;
        assert_eq!((r.status, r.body.as_str()), (200, "-1"), "{body}");
    }
    server
        .control()
        .update_config(|c| c.trusted_hosts.clear())
        .expect("config");
    assert_eq!(client.post(&url, &form, "username=jsmith").await.body, "-1");
}

// -------------------------------------------------------------------------------------------
// Redirect listener

#[tokio::test]
async fn redirect_listener_and_the_405_symptom() {
    let (server, client) = start(FakeOptions::default()).await;
    let http = server
        .http_redirect_url()
        .expect("redirect listener")
        .to_owned();
    assert!(http.starts_with("http://127.0.0.1:"));
    let body = pw_xml(sample::USER_NAME, sample::USER_PASSWORD, "");
    let r = client
        .post(&format!("{http}/api/{V}/auth/signin?x=1"), &[], &body)
        .await;
    assert_eq!(r.status, 301);
    let location = r.header("location").expect("location").to_owned();
    assert_eq!(
        location,
        format!("{}/api/{V}/auth/signin?x=1", server.base_url())
    );
    // What a client that turns the redirect into a GET sees.
    let r = client.get(&location, &[]).await;
    assert_eq!((r.status, r.code().as_str()), (405, "405000"));

    server.control().set_redirect_status(307).expect("status");
    let r = client
        .post(&format!("{http}/api/{V}/auth/signin"), &[], &body)
        .await;
    assert_eq!(r.status, 307);
    assert_eq!(
        server.control().set_redirect_status(200),
        Err(ControlError::RedirectStatus(200))
    );

    let log = server.request_log();
    let to_http: Vec<_> = log
        .iter()
        .filter(|e| e.listener == Listener::HttpRedirect)
        .collect();
    assert_eq!(to_http.len(), 2);
    assert!(
        to_http
            .iter()
            .all(|e| e.body_str().contains(sample::USER_PASSWORD)),
        "the password went out in clear text"
    );
    assert_eq!(
        log.iter()
            .filter(|e| e.is_signin() && e.listener == Listener::Https)
            .count(),
        1
    );
}

#[tokio::test]
async fn redirect_fault_answers_any_location() {
    let (server, client) = start(FakeOptions::default()).await;
    let elsewhere = "https://127.0.0.1:9/api/3.25/auth/signin";
    server.control().add_fault(
        FaultRule::exact(
            format!("/api/{V}/auth/signin"),
            Fault::Redirect {
                status: 308,
                location: elsewhere.to_owned(),
            },
        )
        .once(),
    );
    let body = pw_xml(sample::USER_NAME, sample::USER_PASSWORD, "");
    let r = client.post(&api(&server, "auth/signin"), &[], &body).await;
    assert_eq!(r.status, 308);
    assert_eq!(r.header("location"), Some(elsewhere));
    // Over the control endpoint, relative locations included; a non-3xx status is refused.
    let rule = json!({"path": format!("/api/{V}/serverinfo"), "times": 1,
        "fault": {"kind": "redirect", "status": 302, "location": "/elsewhere"}});
    let r = client
        .post(
            &format!("{}/_fake/faults", server.base_url()),
            &[],
            &rule.to_string(),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let r = client.get(&api(&server, "serverinfo"), &[]).await;
    assert_eq!((r.status, r.header("location")), (302, Some("/elsewhere")));
    let bad = json!({"path": "/", "fault": {"kind": "redirect", "status": 200, "location": "/"}});
    let r = client
        .post(
            &format!("{}/_fake/faults", server.base_url()),
            &[],
            &bad.to_string(),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    // Both are logged with their status; the next sign-in is answered normally.
    let statuses: Vec<_> = server.request_log().iter().map(|e| e.status).collect();
    assert_eq!(statuses, [Some(308), Some(302)]);
    let r = client.post(&api(&server, "auth/signin"), &[], &body).await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn broken_certificates_fail_the_handshake_before_any_request() {
    use rustls::CertificateError as C;
    let (valid, client) = start(FakeOptions::with_cert(ServerCert::Valid)).await;
    assert_eq!(
        client.get(&api(&valid, "serverinfo"), &[]).await.status,
        200
    );
    assert!(valid.http_redirect_url().is_none());
    type Check = fn(&C) -> bool;
    let cases: [(ServerCert, Check); 4] = [
        (ServerCert::Expired, |e| {
            matches!(e, C::Expired | C::ExpiredContext { .. })
        }),
        (ServerCert::NotYetValid, |e| {
            matches!(e, C::NotValidYet | C::NotValidYetContext { .. })
        }),
        (ServerCert::WrongName, |e| {
            matches!(e, C::NotValidForName | C::NotValidForNameContext { .. })
        }),
        (ServerCert::UnknownCa, |e| matches!(e, C::UnknownIssuer)),
    ];
    for (cert, expected) in cases {
        let (server, client) = start(FakeOptions::with_cert(cert)).await;
        assert!(server.base_url().starts_with("https://127.0.0.1:"));
        // The client trusts the published CA (and connects to 127.0.0.1).
        let err = client
            .call("GET", &api(&server, "serverinfo"), &[], b"")
            .await
            .err()
            .unwrap_or_else(|| panic!("{cert:?}: the handshake succeeded"));
        let rustls_error = err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<rustls::Error>());
        match rustls_error {
            Some(rustls::Error::InvalidCertificate(e)) => {
                assert!(expected(e), "{cert:?}: {e:?}");
            }
            other => panic!("{cert:?}: {other:?} ({err})"),
        }
        assert!(server.request_log().is_empty(), "{cert:?}");
    }
}

// -------------------------------------------------------------------------------------------
// Faults

#[tokio::test]
async fn faults_status_garbage_truncated_huge() {
    let (server, client) = start(FakeOptions::default()).await;
    let control = server.control();
    let info = api(&server, "serverinfo");
    let path = format!("/api/{V}/serverinfo");

    control.add_fault(
        FaultRule::exact(
            &path,
            Fault::Status {
                status: 503,
                retry_after: Some("7".into()),
                body: None,
            },
        )
        .once(),
    );
    let r = client.get(&info, &[]).await;
    assert_eq!(r.status, 503);
    assert_eq!(r.header("retry-after"), Some("7"));
    assert!(
        r.header("content-type")
            .unwrap_or("")
            .starts_with("text/html")
    );
    assert_eq!(client.get(&info, &[]).await.status, 200, "once means once");

    control.add_fault(
        FaultRule::prefix(
            "/api/",
            Fault::Status {
                status: 429,
                retry_after: None,
                body: Some("<html>slow down</html>".into()),
            },
        )
        .method("POST")
        .times(2),
    );
    let signin = api(&server, "auth/signin");
    let body = pw_xml(sample::USER_NAME, sample::USER_PASSWORD, "");
    assert_eq!(client.post(&signin, &[], &body).await.status, 429);
    assert_eq!(client.get(&info, &[]).await.status, 200, "GET not matched");
    assert_eq!(client.post(&signin, &[], &body).await.status, 429);
    assert_eq!(client.post(&signin, &[], &body).await.status, 200);

    control.add_fault(FaultRule::exact(&path, Fault::Garbage).once());
    let r = client.get(&info, &[("accept", "application/json")]).await;
    assert_eq!(r.status, 200);
    assert!(
        r.header("content-type")
            .unwrap_or("")
            .starts_with("application/json")
    );
    assert!(serde_json::from_str::<Value>(&r.body).is_err());
    assert!(!r.body.contains('<'));

    control.add_fault(FaultRule::exact(&path, Fault::Truncated).once());
    let resp = client
        .raw("GET", &info, &[], b"")
        .await
        .expect("head arrives");
    assert_eq!(resp.status(), 200);
    let promised: usize = resp.headers()["content-length"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("number");
    let mut got = 0;
    let mut body = resp.into_body();
    let outcome = loop {
        match body.frame().await {
            Some(Ok(frame)) => got += frame.data_ref().map_or(0, Bytes::len),
            Some(Err(e)) => break Err(e),
            None => break Ok(()),
        }
    };
    assert!(outcome.is_err(), "a truncated body is an error");
    assert!(got > 0 && got < promised, "{got} of {promised}");

    let size: u64 = 64 * 1024 * 1024;
    control.add_fault(FaultRule::exact(&path, Fault::Huge { bytes: size }).once());
    let resp = client.raw("GET", &info, &[], b"").await.expect("head");
    assert_eq!(resp.headers()["content-length"], size.to_string().as_str());
    let mut body = resp.into_body();
    let mut first = Vec::new();
    while first.len() < 1024 {
        let frame = body.frame().await.expect("more").expect("ok");
        first.extend_from_slice(frame.data_ref().expect("data"));
    }
    assert!(first.iter().all(|b| *b == b'<'));
    drop(body);

    let log = control.request_log();
    assert_eq!(log.iter().filter(|e| e.status == Some(429)).count(), 2);
    assert!(control.faults().is_empty());
}

#[tokio::test]
async fn faults_drop_hang_delay() {
    let (server, client) = start(FakeOptions::plain()).await;
    let control = server.control();
    let info = api(&server, "serverinfo");
    let path = format!("/api/{V}/serverinfo");

    control.add_fault(FaultRule::exact(&path, Fault::DropConnection).once());
    assert!(client.call("GET", &info, &[], b"").await.is_err());
    let entry = control.request_log().pop().expect("logged");
    assert_eq!(entry.status, None);

    control.add_fault(FaultRule::exact(&path, Fault::Hang).once());
    let started = Instant::now();
    let r = tokio::time::timeout(
        Duration::from_millis(300),
        client.call("GET", &info, &[], b""),
    )
    .await;
    assert!(r.is_err(), "hang must time out");
    assert!(started.elapsed() >= Duration::from_millis(300));

    control.add_fault(FaultRule::exact(&path, Fault::Delay(Duration::from_millis(400))).times(2));
    let r = tokio::time::timeout(
        Duration::from_millis(100),
        client.call("GET", &info, &[], b""),
    )
    .await;
    assert!(r.is_err(), "short timeout trips on a delay");
    let started = Instant::now();
    let r = client.get(&info, &[]).await;
    assert_eq!(r.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(400));

    // Faults over HTTP.
    let base = server.base_url();
    let rule = json!({"path": path, "times": 1, "fault": {"kind": "status", "status": 500}});
    assert_eq!(
        client
            .post(&format!("{base}/_fake/faults"), &[], &rule.to_string())
            .await
            .status,
        204
    );
    assert_eq!(client.get(&info, &[]).await.status, 500);
    let rules = json!([{"path": "/api/", "prefix": true, "fault": {"kind": "hang"}}]);
    assert_eq!(
        client
            .post(&format!("{base}/_fake/faults"), &[], &rules.to_string())
            .await
            .status,
        204
    );
    assert_eq!(control.faults().len(), 1);
    assert_eq!(
        client
            .call("DELETE", &format!("{base}/_fake/faults"), &[], b"")
            .await
            .expect("delete")
            .status,
        204
    );
    assert_eq!(client.get(&info, &[]).await.status, 200);
    let bad = client
        .post(&format!("{base}/_fake/faults"), &[], "{\"path\":1}")
        .await;
    assert_eq!(bad.status, 400);
    // Shutting down releases a hanging request.
    control.add_fault(FaultRule::exact(&path, Fault::Hang));
    let pending = tokio::spawn({
        let url = info.clone();
        let client = Client { tls: None };
        async move { client.call("GET", &url, &[], b"").await.is_err() }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    server.shutdown();
    let failed = tokio::time::timeout(Duration::from_secs(5), pending)
        .await
        .expect("released")
        .expect("join");
    assert!(failed);
}

// -------------------------------------------------------------------------------------------
// Control over HTTP

#[tokio::test]
async fn control_endpoints() {
    let (server, client) = start(FakeOptions::default()).await;
    let base = server.base_url().to_owned();
    let (token, _, _) = sign_in(
        &server,
        &client,
        &pw_xml(sample::USER_NAME, sample::USER_PASSWORD, ""),
    )
    .await;
    sign_in(
        &server,
        &client,
        &pw_xml(sample::ADMIN_NAME, sample::ADMIN_PASSWORD, ""),
    )
    .await;

    let r = client
        .post(&format!("{base}/_fake/clock/advance?secs=60"), &[], "")
        .await;
    assert_eq!(r.json()["offset_secs"], 60);
    assert_eq!(server.control().clock_offset(), Duration::from_secs(60));
    assert_eq!(
        client
            .post(&format!("{base}/_fake/clock/advance"), &[], "")
            .await
            .status,
        400
    );

    let r = client
        .post(&format!("{base}/_fake/sessions/drop?user=jsmith"), &[], "")
        .await;
    assert_eq!(r.json()["dropped"], 1);
    assert_eq!(
        client
            .get(
                &api(&server, "sessions/current"),
                &[("x-tableau-auth", &token)]
            )
            .await
            .code(),
        "401002"
    );
    assert_eq!(
        client
            .get(&format!("{base}/_fake/sessions"), &[])
            .await
            .json()["live"],
        1
    );
    let r = client
        .post(&format!("{base}/_fake/sessions/drop"), &[], "")
        .await;
    assert_eq!(r.json()["dropped"], 1);

    let log = client.get(&format!("{base}/_fake/log"), &[]).await.json();
    let entries = log.as_array().expect("array");
    assert_eq!(entries.len(), 3, "control requests are not logged");
    assert_eq!(entries[0]["method"], "POST");
    assert!(
        entries[0]["body"]
            .as_str()
            .is_some_and(|b| b.contains("jsmith"))
    );
    assert_eq!(
        client
            .call("DELETE", &format!("{base}/_fake/log"), &[], b"")
            .await
            .expect("delete")
            .status,
        204
    );
    assert!(server.request_log().is_empty());

    let config = client
        .get(&format!("{base}/_fake/config"), &[])
        .await
        .json();
    assert_eq!(config["rest_api_version"], "3.25");
    let mut changed = config.clone();
    changed["rest_api_version"] = json!("3.4");
    assert_eq!(
        client
            .post(&format!("{base}/_fake/config"), &[], &changed.to_string())
            .await
            .status,
        204
    );
    assert_eq!(
        client.get(&api(&server, "serverinfo"), &[]).await.code(),
        "404003",
        "3.25 > 3.4 now"
    );
    changed["rest_api_version"] = json!("three");
    let refused = client
        .post(&format!("{base}/_fake/config"), &[], &changed.to_string())
        .await;
    assert_eq!(refused.status, 400);
    assert_eq!(
        refused.json(),
        json!({"error": "rest_api_version \"three\" is not X.Y"})
    );
    let refused = client
        .post(&format!("{base}/_fake/redirect?status=200"), &[], "")
        .await;
    assert_eq!(
        (refused.status, refused.json()),
        (400, json!({"error": "200 is not a redirect status"}))
    );
    assert_eq!(
        client
            .post(&format!("{base}/_fake/redirect?status=302"), &[], "")
            .await
            .status,
        204
    );
    let http = server.http_redirect_url().expect("redirect").to_owned();
    assert_eq!(client.get(&format!("{http}/"), &[]).await.status, 302);
    assert_eq!(
        client.get(&format!("{base}/_fake/nope"), &[]).await.status,
        404
    );
}

// -------------------------------------------------------------------------------------------
// Typed control errors

#[test]
fn refused_configurations_are_typed_control_errors() {
    let server =
        FakeServer::start_blocking(FakeConfig::sample(), FakeOptions::plain()).expect("start");
    let control = server.control();
    let before = control.config();
    type Edit = fn(&mut FakeConfig);
    let cases: [(Edit, ControlError); 5] = [
        (
            |c| c.rest_api_version = "3".into(),
            ControlError::ApiVersion("3".into()),
        ),
        (
            |c| c.sites.push(c.sites[0].clone()),
            ControlError::DuplicateSite(String::new()),
        ),
        (
            |c| c.users.push(c.users[1].clone()),
            ControlError::DuplicateUser(sample::USER_NAME.into()),
        ),
        (
            |c| c.pats.push(c.pats[0].clone()),
            ControlError::DuplicatePat(sample::ADMIN_PAT_NAME.into()),
        ),
        (|c| c.max_page_size = 0, ControlError::PageSize),
    ];
    for (edit, expected) in cases {
        assert_eq!(control.update_config(edit), Err(expected));
    }
    let mut workbooks = FakeConfig::sample();
    workbooks.workbooks.push(workbooks.workbooks[0].clone());
    let id = workbooks.workbooks[0].id.clone();
    assert_eq!(
        control.set_config(workbooks),
        Err(ControlError::DuplicateWorkbook(id))
    );
    assert_eq!(control.config(), before, "nothing applied");
    assert_eq!(
        ControlError::DuplicateUser("u".into()).to_string(),
        r#"duplicate user name "u""#
    );

    let bad = FakeConfig::builder().rest_api_version("x.y").build();
    let error = FakeServer::start_blocking(bad, FakeOptions::plain()).expect_err("refused");
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
    assert_eq!(
        error
            .get_ref()
            .and_then(|e| e.downcast_ref::<ControlError>()),
        Some(&ControlError::ApiVersion("x.y".into()))
    );
    let options = FakeOptions::builder().redirect_status(200).build();
    let error = FakeServer::start_blocking(FakeConfig::sample(), options).expect_err("refused");
    assert_eq!(error.to_string(), "200 is not a redirect status");
}

// -------------------------------------------------------------------------------------------
// Blocking start and the binary

#[test]
fn start_blocking_serves_plain_http() {
    use std::io::{Read as _, Write as _};
    let server =
        FakeServer::start_blocking(FakeConfig::sample(), FakeOptions::plain()).expect("start");
    let authority = server.base_url().trim_start_matches("http://").to_owned();
    let mut stream = std::net::TcpStream::connect(&authority).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    write!(stream, "GET /api/3.25/serverinfo HTTP/1.1\r\nHost: {authority}\r\nAccept: application/json\r\nConnection: close\r\n\r\n").expect("write");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"restApiVersion\":\"3.25\""));
    assert_eq!(server.request_log().len(), 1);
    drop(server);
}

/// The `fake-tableau` binary (feature `cli`).
#[cfg(feature = "cli")]
#[test]
fn binary_prints_one_ready_line() {
    use std::io::BufRead as _;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_fake-tableau"))
        .args(["--port", "0", "--tls", "--redirect-port", "0"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    std::io::BufReader::new(stdout)
        .read_line(&mut line)
        .expect("line");
    let _ = child.kill();
    let _ = child.wait();
    let ready: Value = serde_json::from_str(&line).expect("json line");
    assert!(
        ready["base_url"]
            .as_str()
            .is_some_and(|u| u.starts_with("https://127.0.0.1:"))
    );
    assert!(
        ready["http_redirect_url"]
            .as_str()
            .is_some_and(|u| u.starts_with("http://127.0.0.1:"))
    );
    assert!(
        ready["ca_file"]
            .as_str()
            .is_some_and(|p| p.ends_with(".pem"))
    );
}

// -------------------------------------------------------------------------------------------
// Issue 13: behaving like Tableau as TSC sees it

/// TSC 0.42 signs in at `/api/2.4/auth/signin` with every kind of credentials (also with
/// `use_server_version=True`, which asks `serverInfo` only afterwards).
#[tokio::test]
async fn tsc_signs_in_at_2_4_with_every_credential() {
    let (server, client) = start(FakeOptions::plain()).await;
    let signin = format!("{}/api/2.4/auth/signin", server.base_url());
    let now = server.control().now_unix();
    for (body, why) in [
        (
            pw_xml(sample::USER_NAME, sample::USER_PASSWORD, ""),
            "password",
        ),
        (
            pat_xml(sample::USER_PAT_NAME, sample::USER_PAT_SECRET, ""),
            "PAT",
        ),
        (jwt_xml(&mint(now, |_, _| {}), ""), "JWT"),
    ] {
        let r = client.post(&signin, &[], &body).await;
        assert_eq!(r.status, 200, "{why}: {}", r.body);
        assert!(r.body.contains("ts-api_2_4.xsd"), "{why}");
        let token = xml_attr(&r.body, "credentials", "token").expect("token");
        // Then `serverInfo`, and the session works at the server's version.
        let info = client
            .get(&format!("{}/api/2.4/serverInfo", server.base_url()), &[])
            .await;
        assert!(info.body.contains("<restApiVersion>3.25</restApiVersion>"));
        let current = client
            .get(
                &api(&server, "sessions/current"),
                &[("x-tableau-auth", &token)],
            )
            .await;
        assert_eq!(current.status, 200, "{why}");
    }
    // Below 2.0 there is no REST API at all.
    let r = client
        .post(
            &format!("{}/api/1.9/auth/signin", server.base_url()),
            &[],
            &pw_xml(sample::USER_NAME, sample::USER_PASSWORD, ""),
        )
        .await;
    assert_eq!((r.status, r.code().as_str()), (404, "404003"));
}

#[tokio::test]
async fn list_methods_page_as_tableau_documents() {
    let (server, client) = start(FakeOptions::plain()).await;
    let (token, site, _) = sign_in(
        &server,
        &client,
        &pw_xml(sample::ADMIN_NAME, sample::ADMIN_PASSWORD, ""),
    )
    .await;
    let auth = [("x-tableau-auth", token.as_str())];
    let json = [
        ("x-tableau-auth", token.as_str()),
        ("accept", "application/json"),
    ];
    let wb = |query: &str| api(&server, &format!("sites/{site}/workbooks{query}"));

    // Defaults: page 1 of size 100.
    let r = client.get(&wb(""), &auth).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        xml_attr(&r.body, "pagination", "pageNumber").as_deref(),
        Some("1")
    );
    assert_eq!(
        xml_attr(&r.body, "pagination", "pageSize").as_deref(),
        Some("100")
    );
    assert_eq!(
        xml_attr(&r.body, "pagination", "totalAvailable").as_deref(),
        Some("2")
    );
    // Page 2 of size 1 is the second workbook, not the first again.
    let one = client
        .get(&wb("?pageSize=1&pageNumber=1"), &json)
        .await
        .json();
    let two = client
        .get(&wb("?pageSize=1&pageNumber=2"), &json)
        .await
        .json();
    assert_eq!(one["workbooks"]["workbook"][0]["name"], "Superstore");
    assert_eq!(two["workbooks"]["workbook"][0]["name"], "Regional Sales");
    assert_eq!(
        two["workbooks"]["workbook"].as_array().map(Vec::len),
        Some(1)
    );
    assert_eq!(
        two["pagination"],
        json!({"pageNumber": "2", "pageSize": "1", "totalAvailable": "2"})
    );
    // Past the last page: an empty list (configurable), the total still right.
    let three = client.get(&wb("?pageSize=1&pageNumber=3"), &json).await;
    assert_eq!(three.status, 200);
    assert_eq!(three.json()["workbooks"], json!({}));
    assert_eq!(three.json()["pagination"]["totalAvailable"], "2");
    let r = client.get(&wb("?pageSize=1&pageNumber=3"), &auth).await;
    assert!(r.body.contains("<workbooks></workbooks>"), "{}", r.body);
    server
        .control()
        .update_config(|c| c.past_last_page = PastLastPage::Error)
        .expect("config");
    let r = client.get(&wb("?pageSize=1&pageNumber=3"), &auth).await;
    assert_eq!((r.status, r.code().as_str()), (400, "400006"));

    // Errors.
    for (query, status, code) in [
        ("?pageNumber=0", 400, "400006"),
        ("?pageNumber=-1", 400, "400006"),
        ("?pageNumber=x", 400, "400006"),
        ("?pageSize=0", 400, "400007"),
        ("?pageSize=ten", 400, "400007"),
        ("?pageSize=", 400, "400007"),
        ("?pageSize=1001", 403, "403014"),
        ("?pageSize=99999999999999999999", 400, "400007"),
    ] {
        let r = client.get(&wb(query), &auth).await;
        assert_eq!((r.status, r.code().as_str()), (status, code), "{query}");
    }
    let r = client.get(&wb("?pageSize=1000"), &auth).await;
    assert_eq!(r.status, 200, "1000 is the limit, inclusive");
    // Authentication comes before paging.
    let r = client.get(&wb("?pageSize=0"), &[]).await;
    assert_eq!(r.code(), "401000");

    // Users and sites page the same way.
    let users = api(
        &server,
        &format!("sites/{site}/users?pageSize=2&pageNumber=2"),
    );
    let r = client.get(&users, &json).await.json();
    // Default site: admin, jsmith, sso.only (the Finance user is not on it).
    assert_eq!(r["pagination"]["totalAvailable"], "3");
    assert_eq!(r["users"]["user"][0]["name"], sample::SSO_USER_NAME);
    let r = client
        .get(&api(&server, "sites?pageSize=1&pageNumber=2"), &auth)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        xml_attr(&r.body, "site", "contentUrl").as_deref(),
        Some(sample::FINANCE_SITE)
    );
    assert_eq!(
        xml_attr(&r.body, "pagination", "totalAvailable").as_deref(),
        Some("2")
    );
    let r = client
        .get(&api(&server, "sites?pageSize=5000"), &auth)
        .await;
    assert_eq!(r.code(), "403014");
    // Configurable limits.
    server
        .control()
        .update_config(|c| {
            c.default_page_size = 1;
            c.max_page_size = 1;
        })
        .expect("config");
    let r = client.get(&wb(""), &json).await.json();
    assert_eq!(r["pagination"]["pageSize"], "1");
    assert_eq!(r["workbooks"]["workbook"].as_array().map(Vec::len), Some(1));
    assert_eq!(client.get(&wb("?pageSize=2"), &auth).await.code(), "403014");
}

#[tokio::test]
async fn trusted_ticket_redirects_to_the_view_behind_a_cookie() {
    let (server, client) = start(FakeOptions::default()).await;
    let base = server.base_url().to_owned();
    let form = [(
        "content-type",
        "application/x-www-form-urlencoded; charset=UTF-8",
    )];
    let ticket = |body: &'static str| {
        let client = &client;
        let base = &base;
        async move {
            let t = client
                .post(&format!("{base}/trusted"), &form, body)
                .await
                .body;
            assert_eq!(t.len(), 49, "{t}");
            t.replace('+', "%2B")
                .replace('/', "%2F")
                .replace('=', "%3D")
        }
    };

    let t = ticket("username=jsmith").await;
    let r = client
        .get(
            &format!("{base}/trusted/{t}/views/Superstore/Overview?:embed=yes&:showVizHome=no"),
            &[],
        )
        .await;
    assert_eq!(r.status, 302);
    let location = r.header("location").expect("location").to_owned();
    assert_eq!(
        location,
        "/views/Superstore/Overview?:embed=yes&:showVizHome=no"
    );
    let set_cookie = r.header("set-cookie").expect("cookie");
    let cookie = set_cookie.split(';').next().expect("name=value").to_owned();
    assert!(cookie.starts_with("workgroup_session_id="));
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("Path=/"));

    // The view behind the cookie.
    let view = client
        .get(&format!("{base}{location}"), &[("cookie", &cookie)])
        .await;
    assert_eq!(view.status, 200, "{}", view.body);
    assert!(
        view.header("content-type")
            .unwrap_or("")
            .starts_with("text/html")
    );
    assert!(view.body.contains("Superstore: Overview"), "{}", view.body);
    assert!(view.body.contains(sample::USER_NAME));
    // Among other cookies, too.
    let both = format!("tableau_locale=en; {cookie}");
    let view = client
        .get(&format!("{base}{location}"), &[("cookie", &both)])
        .await;
    assert_eq!(view.status, 200);
    // An unknown view or workbook is 404; another site's view is not this session's.
    for path in ["/views/Superstore/Nope", "/views/Nope/Overview"] {
        let r = client
            .get(&format!("{base}{path}"), &[("cookie", &cookie)])
            .await;
        assert_eq!(r.status, 404, "{path}");
    }
    let r = client
        .get(
            &format!("{base}/t/Finance/views/Superstore/Overview"),
            &[("cookie", &cookie)],
        )
        .await;
    assert_eq!(r.status, 302, "a Default-site cookie is no Finance session");

    // Without a (valid) cookie: to sign-in by default, or 401 if so configured.
    for headers in [&[][..], &[("cookie", "workgroup_session_id=bogus")][..]] {
        let r = client
            .get(&format!("{base}/views/Superstore/Overview"), headers)
            .await;
        assert_eq!(r.status, 302);
        assert_eq!(
            r.header("location"),
            Some("/#/signin?redirect=%2Fviews%2FSuperstore%2FOverview")
        );
    }
    server
        .control()
        .update_config(|c| c.view_without_session = ViewWithoutSession::Unauthorized)
        .expect("config");
    let r = client
        .get(&format!("{base}/views/Superstore/Overview"), &[])
        .await;
    assert_eq!(r.status, 401);

    // A named site keeps its /t/{site} prefix; the ticket still redeems once.
    let t = ticket("username=fin.analyst%40example.com&target_site=Finance").await;
    let url = format!("{base}/trusted/{t}/t/Finance/views/RegionalSales/Sales");
    let r = client.get(&url, &[]).await;
    assert_eq!(r.status, 302);
    assert_eq!(
        r.header("location"),
        Some("/t/Finance/views/RegionalSales/Sales")
    );
    let cookie = r
        .header("set-cookie")
        .and_then(|c| c.split(';').next())
        .expect("cookie")
        .to_owned();
    assert_eq!(client.get(&url, &[]).await.status, 401, "single use");
    let view = client
        .get(
            &format!("{base}/t/Finance/views/RegionalSales/Sales"),
            &[("cookie", &cookie)],
        )
        .await;
    assert_eq!(view.status, 200, "{}", view.body);
    assert!(view.body.contains(sample::FINANCE_USER_NAME));
    // The browser session idles out like a REST one.
    server.control().advance(Duration::from_secs(240 * 60));
    let view = client
        .get(
            &format!("{base}/t/Finance/views/RegionalSales/Sales"),
            &[("cookie", &cookie)],
        )
        .await;
    assert_eq!(view.status, 401);

    // Only GET and HEAD, with Allow.
    let r = client.post(&url, &[], "").await;
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, HEAD"));
}

#[tokio::test]
async fn site_luids_users_405_and_401000_as_tableau_answers() {
    let (server, client) = start(FakeOptions::plain()).await;
    let (user_token, site, _) = sign_in(
        &server,
        &client,
        &pw_xml(sample::USER_NAME, sample::USER_PASSWORD, ""),
    )
    .await;
    let (admin_token, _, _) = sign_in(
        &server,
        &client,
        &pw_xml(sample::ADMIN_NAME, sample::ADMIN_PASSWORD, ""),
    )
    .await;
    let user_auth = [("x-tableau-auth", user_token.as_str())];
    let admin_json = [
        ("x-tableau-auth", admin_token.as_str()),
        ("accept", "application/json"),
    ];

    // Site LUIDs: unknown → 404000, another site → 403010 (the LUID compares case-blind).
    let unknown = "00000000-0000-4000-8000-000000000000";
    for (luid, status, code) in [
        (unknown, 404, "404000"),
        (sample::FINANCE_SITE_ID, 403, "403010"),
    ] {
        for path in [
            format!("sites/{luid}/workbooks"),
            format!("sites/{luid}/users"),
            format!("sites/{luid}/users/{}", sample::USER_ID),
        ] {
            let r = client.get(&api(&server, &path), &user_auth).await;
            assert_eq!((r.status, r.code().as_str()), (status, code), "{path}");
        }
    }
    let upper = site.to_ascii_uppercase();
    let r = client
        .get(
            &api(&server, &format!("sites/{upper}/workbooks")),
            &user_auth,
        )
        .await;
    assert_eq!(r.status, 200);

    // Query User: all of Tableau's attributes.
    let url = api(&server, &format!("sites/{site}/users/{}", sample::USER_ID));
    let r = client
        .get(&url, &[("x-tableau-auth", admin_token.as_str())])
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    for (attr, value) in [
        ("id", sample::USER_ID),
        ("name", sample::USER_NAME),
        ("siteRole", "Creator"),
        ("fullName", "Jane Smith"),
        ("email", "jsmith@example.com"),
        ("externalAuthUserId", ""),
    ] {
        assert_eq!(
            xml_attr(&r.body, "user", attr).as_deref(),
            Some(value),
            "{attr}"
        );
    }
    assert_eq!(
        xml_attr(&r.body, "domain", "name").as_deref(),
        Some("local")
    );
    let last = xml_attr(&r.body, "user", "lastLogin").expect("lastLogin after a sign-in");
    assert_eq!(last.len(), 20, "{last}");
    assert!(last.ends_with('Z') && &last[10..11] == "T", "{last}");
    let j = client.get(&url, &admin_json).await.json();
    assert_eq!(j["user"]["fullName"], "Jane Smith");
    assert_eq!(j["user"]["domain"]["name"], "local");
    assert_eq!(j["user"]["lastLogin"], last.as_str());
    // Never signed in: no lastLogin; an SSO user's external id.
    let sso = api(
        &server,
        &format!("sites/{site}/users/{}", sample::SSO_USER_ID),
    );
    let j = client.get(&sso, &admin_json).await.json();
    assert_eq!(j["user"]["name"], sample::SSO_USER_NAME);
    assert!(j["user"].get("lastLogin").is_none(), "{j}");
    assert_eq!(j["user"]["externalAuthUserId"], "sso.only@idp.example.com");
    // The admin reading a user not on the site: 404002; a non-admin anyone else: 403133.
    let r = client
        .get(
            &api(
                &server,
                &format!("sites/{site}/users/{}", sample::FINANCE_USER_ID),
            ),
            &admin_json,
        )
        .await;
    assert_eq!((r.status, r.code().as_str()), (404, "404002"));
    let r = client.get(&sso, &user_auth).await;
    assert_eq!((r.status, r.code().as_str()), (403, "403133"));
    let r = client
        .get(&api(&server, &format!("sites/{site}/users")), &user_auth)
        .await;
    assert_eq!((r.status, r.code().as_str()), (403, "403133"));
    let r = client.get(&url, &user_auth).await;
    assert_eq!(r.status, 200, "oneself");

    // 405 names the allowed method.
    for (method, path, allow) in [
        ("GET", "auth/signin", "POST"),
        ("GET", "auth/signout", "POST"),
        ("PUT", "serverinfo", "GET"),
        ("DELETE", "sessions/current", "GET"),
    ] {
        let r = client
            .call(method, &api(&server, path), &[], b"")
            .await
            .expect("call");
        assert_eq!((r.status, r.code().as_str()), (405, "405000"), "{path}");
        assert_eq!(r.header("allow"), Some(allow), "{path}");
    }
    let r = client
        .call(
            "POST",
            &api(&server, "serverinfo"),
            &[("accept", "application/json")],
            b"",
        )
        .await
        .expect("call");
    assert_eq!(r.header("allow"), Some("GET"));

    // 401000 in Tableau's words.
    let r = client.get(&api(&server, "sessions/current"), &[]).await;
    assert_eq!((r.status, r.code().as_str()), (401, "401000"));
    assert_eq!(r.detail(), "No authentication credentials were provided");
    assert!(r.body.contains("<summary>Unauthorized Access</summary>"));
}

/// The `fake-tableau` binary (feature `cli`).
#[cfg(feature = "cli")]
#[test]
fn sample_config_lists_workbooks_and_old_configs_still_load() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_fake-tableau"))
        .arg("--print-sample-config")
        .output()
        .expect("run");
    assert!(out.status.success());
    let printed: Value = serde_json::from_slice(&out.stdout).expect("json");
    let workbooks = printed["workbooks"].as_array().expect("workbooks");
    assert_eq!(workbooks.len(), 4, "two per site");
    assert_eq!(workbooks[0]["name"], "Superstore");
    assert_eq!(workbooks[0]["site"], "");
    assert_eq!(workbooks[0]["views"][0], "Overview");
    assert_eq!(printed["max_page_size"], 1000);
    assert_eq!(printed["default_page_size"], 100);
    assert_eq!(printed["users"][1]["full_name"], "Jane Smith");
    // An edited sample loads back.
    let back: FakeConfig = serde_json::from_value(printed).expect("loads");
    assert_eq!(back.workbooks.len(), 4);

    // A config written before these fields existed still loads, with the defaults.
    let old = json!({
        "users": [{"name": "u", "id": "1", "password": "p", "site_roles": {"": "Viewer"}}],
        "rest_api_version": "3.19"
    });
    let config: FakeConfig = serde_json::from_value(old).expect("old config");
    assert!(config.workbooks.is_empty());
    assert_eq!(config.users[0].domain, "local");
    assert_eq!(config.users[0].full_name, None);
    assert_eq!(config.past_last_page, PastLastPage::Empty);
    assert_eq!(
        config.view_without_session,
        ViewWithoutSession::RedirectToSignin
    );
}

// -------------------------------------------------------------------------------------------
// Revoke Administrator Personal Access Tokens (`DELETE auth/serverAdminAccessTokens`)

/// `DELETE` with `headers`, no body.
async fn delete(client: &Client, url: &str, headers: &[(&str, &str)]) -> Resp {
    client
        .call("DELETE", url, headers, b"")
        .await
        .expect("DELETE")
}

/// Whether the PAT `name` of the sample signs in (200), or its error code.
async fn pat_signs_in(server: &FakeServer, client: &Client, name: &str, secret: &str) -> String {
    let r = client
        .post(&api(server, "auth/signin"), &[], &pat_xml(name, secret, ""))
        .await;
    if r.status == 200 {
        "200".to_owned()
    } else {
        r.code()
    }
}

#[tokio::test]
async fn revoke_server_admin_pats_revokes_the_admins_pats_only() {
    let (server, client) = start(FakeOptions::plain()).await;
    let url = api(&server, "auth/serverAdminAccessTokens");
    // A session opened with the admin's PAT before the revocation.
    let (pat_token, _, _) = sign_in(
        &server,
        &client,
        &pat_xml(sample::ADMIN_PAT_NAME, sample::ADMIN_PAT_SECRET, ""),
    )
    .await;
    let (admin_token, _, _) = sign_in(
        &server,
        &client,
        &pw_xml(sample::ADMIN_NAME, sample::ADMIN_PASSWORD, ""),
    )
    .await;

    let r = delete(&client, &url, &[("x-tableau-auth", &admin_token)]).await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert!(r.body.is_empty(), "{}", r.body);
    // The admin's PAT no longer signs in; jsmith's still does.
    assert_eq!(
        pat_signs_in(
            &server,
            &client,
            sample::ADMIN_PAT_NAME,
            sample::ADMIN_PAT_SECRET
        )
        .await,
        "401001"
    );
    assert_eq!(
        pat_signs_in(
            &server,
            &client,
            sample::USER_PAT_NAME,
            sample::USER_PAT_SECRET
        )
        .await,
        "200"
    );
    let config = server.control().config();
    let revoked: Vec<(&str, bool)> = config
        .pats
        .iter()
        .map(|p| (p.name.as_str(), p.revoked))
        .collect();
    assert_eq!(
        revoked,
        [
            (sample::ADMIN_PAT_NAME, true),
            (sample::USER_PAT_NAME, false),
            (sample::REVOKED_PAT_NAME, true),
            (sample::EXPIRED_PAT_NAME, false),
        ]
    );
    // The caller's session and the one the PAT opened before live on.
    for token in [&admin_token, &pat_token] {
        let r = client
            .get(
                &api(&server, "sessions/current"),
                &[("x-tableau-auth", token)],
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    // Again: nothing left to revoke, still 204 (JSON asked: no body either).
    let r = delete(
        &client,
        &url,
        &[
            ("x-tableau-auth", &admin_token),
            ("accept", "application/json"),
        ],
    )
    .await;
    assert_eq!((r.status, r.body.as_str()), (204, ""));

    // Every PAT of every server administrator of a world of one's own (the owner is the one
    // who created it), and no one else's.
    let config = FakeConfig::builder()
        .user(
            UserConfig::builder("root", "0b6b4f0e-1c8d-4a57-9f1e-5f2f7a3c9d10")
                .password("root-pw")
                .server_admin(true)
                .build(),
        )
        .user(
            UserConfig::builder("ops", "2c7d5e1f-3a9b-4c6d-8e0f-1a2b3c4d5e6f")
                .password("ops-pw")
                .server_admin(true)
                .build(),
        )
        .user(
            UserConfig::builder("ana", "3d8e6f20-4b0c-4d7e-9f10-2b3c4d5e6f70")
                .password("ana-pw")
                .site_role("", "SiteAdministratorCreator")
                .build(),
        )
        .pat(PatConfig::builder("root-1", "cm9vdDE=:cm9vdDE=", "root").build())
        .pat(PatConfig::builder("root-2", "cm9vdDI=:cm9vdDI=", "root").build())
        .pat(PatConfig::builder("ops-1", "b3BzMQ==:b3BzMQ==", "ops").build())
        .pat(PatConfig::builder("ana-1", "YW5hMQ==:YW5hMQ==", "ana").build())
        .build();
    let own = FakeServer::start(config, FakeOptions::plain())
        .await
        .expect("start fake");
    let own_client = Client::new(&own);
    // A site administrator is not a server administrator: 403004, nothing revoked.
    let (ana, _, _) = sign_in(&own, &own_client, &pw_xml("ana", "ana-pw", "")).await;
    let own_url = api(&own, "auth/serverAdminAccessTokens");
    let r = delete(&own_client, &own_url, &[("x-tableau-auth", &ana)]).await;
    assert_eq!((r.status, r.code().as_str()), (403, "403004"), "{}", r.body);
    assert!(own.control().config().pats.iter().all(|p| !p.revoked));
    // The other server administrator's PAT session revokes them all, its own included.
    let (ops, _, _) = sign_in(
        &own,
        &own_client,
        &pat_xml("ops-1", "b3BzMQ==:b3BzMQ==", ""),
    )
    .await;
    let r = delete(&own_client, &own_url, &[("x-tableau-auth", &ops)]).await;
    assert_eq!(r.status, 204, "{}", r.body);
    for (name, secret, expected) in [
        ("root-1", "cm9vdDE=:cm9vdDE=", "401001"),
        ("root-2", "cm9vdDI=:cm9vdDI=", "401001"),
        ("ops-1", "b3BzMQ==:b3BzMQ==", "401001"),
        ("ana-1", "YW5hMQ==:YW5hMQ==", "200"),
    ] {
        assert_eq!(
            pat_signs_in(&own, &own_client, name, secret).await,
            expected,
            "{name}"
        );
    }
}

#[tokio::test]
async fn revoke_server_admin_pats_refusals_as_tableau_answers() {
    let (server, client) = start(FakeOptions::plain()).await;
    let url = api(&server, "auth/serverAdminAccessTokens");
    let (user_token, _, _) = sign_in(
        &server,
        &client,
        &pw_xml(sample::USER_NAME, sample::USER_PASSWORD, ""),
    )
    .await;
    let (admin_token, _, _) = sign_in(
        &server,
        &client,
        &pw_xml(sample::ADMIN_NAME, sample::ADMIN_PASSWORD, ""),
    )
    .await;
    let untouched = || async {
        assert!(
            server
                .control()
                .config()
                .pats
                .iter()
                .any(|p| p.name == sample::ADMIN_PAT_NAME && !p.revoked),
            "the admin's PAT was revoked"
        );
    };

    // No token, a dead one: the 401s of every other endpoint.
    let r = delete(&client, &url, &[]).await;
    assert_eq!((r.status, r.code().as_str()), (401, "401000"));
    let r = delete(&client, &url, &[("x-tableau-auth", "not-a-live-token")]).await;
    assert_eq!((r.status, r.code().as_str()), (401, "401002"));
    // Not a server administrator: 403004, in XML and in JSON.
    let r = delete(&client, &url, &[("x-tableau-auth", &user_token)]).await;
    assert_eq!((r.status, r.code().as_str()), (403, "403004"), "{}", r.body);
    assert!(r.body.contains("<error code=\"403004\">"), "{}", r.body);
    let r = delete(
        &client,
        &url,
        &[
            ("x-tableau-auth", &user_token),
            ("accept", "application/json"),
        ],
    )
    .await;
    assert_eq!(r.json()["error"]["code"], "403004", "{}", r.body);
    // An administrator impersonating jsmith is jsmith.
    let (as_jsmith, _, _) = sign_in(
        &server,
        &client,
        &with_user(
            &pw_xml(sample::ADMIN_NAME, sample::ADMIN_PASSWORD, ""),
            sample::USER_ID,
        ),
    )
    .await;
    let r = delete(&client, &url, &[("x-tableau-auth", &as_jsmith)]).await;
    assert_eq!(r.code(), "403004");
    // A connected-app session, even the admin's: no scope covers the method (choice 15).
    let now = server.control().now_unix();
    let jwt = mint(now, |_, claims| claims["sub"] = json!(sample::ADMIN_NAME));
    let (jwt_token, _, _) = sign_in(&server, &client, &jwt_xml(&jwt, "")).await;
    let r = delete(&client, &url, &[("x-tableau-auth", &jwt_token)]).await;
    assert_eq!((r.status, r.code().as_str()), (401, "401002"));
    // The wrong method: 405000, naming DELETE.
    for method in ["GET", "POST", "PUT"] {
        let r = client
            .call(method, &url, &[("x-tableau-auth", &admin_token)], b"")
            .await
            .expect("call");
        assert_eq!((r.status, r.code().as_str()), (405, "405000"), "{method}");
        assert_eq!(r.header("allow"), Some("DELETE"));
    }
    untouched().await;

    // Below 3.11 the method does not exist: the answer for an unknown resource. From 3.11 on
    // it does.
    let at = |v: &str| format!("{}/api/{v}/auth/serverAdminAccessTokens", server.base_url());
    let r = delete(&client, &at("3.10"), &[("x-tableau-auth", &admin_token)]).await;
    assert_eq!((r.status, r.code().as_str()), (404, "404003"), "{}", r.body);
    untouched().await;
    // TSC's POST auth/revokeAllServerAdminTokens is no Tableau endpoint: unknown at any version.
    for v in ["3.10", "3.25"] {
        let tsc = format!(
            "{}/api/{v}/auth/revokeAllServerAdminTokens",
            server.base_url()
        );
        let r = client
            .post(&tsc, &[("x-tableau-auth", &admin_token)], "")
            .await;
        assert_eq!((r.status, r.code().as_str()), (404, "404003"), "{v}");
    }
    untouched().await;
    let r = delete(&client, &at("3.11"), &[("x-tableau-auth", &admin_token)]).await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(
        pat_signs_in(
            &server,
            &client,
            sample::ADMIN_PAT_NAME,
            sample::ADMIN_PAT_SECRET
        )
        .await,
        "401001"
    );

    // Tableau Cloud has no such method: 404000, and nothing is revoked.
    let cloud = FakeServer::start(FakeConfig::sample_cloud(), FakeOptions::plain())
        .await
        .expect("start cloud fake");
    let cloud_client = Client::new(&cloud);
    let (token, _, _) = sign_in(
        &cloud,
        &cloud_client,
        &pw_xml(sample::ADMIN_NAME, sample::ADMIN_PASSWORD, ""),
    )
    .await;
    let r = delete(
        &cloud_client,
        &format!("{}/api/3.27/auth/serverAdminAccessTokens", cloud.base_url()),
        &[("x-tableau-auth", &token)],
    )
    .await;
    assert_eq!((r.status, r.code().as_str()), (404, "404000"), "{}", r.body);
    assert!(
        cloud
            .control()
            .config()
            .pats
            .iter()
            .any(|p| p.name == sample::ADMIN_PAT_NAME && !p.revoked)
    );
}
