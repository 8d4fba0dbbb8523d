"""The real tableauserverclient (TSC 0.42) against the fake Tableau server: every flow TSC offers.

Usage: python conformance.py BASE_URL CA_FILE
   (or TSC_FAKE_BASE_URL and TSC_FAKE_CA_FILE in the environment)

BASE_URL is a running fake (`fake-tableau --tls`, or `FakeServer::start_blocking`) with the sample
world (`FakeConfig::sample()`), CA_FILE the PEM of its CA. Prints one line per flow, `ok <flow>`
or `FAIL <flow>: <why>`, then a `# …` summary, and exits 1 if any flow failed (2 on bad usage).
Nothing printed holds a secret: every password, PAT secret, app secret, session token, JWT,
ticket and cookie is replaced by `[secret]` in every line and traceback (tracebacks go to stderr).

Run by tests/tests/tsc_conformance.rs with the python of scripts/setup-tsc.sh. Flows that change
the fake's configuration restore it; the fake's control API (`/_fake/...`) is described in
tableau-auth-fake/src/lib.rs and the codes the fake answers in tableau-auth-fake/README.md.
"""

import base64
import hashlib
import hmac
import json
import os
import re
import sys
import traceback
import urllib.parse
import uuid
from contextlib import contextmanager

import requests
import tableauserverclient as TSC
from tableauserverclient.server.endpoint.auth_endpoint import Auth
from tableauserverclient.server.endpoint.exceptions import FailedSignInError, ServerResponseError
from tableauserverclient.server.request_factory import RequestFactory

# The sample world (tableau-auth-fake/src/config.rs, module `sample`).
REST_API_VERSION = "3.25"
PRODUCT_VERSION = "2025.1.3"
BUILD = "20251.25.0318.0917"
DEFAULT_SITE_ID = "a946d998-2ead-4894-bb50-1054a91dcab3"
FINANCE_SITE = "Finance"
FINANCE_SITE_NAME = "Finance Team"
FINANCE_SITE_ID = "6b7179ba-b82b-4f0f-91ed-812074ac5da6"
ADMIN_NAME = "admin"
ADMIN_ID = "dd2239f6-ddf1-4107-981a-4cf94e415794"
ADMIN_PASSWORD = "p&<\"'\u00e4>ss\\word"
USER_NAME = "jsmith"
USER_ID = "1a96d216-e9b8-497b-a82a-0b899a965e01"
USER_PASSWORD = "s3cr3t!"
FINANCE_USER_NAME = "fin.analyst@example.com"
FINANCE_USER_ID = "5de011f8-5aa9-4d5b-b991-f462c8dd6bb7"
FINANCE_USER_PASSWORD = "ledger-2025"
SSO_USER_NAME = "sso.only"
USER_PAT_NAME = "nightly-etl"
USER_PAT_SECRET = "Hx7Lq2Vt9Rb4Nc8Pd1Ks6Jw==:Zf3Ga5Hu7Ij9Ko1Lp2Mq4Nr6"
ADMIN_PAT_NAME = "admin-pat"
ADMIN_PAT_SECRET = "q9Zp+4mK/2bT7wX1cV5nRg==:Wm3aB6eF9hJ2kN5pQ8tV1xY4"
REVOKED_PAT_NAME = "revoked-pat"
REVOKED_PAT_SECRET = "Rv0k3dRv0k3dRv0k3dRv0g==:Rv0k3dRv0k3dRv0k3dRv0k3d"
EXPIRED_PAT_NAME = "expired-pat"
EXPIRED_PAT_SECRET = "Exp1r3dExp1r3dExp1r3dEw==:Exp1r3dExp1r3dExp1r3dExp"
APP_CLIENT_ID = "0f6a2c9e-2b4d-4f1a-9c3e-7d8b6a5f4e3d"
APP_SECRET_ID = "3b1f5e7a-9c2d-4e6f-8a1b-2c3d4e5f6a7b"
APP_SECRET_VALUE = "Kp9vXw2Rt7Ls4Qm1Zn8Yb5Hc3Jd6Fg0Ae2Wu+Vi/Ox="
DISABLED_APP_CLIENT_ID = "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b"
DISABLED_APP_SECRET_ID = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
DISABLED_APP_SECRET_VALUE = "disabled-app-secret-value-0123456789"
WORKBOOKS = {"Superstore", "Regional Sales"}
DEFAULT_SITE_USERS = {ADMIN_NAME, USER_NAME, SSO_USER_NAME}

# ---------------------------------------------------------------------------------------------
# Secrets and output

SECRETS = {
    ADMIN_PASSWORD,
    USER_PASSWORD,
    FINANCE_USER_PASSWORD,
    USER_PAT_SECRET,
    ADMIN_PAT_SECRET,
    REVOKED_PAT_SECRET,
    EXPIRED_PAT_SECRET,
    APP_SECRET_VALUE,
    DISABLED_APP_SECRET_VALUE,
}


def remember(secret):
    """Adds a secret seen at run time (a token, a JWT, a ticket, a cookie) to the redacted ones."""
    if secret:
        SECRETS.add(secret)
        SECRETS.add(urllib.parse.quote(secret, safe=""))
    return secret


def redact(text):
    text = str(text)
    for secret in sorted(SECRETS, key=len, reverse=True):
        if secret:
            text = text.replace(secret, "[secret]")
    return text


def say(line):
    print(redact(line).replace("\n", " "), flush=True)


class Failure(Exception):
    """A check that did not hold; the message names what was expected."""


def check(condition, why):
    if not condition:
        raise Failure(why)


def eq(actual, expected, what):
    if actual != expected:
        raise Failure(f"{what}: got {actual!r}, expected {expected!r}")


def raises(what, call, exc_type, code):
    """`call()` must raise `exc_type` carrying Tableau error `code`; returns the exception."""
    try:
        call()
    except exc_type as e:
        eq(getattr(e, "code", None), code, f"{what}: the error code")
        return e
    except Exception as e:  # noqa: BLE001 - any other error is the finding
        raise Failure(
            f"{what}: raised {type(e).__name__} {getattr(e, 'code', '')}, "
            f"expected {exc_type.__name__} {code}"
        ) from e
    raise Failure(f"{what}: no error, expected {exc_type.__name__} {code}")


# ---------------------------------------------------------------------------------------------
# The fake and TSC


class Fake:
    """The fake's control API (`/_fake/...`) and raw HTTP to it (TLS with the fake's CA)."""

    def __init__(self, base, ca_file):
        self.base = base.rstrip("/")
        self.ca = ca_file
        self.http = requests.Session()
        # No proxy and no REQUESTS_CA_BUNDLE from the environment: only the fake's CA.
        self.http.trust_env = False
        self.http.verify = ca_file
        self.log_start = 0

    def url(self, path):
        return self.base + path

    def control(self, method, path, **kwargs):
        response = self.http.request(method, self.url("/_fake" + path), **kwargs)
        if response.status_code >= 300:
            raise Failure(f"control {method} {path}: HTTP {response.status_code}")
        return response.json() if response.content else None

    def drop_sessions(self, user=None):
        return self.control("POST", "/sessions/drop", params={"user": user} if user else None)["dropped"]

    def live_sessions(self):
        return self.control("GET", "/sessions")["live"]

    def now_unix(self):
        return self.control("GET", "/clock")["now_unix"]

    def mark_log(self):
        """Starts a new stretch of the request log for `log()` (the log itself is kept whole:
        the Rust test reads it afterwards to check that no token seen by the fake was printed)."""
        entries = self.control("GET", "/log")
        self.log_start = entries[-1]["seq"] + 1 if entries else 0

    def log_entries(self):
        """The requests since the last `mark_log()`."""
        return [e for e in self.control("GET", "/log") if e["seq"] >= self.log_start]

    def log(self):
        """`METHOD path status` of every request since the last `mark_log()` (never the headers
        or bodies, which hold secrets)."""
        return [f"{e['method']} {e['path']} {e['status']}" for e in self.log_entries()]

    @contextmanager
    def config_changed(self, **changes):
        """The fake's configuration with `changes`, restored afterwards."""
        saved = self.control("GET", "/config")
        self.control("POST", "/config", json={**saved, **changes})
        try:
            yield
        finally:
            self.control("POST", "/config", json=saved)

    def api(self, method, path, token=None, version=REST_API_VERSION, **kwargs):
        headers = kwargs.pop("headers", {})
        if token is not None:
            headers["X-Tableau-Auth"] = token
        return self.http.request(method, self.url(f"/api/{version}/{path}"), headers=headers, **kwargs)


FAKE = None


def server(**kwargs):
    """A TSC Server for the fake, as a TSC user would make one."""
    return TSC.Server(FAKE.base, http_options={"verify": FAKE.ca}, **kwargs)


def sign_in(srv, auth):
    """`server.auth.sign_in(auth)`, remembering the token as a secret."""
    manager = srv.auth.sign_in(auth)
    remember(srv.auth_token)
    return manager


def token_of(srv):
    return remember(srv.auth_token)


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def mint_jwt(sub=USER_NAME, scopes=("tableau:content:read", "tableau:users:read"), client_id=APP_CLIENT_ID,
             secret_id=APP_SECRET_ID, secret=APP_SECRET_VALUE, lifetime=300):
    """A connected-app (direct trust) HS256 JWT, as Tableau documents it; the HMAC key is the
    secret value's bytes. TSC 0.42 does not depend on PyJWT, so hmac and hashlib make it."""
    now = FAKE.now_unix()
    header = {"alg": "HS256", "typ": "JWT", "kid": secret_id, "iss": client_id}
    claims = {
        "iss": client_id,
        "sub": sub,
        "aud": "tableau",
        "exp": now + lifetime,
        "iat": now,
        "jti": str(uuid.uuid4()),
        "scp": list(scopes),
    }
    signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
    signature = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return remember(signing_input + "." + b64url(signature))


def admin_auth(**kwargs):
    return TSC.TableauAuth(ADMIN_NAME, ADMIN_PASSWORD, site_id=kwargs.pop("site_id", ""), **kwargs)


def user_auth(site_id=""):
    return TSC.TableauAuth(USER_NAME, USER_PASSWORD, site_id=site_id)


def finance_site():
    return TSC.SiteItem(FINANCE_SITE_NAME, FINANCE_SITE)


def whoami(token):
    """`GET sessions/current` with `token`: (HTTP status, user id or error code, site id)."""
    response = FAKE.api("GET", "sessions/current", token=token, headers={"Accept": "application/json"})
    try:
        body = response.json()
        if response.status_code == 200:
            return 200, body["session"]["user"]["id"], body["session"]["site"]["id"]
        return response.status_code, body["error"]["code"], None
    except (ValueError, KeyError, TypeError):
        return response.status_code, "not a Tableau JSON document", None


# ---------------------------------------------------------------------------------------------
# Flows

FLOWS = []


def flow(name):
    def register(fn):
        FLOWS.append((name, fn))
        return fn

    return register


@flow("password_sign_in")
def _():
    srv = server()
    FAKE.mark_log()
    sign_in(srv, admin_auth())
    eq(srv.site_id, DEFAULT_SITE_ID, "site id")
    eq(srv.site_url, "", "site contentUrl")
    eq(srv.user_id, ADMIN_ID, "user id")
    eq(whoami(token_of(srv))[:2], (200, ADMIN_ID), "the token works")
    # TSC signs in at its default 2.4 (the fake gates by the server's version, not the URL's).
    eq(FAKE.log()[0], "POST /api/2.4/auth/signin 200", "the sign-in request")
    srv.auth.sign_out()
    # A named site, another user.
    srv = server()
    sign_in(srv, user_auth(site_id=FINANCE_SITE))
    eq((srv.site_id, srv.site_url, srv.user_id), (FINANCE_SITE_ID, FINANCE_SITE, USER_ID), "Finance sign-in")
    srv.auth.sign_out()


@flow("pat_sign_in")
def _():
    srv = server()
    sign_in(srv, TSC.PersonalAccessTokenAuth(USER_PAT_NAME, USER_PAT_SECRET, site_id=""))
    eq((srv.site_id, srv.user_id), (DEFAULT_SITE_ID, USER_ID), "site and user")
    eq(srv.users.get_by_id(srv.user_id).name, USER_NAME, "the PAT's owner")
    srv.auth.sign_out()
    # sign_in_with_personal_access_token needs API 3.6 on TSC's side: ask the server first.
    srv = server()
    srv.use_server_version()
    srv.auth.sign_in_with_personal_access_token(
        TSC.PersonalAccessTokenAuth(USER_PAT_NAME, USER_PAT_SECRET, site_id=FINANCE_SITE))
    token_of(srv)
    eq((srv.site_id, srv.user_id), (FINANCE_SITE_ID, USER_ID), "PAT on Finance")
    srv.auth.sign_out()


@flow("pat_second_sign_in_ends_the_first")
def _():
    # One live session per PAT: a second sign-in with the same token ends the first session.
    first, second = server(), server()
    sign_in(first, TSC.PersonalAccessTokenAuth(USER_PAT_NAME, USER_PAT_SECRET, site_id=""))
    sign_in(second, TSC.PersonalAccessTokenAuth(USER_PAT_NAME, USER_PAT_SECRET, site_id=""))
    raises("the first session", first.workbooks.get, FailedSignInError, "401002")
    eq(len(second.workbooks.get()[0]), 2, "the second session works")
    second.auth.sign_out()


@flow("jwt_sign_in")
def _():
    srv = server()
    # site_id by keyword: TSC 0.42's second positional parameter of JWTAuth is isUat.
    sign_in(srv, TSC.JWTAuth(mint_jwt(), site_id=""))
    eq((srv.site_id, srv.user_id), (DEFAULT_SITE_ID, USER_ID), "site and user")
    workbooks, _pagination = srv.workbooks.get()
    eq({w.name for w in workbooks}, WORKBOOKS, "workbooks in scope (tableau:content:read)")
    eq(srv.users.get_by_id(srv.user_id).name, USER_NAME, "the user in scope (tableau:users:read)")
    srv.auth.sign_out()
    # Through sign_in_with_json_web_token (API 3.17 on TSC's side), another user.
    srv = server()
    srv.use_server_version()
    srv.auth.sign_in_with_json_web_token(TSC.JWTAuth(mint_jwt(sub=ADMIN_NAME), site_id=""))
    token_of(srv)
    eq((srv.site_id, srv.user_id), (DEFAULT_SITE_ID, ADMIN_ID), "the JWT's sub")
    eq(srv.users.get_by_id(USER_ID).name, USER_NAME, "the admin reads another user")
    srv.auth.sign_out()
    # The app belongs to the Default site: on Finance it is unknown (connected-app error 126).
    srv = server()
    error = raises("the Default site's app on Finance",
                   lambda: srv.auth.sign_in(TSC.JWTAuth(mint_jwt(), site_id=FINANCE_SITE)), FailedSignInError,
                   "401001")
    check((error.detail or "").endswith("(126)"), f"detail {error.detail!r}")


@flow("jwt_scope_outside_is_401002")
def _():
    srv = server(use_server_version=True)
    sign_in(srv, TSC.JWTAuth(mint_jwt(scopes=("tableau:content:read",)), site_id=""))
    # Query Sites needs tableau:sites:read: 401002, which TSC raises as its 401 error.
    raises("sites.get() out of scope", srv.sites.get, FailedSignInError, "401002")
    eq(len(srv.workbooks.get()[0]), 2, "in scope still works")
    srv.auth.sign_out()


@flow("sign_in_refused_is_401001")
def _():
    jwt_cases = [
        ("JWT signed with another secret", lambda: mint_jwt(secret="not-the-secret-value-of-the-app")),
        ("JWT of a disabled app", lambda: mint_jwt(client_id=DISABLED_APP_CLIENT_ID, secret_id=DISABLED_APP_SECRET_ID,
                                                   secret=DISABLED_APP_SECRET_VALUE)),
        ("JWT for an unknown user", lambda: mint_jwt(sub="nobody")),
    ]
    cases = [
        ("wrong password", lambda: TSC.TableauAuth(USER_NAME, "not-the-password", site_id="")),
        ("unknown user", lambda: TSC.TableauAuth("nobody", USER_PASSWORD, site_id="")),
        ("SSO-only user", lambda: TSC.TableauAuth(SSO_USER_NAME, USER_PASSWORD, site_id="")),
        ("user not on the site", lambda: TSC.TableauAuth(FINANCE_USER_NAME, FINANCE_USER_PASSWORD, site_id="")),
        ("unknown site", lambda: TSC.TableauAuth(USER_NAME, USER_PASSWORD, site_id="NoSuchSite")),
        ("revoked PAT", lambda: TSC.PersonalAccessTokenAuth(REVOKED_PAT_NAME, REVOKED_PAT_SECRET, site_id="")),
        ("expired PAT", lambda: TSC.PersonalAccessTokenAuth(EXPIRED_PAT_NAME, EXPIRED_PAT_SECRET, site_id="")),
    ] + [(what, lambda mint=mint: TSC.JWTAuth(mint(), site_id="")) for what, mint in jwt_cases]
    for what, auth in cases:
        srv = server()
        error = raises(what, lambda: srv.auth.sign_in(auth()), FailedSignInError, "401001")
        check(not srv.is_signed_in(), f"{what}: TSC is not signed in")
        if what.startswith("JWT"):
            # The connected-app error number ends the detail: "(…)".
            check(re.search(r"\(\d+\)$", error.detail or ""), f"{what}: detail {error.detail!r}")


@flow("impersonation")
def _():
    srv = server()
    sign_in(srv, admin_auth(user_id_to_impersonate=USER_ID))
    eq(srv.user_id, USER_ID, "the session is the impersonated user's")
    eq(whoami(token_of(srv))[:2], (200, USER_ID), "sessions/current")
    eq(srv.users.get_by_id(srv.user_id).name, USER_NAME, "Query User")
    # The session has jsmith's rights, not the admin's.
    raises("reading the admin as jsmith", lambda: srv.users.get_by_id(ADMIN_ID), ServerResponseError, "403133")
    srv.auth.sign_out()
    # With a JWT (the app's user is the admin, impersonating jsmith).
    srv = server()
    sign_in(srv, TSC.JWTAuth(mint_jwt(sub=ADMIN_NAME), site_id="", user_id_to_impersonate=USER_ID))
    eq(srv.user_id, USER_ID, "JWT impersonation")
    srv.auth.sign_out()


@flow("switch_site")
def _():
    srv = server(use_server_version=True)  # switch_site needs API 2.6 on TSC's side
    sign_in(srv, admin_auth())
    old_token = token_of(srv)
    srv.auth.switch_site(finance_site())
    new_token = token_of(srv)
    eq((srv.site_id, srv.site_url, srv.user_id), (FINANCE_SITE_ID, FINANCE_SITE, ADMIN_ID), "after the switch")
    check(new_token != old_token, "a new token")
    eq(whoami(old_token)[:2], (401, "401002"), "the old token is dead")
    eq(whoami(new_token), (200, ADMIN_ID, FINANCE_SITE_ID), "the new token is on Finance")
    workbooks, _pagination = srv.workbooks.get()
    check(all(w.id.endswith("812074ac5da6") for w in workbooks), "Finance's workbooks")
    # And back to the Default site.
    srv.auth.switch_site(TSC.SiteItem("Default", ""))
    token_of(srv)
    eq((srv.site_id, srv.site_url), (DEFAULT_SITE_ID, ""), "back on Default")
    srv.auth.sign_out()


@flow("switch_site_to_current_is_403070_no_op")
def _():
    srv = server(use_server_version=True)
    sign_in(srv, user_auth(site_id=FINANCE_SITE))
    token = token_of(srv)
    FAKE.mark_log()
    manager = srv.auth.switch_site(finance_site())
    # TSC 0.42 swallows 403070: no exception, nothing changes, a context manager comes back.
    check(isinstance(manager, Auth.contextmgr), f"switch_site returned {type(manager).__name__}")
    eq(FAKE.log(), [f"POST /api/{REST_API_VERSION}/auth/switchSite 403"], "the fake's answer")
    eq((srv.auth_token, srv.site_id, srv.site_url), (token, FINANCE_SITE_ID, FINANCE_SITE), "unchanged")
    eq(whoami(token), (200, USER_ID, FINANCE_SITE_ID), "the session still works")
    # As a `with` block, TSC signs out at its end even though nothing was switched.
    with srv.auth.switch_site(finance_site()):
        check(srv.is_signed_in(), "signed in inside the block")
    check(not srv.is_signed_in(), "signed out after the block")
    eq(whoami(token)[:2], (401, "401002"), "the session ended")


@flow("switch_site_refused_keeps_the_session")
def _():
    srv = server(use_server_version=True)
    sign_in(srv, TSC.TableauAuth(FINANCE_USER_NAME, FINANCE_USER_PASSWORD, site_id=FINANCE_SITE))
    token = token_of(srv)
    # An unknown site, and one the user has no role on: 401001 (the fake's choice, README #14).
    raises("unknown site", lambda: srv.auth.switch_site(TSC.SiteItem("x", "NoSuchSite")), FailedSignInError,
           "401001")
    raises("a site without a role", lambda: srv.auth.switch_site(TSC.SiteItem("Default", "")), FailedSignInError,
           "401001")
    eq((srv.auth_token, srv.site_id), (token, FINANCE_SITE_ID), "TSC keeps its session")
    eq(whoami(token), (200, FINANCE_USER_ID, FINANCE_SITE_ID), "the session still works")
    srv.auth.sign_out()


@flow("sign_out")
def _():
    srv = server()
    sign_in(srv, user_auth())
    token = token_of(srv)
    live = FAKE.live_sessions()
    FAKE.mark_log()
    srv.auth.sign_out()
    check(not srv.is_signed_in(), "TSC forgot the token")
    eq(FAKE.log(), ["POST /api/2.4/auth/signout 204"], "the sign-out request")
    eq(FAKE.live_sessions(), live - 1, "the fake ended the session")
    srv.auth.sign_out()  # signed out already: TSC sends nothing
    eq(FAKE.log(), ["POST /api/2.4/auth/signout 204"], "no second sign-out request")
    eq(whoami(token)[:2], (401, "401002"), "the token is dead")


@flow("with_sign_in_block")
def _():
    srv = server()
    live = FAKE.live_sessions()
    with sign_in(srv, admin_auth()):
        token = token_of(srv)
        eq(FAKE.live_sessions(), live + 1, "a session inside the block")
        eq(len(srv.workbooks.get()[0]), 2, "a call inside the block")
    check(not srv.is_signed_in(), "signed out at the end of the block")
    eq(FAKE.live_sessions(), live, "the session ended")
    eq(whoami(token)[:2], (401, "401002"), "the token is dead")


@flow("use_server_version_true")
def _():
    FAKE.mark_log()
    srv = server(use_server_version=True)
    eq(FAKE.log(), [], "no request when the Server is made")
    eq(srv.version, "2.4", "version before sign-in")
    sign_in(srv, admin_auth())
    eq(srv.version, REST_API_VERSION, "version after sign-in")
    srv.workbooks.get()
    srv.auth.sign_out()
    eq(
        FAKE.log(),
        [
            "POST /api/2.4/auth/signin 200",
            "GET /api/2.4/serverInfo 200",
            f"GET /api/{REST_API_VERSION}/sites/{DEFAULT_SITE_ID}/workbooks 200",
            f"POST /api/{REST_API_VERSION}/auth/signout 204",
        ],
        "the requests",
    )


@flow("use_server_version_method")
def _():
    srv = server()
    FAKE.mark_log()
    srv.use_server_version()  # anonymous
    eq(srv.version, REST_API_VERSION, "version")
    eq(FAKE.log(), ["GET /api/2.4/serverInfo 200"], "one anonymous probe")
    # An older server: TSC follows it.
    with FAKE.config_changed(rest_api_version="3.19"):
        srv = server()
        srv.use_server_version()
        eq(srv.version, "3.19", "version of a 3.19 server")
        sign_in(srv, user_auth())
        eq(srv.users.get_by_id(srv.user_id).name, USER_NAME, "a call at 3.19")
        srv.auth.sign_out()


@flow("use_server_version_legacy_404003")
def _():
    # A pre-10.1 server: serverInfo is 404003, which TSC turns into ServerInfoEndpointNotFoundError
    # and falls back to GET /auth?format=xml (product 10.0 -> REST 2.3).
    # TSC 0.42 sends that legacy request without its http_options (so without "verify"): a
    # session that trusts the fake's CA carries it here.
    def session_trusting_the_fake():
        session = requests.Session()
        session.trust_env = False
        session.verify = FAKE.ca
        return session

    with FAKE.config_changed(legacy_server=True, rest_api_version="2.3", product_version="10.0.3"):
        FAKE.mark_log()
        srv = server(session_factory=session_trusting_the_fake)
        srv.use_server_version()
        eq(srv.version, "2.3", "version from the legacy document")
        eq(FAKE.log(), ["GET /api/2.4/serverInfo 404", "GET /auth 200"], "the requests")


@flow("server_info")
def _():
    srv = server()
    for version in ("2.4", REST_API_VERSION):
        srv.version = version
        info = srv.server_info.get()
        eq((info.product_version, info.build_number, info.rest_api_version),
           (PRODUCT_VERSION, BUILD, REST_API_VERSION), f"server info at {version}")


@flow("workbooks_paged")
def _():
    srv = server(use_server_version=True)
    sign_in(srv, admin_auth())
    first, pagination = srv.workbooks.get(TSC.RequestOptions(pagesize=1))
    eq((len(first), pagination.page_number, pagination.page_size, pagination.total_available), (1, 1, 1, 2),
       "first page")
    second, pagination = srv.workbooks.get(TSC.RequestOptions(pagenumber=2, pagesize=1))
    eq((len(second), pagination.page_number, pagination.total_available), (1, 2, 2), "second page")
    check(first[0].id != second[0].id, "two pages, two workbooks")
    FAKE.mark_log()
    paged = list(TSC.Pager(srv.workbooks, TSC.RequestOptions(pagesize=1)))
    ids = [w.id for w in paged]
    eq(len(ids), 2, "TSC.Pager: the total")
    eq(len(set(ids)), len(ids), "TSC.Pager: no repeats")
    eq({w.name for w in paged}, WORKBOOKS, "TSC.Pager: every workbook")
    queries = [e["query"] for e in FAKE.log_entries()]
    eq(queries, ["pageNumber=1&pageSize=1", "pageNumber=2&pageSize=1"], "TSC.Pager's requests")
    # The default page (100) and TSC's QuerySet.
    eq({w.name for w in TSC.Pager(srv.workbooks)}, WORKBOOKS, "TSC.Pager, default page size")
    eq(sorted(w.name for w in srv.workbooks.all(page_size=1)), sorted(WORKBOOKS), "workbooks.all(page_size=1)")
    # Users (three on the Default site), pages of two.
    users = list(TSC.Pager(srv.users, TSC.RequestOptions(pagesize=2)))
    eq(len(users), len({u.id for u in users}), "users: no repeats")
    eq({u.name for u in users}, DEFAULT_SITE_USERS, "users: every user")
    srv.auth.sign_out()


@flow("paging_past_the_last_page")
def _():
    srv = server(use_server_version=True)
    sign_in(srv, admin_auth())
    # The fake's default (README #1): an empty page with the real total.
    items, pagination = srv.workbooks.get(TSC.RequestOptions(pagenumber=3, pagesize=1))
    eq((items, pagination.total_available), ([], 2), "past the last page")
    with FAKE.config_changed(past_last_page="error"):
        raises("past the last page (error)", lambda: srv.workbooks.get(TSC.RequestOptions(pagenumber=3, pagesize=1)),
               ServerResponseError, "400006")
        # TSC's Pager stops on its own arithmetic and never asks past the end.
        eq(len(list(TSC.Pager(srv.workbooks, TSC.RequestOptions(pagesize=1)))), 2, "TSC.Pager")
        eq(len(list(srv.workbooks.all(page_size=1))), 2, "workbooks.all()")
    srv.auth.sign_out()


@flow("paging_errors")
def _():
    srv = server(use_server_version=True)
    sign_in(srv, admin_auth())
    for what, options, code in [
        ("pageSize above 1000", TSC.RequestOptions(pagesize=1001), "403014"),
        ("negative pageSize", TSC.RequestOptions(pagesize=-1), "400007"),
        ("negative pageNumber", TSC.RequestOptions(pagenumber=-1, pagesize=1), "400006"),
    ]:
        raises(what, lambda: srv.workbooks.get(options), ServerResponseError, code)
    eq(len(srv.workbooks.get(TSC.RequestOptions(pagesize=1000))[0]), 2, "1000 is allowed")
    srv.auth.sign_out()


@flow("users_get_by_id")
def _():
    srv = server()
    sign_in(srv, user_auth())
    me = srv.users.get_by_id(srv.user_id)
    eq((me.id, me.name, me.site_role, me.fullname, me.email, me.domain_name),
       (USER_ID, USER_NAME, "Creator", "Jane Smith", "jsmith@example.com", "local"), "jsmith reading themself")
    check(me.last_login is not None, "lastLogin after a sign-in")
    srv.auth.sign_out()
    srv = server()
    sign_in(srv, admin_auth())
    eq(srv.users.get_by_id(USER_ID).name, USER_NAME, "the admin reading jsmith")
    raises("an unknown user", lambda: srv.users.get_by_id(str(uuid.uuid4())), ServerResponseError, "404002")
    srv.auth.sign_out()


@flow("users_get_by_id_forbidden_403133")
def _():
    srv = server()
    sign_in(srv, user_auth())
    error = raises("jsmith reading the admin", lambda: srv.users.get_by_id(ADMIN_ID), ServerResponseError, "403133")
    check(not isinstance(error, FailedSignInError), "a 403, not TSC's sign-in error")
    raises("jsmith listing users", srv.users.get, ServerResponseError, "403133")
    srv.auth.sign_out()


@flow("dead_token_401002")
def _():
    srv = server()
    sign_in(srv, user_auth())
    eq(FAKE.drop_sessions(USER_NAME) >= 1, True, "the fake dropped jsmith's sessions")
    raises("a call on a dropped session", srv.workbooks.get, FailedSignInError, "401002")
    check(srv.is_signed_in(), "TSC keeps the dead token (no automatic sign-in)")
    # Expired by idleness on the fake clock (240 minutes), not dropped.
    srv = server()
    sign_in(srv, TSC.PersonalAccessTokenAuth(USER_PAT_NAME, USER_PAT_SECRET, site_id=""))
    FAKE.control("POST", "/clock/advance", params={"secs": 240 * 60 + 1})
    raises("a call on an idle session", lambda: srv.users.get_by_id(USER_ID), FailedSignInError, "401002")


@flow("sign_out_of_a_dead_session")
def _():
    srv = server()
    sign_in(srv, user_auth())
    FAKE.drop_sessions(USER_NAME)
    FAKE.mark_log()
    # TSC#1351: TSC raises its 401 error and keeps the token.
    raises("sign_out() of a dropped session", srv.auth.sign_out, FailedSignInError, "401002")
    check(srv.is_signed_in(), "TSC still holds the token")
    eq(FAKE.log(), ["POST /api/2.4/auth/signout 401"], "the sign-out request")
    # The same at the end of a `with` block.
    srv = server()

    def block():
        with sign_in(srv, user_auth()):
            FAKE.drop_sessions(USER_NAME)

    raises("the end of a with block on a dropped session", block, FailedSignInError, "401002")


@flow("revoke_all_server_admin_tokens_is_an_unknown_endpoint_404003")
def _():
    # TSC posts to auth/revokeAllServerAdminTokens, which Tableau does not document (nor does the
    # fake, like Tableau, serve it): the unknown resource's 404003, and nothing is revoked. The
    # documented request, DELETE auth/serverAdminAccessTokens, is what tableau-auth sends.
    srv = server()
    srv.version = REST_API_VERSION  # TSC refuses the call below its 3.10 gate before sending
    sign_in(srv, admin_auth())
    FAKE.mark_log()
    raises("revoke_all_server_admin_tokens()", srv.auth.revoke_all_server_admin_tokens,
           ServerResponseError, "404003")
    eq(FAKE.log(), [f"POST /api/{REST_API_VERSION}/auth/revokeAllServerAdminTokens 404"], "TSC's request")
    with FAKE.config_changed():
        response = FAKE.api("DELETE", "auth/serverAdminAccessTokens", token=srv.auth_token)
        eq(response.status_code, 204, "the documented DELETE")
        admin_pat = TSC.PersonalAccessTokenAuth(ADMIN_PAT_NAME, ADMIN_PAT_SECRET, site_id="")
        raises("the admin's PAT after the DELETE", lambda: sign_in(server(), admin_pat), FailedSignInError,
               "401001")
    srv.auth.sign_out()


@flow("trusted_ticket")
def _():
    http = FAKE.http
    response = http.post(FAKE.url("/trusted"), data={"username": USER_NAME, "target_site": FINANCE_SITE})
    eq(response.status_code, 200, "POST /trusted status")
    ticket = remember(response.text.strip())
    check(re.fullmatch(r"[A-Za-z0-9+/=_-]{24}:[A-Za-z0-9+/=_-]{24}", ticket), "a 10.2-style ticket")
    view = "/t/Finance/views/Superstore/Overview"
    redeem = FAKE.url(f"/trusted/{urllib.parse.quote(ticket, safe='')}{view}?:embed=yes")
    response = http.get(redeem, allow_redirects=False)
    eq(response.status_code, 302, "redemption status")
    location = response.headers.get("Location", "")
    eq(location, view + "?:embed=yes", "redirected to the view, the ticket stripped")
    cookie = remember(response.cookies.get("workgroup_session_id"))
    check(cookie, "a workgroup_session_id cookie")
    set_cookie = response.headers.get("Set-Cookie", "")
    check("HttpOnly" in set_cookie and "Secure" in set_cookie, "the cookie is HttpOnly and Secure")
    page = http.get(urllib.parse.urljoin(redeem, location), cookies={"workgroup_session_id": cookie},
                    allow_redirects=False)
    eq(page.status_code, 200, "the view with the cookie")
    check("Overview" in page.text and USER_NAME in page.text, "the view page names the view and the user")
    http.cookies.clear()
    eq(http.get(redeem, allow_redirects=False).status_code, 401, "a ticket redeems once")
    anonymous = http.get(FAKE.url(view), allow_redirects=False)
    eq((anonymous.status_code, anonymous.headers.get("Location", "").startswith("/#/signin")), (302, True),
       "the view without the cookie")
    # The Default site, with requests following the redirect itself.
    ticket = remember(http.post(FAKE.url("/trusted"), data={"username": USER_NAME, "target_site": ""}).text.strip())
    followed = http.get(FAKE.url(f"/trusted/{urllib.parse.quote(ticket, safe='')}/views/RegionalSales/Forecast"))
    remember(http.cookies.get("workgroup_session_id"))
    eq((followed.status_code, urllib.parse.urlparse(followed.url).path), (200, "/views/RegionalSales/Forecast"),
       "redeemed and followed")
    http.cookies.clear()
    # A refused ticket: -1 with HTTP 200 (fin.analyst is not on the Default site).
    refused = http.post(FAKE.url("/trusted"), data={"username": FINANCE_USER_NAME, "target_site": ""})
    eq((refused.status_code, refused.text.strip()), (200, "-1"), "a refused ticket")


@flow("json")
def _():
    json_headers = {"Accept": "application/json"}
    response = FAKE.api("POST", "auth/signin", headers=dict(json_headers), json={
        "credentials": {"name": ADMIN_NAME, "password": ADMIN_PASSWORD, "site": {"contentUrl": ""}}})
    eq(response.status_code, 200, "JSON sign-in status")
    check(response.headers.get("Content-Type", "").startswith("application/json"), "a JSON answer")
    credentials = response.json()["credentials"]
    token = remember(credentials["token"])
    eq((credentials["site"]["id"], credentials["site"]["contentUrl"], credentials["user"]["id"]),
       (DEFAULT_SITE_ID, "", ADMIN_ID), "the JSON credentials")
    listing = FAKE.api("GET", f"sites/{DEFAULT_SITE_ID}/workbooks", token=token, headers=dict(json_headers),
                       params={"pageSize": 1})
    eq(listing.status_code, 200, "JSON workbooks status")
    body = listing.json()
    eq(body["pagination"], {"pageNumber": "1", "pageSize": "1", "totalAvailable": "2"}, "JSON pagination")
    eq(len(body["workbooks"]["workbook"]), 1, "one workbook")
    eq(whoami(token), (200, ADMIN_ID, DEFAULT_SITE_ID), "JSON sessions/current")
    # A refused JSON sign-in: a JSON error document.
    bad = FAKE.api("POST", "auth/signin", headers=dict(json_headers), json={
        "credentials": {"name": ADMIN_NAME, "password": "not-the-password", "site": {"contentUrl": ""}}})
    eq((bad.status_code, bad.json()["error"]["code"]), (401, "401001"), "JSON sign-in refused")
    # An XML sign-in body (as TSC sends it) with Accept: application/json: a JSON answer.
    xml = RequestFactory.Auth.signin_req(TSC.PersonalAccessTokenAuth(USER_PAT_NAME, USER_PAT_SECRET, site_id=""))
    mixed = FAKE.api("POST", "auth/signin", headers={**json_headers, "Content-Type": "text/xml"}, data=xml)
    eq(mixed.status_code, 200, "XML body, JSON answer: status")
    pat_token = remember(mixed.json()["credentials"]["token"])
    eq(mixed.json()["credentials"]["user"]["id"], USER_ID, "XML body, JSON answer: user")
    check("estimatedTimeToExpiration" in mixed.json()["credentials"], "a PAT sign-in tells the PAT's expiry")
    eq(FAKE.api("POST", "auth/signout", token=pat_token).status_code, 204, "PAT sign-out")
    eq(FAKE.api("POST", "auth/signout", token=token, headers=dict(json_headers)).status_code, 204, "sign-out")
    dead = FAKE.api("GET", f"sites/{DEFAULT_SITE_ID}/workbooks", token=token, headers=dict(json_headers))
    eq((dead.status_code, dead.json()["error"]["code"]), (401, "401002"), "JSON error after sign-out")


# ---------------------------------------------------------------------------------------------


def main(argv):
    global FAKE
    args = argv[1:]
    base = args[0] if len(args) > 0 else os.environ.get("TSC_FAKE_BASE_URL")
    ca_file = args[1] if len(args) > 1 else os.environ.get("TSC_FAKE_CA_FILE")
    if not base or not ca_file:
        print(__doc__, file=sys.stderr)
        return 2
    # TSC's requests session honours the environment; the fake is on loopback.
    no_proxy = os.environ.get("NO_PROXY", "")
    os.environ["NO_PROXY"] = ",".join(filter(None, [no_proxy, "127.0.0.1", "localhost"]))
    FAKE = Fake(base, ca_file)
    import importlib.metadata

    say(f"# tableauserverclient {importlib.metadata.version('tableauserverclient')}, "
        f"requests {requests.__version__}, python {sys.version.split()[0]}")
    only = set(filter(None, os.environ.get("TSC_CONFORMANCE_ONLY", "").split(",")))
    failed = []
    for name, run in FLOWS:
        if only and name not in only:
            continue
        try:
            run()
            say(f"ok {name}")
        except Exception as e:  # noqa: BLE001 - every failure is reported by name
            failed.append(name)
            why = str(e) if isinstance(e, Failure) else f"{type(e).__name__}: {e}"
            say(f"FAIL {name}: {why.strip()}")
            print(redact(traceback.format_exc()), file=sys.stderr, flush=True)
    say(f"# {len(FLOWS) if not only else len(only)} flows, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
