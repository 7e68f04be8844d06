"""The contract between the controller and the widgets, and the code that keeps them in step.

``View`` lists everything the controller may ask of the window; ``ui.window.TkView`` implements
it with Tk and the unit tests with a recording fake. ``Renderer`` compares the model with what
was last painted and sends only the difference: an append for new messages at the bottom (the
common case, cheap at any history length), a full repaint when older history arrives above or
the conversation changes, and single-line updates when a pending message becomes sent.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import tzinfo
from typing import TYPE_CHECKING, Literal, Protocol

from client.conversations import ordered
from client.formatting import Line, conversation_title, entry_line, person_label, to_lines
from client.model import ChatModel, Conversation
from common.messages_rooms import PersonEntry

if TYPE_CHECKING:
    from client.e2e_view import SafetyView, SecurityNote

StatusLevel = Literal["ok", "busy", "stalled", "error"]
"""How the status line is coloured: connected, working on it, connected but the server is not
answering, or needs the person."""


@dataclass(frozen=True)
class ConversationItem:
    """One row of the conversation list."""

    key: str
    title: str
    unread: int
    preview: str = ""  # the newest message: "sender: text…"
    mentioned: bool = False  # an unread message names the person


@dataclass(frozen=True)
class Person:
    """One row of the people-online list."""

    username: str
    nickname: str
    me: bool = False
    last_known: bool = False  # offline: shown greyed, as the last known roster

    @property
    def label(self) -> str:
        """``nickname @username`` when they differ: nicknames may collide, usernames do not."""
        return person_label(self.nickname, self.username)


class View(Protocol):
    """What the controller needs from a window. Every method is called in the Tk thread."""

    def after(self, ms: int, callback: Callable[[], None]) -> object: ...
    def after_cancel(self, token: object) -> None: ...
    def show_login(self, address: str, username: str, error: str) -> None: ...
    def set_login_busy(self, busy: bool, note: str) -> None: ...
    def show_login_error(
        self, text: str, clear_password: bool = False, wait_s: int | None = None
    ) -> None: ...
    def show_chat(self, title: str) -> None: ...
    def set_status(self, text: str, level: StatusLevel) -> None: ...
    def offer_reconnect(self, offered: bool) -> None: ...
    def set_conversations(self, items: Sequence[ConversationItem], active: str) -> None: ...
    def render_messages(self, lines: Sequence[Line], anchor: str | None) -> None: ...
    def append_messages(self, lines: Sequence[Line]) -> None: ...
    def update_message(self, line: Line) -> None: ...
    def set_people(self, people: Sequence[Person]) -> None: ...
    def show_draft(self, conversation: str, text: str) -> None: ...
    def mark_unseen(self, entry_id: str) -> None: ...
    def at_newest(self) -> bool: ...
    def show_directory(self, people: Sequence[PersonEntry], more: str) -> None: ...
    def ask_trust(
        self, server: str, fingerprint: str, on_answer: Callable[[bool], None]
    ) -> None: ...
    def ask_key_file(
        self, server: str, reason: str, on_answer: Callable[[str | None], None]
    ) -> None: ...
    def show_key_changed(self, text: str) -> None: ...
    def ask_replace_key(
        self, server: str, recorded: str, offered: str, text: str,
        on_answer: Callable[[str | None], None],
    ) -> None: ...
    def set_security(self, note: SecurityNote) -> None: ...
    def show_safety(self, safety: SafetyView) -> None: ...
    def close(self) -> None: ...


class Renderer:
    """Pushes model changes to a view; ``mark()`` when something changed, ``refresh()`` to paint."""

    def __init__(
        self, view: View, model: ChatModel, now_ms: Callable[[], int], tz: tzinfo | None = None
    ) -> None:
        self.view, self.model, self._now_ms, self._tz = view, model, now_ms, tz
        self._dirty = True
        self._conversations: tuple[tuple[ConversationItem, ...], str] | None = None
        self._people: tuple[Person, ...] | None = None
        self._shown_key: str | None = None
        self._shown: list[str] = []  # entry ids painted, in order
        self._versions: dict[str, int] = {}
        self._marked: str | None = None  # the entry the "New messages" line is above

    def mark(self) -> None:
        """Something may have changed; the next ``refresh()`` looks."""
        self._dirty = True

    def show_draft(self, key: str, text: str) -> None:
        """Put conversation ``key``'s own draft in the input box (at once: the box is live)."""
        self.view.show_draft(key, text)

    def conversation_items(self) -> tuple[ConversationItem, ...]:
        """``lobby`` first, then newest first (``client.conversations.ordered``)."""
        model, summaries = self.model, self.model.index.summaries
        newest = [(key, max(conv.newest_msg_id, summaries[key].newest_msg_id)
                   if key in summaries else conv.newest_msg_id)
                  for key, conv in model.conversations.items()]
        items = []
        for key in ordered(newest):
            conv, summary = model.conversations[key], summaries.get(key)
            nickname = conv.nickname or model.roster.get(key.removeprefix("@"), "")
            items.append(ConversationItem(
                key, conversation_title(key, nickname), conv.unread,
                summary.preview if summary else "", bool(summary and summary.mentioned)))
        return tuple(items)

    def unseen_entry(self, conv: Conversation) -> str | None:
        """The first message the person has not seen since returning to ``conv`` (the "New
        messages" line goes above it), or None."""
        after = self.model.index.unseen_after.get(conv.key)
        if after is None:
            return None
        return next((e.entry_id for e in conv.ordered() if e.kind == "message" and not e.own
                     and e.msg_id is not None and e.msg_id > after), None)

    def people(self) -> tuple[Person, ...]:
        """Everyone online (or last known online, while offline), oneself first, then by
        nickname."""
        me = self.model.username
        stale = self.model.roster_stale
        people = [Person(u, n or u, u == me, stale) for u, n in self.model.roster.items()]
        people.sort(key=lambda p: (not p.me, p.nickname.casefold(), p.username))
        return tuple(people)

    def refresh(self) -> None:
        """Paint what changed since the last refresh."""
        if not self._dirty:
            return
        self._dirty = False
        conversations = (self.conversation_items(), self.model.active)
        if conversations != self._conversations:
            self._conversations = conversations
            self.view.set_conversations(*conversations)
        people = self.people()
        if people != self._people:
            self._people = people
            self.view.set_people(people)
        self._refresh_messages()

    def _refresh_messages(self) -> None:
        conv = self.model.conversation(self.model.active)
        entries = conv.ordered()
        ids = [entry.entry_id for entry in entries]
        now = self._now_ms()
        same_conv = self._shown_key == conv.key
        count = len(self._shown)
        if same_conv and ids[:count] == self._shown:
            if len(ids) > count:
                previous = entries[count - 1] if count else None
                self.view.append_messages(to_lines(entries[count:], previous, now, self._tz))
            for entry in entries[:count]:
                if self._versions.get(entry.entry_id) != entry.version:
                    self.view.update_message(entry_line(entry, self._tz))
        else:
            anchor = None
            if same_conv and self._shown and self._shown[0] in ids[1:]:
                anchor = self._shown[0]  # older history arrived above: keep this one in place
            self.view.render_messages(to_lines(entries, None, now, self._tz), anchor)
            self._marked = None  # a fresh transcript has no line
        unseen = self.unseen_entry(conv)
        if unseen is not None and unseen != self._marked:
            self.view.mark_unseen(unseen)
            self._marked = unseen
        self._shown_key, self._shown = conv.key, ids
        self._versions = {entry.entry_id: entry.version for entry in entries}
