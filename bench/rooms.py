"""Rooms at scale, each beside the lobby in the same run: a message to a room of 1,000 members
against the same message to the lobby, and the conversation list of an account in 200 rooms
against that of an account in the lobby alone (plus MariaDB's plan of that one query).

The room and the 200 rooms are made through the server's own ``Store`` before the clients
connect (joining through the wire would cost a million member-change lines first); the load
clients then join the room (a no-op for a member, which opts their connection in) and talk there.
"""

from __future__ import annotations

import math
import socket
import time
from typing import Any

from Crypto.PublicKey import RSA

from bench.scale import SETUP_LIMIT
from bench.scenarios import Bench, _load_dict, measured
from bench.stats import Summary, fmt_ratio, ratio
from common.connection import NEED_DATA, Connection, HandshakeComplete
from common.messages import LoginRequest, LoginResult
from common.messages_rooms import ConversationsRequest, ListEnd

BIG_ROOM = "bench-big"
MANY_ROOMS = 200
LIST_ROUNDS = 50
QUICK_CLIENTS = 50  # ``make bench-quick``: the same comparison, twenty times smaller
QUICK_ROUNDS = 20
ORDER = ("lobby", BIG_ROOM)  # the same clients, one run after the other


def _store(bench: Bench) -> Any:
    from server.store import Store

    assert bench.chat is not None and bench.chat.db is not None
    return Store(bench.chat.db)


def _prepare_big_room(bench: Bench, members: tuple[str, ...]) -> None:
    store = _store(bench)
    try:
        record = store.load_room(BIG_ROOM)
        now = int(time.time() * 1000)
        room_id = record.room_id if record else store.create_room(
            BIG_ROOM, "a thousand members", False, members[0], now)
        have = set(record.members) if record else {members[0]}
        for name in members:
            if name not in have:
                store.add_member(room_id, name, False, now)
    finally:
        store.close()


def scenario_big_room(bench: Bench, clients: int = 1000) -> None:
    """One sender, ``clients`` receivers: reach-all of a room message against the lobby's."""
    clients = min(clients, QUICK_CLIENTS) if bench.quick else clients
    chat = bench.chat
    if chat is None or chat.db is None or len(chat.users) < clients:
        bench.say("big room skipped: needs the chat server and enough bench users")
        return
    users = chat.users[:clients]
    _prepare_big_room(bench, users)
    out: dict[str, Any] = {"clients": clients}
    for room in ORDER:
        spec = bench.spec("ours", clients=clients, senders=1, rate=4.0,
                          duration=3.0 if bench.quick else 5.0, procs=2,
                          setup_timeout=SETUP_LIMIT, connect_concurrency=16,
                          drain=4.0 if bench.quick else 8.0,
                          room=room, users=users)
        r = measured(bench, spec)
        out[room] = _load_dict(r)
        bench.say(f"{room} ({clients} members): one message to all {r.ready - 1} others: "
                  f"{r.reach_all.line()}; delivery {r.latency.line()}; sent {r.sent}, "
                  f"lost {r.lost}, dup {r.duplicates}")
    lobby, room = out["lobby"], out[BIG_ROOM]
    out["ratio_reach_p99"] = ratio(room["reach_all"]["p99"], lobby["reach_all"]["p99"])
    out["ratio_latency_p50"] = ratio(room["latency"]["p50"], lobby["latency"]["p50"])
    bench.say(f"ratio room/lobby reach-all p99: {fmt_ratio(out['ratio_reach_p99'])}, "
              f"delivery p50: {fmt_ratio(out['ratio_latency_p50'])}")
    bench.results["big_room"] = out


def _prepare_many_rooms(bench: Bench, account: str, owner: str) -> None:
    from server.store import NewMessage
    from server.store_rooms import room_key

    store = _store(bench)
    try:
        now = int(time.time() * 1000)
        fresh = []
        for i in range(MANY_ROOMS):
            name = f"bench-many-{i:03d}"
            record = store.load_room(name)
            if record is None:
                room_id = store.create_room(name, "", False, owner, now)
                store.add_member(room_id, account, False, now)
                fresh.append(NewMessage(room_key(room_id), owner, None, f"many-{i}",
                                        f"hello {i}", now + i))
        store.insert_messages(fresh)
    finally:
        store.close()


def _query_alone(bench: Bench, account: str, rounds: int) -> Summary:
    """The conversation-list query by itself (``Store.conversations``), no server, no wire:
    what the database costs of the round trip above."""
    store = _store(bench)
    try:
        samples = []
        for _ in range(rounds):
            t0 = time.perf_counter_ns()
            store.conversations(account)
            samples.append(time.perf_counter_ns() - t0)
        return Summary.of_ns(samples)
    finally:
        store.close()


def _explain(bench: Bench, account: str) -> list[tuple[Any, ...]]:
    store = _store(bench)
    try:
        return list(store.explain_conversations(account))
    finally:
        store.close()


class _ListClient:
    """A blocking client that logs in and times ``0021`` until its ``1019``."""

    def __init__(self, port: int, key: RSA.RsaKey, user: str, password: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.conn = Connection.client(key)
        self.sock.sendall(self.conn.initiate())
        self._until(lambda e: isinstance(e, HandshakeComplete))
        self.sock.sendall(self.conn.send(LoginRequest(user, password)))
        result = self._until(lambda e: isinstance(e, LoginResult))
        if not result.ok:
            raise RuntimeError(f"bench login refused: {result.detail}")

    def _until(self, done: Any) -> Any:
        while True:
            event = self.conn.next_event()
            if event is NEED_DATA:
                self.conn.receive_data(self.sock.recv(65_536))
                continue
            if done(event):
                return event

    def conversation_list(self) -> tuple[int, int]:
        """(ns, entries) of one list."""
        t0 = time.perf_counter_ns()
        self.sock.sendall(self.conn.send(ConversationsRequest()))
        entries = 0

        def end(event: Any) -> bool:
            nonlocal entries
            entries += 1
            return isinstance(event, ListEnd)

        self._until(end)
        return time.perf_counter_ns() - t0, entries - 1

    def close(self) -> None:
        self.sock.close()


def scenario_many_rooms(bench: Bench) -> None:
    """The conversation list of an account in 200 rooms against one in the lobby alone."""
    chat = bench.chat
    if chat is None or chat.db is None or len(chat.users) < 3:
        bench.say("many rooms skipped: needs the chat server and bench users")
        return
    owner, busy, quiet = chat.users[-1], chat.users[-2], chat.users[-3]
    _prepare_many_rooms(bench, busy, owner)
    key = RSA.import_key(chat.public_pem)
    out: dict[str, Any] = {"rooms": MANY_ROOMS}
    rounds = QUICK_ROUNDS if bench.quick else LIST_ROUNDS
    for label, user in (("lobby_only", quiet), ("in_200_rooms", busy)):
        client = _ListClient(chat.port, key, user, chat.password)
        try:
            samples = [client.conversation_list() for _ in range(rounds)]
        finally:
            client.close()
        summary = Summary.of_ns([ns for ns, _ in samples])
        out[label] = {"entries": samples[-1][1], "ms": summary.as_dict()}
        bench.say(f"conversation list, account {label.replace('_', ' ')} "
                  f"({samples[-1][1]} entries): {summary.line()}")
    query = _query_alone(bench, busy, rounds)
    out["query_ms"] = query.as_dict()
    bench.say(f"the conversation-list query alone, account in {MANY_ROOMS} rooms: {query.line()}")
    out["ratio_p50"] = ratio(out["in_200_rooms"]["ms"]["p50"], out["lobby_only"]["ms"]["p50"])
    bench.say(f"ratio 200 rooms/lobby only conversation list p50: {fmt_ratio(out['ratio_p50'])}")
    plan = _explain(bench, busy)
    out["explain"] = [[str(v) for v in row] for row in plan]
    for row in plan:
        bench.say("EXPLAIN " + " | ".join("" if v is None else str(v) for v in row))
    if not math.isfinite(out["ratio_p50"]):
        bench.say("many rooms: no ratio (a run was empty)")
    bench.results["many_rooms"] = out
