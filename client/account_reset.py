"""A new password with an administrator's one-time code, before login (PROTOCOL.md §8 ``0034``).

After a reset the old password no longer works, so the person cannot log in to open the
Account dialog. From the login form they give their username, the code and a new password:
this opens one short connection of its own (its own event queue, polled with the view's
``after``, so the Tk thread never waits), asks the account's key parameters (``0030``), derives
the new password's authentication key on a worker thread (the password itself is never sent),
sends ``0034|username|code|new key``, and reports the answer in words. The connection is
not logged in and closes right after; the person then logs
in with the new password. The server key is chosen as for a login, but only from what is
already trusted (an explicit or project key, or the recorded one): no first-use question here.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from Crypto.PublicKey import RSA

from client.link import SessionFactory, SessionLike
from client.session import Connected, ConnectFailed, Disconnected, Received
from common import messages_account as wire
from common.account_keys import AccountKeys, KdfParams, derive_account_keys
from common.e2e import to_field
from common.messages import ErrorReply
from common.messages_login import KdfParamsReply, KdfParamsRequest, params_of

logger = logging.getLogger(__name__)

POLL_MS = 50
DEADLINE_S = 30.0

CODE_ERRORS = {
    "wrong_credentials": "That code is wrong, used or expired, or the username is wrong.",
    "rate_limited": "Too many attempts. Wait a while, then try again.",
    "bad_request": "The server refused the new key. Try again with a newer client.",
    "unavailable": "The server cannot reach its database. Try again later.",
}

Report = Callable[[str, bool], None]  # (text for a person, is it an error)


@dataclass(frozen=True)
class _NewKey:
    """The worker thread's result: the new password's authentication key (None: failed)."""

    auth_key: bytes | None = field(repr=False)


class CodeReset:
    """One ``0034`` over a connection of its own; ``report`` is called once with the result."""

    def __init__(
        self, after: Callable[[int, Callable[[], None]], object], factory: SessionFactory,
        report: Report, derive: Callable[[str, KdfParams], AccountKeys] = derive_account_keys,
    ) -> None:
        self._after, self._factory, self._report = after, factory, report
        self._derive = derive
        self._session: SessionLike | None = None
        self._events: queue.Queue[Any] = queue.Queue()
        self._username, self._code, self._password = "", "", ""
        self._deadline = 0.0

    @property
    def busy(self) -> bool:
        return self._session is not None

    def start(self, host: str, port: int, key: RSA.RsaKey, username: str, code: str,
              password: str) -> None:
        if self.busy:
            return
        self._events = queue.Queue()
        self._username, self._code, self._password = username, code, password
        self._deadline = time.monotonic() + DEADLINE_S
        self._session = self._factory(host, port, key, self._events)
        self._session.connect()
        self._after(POLL_MS, self._poll)

    def _poll(self) -> None:
        while self._session is not None:
            try:
                event = self._events.get_nowait()
            except queue.Empty:
                break
            self._handle(event)
        if self._session is None:
            return
        if time.monotonic() > self._deadline:
            self._finish("The server did not answer. Try again later.", True)
            return
        self._after(POLL_MS, self._poll)

    def _handle(self, event: object) -> None:
        if isinstance(event, Connected) and self._session:
            self._session.send(KdfParamsRequest(self._username))
        elif isinstance(event, Received) and isinstance(event.message, KdfParamsReply):
            self._derive_new_key(event.message)
        elif isinstance(event, _NewKey) and self._session:
            if event.auth_key is None:
                self._finish("The server's key parameters could not be used.", True)
            else:
                self._session.send(wire.ChangeSecretRequest(self._username, self._code,
                                                            to_field(event.auth_key)))
        elif isinstance(event, Received) and isinstance(event.message, wire.AccountDone):
            self._finish("Your new password is set. Log in with it.", False)
        elif isinstance(event, Received) and isinstance(event.message, ErrorReply):
            code = event.message.code_word
            self._finish(CODE_ERRORS.get(code, event.message.text.capitalize()), True)
        elif isinstance(event, ConnectFailed | Disconnected):
            self._finish(f"Could not reach the server ({event.reason}).", True)

    def _derive_new_key(self, reply: KdfParamsReply) -> None:
        """Argon2id off the Tk thread; the result comes back on this reset's queue."""
        password, self._password = self._password, ""

        def work() -> None:
            try:
                self._events.put(_NewKey(self._derive(password, params_of(reply)).auth_key))
            except (ValueError, MemoryError) as exc:
                logger.warning("key derivation for a reset failed: %s", type(exc).__name__)
                self._events.put(_NewKey(None))

        threading.Thread(target=work, name="derive-reset-key", daemon=True).start()

    def _finish(self, text: str, error: bool) -> None:
        self._password, self._code = "", ""
        session, self._session = self._session, None
        if session is not None:
            session.close()
        logger.info("password reset with a code: %s", text)
        self._report(text, error)
