"""The client's key login and registration with a fake server: what is sent, what is kept.

The password must never be in anything the client sends, nor be kept once the keys exist;
the master key is there for the end-to-end work, and goes at logout.
"""

from __future__ import annotations

from common.account_keys import KdfParams, derive_account_keys
from common.e2e import from_field
from common.messages import ErrorReply, LoginRequest, LoginResult, encode_message
from common.messages_login import KdfParamsRequest, RegisterRequest
from tests.unit.client_fakes import TEST_KEYS, TEST_SALT, Harness

STRONG = "violet tractor quietly 1987"


def test_the_password_is_never_sent_and_not_kept_after_the_derivation(h: Harness) -> None:
    session = h.login("111111")
    sent = "\n".join(encode_message(m) for m in session.sent)
    assert "111111" not in sent and not session.of(LoginRequest)
    assert h.app.signin._password is None  # dropped once the keys exist
    session.deliver(LoginResult(True, "wang_yuan", "user1", "token-1"))
    h.pump()
    assert h.app.master_key == TEST_KEYS.master_key and len(h.app.master_key) == 32
    h.app.logout()
    assert h.app.master_key is None


def test_registration_sends_the_key_and_own_salt_and_lands_in_the_chat(h: Harness) -> None:
    h.app.register("127.0.0.1:8090", "ABCD-EFGH", "user1", "Newbie", STRONG, STRONG)
    session = h.session
    session.handshake()
    h.pump()
    assert session.of(KdfParamsRequest) == [KdfParamsRequest("user1")]
    h.derive(session)
    (request,) = session.of(RegisterRequest)
    assert (request.code, request.username, request.nickname) == ("ABCD-EFGH", "user1", "Newbie")
    salt = from_field(request.salt)
    assert len(salt) == 16 and salt != TEST_SALT  # the client's own random salt
    keys = derive_account_keys(STRONG, KdfParams(64, 1, 1, salt))
    assert from_field(request.auth_key) == keys.auth_key
    assert STRONG not in encode_message(request)
    session.deliver(LoginResult(True, "Newbie", "user1", "token-1"))
    h.pump()
    assert h.app.phase == "online" and h.app.master_key == keys.master_key


def test_a_refused_registration_returns_to_the_form_saying_why(h: Harness) -> None:
    h.app.register("127.0.0.1:8090", "used-code", "user1", "Newbie", STRONG, STRONG)
    session = h.session
    session.handshake()
    h.pump()
    h.derive(session)
    session.deliver(ErrorReply("bad_code", "the invitation code is not valid"))
    h.pump()
    assert h.app.phase == "login" and "invitation code" in h.view.login_error
    assert h.view.password_cleared and h.app.master_key is None


def test_weak_or_mismatched_passwords_are_refused_before_connecting(h: Harness) -> None:
    for password, again, words in (
        ("short1", "short1", "at least 8"),
        ("password123", "password123", "too easy"),
        (STRONG, STRONG + "x", "differ"),
        ("user1" + STRONG, "user1" + STRONG, "username"),
    ):
        h.app.register("127.0.0.1:8090", "code", "user1", "Newbie", password, again)
        assert words in h.view.login_error and not h.sessions and h.app.phase == "login"


def test_a_server_asking_for_an_absurd_derivation_is_not_obeyed(h: Harness) -> None:
    from common.e2e import to_field
    from common.messages_login import KdfParamsReply

    h.app.login("127.0.0.1:8090", "user1", "111111")
    session = h.session
    session.handshake()
    h.pump()
    session.deliver(KdfParamsReply(64, 10**9, 1, to_field(TEST_SALT)))  # hours of Argon2id
    for _ in range(20):
        h.pump()
    assert h.app.phase == "login" and "unreasonable" in h.view.login_error
