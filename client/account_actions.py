"""The Account dialog's and the admin panel's controller logic (PROTOCOL.md §9), no widgets.

A base of ``client.app.App`` (as ``client.actions.ChatActions`` is): the view calls these
methods, they send ``0034``-``0039``, and ``account_received`` turns the server's answers into
calls on an ``AccountView`` (``client.ui.account_dialog.AccountPanel`` in the Tk window, a
recorder in tests). Every refusal reaches the person as a sentence chosen by its code word.

A password change sends neither password: ``client.password_change`` derives the current and
the new authentication keys with the account's parameters (``0030``) and sends those in
``0034``. After it the window keeps its session: the server sends this window a fresh resume
token (``1036|password|...``), the new keys replace the old ones in memory for a later login,
and the end-to-end key backup is sealed again under the new master key (``0040``).
Any other window of the account is signed out (``1039``): it goes back to the
login form and says why.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from client.account_reset import CodeReset
from client.keyflow import KeyFlow
from client.keylogin import SignInFlow
from client.lifecycle import Lifecycle
from client.link import SessionFactory, SessionLink
from client.password_change import PasswordChange, SecretsDerived
from client.password_policy import password_problem
from client.renderer import View
from client.traffic import ChatTraffic
from client.trust import KnownServers, TrustDecision, choose_key, parse_address
from common import messages_account as wire
from common.messages import ClientMessage, ErrorReply, ServerMessage
from common.messages_login import Invitation, InviteRequest, KdfParamsReply

logger = logging.getLogger(__name__)

INVITATION_TTL_S = 7 * 86_400

ERROR_TEXT = {
    "wrong_credentials": "The current password is wrong.",
    "rate_limited": "Too many attempts. Wait a moment, then try again.",
    "name_taken": "Someone else already uses this nickname, or one that looks the same.",
    "forbidden": "Only administrators can do this.",
    "no_such_user": "There is no account with that username.",
    "unavailable": "The server cannot reach its database. Try again later.",
    "not_logged_in": "You are not logged in.",
}

DONE_TEXT = {
    "password": "Your password was changed. Your other sessions were signed out.",
    "sign_out_others": "Signed out of {detail} other session(s).",
    "disable": "{username} is disabled and was signed out.",
    "enable": "{username} may log in again.",
    "delete": "{username} was deleted.",
    "make_admin": "{username} is now an administrator.",
    "remove_admin": "{username} is no longer an administrator.",
}

SIGNED_OUT_TEXT = {
    "password_changed": "The password of this account was changed. Log in with the new one.",
    "signed_out": "This session was signed out from another window.",
    "disabled": "This account was disabled by an administrator.",
    "deleted": "This account was deleted by an administrator.",
}


@dataclass
class AccountState:
    """What the Account dialog shows; replaced piece by piece as answers arrive."""

    username: str = ""
    nickname: str = ""
    admin: bool = False
    sessions: list[wire.SessionEntry] = field(default_factory=list)
    accounts: list[wire.AccountEntry] = field(default_factory=list)


class AccountView(Protocol):
    """What the controller tells the account widgets (only in the Tk main thread)."""

    def show_account(self, state: AccountState) -> None:
        """Open (or refresh) the Account dialog with ``state``."""

    def account_notice(self, text: str, error: bool) -> None:
        """A sentence under the dialog's fields: what happened, or why not."""

    def code_notice(self, text: str, error: bool) -> None:
        """The same for the one-time-code dialog of the login form."""


class AccountActions:
    """The account actions of ``App``; the attributes are ``App``'s own."""

    link: SessionLink
    traffic: ChatTraffic | None
    account_view: AccountView | None
    account_state: AccountState
    _token: str | None
    _account_waiting: int  # account requests not answered yet: a 1009 now is theirs
    signin: SignInFlow
    password_change: PasswordChange

    def _account_setup(self, view: AccountView | None) -> None:
        """Called once by ``App.__init__``: the account widgets (None: no dialog to show)."""
        self.account_view, self.account_state = view, AccountState()
        self._account_waiting = 0
        self._code_reset = None

    _e2e_rewrap: Callable[[bytes], None]  # client.e2e_actions: the key backup sealed again

    view: View
    lifecycle: Lifecycle
    address: str
    username: str
    store: KnownServers
    keys: KeyFlow
    _session_factory: SessionFactory
    _code_reset: CodeReset | None

    def _end_session(self, logout: bool) -> None:
        raise NotImplementedError

    def _signed_out(self, text: str) -> None:
        """``1039``: the server ends this session; unsent messages wait in the stash file."""
        if self.traffic is not None:
            self.traffic.save()
        self._end_session(logout=False)
        self.traffic, self._token = None, None
        self.password_change.clear()
        self.lifecycle.move("log out")
        self.view.show_login(self.address, self.username, text)

    # --- what the view calls ----------------------------------------------------------------

    def open_account(self) -> None:
        """The "Account…" button: show the dialog and ask for its contents."""
        self._show()
        if self._request(wire.AccountInfoRequest()):
            self._request(wire.SessionsRequest())

    def change_nickname(self, nickname: str) -> None:
        if not nickname.strip():
            self._tell("Enter the new nickname.", error=True)
            return
        self._request(wire.ChangeNicknameRequest(nickname.strip()))

    def change_password(self, current: str, new: str, again: str) -> None:
        """Judged here (the server never sees a password), then keys are derived and sent."""
        username = self.account_state.username or self.username
        problem = password_problem(new, again, username, self.account_state.nickname)
        if not current:
            self._tell("Enter your current password.", error=True)
        elif problem:
            self._tell(problem, error=True)
        elif self._request(self.password_change.start(username, current, new)):
            self._tell("Deriving the keys of both passwords…", error=False)

    def _secrets_derived(self, event: SecretsDerived) -> None:
        """The worker derived both keys: send the ``0034``."""
        if event.request is None:
            self._tell(event.error, error=True)
        elif self._request(event.request):
            self.password_change.sent(event)

    def refresh_sessions(self) -> None:
        self._request(wire.SessionsRequest())

    def sign_out_others(self) -> None:
        self._request(wire.SignOutOthersRequest())

    def create_invitation(self) -> None:
        """The admin panel's "New invitation": one registration, valid for a week (``0033``)."""
        self._request(InviteRequest(1, INVITATION_TTL_S))

    def admin_action(self, action: str, username: str) -> None:
        """The admin panel: ``list``, or an action on ``username``."""
        if action != "list" and not username:
            self._tell("Choose an account first.", error=True)
            return
        if action == "list":
            self.account_state.accounts = []
        self._request(wire.AdminRequest(action, username if action != "list" else ""))

    def reset_with_code(self, address: str, username: str, code: str, new: str,
                        again: str) -> None:
        """The login form's one-time code: set a new password before login (``0034``)."""
        where = parse_address(address.split(",")[0].strip(), 8090)
        problem = (
            "Enter the server as host:port." if where is None
            else "Enter your username." if not username.strip()
            else "Enter the one-time code." if not code.strip()
            else password_problem(new, again, username.strip()) or ""
        )
        if problem or where is None:
            self._code_told(problem, True)
            return
        choice = choose_key(where.host, where.port, self.store, self.keys.explicit_key,
                            self.keys.project_key)
        if choice.key is None or choice.decision is TrustDecision.CHANGED:
            self._code_told("This client does not trust that server's key yet. Log in to it "
                            "once (or ask for its key file) first.", True)
            return
        if self._code_reset is None:
            self._code_reset = CodeReset(self.view.after, self._session_factory, self._code_told)
        self._code_told("Setting the new password…", False)
        self._code_reset.start(where.host, where.port, choice.key, username.strip(),
                               code.strip(), new)

    def _code_told(self, text: str, error: bool) -> None:
        if self.account_view is not None:
            self.account_view.code_notice(text, error)

    # --- what the server says ---------------------------------------------------------------

    def account_received(self, message: ServerMessage) -> bool:
        """Handle an account message (True), or leave it to the conversation (False)."""
        state = self.account_state
        match message:
            case KdfParamsReply() if self.password_change.waiting_for_params:
                self._done_waiting()
                session = self.link.session
                self.password_change.on_params(session.id if session else 0,
                                               self.account_state.username or self.username,
                                               message)
                return True
            case Invitation():
                self._done_waiting()
                until = time.strftime("%Y-%m-%d %H:%M", time.localtime(message.expires_ms / 1000))
                self._tell(f"Invitation code {message.code} (one registration, until {until}). "
                           "Give it to the new person; they choose Create account.", error=False)
            case wire.SignedOut():
                self._signed_out(SIGNED_OUT_TEXT.get(message.reason, message.text))
            case wire.NicknameChanged():
                self._renamed(message.username, message.nickname)
            case wire.AccountInfo():
                state.username, state.nickname = message.username, message.nickname
                state.admin = message.admin
                self._done_waiting()
            case wire.SessionEntry():
                state.sessions.append(message)
            case wire.AccountEntry():
                state.accounts.append(message)
            case wire.AccountListEnd():
                self._done_waiting()
            case wire.AccountDone():
                self._done(message)
            case ErrorReply() if self._account_waiting > 0:
                self._done_waiting()
                self._tell(ERROR_TEXT.get(message.code_word, message.text.capitalize()), True)
            case _:
                return False
        self._show()
        return True

    def _done(self, done: wire.AccountDone) -> None:
        self._done_waiting()
        if done.action == "password":
            self._token = done.detail or self._token  # this window's session goes on
            keys = self.password_change.confirmed()
            if keys is not None:
                self.signin.replace_keys(keys)  # a later login uses the new key
                self._e2e_rewrap(keys.master_key)
            self.account_state.sessions = []
            self._request(wire.SessionsRequest())
        if done.action == "nickname":
            self._tell(f"Your nickname is now {done.detail}.", error=False)
            return
        if done.action == "reset":
            self._tell(f"One-time code for {done.username}: {done.detail} — give it to them; "
                       "they set a new password with it from the login form.", error=False)
            return
        if done.action in ("disable", "enable", "delete", "make_admin", "remove_admin"):
            self.admin_action("list", "")
        if done.action == "sign_out_others":
            self.account_state.sessions = []
            self._request(wire.SessionsRequest())
        self._tell(DONE_TEXT.get(done.action, "Done.").format(
            detail=done.detail, username=done.username), error=False)

    def _renamed(self, username: str, nickname: str) -> None:
        if self.traffic is not None:
            model = self.traffic.model
            if username in model.roster:
                model.roster[username] = nickname
            if username == model.username:
                model.nickname = nickname
            self.traffic.refresh()
        if username == self.account_state.username:
            self.account_state.nickname = nickname

    # --- helpers ----------------------------------------------------------------------------

    def _request(self, message: ClientMessage) -> bool:
        if not self.link.online:
            self._tell("You are offline. Wait until the chat reconnects, then try again.", True)
            return False
        if isinstance(message, wire.SessionsRequest):
            self.account_state.sessions = []
        self._account_waiting += 1
        self.link.send(message)
        return True

    def _done_waiting(self) -> None:
        self._account_waiting = max(0, self._account_waiting - 1)

    def _show(self) -> None:
        if self.account_view is not None:
            self.account_view.show_account(self.account_state)

    def _tell(self, text: str, error: bool) -> None:
        logger.log(logging.WARNING if error else logging.INFO, "account: %s", text)
        if self.account_view is not None:
            self.account_view.account_notice(text, error)
