"""The conversation once logged in: sending, receiving, history pages, acks and the outbox.

An object the controller (``client.app.App``) creates at the first successful login and owns
until the logout. Everything it needs comes in through the constructor: the model it changes,
the renderer that paints it, and a ``Link`` to whatever session is current (sessions come and
go with reconnects, the conversation stays). Like the rest of the controller it runs in the Tk
thread only, and has no widgets.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from client.backoff import Backoff
from client.conversation_sync import ConversationSync
from client.conversations import is_conversation_key
from client.formatting import error_text
from client.model import HISTORY_PAGE, ChatModel, Conversation, HistoryKind
from client.notify import Alerts, is_live, notice_for
from client.renderer import Renderer
from client.stash import Stash, StashedMessage, StashFile
from common.messages import (
    Ack,
    ChatDelivery,
    ClientMessage,
    DirectDelivery,
    ErrorReply,
    HistoryEnd,
    HistoryRequest,
    PresenceEvent,
    RosterUpdate,
    ServerMessage,
)
from common.messages_rooms import ROOM_EVENTS
from common.protocol import LOBBY, MAX_TEXT, ErrorCode

logger = logging.getLogger(__name__)

RETRY_BASE = 2.0
RETRY_CAP = 30.0
DRAFT_SAVE_MS = 1000
"""Drafts reach the stash file at most this long after the last keystroke (the outbox at
once): one write per pause in typing, not one per key."""
GAP_PAGES = 40  # history pages that may fill one conversation's gap after a reconnect


class Link(Protocol):
    """The current session as the conversation sees it: up or not, and a way to send."""

    @property
    def online(self) -> bool: ...
    def send(self, message: ClientMessage) -> None: ...


class Timers(Protocol):
    """Tk's ``after`` (or the tests' fake clock)."""

    def after(self, ms: int, callback: Callable[[], None]) -> object: ...
    def after_cancel(self, token: object) -> None: ...


class ChatTraffic:
    """Chat-window actions and chat messages for one logged-in account."""

    def __init__(
        self,
        model: ChatModel,
        renderer: Renderer,
        link: Link,
        timers: Timers,
        now_ms: Callable[[], int],
        on_rejected: Callable[[str], None],
        retry: Backoff,
        stash: StashFile | None = None,
        alerts: Alerts | None = None,
    ) -> None:
        self.model, self.renderer = model, renderer
        self.alerts = alerts  # None: nothing asks for attention (tests, no window)
        self.stash = stash  # None: nothing is kept on disk (no config directory)
        self._draft_timer: object | None = None
        self._link, self._timers, self._now_ms = link, timers, now_ms
        self._on_rejected = on_rejected  # the server says we are not logged in: reconnect
        self._retry = retry  # delays for the outbox after "unavailable" / "rate_limited"
        self._retry_timer: object | None = None
        self._page_added: dict[str, int] = {}  # messages per conversation since its request
        self._page_kind: dict[str, HistoryKind] = {}  # per pending history request
        # conversation -> (newest msg_id known when the link came back, pages left): a gap
        # longer than one page is filled page by page, down to what was known
        self._gaps: dict[str, tuple[int, int]] = {}
        self.sync = ConversationSync(model, link, timers, renderer.view, alerts,
                                     self.select_conversation, now_ms)  # rooms, read marks

    # --- what the view calls ----------------------------------------------------------------

    def send_text(self, text: str) -> bool:
        """Enter in the input box. True when the text was taken (the view clears the box).

        The text goes exactly as typed: indentation and code keep their shape. Only trailing
        newlines are dropped, and text of nothing but whitespace is not sent.
        """
        text = text.rstrip("\r\n")
        if not text.strip() or len(text) > MAX_TEXT:
            return False
        request = self.model.compose(self.model.active, text, self._now_ms())
        self.model.set_draft(self.model.active, "")
        self.save()
        if self._link.online:
            self._link.send(request)
        self.refresh(now=True)
        return True

    def select_conversation(self, key: str) -> None:
        """Show conversation ``key`` with its own draft in the input box."""
        if key == self.model.active and self.model.conversation(key).opened:
            conv = self.model.conversation(key)  # shown already (the list repainted): no return
        else:
            self.sync.switching(key)
            conv = self.model.select(key)
        if not conv.opened:
            self._request_history(conv, None, "first")
        self.renderer.show_draft(conv.key, conv.draft)
        self.refresh(now=True)

    def set_draft(self, key: str, text: str) -> None:
        """The input box of conversation ``key`` changed; saved to disk after a pause."""
        if self.model.set_draft(key, text) and self._draft_timer is None:
            self._draft_timer = self._timers.after(DRAFT_SAVE_MS, self._save_drafts)

    def open_direct(self, username: str) -> None:
        """Double-click on a person: their direct conversation (not one with oneself)."""
        if username != self.model.username:
            self.select_conversation(self.model.direct_key(username))

    def load_older(self) -> None:
        """The view scrolled to the top: ask for the page before the oldest shown."""
        conv = self.model.conversation(self.model.active)
        if conv.opened and conv.more and conv.oldest_msg_id is not None:
            self._request_history(conv, conv.oldest_msg_id, "older")

    def unsent_count(self) -> int:
        return len(self.model.outbox)

    # --- the stash file ---------------------------------------------------------------------

    def restore(self) -> int:
        """At the first login: bring back the drafts and unsent messages of the last window.

        Called before any history request, so the server answers the resends (acks, with the
        original ``msg_id`` for one it already had) before it sends history pages. Returns how
        many messages were restored.
        """
        if self.stash is None:
            return 0
        stash = self.stash.load()
        for message in stash.messages:
            if message.client_msg_id not in self.model.outbox:
                self.model.compose(message.conversation, message.text, message.typed_ms,
                                   message.client_msg_id)
        for key, text in stash.drafts.items():
            if is_conversation_key(key):
                self.model.set_draft(key, text)
        if stash.messages:
            self.model.system(LOBBY, f"{len(stash.messages)} unsent message(s) from last time "
                              "are being sent again.", self._now_ms())
        self._resend()
        self.refresh()
        return len(stash.messages)

    def save(self) -> None:
        """Write the outbox and drafts now (every outbox change, and when the window closes)."""
        if self._draft_timer is not None:
            self._timers.after_cancel(self._draft_timer)
            self._draft_timer = None
        if self.stash is None:
            return
        messages = [StashedMessage(e.conversation, e.client_msg_id or "", e.text, e.sent_ms)
                    for e in self.model.outbox.entries()]
        try:
            self.stash.save(Stash(messages, self.model.drafts()))
        except OSError:
            logger.exception("cannot save the unsent messages to %s", self.stash.path)

    def discard_unsent(self) -> int:
        """The person chose to give up the unsent messages; drafts are still kept."""
        count = len(self.model.outbox)
        self.model.outbox.clear()
        self.save()
        if count:
            logger.info("discarded %d unsent message(s) at the person's request", count)
        return count

    def _save_drafts(self) -> None:
        self._draft_timer = None
        self.save()

    # --- what the controller calls ----------------------------------------------------------

    def opened(self) -> None:
        """The first login: show the lobby, then opt in to rooms and ask for the list."""
        self.select_conversation(LOBBY)
        self.sync.start()

    def resumed(self) -> None:
        """Logged in again after a reconnect: resend the outbox and fill the gaps."""
        self._resend()
        for conv in self.model.conversations.values():
            conv.history_inflight = False  # requests of the dead session get no answer
            if conv.opened:  # fill the gap left while we were away
                self._gaps[conv.key] = (conv.newest_msg_id, GAP_PAGES)
                self._request_history(conv, None, "refresh")
            elif conv.key == self.model.active:  # opened while offline
                self._request_history(conv, None, "first")
        self.sync.start()  # after the resends and the gaps' pages, as at the first login

    def went_offline(self) -> None:
        """The connection is gone (for now or for good): the people list becomes "last known"."""
        self.model.went_offline()
        self.refresh(now=True)

    def stop(self) -> None:
        """The session ended for good (logout, offline): no outbox retry may fire later."""
        if self._retry_timer is not None:
            self._timers.after_cancel(self._retry_timer)
            self._retry_timer = None

    def received(self, message: ServerMessage) -> None:
        """Any message but ``LoginResult`` (the controller takes that one)."""
        model = self.model
        if isinstance(message, ChatDelivery | DirectDelivery):
            live = is_live(model, message)
            entry = model.receive(message)
            if entry is not None:
                key = entry.conversation
                self._page_added[key] = self._page_added.get(key, 0) + 1
                if live:
                    self._alert(message, key)
                self.sync.delivered(entry, live)
        elif isinstance(message, HistoryEnd):
            self._history_end(message)
        elif isinstance(message, Ack):
            if (acked := model.ack(message)) is not None:
                self.sync.delivered(acked, live=False)
                self._retry.reset()
                self.save()
        elif isinstance(message, PresenceEvent):
            model.presence(message.event, message.username, message.nickname, self._now_ms())
        elif isinstance(message, RosterUpdate):
            model.set_roster(message.users, self._now_ms())
        elif isinstance(message, ErrorReply):
            self._error(message)
        elif isinstance(message, ROOM_EVENTS) and self.sync.received(message):
            self.save()  # unsent messages of a room left or renamed
        self.refresh()

    def refresh(self, now: bool = False) -> None:
        """Note that the view is stale; ``now`` repaints at once (a person just acted)."""
        self.renderer.mark()
        if now:
            self.renderer.refresh()

    # --- inside -----------------------------------------------------------------------------

    def _alert(self, message: ChatDelivery | DirectDelivery, key: str) -> None:
        if self.alerts is None:
            return
        notice = notice_for(self.model, message, focused=self.alerts.focused(),
                            muted=self.alerts.muted(key))
        if notice is not None:
            self.alerts.notify(notice)

    def _history_end(self, end: HistoryEnd) -> None:
        added = self._page_added.pop(end.conversation, 0)
        kind = self._page_kind.pop(end.conversation, "first")
        self.model.history_end(end.conversation, end.oldest_msg_id, end.more, added, kind)
        floor, pages = self._gaps.pop(end.conversation, (0, 0)) if kind == "refresh" else (0, 0)
        oldest = end.oldest_msg_id
        if floor and pages > 1 and end.more and oldest is not None and oldest > floor:
            # the page did not reach what we had: the next older one, until it does
            self._gaps[end.conversation] = (floor, pages - 1)
            self._request_history(self.model.conversation(end.conversation), oldest, "refresh")

    def _error(self, error: ErrorReply) -> None:
        code = error.code_word  # what to do is chosen by the code word; the text is for people
        retry = code in (ErrorCode.UNAVAILABLE, ErrorCode.RATE_LIMITED) and len(self.model.outbox)
        if retry and self._retry_timer is None:
            delay = self._retry.next_delay()
            self._retry_timer = self._timers.after(int(delay * 1000), self._retry_outbox)
        if code in (ErrorCode.UNAVAILABLE, ErrorCode.BAD_REQUEST):
            for conv in self.model.conversations.values():
                conv.history_inflight = False  # a history request may have failed: allow again
        if code == ErrorCode.NOT_LOGGED_IN:
            self._on_rejected(error_text(code, error.text))
        if retry:
            self.model.outbox.retrying()  # shown on each message, gone with its ack
            return
        self.model.system(self.model.active, error_text(code, error.text), self._now_ms())

    def _retry_outbox(self) -> None:
        self._retry_timer = None
        self._resend()

    def _resend(self) -> None:
        """Send every unacked message again, same ``client_msg_id``: the server dedupes."""
        if not self._link.online:
            return
        for request in self.model.outbox.requests():
            self._link.send(request)

    def _request_history(self, conv: Conversation, before: int | None, kind: HistoryKind) -> None:
        if conv.history_inflight or not self._link.online:
            return
        conv.history_inflight, conv.opened = True, True
        self._page_added[conv.key], self._page_kind[conv.key] = 0, kind
        self._link.send(HistoryRequest(conv.key, before, HISTORY_PAGE))
