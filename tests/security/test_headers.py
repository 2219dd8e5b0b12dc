"""Transport and response headers, checklist items 28, 33, 36, 38, 39 and 40."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
from flask import Flask
from werkzeug.test import TestResponse

from tests.support import (
    STRONG_PASSWORD,
    HttpsClient,
    csrf_token_in,
    is_deleted,
    make_app,
    new_client,
    set_cookies,
)
from webapp import create_app
from webapp.extensions import db

ONE_YEAR = 365 * 24 * 3600
EVIL_ORIGIN = "https://evil.example"
SAFE_AND_POST = {"GET", "HEAD", "OPTIONS", "POST"}
CREDENTIALS = {"email": "ann@example.com", "password": STRONG_PASSWORD}


# --- The sweep: representative pages and every error path, all over https. ---


def _get(path: str) -> Callable[[HttpsClient, Flask], TestResponse]:
    def fetch(client: HttpsClient, app: Flask) -> TestResponse:
        return client.get(path)

    return fetch


def _static_file(client: HttpsClient, app: Flask) -> TestResponse:
    response = client.get("/static/css/app.css")
    response.close()  # the file stays open otherwise: a ResourceWarning, an error here
    return response


def _signed_in_account(client: HttpsClient, app: Flask) -> TestResponse:
    client.register()
    return client.get("/account")


def _csrf_failure(client: HttpsClient, app: Flask) -> TestResponse:
    client.get("/login")  # posted from the page, so only the missing token is wrong
    return client.post("/login", data={"email": "a@example.com", "password": "x"})


def _cross_site_post(client: HttpsClient, app: Flask) -> TestResponse:
    return client.post("/login", headers={"Sec-Fetch-Site": "cross-site"})


def _too_large(client: HttpsClient, app: Flask) -> TestResponse:
    return client.post("/register", data={"email": "a@example.com", "name": "x" * 100_000})


def _rate_limited(client: HttpsClient, app: Flask) -> TestResponse:
    app.config["LOGIN_RATE_LIMIT"] = "1 per minute"
    client.login(email="nobody@example.com")
    return client.login(email="nobody@example.com")


def _server_error(client: HttpsClient, app: Flask) -> TestResponse:
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("boom")

    return client.get("/boom")


def _sign_up(client: HttpsClient, app: Flask) -> TestResponse:
    return client.register()


def _sign_in_remembered(client: HttpsClient, app: Flask) -> TestResponse:
    client.register()
    client.logout()
    return client.login(remember="y")


def _sign_out(client: HttpsClient, app: Flask) -> TestResponse:
    client.register()
    return client.logout()


@dataclass(frozen=True)
class Case:
    """One request of the sweep and the status that shows it took the intended path."""

    fetch: Callable[[HttpsClient, Flask], TestResponse]
    status: int
    static: bool = False


SWEEP = {
    "home": Case(_get("/"), 200),
    "login": Case(_get("/login"), 200),
    "register": Case(_get("/register"), 200),
    "account-redirect": Case(_get("/account"), 302),
    "account-signed-in": Case(_signed_in_account, 200),
    "healthz": Case(_get("/healthz"), 200),
    "static-css": Case(_static_file, 200, static=True),
    "404": Case(_get("/no-such-page"), 404),
    "405": Case(lambda client, app: client.delete("/login"), 405),
    "csrf-400": Case(_csrf_failure, 400),
    "cross-site-403": Case(_cross_site_post, 403),
    "413": Case(_too_large, 413),
    "429": Case(_rate_limited, 429),
    "500": Case(_server_error, 500),
    "sign-up-303": Case(_sign_up, 303),
    "sign-in-remembered-303": Case(_sign_in_remembered, 303),
    "sign-out-303": Case(_sign_out, 303),
}
DYNAMIC = [name for name, case in SWEEP.items() if not case.static]


@pytest.fixture(scope="module", params=list(SWEEP), ids=list(SWEEP))
def swept(request: pytest.FixtureRequest) -> TestResponse:
    """The response of one sweep case, from an app of its own, checked to have its status.

    Made once per module and only read by the tests that share it, so the sweep costs one
    app per case rather than one per case and test.
    """
    app = make_app()
    return _fetch(request.param, new_client(app), app)


def _fetch(name: str, client: HttpsClient, app: Flask) -> TestResponse:
    case = SWEEP[name]
    response = case.fetch(client, app)
    assert response.status_code == case.status
    return response


def _csp_directives(response: TestResponse) -> dict[str, list[str]]:
    [policy] = response.headers.getlist("Content-Security-Policy")
    directives: dict[str, list[str]] = {}
    for part in policy.split(";"):
        if part.strip():
            name, *sources = part.split()
            assert name.lower() not in directives, f"{name} appears twice"
            directives[name.lower()] = sources
    return directives


def _assert_browser_headers(response: TestResponse) -> None:
    csp = _csp_directives(response)
    assert csp["object-src"] == ["'none'"]
    assert csp["base-uri"] == ["'none'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert "script-src" in csp or "default-src" in csp
    for name, sources in csp.items():
        assert "'unsafe-inline'" not in sources, name
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert response.headers["X-Frame-Options"] == "DENY"


def _hsts_max_age(response: TestResponse) -> int:
    [value] = response.headers.getlist("Strict-Transport-Security")
    tokens = [token.strip().lower() for token in value.split(";")]
    assert "includesubdomains" in tokens
    [max_age] = [token for token in tokens if token.startswith("max-age=")]
    return int(max_age.removeprefix("max-age="))


def _cache_directives(response: TestResponse) -> set[str]:
    value = response.headers.get("Cache-Control", "")
    return {token.strip().lower() for token in value.split(",") if token.strip()}


@pytest.fixture
def production_app(monkeypatch: pytest.MonkeyPatch) -> Flask:
    """The app as production builds it: only what it requires from the environment."""
    monkeypatch.delenv("APP_ENV", raising=False)
    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    monkeypatch.setenv("SECRET_KEY", secrets.token_hex(32))
    monkeypatch.setenv("PUBLIC_URL", "https://signup.example")
    monkeypatch.setenv("MAIL_SERVER", "smtp.example")
    return create_app()


# --- 39. A CSP and the other browser headers on every response. ---


def test_c39_every_response_has_the_browser_headers(swept: TestResponse) -> None:
    _assert_browser_headers(swept)
    assert swept.headers["Cross-Origin-Opener-Policy"] == "same-origin"
    permissions = swept.headers["Permissions-Policy"]
    for feature in ("camera", "microphone", "geolocation"):
        assert f"{feature}=()" in permissions


def test_c39_the_https_redirect_has_the_browser_headers(client: HttpsClient) -> None:
    response = client.get("/login", base_url="http://localhost")

    assert response.status_code == 308
    _assert_browser_headers(response)


def test_c39_a_view_may_set_a_stricter_referrer_policy(app: Flask, client: HttpsClient) -> None:
    @app.get("/reset-like")
    def reset_like() -> tuple[str, int, dict[str, str]]:
        return "token page", 200, {"Referrer-Policy": "no-referrer"}

    response = client.get("/reset-like")

    assert response.headers.getlist("Referrer-Policy") == ["no-referrer"]


# --- 38. HTTPS only, with HSTS. ---


def test_c38_every_https_response_has_hsts(swept: TestResponse) -> None:
    assert _hsts_max_age(swept) >= ONE_YEAR


def test_c38_production_forces_https_with_a_year_of_hsts(production_app: Flask) -> None:
    assert production_app.config["FORCE_HTTPS"] is True
    assert production_app.config["HSTS_SECONDS"] >= ONE_YEAR


@pytest.mark.parametrize("path", ["/login", "/login?next=/account", "/static/css/app.css"])
def test_c38_plain_http_is_redirected_to_https(client: HttpsClient, path: str) -> None:
    response = client.get(path, base_url="http://localhost")

    assert response.status_code == 308
    assert response.headers["Location"] == f"https://localhost{path}"
    assert "Strict-Transport-Security" not in response.headers  # ignored over http anyway


def test_c38_a_plain_http_post_is_redirected_before_any_csrf_check(client: HttpsClient) -> None:
    response = client.post("/login", base_url="http://localhost", data={"email": "a@example.com"})

    assert response.status_code == 308  # the method and body are kept, unlike 301/302
    assert response.headers["Location"] == "https://localhost/login"


@pytest.mark.parametrize(
    "headers",
    [
        {"Host": "evil.example"},
        {"Host": "evil.example", "X-Forwarded-Host": "evil.example"},
        {"Host": "signup.example@evil.example"},
    ],
    ids=["host", "forwarded-host", "userinfo"],
)
@pytest.mark.parametrize("proxies", [0, 1])
def test_c38_the_https_redirect_goes_to_public_url_whatever_the_host_header(
    headers: dict[str, str], proxies: int
) -> None:
    client = make_app(
        PUBLIC_URL="https://signup.example:8443", TRUSTED_PROXIES=proxies
    ).test_client()

    response = client.get("/login?next=/account", base_url="http://localhost", headers=headers)

    assert response.status_code == 308
    assert response.headers["Location"] == "https://signup.example:8443/login?next=/account"


@pytest.mark.parametrize(
    ("path", "location"),
    [
        ("/login?next=%2Faccount%3Fa%3D1%26b%3D2", "/login?next=%2Faccount%3Fa%3D1%26b%3D2"),
        ("/caf%C3%A9?q=%C3%A9+x", "/caf%C3%A9?q=%C3%A9+x"),
        ("/a%20b%3Fc%23d%2525", "/a%20b%3Fc%23d%2525"),
        (
            "/register?email=ann%40example.com&x=%2F%2Fevil.example",
            "/register?email=ann%40example.com&x=%2F%2Fevil.example",
        ),
    ],
)
def test_c38_the_https_redirect_keeps_path_and_query(path: str, location: str) -> None:
    client = make_app(PUBLIC_URL="https://signup.example").test_client()

    response = client.get(path, base_url="http://localhost")

    assert response.status_code == 308
    assert response.headers["Location"] == f"https://signup.example{location}"


@pytest.mark.parametrize("path", ["//evil.example/login", "///evil.example", "/\\evil.example"])
def test_c38_the_https_redirect_never_leaves_public_url(path: str) -> None:
    client = make_app(PUBLIC_URL="https://signup.example").test_client()

    # As a server passes a request line such as "GET //evil.example/login HTTP/1.1".
    response = client.get("/", base_url="http://localhost", environ_overrides={"PATH_INFO": path})

    assert response.status_code == 308
    target = urlsplit(response.headers["Location"])
    assert (target.scheme, target.netloc) == ("https", "signup.example")
    assert target.path.startswith("/")
    assert not target.path.startswith("//")


@pytest.mark.parametrize("path", ["/login", "/static/css/app.css"])
def test_c38_the_https_redirect_is_not_stored(client: HttpsClient, path: str) -> None:
    response = client.get(path, base_url="http://localhost")

    assert response.status_code == 308
    assert response.headers["Cache-Control"] == "no-store"


def test_c38_healthz_answers_over_plain_http(client: HttpsClient) -> None:
    response = client.get("/healthz", base_url="http://localhost")

    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_c38_x_forwarded_proto_is_ignored_without_a_trusted_proxy(client: HttpsClient) -> None:
    response = client.get(
        "/login", base_url="http://localhost", headers={"X-Forwarded-Proto": "https"}
    )

    assert response.status_code == 308


def test_c38_behind_a_trusted_proxy_https_from_the_proxy_is_served() -> None:
    client = make_app(TRUSTED_PROXIES=1).test_client()

    response = client.get(
        "/login", base_url="http://localhost", headers={"X-Forwarded-Proto": "https"}
    )

    assert response.status_code == 200
    assert _hsts_max_age(response) >= ONE_YEAR


def test_c38_behind_a_trusted_proxy_http_from_the_proxy_is_redirected() -> None:
    client = make_app(TRUSTED_PROXIES=1).test_client()

    response = client.get("/login", headers={"X-Forwarded-Proto": "http"})

    assert response.status_code == 308
    assert response.headers["Location"] == "https://localhost/login"


def test_c38_development_sends_no_hsts_and_serves_plain_http(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # From the environment too: development otherwise writes a key file under instance/.
    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    monkeypatch.setenv("PUBLIC_URL", "https://signup.example")
    app = create_app(
        {
            "APP_ENV": "development",
            "SECRET_KEY": "x" * 40,
            "SQLALCHEMY_DATABASE_URI": "sqlite:///:memory:",
        }
    )
    with app.app_context():
        db.create_all()
    client = app.test_client()

    over_http = client.get("/login", base_url="http://localhost")
    over_https = client.get("/login", base_url="https://localhost")

    assert over_http.status_code == over_https.status_code == 200
    assert "Strict-Transport-Security" not in over_http.headers
    assert "Strict-Transport-Security" not in over_https.headers
    _assert_browser_headers(over_http)


# --- 40. No CORS, no TRACE, no debug output. ---


def test_c40_no_response_has_cors_headers(swept: TestResponse) -> None:
    names = [name.lower() for name, _ in swept.headers.items()]
    assert not [name for name in names if name.startswith("access-control-")]


def test_c40_a_foreign_origin_gets_no_cors_permission(client: HttpsClient) -> None:
    origin = {"Origin": EVIL_ORIGIN}
    preflight = {**origin, "Access-Control-Request-Method": "POST"}
    responses = [
        client.get("/login", headers=origin),
        client.post("/login", headers=origin),
        client.submit("/login", {"email": "a@example.com", "password": "x"}, headers=origin),
        client.options("/login", headers=preflight),
    ]

    for response in responses:
        assert "Access-Control-Allow-Origin" not in response.headers
        assert "Access-Control-Allow-Credentials" not in response.headers


def test_c40_trace_is_not_allowed(client: HttpsClient) -> None:
    response = client.open("/", method="TRACE")

    assert response.status_code == 405


def test_c40_production_app_is_not_in_debug_mode(production_app: Flask) -> None:
    assert production_app.config["APP_ENV"] == "production"
    assert production_app.debug is False


# --- 33. Sensitive responses are not cached. ---


@pytest.mark.parametrize("name", DYNAMIC)
def test_c33_every_dynamic_response_is_not_stored(
    client: HttpsClient, app: Flask, name: str
) -> None:
    response = _fetch(name, client, app)

    assert "no-store" in _cache_directives(response)


def test_c33_every_response_that_sets_a_cookie_is_not_stored(swept: TestResponse) -> None:
    if "Set-Cookie" in swept.headers:
        assert "no-store" in _cache_directives(swept)


def test_c33_sign_up_sets_the_session_cookie_on_an_unstored_response(
    client: HttpsClient,
) -> None:
    response = client.register()

    assert response.status_code == 303
    assert "__Host-session" in set_cookies(response)
    assert _cache_directives(response) == {"no-store"}


def test_c33_static_files_stay_cacheable(client: HttpsClient) -> None:
    response = _static_file(client, client.application)

    assert "no-store" not in _cache_directives(response)


# --- 28. Sign-out is a POST with a token and clears what the browser kept. ---


def test_c28_sign_out_sends_clear_site_data(client: HttpsClient) -> None:
    client.register()

    response = client.logout()

    assert response.status_code == 303
    types = {part.strip() for part in response.headers["Clear-Site-Data"].split(",")}
    # Not "cookies": the device cookie must survive sign-out (item 19); the cookies that
    # sign in are deleted by name (the test below).
    assert types == {'"cache"', '"storage"'}


def test_c28_sign_out_deletes_the_remember_cookie_and_the_signed_in_session(
    client: HttpsClient, app: Flask, app_client_factory: Callable[[], HttpsClient]
) -> None:
    app_client_factory().register(email="bob@example.com", name="Bob")
    client.login(email="bob@example.com", remember="y")
    signed_in = client.get_cookie("__Host-session")
    assert signed_in is not None

    response = client.logout()

    cookies = set_cookies(response)
    assert is_deleted(cookies["__Host-remember"])
    session_cookie = cookies["__Host-session"]
    if not is_deleted(session_cookie):  # replaced by one holding only the flash message
        assert session_cookie.value != signed_in.value
        data = app.session_interface.get_signing_serializer(app).loads(session_cookie.value)
        assert "_user_id" not in data
    assert client.get("/account").status_code == 302


def test_c28_a_refused_sign_out_clears_nothing(client: HttpsClient) -> None:
    client.register()

    response = client.post("/logout")

    assert response.status_code == 400
    assert "Clear-Site-Data" not in response.headers
    assert client.get("/account").status_code == 200


def test_c28_the_account_page_has_a_sign_out_form(client: HttpsClient) -> None:
    client.register()

    page = client.get("/account").text

    form = re.search(r'<form method="post" action="/logout">(.*?)</form>', page, re.S)
    assert form is not None
    assert csrf_token_in(form.group(1))


# --- 36. No state change over safe methods; cross-site writes refused. ---


def test_c36_sign_out_accepts_only_post(app: Flask) -> None:
    [rule] = [rule for rule in app.url_map.iter_rules() if rule.endpoint == "auth.logout"]

    assert rule.methods is not None
    assert rule.methods - {"HEAD", "OPTIONS"} == {"POST"}


def test_c36_no_route_accepts_put_patch_or_delete(app: Flask) -> None:
    for rule in app.url_map.iter_rules():
        assert rule.methods is not None
        assert rule.methods <= SAFE_AND_POST, rule.rule


def test_c36_get_on_a_form_route_only_shows_the_form(app: Flask, client: HttpsClient) -> None:
    client.register()
    form_routes = [
        rule.rule
        for rule in app.url_map.iter_rules()
        if rule.methods and "POST" in rule.methods and not rule.arguments
    ]
    assert "/logout" in form_routes

    for path in form_routes:
        response = client.get(path)
        assert response.status_code in {200, 405}, path
        if response.status_code == 200:
            assert "<form" in response.text, path

    assert client.get("/account").status_code == 200  # still signed in


def test_c36_a_foreign_referer_is_refused_even_with_a_valid_token(client: HttpsClient) -> None:
    client.register()
    client.logout()

    response = client.submit("/login", CREDENTIALS, headers={"Referer": f"{EVIL_ORIGIN}/"})

    assert response.status_code == 400
    assert client.get("/account").status_code == 302


@pytest.mark.parametrize("path", ["/login", "/register"])
def test_c36_a_cross_site_post_is_refused_even_with_a_valid_token(
    client: HttpsClient, path: str
) -> None:
    response = client.submit(
        path,
        {"email": "a@example.com", "password": "x", "name": "A", "confirm_password": "x"},
        headers={"Sec-Fetch-Site": "cross-site"},
    )

    assert response.status_code == 403


def test_c36_a_cross_site_sign_out_is_refused(client: HttpsClient) -> None:
    client.register()
    token = csrf_token_in(client.get("/account").text)

    response = client.post(
        "/logout", data={"csrf_token": token}, headers={"Sec-Fetch-Site": "cross-site"}
    )

    assert response.status_code == 403
    assert client.get("/account").status_code == 200


@pytest.mark.parametrize("site", ["same-origin", "none"])
def test_c36_a_same_origin_post_proceeds(client: HttpsClient, site: str) -> None:
    client.register()
    client.logout()

    response = client.submit("/login", CREDENTIALS, headers={"Sec-Fetch-Site": site})

    assert response.status_code == 303
    assert client.get("/account").status_code == 200
