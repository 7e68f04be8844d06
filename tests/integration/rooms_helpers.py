"""Helpers of the rooms tests: opted-in windows, expecting one kind of message, silence."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from common.messages import Ack, ChatDelivery, ChatRequest, ErrorReply
from common.messages_rooms import ConversationEntry, ConversationsRequest, ListEnd
from tests.support.chat_client import ChatClient


def window(server: Any, username: str) -> ChatClient:
    """A logged-in connection that opted in to room traffic (``0021``, list consumed)."""
    client = server.login(username)
    conversations(client)
    return client


def conversations(client: ChatClient) -> dict[str, ConversationEntry]:
    """``0021``: the account's conversations by name, in the order they came."""
    client.send(ConversationsRequest())
    entries: dict[str, ConversationEntry] = {}
    while True:
        got = client.recv_until(lambda m: isinstance(m, ConversationEntry | ListEnd | ErrorReply))
        if isinstance(got, ListEnd) and got.kind == "conversations":
            return entries
        assert isinstance(got, ConversationEntry), got
        entries[got.conversation] = got


def expect(client: ChatClient, kind: type, where: Callable[[Any], bool] = lambda m: True,
           timeout: float = 5.0) -> Any:
    """The next ``kind`` matching ``where``; fails on a ``1009`` first."""
    got = client.recv_until(
        lambda m: (isinstance(m, kind) and where(m)) or isinstance(m, ErrorReply), timeout)
    assert isinstance(got, kind), f"expected {kind.__name__}, got {got!r}"
    return got


def refusal(client: ChatClient, timeout: float = 5.0) -> ErrorReply:
    got = client.recv_until(lambda m: isinstance(m, ErrorReply), timeout)
    assert isinstance(got, ErrorReply)
    return got


def say(client: ChatClient, room: str, text: str) -> Ack:
    """``0002`` to ``room``, acked."""
    cid = uuid.uuid4().hex
    client.send(ChatRequest(room, cid, text))
    return client.wait_ack(cid)


def heard_in(client: ChatClient, room: str, text: str) -> ChatDelivery:
    got = expect(client, ChatDelivery, lambda m: m.room == room and m.text == text)
    assert isinstance(got, ChatDelivery)
    return got


def never_sees(client: ChatClient, needle: str, duration: float = 0.4) -> None:
    """Nothing arriving within ``duration`` mentions ``needle`` in any field."""
    for message in client.collect(duration):
        assert needle not in repr(message), message
