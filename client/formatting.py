"""Pure text formatting for the message view and the status line: no Tk, no sockets.

Kept apart from the widgets so the rules a person sees (local time, date separators, what an
error means) are unit tested without a display, and so the view only paints what it is given.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Literal, Protocol

from common.messages import LoginResult
from common.protocol import MAX_TEXT, ErrorCode, LoginRefusal

LineKind = Literal["day", "message", "system"]
LineState = Literal["", "pending", "retrying", "held", "waiting", "sent"]

_KEEP_IN_BODY = frozenset("\n\t")
_INVISIBLE = frozenset(("Cc", "Cf", "Zl", "Zp"))
_BLANK_RUNS = re.compile(r"\n(?:[ \t]*\n){2,}")


def visible_char(char: str) -> str:
    """A control, format or line-separator character as ``⟨U+202E⟩``; others unchanged."""
    if unicodedata.category(char) in _INVISIBLE:
        return f"⟨U+{ord(char):04X}⟩"
    return char


def safe_text(text: str, keep: frozenset[str] = _KEEP_IN_BODY) -> str:
    """Text from another person, made unable to disguise itself on screen.

    Control characters (but newline and tab in a body), bidi overrides and isolates, zero-width
    and other format characters (category Cf) and line/paragraph separators are shown as
    ``⟨U+XXXX⟩``: they could otherwise reverse what a line appears to say, hide text, or move
    the cursor. Runs of blank lines shrink to one, so no gap can fake the end of a message.
    """
    if all(c in keep or unicodedata.category(c) not in _INVISIBLE for c in text):
        cleaned = text
    else:
        cleaned = "".join(c if c in keep else visible_char(c) for c in text)
    if "\n" in cleaned:
        cleaned = _BLANK_RUNS.sub("\n\n", cleaned.strip("\n"))
    return cleaned


_FENCE = re.compile(r"[ \t]*```[\w+#.-]*[ \t]*")


def code_spans(text: str) -> list[tuple[str, bool]]:
    """Split a body into ``(text, is_code)`` runs: lines between ```` ``` ```` fences are code.

    A fence is a line of three backticks, optionally followed by a language name (ignored);
    the fence lines themselves are not shown, and a line with more on it (```` ```x = 1``` ````)
    is ordinary text. An unclosed fence
    runs to the end of the message. Text keeps every character, so code keeps its indentation.
    """
    spans: list[tuple[str, bool]] = []
    in_code = False
    run: list[str] = []
    for line in text.split("\n"):
        if _FENCE.fullmatch(line):
            if run:
                spans.append(("\n".join(run), in_code))
            run, in_code = [], not in_code
            continue
        run.append(line)
    if run:
        spans.append(("\n".join(run), in_code))
    return spans


def safe_name(name: str) -> str:
    """A nickname or username for a header or a list: one line, nothing invisible."""
    return safe_text(name, keep=frozenset())


class EntryLike(Protocol):
    """What formatting needs from a model entry (``client.model.Entry`` satisfies it)."""

    @property
    def entry_id(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def state(self) -> str: ...

    sender: str
    sender_nickname: str
    text: str
    sent_ms: int
    own: bool


@dataclass(frozen=True)
class Line:
    """One paintable item of the message view.

    ``kind`` is ``day`` (a date separator), ``message`` or ``system`` (join/leave, notices);
    ``state`` is ``pending``, ``retrying`` or ``sent`` for own messages and empty otherwise.
    ``time`` is empty for an own message not yet acked: its time is the server's, known only
    from the ack, so no local guess is shown that would jump when the ack arrives.

    ``handle`` is ``@username`` when the sender's nickname differs from it (nicknames are not
    unique), empty otherwise. ``text`` has been through ``safe_text``.
    """

    entry_id: str
    kind: LineKind
    time: str = ""
    sender: str = ""
    text: str = ""
    own: bool = False
    state: LineState = ""
    handle: str = ""


def local_datetime(ms: int, tz: tzinfo | None = None) -> datetime:
    """Unix milliseconds as an aware datetime in ``tz`` (the machine's zone when None)."""
    return datetime.fromtimestamp(ms / 1000, tz).astimezone(tz)


def clock(ms: int, tz: tzinfo | None = None) -> str:
    """``HH:MM`` in local time: what a chat shows beside every message."""
    return local_datetime(ms, tz).strftime("%H:%M")


def day_of(ms: int, tz: tzinfo | None = None) -> date:
    """The local calendar day of a timestamp; separators appear where it changes."""
    return local_datetime(ms, tz).date()


def day_label(ms: int, now_ms: int, tz: tzinfo | None = None) -> str:
    """``Today``, ``Yesterday``, or a full date (year only when it is not this year)."""
    day, today = day_of(ms, tz), day_of(now_ms, tz)
    if day == today:
        return "Today"
    if day == today - timedelta(days=1):
        return "Yesterday"
    if day.year == today.year:
        return f"{day:%A} {day.day} {day:%B}"
    return f"{day:%A} {day.day} {day:%B} {day.year}"


def to_lines(
    entries: Iterable[EntryLike],
    previous: EntryLike | None,
    now_ms: int,
    tz: tzinfo | None = None,
) -> list[Line]:
    """Paintable lines for ``entries``, adding a date separator wherever the day changes.

    ``previous`` is the entry already shown just above (None at the top of the view), so an
    append continues the same day without repeating its separator.
    """
    lines: list[Line] = []
    last_day = day_of(previous.sent_ms, tz) if previous is not None else None
    for entry in entries:
        day = day_of(entry.sent_ms, tz)
        if day != last_day:
            lines.append(Line(f"day-{day.isoformat()}-{entry.entry_id}", "day",
                              text=day_label(entry.sent_ms, now_ms, tz)))
            last_day = day
        lines.append(entry_line(entry, tz))
    return lines


def entry_line(entry: EntryLike, tz: tzinfo | None = None) -> Line:
    """The line for one entry (used again when a pending message becomes sent)."""
    if entry.kind == "system":
        return Line(entry.entry_id, "system", clock(entry.sent_ms, tz), text=safe_text(entry.text))
    sender = safe_name(entry.sender_nickname or entry.sender)
    state = _own_state(entry)
    return Line(
        entry.entry_id,
        "message",
        "" if state in ("pending", "retrying", "held", "waiting") else clock(entry.sent_ms, tz),
        sender,
        safe_text(entry.text),
        entry.own,
        state,
        handle_of(entry.sender_nickname, entry.sender),
    )


def _own_state(entry: EntryLike) -> LineState:
    if not entry.own:
        return ""
    state = entry.state
    known = ("pending", "retrying", "held", "waiting", "sent")
    return state if state in known else ""  # type: ignore[return-value]


def handle_of(nickname: str, username: str) -> str:
    """``@username`` beside a nickname that is not the username itself, else nothing.

    Nicknames are chosen freely and may collide (or imitate someone); usernames are unique.
    """
    if not nickname or nickname == username:
        return ""
    return "@" + safe_name(username)


def person_label(nickname: str, username: str) -> str:
    """A roster row: ``nickname @username`` when they differ, else just the name."""
    handle = handle_of(nickname, username)
    name = safe_name(nickname or username)
    return f"{name} {handle}" if handle else name


def counter_text(length: int, limit: int = MAX_TEXT) -> tuple[str, bool]:
    """The input counter (``n/4000``) and whether the text is over the limit."""
    return f"{length}/{limit}", length > limit


def conversation_title(key: str, nickname: str = "") -> str:
    """``# lobby`` or ``# room`` for a room, ``@nickname`` (or ``@username``) for a direct
    conversation."""
    if not key.startswith("@"):
        return "# " + safe_name(key)
    return "@" + safe_name(nickname or key.removeprefix("@"))


def online_status(cipher: str, fingerprint: str) -> str:
    """The status line while connected: what protects the connection and whose key it is."""
    return f"connected · {cipher} · {fingerprint}"


def reconnect_status(seconds_left: float, reason: str = "") -> str:
    """``reconnecting in 3 s`` (with why, when known), counted down by the controller."""
    whole = max(0, round(seconds_left))
    head = "reconnecting…" if whole == 0 else f"reconnecting in {whole} s"
    return f"{head} · {reason}" if reason else head


LOGIN_FAILURES: dict[LoginRefusal, str] = {
    LoginRefusal.WRONG_CREDENTIALS: "Wrong username or password.",
    LoginRefusal.TOO_MANY_ATTEMPTS: "Too many failed attempts. Try again in a moment.",
    LoginRefusal.SERVICE_UNAVAILABLE: (
        "The server cannot reach its database right now. Try again in a moment."
    ),
    LoginRefusal.SESSION_EXPIRED: "Your session expired. Log in again.",
    LoginRefusal.TOO_MANY_CONNECTIONS: (
        "This account has as many windows open as it may. Close one, then log in again."
    ),
    LoginRefusal.KEY_LOGIN_REQUIRED: "This server takes no passwords; use a newer client.",
    LoginRefusal.ACCOUNT_DISABLED: "This account is disabled. Ask an administrator.",
}


def login_failure_text(result: LoginResult) -> str:
    """A refused ``1001`` in words for a person, chosen by its code word alone.

    The server's English is shown only for a code word this client does not know (or none, from
    an older server): wording may change on either side, the code word may not.
    """
    refusal = result.refusal
    if refusal is not None:
        return LOGIN_FAILURES[refusal]
    detail = result.detail.strip()
    return (detail[:1].upper() + detail[1:]).rstrip(".") + "." if detail else "Login failed."


ERROR_TEXTS: dict[str, str] = {
    ErrorCode.TOO_LONG: f"That message is longer than {MAX_TEXT} characters and was not sent.",
    ErrorCode.RATE_LIMITED: "You are sending too fast; the message will be retried in a moment.",
    ErrorCode.UNAVAILABLE: (
        "The server cannot store messages right now; they will be sent when it can."
    ),
    ErrorCode.NO_SUCH_USER: "There is no such user.",
    ErrorCode.NOT_LOGGED_IN: "The server says this window is not logged in; reconnecting.",
    ErrorCode.FORBIDDEN: "The server refused that request.",
}


def error_text(code_word: str, text: str) -> str:
    """A ``1009`` error as a system line: our wording for known codes, the server's otherwise."""
    return ERROR_TEXTS.get(code_word, text or f"The server reported an error ({code_word}).")
