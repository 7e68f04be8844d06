"""Message codec: every message round-trips; every malformation is a non-fatal peer error."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from common.errors import RemoteProtocolError
from common.messages import (
    CLIENT_MESSAGES,
    SERVER_MESSAGES,
    Ack,
    ChatRequest,
    LoginRequest,
    LoginResult,
    LogoutRequest,
    Message,
    ResumeRequest,
    RosterUpdate,
    decode_batch,
    decode_message,
    encode_batch,
    encode_message,
    escape_field,
    unescape_field,
)

ALL = {**CLIENT_MESSAGES, **SERVER_MESSAGES}
text = st.text()  # includes |, \n, \r, %, CJK, emoji
ints = st.integers(min_value=0, max_value=2**63 - 1)


def strategy_for(kind: str) -> st.SearchStrategy[object]:
    return {
        "str": text,
        "int": ints,
        "bool": st.booleans(),
        "int | None": st.none() | ints,
    }[kind]


def message_strategy(cls: type) -> st.SearchStrategy[Message]:
    if cls is RosterUpdate:
        return st.builds(RosterUpdate, st.lists(st.tuples(text, text)).map(tuple))
    fields = {f.name: strategy_for(str(f.type)) for f in dataclasses.fields(cls)}
    return st.builds(cls, **fields)


any_message = st.one_of([message_strategy(cls) for cls in ALL.values()])


@given(any_message)
def test_every_message_round_trips(message: Message) -> None:
    table = CLIENT_MESSAGES if message.CODE.startswith("0") else SERVER_MESSAGES
    line = encode_message(message).encode("utf-8")
    assert b"\n" not in line and b"\r" not in line
    assert decode_message(line, table) == message


@given(st.lists(message_strategy(ChatRequest), min_size=1, max_size=10))
def test_batches_round_trip(messages: list[Message]) -> None:
    assert decode_batch(encode_batch(messages), CLIENT_MESSAGES) == messages


@given(text)
def test_escaping_round_trips_and_hides_separators(value: str) -> None:
    escaped = escape_field(value)
    assert not {"|", "\n", "\r"} & set(escaped)
    assert unescape_field(escaped.encode()) == value


def test_decoder_accepts_any_percent_escape() -> None:
    assert unescape_field(b"%41%62%e4%b8%ad") == "Ab中"
    expected = ChatRequest("lobby", "id", "|\n")
    assert decode_message(b"0002|lobby|id|%7c%0a", CLIENT_MESSAGES) == expected


@pytest.mark.parametrize(
    "line",
    [
        b"0099|x", b"9999", b"abcd|x", b"001|x", b"00011|a|b", b"",
        b"0001|only-one", b"0001|a|b|c", b"0002|lobby|id",
        b"0001|%|x", b"0001|%G1|x", b"0001|%4|x", b"0001|\xff|x", b"0001|%FF|x",
        b"0004|lobby|-1|5", b"0004|lobby|x|5", b"0004|lobby||", b"0005|x",
    ],
)
def test_malformed_messages_are_non_fatal_peer_errors(line: bytes) -> None:
    with pytest.raises(RemoteProtocolError) as info:
        decode_message(line, CLIENT_MESSAGES)
    assert info.value.fatal is False and info.value.error_code == "bad_request"


@pytest.mark.parametrize("line", [b"1001|2|n|u|t", b"1006|odd", b"1007|id|1"])
def test_malformed_server_messages(line: bytes) -> None:
    with pytest.raises(RemoteProtocolError):
        decode_message(line, SERVER_MESSAGES)


def test_each_side_accepts_only_the_other_sides_codes() -> None:
    with pytest.raises(RemoteProtocolError):
        decode_message(encode_message(Ack("x", 1, 2)).encode(), CLIENT_MESSAGES)
    with pytest.raises(RemoteProtocolError):
        decode_message(encode_message(LoginRequest("u", "p")).encode(), SERVER_MESSAGES)


def test_empty_message_in_batch_and_short_login_failure() -> None:
    with pytest.raises(RemoteProtocolError):
        decode_batch(b"0005\n\n0005", CLIENT_MESSAGES)
    assert decode_message(b"1001|0|nope", SERVER_MESSAGES) == LoginResult(False, "", "", "nope")
    assert decode_message(b"0005|", CLIENT_MESSAGES) == LogoutRequest()


def test_secrets_are_hidden_from_repr() -> None:
    assert "hunter2" not in repr(LoginRequest("u", "hunter2"))
    assert "tok123" not in repr(ResumeRequest("u", "tok123"))
    assert "tok123" not in repr(LoginResult(True, "n", "u", "tok123"))


@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_crash_the_decoder(data: bytes) -> None:
    for table in (CLIENT_MESSAGES, SERVER_MESSAGES):
        try:
            decode_message(data, table)
        except RemoteProtocolError:
            pass
