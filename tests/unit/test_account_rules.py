"""The rules of account changes (``server.account_requests``, ``server.account_admin``) over
the in-memory fakes: who may do what, what is refused, and who is told."""

from __future__ import annotations

import logging

from common import messages_account as acct
from common.account_keys import derive_account_keys
from common.e2e import to_field
from common.messages import ErrorReply, LoginRequest, LoginResult
from common.messages_login import KeyLoginRequest
from server.account_admin import SignOutWatcher
from server.account_requests import clean_nickname
from tests.unit.test_server_service import PASSWORD, World


def errors(w: World, conn: object) -> list[str]:
    return [m.code_word for m in w.sink(conn).take() if isinstance(m, ErrorReply)]  # type: ignore[arg-type]


def test_nickname_is_cleaned_of_controls_and_bidi() -> None:
    assert clean_nickname(" \u202eAlice\u200d\u0007 ") == "Alice"
    assert clean_nickname("\u2066\u2069") == ""


def test_nickname_change_reaches_everyone_and_refuses_look_alikes() -> None:
    w = World()
    alice, bob = w.login("alice"), w.login("bob")
    w.send(alice, acct.ChangeNicknameRequest("BOB"))  # bob's nickname is "Bob"
    assert errors(w, alice) == ["name_taken"]
    w.send(alice, acct.ChangeNicknameRequest("Queen A"))
    assert acct.NicknameChanged("alice", "Queen A") in w.sink(bob).take()
    assert w.store.users["alice"].nickname == "Queen A"


def test_account_requests_before_login_are_refused_except_the_password_change() -> None:
    w = World()
    conn = w.connect()
    for request in (acct.ChangeNicknameRequest("x"), acct.SessionsRequest(),
                    acct.AdminRequest("list", ""), acct.SignOutOthersRequest()):
        w.send(conn, request)
    assert errors(w, conn) == ["not_logged_in"] * 4


def key_of(w: World, username: str, password: str) -> str:
    """What the chat's client sends for ``password``: the account's authentication key."""
    kdf = w.store.users[username].kdf
    assert kdf is not None  # a login with the password made it a key account
    return to_field(derive_account_keys(password, kdf).auth_key)


def test_password_change_needs_the_current_password_and_signs_out_the_others() -> None:
    w = World()
    alice, other = w.login("alice"), w.login("alice")
    old, new = key_of(w, "alice", PASSWORD), key_of(w, "alice", "new-password")
    w.send(alice, acct.ChangeSecretRequest("alice", key_of(w, "alice", "wrong"), new))
    assert errors(w, alice) == ["wrong_credentials"]
    w.send(alice, acct.ChangeSecretRequest("alice", PASSWORD, new))  # a key account: no password
    assert errors(w, alice) == ["wrong_credentials"]
    w.send(alice, acct.ChangeSecretRequest("alice", old, "short"))
    assert errors(w, alice) == ["bad_request"]
    w.send(alice, acct.ChangeSecretRequest("alice", old, "new-password"))  # not a key
    assert errors(w, alice) == ["bad_request"]
    w.send(alice, acct.ChangeSecretRequest("alice", old, new))
    (done,) = w.sink(alice).take()
    assert isinstance(done, acct.AccountDone) and done.detail  # a fresh token
    assert w.sink(other).closed
    assert acct.SignedOut("password_changed", "the password of this account was changed; "
                          "log in again") in w.sink(other).take()
    assert list(w.store.tokens) == [alice.token_hash]  # only the changing window's token
    for key, accepted in ((old, False), (new, True)):
        fresh = w.connect()
        assert w.service.on_message(fresh, KeyLoginRequest("alice", key))
        (result,) = w.sink(fresh).take()
        assert isinstance(result, LoginResult) and result.ok is accepted


def test_only_administrators_administer() -> None:
    w = World()
    bob = w.login("bob")
    w.send(bob, acct.AdminRequest("disable", "alice"))
    assert errors(w, bob) == ["forbidden"]
    assert not w.store.account("alice").disabled  # type: ignore[union-attr]


def test_disabling_closes_the_windows_and_refuses_logins() -> None:
    w = World()
    w.store.set_flag("carol", "is_admin", True)
    carol, alice = w.login("carol"), w.login("alice")
    w.send(carol, acct.AdminRequest("disable", "alice"))
    assert w.sink(alice).closed
    conn = w.connect()
    w.send(conn, LoginRequest("alice", PASSWORD))
    (result,) = w.sink(conn).take()
    assert isinstance(result, LoginResult) and result.code_word == "account_disabled"
    assert not any(user == "alice" for user, _ in w.store.tokens.values())


def test_an_administrator_cannot_lock_itself_out() -> None:
    w = World()
    w.store.set_flag("carol", "is_admin", True)
    carol = w.login("carol")
    for action in ("disable", "delete", "remove_admin"):
        w.send(carol, acct.AdminRequest(action, "carol"))
    assert errors(w, carol) == ["bad_request"] * 3


def test_reset_code_is_one_time_and_logged_without_the_code(caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.INFO)
    w = World()
    w.store.set_flag("carol", "is_admin", True)
    carol = w.login("carol")
    w.send(carol, acct.AdminRequest("reset", "alice"))
    (done,) = w.sink(carol).take()
    assert isinstance(done, acct.AccountDone)
    code = done.detail
    assert code not in caplog.text and "administrator carol: reset alice" in caplog.text
    conn = w.connect()
    w.send(conn, acct.ChangeSecretRequest("alice", code, "brand-new-1"))
    assert isinstance(w.sink(conn).take()[0], acct.AccountDone)
    w.send(conn, acct.ChangeSecretRequest("alice", code, "brand-new-2"))
    assert errors(w, conn) == ["wrong_credentials"]


def test_signout_watcher_applies_only_rows_after_it_started() -> None:
    w = World()
    w.store.record_signout("alice", "disabled", 1)
    seen: list[tuple[str, str]] = []
    watcher = SignOutWatcher(w.store, lambda u, r: seen.append((u, r)), 1.0)
    assert watcher.poll() == 0  # notes where it starts
    w.store.record_signout("bob", "deleted", 2)
    assert watcher.poll() == 1 and seen == [("bob", "deleted")]
