"""When a message deserves the person's attention, and how many are waiting: pure rules.

A message notifies when it is live (not a history page, not a resend we already show), from
someone else, in a conversation that is not muted, while the window does not have the focus,
and either is a direct message to us or mentions our username or nickname in the room.
Muted conversations never notify and do not count toward the total in the window title (their
own badge in the conversation list still counts): muting says "this is not news to me".

The delivery (a desktop notification or an in-window toast, the title, the bell) is
``client.ui.notifier``; this module has no Tk and is unit tested directly.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Protocol

from client.formatting import person_label
from client.model import ChatModel
from common.messages import ChatDelivery, DirectDelivery

PREVIEW_CHARS = 120
"""A notification shows the start of the message: enough to decide, never a wall of text."""


@dataclass(frozen=True)
class Notice:
    """One notification: which conversation a click opens, a heading and the message start."""

    conversation: str
    title: str
    body: str


class Alerts(Protocol):
    """What the controller asks of the window about attention (``ui.notifier.WindowAlerts``)."""

    def focused(self) -> bool: ...
    def muted(self, conversation: str) -> bool: ...
    def notify(self, notice: Notice) -> None: ...


def conversation_key(model: ChatModel, message: ChatDelivery | DirectDelivery) -> str:
    """The conversation a delivery belongs to (as ``ChatModel.receive`` files it)."""
    if isinstance(message, ChatDelivery):
        return message.room
    peer = message.recipient if message.sender == model.username else message.sender
    return model.direct_key(peer)


def is_live(model: ChatModel, message: ChatDelivery | DirectDelivery) -> bool:
    """New to this window: newer than anything shown there, and not part of a history page.

    Asked before the model takes the message (afterwards it is no longer newer)."""
    conv = model.conversations.get(conversation_key(model, message))
    if conv is None:
        return True
    return (message.msg_id not in conv.by_msg_id and message.msg_id > conv.newest_msg_id
            and not conv.history_inflight)


def mentions(text: str, names: Iterable[str]) -> bool:
    """``text`` names one of ``names`` as a whole word (case-insensitive, ``@`` optional):
    "hi user1" and "@User1:" mention user1; "user10" and "superuser1" do not."""
    for name in names:
        if name and re.search(rf"(?<![\w]){re.escape(name)}(?![\w])", text, re.IGNORECASE):
            return True
    return False


def notice_for(
    model: ChatModel, message: ChatDelivery | DirectDelivery, *, focused: bool, muted: bool,
) -> Notice | None:
    """The notification a live message deserves, or None (see the module docstring)."""
    if focused or muted or message.sender == model.username:
        return None
    sender = person_label(message.sender_nickname, message.sender)
    body = message.text if len(message.text) <= PREVIEW_CHARS else (
        message.text[:PREVIEW_CHARS - 1] + "…")
    if isinstance(message, DirectDelivery):
        return Notice(model.direct_key(message.sender), sender, body)
    if mentions(message.text, (model.username, model.nickname)):
        return Notice(message.room, f"{sender} in {message.room}", body)
    return None


def unread_total(unread: Iterable[tuple[str, int]], muted: Collection[str]) -> int:
    """The number in the window title: unread messages of every conversation not muted."""
    return sum(count for key, count in unread if key not in muted)


def window_title(base: str, total: int) -> str:
    """``(3) Chat — user1``: the count first, so it shows even in a narrow task bar."""
    return f"({total}) {base}" if total else base
