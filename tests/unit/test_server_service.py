"""ChatService's rules with in-memory fakes of the store, hasher, committer and hub.

No database and no sockets: each connection's outbox is a ``Sink`` that records every item put
on it, so a test sees exactly which lines went to which connection, in which order, and which
of them were written together (one item = one record). The committer is driven by hand:
``commit()`` stores what was submitted and hands the batch to ``ChatService.on_committed``,
as ``server.commit.GroupCommitter`` does on its thread.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import replace

import pytest

from common.errors import RemoteProtocolError
from common.messages import (
    SERVER_MESSAGES,
    Ack,
    ChatDelivery,
    ChatRequest,
    ClientMessage,
    DirectDelivery,
    DirectRequest,
    ErrorReply,
    HistoryEnd,
    HistoryRequest,
    LoginRequest,
    LoginResult,
    LogoutRequest,
    Message,
    PingRequest,
    Pong,
    decode_message,
)
from server.commit import Committed
from server.connection_state import ConnectionState
from server.hub import Audience, LineSink, Publication
from server.options import ServerOptions
from server.service import ChatService, PendingSend
from server.store import NewMessage, StoredMessage
from tests.unit.fakes_accounts import FakeAccountStore, FakeHasher

PASSWORD = "secret-1"
OPTIONS = ServerOptions(commit_timeout=5.0, msg_rate=1_000.0, msg_burst=1_000,
                        kdf_memory_kib=64, kdf_time_cost=1, kdf_parallelism=1)


class Sink:
    """A connection's outbox: every item put on it, as decoded messages."""

    def __init__(self) -> None:
        self.items: list[list[Message]] = []
        self.closed = False  # by a sign-out

    def put(self, line: bytes) -> None:
        self.items.append([decode_message(line, SERVER_MESSAGES)])

    def put_lines(self, lines: tuple[bytes, ...]) -> None:
        self.items.append([decode_message(line, SERVER_MESSAGES) for line in lines])

    def close_after(self, line: bytes) -> None:
        self.put(line)
        self.closed = True

    def messages(self) -> list[Message]:
        return [m for item in self.items for m in item]

    def take(self) -> list[Message]:
        """Everything put so far, then forget it."""
        seen = self.messages()
        self.items.clear()
        return seen


class FakeStore(FakeAccountStore):
    """The accounts fake plus messages in a list; a resend (same sender and client id) finds
    the first."""

    def __init__(self, *usernames: str) -> None:
        super().__init__()
        for name in usernames:
            self.add(name, PASSWORD, name.title())
        self.messages: list[StoredMessage] = []

    def user_exists(self, username: str) -> bool:
        return username in self.users

    def insert_messages(self, batch: Sequence[NewMessage]) -> list[tuple[StoredMessage, bool]]:
        results = []
        for m in batch:
            earlier = [
                s for s in self.messages
                if (s.sender, s.client_msg_id) == (m.sender, m.client_msg_id)
            ]
            if earlier:
                results.append((earlier[0], False))
                continue
            stored = StoredMessage(
                len(self.messages) + 1, m.conversation, m.sender, m.sender.title(),
                m.recipient, m.client_msg_id, m.text, m.created_ms,
            )
            self.messages.append(stored)
            results.append((stored, True))
        return results

    def history(
        self, conversation: str, before_id: int | None, limit: int
    ) -> tuple[list[StoredMessage], bool]:
        rows = [
            s for s in self.messages
            if s.conversation == conversation and (before_id is None or s.msg_id < before_id)
        ]
        return rows[-limit:], len(rows) > limit


class ManualCommitter:
    """Holds what is submitted until ``commit()``; ``fail=True`` stores nothing."""

    def __init__(self, store: FakeStore) -> None:
        self.store = store
        self.queued: list[tuple[NewMessage, PendingSend]] = []
        self.service: ChatService | None = None

    def submit(self, message: NewMessage, origin: PendingSend) -> bool:
        self.queued.append((message, origin))
        return True

    def commit(self, *, fail: bool = False) -> None:
        batch, self.queued = self.queued, []
        assert self.service is not None
        if fail:
            outcome = [Committed(origin, None) for _, origin in batch]
        else:
            results = self.store.insert_messages([m for m, _ in batch])
            outcome = [
                Committed(origin, stored, is_new)
                for (_, origin), (stored, is_new) in zip(batch, results, strict=True)
            ]
        self.service.on_committed(outcome)


class FakeHub:
    """The roster as a dict of account -> connections; no presence lines."""

    def __init__(self) -> None:
        self.accounts: dict[str, list[LineSink]] = {}
        self.published: list[Publication] = []

    def attach(self, username: str, nickname: str, outbox: LineSink) -> None:
        self.accounts.setdefault(username, []).append(outbox)

    def detach(self, username: str, outbox: LineSink) -> None:
        self.accounts.get(username, []).remove(outbox)

    def everyone(self) -> tuple[LineSink, ...]:
        return tuple(sink for sinks in self.accounts.values() for sink in sinks)

    def connections_of(
        self, usernames: Iterable[str], exclude: LineSink | None = None
    ) -> list[LineSink]:
        return [
            sink for name in set(usernames) for sink in self.accounts.get(name, [])
            if sink is not exclude
        ]

    def local(self, audience: Audience, exclude: LineSink | None = None) -> list[LineSink]:
        if audience is None:
            return [sink for sink in self.everyone() if sink is not exclude]
        return self.connections_of(audience, exclude)

    def publish(self, items: Sequence[Publication]) -> None:
        self.published.extend(items)

    def bind_rooms(self, rooms: object) -> None:
        pass

    def relay(self, audience: frozenset[str], lines: tuple[bytes, ...]) -> None:
        pass

    def room_changed(self, room_id: int, name: str) -> None:
        pass

    def rename(self, username: str, nickname: str, line: bytes) -> None:
        for sink in self.everyone():
            sink.put(line)

    def announce(self, line: bytes) -> None:
        for sink in self.everyone():
            sink.put(line)

    def sign_out(
        self, username: str, line: bytes, keep: LineSink | None = None, *, everywhere: bool = True
    ) -> None:
        for sink in self.connections_of((username,), exclude=keep):
            sink.close_after(line)

    def close(self) -> None:
        pass


class World:
    """A service over the fakes, and helpers to open connections and log them in."""

    def __init__(self, options: ServerOptions = OPTIONS) -> None:
        self.store = FakeStore("alice", "bob", "carol")
        self.committer = ManualCommitter(self.store)
        self.hub = FakeHub()
        self.service = ChatService(
            self.store, FakeHasher(), self.hub, self.committer, options, wall_clock=lambda: 1.0
        )
        self.committer.service = self.service
        self.sinks: dict[int, Sink] = {}

    def connect(self) -> ConnectionState:
        sink = Sink()
        conn = ConnectionState("10.0.0.1", f"10.0.0.1:{len(self.sinks) + 1}", sink)
        self.sinks[id(conn)] = sink
        return conn

    def sink(self, conn: ConnectionState) -> Sink:
        return self.sinks[id(conn)]

    def login(self, username: str) -> ConnectionState:
        conn = self.connect()
        assert self.service.on_message(conn, LoginRequest(username, PASSWORD))
        (result,) = self.sink(conn).take()
        assert isinstance(result, LoginResult) and result.ok
        return conn

    def send(self, conn: ConnectionState, message: ClientMessage) -> bool:
        return self.service.on_message(conn, message)


def chat(client_id: str, text: str = "") -> ChatRequest:
    return ChatRequest("lobby", client_id, text or f"text of {client_id}")


def test_a_group_commit_reaches_each_connection_as_one_item_in_send_order() -> None:
    w = World()
    alice, bob = w.login("alice"), w.login("bob")
    for n in (1, 2, 3):
        w.send(alice, chat(f"a{n}"))
    w.send(bob, chat("b1"))
    assert w.sink(alice).items == [] and w.sink(bob).items == []  # nothing before the commit
    w.committer.commit()
    (alice_item,) = w.sink(alice).items  # ONE item: one record for the whole commit
    (bob_item,) = w.sink(bob).items
    kinds = [(type(m).__name__, getattr(m, "client_msg_id", getattr(m, "text", "")))
             for m in alice_item]
    assert kinds == [
        ("Ack", "a1"), ("ChatDelivery", "text of a1"),
        ("Ack", "a2"), ("ChatDelivery", "text of a2"),
        ("Ack", "a3"), ("ChatDelivery", "text of a3"),
        ("ChatDelivery", "text of b1"),
    ]
    assert [type(m).__name__ for m in bob_item] == [
        "ChatDelivery", "ChatDelivery", "ChatDelivery", "Ack", "ChatDelivery"
    ]
    acks = [m for m in alice_item if isinstance(m, Ack)]
    relays = [m for m in bob_item if isinstance(m, ChatDelivery)]
    assert [a.msg_id for a in acks] == [r.msg_id for r in relays[:3]]  # the acked ids
    assert all(r.sender == "alice" for r in relays[:3]) and relays[3].sender == "bob"


def test_a_resend_gets_the_first_ack_and_is_not_relayed_again() -> None:
    w = World()
    alice, bob = w.login("alice"), w.login("bob")
    w.send(alice, chat("c1", "first"))
    w.committer.commit()
    (first_ack, _) = w.sink(alice).take()
    assert [m.text for m in w.sink(bob).take() if isinstance(m, ChatDelivery)] == ["first"]
    w.send(alice, chat("c1", "sent again after a reconnect"))
    w.committer.commit()
    assert w.sink(alice).take() == [first_ack]  # the same msg_id, and no relay
    assert w.sink(bob).take() == []
    assert len(w.store.messages) == 1


@pytest.mark.parametrize(
    "request_",
    [PingRequest("n1"), HistoryRequest("lobby", None, 10), LogoutRequest()],
    ids=["ping", "history", "logout"],
)
def test_requests_other_than_sends_wait_for_the_acks_of_earlier_sends(
    request_: ClientMessage,
) -> None:
    w = World()
    alice = w.login("alice")
    w.send(alice, chat("c1"))
    answered: list[bool] = []
    reader = threading.Thread(target=lambda: answered.append(w.send(alice, request_)))
    reader.start()
    reader.join(0.2)  # it is blocked until the commit below (if it were not, it answers now)
    w.committer.commit()
    reader.join(5.0)
    seen = w.sink(alice).messages()
    assert isinstance(seen[0], Ack) and seen[0].client_msg_id == "c1"  # the ack came first
    if isinstance(request_, PingRequest):
        assert seen[-1] == Pong("n1") and answered == [True]
    elif isinstance(request_, HistoryRequest):
        assert isinstance(seen[-1], HistoryEnd) and answered == [True]
        assert [m.text for m in seen if isinstance(m, ChatDelivery)] == ["text of c1"] * 2
    else:
        assert answered == [False]  # logout closes the connection, after the ack


def test_sends_do_not_wait_for_each_other() -> None:
    w = World()
    alice = w.login("alice")
    for n in range(5):
        assert w.send(alice, chat(f"c{n}"))  # returns at once: nothing was committed yet
    assert len(w.committer.queued) == 5


def test_a_slow_commit_is_answered_unavailable_and_its_ack_still_comes_late() -> None:
    w = World(replace(OPTIONS, commit_timeout=0.01))
    alice = w.login("alice")
    w.send(alice, chat("c1"))
    assert w.send(alice, PingRequest("p"))  # the commit does not come in time
    assert [type(m) for m in w.sink(alice).take()] == [ErrorReply, Pong]
    w.committer.commit()  # the commit lands after all: the message is acked and relayed
    ack, relay = w.sink(alice).take()
    assert isinstance(ack, Ack) and ack.client_msg_id == "c1" and isinstance(relay, ChatDelivery)


def test_a_failed_commit_answers_unavailable_and_relays_nothing() -> None:
    w = World()
    alice, bob = w.login("alice"), w.login("bob")
    w.send(alice, chat("c1"))
    w.committer.commit(fail=True)
    (error,) = w.sink(alice).take()
    assert isinstance(error, ErrorReply) and error.code_word == "unavailable"
    assert w.sink(bob).take() == []


def test_the_fifth_bad_message_closes_the_connection() -> None:
    w = World()
    alice = w.login("alice")
    bad = RemoteProtocolError("2 fields, got 3", fatal=False)
    assert [w.service.on_bad_message(alice, bad) for _ in range(5)] == [True] * 4 + [False]
    errors = w.sink(alice).take()
    assert len(errors) == 5 and all(isinstance(e, ErrorReply) for e in errors)


def test_messages_before_login_count_as_bad() -> None:
    w = World()
    conn = w.connect()
    results = [w.send(conn, chat(f"c{n}")) for n in range(5)]
    assert results == [True] * 4 + [False]
    replies = w.sink(conn).take()
    assert {r.code_word for r in replies if isinstance(r, ErrorReply)} == {"not_logged_in"}
    assert w.committer.queued == []


def test_a_direct_message_to_an_unknown_user_is_refused_before_the_commit() -> None:
    w = World()
    alice = w.login("alice")
    assert w.send(alice, DirectRequest("nobody", "d1", "hello?"))
    (error,) = w.sink(alice).take()
    assert isinstance(error, ErrorReply) and error.code_word == "no_such_user"
    assert w.committer.queued == []


def test_a_direct_message_reaches_the_recipient_and_the_senders_other_windows() -> None:
    w = World()
    sending, other_window = w.login("alice"), w.login("alice")
    bob, carol = w.login("bob"), w.login("carol")
    w.send(sending, DirectRequest("bob", "d1", "just for bob"))
    w.committer.commit()
    (ack,) = w.sink(sending).take()  # the sending connection gets only the ack
    assert isinstance(ack, Ack) and ack.client_msg_id == "d1"
    for conn in (other_window, bob):
        (delivery,) = w.sink(conn).take()
        assert isinstance(delivery, DirectDelivery)
        assert (delivery.sender, delivery.recipient, delivery.text) == (
            "alice", "bob", "just for bob"
        )
    assert w.sink(carol).take() == []
