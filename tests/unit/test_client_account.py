"""The Account dialog's controller logic (``client.account_actions``) over the client fakes:
what it sends, what it says in words, and what a sign-out or a new nickname does."""

from __future__ import annotations

from common import messages_account as acct
from common.messages import ErrorReply, LoginRequest, ResumeRequest
from tests.unit.client_fakes import Harness


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
    h.app.change_password("", "new-password", "new-password")
    h.app.change_password("111111", "short", "short")
    h.app.change_password("111111", "new-password", "other-password")
    assert [text for text, error in view.notices if error] == [
        "Enter your current password.",
        "The new password needs at least 6 characters.",
        "The two new passwords differ.",
    ]
    assert not session.of(acct.ChangeSecretRequest)  # type: ignore[attr-defined]


def test_wrong_current_password_is_said_in_the_dialog_not_the_chat(h: Harness) -> None:
    session, view = online(h)
    h.app.account_state.username = "user1"
    h.app.change_password("nope-nope", "new-password", "new-password")
    session.deliver(ErrorReply("wrong_credentials", "the current password is wrong"))  # type: ignore[attr-defined]
    h.pump()
    assert view.notices[-1] == ("The current password is wrong.", True)
    assert not any("wrong" in text for _, text, _ in h.view.messages())


def test_password_change_keeps_this_window_with_its_new_token_and_password(h: Harness) -> None:
    session, view = online(h)
    h.app.account_state.username = "user1"
    h.app.change_password("111111", "new-password", "new-password")
    (sent,) = session.of(acct.ChangeSecretRequest)  # type: ignore[attr-defined]
    assert sent == acct.ChangeSecretRequest("user1", "111111", "new-password")
    session.deliver(acct.AccountDone("password", "user1", "token-2"))  # type: ignore[attr-defined]
    h.pump()
    assert "password was changed" in view.notices[-1][0]
    session.drop()
    h.advance(5)
    h.session.handshake()
    h.pump()
    assert h.session.of(ResumeRequest)[-1].resume_token == "token-2"
    assert h.app._password == "new-password"  # a later login uses the new one
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
    assert h.app._token is None and h.app._password is None  # no resume, no old password


def test_offline_requests_are_refused_in_words(h: Harness) -> None:
    view = RecordingAccountView()
    h.app.account_view = view
    h.app.change_nickname("Anyone")
    assert view.notices[-1][1] and "offline" in view.notices[-1][0]


def test_one_time_code_uses_a_connection_of_its_own_before_login(h: Harness) -> None:
    view = RecordingAccountView()
    h.app.account_view = view
    h.app.reset_with_code("127.0.0.1:8090", "user1", "code-123", "new-password", "other")
    assert view.notices[-1] == ("The two new passwords differ.", True) and not h.sessions
    h.app.reset_with_code("127.0.0.1:8090", "user1", " code-123 ", "new-password",
                          "new-password")
    (session,) = h.sessions
    session.handshake()
    h.advance(0.2)
    assert session.sent == [acct.ChangeSecretRequest("user1", "code-123", "new-password")]
    session.deliver(acct.AccountDone("password", "user1", ""))
    h.advance(0.2)
    assert session.closed and h.app.phase == "login"  # the login form stays
    assert view.notices[-1] == ("Your new password is set. Log in with it.", False)
