"""A server that stops answering without closing (SIGSTOP, a hang) and hurrying a reconnect:
the watchdog's pings, "not responding", the reconnect after the longer bound, "Reconnect now",
a send while offline, and the lower back-off cap while the person is active.
Fakes: ``client_fakes`` (a fake clock drives every timer).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from Crypto.PublicKey import RSA

from client.liveness import LivenessTimes
from client.session import ConnectFailed
from common.messages import Ack, ChatRequest, LoginResult, PingRequest, Pong, ResumeRequest
from tests.unit.client_fakes import Harness


def test_an_unanswered_send_is_followed_by_a_ping_and_not_responding(h: Harness) -> None:
    session = h.online()
    h.app.send_text("into the void")
    h.advance(2.5)
    assert session.of(PingRequest) == []  # an ack may still come
    h.advance(1.0)
    assert len(session.of(PingRequest)) == 1  # 3 s without an answer: ask
    assert h.view.status[1] == "ok"
    h.advance(5.0)
    assert h.view.status == (h.view.status[0], "stalled")
    assert h.view.status[0].startswith("not responding")
    assert h.app.phase == "online" and not session.closed  # not yet given up


def test_any_answer_ends_not_responding(h: Harness) -> None:
    session = h.online()
    h.app.send_text("slow")
    h.advance(9)
    assert h.view.status[1] == "stalled"
    (request,) = session.of(ChatRequest)
    session.deliver(Ack(request.client_msg_id, 5, 1), Pong("1"))
    h.pump()
    assert h.view.status[1] == "ok" and h.view.status[0].startswith("connected")
    assert h.view.messages()[0][2] == "sent"


def test_a_hung_server_is_dropped_and_reconnected(h: Harness) -> None:
    session = h.online()
    h.app.send_text("stuck")
    h.advance(22)  # 3 s grace + 20 s of silence after the ping (within one tick)
    h.advance(1.5)
    assert session.closed
    assert h.app.phase in ("waiting", "connecting")
    assert "stopped answering" in h.view.status[0] or h.app.phase == "connecting"
    while h.app.phase == "waiting":
        h.advance(0.5)
    fresh = h.session
    assert fresh is not session
    fresh.handshake()
    h.pump()
    fresh.deliver(LoginResult(True, "wang_yuan", "user1", "token-2"))
    h.pump()
    assert [r.text for r in fresh.of(ChatRequest)] == ["stuck"]  # resent on the new session


def test_an_idle_connection_is_pinged_and_a_reply_keeps_it_green(h: Harness) -> None:
    session = h.online()
    h.advance(14)
    assert session.of(PingRequest) == []
    h.advance(1.5)
    (ping,) = session.of(PingRequest)
    session.deliver(Pong(ping.nonce))
    h.advance(10)
    assert h.view.status[1] == "ok" and len(session.of(PingRequest)) == 1


def test_a_silent_idle_server_shows_not_responding_within_a_few_seconds(h: Harness) -> None:
    session = h.online()
    h.advance(15.5)
    assert len(session.of(PingRequest)) == 1
    h.advance(5.5)
    assert h.view.status[1] == "stalled"


def test_reconnect_now_skips_the_wait(h: Harness) -> None:
    session = h.online()
    for _ in range(4):  # the back-off grows to 16 s
        session.drop()
        h.pump()
        while h.app.phase == "waiting":
            h.advance(0.5)
        session = h.session
        session.events.put(ConnectFailed(session.id, "refused", "connect"))
        h.pump()
    assert h.app.phase == "waiting" and "in 16 s" in h.view.status[0]
    assert h.view.reconnect_offered
    count = len(h.sessions)
    h.app.reconnect_now()
    assert len(h.sessions) == count + 1 and h.app.phase == "connecting"
    assert not h.view.reconnect_offered
    h.session.handshake()
    h.pump()
    assert h.session.of(ResumeRequest)


def test_sending_while_offline_reconnects_at_once(h: Harness) -> None:
    h.online().drop()
    h.pump()
    assert h.app.phase == "waiting"
    count = len(h.sessions)
    assert h.app.send_text("hurry")
    assert len(h.sessions) == count + 1 and h.app.phase == "connecting"
    h.session.handshake()
    h.pump()
    h.session.deliver(LoginResult(True, "wang_yuan", "user1", "token-2"))
    h.pump()
    assert [r.text for r in h.session.of(ChatRequest)] == ["hurry"]


def test_backoff_is_capped_lower_while_the_person_is_active(h: Harness) -> None:
    session = h.online()
    waits = []
    for _ in range(7):
        session.drop()
        h.pump()
        waits.append(h.view.status[0].split(" · ")[0])
        while h.app.phase == "waiting":
            h.advance(0.5)
        session = h.session
        session.events.put(ConnectFailed(session.id, "refused", "connect"))
        h.pump()
    assert waits[-1] == "reconnecting in 30 s"  # nobody at the keyboard: the full cap
    h.app.set_draft("lobby", "are you there")  # a keystroke
    assert h.view.status[0].startswith("reconnecting in 5 s")  # the wait under way shrinks
    while h.app.phase == "waiting":
        h.advance(0.5)
    h.session.events.put(ConnectFailed(h.session.id, "refused", "connect"))
    h.pump()
    assert h.view.status[0].startswith("reconnecting in 5 s")
    h.advance(61)  # a minute without input: back to the long waits
    h.session.events.put(ConnectFailed(h.session.id, "refused", "connect"))
    h.pump()
    assert h.view.status[0].startswith("reconnecting in 30 s")


def test_ping_bounds_are_settings_with_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    from client.__main__ import parse_args

    for name in ("PING_AFTER_SEND", "IDLE_PING_INTERVAL", "PING_REPLY_TIMEOUT",
                 "SILENCE_RECONNECT"):
        monkeypatch.delenv(f"CHAT_{name}", raising=False)
    assert parse_args([]).liveness == LivenessTimes(3.0, 15.0, 5.0, 20.0)
    monkeypatch.setenv("CHAT_PING_REPLY_TIMEOUT", "2")
    monkeypatch.setenv("CHAT_SILENCE_RECONNECT", "9")
    assert parse_args([]).liveness == LivenessTimes(3.0, 15.0, 2.0, 9.0)
    monkeypatch.setenv("CHAT_IDLE_PING_INTERVAL", "-1")
    with pytest.raises(SystemExit):
        parse_args([])


def test_the_bounds_given_are_the_bounds_used(tmp_path: Path, key: RSA.RsaKey) -> None:
    h = Harness(tmp_path, key, liveness=LivenessTimes(1.0, 100.0, 2.0, 4.0))
    session = h.online()
    h.app.send_text("quick")
    h.advance(1.3)
    assert len(session.of(PingRequest)) == 1
    h.advance(2.0)
    assert h.view.status[1] == "stalled"
    h.advance(2.5)  # 4 s after the ping, within a tick
    assert session.closed


class _Shown:
    """A status area that remembers what it was last told."""

    def __init__(self) -> None:
        self.text, self.level = "", ""

    def after(self, ms: int, callback: object) -> object:
        return None

    def after_cancel(self, token: object) -> None:
        pass

    def set_status(self, text: str, level: str) -> None:
        self.text, self.level = text, level

    def offer_reconnect(self, offered: bool) -> None:
        pass


def test_a_waiting_to_close_notice_outlives_later_connection_statuses() -> None:
    from client.liveness import StatusLine

    shown = _Shown()
    status = StatusLine(shown)  # type: ignore[arg-type]
    status.set_status("connecting…", "busy")
    status.set_notice("closing once 1 unsent message(s) are sent…")
    assert shown.text == "connecting… · closing once 1 unsent message(s) are sent…"
    status.set_status("reconnecting in 5 s", "busy")  # the watch's next word
    assert "closing once 1" in shown.text and shown.text.startswith("reconnecting in 5 s")
    status.set_notice("")
    assert shown.text == "reconnecting in 5 s"
