"""The signed-in devices page: see your sessions and end the others, CSRF on."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
from bs4 import BeautifulSoup, Tag
from werkzeug.test import TestResponse

from tests.support import STRONG_PASSWORD, HttpsClient, csrf_token_in
from webapp.models import UserSession

FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
CHROME_ANDROID = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Mobile Safari/537.36"
)
ALREADY_ENDED = "That session was already ended."

Sessions = Callable[[], list[UserSession]]


def _sign_in(
    client: HttpsClient,
    email: str = "ann@example.com",
    user_agent: str = FIREFOX_LINUX,
    ip: str = "198.51.100.20",
) -> None:
    """Sign in from a browser that sends ``user_agent`` from address ``ip``."""
    token = csrf_token_in(client.get("/login").text)
    response = client.post(
        "/login",
        data={"csrf_token": token, "email": email, "password": STRONG_PASSWORD},
        headers={"User-Agent": user_agent},
        environ_base={"REMOTE_ADDR": ip},
    )
    assert response.status_code == 303


def _post(client: HttpsClient, **data: str) -> TestResponse:
    token = csrf_token_in(client.get("/account/sessions").text)
    return client.post("/account/sessions", data={"csrf_token": token, **data})


def _items(client: HttpsClient) -> list[Tag]:
    soup = BeautifulSoup(client.get("/account/sessions").text, "html.parser")
    return soup.select("li.sessions__item")


def _flashes(client: HttpsClient, path: str = "/account/sessions") -> list[str]:
    soup = BeautifulSoup(client.get(path).text, "html.parser")
    return [li.get_text(strip=True) for li in soup.select(".flash")]


def _signed_in(client: HttpsClient) -> bool:
    return client.get("/account").status_code == 200


@pytest.fixture
def ann(client: HttpsClient, app_client_factory: Callable[[], HttpsClient]) -> HttpsClient:
    """Ann's account, signed in in ``client`` (the browser under test)."""
    app_client_factory().register()
    _sign_in(client, user_agent=CHROME_ANDROID, ip="203.0.113.7")
    return client


@pytest.fixture
def laptop(ann: HttpsClient, app_client_factory: Callable[[], HttpsClient]) -> HttpsClient:
    """A second browser signed in to Ann's account."""
    laptop = app_client_factory()
    _sign_in(laptop)
    return laptop


def _live(stored_sessions: Sessions) -> list[UserSession]:
    return [row for row in stored_sessions() if row.revoked_at is None]


def test_lists_the_open_sessions_and_marks_this_browser(
    app_client_factory: Callable[[], HttpsClient], stored_sessions: Sessions
) -> None:
    app_client_factory().register()
    ann, laptop = app_client_factory(), app_client_factory()
    _sign_in(ann, user_agent=CHROME_ANDROID, ip="203.0.113.7")
    _sign_in(laptop)
    ann.logout()  # an ended session is not listed
    _sign_in(ann, user_agent=CHROME_ANDROID, ip="203.0.113.7")
    assert len(stored_sessions()) == 4
    assert len(_live(stored_sessions)) == 3  # the sign-up browser, laptop, ann

    items = _items(ann)

    assert len(items) == 3
    current = [item for item in items if "This browser" in item.get_text()]
    assert len(current) == 1
    assert current[0] is items[0]  # this browser first
    assert "Chrome on Android" in current[0].get_text()
    assert "203.0.113.7" in current[0].get_text()
    assert current[0].find("form") is None  # ending this session here is not offered
    firefox = [item for item in items if "Firefox on Linux" in item.get_text()]
    assert len(firefox) == 1
    assert "198.51.100.20" in firefox[0].get_text()
    row = next(r for r in _live(stored_sessions) if r.ip == "198.51.100.20")
    times = [t["datetime"] for t in firefox[0].find_all("time")]
    assert times == [
        row.created_at.strftime("%Y-%m-%dT%H:%MZ"),
        row.last_seen_at.strftime("%Y-%m-%dT%H:%MZ"),
    ]
    assert "UTC" in firefox[0].find("time").get_text()
    form = firefox[0].find("form")
    assert form is not None
    assert form["method"] == "post"
    assert form.find("input", attrs={"name": "csrf_token"}) is not None
    assert form.find("input", attrs={"name": "action"})["value"] == "revoke"
    assert form.find("input", attrs={"name": "session_id"})["value"] == str(row.id)
    assert form.find("button").get_text(strip=True) == "Sign out this device"


def test_ending_another_session_signs_that_browser_out(
    ann: HttpsClient, laptop: HttpsClient, stored_sessions: Sessions
) -> None:
    laptop_row = next(r for r in _live(stored_sessions) if r.ip == "198.51.100.20")
    assert _signed_in(laptop)
    assert len(_items(ann)) == 3

    response = _post(ann, action="revoke", session_id=str(laptop_row.id))

    assert response.status_code == 303
    assert response.headers["Location"] == "/account/sessions"
    assert _flashes(ann) == ["That device has been signed out."]
    assert not _signed_in(laptop)
    assert _signed_in(ann)
    assert laptop_row.id not in {r.id for r in _live(stored_sessions)}
    assert len(_live(stored_sessions)) == 2
    assert "Firefox on Linux" not in " ".join(i.get_text() for i in _items(ann))


def test_sign_out_all_other_devices(
    ann: HttpsClient,
    laptop: HttpsClient,
    app_client_factory: Callable[[], HttpsClient],
    stored_sessions: Sessions,
) -> None:
    bob = app_client_factory()
    bob.register(email="bob@example.com", name="Bob")
    assert len(_live(stored_sessions)) == 4

    response = _post(ann, action="others")

    assert response.status_code == 303
    assert response.headers["Location"] == "/account/sessions"
    assert _flashes(ann) == ["All your other devices have been signed out."]
    assert _signed_in(ann)
    assert not _signed_in(laptop)
    assert _signed_in(bob)  # another account is not touched
    live = _live(stored_sessions)
    assert len(live) == 2
    assert len(_items(ann)) == 1
    assert "No other device is signed in." in ann.get("/account/sessions").text


def test_another_users_session_id_changes_nothing(
    ann: HttpsClient, app_client_factory: Callable[[], HttpsClient], stored_sessions: Sessions
) -> None:
    bob = app_client_factory()
    bob.register(email="bob@example.com", name="Bob")
    bobs_row = stored_sessions()[-1]
    assert bobs_row.user_id != stored_sessions()[0].user_id

    response = _post(ann, action="revoke", session_id=str(bobs_row.id))

    assert response.status_code == 303
    assert _flashes(ann) == [ALREADY_ENDED]
    assert _signed_in(bob)
    assert all(row.revoked_at is None for row in stored_sessions())


def test_an_already_ended_session_is_reported_as_such(
    ann: HttpsClient, laptop: HttpsClient, stored_sessions: Sessions
) -> None:
    laptop_row = next(r for r in _live(stored_sessions) if r.ip == "198.51.100.20")
    _post(ann, action="revoke", session_id=str(laptop_row.id))
    _flashes(ann)  # read the first message

    again = _post(ann, action="revoke", session_id=str(laptop_row.id))

    assert again.status_code == 303
    assert _flashes(ann) == [ALREADY_ENDED]


@pytest.mark.parametrize(
    "session_id", ["abc", "", " ", "1.5", "-1", "0", "1e3", "\u0661", "9" * 40, "1 OR 1=1"]
)
def test_a_bad_session_id_is_a_flash_not_an_error(
    ann: HttpsClient, laptop: HttpsClient, stored_sessions: Sessions, session_id: str
) -> None:
    response = _post(ann, action="revoke", session_id=session_id)

    assert response.status_code == 303
    assert _flashes(ann) == [ALREADY_ENDED]
    assert len(_live(stored_sessions)) == 3
    assert _signed_in(laptop)


def test_a_missing_session_id_is_a_flash_not_an_error(
    ann: HttpsClient, laptop: HttpsClient, stored_sessions: Sessions
) -> None:
    response = _post(ann, action="revoke")

    assert response.status_code == 303
    assert _flashes(ann) == [ALREADY_ENDED]
    assert len(_live(stored_sessions)) == 3


@pytest.mark.parametrize("data", [{}, {"action": "everything"}, {"action": "REVOKE"}])
def test_an_unknown_action_is_a_bad_request(
    ann: HttpsClient, laptop: HttpsClient, stored_sessions: Sessions, data: dict[str, str]
) -> None:
    response = _post(ann, session_id="1", **data)

    assert response.status_code == 400
    assert "Bad request" in response.text
    assert len(_live(stored_sessions)) == 3
    assert _signed_in(laptop)


def test_without_a_csrf_token_nothing_is_ended(
    ann: HttpsClient, laptop: HttpsClient, stored_sessions: Sessions
) -> None:
    response = ann.post("/account/sessions", data={"action": "others"})

    assert response.status_code == 400
    assert "The form expired, reload and try again." in response.text
    assert len(_live(stored_sessions)) == 3
    assert _signed_in(laptop)


def test_signed_out_post_goes_to_sign_in(client: HttpsClient) -> None:
    token = csrf_token_in(client.get("/login").text)

    response = client.post("/account/sessions", data={"csrf_token": token, "action": "others"})

    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/login"
