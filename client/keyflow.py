"""Deciding which server key to pin before connecting, asking the person when it must.

Split from the controller because it is a small conversation of its own: look for a key
(explicit, project, known_servers), else fetch the server's key and show its fingerprint, or
let the person pick a key file received out of band; refuse a changed key with an explanation;
and, after a handshake fails with a pinned key, find out whether the key changed.
"""

from __future__ import annotations

import logging
import queue
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from Crypto.PublicKey import RSA

from client.renderer import View
from client.session import KeyFetched, SessionEvent
from client.trust import (
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
KeyFlowMode = Literal["", "fetch", "diagnose"]  # idle, first use, after an identity failure
__all__ = ["IDENTITY_TEXT", "REFUSED_TEXT", "KeyFetcher", "KeyFlow", "KeyFlowMode", "KeySource"]

IDENTITY_TEXT = (
    "The server could not prove its identity with the pinned key ({fp}). It may be a "
    "different server, its key may have been replaced, or someone may be intercepting the "
    "connection. Nothing was sent."
)
REFUSED_TEXT = (
    "The server's key has changed, so the client refused to connect. See the explanation shown."
)


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

    @property
    def busy(self) -> bool:
        return bool(self._mode)

    def cancel(self) -> None:
        """Forget a flow in progress (the person logged out or closed the window)."""
        self._mode, self._offered = "", None

    def start(self, host: str, port: int) -> None:
        """Find the key to pin; may finish at once or after a fetch and a question."""
        self._host, self._port, self._mode = host, port, ""
        choice = choose_key(host, port, self.store, self.explicit_key, self.project_key)
        if choice.key is not None and choice.decision is TrustDecision.CHANGED:
            self._refuse(choice.recorded or "?", fingerprint(choice.key))
            return
        if choice.key is not None:
            if choice.source == "project" and choice.decision is TrustDecision.NEW:
                self.store.remember(host, port, choice.key)  # set-up made it: no question
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
            self._refuse(recorded, offered)
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
        self.store.remember(self._host, self._port, key)
        self._on_ready(key, "known")

    def _fail(self, text: str) -> None:
        self._mode = ""
        self._on_fail(text)

    def _refuse(self, recorded: str, offered: str) -> None:
        logger.warning("refusing %s: its key changed", server_id(self._host, self._port))
        self.view.show_key_changed(
            changed_key_text(self._host, self._port, recorded, offered, self.store)
        )
        self._on_fail(REFUSED_TEXT)

    def _diagnosed(self, key: RSA.RsaKey | None) -> None:
        pinned = fingerprint(self._pinned) if self._pinned is not None else "?"
        offered = fingerprint(key) if key is not None else None
        if offered is not None and offered != pinned and self._source == "known":
            self._refuse(pinned, offered)
            return
        text = IDENTITY_TEXT.format(fp=pinned)
        if offered is not None and offered != pinned:
            text += f" It now offers a different key: {offered}."
        self._on_fail(text)
