"""Who is online on the other processes of a cluster, as this process believes it.

Each logged-in connection of any process is a Redis key ``chat:conn:<user>:<node>:<n>`` (value:
the nickname, with a TTL the owner's heartbeat refreshes; ``server.hub_redis``). Joins and
leaves published on the bus change this picture at once (``event``); each heartbeat re-reads
every key (``reconcile``), so a process that died without a word has its accounts leave within
the TTL and a lost join or leave is corrected. What changes for an account as a whole is told
to this process's ``InProcessHub`` (``remote_change``), which tells its connections.
"""

from __future__ import annotations

import threading
from typing import Any, Literal

import redis

from server.hub import InProcessHub

CONN_PREFIX = "chat:conn:"


class RemotePresence:
    """The accounts online on other processes (username -> nickname, their keys)."""

    def __init__(self, node: str) -> None:
        self._node = node
        self._remote: dict[str, tuple[str, frozenset[str]]] = {}  # user -> nickname, conn keys
        self._lock = threading.Lock()
        self._hub: InProcessHub | None = None

    def bind(self, hub: InProcessHub) -> None:
        """The hub of this process's connections, told what changes elsewhere."""
        self._hub = hub

    def online(self) -> dict[str, str]:
        """Accounts online elsewhere: username -> nickname."""
        with self._lock:
            return {user: nickname for user, (nickname, _) in self._remote.items()}

    def event(self, event: Literal["join", "leave"], user: str, nick: str, key: str) -> None:
        """One connection of another process came or went (published on the bus)."""
        with self._lock:
            before = self._remote.get(user)
            keys = before[1] if before else frozenset()
            keys = keys | {key} if event == "join" else keys - {key}
            if keys:
                self._remote[user] = (before[0] if before else nick, keys)
            else:
                self._remote.pop(user, None)
        if event == "join" and before is None:
            self._tell("join", user, nick)
        elif event == "leave" and before is not None and not keys:
            self._tell("leave", user, before[0])

    def rename(self, user: str, nickname: str) -> None:
        """An account online elsewhere changed its nickname (published on the bus)."""
        with self._lock:
            entry = self._remote.get(user)
            if entry is not None:
                self._remote[user] = (nickname, entry[1])

    def reconcile(self, client: redis.Redis) -> None:
        """Re-read every presence key: who is online elsewhere is what Redis says now."""
        found: dict[str, tuple[str, frozenset[str]]] = {}
        names = [str(n) for n in client.scan_iter(match=f"{CONN_PREFIX}*", count=1_000)]
        values: list[Any] = list(client.mget(names)) if names else []
        for name, value in zip(names, values, strict=True):
            nickname = None if value is None else str(value)
            user, node = name[len(CONN_PREFIX) :].split(":")[:2]
            if node == self._node or nickname is None:
                continue
            nick, keys = found.get(user, (nickname, frozenset()))
            found[user] = (nick, keys | {name})
        with self._lock:
            before, self._remote = self._remote, found
        for user in found.keys() - before.keys():
            self._tell("join", user, found[user][0])
        for user in before.keys() - found.keys():
            self._tell("leave", user, before[user][0])

    def _tell(self, event: Literal["join", "leave"], user: str, nickname: str) -> None:
        if self._hub is not None:
            self._hub.remote_change(event, user, nickname)
