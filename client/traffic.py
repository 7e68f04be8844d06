"""The chat half of the controller: what the person does in the chat window, and the chat
traffic the server sends once the login has succeeded.

Split from ``client.app`` along the seam between the connection's life (login, trust, the
session, reconnecting: ``App``) and the conversation itself (sending, receiving, history
pages, acks and resending the outbox: ``ChatTraffic``). ``App`` inherits this mixin and owns
all the state; the annotations below list what the mixin reads and writes, nothing more. Like
the rest of the controller it runs in the Tk thread only, and has no widgets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from client.backoff import Backoff
from client.formatting import MAX_TEXT, error_text
from client.model import HISTORY_PAGE, ChatModel, Conversation
from client.renderer import Renderer, View
from common.messages import (
    Ack,
    ChatDelivery,
    DirectDelivery,
    ErrorReply,
    HistoryEnd,
    HistoryRequest,
    PresenceEvent,
    RosterUpdate,
)


class ChatTraffic:
    """Chat-window actions and chat messages; mixed into ``client.app.App``."""

    # Set by ``App.__init__`` (and by the login, for model and renderer).
    view: View
    phase: str
    model: ChatModel | None
    renderer: Renderer | None
    session: Any
    _retry: Backoff  # retry delays for the outbox after "unavailable" / "rate_limited"
    _retry_timer: object | None
    _page_added: dict[str, int]  # messages received per conversation since its history request
    _page_kind: dict[str, str]  # "first", "older" or "refresh", per pending history request

    if TYPE_CHECKING:  # provided by ``App``

        def now_ms(self) -> int: ...
        def _schedule_reconnect(self, reason: str) -> None: ...

    # --- what the view calls ----------------------------------------------------------------

    def send_text(self, text: str) -> bool:
        """Enter in the input box. True when the text was taken (the view clears the box)."""
        text = text.strip()
        if self.model is None or not text or len(text) > MAX_TEXT:
            return False
        request = self.model.compose(self.model.active, text, self.now_ms())
        if self.phase == "online":
            self.session.send(request)
        self._refresh(now=True)
        return True

    def select_conversation(self, key: str) -> None:
        if self.model is None:
            return
        conv = self.model.select(key)
        if not conv.opened:
            self._request_history(conv, None, "first")
        self._refresh(now=True)

    def open_direct(self, username: str) -> None:
        """Double-click on a person: their direct conversation (not one with oneself)."""
        if self.model is not None and username != self.model.username:
            self.select_conversation(self.model.direct_key(username))

    def load_older(self) -> None:
        """The view scrolled to the top: ask for the page before the oldest shown."""
        if self.model is None:
            return
        conv = self.model.conversation(self.model.active)
        if conv.opened and conv.more and conv.oldest_msg_id is not None:
            self._request_history(conv, conv.oldest_msg_id, "older")

    def unsent_count(self) -> int:
        return len(self.model.outbox) if self.model else 0

    # --- messages from the server -----------------------------------------------------------

    def _chat_received(self, message: Any) -> None:
        """Any message but ``LoginResult`` (``App._received`` takes that one)."""
        model = self.model
        if model is None:
            return
        if isinstance(message, ChatDelivery | DirectDelivery):
            entry = model.receive(message)
            if entry is not None:
                key = entry.conversation
                self._page_added[key] = self._page_added.get(key, 0) + 1
        elif isinstance(message, HistoryEnd):
            self._history_end(message)
        elif isinstance(message, Ack):
            if model.ack(message) is not None:
                self._retry.reset()
        elif isinstance(message, PresenceEvent):
            model.presence(message.event, message.username, message.nickname, self.now_ms())
        elif isinstance(message, RosterUpdate):
            model.set_roster(message.users)
        elif isinstance(message, ErrorReply):
            self._error(message)
        self._refresh()

    def _history_end(self, end: HistoryEnd) -> None:
        assert self.model is not None
        added = self._page_added.pop(end.conversation, 0)
        kind = self._page_kind.pop(end.conversation, "first")
        self.model.history_end(end.conversation, end.oldest_msg_id, end.more, added, kind)

    def _error(self, error: ErrorReply) -> None:
        assert self.model is not None
        retry = error.code_word in ("unavailable", "rate_limited") and len(self.model.outbox)
        if retry and self._retry_timer is None:
            delay = self._retry.next_delay()
            self._retry_timer = self.view.after(int(delay * 1000), self._retry_outbox)
        if error.code_word in ("unavailable", "bad_request"):
            for conv in self.model.conversations.values():
                conv.history_inflight = False  # a history request may have failed: allow again
        if error.code_word == "not_logged_in":
            self._schedule_reconnect(error_text(error.code_word, error.text))
        self.model.system(self.model.active, error_text(error.code_word, error.text), self.now_ms())

    def _retry_outbox(self) -> None:
        self._retry_timer = None
        self._resend()

    def _resend(self) -> None:
        """Send every unacked message again, same ``client_msg_id``: the server dedupes."""
        if self.model is None or self.phase != "online":
            return
        for request in self.model.outbox.requests():
            self.session.send(request)

    def _request_history(self, conv: Conversation, before: int | None, kind: str) -> None:
        if conv.history_inflight or self.phase != "online":
            return
        conv.history_inflight, conv.opened = True, True
        self._page_added[conv.key], self._page_kind[conv.key] = 0, kind
        self.session.send(HistoryRequest(conv.key, before, HISTORY_PAGE))

    def _refresh(self, now: bool = False) -> None:
        """Note that the view is stale; ``now`` repaints at once (a person just acted)."""
        if self.renderer is not None:
            self.renderer.mark()
            if now:
                self.renderer.refresh()
