"""Batched presence in the in-process hub: one item per outbox per flush, and views stay exact.

Fake outboxes record every item they are given (a single line or a batch), so the tests see
what a connection's writer would wake up for. A client's view of who is online is rebuilt from
those lines the way a client must read them: the ``1006`` roster, then ``join``/``leave`` in
order. ``view`` fails on a ``join`` of someone already shown or a ``leave`` of someone absent.
"""

from __future__ import annotations

import random
import threading
import time

from common.messages import (
    SERVER_MESSAGES,
    ChatDelivery,
    PresenceEvent,
    RosterUpdate,
    decode_message,
    encode_message,
)
from server.hub import InProcessHub

NEVER = 3_600.0  # a flush interval no test waits for: only close() or chat flushes


class Box:
    """An outbox that keeps each item as it came: ``bytes`` or a tuple of lines."""

    def __init__(self) -> None:
        self.items: list[bytes | tuple[bytes, ...]] = []
        self._lock = threading.Lock()

    def put(self, line: bytes) -> None:
        with self._lock:
            self.items.append(line)

    def put_lines(self, lines: tuple[bytes, ...]) -> None:
        assert isinstance(lines, tuple) and lines
        with self._lock:
            self.items.append(lines)

    def lines(self) -> list[bytes]:
        with self._lock:
            items = list(self.items)
        out: list[bytes] = []
        for item in items:
            out.extend(item if isinstance(item, tuple) else (item,))
        return out

    def messages(self) -> list[object]:
        return [decode_message(line, SERVER_MESSAGES) for line in self.lines()]

    def presence(self) -> list[tuple[str, str]]:
        return [(m.event, m.username) for m in self.messages() if isinstance(m, PresenceEvent)]


def view(box: Box) -> dict[str, str]:
    """Who the connection believes is online; asserts the lines make sense in their order."""
    messages = box.messages()
    assert isinstance(messages[0], RosterUpdate), "the roster comes first"
    online = dict(messages[0].users)
    for message in messages[1:]:
        assert not isinstance(message, RosterUpdate), "one roster per connection"
        if isinstance(message, PresenceEvent):
            if message.event == "join":
                assert message.username not in online, f"join of {message.username} twice"
                online[message.username] = message.nickname
            else:
                assert message.username in online, f"leave of {message.username} before join"
                del online[message.username]
    return online


def chat_line(text: str) -> bytes:
    return encode_message(ChatDelivery(1, "lobby", "x", "X", 1, text)).encode()


def broadcast(hub: InProcessHub, line: bytes) -> None:
    """A room message's fan-out, as the service does it."""
    for sink in hub.everyone():
        sink.put(line)


def watched_hub() -> tuple[InProcessHub, Box]:
    """A hub that flushes only when told (or on chat), and a watcher whose join is out."""
    hub, watcher = InProcessHub(presence_interval=NEVER), Box()
    hub.attach("w", "W", watcher)
    hub.flush()
    return hub, watcher


def test_a_login_storm_is_one_item_per_outbox_per_flush() -> None:
    hub = InProcessHub(presence_interval=NEVER)
    watchers = [Box() for _ in range(3)]
    for n, box in enumerate(watchers):
        hub.attach(f"w{n}", "W", box)
    hub.flush()  # the watchers' joins of each other
    before = [len(box.items) for box in watchers]
    for n in range(50):
        hub.attach(f"u{n:02d}", f"nick{n}", Box())
    assert [len(box.items) for box in watchers] == before  # nothing yet: pending
    hub.close()
    for box, count in zip(watchers, before, strict=True):
        assert len(box.items) == count + 1  # ONE item for the 50 joins
        assert box.items[-1] == tuple(box.lines()[-50:])
        assert box.presence()[-50:] == [("join", f"u{n:02d}") for n in range(50)]
        assert len(view(box)) == 53


def test_the_flusher_thread_batches_and_stops_with_close() -> None:
    before = set(threading.enumerate())
    hub = InProcessHub(presence_interval=0.05)
    watcher = Box()
    hub.attach("watcher", "W", watcher)
    started = [t for t in set(threading.enumerate()) - before if t.name == "presence-flush"]
    assert len(started) == 1  # started lazily by the first presence line
    for n in range(50):
        hub.attach(f"u{n:02d}", "n", Box())
    deadline = time.monotonic() + 10
    while len(watcher.presence()) < 50 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert watcher.presence() == [("join", f"u{n:02d}") for n in range(50)]
    batches = watcher.items[1:]
    assert all(isinstance(item, tuple) for item in batches)
    assert len(batches) < 50  # batched: not one item per join
    hub.close()
    assert not any(t.is_alive() for t in started)
    hub.attach("late", "L", Box())  # after close: delivered at once, no new thread
    assert watcher.presence()[-1] == ("join", "late")
    assert not [t for t in set(threading.enumerate()) - before if t.name == "presence-flush"]


def test_a_newcomer_gets_no_line_its_roster_already_covers() -> None:
    hub, w = watched_hub()
    a, b, c = Box(), Box(), Box()
    hub.attach("a", "A", a)
    hub.attach("b", "B", b)  # its roster has a (and itself), whose joins are still pending
    assert b.messages() == [RosterUpdate((("a", "A"), ("b", "B"), ("w", "W")))]
    hub.detach("a", a)
    hub.attach("c", "C", c)  # a's join and leave are both before c's roster: neither is news
    hub.flush()
    assert w.presence() == [("join", "b"), ("join", "c")]  # a came and went unseen by w
    assert b.presence() == [("leave", "a"), ("join", "c")]  # b's roster lists a
    assert c.presence() == []
    assert a.presence() == []  # detached before the flush: nothing more for it
    assert len(w.items) == len(b.items) == 2 and len(c.items) == 1
    for box in (w, b, c):
        assert view(box) == {"w": "W", "b": "B", "c": "C"}
    hub.close()


def test_second_window_and_quick_rejoin_keep_the_order() -> None:
    hub, w = watched_hub()
    first, second, again = Box(), Box(), Box()
    hub.attach("amy", "A", first)
    hub.attach("amy", "A", second)  # a second window: no second join
    hub.flush()
    hub.detach("amy", first)
    hub.detach("amy", second)  # the last window: leave
    hub.attach("amy", "A", again)  # back within the same interval: she never left
    hub.close()
    assert w.presence() == [("join", "amy")]
    assert view(w) == {"w": "W", "amy": "A"}
    assert view(again) == {"w": "W", "amy": "A"} and again.presence() == []


def test_an_account_cycling_within_one_flush_sends_nothing() -> None:
    hub, w = watched_hub()
    before = len(w.items)
    for _ in range(93):  # the storm: connect, disconnect, again and again
        window = Box()
        hub.attach("storm", "S", window)
        hub.detach("storm", window)
    hub.flush()
    assert len(w.items) == before  # not one line, not even an empty item
    hub.attach("storm", "S", Box())
    hub.flush()
    for _ in range(93):  # online all along, one window cycling beside the first
        window = Box()
        hub.attach("storm", "S", window)
        hub.detach("storm", window)
    hub.close()
    assert w.presence() == [("join", "storm")]
    assert view(w) == {"w": "W", "storm": "S"}


def test_a_leave_and_join_cancel_only_when_nothing_changed() -> None:
    hub = InProcessHub(presence_interval=NEVER)
    w, first = Box(), Box()
    hub.attach("w", "W", w)
    hub.attach("amy", "A", first)
    hub.flush()
    hub.detach("amy", first)
    hub.attach("amy", "Amy", Box())  # back under a new nickname: the others must learn it
    hub.close()
    assert [m for m in w.messages()[1:] if isinstance(m, PresenceEvent)] == [
        PresenceEvent("join", "amy", "A"),
        PresenceEvent("leave", "amy", "A"),
        PresenceEvent("join", "amy", "Amy"),
    ]


def test_a_newcomer_still_gets_the_leave_of_someone_its_roster_lists() -> None:
    hub, w = watched_hub()
    brief, newcomer = Box(), Box()
    hub.attach("brief", "B", brief)
    hub.attach("new", "N", newcomer)  # its roster lists brief, whose join is still pending
    hub.detach("brief", brief)
    hub.close()
    assert ("join", "brief") not in w.presence() and ("leave", "brief") not in w.presence()
    assert newcomer.presence() == [("leave", "brief")]
    assert view(w) == view(newcomer) == {"w": "W", "new": "N"}


def test_chat_after_a_cancelled_cycle_still_follows_the_join() -> None:
    hub, w = watched_hub()
    gone, stays = Box(), Box()
    hub.attach("new", "N", gone)
    hub.detach("new", gone)
    hub.attach("new", "N", stays)
    broadcast(hub, chat_line("hello from new"))
    messages = w.messages()
    assert [type(m) for m in messages] == [RosterUpdate, PresenceEvent, ChatDelivery]
    assert messages[1] == PresenceEvent("join", "new", "N")
    hub.close()


def test_chat_never_overtakes_the_senders_join() -> None:
    hub = InProcessHub(presence_interval=NEVER)
    w, newcomer = Box(), Box()
    hub.attach("w", "W", w)
    hub.attach("new", "N", newcomer)
    broadcast(hub, chat_line("hello from new"))  # pending presence goes out first
    for sink in hub.connections_of(["w"]):
        sink.put(chat_line("direct"))
    messages = w.messages()
    assert [type(m) for m in messages] == [RosterUpdate, PresenceEvent, ChatDelivery, ChatDelivery]
    assert messages[1] == PresenceEvent("join", "new", "N")
    assert newcomer.presence() == []  # not its own join
    assert [m.text for m in newcomer.messages()[1:]] == ["hello from new"]
    hub.close()


def test_concurrent_churn_leaves_every_view_exact() -> None:
    hub = InProcessHub(presence_interval=0.005)
    early = [Box() for _ in range(3)]
    for n, box in enumerate(early):
        hub.attach(f"watch{n}", "W", box)
    late: list[Box] = []
    stop = threading.Event()
    errors: list[BaseException] = []

    def churn(n: int) -> None:
        rng = random.Random(n)
        windows = [Box(), Box()]
        attached: set[int] = set()
        try:
            while not stop.is_set():
                i = rng.randrange(2)
                if i in attached:
                    hub.detach(f"u{n}", windows[i])
                    attached.discard(i)
                else:
                    hub.attach(f"u{n}", f"nick{n}", windows[i])
                    attached.add(i)
                if rng.random() < 0.2:
                    broadcast(hub, chat_line(f"from {n}"))
            for i in attached:
                hub.detach(f"u{n}", windows[i])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=churn, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for n in range(20):  # watchers arriving in the middle of it
        box = Box()
        hub.attach(f"late{n}", "L", box)
        late.append(box)
        time.sleep(0.002)
    stop.set()
    for t in threads:
        t.join()
    hub.close()
    assert not errors
    expected = {f"watch{n}": "W" for n in range(3)} | {f"late{n}": "L" for n in range(20)}
    for box in early + late:
        assert view(box) == expected
