"""Several processes serving one site: gunicorn workers and instances on PostgreSQL and Redis.

The deployed shape (README "Scaling out"): every process is stateless, so uniqueness is the
database's job and limits and sessions live in shared storage. Each test proves one of those
claims over real HTTPS against `gunicorn wsgi:app` with production settings, with 4 sync
workers on one port and a second instance on another port sharing the same database, Redis
and SECRET_KEY (and, for the simultaneous guesses, one with 2 workers). Both instances have
the first one's address as PUBLIC_URL, as both would have a load balancer's public name.

The servers live for the whole module (starting them is most of the cost); each test uses
addresses of its own and starts from an empty Redis database.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from functools import partial

import pytest
from sqlalchemy import column, create_engine, func, select, table
from sqlalchemy.pool import NullPool

from tests.production.servers import (
    Access,
    Browser,
    Certificate,
    Gunicorn,
    Reply,
    StartServer,
    simultaneously,
)
from tests.support import STRONG_PASSWORD

pytestmark = pytest.mark.gunicorn

WORKERS = 4
SIMULTANEOUS_SIGN_UPS = 20
SIMULTANEOUS_GUESSES = 40
FREE_FAILURES = 5  # LOGIN_FREE_FAILURES
FIRST_WAIT = 30  # LOGIN_FIRST_WAIT, seconds
WRONG = "definitely not the password"
ALREADY_REGISTERED = "An account with this email address already exists"
USERS = table("users", column("email"))


@pytest.fixture(scope="module")
def server_a(start_server: StartServer, cluster_env: dict[str, str]) -> Gunicorn:
    """Instance A: gunicorn with 4 workers."""
    return start_server(cluster_env, WORKERS)


@pytest.fixture(scope="module")
def server_b(
    start_server: StartServer, cluster_env: dict[str, str], server_a: Gunicorn
) -> Gunicorn:
    """Instance B: another gunicorn with 4 workers, on another port, sharing everything."""
    return start_server({**cluster_env, "PUBLIC_URL": server_a.url}, WORKERS)


@pytest.fixture
def count_users(migrated_postgres: str) -> Iterator[Callable[[str], int]]:
    """``count_users(address)``: rows in ``users`` whose email is the address in any case."""
    engine = create_engine(migrated_postgres, poolclass=NullPool)

    def count(address: str) -> int:
        with engine.connect() as connection:
            query = select(func.count()).where(func.lower(USERS.c.email) == address.lower())
            return int(connection.scalar(query.select_from(USERS)) or 0)

    yield count
    engine.dispose()


def letter_cases(address: str, n: int) -> list[str]:
    """``n`` different spellings of ``address`` (as typed: upper and lower case letters)."""
    letters = [i for i, char in enumerate(address) if char.isalpha()]
    assert 2 ** len(letters) >= n
    spellings = []
    for variant in range(n):
        chars = list(address.lower())
        for bit, position in enumerate(letters):
            if variant >> bit & 1:
                chars[position] = chars[position].upper()
        spellings.append("".join(chars))
    assert len(set(spellings)) == n
    return spellings


def sign_up(browser: Browser, email: str, name: str) -> Reply:
    return browser.post_form(
        "/register",
        {
            "email": email,
            "name": name,
            "password": STRONG_PASSWORD,
            "confirm_password": STRONG_PASSWORD,
        },
    )


def prepared_sign_up(browser: Browser, email: str, name: str) -> Callable[[], Reply]:
    """The form is fetched now; the returned call only POSTs it (for a simultaneous start)."""
    token = browser.csrf_token("/register")
    data = {
        "csrf_token": token,
        "email": email,
        "name": name,
        "password": STRONG_PASSWORD,
        "confirm_password": STRONG_PASSWORD,
    }
    return partial(browser.post, "/register", data)


def prepared_login(server: Gunicorn, email: str, password: str) -> Callable[[], Reply]:
    """A fresh browser with the login form open; the returned call submits it."""
    browser = server.browser()
    token = browser.csrf_token("/login")
    data = {"csrf_token": token, "email": email, "password": password}
    return partial(browser.post, "/login", data)


def login(server: Gunicorn, email: str, password: str) -> Reply:
    return prepared_login(server, email, password)()


def assert_exactly_one_account(replies: Sequence[Reply]) -> int:
    """One reply created the account (303 to /account); every other is the ordinary refusal."""
    assert all(reply.status < 500 for reply in replies), [r.status for r in replies]
    created = [i for i, reply in enumerate(replies) if reply.status == 303]
    assert len(created) == 1, [r.status for r in replies]
    assert replies[created[0]].path == "/account", replies[created[0]]
    refused = [reply for i, reply in enumerate(replies) if i != created[0]]
    assert len(refused) == len(replies) - 1
    for reply in refused:
        assert reply.status == 422, reply
        assert ALREADY_REGISTERED in reply.body, reply
    return created[0]


def assert_throttled(reply: Reply) -> None:
    """The per-account 429: Retry-After within the first wait (the per-address limits are high)."""
    assert reply.status == 429, reply
    assert 1 <= int(reply.headers["Retry-After"]) <= FIRST_WAIT, reply.headers["Retry-After"]
    assert "Please wait" in reply.body


def login_accesses(server: Gunicorn, since: int, expected: int) -> list[Access]:
    """The POST /login lines logged after entry ``since``, once ``expected`` of them are there.

    gunicorn writes a line after the response is sent, so the last ones may lag a moment.
    """
    deadline = time.monotonic() + 5
    while True:
        lines = [
            access
            for access in server.accesses()[since:]
            if access.method == "POST" and access.path.startswith("/login")
        ]
        if len(lines) >= expected or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def assert_healthy_log(*servers: Gunicorn) -> None:
    for server in servers:
        assert "Traceback" not in server.log(), server.log()


def test_c45_twenty_simultaneous_sign_ups_make_one_account_on_four_workers(
    server_a: Gunicorn, count_users: Callable[[str], int]
) -> None:
    spellings = letter_cases("race.four@example.com", SIMULTANEOUS_SIGN_UPS)
    browsers = [server_a.browser() for _ in spellings]
    calls = [
        prepared_sign_up(browser, email, "Racer Four")
        for browser, email in zip(browsers, spellings, strict=True)
    ]

    replies = simultaneously(calls)

    winner = assert_exactly_one_account(replies)
    assert count_users("race.four@example.com") == 1
    account = browsers[winner].get("/account")
    assert account.status == 200
    assert "race.four@example.com" in account.body  # stored in its one normal form
    assert_healthy_log(server_a)


def test_c45_twenty_simultaneous_sign_ups_make_one_account_on_two_instances(
    server_a: Gunicorn, server_b: Gunicorn, count_users: Callable[[str], int]
) -> None:
    spellings = letter_cases("race.pair@example.com", SIMULTANEOUS_SIGN_UPS)
    servers = [(server_a, server_b)[i % 2] for i in range(len(spellings))]
    urls = [server.url for server in servers]
    browsers = [server.browser() for server in servers]
    calls = [
        prepared_sign_up(browser, email, "Racer Pair")
        for browser, email in zip(browsers, spellings, strict=True)
    ]

    replies = simultaneously(calls)

    winner = assert_exactly_one_account(replies)
    assert count_users("race.pair@example.com") == 1
    # Both instances took part: each answered at least one of the refusals.
    refused_on = {urls[i] for i, reply in enumerate(replies) if reply.status == 422}
    assert refused_on == {server_a.url, server_b.url}
    assert browsers[winner].get("/account").status == 200
    assert_healthy_log(server_a, server_b)


def test_c18_per_account_throttle_holds_across_four_workers(server_a: Gunicorn) -> None:
    email = "throttle.four@example.com"
    assert sign_up(server_a.browser(), email, "Tess Four").status == 303
    since = len(server_a.accesses())

    # Five wrong passwords at once, each from a fresh browser on its own connection: several
    # workers answer them, so no worker sees all five failures itself.
    failures = simultaneously(
        [prepared_login(server_a, email, WRONG) for _ in range(FREE_FAILURES)]
    )
    assert [reply.status for reply in failures] == [422] * FREE_FAILURES

    # The sixth attempt waits even with the right password, and so does every one after it,
    # whichever worker answers.
    assert_throttled(login(server_a, email, STRONG_PASSWORD))
    further = simultaneously([prepared_login(server_a, email, STRONG_PASSWORD) for _ in range(8)])
    for reply in further:
        assert_throttled(reply)

    logged = login_accesses(server_a, since, expected=FREE_FAILURES + 9)
    assert [access.status for access in logged].count(422) == FREE_FAILURES
    failed_on = {access.pid for access in logged if access.status == 422}
    throttled_on = {access.pid for access in logged if access.status == 429}
    # No worker answered all five failures, so none could have counted them on its own: every
    # 429 comes from the shared count. And the refusals came from more than one worker.
    assert len(failed_on) >= 2, f"one worker answered every failure: {logged}"
    assert len(throttled_on) >= 2, f"one worker answered every throttled attempt: {logged}"
    assert_healthy_log(server_a)


def test_c18_per_account_throttle_holds_across_two_instances(
    server_a: Gunicorn, server_b: Gunicorn
) -> None:
    email = "throttle.pair@example.com"
    instances = (server_a, server_b)
    assert sign_up(server_a.browser(), email, "Tess Pair").status == 303

    # Failures 1, 3, 5 on A and 2, 4 on B: neither instance saw five of them.
    for attempt in range(FREE_FAILURES):
        assert login(instances[attempt % 2], email, WRONG).status == 422

    # The sixth lands on B, then further attempts alternate: 429 on whichever instance.
    for attempt in range(FREE_FAILURES, FREE_FAILURES + 6):
        assert_throttled(login(instances[attempt % 2], email, STRONG_PASSWORD))
    assert_healthy_log(server_a, server_b)


def test_c18_forty_simultaneous_wrong_sign_ins_on_two_workers_get_five_checks(
    start_server: StartServer, cluster_env: dict[str, str]
) -> None:
    """The reservation is atomic in Redis: whichever worker takes which guess, no guess
    made while another is being checked gets a check beyond the five free ones."""
    server = start_server(cluster_env, 2)
    email = "throttle.race@example.com"
    assert sign_up(server.browser(), email, "Tess Race").status == 303
    since = len(server.accesses())
    calls = [prepared_login(server, email, WRONG) for _ in range(SIMULTANEOUS_GUESSES)]

    replies = simultaneously(calls)

    statuses = sorted(reply.status for reply in replies)
    assert statuses == [422] * FREE_FAILURES + [429] * (SIMULTANEOUS_GUESSES - FREE_FAILURES)
    logged = login_accesses(server, since, expected=SIMULTANEOUS_GUESSES)
    assert len({access.pid for access in logged}) == 2, f"one worker answered all: {logged}"
    assert_healthy_log(server)


def test_per_process_memory_storage_would_not_hold_the_limit_across_instances(
    cluster_env: dict[str, str], server_a: Gunicorn, tls_certificate: Certificate
) -> None:
    """The contrast that shows the test above can fail: without shared storage, it does.

    Each instance counts its own failures in memory (one worker each, so the split is exact):
    after three failures on A and two on B, the sixth attempt is checked, not throttled.
    Production allows memory:// to one worker only, which is what each instance has.
    """
    email = "throttle.memory@example.com"
    assert sign_up(server_a.browser(), email, "Tess Memory").status == 303
    env = {**cluster_env, "RATELIMIT_STORAGE_URI": "memory://"}
    with (
        Gunicorn(env, 1, certificate=tls_certificate) as solo_a,
        Gunicorn({**env, "PUBLIC_URL": solo_a.url}, 1, certificate=tls_certificate) as solo_b,
    ):
        instances = (solo_a, solo_b)
        statuses = [login(instances[i % 2], email, WRONG).status for i in range(FREE_FAILURES + 1)]

    assert statuses == [422] * (FREE_FAILURES + 1)


def test_c27_a_session_works_on_both_instances_and_signing_out_on_one_ends_it_on_both(
    server_a: Gunicorn, server_b: Gunicorn
) -> None:
    email, name = "session.pair@example.com", "Sam Pair"
    browser = server_a.browser()
    assert sign_up(browser, email, name).path == "/account"
    stolen = browser.copy()  # the cookies as they are while signed in

    browser.base_url = server_b.url
    account = browser.get("/account")
    assert account.status == 200, account
    assert name in account.body
    assert email in account.body

    signed_out = browser.post_form("/logout", {}, form_page="/account")
    assert signed_out.status == 303
    assert signed_out.path == "/login"

    browser.base_url = server_a.url
    refused = browser.get("/account")
    assert refused.status in (302, 303), refused
    assert refused.path == "/login"
    assert refused.query["next"] == ["/account"]
    # The old cookies are still validly signed, but their server-side session has ended.
    for url in (server_a.url, server_b.url):
        replay = stolen.copy(url).get("/account")
        assert replay.status in (302, 303), (url, replay)
        assert replay.path == "/login"
    assert_healthy_log(server_a, server_b)
