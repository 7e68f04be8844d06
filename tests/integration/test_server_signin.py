"""Key login and registration against the live server on real MariaDB (PROTOCOL.md §8).

Each defence is shown by the attack it stops: a password that must never reach the server's
decoded bytes, a missing account that must look like a real one, a used or expired code that
must not open an account, a taken name, the legacy password login switched off.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

import pymysql
import pytest

import common.connection
from common.account_keys import SALT_BYTES, derive_account_keys
from common.e2e import to_field
from common.messages import ErrorReply, LoginResult, RosterUpdate
from common.messages_login import (
    Invitation,
    InviteRequest,
    KeyLoginRequest,
    RegisterRequest,
    params_of,
    registration,
)
from common.protocol import LoginRefusal
from server import __main__ as server_cli
from server.invitations import code_hash, new_code
from server.store import DbParams
from tests.support.chat_client import ChatClient

pytest_plugins = ["tests.integration.conftest_server"]
pytestmark = pytest.mark.integration

SECRET = "correct horse battery staple 42"  # distinctive: no random field contains it


def invite(live: Any, uses: int = 1, ttl_s: float = 3_600.0) -> str:
    """A code stored as ``python -m server invite`` stores it."""
    code = new_code()
    hashed = code_hash(code)
    assert hashed is not None
    now = int(time.time() * 1000)
    live.store.add_invitation(hashed, uses, now + int(ttl_s * 1000), None, now)
    return code


def register(c: ChatClient, code: str, username: str, nickname: str,
             password: str = SECRET) -> Any:
    """``0030`` for the new name, then ``0032``; the answer (``1001`` or ``1009``)."""
    reply = c.kdf_params(username)
    request, _ = registration(code, username, nickname, password, reply,
                              secrets.token_bytes(SALT_BYTES))
    c.send(request)
    return c.recv_until(lambda m: isinstance(m, LoginResult | ErrorReply))


def sql(db: DbParams, statement: str, params: tuple[Any, ...]) -> None:
    conn = pymysql.connect(**{**db.connect_kwargs(), "autocommit": True})
    try:
        with conn.cursor() as cur:
            cur.execute(statement, params)
    finally:
        conn.close()


def test_registration_with_an_invitation_logs_in_and_the_key_logs_in_again(chat) -> None:
    code = invite(chat)
    c = chat.client()
    result = register(c, code, "newcomer", "New Comer")
    assert isinstance(result, LoginResult) and result.ok
    assert (result.username, result.nickname) == ("newcomer", "New Comer")
    c.recv_until(lambda m: isinstance(m, RosterUpdate))
    again = chat.client().key_login("newcomer", SECRET)
    assert again.ok and again.username == "newcomer"
    assert chat.client().key_login("newcomer", "not it").detail == LoginRefusal.WRONG_CREDENTIALS
    row = chat.store.get_user("newcomer")
    assert row is not None and row.kdf is not None and SECRET not in row.password_hash


def test_used_expired_and_unknown_codes_are_refused_alike(chat) -> None:
    once = invite(chat)
    assert register(chat.client(), once, "first-one", "First One").ok
    used = register(chat.client(), once, "second-one", "Second One")
    expired = register(chat.client(), invite(chat, ttl_s=-1.0), "third-one", "Third One")
    unknown = register(chat.client(), new_code(), "fourth-one", "Fourth One")
    garbage = register(chat.client(), "letmein", "fifth-one", "Fifth One")
    answers = {(a.code_word, a.text) for a in (used, expired, unknown, garbage)}
    assert len(answers) == 1 and next(iter(answers))[0] == "bad_code"
    for name in ("second-one", "third-one", "fourth-one", "fifth-one"):
        assert chat.store.get_user(name) is None
    assert chat.store.sweep_invitations(int(time.time() * 1000)) >= 2  # used up, expired


def test_without_a_code_registration_is_closed_unless_the_setting_opens_it(make_server) -> None:
    closed = make_server()
    refused = register(closed.client(), "", "walk-in", "Walk In")
    assert isinstance(refused, ErrorReply) and refused.code_word == "bad_code"
    assert closed.store.get_user("walk-in") is None
    opened = make_server(open_registration=True)
    assert register(opened.client(), "", "walk-in", "Walk In").ok


def test_taken_username_or_nickname_is_refused_and_the_code_is_not_spent(chat) -> None:
    code = invite(chat)
    by_name = register(chat.client(), code, "user1", "Someone Else")
    by_nickname = register(chat.client(), code, "look-alike", "WANG_YUAN")  # NFKC + casefold
    assert (by_name.code_word, by_nickname.code_word) == ("name_taken", "name_taken")
    assert by_name.text != by_nickname.text  # says which of the two
    assert register(chat.client(), code, "look-alike", "Distinct").ok  # the use is still there


def test_a_registration_with_other_parameters_is_a_bad_request(chat) -> None:
    c = chat.client()
    reply = c.kdf_params("cheapskate")
    request, _ = registration(invite(chat), "cheapskate", "Cheap", SECRET, reply,
                              secrets.token_bytes(SALT_BYTES))
    weaker = RegisterRequest(request.code, request.username, request.nickname, request.auth_key,
                             8, 1, 1, request.salt)  # 8 KiB: a derivation that costs nothing
    c.send(weaker)
    answer = c.recv_until(lambda m: isinstance(m, LoginResult | ErrorReply))
    assert isinstance(answer, ErrorReply) and answer.code_word == "bad_request"
    assert chat.store.get_user("cheapskate") is None


def test_the_server_never_decodes_the_password_of_a_key_login(chat, monkeypatch) -> None:
    decoded: list[bytes] = []
    real_split = common.connection.split_record

    def spy(plaintext: bytes) -> list[bytes]:  # every record any Connection here opens
        decoded.append(plaintext)
        return real_split(plaintext)

    monkeypatch.setattr(common.connection, "split_record", spy)
    assert register(chat.client(), invite(chat), "secretive", "Secretive").ok
    assert chat.client().key_login("secretive", SECRET).ok
    assert decoded and not any(SECRET.encode() in p for p in decoded)
    # the spy does see a password that is sent: the old login puts it in a record
    decoded.clear()
    assert chat.client().login("secretive", SECRET).ok
    assert any(SECRET.encode() in p for p in decoded)


def test_a_missing_account_answers_like_a_real_one(chat, make_server) -> None:
    assert register(chat.client(), invite(chat), "realperson", "Real Person").ok
    chat.client().login("user3")  # a demo row migrated by its password login
    names = ("realperson", "user3", "user2", "ghost-person", "x" * 32, "bad name!")
    first = {name: chat.client().kdf_params(name) for name in names}
    again = {name: chat.client().kdf_params(name) for name in names}
    elsewhere = make_server()  # another process with the same key: a restart, a cluster node
    third = {name: elsewhere.client().kdf_params(name) for name in names}
    assert first == again == third  # stable: asking twice tells nothing
    shapes = {(r.memory_kib, r.time_cost, r.parallelism, len(r.salt)) for r in first.values()}
    assert len(shapes) == 1  # the same parameters and salt length for every name
    assert len({r.salt for r in first.values()}) == len(names)  # each name its own salt


def test_migrated_demo_accounts_log_in_with_password_and_with_key(chat) -> None:
    sql(chat.store._params, "UPDATE users SET kdf_salt = NULL WHERE username = %s", ("user2",))
    assert chat.store.get_user("user2").kdf is None  # a row from before key login
    assert not chat.client().key_login("user2").ok  # it has no key hash yet
    assert chat.client().login("user2").ok  # 0001 migrates it
    row = chat.store.get_user("user2")
    assert row is not None and row.kdf is not None
    assert chat.client().key_login("user2").ok
    assert chat.client().login("user2").ok  # and the old login still works
    assert not chat.client().login("user2", "wrong").ok


def test_with_legacy_login_off_a_password_is_refused_and_a_key_works(make_server) -> None:
    live = make_server(legacy_password_login=False)
    assert register(live.client(), invite(live), "keys-only", "Keys Only").ok
    for name in ("keys-only", "user1"):
        refused = live.client().login(name, SECRET if name == "keys-only" else "111111")
        assert not refused.ok and refused.code_word == "key_login_required"
        assert refused.detail == LoginRefusal.KEY_LOGIN_REQUIRED
    assert live.client().key_login("keys-only", SECRET).ok


def test_only_an_administrator_makes_invitations(chat) -> None:
    member = chat.login("user1")
    member.send(InviteRequest(1, 3_600))
    refused = member.recv_until(lambda m: isinstance(m, ErrorReply))
    assert refused.code_word == "forbidden"
    sql(chat.store._params, "UPDATE users SET is_admin = 1 WHERE username = %s", ("user3",))
    admin = chat.login("user3")
    admin.send(InviteRequest(100_000, 3_600))
    assert admin.recv_until(lambda m: isinstance(m, ErrorReply)).code_word == "bad_request"
    admin.send(InviteRequest(2, 3_600))
    made = admin.recv_until(lambda m: isinstance(m, Invitation))
    assert made.uses == 2 and made.expires_ms > time.time() * 1000
    assert register(chat.client(), made.code, "invited-one", "Invited One").ok
    assert register(chat.client(), made.code.lower(), "invited-two", "Invited Two").ok
    assert register(chat.client(), made.code, "invited-three", "Invited Three").code_word == (
        "bad_code")


def test_a_key_login_before_parameters_and_garbage_keys_fail_plainly(chat) -> None:
    c = chat.client()
    c.handshake()
    c.send(KeyLoginRequest("user1", to_field(b"\x00" * 32)))
    assert c.recv_until(lambda m: isinstance(m, LoginResult)).code_word == "wrong_credentials"
    c.send(KeyLoginRequest("user1", "not base64!"))
    assert c.recv_until(lambda m: isinstance(m, LoginResult)).code_word == "wrong_credentials"


def test_the_invite_command_prints_a_code_that_registers(chat, monkeypatch, capsys) -> None:
    db = chat.store._params
    for name, value in (("CHAT_DB_NAME", db.database), ("CHAT_DB_USER", db.user),
                        ("CHAT_DB_PASSWORD", db.password), ("CHAT_DB_SOCKET", db.unix_socket)):
        monkeypatch.setenv(name, value)
    assert server_cli.main(["invite", "--uses", "1", "--expires", "2h"]) == 0
    code = capsys.readouterr().out.split()[0]
    assert register(chat.client(), code, "from-cli", "From Cli").ok
    assert server_cli.main(["invite", "--expires", "soon"]) == 2


def test_key_login_and_registration_log_no_secrets(chat, caplog) -> None:
    import logging

    caplog.set_level(logging.DEBUG)
    code = invite(chat)
    c = chat.client()
    assert register(c, code, "quiet-one", "Quiet One").ok
    again = chat.client()
    assert again.key_login("quiet-one", SECRET).ok
    reply = again.kdf_params("quiet-one")
    keys = derive_account_keys(SECRET, params_of(reply))
    assert not chat.client().key_login("quiet-one", "wrong horse").ok
    text = caplog.text + "\n".join(str(r.args) for r in caplog.records)
    secrets_ = {"password": SECRET, "code": code, "auth key": to_field(keys.auth_key),
                "master key": to_field(keys.master_key), "auth key hex": keys.auth_key.hex()}
    assert [name for name, value in secrets_.items() if value in text] == []
    assert "quiet-one" in text  # who registered and logged in is said


def test_init_db_demo_turns_old_demo_rows_into_key_accounts(chat, monkeypatch) -> None:
    db = chat.store._params
    legacy = chat.hasher.hash("111111")  # a row from before key login, as old init-db made it
    sql(db, "UPDATE users SET password_hash = %s, kdf_memory_kib = NULL, kdf_salt = NULL "
            "WHERE username = %s", (legacy, "user1"))
    assert chat.store.get_user("user1").kdf is None
    for name, value in (("CHAT_DB_NAME", db.database), ("CHAT_DB_USER", db.user),
                        ("CHAT_DB_PASSWORD", db.password), ("CHAT_DB_SOCKET", db.unix_socket),
                        ("CHAT_DB_ADMIN_USER", "root")):
        monkeypatch.setenv(name, value)
    assert server_cli.main(["init-db", "--demo"]) == 0
    row = chat.store.get_user("user1")
    assert row is not None and row.kdf is not None and row.kdf.memory_kib == 65_536
    assert chat.client().key_login("user1").ok
