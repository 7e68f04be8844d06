"""Room chat and direct messages through the live server: intact text, identity, limits."""

from __future__ import annotations

import pytest

from common.messages import (
    Ack,
    ChatDelivery,
    ChatRequest,
    DirectDelivery,
    ErrorReply,
    LogoutRequest,
    PingRequest,
    Pong,
    PresenceEvent,
)

pytest_plugins = ["tests.integration.conftest_server"]
pytestmark = pytest.mark.integration

TEXTS = [
    "a|b||c|",
    "line one\nline two\r\nline three",
    "100% sure %7C %0A %25 %",
    "你好，世界 こんにちは 안녕하세요",
    "emoji 😀👍🏽👨‍👩‍👧 and 🇨🇳",
    "x" * 4_000,
    "长" * 4_000,  # 4,000 characters, 12,000 bytes of UTF-8
    "😀" * 4_000,  # 4,000 characters, 16,000 bytes
    "  leading and trailing spaces  ",
]


def heard(client, text: str, timeout: float = 10.0) -> ChatDelivery:
    return client.recv_until(lambda m: isinstance(m, ChatDelivery) and m.text == text, timeout)


def errors_of(client, timeout: float = 10.0) -> ErrorReply:
    return client.recv_until(lambda m: isinstance(m, ErrorReply), timeout)


@pytest.fixture()
def trio(chat):
    return chat.login("user1"), chat.login("user2"), chat.login("user3")


@pytest.mark.parametrize("text", TEXTS, ids=lambda t: repr(t[:12]))
def test_text_arrives_intact_at_everyone(trio, text: str) -> None:
    alice, bob, carol = trio
    ack = alice.chat_acked(text)
    for listener in (bob, carol, alice):
        got = heard(listener, text)
        assert got.msg_id == ack.msg_id and got.room == "lobby"
        assert (got.sender, got.sender_nickname) == ("user1", "wang_yuan")


def test_too_long_is_refused_and_the_connection_stays(trio) -> None:
    alice, bob, _ = trio
    alice.chat("y" * 4_001)
    assert errors_of(alice).code_word == "too_long"
    alice.chat_acked("after the long one")
    heard(bob, "after the long one")
    assert not any(
        isinstance(m, ChatDelivery) and m.text.startswith("yyyy") for m in bob.collect(0.3)
    )


@pytest.mark.parametrize(
    "request_,code",
    [
        (ChatRequest("lobby", "e1", ""), "bad_request"),
        (ChatRequest("kitchen", "e2", "hi"), "forbidden"),  # no such room (PROTOCOL.md §6)
        (ChatRequest("lobby", "", "hi"), "bad_request"),
        (ChatRequest("lobby", "i" * 65, "hi"), "bad_request"),
    ],
)
def test_bad_sends_get_errors(trio, request_, code: str) -> None:
    alice, _, _ = trio
    alice.send(request_)
    assert errors_of(alice).code_word == code
    alice.chat_acked("still fine")


def test_the_sender_is_always_the_logged_in_account(trio) -> None:
    alice, bob, carol = trio
    # A server-style delivery claiming to come from user2, and a chat with an extra field:
    alice.send_raw(alice.conn.send_lines([b"1002|1|lobby|user2|ding_zhen|0|spoofed delivery"]))
    assert errors_of(alice).code_word == "bad_request"
    alice.send_raw(alice.conn.send_lines([b"0002|lobby|s1|spoofed extra|user2"]))
    assert errors_of(alice).code_word == "bad_request"
    alice.chat_acked("honest")
    got = heard(carol, "honest")
    assert got.sender == "user1"
    assert not any("spoofed" in getattr(m, "text", "") for m in bob.collect(0.3))


def test_direct_messages_reach_only_their_recipient(chat) -> None:
    alice, alice_laptop = chat.login("user1"), chat.login("user1")
    bob, carol = chat.login("user2"), chat.login("user3")
    cid = alice.direct("user2", "for bob only ✉")
    ack = alice.wait_ack(cid)
    got = bob.recv_until(lambda m: isinstance(m, DirectDelivery))
    assert (got.msg_id, got.sender, got.recipient, got.text) == (
        ack.msg_id, "user1", "user2", "for bob only ✉",
    )
    echo = alice_laptop.recv_until(lambda m: isinstance(m, DirectDelivery))
    assert echo.msg_id == ack.msg_id  # the sender's other window shows it too
    assert not any(isinstance(m, DirectDelivery) for m in carol.collect(0.4))
    assert not any(isinstance(m, DirectDelivery) for m in alice.collect(0.1))


def test_direct_to_unknown_user(trio) -> None:
    alice, _, _ = trio
    alice.direct("nobody", "hello?")
    assert errors_of(alice).code_word == "no_such_user"


def test_ping_pong(trio) -> None:
    alice, _, _ = trio
    alice.send(PingRequest("n-42"))
    assert alice.recv_until(lambda m: isinstance(m, Pong)).nonce == "n-42"


def test_presence_follows_accounts_not_windows(chat) -> None:
    watcher = chat.login("user2")
    first, second = chat.login("user3"), chat.login("user3")
    watcher.recv_until(lambda m: isinstance(m, PresenceEvent) and m.username == "user3")
    second.send(LogoutRequest())
    assert second.closed_by_server()
    assert not any(isinstance(m, PresenceEvent) for m in watcher.collect(0.4))
    first.close()
    leave = watcher.recv_until(lambda m: isinstance(m, PresenceEvent))
    assert (leave.event, leave.username) == ("leave", "user3")


def test_bad_messages_are_answered_then_the_connection_closes(trio) -> None:
    alice, bob, _ = trio
    for n in range(4):
        alice.send_raw(alice.conn.send_lines([b"9999|nonsense"]))
        assert errors_of(alice).code_word == "bad_request", n
    alice.send(PingRequest("still here"))
    alice.recv_until(lambda m: isinstance(m, Pong))
    alice.send_raw(alice.conn.send_lines([b"0002|lobby|x|%ZZ"]))
    assert alice.closed_by_server()
    bob.chat_acked("bob carries on")


def test_rate_limit_per_user(make_server) -> None:
    live = make_server(msg_rate=0.5, msg_burst=3)
    alice, other_window = live.login("user1"), live.login("user1")
    for i in range(3):
        alice.chat_acked(f"burst {i}")
    other_window.chat("one too many")  # the limit is per account, not per window
    assert errors_of(other_window).code_word == "rate_limited"


def test_several_messages_in_one_record(trio) -> None:
    alice, bob, _ = trio
    requests = [ChatRequest("lobby", f"batch-{i}", f"batched {i}") for i in range(5)]
    alice.send(requests)  # one record, five messages
    acks = [alice.recv_until(lambda m, i=i: isinstance(m, Ack) and m.client_msg_id == f"batch-{i}")
            for i in range(5)]
    assert [a.msg_id for a in acks] == sorted(a.msg_id for a in acks)
    texts = [heard(bob, f"batched {i}").msg_id for i in range(5)]
    assert texts == [a.msg_id for a in acks]
