"""Twins of tests/unit/test_account_service.py: what the mocked db.session assumed, on real SQLite.

Every check reads the database file through a new connection (``fresh_read`` /
``fresh_rows``), so only what was committed counts.
"""

from __future__ import annotations

import unicodedata
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select

from tests.integration.conftest import T0, FreshRead, FreshRows
from tests.support import STRONG_PASSWORD
from webapp.extensions import db, passwords
from webapp.models import AccountToken, User, UserSession
from webapp.services import accounts, sessions, users
from webapp.services.errors import LoginThrottled, PasswordRejected, WrongPassword
from webapp.services.throttle import ThrottlePolicy
from webapp.services.tokens import RESET, issue_token

pytestmark = pytest.mark.usefixtures("db_context")

NEW_PASSWORD = "velvet otter climbs the lighthouse"
WRONG = "definitely not the password"
LIMITS = sessions.SessionLimits(
    idle=timedelta(minutes=30), absolute=timedelta(hours=12), remember=timedelta(days=30)
)


def _ann() -> User:
    return users.register_user("ann@example.com", "Ann", STRONG_PASSWORD)


def _bob() -> User:
    return users.register_user("bob@example.com", "Bob", STRONG_PASSWORD)


def _open(user: User, *, remember: bool = False) -> str:
    return sessions.open_session(user, remember=remember, user_agent="UA", ip="192.0.2.1")


def _stored_hash(fresh_read: FreshRead, email: str = "ann@example.com") -> str:
    (user,) = fresh_read(select(User).where(User.email == email))
    return user.password_hash


def _hash(token: str) -> str:
    return sessions.hash_token(token)


def _revoked(fresh_read: FreshRead, token: str) -> bool:
    (row,) = fresh_read(
        select(UserSession).where(UserSession.token_hash == sessions.hash_token(token))
    )
    return row.revoked_at is not None


# --- change_password ------------------------------------------------------------------------

CAFE = "café au lait by the lighthouse"  # composed é
CAFE_NFD = unicodedata.normalize("NFD", CAFE)  # e and a combining acute accent


def test_change_password_commits_the_new_hash(fresh_read: FreshRead) -> None:
    """Proves the single commit (by revoke_user_sessions) also writes the new hash."""
    ann = _ann()
    mine = _open(ann)
    old_hash = _stored_hash(fresh_read)

    accounts.change_password(ann, STRONG_PASSWORD, NEW_PASSWORD, session_token=mine, throttle=None)

    stored = _stored_hash(fresh_read)
    assert stored != old_hash
    assert stored.startswith("$argon2id$")
    assert passwords.hasher.verify(stored, NEW_PASSWORD)
    assert not passwords.hasher.verify(stored, STRONG_PASSWORD)
    assert users.authenticate("ann@example.com", NEW_PASSWORD, None) is not None
    assert users.authenticate("ann@example.com", STRONG_PASSWORD, None) is None
    assert not db.session.dirty
    assert not db.session.new


def test_change_password_gives_this_session_a_new_token_and_revokes_the_others(
    fresh_read: FreshRead,
) -> None:
    """Proves this session's row gets the new token's hash, the others end, Bob's stays."""
    ann, bob = _ann(), _bob()
    mine, laptop, phone = _open(ann), _open(ann), _open(ann, remember=True)
    bobs = _open(bob)
    (row_id,) = fresh_read(select(UserSession.id).where(UserSession.token_hash == _hash(mine)))

    token = accounts.change_password(
        ann, STRONG_PASSWORD, NEW_PASSWORD, session_token=mine, throttle=None
    )

    assert fresh_read(select(UserSession).where(UserSession.token_hash == _hash(mine))) == []
    tokens = {"new": token.value, "laptop": laptop, "phone": phone, "bob": bobs}
    ended = {name: _revoked(fresh_read, value) for name, value in tokens.items()}
    assert ended == {"new": False, "laptop": True, "phone": True, "bob": False}
    renewed = sessions.load_session(token.value, LIMITS)
    assert renewed is not None
    assert renewed.id == row_id  # the same session, under a new token
    assert sessions.load_session(mine, LIMITS) is None
    assert sessions.load_session(phone, LIMITS) is None


@pytest.mark.parametrize("remember", [True, False])
def test_change_password_keeps_the_session_remembered_or_not(
    fresh_read: FreshRead, remember: bool
) -> None:
    """Proves the returned flag is the stored row's, so the cookie matches the session."""
    ann = _ann()
    mine = _open(ann, remember=remember)

    token = accounts.change_password(
        ann, STRONG_PASSWORD, NEW_PASSWORD, session_token=mine, throttle=None
    )

    assert token.remember is remember
    (row,) = fresh_read(select(UserSession))
    assert row.remember is remember


def test_change_password_expires_outstanding_reset_links(fresh_rows: FreshRows) -> None:
    """Proves the reset token's used_at is committed together with the password change."""
    ann = _ann()
    mine = _open(ann)
    issue_token(ann, RESET, timedelta(hours=1))

    accounts.change_password(ann, STRONG_PASSWORD, NEW_PASSWORD, session_token=mine, throttle=None)

    (token,) = fresh_rows("SELECT purpose, used_at FROM account_tokens")
    assert token["purpose"] == RESET
    assert token["used_at"] is not None


def test_change_password_with_a_wrong_current_password_changes_nothing(
    fresh_read: FreshRead,
) -> None:
    """Proves a refused change leaves the stored hash and every session as they were."""
    ann = _ann()
    mine, other = _open(ann), _open(ann)
    old_hash = _stored_hash(fresh_read)

    with pytest.raises(WrongPassword):
        accounts.change_password(ann, WRONG, NEW_PASSWORD, session_token=mine, throttle=None)

    assert _stored_hash(fresh_read) == old_hash
    assert not _revoked(fresh_read, mine)
    assert not _revoked(fresh_read, other)
    db.session.commit()  # even a later commit in the same session finds nothing pending
    assert _stored_hash(fresh_read) == old_hash


@pytest.mark.parametrize(
    ("current", "new"),
    [(STRONG_PASSWORD, STRONG_PASSWORD), (CAFE, CAFE_NFD), (CAFE_NFD, CAFE)],
    ids=["same", "new-decomposed", "current-decomposed"],
)
def test_change_password_refuses_the_current_password_again(
    fresh_read: FreshRead, current: str, new: str
) -> None:
    """Proves the refusal leaves the stored hash and every session as they were."""
    ann = users.register_user("ann@example.com", "Ann", current)
    mine, other = _open(ann), _open(ann)
    old_hash = _stored_hash(fresh_read)

    with pytest.raises(PasswordRejected) as raised:
        accounts.change_password(ann, current, new, session_token=mine, throttle=None)

    assert raised.value.reason == "Choose a password different from your current one."
    db.session.commit()  # even a later commit in the same session finds nothing pending
    assert _stored_hash(fresh_read) == old_hash
    assert not _revoked(fresh_read, mine)
    assert not _revoked(fresh_read, other)


@pytest.mark.parametrize("new", ["fourteen chars", "1qaz2wsx3edc4rfv", "ann@example.com" * 2])
def test_change_password_applies_the_policy_and_changes_nothing(
    fresh_read: FreshRead, new: str
) -> None:
    """Proves a rejected new password leaves the stored hash and the sessions untouched."""
    ann = _ann()
    mine, other = _open(ann), _open(ann)
    old_hash = _stored_hash(fresh_read)

    with pytest.raises(PasswordRejected):
        accounts.change_password(ann, STRONG_PASSWORD, new, session_token=mine, throttle=None)

    db.session.commit()
    assert _stored_hash(fresh_read) == old_hash
    assert not _revoked(fresh_read, mine)
    assert not _revoked(fresh_read, other)


def test_wrong_current_passwords_count_towards_the_account_throttle(
    fresh_read: FreshRead, clock: time_machine.Traveller
) -> None:
    """Proves the per-account counter in the real limiter storage: 5 free failures, then 429."""
    ann = _ann()
    mine = _open(ann)
    policy = ThrottlePolicy()
    for _ in range(policy.free_failures):
        with pytest.raises(WrongPassword):
            accounts.change_password(ann, WRONG, NEW_PASSWORD, session_token=mine, throttle=policy)
    old_hash = _stored_hash(fresh_read)

    with pytest.raises(LoginThrottled):
        accounts.change_password(
            ann, STRONG_PASSWORD, NEW_PASSWORD, session_token=mine, throttle=policy
        )
    with pytest.raises(LoginThrottled):  # the same counter as signing in
        users.authenticate("ann@example.com", STRONG_PASSWORD, policy)

    assert _stored_hash(fresh_read) == old_hash
    clock.shift(timedelta(seconds=31))
    accounts.change_password(
        ann, STRONG_PASSWORD, NEW_PASSWORD, session_token=mine, throttle=policy
    )
    assert passwords.hasher.verify(_stored_hash(fresh_read), NEW_PASSWORD)


# --- delete_account -------------------------------------------------------------------------


def test_delete_account_removes_the_user_with_its_sessions_and_tokens(
    fresh_rows: FreshRows,
) -> None:
    """Proves session.delete + commit removes the row, and ON DELETE CASCADE the rest."""
    ann, bob = _ann(), _bob()
    _open(ann)
    _open(ann, remember=True)
    issue_token(ann, RESET, timedelta(hours=1))
    bobs = _open(bob)
    ann_id = ann.id

    accounts.delete_account(ann, STRONG_PASSWORD, None)

    assert fresh_rows("SELECT id FROM users WHERE id = :id", id=ann_id) == []
    assert fresh_rows("SELECT id FROM user_sessions WHERE user_id = :id", id=ann_id) == []
    assert fresh_rows("SELECT id FROM account_tokens WHERE user_id = :id", id=ann_id) == []
    assert [row["email"] for row in fresh_rows("SELECT email FROM users")] == ["bob@example.com"]
    assert sessions.load_session(bobs, LIMITS) is not None


def test_delete_account_with_a_wrong_password_deletes_nothing(fresh_rows: FreshRows) -> None:
    """Proves a refused deletion leaves user, sessions and tokens in the file."""
    ann = _ann()
    _open(ann)
    issue_token(ann, RESET, timedelta(hours=1))

    with pytest.raises(WrongPassword):
        accounts.delete_account(ann, WRONG, None)

    db.session.commit()
    assert len(fresh_rows("SELECT id FROM users")) == 1
    assert len(fresh_rows("SELECT id FROM user_sessions")) == 1
    assert len(fresh_rows("SELECT id FROM account_tokens")) == 1


def test_deleted_accounts_session_token_no_longer_loads() -> None:
    """Proves a token of a deleted account gives None (no crash) when it comes back."""
    ann = _ann()
    token = _open(ann)

    accounts.delete_account(ann, STRONG_PASSWORD, None)
    db.session.remove()

    assert sessions.load_session(token, LIMITS) is None
    assert db.session.scalars(select(AccountToken)).all() == []


# --- list_open_sessions ---------------------------------------------------------------------


def test_list_open_sessions_leaves_out_expired_rows(clock: time_machine.Traveller) -> None:
    """Proves the query returns only the user's unrevoked rows; Python drops the expired."""
    ann, bob = _ann(), _bob()
    idle = _open(ann)
    _open(bob)
    remembered = _open(ann, remember=True)
    clock.shift(timedelta(minutes=20))
    busy = _open(ann)
    ended = _open(ann)
    sessions.revoke_session(ended)
    clock.shift(timedelta(minutes=15))  # "idle" is 35 minutes idle now, "busy" 15

    rows = sessions.list_open_sessions(ann.id, LIMITS)

    hashes = [row.token_hash for row in rows]
    assert hashes == [sessions.hash_token(busy), sessions.hash_token(remembered)]
    assert sessions.hash_token(idle) not in hashes
    assert all(row.user_id == ann.id for row in rows)


def test_list_open_sessions_orders_by_last_use(clock: time_machine.Traveller) -> None:
    """Proves ORDER BY last_seen_at DESC on stored timestamps (aware UTC read back)."""
    ann = _ann()
    first, second = _open(ann), _open(ann)
    clock.shift(timedelta(minutes=5))
    sessions.load_session(first, LIMITS)  # touches last_seen_at: first is now the newest

    rows = sessions.list_open_sessions(ann.id, LIMITS)

    assert [row.token_hash for row in rows] == [
        sessions.hash_token(first),
        sessions.hash_token(second),
    ]
    assert rows[0].last_seen_at == T0 + timedelta(minutes=5)


# --- revoke_user_session --------------------------------------------------------------------


def test_revoke_user_session_ends_only_the_users_own_row(fresh_read: FreshRead) -> None:
    """Proves the UPDATE's user_id condition: Bob's row id given for Ann changes nothing."""
    ann, bob = _ann(), _bob()
    mine, other = _open(ann), _open(ann)
    bobs = _open(bob)
    ids = {
        token: row.id
        for token in (other, bobs)
        for row in fresh_read(
            select(UserSession).where(UserSession.token_hash == sessions.hash_token(token))
        )
    }

    assert sessions.revoke_user_session(ann.id, ids[bobs]) is False
    assert sessions.revoke_user_session(ann.id, ids[other]) is True

    assert not _revoked(fresh_read, bobs)
    assert _revoked(fresh_read, other)
    assert not _revoked(fresh_read, mine)


def test_revoke_user_session_twice_reports_the_second_as_nothing_to_end(
    fresh_read: FreshRead, clock: time_machine.Traveller
) -> None:
    """Proves rowcount is 0 for an ended row, and the first revoked_at is kept."""
    ann = _ann()
    token = _open(ann)
    (row,) = fresh_read(select(UserSession))
    assert sessions.revoke_user_session(ann.id, row.id) is True
    clock.shift(timedelta(minutes=1))

    assert sessions.revoke_user_session(ann.id, row.id) is False
    assert sessions.revoke_user_session(ann.id, 999_999) is False

    (stored,) = fresh_read(select(UserSession))
    assert stored.revoked_at == T0
    assert sessions.load_session(token, LIMITS) is None
