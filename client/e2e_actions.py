"""What the verify dialog and the lock marker call on the controller (a base of ``App``).

Apart from ``client.actions`` so the end-to-end actions read in one place; every one acts on
``App.e2e`` (``client.e2e_dm.SealedDirect``), which exists from the first login on.
"""

from __future__ import annotations

from client.e2e_dm import SealedDirect
from client.e2e_state import E2eStateFile
from client.e2e_view import SecurityNote
from client.link import SessionLink
from client.model import ChatModel
from client.renderer import View
from client.traffic import ChatTraffic
from client.trust import KnownServers
from common.messages import ServerMessage


class E2eActions:
    """The end-to-end actions of ``App``; the attributes are ``App``'s own."""

    e2e: SealedDirect | None
    traffic: ChatTraffic | None
    view: View
    link: SessionLink
    store: KnownServers
    username: str
    _note: SecurityNote | None = None

    def now_ms(self) -> int:
        raise NotImplementedError

    def _make_e2e(self, model: ChatModel, host: str, port: int) -> SealedDirect:
        """At the first login: the sealed-message side of the account on this server."""
        state = E2eStateFile(self.store.directory, host, port, self.username)
        return SealedDirect(model, self.link, self.view, self.now_ms, state)

    def _e2e_took(self, message: ServerMessage) -> bool:
        """Keys and sealed messages (and what waits behind one) go to ``e2e``; True if taken."""
        if self.e2e is None or self.traffic is None or not self.e2e.received(message):
            return False
        self.traffic.refresh()  # message states and lines may have changed
        return True

    def _e2e_resumed(self) -> None:
        if self.e2e is not None:
            self.e2e.resumed()

    def _e2e_rewrap(self, master_key: bytes) -> None:
        """After a password change: the key backup sealed again under the new master key."""
        if self.e2e is not None:
            request = self.e2e.keyring.rewrap(master_key)
            if request is not None:
                self.link.send(request)

    def _e2e_save(self) -> None:
        if self.e2e is not None:
            self.e2e.close()

    def open_verify(self) -> None:
        """Ctrl+I, or the lock marker: the safety number of the open direct conversation."""
        if self.e2e is not None and self.traffic is not None:
            active = self.traffic.model.active
            if active.startswith("@"):
                self.e2e.request_safety(active[1:])

    def mark_verified(self, username: str) -> None:
        """The person compared the safety number with ``username`` and it matched."""
        if self.e2e is not None:
            self.e2e.mark_verified(username)
            self._after_e2e_change()

    def accept_key_change(self, username: str) -> None:
        """The person checked a verified contact's new key: send to it again."""
        if self.e2e is not None:
            self.e2e.accept_key_change(username)
            self._after_e2e_change()

    def _after_e2e_change(self) -> None:
        if self.traffic is not None:
            self.traffic.refresh(now=True)
        self.show_note()  # the marker and a line in the conversation say what changed

    def show_note(self) -> None:
        """The open conversation's lock marker (painted only when it changes)."""
        if self.e2e is None or self.traffic is None:
            return
        note = self.e2e.note(self.traffic.model.active)
        if note != self._note:
            self._note = note
            self.view.set_security(note)
