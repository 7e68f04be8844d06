"""Logging in and registering without sending the password (PROTOCOL.md §8), for the controller.

The controller (``client.app``) asks this flow what to send: on a new connection ``0030``
(the account's key-derivation parameters), then, once a worker thread has derived the keys
from the password (Argon2id takes a quarter of a second or more; the Tk thread must not wait),
``0031`` with the authentication key, or ``0032`` to register. The derivation's result comes
back as a ``KeysDerived`` event on the controller's queue, like every other network event.

After the derivation the password is dropped; the flow keeps the authentication key (to log
in again when a resume is refused) and the 32-byte *master key* for end-to-end encryption
(``App.master_key``). Both live in memory only: never logged (their ``repr`` hides them),
never written to disk, forgotten at logout.
"""

from __future__ import annotations

import logging
import queue
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from common.account_keys import SALT_BYTES, AccountKeys, KdfParams, derive_account_keys
from common.e2e import to_field
from common.messages import ClientMessage
from common.messages_login import (
    KdfParamsReply,
    KdfParamsRequest,
    KeyLoginRequest,
    RegisterRequest,
    params_of,
    registration,
)

logger = logging.getLogger(__name__)

MAX_MEMORY_KIB = 1024 * 1024  # a server asking for more (1 GiB) is refused, not obeyed
MAX_TIME_COST = 64  # passes; a server must not be able to keep a client busy for hours
MAX_PARALLELISM = 64


@dataclass(frozen=True)
class KeysDerived:
    """The worker thread finished deriving; ``request`` is what to send (None: it failed)."""

    session_id: int
    request: KeyLoginRequest | RegisterRequest | None = field(repr=False)
    keys: AccountKeys | None = field(repr=False)
    error: str = ""


@dataclass(frozen=True)
class _Registration:
    code: str = field(repr=False)
    nickname: str


class SignInFlow:
    """The password until it is derived, then the keys; what to send at each step."""

    def __init__(
        self, events: queue.Queue[Any],
        derive: Callable[[str, KdfParams], AccountKeys] = derive_account_keys,
    ) -> None:
        self._events, self._derive = events, derive
        self._password: str | None = None
        self._registration: _Registration | None = None
        self._keys: AccountKeys | None = None
        self.deriving = False

    @property
    def master_key(self) -> bytes | None:
        """The account's 32-byte master key once logged in (end-to-end work), else None."""
        return self._keys.master_key if self._keys is not None else None

    @property
    def can_log_in(self) -> bool:
        """A password or a key is at hand (else the person must type the password again)."""
        return self._password is not None or self._keys is not None

    def start_login(self, password: str) -> None:
        self.clear()
        self._password = password

    def start_registration(self, password: str, code: str, nickname: str) -> None:
        self.clear()
        self._password, self._registration = password, _Registration(code, nickname)

    def clear(self) -> None:
        """Logout or a refused key: forget the password and both keys. A derivation still
        running for an ended session is dropped on arrival (its session id is stale)."""
        self._password, self._registration, self._keys = None, None, None
        self.deriving = False

    def first_request(self, username: str) -> ClientMessage:
        """On a new connection: the key if it is known (a reconnect), else ask for parameters."""
        if self._keys is not None and self._registration is None:
            return KeyLoginRequest(username, to_field(self._keys.auth_key))
        return KdfParamsRequest(username)

    def relogin_request(self, username: str) -> KeyLoginRequest | None:
        """After a refused resume: the key again, if there is one."""
        if self._keys is None:
            return None
        return KeyLoginRequest(username, to_field(self._keys.auth_key))

    def on_params(self, session_id: int, username: str, reply: KdfParamsReply) -> None:
        """Derive in a worker thread; the result arrives as ``KeysDerived``."""
        password, joining = self._password, self._registration
        if password is None or self.deriving:
            return
        if not (0 < reply.memory_kib <= MAX_MEMORY_KIB and 0 < reply.time_cost <= MAX_TIME_COST
                and 0 < reply.parallelism <= MAX_PARALLELISM):
            self._events.put(KeysDerived(session_id, None, None,
                                         "The server asked for an unreasonable key derivation."))
            return
        self.deriving = True

        def work() -> None:
            try:
                if joining is not None:
                    request, keys = registration(
                        joining.code, username, joining.nickname, password, reply,
                        secrets.token_bytes(SALT_BYTES))
                    event = KeysDerived(session_id, request, keys)
                else:
                    keys = self._derive(password, params_of(reply))
                    key_login = KeyLoginRequest(username, to_field(keys.auth_key))
                    event = KeysDerived(session_id, key_login, keys)
            except (ValueError, MemoryError) as exc:  # a malformed salt, an impossible cost
                logger.warning("key derivation failed: %s", type(exc).__name__)
                event = KeysDerived(session_id, None, None,
                                    "The server's key parameters could not be used.")
            self._events.put(event)

        threading.Thread(target=work, name="derive-keys", daemon=True).start()

    def replace_keys(self, keys: AccountKeys) -> None:
        """A password change went through: the new keys are the account's now."""
        self._keys = keys

    def derived(self, event: KeysDerived) -> ClientMessage | None:
        """Keep the keys, drop the password; what to send now (None: the derivation failed)."""
        self.deriving = False
        if event.keys is None or event.request is None:
            return None
        self._keys, self._password = event.keys, None
        if isinstance(event.request, RegisterRequest):
            self._registration = None  # registered or not, the next try starts again
        return event.request
