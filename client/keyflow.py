"""Deciding which server key to pin before connecting, asking the person when it must.

Split from the controller because it is a small conversation of its own: look for a key
(explicit, project, known_servers), else fetch the server's key and show its fingerprint, or
let the person pick a key file received out of band; for a changed key, show both
fingerprints and replace the key only when the person types the end of the new one; and, after
a handshake fails with a pinned key, find out whether the key changed. Nothing is recorded
here until ``confirmed``: the controller calls it once a handshake with the key succeeded.
"""

from __future__ import annotations

import logging
import queue
from collections.abc import Callable
from pathlib import Path
from typing import Literal, NamedTuple

from Crypto.PublicKey import RSA

from client.renderer import View
from client.session import KeyFetched, SessionEvent
from client.trust import (
    CONFIRM_CHARS,
    KeySource,
    KnownServers,
    TrustDecision,
    changed_key_text,
    choose_key,
    server_id,
)
from common.crypto import fingerprint, load_public_key

logger = logging.getLogger(__name__)

KeyFetcher = Callable[[str, int, "queue.Queue[SessionEvent]"], object]
KeyFlowMode = Literal["", "fetch", "diagnose", "replace"]
"""Idle, first use, after an identity failure, asking whether to accept a changed key."""
__all__ = ["IDENTITY_TEXT", "MISTYPED_TEXT", "REFUSED_TEXT", "KeyFetcher", "KeyFlow",
           "KeyFlowMode", "KeySource", "PendingRecord", "confirms"]

IDENTITY_TEXT = (
    "The server could not prove its identity with the pinned key ({fp}). It may be a "
    "different server, its key may have been replaced, or someone may be intercepting the "
    "connection. Nothing was sent."
)
REFUSED_TEXT = (
    "The server's key has changed, so the client refused to connect. See the explanation shown."
)
MISTYPED_TEXT = (
    "The characters typed are not the end of the new key's fingerprint, so the key was not "
    "replaced and the client did not connect."
)


class PendingRecord(NamedTuple):
    """A key to record once a handshake with it succeeds (``replaces``: the fingerprint it
    supersedes, confirmed by the person)."""

    host: str
    port: int
    key: RSA.RsaKey
    replaces: str | None


class KeyFlow:
    """Finds a key for ``host:port``; reports through ``on_ready(key, source)`` or ``on_fail``."""

    def __init__(
        self,
        view: View,
        store: KnownServers,
        events: queue.Queue[SessionEvent],
        key_fetcher: KeyFetcher,
        on_ready: Callable[[RSA.RsaKey, KeySource], None],
        on_fail: Callable[[str], None],
        explicit_key: RSA.RsaKey | None = None,
        project_key: Path | None = None,
    ) -> None:
        self.view, self.store, self.events = view, store, events
        self._fetch = key_fetcher
        self._on_ready, self._on_fail = on_ready, on_fail
        self.explicit_key, self.project_key = explicit_key, project_key
        self._host, self._port = "", 0
        self._mode: KeyFlowMode = ""
        self._offered: RSA.RsaKey | None = None
        self._pinned: RSA.RsaKey | None = None
        self._source: KeySource = ""
        self._record: PendingRecord | None = None  # recorded after a successful handshake

    @property
    def busy(self) -> bool:
        return bool(self._mode)

    def cancel(self) -> None:
        """Forget a flow in progress (the person logged out or closed the window)."""
        self._mode, self._offered = "", None

    def confirmed(self, host: str, port: int, key: RSA.RsaKey) -> None:
        """A handshake with ``key`` succeeded: the server holds it, so record it now if a new
        (or a confirmed replacement) key was waiting for that proof."""
        pending, self._record = self._record, None
        if pending is None or (pending.host, pending.port) != (host, port):
            return
        if fingerprint(pending.key) != fingerprint(key):
            return
        try:
            self.store.remember(host, port, key, replace=pending.replaces)
        except (OSError, ValueError):
            logger.exception("cannot record the key of %s", server_id(host, port))

    def start(self, host: str, port: int) -> None:
        """Find the key to pin; may finish at once or after a fetch and a question."""
        self._host, self._port, self._mode = host, port, ""
        self._record = None
        choice = choose_key(host, port, self.store, self.explicit_key, self.project_key)
        if choice.key is not None and choice.decision is TrustDecision.CHANGED:
            self._refuse(choice.recorded or "?", choice.key)
            return
        if choice.key is not None:
            if choice.source == "project" and choice.decision is TrustDecision.NEW:
                # set-up made it: no question, but recorded only once the server proves it
                self._record = PendingRecord(host, port, choice.key, None)
            self._on_ready(choice.key, choice.source)
            return
        self._mode = "fetch"
        self.view.set_login_busy(True, "Asking the server for its key…")
        self._fetch(host, port, self.events)

    def diagnose(self, host: str, port: int, pinned: RSA.RsaKey, source: KeySource) -> None:
        """The handshake failed with ``pinned``: fetch the server's key to say what happened."""
        self._host, self._port, self._mode = host, port, "diagnose"
        self._pinned, self._source = pinned, source
        self.view.set_login_busy(True, "Checking the server's identity…")
        self._fetch(host, port, self.events)

    def handle(self, event: KeyFetched) -> None:
        """A fetched key (or the failure to get one) arrived from the queue."""
        if not self._mode or (event.host, event.port) != (self._host, self._port):
            return
        mode, self._mode = self._mode, ""
        if mode == "diagnose":
            self._diagnosed(event.key)
        elif event.key is not None:
            self._mode = "fetch"
            self._offer(event.key)
        elif not event.reachable:
            self._on_fail(event.error)
        else:
            self._mode = "fetch"
            self.view.ask_key_file(server_id(self._host, self._port), event.error, self._key_file)

    def _key_file(self, path: str | None) -> None:
        """The person picked the server's public key file received out of band (or cancelled)."""
        if self._mode != "fetch":
            return
        if path is None:
            self._fail("Not connected: no key for the server was chosen.")
            return
        try:
            key = load_public_key(Path(path).read_bytes())
        except (OSError, ValueError, IndexError, TypeError):
            self._fail(f"{path} is not a public key file (PEM).")
            return
        self._offer(key)

    def _offer(self, key: RSA.RsaKey) -> None:
        offered, recorded = fingerprint(key), self.store.lookup(self._host, self._port)
        if recorded is not None and recorded != offered:
            self._mode = ""
            self._refuse(recorded, key)
            return
        self._offered = key
        if recorded == offered:  # on record, only the stored PEM was missing
            self._answer(True)
            return
        self.view.ask_trust(server_id(self._host, self._port), offered, self._answer)

    def _answer(self, accepted: bool) -> None:
        key, self._offered = self._offered, None
        if self._mode != "fetch" or key is None:
            return
        self._mode = ""
        if not accepted:
            self._on_fail("Not connected: you did not accept the server's key.")
            return
        self._record = PendingRecord(self._host, self._port, key, None)
        self._on_ready(key, "accepted")

    def _fail(self, text: str) -> None:
        self._mode = ""
        self._on_fail(text)

    def _refuse(self, recorded: str, key: RSA.RsaKey) -> None:
        """The key differs from the record: ask, showing both; Cancel unless the person types
        the end of the new fingerprint (checked here, whatever the dialog did)."""
        offered = fingerprint(key)
        logger.warning("%s offers a changed key", server_id(self._host, self._port))
        self._mode, self._offered = "replace", key
        self.view.ask_replace_key(
            server_id(self._host, self._port), recorded, offered,
            changed_key_text(self._host, self._port, recorded, offered, self.store),
            lambda typed: self._replace_answer(recorded, key, typed),
        )

    def _replace_answer(self, recorded: str, key: RSA.RsaKey, typed: str | None) -> None:
        if self._mode != "replace" or self._offered is not key:
            return  # logged out or started again meanwhile
        self._mode, self._offered = "", None
        if typed is None:
            self._on_fail(REFUSED_TEXT)
            return
        if not confirms(fingerprint(key), typed):
            logger.warning("changed key of %s not accepted: the confirmation did not match",
                           server_id(self._host, self._port))
            self._on_fail(MISTYPED_TEXT)
            return
        logger.warning("the person accepted the changed key of %s",
                       server_id(self._host, self._port))
        self._record = PendingRecord(self._host, self._port, key, recorded)
        self._on_ready(key, "accepted")

    def _diagnosed(self, key: RSA.RsaKey | None) -> None:
        pinned = fingerprint(self._pinned) if self._pinned is not None else "?"
        offered = fingerprint(key) if key is not None else None
        if key is not None and offered != pinned and self._source == "known":
            self._refuse(pinned, key)
            return
        text = IDENTITY_TEXT.format(fp=pinned)
        if offered is not None and offered != pinned:
            text += f" It now offers a different key: {offered}."
        self._on_fail(text)


def confirms(offered: str, typed: str) -> bool:
    """Whether ``typed`` is the last ``CONFIRM_CHARS`` characters of fingerprint ``offered``
    (exactly: base64 is case-sensitive; spaces around it are forgiven)."""
    return len(offered) >= CONFIRM_CHARS and typed.strip() == offered[-CONFIRM_CHARS:]
