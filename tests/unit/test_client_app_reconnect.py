"""The controller when the connection drops: backoff, resume tokens, the password fall-back,
resending the outbox with the same ids, and events of dead sessions. Fakes: ``client_fakes``.
"""

from __future__ import annotations

from client.session import ConnectFailed
from common.messages import (
    Ack,
    ChatDelivery,
    ChatRequest,
    HistoryEnd,
    HistoryRequest,
    LoginRequest,
    LoginResult,
    ResumeRequest,
)
from common.messages_login import KeyLoginRequest
from common.protocol import LoginRefusal
from tests.unit.client_fakes import Harness, key_login


def test_outbox_resent_once_with_the_same_id_after_reconnect(h: Harness) -> None:
    first = h.online()
    h.app.send_text("typed before the crash")
    (original,) = first.of(ChatRequest)
    first.drop()
    h.pump()
    assert h.app.phase == "waiting" and h.view.status[0].startswith("reconnecting in 1 s")
    h.app.send_text("typed while offline")  # a send while waiting reconnects at once
    assert len(h.sessions) == 2
    second = h.session
    assert second is not first and second.connected
    second.handshake()
    h.pump()
    assert second.of(ResumeRequest) == [ResumeRequest("user1", "token-1")]
    assert second.of(LoginRequest) == []  # the password is only a fall-back
    second.deliver(LoginResult(True, "wang_yuan", "user1", "token-2"))
    h.pump()
    resent = second.of(ChatRequest)
    assert [r.text for r in resent] == ["typed before the crash", "typed while offline"]
    assert resent[0].client_msg_id == original.client_msg_id
    assert h.view.status[1] == "ok"
    for request in resent:
        second.deliver(Ack(request.client_msg_id, 20 + len(request.text), 5000))
    h.pump()
    assert [m[2] for m in h.view.messages()] == ["sent", "sent"]
    second.drop()
    h.advance(1.1)
    third = h.session
    third.handshake()
    h.pump()
    assert third.of(ResumeRequest) == [ResumeRequest("user1", "token-2")]  # single-use tokens
    third.deliver(LoginResult(True, "wang_yuan", "user1", "token-3"))
    h.pump()
    assert third.of(ChatRequest) == []  # acked messages are never sent again


def test_reconnect_fills_the_gap_with_history(h: Harness) -> None:
    first = h.online()
    first.drop()
    h.advance(1.1)
    h.session.handshake()
    h.pump()
    h.session.deliver(LoginResult(True, "wang_yuan", "user1", "token-2"))
    h.pump()
    assert h.session.of(HistoryRequest) == [HistoryRequest("lobby", None, 50)]


def deliveries(first: int, last: int) -> list[ChatDelivery]:
    return [ChatDelivery(i, "lobby", "user2", "ding_zhen", 1000 + i, f"message {i}")
            for i in range(first, last + 1)]


def test_a_gap_longer_than_a_page_is_filled_down_to_what_was_known(h: Harness) -> None:
    """120 lobby messages were missed while offline: pages go back until they reach msg 10."""
    first = h.online()
    assert first.of(HistoryRequest) == [HistoryRequest("lobby", None, 50)]
    for message in deliveries(1, 10):
        first.deliver(message)
    first.deliver(HistoryEnd("lobby", 1, False))
    h.pump()
    first.drop()
    h.advance(1.1)
    second = h.session
    second.handshake()
    h.pump()
    second.deliver(LoginResult(True, "wang_yuan", "user1", "token-2"))
    h.pump()
    for page_start in (81, 31):  # newest first, as the server pages
        for message in deliveries(page_start, page_start + 49):
            second.deliver(message)
        second.deliver(HistoryEnd("lobby", page_start, True))
        h.pump()
    for message in deliveries(1, 30):  # the last page reaches what was known
        second.deliver(message)
    second.deliver(HistoryEnd("lobby", 1, False))
    h.pump()
    assert second.of(HistoryRequest) == [HistoryRequest("lobby", None, 50),
                                         HistoryRequest("lobby", 81, 50),
                                         HistoryRequest("lobby", 31, 50)]
    texts = [m[1] for m in h.view.messages() if m[1].startswith("message")]
    assert texts == [f"message {i}" for i in range(1, 131)]  # each once, in order


def test_failed_resume_falls_back_to_the_key(h: Harness) -> None:
    h.online().drop()
    h.advance(1.1)
    session = h.session
    session.handshake()
    h.pump()
    session.deliver(LoginResult.refused(LoginRefusal.SESSION_EXPIRED))
    h.pump()
    assert session.of(KeyLoginRequest) == [key_login()]  # the key kept in memory, no password
    session.deliver(LoginResult(True, "wang_yuan", "user1", "token-9"))
    h.pump()
    assert h.app.phase == "online"


def test_too_many_windows_on_resume_waits_and_then_uses_the_password(h: Harness) -> None:
    h.online().drop()
    h.advance(1.1)
    session = h.session
    session.handshake()
    h.pump()
    assert session.of(ResumeRequest)
    session.deliver(LoginResult(False, "", "", "voll", "too_many_connections"))
    h.pump()
    assert session.of(KeyLoginRequest) == []  # not at once: the account is still full
    assert h.app.phase == "waiting" and "windows" in h.view.status[0]
    while h.app.phase == "waiting":
        h.advance(0.5)
    h.session.handshake()
    h.pump()
    assert h.session.of(KeyLoginRequest) == [key_login()]  # the token was spent
    assert h.session.of(ResumeRequest) == []


def test_wrong_credentials_inside_the_chat_go_offline(h: Harness) -> None:
    h.online().drop()
    h.advance(1.1)
    session = h.session
    session.handshake()
    h.pump()
    session.deliver(LoginResult(False, "", "", "weg", "session_expired"))
    h.pump()
    session.deliver(LoginResult(False, "", "", "falsch", "wrong_credentials"))
    h.pump()
    assert h.app.phase == "offline" and "Wrong username or password." in h.view.status[0]


def test_backoff_grows_and_resets(h: Harness) -> None:
    h.online().drop()
    h.pump()
    seen = []
    for _ in range(4):
        seen.append(h.view.status[0])
        while h.app.phase == "waiting":
            h.advance(0.5)
        h.session.events.put(ConnectFailed(h.session.id, "refused", "connect"))
        h.pump()
    assert [s.split(" · ")[0] for s in seen] == [
        "reconnecting in 1 s", "reconnecting in 2 s", "reconnecting in 4 s", "reconnecting in 8 s"]
    while h.app.phase == "waiting":
        h.advance(0.5)
    h.session.handshake()
    h.pump()
    h.session.deliver(LoginResult(True, "wang_yuan", "user1", "t"))
    h.pump()
    h.session.drop()
    h.pump()
    assert h.view.status[0].startswith("reconnecting in 1 s")


def test_events_of_an_old_session_are_ignored(h: Harness) -> None:
    first = h.online()
    first.drop()
    h.advance(1.1)
    first.deliver(ChatDelivery(9, "lobby", "user2", "ding_zhen", 1, "ghost"))
    first.drop()
    h.pump()
    assert h.view.messages() == [] and h.app.phase == "connecting"


def test_identity_failure_during_reconnect_stops(h: Harness) -> None:
    h.online().drop()
    h.advance(1.1)
    h.session.events.put(ConnectFailed(h.session.id, "bad signature", "handshake", identity=True))
    h.pump()
    assert h.app.phase == "offline" and h.view.status[1] == "error"
    assert "could not prove its identity" in h.view.key_changed[0]
    h.advance(60)
    assert len(h.sessions) == 2


def test_several_addresses_fail_over_to_the_next_with_the_same_key(h: Harness) -> None:
    h.app.login("127.0.0.1:8090,127.0.0.2:8091", "user1", "111111")
    first = h.session
    assert (first.host, first.port) == ("127.0.0.1", 8090)
    first.handshake()
    h.pump()
    first.deliver(LoginResult(True, "wang_yuan", "user1", "token-1"))
    h.pump()
    first.drop()  # that node died
    h.advance(1.1)
    second = h.session
    assert (second.host, second.port) == ("127.0.0.2", 8091)
    assert second.key is first.key  # the same pinned key for every node
    second.handshake()
    h.pump()
    assert second.of(ResumeRequest) == [ResumeRequest("user1", "token-1")]
