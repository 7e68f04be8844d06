"""What the chat window's widgets call on the controller, passed on to the conversation.

Split from ``client.app`` (a base of ``App``) to keep that module to the connection's life;
these are the person's chat actions, and each one also counts as the person being active,
which shortens a reconnect wait (``client.liveness.ConnectionWatch``).
"""

from __future__ import annotations

import logging

from client.lifecycle import Lifecycle, Phase
from client.link import SessionLink
from client.liveness import ConnectionWatch
from client.traffic import ChatTraffic

logger = logging.getLogger(__name__)


class ChatActions:
    """The chat actions of ``App``; the attributes are ``App``'s own."""

    traffic: ChatTraffic | None
    watch: ConnectionWatch
    link: SessionLink
    lifecycle: Lifecycle

    @property
    def phase(self) -> Phase:
        return self.lifecycle.phase

    def _reconnect(self) -> None:
        raise NotImplementedError

    def send_text(self, text: str) -> bool:
        """Enter in the input box. True when the text was taken (the view clears the box).

        While the window waits to reconnect, a send is the person saying "now": it reconnects
        at once instead of waiting out the back-off.
        """
        if self.traffic is None:
            return False
        self.watch.note_input()
        taken = self.traffic.send_text(text)
        if taken and self.link.online:
            self.watch.sent()
        elif taken and self.phase is Phase.WAITING:
            self.reconnect_now()
        return taken

    def reconnect_now(self) -> None:
        """"Reconnect now" (the status area's button, Ctrl+R): skip the rest of the wait."""
        if self.phase is not Phase.WAITING:
            return
        logger.info("reconnecting now at the person's request")
        self.watch.timer.cancel()
        self._reconnect()

    def select_conversation(self, key: str) -> None:
        if self.traffic is not None:
            self.traffic.select_conversation(key)

    def open_direct(self, username: str) -> None:
        """Double-click on a person: their direct conversation (not one with oneself)."""
        if self.traffic is not None:
            self.traffic.open_direct(username)

    def load_older(self) -> None:
        if self.traffic is not None:
            self.traffic.load_older()

    def unsent_count(self) -> int:
        return self.traffic.unsent_count() if self.traffic is not None else 0

    def search_people(self, prefix: str, after: str) -> None:
        """The "New conversation" dialog: a page of the people directory."""
        if self.traffic is not None:
            self.watch.note_input()
            self.traffic.sync.search_people(prefix, after)

    def window_focus(self, focused: bool) -> None:
        """The window gained or lost the focus: coming back is returning to the conversation."""
        if self.traffic is not None:
            self.traffic.sync.window_focus(focused)
            self.traffic.refresh(now=True)

    def reading_newest(self) -> None:
        """The reader scrolled to the newest message: it may now count as read."""
        if self.traffic is not None:
            self.traffic.sync.schedule_mark()

    def set_draft(self, key: str, text: str) -> None:
        """The input box of conversation ``key`` now holds ``text``."""
        if self.traffic is not None:
            self.watch.note_input()
            self.traffic.set_draft(key, text)

