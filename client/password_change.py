"""Changing the password without sending it (PROTOCOL.md §8 and §9), for the controller.

The Account dialog hands over the current and the new password. The flow asks the server for
the account's key-derivation parameters (``0030``, allowed after login), derives the current
and the new authentication keys on a worker thread (two Argon2id runs: the Tk thread must not
wait), and answers with the ``0034`` to send: ``username | current key | new key``. Both
passwords are dropped as soon as the derivation starts; the new keys are held until the server
says the change is done (``1036|password``), when the controller makes them the session's
keys (a later login) and re-seals the end-to-end key backup under the new master key.

The salt and parameters stay the account's: only the password changes, so every window of the
account derives the same new keys from the new password.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from common.account_keys import AccountKeys, KdfParams, derive_account_keys
from common.e2e import to_field
from common.messages_account import ChangeSecretRequest
from common.messages_login import KdfParamsReply, KdfParamsRequest, params_of

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SecretsDerived:
    """The worker derived both keys; ``request`` is the ``0034`` (None: it failed)."""

    session_id: int
    request: ChangeSecretRequest | None = field(repr=False)
    new_keys: AccountKeys | None = field(repr=False)
    error: str = ""


class PasswordChange:
    """One change at a time: the two passwords until the parameters come, then the new keys
    until the server confirms."""

    def __init__(
        self, events: queue.Queue[Any],
        derive: Callable[[str, KdfParams], AccountKeys] = derive_account_keys,
    ) -> None:
        self._events, self._derive = events, derive
        self._passwords: tuple[str, str] | None = None
        self._new_keys: AccountKeys | None = None

    @property
    def waiting_for_params(self) -> bool:
        return self._passwords is not None

    def start(self, username: str, current: str, new: str) -> KdfParamsRequest:
        """What to send first: the account's parameters."""
        self._passwords, self._new_keys = (current, new), None
        return KdfParamsRequest(username)

    def on_params(self, session_id: int, username: str, reply: KdfParamsReply) -> None:
        """Derive both keys off the Tk thread; ``SecretsDerived`` arrives on the queue."""
        passwords, self._passwords = self._passwords, None
        if passwords is None:
            return
        current, new = passwords

        def work() -> None:
            try:
                params = params_of(reply)
                old_keys, new_keys = self._derive(current, params), self._derive(new, params)
                request = ChangeSecretRequest(username, to_field(old_keys.auth_key),
                                              to_field(new_keys.auth_key))
                event = SecretsDerived(session_id, request, new_keys)
            except (ValueError, MemoryError) as exc:
                logger.warning("key derivation for a password change failed: %s",
                               type(exc).__name__)
                event = SecretsDerived(session_id, None, None,
                                       "The server's key parameters could not be used.")
            self._events.put(event)

        threading.Thread(target=work, name="derive-new-keys", daemon=True).start()

    def sent(self, event: SecretsDerived) -> None:
        """The ``0034`` went out: hold its new keys until the server confirms."""
        self._new_keys = event.new_keys

    def confirmed(self) -> AccountKeys | None:
        """``1036|password``: the new keys, now the account's (None if none were pending)."""
        keys, self._new_keys = self._new_keys, None
        return keys

    def clear(self) -> None:
        self._passwords, self._new_keys = None, None
