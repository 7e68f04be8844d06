"""What an administrator may do to an account, in one place for the command line and ``0038``.

``AccountAdmin.apply`` changes the database and says whether the account's open windows must
be closed (``Outcome.sign_out``): the server closes them through the hub at once; the command
line, which has no connections, writes an ``account_signouts`` row that every server process
reads on a timer (``SignOutWatcher``). Every action is logged with who did it and never with a
secret (a reset's one-time code is shown to the administrator only).

Why a reset code and not a new password chosen by the administrator: the administrator never
learns the password, and a code works once and expires (``CHAT_RESET_CODE_TTL``).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from server.names import is_username
from server.ports_accounts import AdminStore
from server.store_accounts import AccountRow

log = logging.getLogger(__name__)

SELF_REFUSED = frozenset({"disable", "delete", "remove_admin"})  # no locking oneself out
SIGN_OUT_TEXT = {
    "password_changed": "the password of this account was changed; log in again",
    "signed_out": "this session was signed out from another window",
    "disabled": "this account was disabled by an administrator",
    "deleted": "this account was deleted by an administrator",
}


class Hasher(Protocol):
    def hash(self, password: str) -> str: ...


@dataclass(frozen=True)
class Outcome:
    """``error`` (a ``1009`` code word and text) or success with a ``detail`` (the reset code)
    and the sign-out reason for the account's open windows (empty: none)."""

    error: tuple[str, str] | None = None
    detail: str = field(default="", repr=False)
    sign_out: str = ""
    rows: tuple[AccountRow, ...] = ()


def reset_code_hash(code: str) -> bytes:
    """What the database keeps of a one-time code: its SHA-256 (the code is 96 random bits)."""
    return hashlib.sha256(code.encode("utf-8")).digest()


class AccountAdmin:
    """The rules of the administrator's actions (``common.messages_account.ADMIN_ACTIONS``)."""

    def __init__(
        self, store: AdminStore, hasher: Hasher, reset_code_ttl: float,
        now_ms: Callable[[], int],
    ) -> None:
        self._store, self._hasher = store, hasher
        self._ttl_ms, self._now_ms = int(reset_code_ttl * 1000), now_ms

    def apply(self, by: str, action: str, username: str) -> Outcome:
        """Do ``action`` to ``username`` for the administrator ``by`` (not checked here)."""
        if action == "list":
            return Outcome(rows=tuple(self._store.accounts()))
        if not is_username(username) or self._store.account(username) is None:
            return Outcome(("no_such_user", "no such user"))
        if username == by and action in SELF_REFUSED:
            return Outcome(("bad_request", "not on your own account"))
        outcome = self._change(action, username)
        if outcome.error is None:
            log.info("administrator %s: %s %s", by, action, username)
        return outcome

    def _change(self, action: str, username: str) -> Outcome:
        store = self._store
        if action in ("make_admin", "remove_admin"):
            store.set_flag(username, "is_admin", action == "make_admin")
            return Outcome()
        if action == "enable":
            store.set_flag(username, "disabled", False)
            return Outcome()
        if action == "disable":
            store.set_flag(username, "disabled", True)
            store.revoke_sessions(username)
            return Outcome(sign_out="disabled")
        if action == "delete":
            store.delete_account(username)
            return Outcome(sign_out="deleted")
        if action == "reset":
            code = secrets.token_urlsafe(12)
            # the old password stops working too: a reset is what one does after a leak
            store.set_password_hash(username, self._hasher.hash(secrets.token_urlsafe(32)))
            store.set_reset_code(username, reset_code_hash(code), self._now_ms() + self._ttl_ms)
            store.revoke_sessions(username)
            return Outcome(detail=code, sign_out="password_changed")
        return Outcome(("bad_request", "unknown action"))


class SignOutSource(Protocol):
    def signouts_after(self, after_id: int) -> list[tuple[int, str, str]]: ...

    def last_signout_id(self) -> int: ...


class SignOutWatcher:
    """Every ``interval`` s, close the windows of accounts signed out from the command line
    (rows of ``account_signouts`` newer than the last seen), on this process only: each
    process of a cluster runs its own watcher."""

    def __init__(
        self, source: SignOutSource, sign_out: Callable[[str, str], None], interval: float
    ) -> None:
        self._source, self._sign_out = source, sign_out
        self._interval = max(0.1, interval)
        self._last: int | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="signout-watch", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5.0)

    def poll(self) -> int:
        """Apply the rows since the last poll (the first poll only notes where it starts)."""
        if self._last is None:
            self._last = self._source.last_signout_id()
            return 0
        rows = self._source.signouts_after(self._last)
        for row_id, username, reason in rows:
            self._last = row_id
            self._sign_out(username, reason)
        return len(rows)

    def _run(self) -> None:
        while True:
            try:
                self.poll()
            except Exception:  # the database may be down: try again next time
                log.warning("sign-out watch: could not read (trying again)", exc_info=True)
            if self._stop.wait(self._interval):
                return
