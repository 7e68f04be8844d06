"""The controller's steps of key login and registration (PROTOCOL.md §8), a base of ``App``.

Split from ``client.app`` to keep that module to the connection's life. ``login`` and
``register`` check the form and hand the password to ``client.keylogin.SignInFlow``; the
flow says what to send as the connection's ``1030`` arrives and its worker thread's
``KeysDerived`` follows. The password never goes further than that worker thread.
"""

from __future__ import annotations

from client.keylogin import KeysDerived, SignInFlow
from client.lifecycle import Lifecycle, Phase
from client.link import SessionLink
from client.password_policy import password_problem
from client.renderer import View
from common.messages import ErrorReply, ServerMessage
from common.messages_login import KdfParamsReply
from common.protocol import ErrorCode

SIGNIN_ERRORS: dict[str, str] = {
    ErrorCode.BAD_CODE: "That invitation code is not valid: unknown, used up or expired.",
    ErrorCode.RATE_LIMITED: "Too many attempts from here. Try again in a minute.",
    ErrorCode.UNAVAILABLE: "The server cannot check that right now. Try again in a moment.",
}


def signin_error_text(reply: ErrorReply) -> str:
    """A refused registration or parameter request in words for a person, by code word; the
    server's own sentence for the others (it says which name is taken, or what is wrong)."""
    known = SIGNIN_ERRORS.get(reply.code_word)
    if known:
        return known
    text = reply.text.strip()
    return (text[:1].upper() + text[1:]).rstrip(".") + "." if text else "Refused by the server."


class SignInActions:
    """Login, registration and the key steps of ``App``; the attributes are ``App``'s own."""

    signin: SignInFlow
    view: View
    link: SessionLink
    lifecycle: Lifecycle
    username: str

    @property
    def in_chat(self) -> bool:
        raise NotImplementedError

    def _start(self, address: str, username: str, password: str) -> bool:
        raise NotImplementedError

    def _back_to_login(self, error: str, refused: bool = False, wait: int | None = None) -> None:
        raise NotImplementedError

    @property
    def master_key(self) -> bytes | None:
        """The 32-byte master key derived from the password at login, for end-to-end work
        (``client.keylogin``); memory only, None before login and after logout."""
        return self.signin.master_key

    def login(self, address: str, username: str, password: str) -> None:
        """The Login button: check the form, then connect (``App._start``)."""
        if self._start(address, username, password):
            self.signin.start_login(password)

    def register(self, address: str, code: str, username: str, nickname: str, password: str,
                 again: str) -> None:
        """Create account: the password is judged here (the server never sees it), then the
        connection goes as for a login, ending in ``0032`` instead of ``0031``."""
        problem = password_problem(password, again, username.strip(), nickname.strip())
        if problem or not nickname.strip():
            self.view.show_login_error(problem or "Enter a nickname.")
        elif self._start(address, username, password):
            self.signin.start_registration(password, code.strip(), nickname.strip())

    def _signin_reply(self, message: ServerMessage) -> bool:
        """While authenticating: parameters to derive with, or (before the chat opened) a
        refusal of the sign-in; False for anything else."""
        if self.lifecycle.phase is not Phase.AUTHENTICATING:
            return False
        if isinstance(message, KdfParamsReply):
            session = self.link.session
            self.signin.on_params(session.id if session else 0, self.username, message)
            if not self.in_chat:  # off the Tk thread; the form shows that it works
                self.view.set_login_busy(True, "Deriving the key from your password…")
            return True
        if not isinstance(message, ErrorReply) or self.in_chat:
            return False
        self.signin.clear()  # a refused registration or parameter request: start over
        self._back_to_login(signin_error_text(message), refused=True)
        return True

    def _keys_derived(self, event: KeysDerived) -> None:
        """The worker thread derived the keys: send the key login or the registration."""
        request = self.signin.derived(event)
        if self.lifecycle.phase is not Phase.AUTHENTICATING:
            return
        if request is None:
            self._back_to_login(event.error, refused=True)
            return
        self.link.send(request)
        if not self.in_chat:
            self.view.set_login_busy(True, "Logging in…")
