"""The Account dialog's controller logic (``client.account_actions``) over the client fakes:
what it sends, what it says in words, and what a sign-out or a new nickname does."""

from __future__ import annotations

import time
from typing import Any

from common import messages_account as acct
from common.account_keys import KdfParams, derive_account_keys
from common.e2e import to_field
from common.messages import ErrorReply, LoginRequest, ResumeRequest, encode_message
from common.messages_login import Invitation, InviteRequest, KdfParamsReply, KdfParamsRequest
from tests.unit.client_fakes import TEST_KEYS, TEST_SALT, Harness, key_login


class RecordingAccountView:
    def __init__(self) -> None:
        self.shown = 0
        self.notices: list[tuple[str, bool]] = []

    def show_account(self, state: object) -> None:
        self.shown += 1

    def account_notice(self, text: str, error: bool) -> None:
        self.notices.append((text, error))

    def code_notice(self, text: str, error: bool) -> None:
        self.notices.append((text, error))


def online(h: Harness) -> tuple[object, RecordingAccountView]:
    session = h.online()
    view = RecordingAccountView()
    h.app.account_view = view
    return session, view


def test_opening_asks_who_i_am_and_my_sessions(h: Harness) -> None:
    session, view = online(h)
    h.app.open_account()
    assert session.of(acct.AccountInfoRequest) and session.of(acct.SessionsRequest)  # type: ignore[attr-defined]
    session.deliver(acct.AccountInfo("user1", "wang_yuan", True),  # type: ignore[attr-defined]
                    acct.SessionEntry("ab12", "127.0.0.1", 1, 2, True),
                    acct.AccountListEnd("sessions"))
    h.pump()
    state = h.app.account_state
    assert state.admin and state.nickname == "wang_yuan" and len(state.sessions) == 1
    assert view.shown >= 2


def test_password_form_is_checked_in_words_before_anything_is_sent(h: Harness) -> None:
    session, view = online(h)
    sent_before = len(session.sent)  # type: ignore[attr-defined]
    h.app.change_password("", "correct horse battery", "correct horse battery")
    h.app.change_password("111111", "short", "short")
    h.app.change_password("111111", "correct horse battery", "other horse battery")
    h.app.change_password("111111", "password1", "password1")  # guessable (zxcvbn)
    errors = [text for text, error in view.notices if error]
    assert errors[:3] == ["Enter your current password.",
                          "Use at least 8 characters for the password.",
                          "The two passwords differ."]
    assert len(errors) == 4 and "guess" in errors[3].lower()
    assert len(session.sent) == sent_before  # type: ignore[attr-defined]


NEW = "correct horse battery staple"


def change(h: Harness, session: Any, current: str = "111111") -> Any:
    """The Account dialog's change as the Tk client does it: ``0030``, both keys derived off
    the Tk thread, then the ``0034``."""
    h.app.account_state.username = "user1"
    asked = len(session.of(KdfParamsRequest))
    h.app.change_password(current, NEW, NEW)
    assert len(session.of(KdfParamsRequest)) == asked + 1
    session.deliver(KdfParamsReply(64, 1, 1, to_field(TEST_SALT)))
    h.pump()
    deadline = time.monotonic() + 10.0
    while not session.of(acct.ChangeSecretRequest) and time.monotonic() < deadline:
        time.sleep(0.005)
        h.pump()
    (sent,) = session.of(acct.ChangeSecretRequest)
    return sent


def test_wrong_current_password_is_said_in_the_dialog_not_the_chat(h: Harness) -> None:
    session, view = online(h)
    change(h, session, current="nope-nope")
    session.deliver(ErrorReply("wrong_credentials", "the current password is wrong"))  # type: ignore[attr-defined]
    h.pump()
    assert view.notices[-1] == ("The current password is wrong.", True)
    assert not any("wrong" in text for _, text, _ in h.view.messages())


def test_password_change_sends_keys_never_a_password(h: Harness) -> None:
    session, _ = online(h)
    sent = change(h, session)
    new_keys = derive_account_keys(NEW, KdfParams(64, 1, 1, TEST_SALT))
    assert sent == acct.ChangeSecretRequest("user1", to_field(TEST_KEYS.auth_key),
                                            to_field(new_keys.auth_key))
    wire = "".join(encode_message(m) for m in session.sent)  # type: ignore[attr-defined]
    assert "111111" not in wire and NEW not in wire


def test_password_change_keeps_this_window_with_its_new_token_and_key(h: Harness) -> None:
    session, view = online(h)
    change(h, session)
    session.deliver(acct.AccountDone("password", "user1", "token-2"))  # type: ignore[attr-defined]
    h.pump()
    assert "password was changed" in view.notices[-1][0]
    new_keys = derive_account_keys(NEW, KdfParams(64, 1, 1, TEST_SALT))
    assert h.app.master_key == new_keys.master_key  # the key backup is sealed under it now
    session.drop()
    h.advance(5)
    h.session.handshake()
    h.pump()
    assert h.session.of(ResumeRequest)[-1].resume_token == "token-2"
    assert h.app.signin.relogin_request("user1") == key_login(new_keys)  # a later login
    assert not h.session.of(LoginRequest)


def test_a_new_nickname_shows_in_the_people_list(h: Harness) -> None:
    session, _ = online(h)
    session.deliver(acct.NicknameChanged("user2", "Ding 2"))  # type: ignore[attr-defined]
    h.pump()
    assert ("user2", "Ding 2") in [(p.username, p.nickname) for p in h.view.people]


def test_signed_out_goes_back_to_the_login_form_with_the_reason(h: Harness) -> None:
    session, _ = online(h)
    session.deliver(acct.SignedOut("password_changed", "x"))  # type: ignore[attr-defined]
    h.pump()
    assert h.view.screen == "login"
    assert h.view.login_error.startswith("The password of this account was changed")
    assert h.app._token is None  # no resume


def test_offline_requests_are_refused_in_words(h: Harness) -> None:
    view = RecordingAccountView()
    h.app.account_view = view
    h.app.change_nickname("Anyone")
    assert view.notices[-1][1] and "offline" in view.notices[-1][0]


def test_one_time_code_uses_a_connection_of_its_own_before_login(h: Harness) -> None:
    view = RecordingAccountView()
    h.app.account_view = view
    h.app.reset_with_code("127.0.0.1:8090", "user1", "code-123", NEW, "other")
    assert view.notices[-1] == ("The two passwords differ.", True) and not h.sessions
    h.app.reset_with_code("127.0.0.1:8090", "user1", " code-123 ", NEW, NEW)
    (session,) = h.sessions
    session.handshake()
    h.advance(0.2)
    assert session.sent == [KdfParamsRequest("user1")]
    session.deliver(KdfParamsReply(64, 1, 1, to_field(TEST_SALT)))
    deadline = time.monotonic() + 10.0
    while len(session.sent) < 2 and time.monotonic() < deadline:
        h.advance(0.05)
    new_key = derive_account_keys(NEW, KdfParams(64, 1, 1, TEST_SALT)).auth_key
    assert session.sent[1] == acct.ChangeSecretRequest("user1", "code-123", to_field(new_key))
    session.deliver(acct.AccountDone("password", "user1", ""))
    h.advance(0.2)
    assert session.closed and h.app.phase == "login"  # the login form stays
    assert view.notices[-1] == ("Your new password is set. Log in with it.", False)


def test_an_administrator_makes_an_invitation_and_reads_its_code(h: Harness) -> None:
    session, view = online(h)
    h.app.create_invitation()
    assert session.of(InviteRequest) == [InviteRequest(1, 7 * 86_400)]  # type: ignore[attr-defined]
    session.deliver(Invitation("K7QF-2MZD-7RTA-UX4N-Q3BC-H6PE", 1, 1764432000000))  # type: ignore[attr-defined]
    h.pump()
    text, error = view.notices[-1]
    assert "K7QF-2MZD-7RTA-UX4N-Q3BC-H6PE" in text and not error
    h.app.create_invitation()  # refused for someone who is not an administrator (any more)
    session.deliver(ErrorReply("forbidden", "administrators only"))  # type: ignore[attr-defined]
    h.pump()
    assert view.notices[-1] == ("Only administrators can do this.", True)
