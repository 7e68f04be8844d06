"""Joins and leaves folded into one line per run, as the lobby shows them.

A room where people come and go (and every window reconnects after a server restart) would
otherwise fill with a line per event; ``ChatModel.presence`` keeps one ``PresenceRun`` for the
events since the room last said anything else and rewrites its single line.
"""

from __future__ import annotations


class PresenceRun:
    """Joins and leaves since the room last said anything else, per account, in order."""

    def __init__(self) -> None:
        self._events: dict[str, tuple[str, list[str]]] = {}  # username -> (nickname, events)

    def add(self, event: str, username: str, nickname: str) -> None:
        _, events = self._events.get(username, ("", []))
        events.append(event)
        self._events[username] = (nickname or username, events)

    def text(self) -> str:
        """One line for the run; accounts with the same story share a clause."""
        clauses: dict[str, list[str]] = {}
        for name, events in self._events.values():
            story = _story(events)
            if story:
                clauses.setdefault(story, []).append(name)
        return " · ".join(f"{', '.join(names)} {story}" for story, names in clauses.items())


def _story(events: list[str]) -> str:
    """What a person's joins and leaves within one run add up to ("" for a reconnect)."""
    first, last = events[0], events[-1]
    if first == "join":
        return "joined" if last == "join" else "joined and left"
    return "" if last == "join" else "left"
