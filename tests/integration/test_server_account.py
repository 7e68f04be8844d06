"""Account management against the live server on real MariaDB: password and nickname changes,
sessions, sign-outs, administrators and disabled accounts (PROTOCOL.md §9).

Each test makes its own accounts, so the module's demo accounts stay as they were.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from common import messages_account as acct
from common.account_keys import derive_account_keys
from common.e2e import to_field
from common.messages import ErrorReply, LoginResult, PresenceEvent, RosterUpdate
from common.messages_login import params_of
from server.admin_cli import COMMANDS  # noqa: F401 - the command line's table must import
from tests.integration.conftest_server import DEMO_PASSWORD, LiveServer
from tests.support.chat_client import ChatClient

pytest_plugins = ["tests.integration.conftest_server"]
pytestmark = pytest.mark.integration

_serial = itertools.count(1)


@pytest.fixture()
def server(make_server) -> Iterator[LiveServer]:  # type: ignore[no-untyped-def]
    yield make_server(signout_poll_interval=0.2)


def new_account(live: LiveServer, demo_password_hash: str, admin: bool = False) -> str:
    name = f"acct{next(_serial)}"
    live.store.add_user(name, f"Person {name}", demo_password_hash)
    if admin:
        live.store.set_flag(name, "is_admin", True)
    return name


def login(live: LiveServer, name: str, password: str = DEMO_PASSWORD) -> tuple[ChatClient, str]:
    client = live.client()
    result = client.login(name, password)
    assert result.ok, result.detail
    client.recv_until(lambda m: isinstance(m, RosterUpdate))
    return client, result.detail


def secret(client: ChatClient, name: str, password: str) -> str:
    """What the chat's client puts in ``0034`` for ``password``: the authentication key derived
    with the account's parameters (``0030``), never the password (PROTOCOL.md §8, §9)."""
    return to_field(derive_account_keys(password, params_of(client.kdf_params(name))).auth_key)


def error(client: ChatClient) -> ErrorReply:
    reply = client.recv_until(lambda m: isinstance(m, ErrorReply | acct.AccountDone))
    assert isinstance(reply, ErrorReply), reply
    return reply


def done(client: ChatClient, action: str) -> acct.AccountDone:
    reply = client.recv_until(lambda m: isinstance(m, ErrorReply | acct.AccountDone))
    assert isinstance(reply, acct.AccountDone) and reply.action == action, reply
    return reply


def signed_out(client: ChatClient) -> acct.SignedOut:
    reply = client.recv_until(lambda m: isinstance(m, acct.SignedOut))
    assert client.closed_by_server(5.0)
    return reply  # type: ignore[no-any-return]


def resume_refusal(live: LiveServer, name: str, token: str) -> str:
    result = live.client().resume(name, token)
    assert isinstance(result, LoginResult)
    return "" if result.ok else result.code_word


# --- password change ---------------------------------------------------------------------------


def test_password_change_signs_out_other_session_and_revokes_its_token(
    server: LiveServer, demo_password_hash: str
) -> None:
    name = new_account(server, demo_password_hash)
    mine, _ = login(server, name)
    stolen, stolen_token = login(server, name)  # e.g. a session someone else holds
    mine.send(acct.ChangeSecretRequest(name, secret(mine, name, DEMO_PASSWORD),
                                       secret(mine, name, "new secret 1")))
    answer = done(mine, "password")
    assert answer.username == name and len(answer.detail) >= 43  # this window's fresh token
    assert signed_out(stolen).reason == "password_changed"
    assert resume_refusal(server, name, stolen_token) == "session_expired"
    assert resume_refusal(server, name, answer.detail) == ""  # the new token works
    assert not server.client().login(name, DEMO_PASSWORD).ok
    assert server.client().login(name, "new secret 1").ok
    mine.send(acct.SessionsRequest())  # the changing window stayed
    mine.recv_until(lambda m: isinstance(m, acct.AccountListEnd))


def test_password_change_needs_the_current_password_and_is_throttled_like_login(
    server: LiveServer, demo_password_hash: str
) -> None:
    name = new_account(server, demo_password_hash)
    mine, _ = login(server, name)
    before = server.store.get_user(name)
    attacker = secret(mine, name, "attacker pw")
    codes = []
    for guess in ("guess-1", "guess-2", "guess-3", "guess-4", "guess-5"):
        mine.send(acct.ChangeSecretRequest(name, secret(mine, name, guess), attacker))
        codes.append(error(mine).code_word)
    assert codes[:3] == ["wrong_credentials"] * 3  # TEST_OPTIONS: 3 free failures
    assert "rate_limited" in codes[3:]
    mine.send(acct.ChangeSecretRequest(name, secret(mine, name, DEMO_PASSWORD), attacker))
    assert error(mine).code_word == "rate_limited"  # even the right one waits out the delay
    after = server.store.get_user(name)  # nothing changed (a login would wait out the delay
    assert before is not None and after == before  # too)


def test_password_change_of_another_account_is_forbidden(
    server: LiveServer, demo_password_hash: str
) -> None:
    name, other = new_account(server, demo_password_hash), new_account(server, demo_password_hash)
    mine, _ = login(server, name)
    mine.send(acct.ChangeSecretRequest(other, DEMO_PASSWORD, "taken over"))
    assert error(mine).code_word == "forbidden"
    assert server.client().login(other, DEMO_PASSWORD).ok


# --- nickname ----------------------------------------------------------------------------------


def test_nickname_change_is_seen_live_and_in_later_rosters(
    server: LiveServer, demo_password_hash: str
) -> None:
    name, watcher_name = new_account(server, demo_password_hash), new_account(
        server, demo_password_hash
    )
    mine, _ = login(server, name)
    watcher, _ = login(server, watcher_name)
    mine.send(acct.ChangeNicknameRequest("  Mei\u202e Lin\u200b "))  # bidi and zero-width
    assert done(mine, "nickname").detail == "Mei Lin"
    seen = watcher.recv_until(
        lambda m: isinstance(m, acct.NicknameChanged) and m.username == name
    )
    assert seen.nickname == "Mei Lin"
    late = server.client()
    assert late.login(watcher_name).ok
    roster = late.recv_until(lambda m: isinstance(m, RosterUpdate))
    assert (name, "Mei Lin") in roster.users
    mine.close()  # the leave carries the new name
    left = watcher.recv_until(lambda m: isinstance(m, PresenceEvent) and m.event == "leave")
    assert left.nickname == "Mei Lin"


def test_nickname_taken_or_invalid_is_refused(server: LiveServer, demo_password_hash: str) -> None:
    name = new_account(server, demo_password_hash)
    mine, _ = login(server, name)
    mine.send(acct.ChangeNicknameRequest("WANG_YUAN"))  # user1's, case-folded
    assert error(mine).code_word == "name_taken"
    mine.send(acct.ChangeNicknameRequest("\u202e\u200b"))  # nothing left after stripping
    assert error(mine).code_word == "bad_request"
    mine.send(acct.ChangeNicknameRequest("x" * 33))
    assert error(mine).code_word == "bad_request"


# --- sessions ------------------------------------------------------------------------------------


def test_sessions_list_and_sign_out_everywhere_else(
    server: LiveServer, demo_password_hash: str
) -> None:
    name = new_account(server, demo_password_hash)
    mine, _ = login(server, name)
    other, other_token = login(server, name)
    mine.send(acct.SessionsRequest())
    rows = []
    while not isinstance(row := mine.recv_until(
        lambda m: isinstance(m, acct.SessionEntry | acct.AccountListEnd)
    ), acct.AccountListEnd):
        rows.append(row)
    assert len(rows) == 2 and sum(r.current for r in rows) == 1
    assert all(r.address == "127.0.0.1" and r.login_ms > 0 for r in rows)
    mine.send(acct.SignOutOthersRequest())
    assert done(mine, "sign_out_others").detail == "1"
    assert signed_out(other).reason == "signed_out"
    assert resume_refusal(server, name, other_token) == "session_expired"
    mine.send(acct.SessionsRequest())
    row = mine.recv_until(lambda m: isinstance(m, acct.SessionEntry))
    assert row.current
    assert isinstance(mine.recv_until(
        lambda m: isinstance(m, acct.SessionEntry | acct.AccountListEnd)), acct.AccountListEnd)


def test_a_resumed_session_keeps_its_id(server: LiveServer, demo_password_hash: str) -> None:
    name = new_account(server, demo_password_hash)
    first, token = login(server, name)
    first.send(acct.SessionsRequest())
    before = first.recv_until(lambda m: isinstance(m, acct.SessionEntry))
    first.close()
    again = server.client()
    assert again.resume(name, token).ok
    again.send(acct.SessionsRequest())
    after = again.recv_until(lambda m: isinstance(m, acct.SessionEntry))
    assert after.session_id == before.session_id and after.login_ms == before.login_ms


# --- administration ------------------------------------------------------------------------------


def test_non_admin_admin_request_is_forbidden(server: LiveServer, demo_password_hash: str) -> None:
    name, victim = new_account(server, demo_password_hash), new_account(server, demo_password_hash)
    mine, _ = login(server, name)
    for action in ("disable", "delete", "reset", "make_admin", "list"):
        mine.send(acct.AdminRequest(action, victim if action != "list" else ""))
        assert error(mine).code_word == "forbidden"
    assert server.client().login(victim, DEMO_PASSWORD).ok
    assert not server.store.account(name).is_admin  # type: ignore[union-attr]


def test_disabled_account_is_closed_and_cannot_log_in_or_resume(
    server: LiveServer, demo_password_hash: str
) -> None:
    admin = new_account(server, demo_password_hash, admin=True)
    victim = new_account(server, demo_password_hash)
    boss, _ = login(server, admin)
    window, token = login(server, victim)
    boss.send(acct.AdminRequest("disable", victim))
    done(boss, "disable")
    assert signed_out(window).reason == "disabled"
    assert resume_refusal(server, victim, token) == "session_expired"
    refused = server.client().login(victim, DEMO_PASSWORD)
    assert not refused.ok and refused.code_word == "account_disabled"
    boss.send(acct.AdminRequest("list", ""))
    entries = {}
    while not isinstance(e := boss.recv_until(
        lambda m: isinstance(m, acct.AccountEntry | acct.AccountListEnd)
    ), acct.AccountListEnd):
        entries[e.username] = e
    assert entries[victim].disabled and entries[admin].admin and entries[admin].online
    boss.send(acct.AdminRequest("enable", victim))
    done(boss, "enable")
    assert server.client().login(victim, DEMO_PASSWORD).ok


def test_admin_cannot_disable_itself(server: LiveServer, demo_password_hash: str) -> None:
    admin = new_account(server, demo_password_hash, admin=True)
    boss, _ = login(server, admin)
    boss.send(acct.AdminRequest("disable", admin))
    assert error(boss).code_word == "bad_request"


def test_reset_code_works_once_before_login_and_old_password_stops(
    server: LiveServer, demo_password_hash: str
) -> None:
    admin = new_account(server, demo_password_hash, admin=True)
    victim = new_account(server, demo_password_hash)
    boss, _ = login(server, admin)
    window, _ = login(server, victim)
    boss.send(acct.AdminRequest("reset", victim))
    code = done(boss, "reset").detail
    assert len(code) >= 16
    assert signed_out(window).reason == "password_changed"
    assert not server.client().login(victim, DEMO_PASSWORD).ok
    anonymous = server.client()
    anonymous.handshake()
    anonymous.send(acct.ChangeSecretRequest(victim, code, secret(anonymous, victim,
                                                                 "fresh secret")))
    assert done(anonymous, "password").detail == ""  # not logged in: no token
    assert server.client().login(victim, "fresh secret").ok
    again = server.client()
    again.handshake()
    again.send(acct.ChangeSecretRequest(victim, code, secret(again, victim, "second try")))
    assert error(again).code_word == "wrong_credentials"  # the code worked once


def test_command_line_sign_out_closes_open_windows(
    server: LiveServer, demo_password_hash: str
) -> None:
    victim = new_account(server, demo_password_hash)
    window, _ = login(server, victim)
    server.store.set_flag(victim, "disabled", True)  # what `python -m server disable` writes
    server.store.record_signout(victim, "disabled", 1)
    assert signed_out(window).reason == "disabled"


def test_deleted_account_is_closed_and_gone(server: LiveServer, demo_password_hash: str) -> None:
    admin = new_account(server, demo_password_hash, admin=True)
    victim = new_account(server, demo_password_hash)
    boss, _ = login(server, admin)
    window, _ = login(server, victim)
    boss.send(acct.AdminRequest("delete", victim))
    done(boss, "delete")
    assert signed_out(window).reason == "deleted"
    assert server.store.account(victim) is None
    assert not server.client().login(victim, DEMO_PASSWORD).ok


def test_another_window_joins_a_room_under_the_new_nickname(
    server: LiveServer, demo_password_hash: str
) -> None:
    from common.messages_rooms import CreateRoomRequest, JoinRoomRequest, MemberChange, RoomInfo

    owner_name, name = new_account(server, demo_password_hash), new_account(
        server, demo_password_hash)
    owner, _ = login(server, owner_name)
    first, _ = login(server, name)
    second, _ = login(server, name)
    room = f"room-{name}"
    owner.send(CreateRoomRequest(room, "", False))
    owner.recv_until(lambda m: isinstance(m, RoomInfo))
    first.send(acct.ChangeNicknameRequest("Renamed Elsewhere"))
    done(first, "nickname")
    second.send(JoinRoomRequest(room))  # the window that did not make the change
    joined = owner.recv_until(lambda m: isinstance(m, MemberChange) and m.event == "join")
    assert joined.nickname == "Renamed Elsewhere"
