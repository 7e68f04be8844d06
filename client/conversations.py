"""The conversation list's own rules, as plain data: which conversations exist, in what order,
what each row previews, where one left off, and when to tell the server a conversation is read.

The server's list (``1017`` … ``1019|conversations|``, PROTOCOL.md §6) is the authority on
which rooms the account is in and on read positions; live messages and the account's other
windows (``1010``-``1012``, ``1018``) keep it current between listings. No Tk, no sockets and no
other client module: ``client.model`` holds one ``ConversationIndex`` and the rules are unit
tested directly.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from common.protocol import LOBBY

PREVIEW_CHARS = 60
"""A row's preview is the start of the newest message: enough to recognise it in a narrow
column, never a wall of text."""

_ROOM_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")
_USERNAME = re.compile(r"[A-Za-z0-9_.-]{1,32}")


def is_room(key: str) -> bool:
    """A room other than ``lobby`` (a slug, PROTOCOL.md §6); never ``@...``."""
    return key != LOBBY and _ROOM_NAME.fullmatch(key) is not None


def is_conversation_key(key: str) -> bool:
    """``lobby``, a room name or ``@username``: what may be kept in the stash file and sent."""
    if key.startswith("@"):
        return _USERNAME.fullmatch(key[1:]) is not None
    return key == LOBBY or is_room(key)


def preview_text(sender: str, text: str) -> str:
    """``sender: first line of the text…``, cut to ``PREVIEW_CHARS``."""
    first = " ".join(text.split())
    line = f"{sender}: {first}" if sender else first
    return line if len(line) <= PREVIEW_CHARS else line[:PREVIEW_CHARS - 1] + "…"


def ordered(newest: Iterable[tuple[str, int]]) -> list[str]:
    """Conversation keys for the list: ``lobby`` first (everyone's room, always there), then
    the newest message first; conversations without one last, by name."""
    items = list(newest)
    with_messages = sorted((item for item in items if item[1] and item[0] != LOBBY),
                           key=lambda item: (-item[1], item[0]))
    without = sorted(key for key, msg_id in items if not msg_id and key != LOBBY)
    return [LOBBY] + [key for key, _ in with_messages] + without


@dataclass
class Summary:
    """What a row shows beyond the unread count (which stays in ``model.Conversation``)."""

    key: str
    last_read: int = 0  # the server's read position (``1017``/``1018``)
    newest_msg_id: int = 0
    preview: str = ""
    mentioned: bool = False  # an unread message names the person
    topic: str = ""


class ConversationIndex:
    """Summaries by conversation, the ``0021`` listing in progress, and the read marks."""

    def __init__(self) -> None:
        self.summaries: dict[str, Summary] = {}
        self.seen: dict[str, int] = {}  # newest msg_id the person has looked at, here
        self.unseen_after: dict[str, int] = {}  # the "New messages" line's threshold
        self._sent_read: dict[str, int] = {}  # highest ``0020`` sent per conversation
        self._listing: list[str] | None = None
        self.lists_done = 0  # complete ``0021`` answers so far (one per login or resume)

    def summary(self, key: str) -> Summary:
        found = self.summaries.get(key)
        if found is None:
            found = self.summaries[key] = Summary(key)
        return found

    # --- the server's list ------------------------------------------------------------------

    def listed(self, key: str, last_read: int, newest: int | None, preview: str,
               mentioned: bool) -> None:
        """One ``1017``: replaces what was known of ``key`` (a fresher view than ours)."""
        if self._listing is None:
            self._listing = []
        self._listing.append(key)
        summary = self.summary(key)
        summary.last_read = max(summary.last_read, last_read)
        if newest is not None and newest >= summary.newest_msg_id:
            summary.newest_msg_id, summary.preview = newest, preview
        summary.mentioned = mentioned
        if key in self.unseen_after:  # returned before the list came: its read position counts
            self.unseen_after[key] = max(self.unseen_after[key], last_read)

    def listing_done(self) -> list[str]:
        """``1019|conversations|``: the rooms known here but no longer listed (left while away)."""
        listed = set(self._listing or ())
        self._listing = None
        self.lists_done += 1
        gone = [key for key in self.summaries if is_room(key) and key not in listed]
        for key in gone:
            self.drop(key)
        return gone

    def drop(self, key: str) -> None:
        self.summaries.pop(key, None)
        for table in (self.seen, self.unseen_after, self._sent_read):
            table.pop(key, None)

    def rename(self, old: str, new: str) -> None:
        """A room's new name: its summary, read marks and "seen" move with it."""
        summary = self.summaries.pop(old, None)
        if summary is not None:
            summary.key = new
            self.summaries[new] = summary
        for table in (self.seen, self.unseen_after, self._sent_read):
            if old in table:
                table[new] = table.pop(old)

    # --- live traffic -----------------------------------------------------------------------

    def message(self, key: str, msg_id: int, preview: str, mentioned: bool) -> None:
        """A message arrived (live or history): the newest one sets the preview."""
        summary = self.summary(key)
        if msg_id >= summary.newest_msg_id:
            summary.newest_msg_id, summary.preview = msg_id, preview
        summary.mentioned = summary.mentioned or mentioned

    def read_position(self, key: str, last_read: int, unread: int) -> None:
        """``1018`` (any window of the account): everything up to ``last_read`` is read."""
        summary = self.summary(key)
        summary.last_read = max(summary.last_read, last_read)
        if unread == 0:
            summary.mentioned = False

    def read_here(self, key: str) -> None:
        """The person read the conversation in this window: no mention left to point at."""
        self.summary(key).mentioned = False

    # --- marking read -----------------------------------------------------------------------

    def to_mark(self, key: str, newest: int) -> int | None:
        """The msg_id to send in ``0020`` for ``key`` read up to ``newest``, or None when the
        server already has it (its read position) or it was already sent from here."""
        known = max(self.summary(key).last_read, self._sent_read.get(key, 0))
        return newest if newest > known else None

    def mark_sent(self, key: str, msg_id: int) -> None:
        self._sent_read[key] = max(self._sent_read.get(key, 0), msg_id)

    def forget_sent(self) -> None:
        """A new session: marks sent on the old one may have been lost with it."""
        self._sent_read.clear()

    # --- where one left off -----------------------------------------------------------------

    def saw(self, key: str, newest: int) -> None:
        """The person looked at ``key`` with its newest message ``newest`` in view."""
        self.seen[key] = max(self.seen.get(key, 0), newest)

    def returned(self, key: str) -> None:
        """The person came back to ``key`` (switched to it, or the window got the focus):
        messages after what they last saw (here or, by the read position, in another window)
        are "new"."""
        self.unseen_after[key] = max(self.seen.get(key, 0), self.summary(key).last_read)

    def left(self, key: str) -> None:
        """Switched away: the line is drawn again only after the next return."""
        self.unseen_after.pop(key, None)
